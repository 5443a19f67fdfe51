/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench idle: the broker's memory per idle connection, and what many peers arriving and
 * leaving at once cost it, for each size of --idle-peers (1000, 5000 and 10000 by default).
 *
 * IDLE_WORKERS processes hold the connections (one process could not open more than its fd
 * limit allows, and several connect at once, as a crowd of clients would). The parent tells
 * them through a socketpair each: 'G' opens their share of connections, one after the other,
 * and answers with the time the last one was welcomed; 'X' closes them all and answers with the
 * time of the last close; EOF makes them exit. Times are CLOCK_MONOTONIC, one clock for all.
 *
 * Per size: a broker of our own, with --max-peers above the count (its default is lower); the
 * connect rate of the burst; KiB of broker VmRSS per peer; the teardown: from the last close of
 * all N until a new client's PING is answered (connect, HELLO, PING); then N connect again and
 * the broker gets SIGTERM: the time until it has exited. As root the connections count against
 * --max-peers only (root has no per-user HELLO pool); as another user the broker's
 * --max-hello-per-user bounds the burst.
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

/* The broker's VmRSS before, and its growth per connection after arg_idle idle connections to
 * address. broker_pid: 0 to take it from the connection. */
int idle_run(const char *address, pid_t broker_pid, uint64_t *ret_rss_before, double *ret_kib_per_peer) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *ctl = NULL;
        struct mbus_conn **conns = NULL;
        uint64_t rss0 = 0, rss1 = 0, n = 0;
        int r;

        r = bench_connect(address, "mbus-bench", &ctl);
        if (r < 0)
                return r;
        if (broker_pid <= 0)
                broker_pid = conn_peer_pid(ctl);
        if (broker_pid <= 0) {
                /* TCP has no peer credentials: a broker reached over tcp:// or tls:// is anonymous */
                tool_error("idle: the broker's process id is unknown (only a UNIX socket tells it)");
                return -ESRCH;
        }
        r = mbus_ping(ctl, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = proc_rss_kib(broker_pid, &rss0);
        if (r < 0) {
                tool_error("idle: cannot read the broker's memory use (pid %d): %s", (int) broker_pid, strerror(-r));
                return r;
        }

        conns = calloc(arg_idle, sizeof(*conns));
        if (!conns)
                return -ENOMEM;
        for (; n < arg_idle; n++) {
                r = bench_connect(address, "mbus-bench-idle", &conns[n]);
                if (r < 0) {
                        tool_error("idle: connection %" PRIu64 " failed", n + 1);
                        goto finish;
                }
        }
        /* Every WELCOME is in, and the PONG proves the broker is done with what followed. */
        r = mbus_ping(ctl, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                goto finish;
        r = proc_rss_kib(broker_pid, &rss1);
        if (r < 0)
                goto finish;

        *ret_rss_before = rss0;
        *ret_kib_per_peer = rss1 > rss0 ? (double) (rss1 - rss0) / (double) arg_idle : 0.0;
        r = 0;
finish:
        for (uint64_t i = 0; i < n; i++)
                mbus_conn_unref(conns[i]);
        free(conns);
        return r;
}

#define IDLE_WORKERS 4
/* How long a connection, or the PING after the crowd left, may take before the run fails. */
#define IDLE_ANSWER_TIMEOUT_USEC (300 * USEC_PER_SEC)

struct idle_worker {
        const char *address;
        int fd;
        uint64_t n;
};

static int idle_worker_run(void *userdata) {
        struct idle_worker *w = userdata;
        _cleanup_free_ struct mbus_conn **conns = NULL;
        uint64_t n = 0;
        int r = 0;

        conns = calloc(w->n, sizeof(*conns));
        if (!conns)
                return -ENOMEM;
        for (;;) {
                char cmd;
                uint64_t t;

                r = read_full(w->fd, &cmd, 1, USEC_INFINITY);
                if (r == -EPIPE) {
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
                if (cmd == 'G')
                        for (; n < w->n; n++) {
                                r = tool_connect_timeout(w->address, IDLE_ANSWER_TIMEOUT_USEC, &conns[n]);
                                if (r < 0) {
                                        tool_error("idle: connection %" PRIu64 " failed: %s", n + 1, strerror(-r));
                                        break;
                                }
                        }
                else
                        for (; n > 0; n--)
                                conns[n - 1] = mbus_conn_unref(conns[n - 1]);
                t = r < 0 ? 0 : now_usec(CLOCK_MONOTONIC);
                r = write_full(w->fd, &t, sizeof(t));
                if (r < 0)
                        break;
        }
        for (; n > 0; n--)
                mbus_conn_unref(conns[n - 1]);
        return r;
}

/* Sends cmd to every worker; returns the latest time they answered, or -EIO if one failed. */
static int idle_command(const int *fds, size_t n_fds, char cmd, usec_t *ret_last) {
        usec_t last = 0;
        int r;

        for (size_t i = 0; i < n_fds; i++) {
                r = write_full(fds[i], &cmd, 1);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_fds; i++) {
                uint64_t t;

                r = read_full(fds[i], &t, sizeof(t), 2 * IDLE_ANSWER_TIMEOUT_USEC);
                if (r < 0)
                        return r;
                if (t == 0)
                        return -EIO;
                last = MAX(last, t);
        }
        *ret_last = last;
        return 0;
}

struct idle_result {
        double kib_per_peer, connect_per_sec, teardown_msec, sigterm_msec;
};

static int idle_scale_run(struct bench *b, uint64_t n_peers, struct idle_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *ctl = NULL, *late = NULL;
        struct bench_broker bb = {};
        int fds[IDLE_WORKERS];
        pid_t pids[IDLE_WORKERS];
        size_t n_started = 0;
        const char *address = arg_address;
        char max_peers[32];
        uint64_t rss0 = 0, rss1 = 0;
        usec_t t0, t_connected, t_closed, t_answered;
        pid_t broker_pid;
        int r;

        *ret = (struct idle_result) { .teardown_msec = NAN, .sigterm_msec = NAN };
        if (!address) {
                snprintf(max_peers, sizeof(max_peers), "%" PRIu64, n_peers + 64);
                r = bench_broker_start(&bb, b->broker_path, /* tls= */ NULL,
                                       (const char *const[]) { "--max-peers", max_peers, NULL });
                if (r < 0) {
                        tool_error("idle: cannot start %s: %s", b->broker_path, strerror(-r));
                        return r;
                }
                address = bb.address;
        }

        for (; n_started < IDLE_WORKERS; n_started++) {
                int sp[2];

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = -errno;
                        goto finish;
                }
                struct idle_worker w = {
                        .address = address, .fd = sp[1],
                        .n = n_peers / IDLE_WORKERS + (n_started < n_peers % IDLE_WORKERS),
                };
                fds[n_started] = sp[0];
                r = bench_fork(&pids[n_started], fds, n_started + 1, idle_worker_run, &w);
                safe_close(sp[1]);
                if (r < 0) {
                        safe_close(sp[0]);
                        goto finish;
                }
        }

        r = bench_connect(address, "mbus-bench", &ctl);
        if (r < 0)
                goto finish;
        broker_pid = bb.pid > 0 ? bb.pid : conn_peer_pid(ctl);
        if (broker_pid <= 0) {
                /* TCP has no peer credentials: a broker reached over tcp:// or tls:// is anonymous */
                tool_error("idle: the broker's process id is unknown (only a UNIX socket tells it)");
                r = -ESRCH;
                goto finish;
        }
        r = mbus_ping(ctl, BENCH_CALL_TIMEOUT_USEC);
        if (r >= 0)
                r = proc_rss_kib(broker_pid, &rss0);
        if (r < 0)
                goto finish;

        t0 = now_usec(CLOCK_MONOTONIC);
        r = idle_command(fds, n_started, 'G', &t_connected);
        if (r < 0) {
                tool_error("idle: %" PRIu64 " peers could not connect", n_peers);
                goto finish;
        }
        /* Every WELCOME is in, and the PONG proves the broker is done with what followed. */
        r = mbus_ping(ctl, IDLE_ANSWER_TIMEOUT_USEC);
        if (r >= 0)
                r = proc_rss_kib(broker_pid, &rss1);
        if (r < 0)
                goto finish;
        ctl = mbus_conn_unref(ctl);
        ret->connect_per_sec = (double) n_peers * USEC_PER_SEC / (double) MAX(t_connected - t0, 1u);
        ret->kib_per_peer = rss1 > rss0 ? (double) (rss1 - rss0) / (double) n_peers : 0.0;

        /* All leave at once; then how long until the broker serves a newcomer. */
        r = idle_command(fds, n_started, 'X', &t_closed);
        if (r < 0)
                goto finish;
        /* generous: the broker may take many seconds before it answers anyone */
        r = tool_connect_timeout(address, IDLE_ANSWER_TIMEOUT_USEC, &late);
        if (r >= 0)
                r = mbus_ping(late, IDLE_ANSWER_TIMEOUT_USEC);
        if (r < 0) {
                tool_error("idle: no answer after %" PRIu64 " peers left: %s", n_peers, strerror(-r));
                goto finish;
        }
        t_answered = now_usec(CLOCK_MONOTONIC);
        late = mbus_conn_unref(late);
        ret->teardown_msec = t_answered > t_closed ? (double) (t_answered - t_closed) / 1000.0 : 0.0;

        /* All come back, and the broker is told to stop. */
        if (bb.pid > 0) {
                usec_t took;

                r = idle_command(fds, n_started, 'G', &t_connected);
                if (r < 0)
                        goto finish;
                took = bench_broker_stop_timed(&bb, IDLE_ANSWER_TIMEOUT_USEC);
                if (took != USEC_INFINITY)
                        ret->sigterm_msec = (double) took / 1000.0;
        }
        r = 0;
finish:
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], 120 * USEC_PER_SEC) < 0 && r >= 0 && bb.pid > 0)
                        r = -ECHILD;
        }
        (void) bench_broker_stop_timed(&bb, IDLE_ANSWER_TIMEOUT_USEC);
        return r;
}

int bench_idle(struct bench *b) {
        for (size_t i = 0; i < arg_n_idle_sizes; i++) {
                struct idle_result res;
                char name[48];
                int r;

                r = idle_scale_run(b, arg_idle_sizes[i], &res);
                if (r < 0)
                        return r;
#define RECORD(what, unit, value)                                                               \
                do {                                                                            \
                        snprintf(name, sizeof(name), "p%" PRIu64 "_%s", arg_idle_sizes[i], what); \
                        bench_record(b, "idle", name, unit, value);                             \
                } while (0)
                RECORD("rss_kib_per_peer", "KiB", res.kib_per_peer);
                RECORD("connect_per_sec", "peers/s", res.connect_per_sec);
                RECORD("teardown_ping_msec", "ms", res.teardown_msec);
                if (!isnan(res.sigterm_msec))
                        RECORD("sigterm_exit_msec", "ms", res.sigterm_msec);
#undef RECORD
        }
        return 0;
}
