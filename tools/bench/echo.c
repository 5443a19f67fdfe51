/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench: the echo service of the rpc scenarios and of `mbus-bench serve-echo`. */

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

static volatile sig_atomic_t bench_stop = 0;

static int echo_on_echo(struct mbus_request *request, json_object *args, void *userdata) {
        return mbus_request_reply(request, args);
}

static const struct mbus_procedure echo_procedures[] = {
        { "Echo", echo_on_echo },
};

void bench_on_signal(int sig) {
        bench_stop = 1;
}

/*
 * Serves ns until SIGTERM/SIGINT, until stop_fd (if >= 0) hangs up or turns readable, or until
 * the connection breaks. Writes one byte to ready_fd (if >= 0) once registered.
 */
int echo_serve(const char *address, const char *ns, int ready_fd, int stop_fd) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        r = tool_connect(address, &conn);
        if (r < 0)
                return r;
        r = mbus_register(conn, ns, echo_procedures, ELEMENTSOF(echo_procedures), NULL, NULL, &error);
        if (r < 0) {
                tool_print_failure("cannot register the echo namespace", r, &error);
                return r;
        }
        if (ready_fd >= 0) {
                r = write_full(ready_fd, "R", 1);
                if (r < 0)
                        return r;
        }

        while (!bench_stop) {
                struct pollfd p[2];
                uint64_t until;
                int timeout = -1;

                r = mbus_conn_process(conn);
                if (r < 0) {
                        tool_error("echo service: connection to the broker failed: %s", strerror(-r));
                        return r;
                }
                if (r > 0)
                        continue;

                p[0] = (struct pollfd) { .fd = mbus_conn_get_fd(conn), .events = mbus_conn_get_events(conn) };
                p[1] = (struct pollfd) { .fd = stop_fd, .events = POLLIN };
                if (mbus_conn_get_timeout(conn, &until) >= 0 && until != UINT64_MAX) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= n ? 0 : (int) MIN((until - n + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, stop_fd >= 0 ? 2 : 1, timeout);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && stop_fd >= 0 && p[1].revents)
                        break;
        }
        return 0;
}

struct service_child {
        bench_serve_t serve;
        const char *address;
        int ready_fd;
        int stop_fd;
};

static int service_child_run(void *userdata) {
        struct service_child *c = userdata;
        return c->serve(c->address, c->ready_fd, c->stop_fd);
}

int bench_start_service(bench_serve_t serve, const char *address, pid_t *ret_pid, int *ret_stop_fd) {
        int ready[2], stop[2], r;
        char c;
        pid_t pid = 0;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(stop, O_CLOEXEC) < 0) {
                r = -errno;
                safe_close(ready[0]), safe_close(ready[1]);
                return r;
        }
        struct service_child child = { .serve = serve, .address = address, .ready_fd = ready[1], .stop_fd = stop[0] };
        r = bench_fork(&pid, (const int[]) { ready[0], stop[1] }, 2, service_child_run, &child);
        safe_close(ready[1]);
        safe_close(stop[0]);
        if (r < 0) {
                safe_close(ready[0]), safe_close(stop[1]);
                return r;
        }
        r = read_full(ready[0], &c, 1, BENCH_READY_TIMEOUT_USEC);
        safe_close(ready[0]);
        if (r < 0) {
                safe_close(stop[1]);
                (void) bench_wait(pid, 0);
                return r;
        }
        *ret_pid = pid;
        *ret_stop_fd = stop[1];
        return 0;
}

static int echo_serve_bench(const char *address, int ready_fd, int stop_fd) {
        return echo_serve(address, BENCH_ECHO_NAMESPACE, ready_fd, stop_fd);
}

int echo_start(const char *address, pid_t *ret_pid, int *ret_stop_fd) {
        return bench_start_service(echo_serve_bench, address, ret_pid, ret_stop_fd);
}

int echo_stop(pid_t pid, int stop_fd) {
        safe_close(stop_fd);
        return bench_wait(pid, 10 * USEC_PER_SEC);
}
