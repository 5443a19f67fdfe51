/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench dbus and dbus-broker: the rpc and fan-out scenarios against a private D-Bus broker,
 * through sd-bus, measured like mbus's.
 *
 * dbus-daemon is started with --address. dbus-broker is started as its package starts it:
 * dbus-broker-launch with the listening socket passed in (LISTEN_FDS), the way systemd's
 * socket activation does, and a config file of our own. The launcher insists on connecting
 * to journald's socket; when no journald runs (a container, CI), it gets a datagram socket of
 * ours in its place, mounted over /run/systemd/journal/socket in a mount namespace of its own,
 * and its log lines go nowhere. The CPU figures are those of dbus-broker, the launcher's child.
 *
 * The calls carry the same JSON text as rpc-seq as a D-Bus string; fan-out signals carry the
 * sequence number as a uint64 next to that text (the subscribers do not parse JSON, which mbus's
 * libmbus does: the comparison favours D-Bus there).
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
#include <sys/mount.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>
#include <systemd/sd-bus.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

static int dbus_on_echo(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", s);
}

static const sd_bus_vtable dbus_echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "s", "s", dbus_on_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static int dbus_open(const char *address, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

struct dbus_child {
        const char *address;
        int ready_fd, stop_fd;
};

static int dbus_child_run(void *userdata) {
        struct dbus_child *c = userdata;
        sd_bus *bus = NULL;
        int r;

        r = dbus_open(c->address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, "/org/mbus/Bench", "org.mbus.Bench", dbus_echo_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, BENCH_DBUS_NAME, 0);
        if (r >= 0)
                r = write_full(c->ready_fd, "R", 1);
        while (r >= 0) {
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = sd_bus_get_events(bus) },
                        { .fd = c->stop_fd, .events = POLLIN },
                };
                uint64_t until;
                int timeout = -1;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= n ? 0 : (int) MIN((until - n + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, 2, timeout);
                if (r < 0 && errno == EINTR)
                        r = 0;
                if (r < 0)
                        r = -errno;
                else if (p[1].revents)
                        break;
        }
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}


/* ---- the daemons ------------------------------------------------------------------------- */

struct dbus_peer {
        enum bench_dbus_kind kind;
        char dir[64];
        char *address;                  /* "unix:path=DIR/bus" */
        pid_t pid;                      /* dbus-daemon, or dbus-broker-launch */
        pid_t broker_pid;               /* the process that routes: CPU figures */
        int log_fd;                     /* dbus-broker-launch's journal stand-in, or -EBADF */
};

static const char *const dbus_kind_names[_BENCH_DBUS_KIND_MAX] = {
        [BENCH_DBUS_DAEMON] = "dbus",
        [BENCH_DBUS_BROKER_LAUNCH] = "dbus-broker",
};

/* The session bus policy, open to all: the benchmark owns a name and broadcasts signals. */
static const char dbus_broker_config[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>session</type>\n"
        "  <policy context=\"default\">\n"
        "    <allow send_destination=\"*\"/>\n"
        "    <allow receive_sender=\"*\"/>\n"
        "    <allow own=\"*\"/>\n"
        "  </policy>\n"
        "</busconfig>\n";

/* The one child of pid (dbus-broker-launch forks dbus-broker), or 0. */
static pid_t dbus_child_of(pid_t pid) {
        char path[64];
        long child = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%ld", &child) != 1)
                child = 0;
        fclose(f);
        return (pid_t) child;
}

static void dbus_peer_stop(struct dbus_peer *p) {
        char path[sizeof(p->dir) + 16];

        if (p->pid > 0) {
                (void) kill(p->pid, SIGTERM);
                (void) bench_wait(p->pid, 10 * USEC_PER_SEC);
                p->pid = 0;
        }
        p->log_fd = safe_close(p->log_fd);
        p->address = mfree(p->address);
        if (p->dir[0]) {
                static const char *const files[] = { "bus", "journal", "bus.conf" };

                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        snprintf(path, sizeof(path), "%s/%s", p->dir, files[i]);
                        (void) unlink(path);
                }
                (void) rmdir(p->dir);
                p->dir[0] = 0;
        }
}

static int dbus_listen(const char *path, int type) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (type == SOCK_STREAM && listen(fd, 4096) < 0)) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

/* In the launcher's child, before exec: our datagram socket in place of journald's, if none runs. */
static void dbus_journal_standin(const char *journal) {
        static const char real[] = "/run/systemd/journal/socket";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bool alive;

        strcpy(sa.sun_path, real);
        alive = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0;
        safe_close(fd);
        if (alive)
                return;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(journal, real, NULL, MS_BIND, NULL) < 0)
                fprintf(stderr, "mbus-bench: no journald, and cannot stand in for it: %m\n");
}

static int dbus_peer_start(struct dbus_peer *p, enum bench_dbus_kind kind) {
        char conf[sizeof(p->dir) + 16], bus[sizeof(p->dir) + 16], journal[sizeof(p->dir) + 16];
        int listen_fd = -EBADF, r;
        sd_bus *probe = NULL;

        *p = (struct dbus_peer) { .kind = kind, .log_fd = -EBADF };
        snprintf(p->dir, sizeof(p->dir), "/tmp/mbus-bench-dbus-XXXXXX");
        if (!mkdtemp(p->dir)) {
                p->dir[0] = 0;
                return -errno;
        }
        snprintf(bus, sizeof(bus), "%s/bus", p->dir);
        snprintf(conf, sizeof(conf), "%s/bus.conf", p->dir);
        snprintf(journal, sizeof(journal), "%s/journal", p->dir);
        if (asprintf(&p->address, "unix:path=%s", bus) < 0) {
                p->address = NULL;
                r = -ENOMEM;
                goto fail;
        }
        if (kind == BENCH_DBUS_BROKER_LAUNCH) {
                FILE *f = fopen(conf, "we");

                if (!f) {
                        r = -errno;
                        goto fail;
                }
                fputs(dbus_broker_config, f);
                r = fflush(f) != 0 || ferror(f) ? -EIO : 0;
                fclose(f);
                if (r < 0)
                        goto fail;
                listen_fd = dbus_listen(bus, SOCK_STREAM);
                r = listen_fd;
                if (r >= 0)
                        r = p->log_fd = dbus_listen(journal, SOCK_DGRAM);
                if (r < 0)
                        goto fail;
        }

        fflush(NULL);
        p->pid = fork();
        if (p->pid < 0) {
                r = -errno;
                p->pid = 0;
                goto fail;
        }
        if (p->pid == 0) {
                char arg[PATH_MAX + 16], pid[32];
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* dbus-daemon prints its address and, unprivileged, a complaint about its fd limit;
                 * dbus-broker-launch logs to the journal and says only why it failed on stderr */
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        if (kind == BENCH_DBUS_DAEMON)
                                (void) dup2(null, STDERR_FILENO);
                }
                (void) signal(SIGPIPE, SIG_DFL);
                if (kind == BENCH_DBUS_DAEMON) {
                        snprintf(arg, sizeof(arg), "--address=%s", p->address);
                        execlp("dbus-daemon", "dbus-daemon", "--session", arg, "--nofork", "--nopidfile",
                               (char *) NULL);
                        _exit(127);
                }
                /* socket activation: fd 3, LISTEN_FDS=1, LISTEN_PID=us; dup2() clears CLOEXEC,
                 * but does nothing at all if the socket is fd 3 already */
                if (listen_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(listen_fd, 3) < 0)
                        _exit(127);
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                (void) setenv("LISTEN_FDS", "1", 1);
                (void) setenv("LISTEN_PID", pid, 1);
                (void) unsetenv("LISTEN_FDNAMES");
                /* the launcher connects to its own bus, as the user bus it is would be found */
                (void) setenv("DBUS_SESSION_BUS_ADDRESS", p->address, 1);
                dbus_journal_standin(journal);
                execlp("dbus-broker-launch", "dbus-broker-launch", "--scope", "user", "--config-file", conf,
                       (char *) NULL);
                _exit(127);
        }
        listen_fd = safe_close(listen_fd);

        /* Ready when sd-bus can say Hello. */
        for (usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);;) {
                int status;

                r = dbus_open(p->address, &probe);
                if (r >= 0)
                        break;
                if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
                        p->pid = 0;
                        r = -ECHILD;
                        break;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        break;
                (void) usleep(5000);
        }
        if (r < 0) {
                tool_error("%s: %s did not come up: %s", dbus_kind_names[kind],
                           kind == BENCH_DBUS_DAEMON ? "dbus-daemon" : "dbus-broker-launch",
                           r == -ECHILD ? "it exited (is it installed?)" : strerror(-r));
                goto fail;
        }
        /* sd-bus connections must not cross fork(): every user opens its own */
        sd_bus_flush_close_unref(probe);
        p->broker_pid = kind == BENCH_DBUS_DAEMON ? p->pid : dbus_child_of(p->pid);
        return 0;
fail:
        safe_close(listen_fd);
        dbus_peer_stop(p);
        return r;
}

/* Starts the echo service; closing *ret_stop_fd makes it exit. */
static int dbus_echo_start(const char *address, pid_t *ret_pid, int *ret_stop_fd) {
        int ready[2] = { -EBADF, -EBADF }, stop[2] = { -EBADF, -EBADF }, r;
        char c;

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(stop, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        struct dbus_child child = { .address = address, .ready_fd = ready[1], .stop_fd = stop[0] };
        r = bench_fork(ret_pid, (const int[]) { ready[0], stop[1] }, 2, dbus_child_run, &child);
        ready[1] = safe_close(ready[1]);
        stop[0] = safe_close(stop[0]);
        if (r < 0)
                goto finish;
        r = read_full(ready[0], &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r < 0) {
                stop[1] = safe_close(stop[1]);
                (void) bench_wait(*ret_pid, 10 * USEC_PER_SEC);
                goto finish;
        }
        *ret_stop_fd = TAKE_FD(stop[1]);
finish:
        safe_close(ready[0]), safe_close(ready[1]), safe_close(stop[0]), safe_close(stop[1]);
        return r;
}

static int dbus_echo_stop(pid_t pid, int stop_fd) {
        safe_close(stop_fd);
        return bench_wait(pid, 10 * USEC_PER_SEC);
}

/* ---- rpc-seq and rpc-pipelined ----------------------------------------------------------- */

static int dbus_rpc_seq(struct bench *b, const struct dbus_peer *p, const char *name) {
        _cleanup_free_ uint64_t *lat = NULL;
        sd_bus *bus = NULL;
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;
        int r;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        r = dbus_open(p->address, &bus);
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *args = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *s;
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = p->broker_pid > 0 && proc_cpu_usec(p->broker_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                /* the same JSON text as rpc-seq, carried as a D-Bus string */
                args = bench_payload(i, 64);
                if (!args) {
                        r = -ENOMEM;
                        goto finish;
                }
                t0 = now_nsec();
                r = sd_bus_call_method(bus, BENCH_DBUS_NAME, "/org/mbus/Bench", "org.mbus.Bench", "Echo",
                                       &error, &reply, "s", json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &s);
                if (r >= 0) {
                        _cleanup_json_ json_object *result = json_tokener_parse(s);
                        json_object *seq;
                        if (!json_object_object_get_ex(result, "seq", &seq) ||
                            json_object_get_int64(seq) != (int64_t) i)
                                r = -EBADMSG;
                }
                sd_bus_message_unref(reply);
                if (r < 0) {
                        tool_error("%s: call failed: %s", name, error.message ?: strerror(-r));
                        sd_bus_error_free(&error);
                        goto finish;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(p->broker_pid, &cpu1) >= 0;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        bench_record(b, name, "calls_per_sec", "calls/s",
                     (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
        bench_record(b, name, "p50_usec", "µs", percentile(lat, arg_calls, 50) / 1000.0);
        bench_record(b, name, "p99_usec", "µs", percentile(lat, arg_calls, 99) / 1000.0);
        if (have_cpu)
                bench_record(b, name, "daemon_cpu_usec_per_call", "µs", (double) (cpu1 - cpu0) / (double) arg_calls);
        r = 0;
finish:
        sd_bus_flush_close_unref(bus);
        return r;
}

struct dbus_pipeline {
        sd_bus *bus;
        uint64_t sent, done;
        int error;
};

static int dbus_pipeline_send(struct dbus_pipeline *pl);

static int dbus_pipeline_on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct dbus_pipeline *pl = userdata;
        int r;

        pl->done++;
        if (sd_bus_message_is_method_error(m, NULL)) {
                pl->error = -sd_bus_message_get_errno(m) ?: -EIO;
                return 0;
        }
        if (pl->sent < arg_calls && pl->error >= 0) {
                r = dbus_pipeline_send(pl);
                if (r < 0)
                        pl->error = r;
        }
        return 0;
}

static int dbus_pipeline_send(struct dbus_pipeline *pl) {
        _cleanup_json_ json_object *args = bench_payload(pl->sent, 64);
        int r;

        if (!args)
                return -ENOMEM;
        /* floating slot: the call stays until its reply */
        r = sd_bus_call_method_async(pl->bus, NULL, BENCH_DBUS_NAME, "/org/mbus/Bench", "org.mbus.Bench", "Echo",
                                     dbus_pipeline_on_reply, pl, "s",
                                     json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
        if (r < 0)
                return r;
        pl->sent++;
        return 0;
}

static int dbus_rpc_pipelined(struct bench *b, const struct dbus_peer *p, const char *name) {
        struct dbus_pipeline pl = {};
        usec_t t_start, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        int r;

        r = dbus_open(p->address, &pl.bus);
        if (r < 0)
                return r;
        have_cpu = p->broker_pid > 0 && proc_cpu_usec(p->broker_pid, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < MIN(arg_window, arg_calls) && r >= 0; i++)
                r = dbus_pipeline_send(&pl);
        while (r >= 0 && pl.done < pl.sent) {
                r = sd_bus_process(pl.bus, NULL);
                if (r > 0)
                        continue;
                if (r >= 0)
                        r = sd_bus_wait(pl.bus, BENCH_CALL_TIMEOUT_USEC);
                if (r == 0)
                        r = -ETIMEDOUT;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (r >= 0)
                r = pl.error;
        if (r >= 0) {
                if (have_cpu)
                        have_cpu = proc_cpu_usec(p->broker_pid, &cpu1) >= 0;
                bench_record(b, name, "pipelined_calls_per_sec", "calls/s",
                             (double) pl.done * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
                if (have_cpu)
                        bench_record(b, name, "pipelined_daemon_cpu_usec_per_call", "µs",
                                     (double) (cpu1 - cpu0) / (double) pl.done);
        } else
                tool_error("%s: pipelined calls failed: %s", name, strerror(-r));
        sd_bus_flush_close_unref(pl.bus);
        return r < 0 ? r : 0;
}

/* ---- fanout: broadcast signals ------------------------------------------------------------- */

struct dbus_sub_child {
        const char *address;
        int fd;                         /* "R" once subscribed; "F" from the parent; the report */
        uint64_t n_events;
};

static int dbus_on_tick(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct fanout_seq *seq = userdata;
        uint64_t n;
        const char *s;

        fanout_seq_note(seq, sd_bus_message_read(m, "ts", &n, &s) >= 0 && n <= INT64_MAX ? (int64_t) n : -1);
        return 0;
}

static int dbus_sub_child_run(void *userdata) {
        struct dbus_sub_child *c = userdata;
        struct fanout_seq seq;
        sd_bus *bus = NULL;
        usec_t cpu0;
        uint64_t n = 0;
        char cmd;
        int r;

        r = fanout_seq_init(&seq, c->n_events);
        if (r < 0)
                return r;
        r = dbus_open(c->address, &bus);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, "/org/mbus/Bench", "org.mbus.Bench", "Tick", dbus_on_tick, &seq);
        cpu0 = fanout_cpu_usec();
        if (r >= 0)
                r = write_full(c->fd, "R", 1);
        while (r >= 0) {
                struct pollfd pfd[2];

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0 && ++n % 1024 != 0)
                        continue;
                pfd[0] = (struct pollfd) { .fd = sd_bus_get_fd(bus), .events = sd_bus_get_events(bus) };
                pfd[1] = (struct pollfd) { .fd = c->fd, .events = POLLIN };
                r = poll(pfd, 2, r > 0 ? 0 : -1);
                if (r < 0 && errno == EINTR)
                        r = 0;
                else if (r < 0)
                        r = -errno;
                else if (r > 0 && pfd[1].revents)
                        break;
        }
        /* A round trip through the daemon: its reply comes after every signal queued for us. */
        if (r >= 0)
                r = read_full(c->fd, &cmd, 1, BENCH_READY_TIMEOUT_USEC);
        if (r >= 0) {
                sd_bus_error error = SD_BUS_ERROR_NULL;

                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetId", &error, NULL, "");
                sd_bus_error_free(&error);
        }
        while (r >= 0 && (r = sd_bus_process(bus, NULL)) > 0)
                ;
        if (r < 0)
                seq.rep.error = r;
        seq.rep.cpu_usec = fanout_cpu_usec() - cpu0;
        fanout_seq_done(&seq);
        sd_bus_flush_close_unref(bus);
        return write_full(c->fd, &seq.rep, sizeof(seq.rep));
}

static int dbus_fanout(struct bench *b, const struct dbus_peer *p, const char *name) {
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *fds = NULL;
        struct fanout_result res = { .slow_missed = NAN, .broker_dropped = NAN };
        uint64_t total = 0;
        usec_t t_start, t_sent, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        size_t n_started = 0;
        sd_bus *bus = NULL;
        int r = 0;

        pids = calloc(arg_subscribers, sizeof(*pids));
        fds = calloc(arg_subscribers, sizeof(*fds));
        if (!pids || !fds)
                return -ENOMEM;
        for (; n_started < arg_subscribers; n_started++) {
                int sp[2];
                char c;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = -errno;
                        goto finish;
                }
                struct dbus_sub_child child = { .address = p->address, .fd = sp[1], .n_events = arg_events };
                fds[n_started] = sp[0];
                r = bench_fork(&pids[n_started], fds, n_started + 1, dbus_sub_child_run, &child);
                safe_close(sp[1]);
                if (r < 0) {
                        safe_close(sp[0]);
                        goto finish;
                }
                r = read_full(fds[n_started], &c, 1, BENCH_READY_TIMEOUT_USEC);
                if (r < 0) {
                        n_started++;
                        goto finish;
                }
        }
        r = dbus_open(p->address, &bus);
        if (r < 0)
                goto finish;
        have_cpu = p->broker_pid > 0 && proc_cpu_usec(p->broker_pid, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < arg_events; i++) {
                _cleanup_json_ json_object *payload = bench_payload(i, 80);

                if (!payload) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = sd_bus_emit_signal(bus, "/org/mbus/Bench", "org.mbus.Bench", "Tick", "ts", i,
                                       json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
                if (r < 0)
                        goto finish;
        }
        /* flushed, and the daemon has routed them all once it answers */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
                               NULL, NULL, "");
        if (r < 0)
                goto finish;
        t_sent = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n_started && r >= 0; i++)
                r = write_full(fds[i], "F", 1);
        if (r >= 0)
                r = fanout_collect(fds, n_started, arg_events, /* slow= */ false, t_start, t_sent, &res, &total);
        if (r < 0)
                goto finish;
        if (have_cpu && proc_cpu_usec(p->broker_pid, &cpu1) >= 0 && total > 0)
                res.broker_cpu_usec_per_delivery = (double) (cpu1 - cpu0) / (double) total;
        else
                res.broker_cpu_usec_per_delivery = NAN;
        fanout_record(b, name, "fanout_", &res);
finish:
        if (r < 0)
                tool_error("%s: fanout: %s", name, strerror(-r));
        sd_bus_flush_close_unref(bus);
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], BENCH_EXIT_TIMEOUT_USEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        return r;
}

/* ---- the scenario ------------------------------------------------------------------------ */

int bench_dbus(struct bench *b, enum bench_dbus_kind kind) {
        const char *name = dbus_kind_names[kind];
        struct dbus_peer p;
        pid_t echo_pid = 0;
        int stop_fd = -EBADF, r;

        r = dbus_peer_start(&p, kind);
        if (r < 0)
                return r;
        r = dbus_echo_start(p.address, &echo_pid, &stop_fd);
        if (r >= 0) {
                r = dbus_rpc_seq(b, &p, name);
                if (r >= 0)
                        r = dbus_rpc_pipelined(b, &p, name);
                if (dbus_echo_stop(echo_pid, stop_fd) < 0 && r >= 0)
                        r = -ECHILD;
        }
        if (r >= 0)
                r = dbus_fanout(b, &p, name);
        dbus_peer_stop(&p);
        return r;
}
