/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench: helper processes and their pipes, connections, and what /proc says about a
 * process (CPU time, resident memory). Shared by every scenario and peer.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

int read_full(int fd, void *buf, size_t size, usec_t timeout) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        size_t done = 0;

        while (done < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t n = now_usec(CLOCK_MONOTONIC);
                ssize_t k;
                int r;

                if (n >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) MIN((deadline - n + 999) / 1000, (usec_t) INT_MAX));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                k = read(fd, (char *) buf + done, size - done);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                done += k;
        }
        return 0;
}

/* Plain blocking reads, no poll(): the floor must be the cheapest round trip there is. */
int read_exact(int fd, void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t k = read(fd, (char *) buf + done, size - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                done += k;
        }
        return 0;
}

int write_full(int fd, const void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t k = write(fd, (const char *) buf + done, size - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                done += k;
        }
        return 0;
}

/*
 * Forks a helper that runs fn(userdata) and exits 0 if it returned >= 0. The helper first
 * closes the n_close_fds fds in close_fds: the parent's ends of its pipes, whose copies would
 * otherwise keep the helper from ever seeing EOF on its own end.
 */
int bench_fork(pid_t *ret, const int *close_fds, size_t n_close_fds, int (*fn)(void *userdata),
                      void *userdata) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r;

                for (size_t i = 0; i < n_close_fds; i++)
                        safe_close(close_fds[i]);
                r = fn(userdata);
                if (r < 0)
                        fprintf(stderr, "mbus-bench: helper process failed: %s\n", strerror(-r));
                exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        *ret = pid;
        return 0;
}

struct child_start {
        int (*fn)(void *userdata, int fd);
        void *userdata;
        int fd, parent_fd;
};

static int child_start_run(void *userdata) {
        struct child_start *c = userdata;

        safe_close(c->parent_fd);
        return c->fn(c->userdata, c->fd);
}

int bench_start_child(pid_t *ret_pid, int *ret_fd, const int *close_fds, size_t n_close_fds,
                      int (*fn)(void *userdata, int fd), void *userdata) {
        _cleanup_close_ int parent_fd = -EBADF;
        int sp[2], r;
        pid_t pid = 0;
        char c;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        parent_fd = sp[0];
        struct child_start cs = { .fn = fn, .userdata = userdata, .fd = sp[1], .parent_fd = sp[0] };
        r = bench_fork(&pid, close_fds, n_close_fds, child_start_run, &cs);
        safe_close(sp[1]);
        if (r < 0)
                return r;
        r = read_full(parent_fd, &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r < 0) {
                /* one that hung up has said why and exits; one that is stuck goes now */
                safe_close(TAKE_FD(parent_fd));
                (void) bench_wait(pid, r == -ETIMEDOUT ? 0 : 10 * USEC_PER_SEC);
                return r;
        }
        *ret_pid = pid;
        *ret_fd = TAKE_FD(parent_fd);
        return 0;
}

/* Waits for a helper; returns 0 if it exited 0, -ECHILD otherwise. Kills it after timeout. */
int bench_wait(pid_t pid, usec_t timeout) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == pid)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        return -ETIMEDOUT;
                }
                (void) usleep(2000);
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* The broker's pid, from the credentials of our connection's socket. */
pid_t conn_peer_pid(struct mbus_conn *conn) {
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        int fd = mbus_conn_get_fd(conn);

        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return 0;
        return cred.pid;
}

/* mbus_conn_open() that says why a connection failed (a refused certificate, say) once. */
int bench_connect(const char *address, const char *name, struct mbus_conn **ret) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        r = mbus_conn_open_with_error(ret, address, name, &error);
        if (r < 0)
                tool_error("cannot connect to %s: %s", address, error.message ?: strerror(-r));
        return r;
}

/* User and system CPU time of the process from /proc/PID/stat, µs, in clock ticks (10 ms). */
int proc_cpu_split_usec(pid_t pid, usec_t *ret_user, usec_t *ret_sys) {
        _cleanup_free_ char *line = NULL;
        char path[64];
        FILE *f;
        size_t n = 0;
        unsigned long long utime, stime;
        usec_t tick = USEC_PER_SEC / (usec_t) sysconf(_SC_CLK_TCK);
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (getline(&line, &n, f) < 0) {
                fclose(f);
                return -EIO;
        }
        fclose(f);
        p = strrchr(line, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EIO;
        *ret_user = utime * tick;
        *ret_sys = stime * tick;
        return 0;
}

/* CPU time (user + system) the process has used, µs: from /proc/PID/schedstat (the main
 * thread's run time in ns; the broker has one thread) if the kernel keeps it, else stat. */
int proc_cpu_usec(pid_t pid, usec_t *ret) {
        char path[64];
        unsigned long long ns;
        usec_t user = 0, sys = 0;
        FILE *f;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int) pid);
        f = fopen(path, "re");
        if (f) {
                int k = fscanf(f, "%llu", &ns);
                fclose(f);
                if (k == 1 && ns > 0) {
                        *ret = ns / 1000;
                        return 0;
                }
        }
        r = proc_cpu_split_usec(pid, &user, &sys);
        if (r < 0)
                return r;
        *ret = user + sys;
        return 0;
}

/* Resident set size of the process in KiB. */
int proc_rss_kib(pid_t pid, uint64_t *ret) {
        char path[64], line[256];
        FILE *f;
        int r = -ENOENT;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "VmRSS:", 6) == 0) {
                        unsigned long long kb;
                        if (sscanf(line + 6, "%llu", &kb) == 1) {
                                *ret = kb;
                                r = 0;
                        }
                        break;
                }
        fclose(f);
        return r;
}

json_object *bench_payload(uint64_t seq, size_t data_len) {
        char data[256];
        json_object *o;

        assert(data_len < sizeof(data));
        memset(data, 'x', data_len);
        data[data_len] = 0;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_object_object_add(o, "seq", json_object_new_int64((int64_t) seq)) < 0 ||
            json_object_object_add(o, "data", json_object_new_string(data)) < 0)
                return json_object_put(o), NULL;
        return o;
}
