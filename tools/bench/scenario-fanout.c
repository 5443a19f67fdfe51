/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench fanout: one publisher, N subscriber processes. */

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

/* What a fanout subscriber tells the parent when it is done. */
struct fanout_report {
        uint64_t received;
        usec_t last_usec;
        int32_t error;
        bool got_done;
};

struct fanout_child {
        const char *address;
        int fd;                         /* "R" once subscribed, then a struct fanout_report */
};

static int fanout_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct fanout_report *rep = userdata;

        if (strcmp(ev->event, "Done") == 0) {
                rep->got_done = true;
                return 0;
        }
        rep->received++;
        rep->last_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int fanout_child_run(void *userdata) {
        struct fanout_child *c = userdata;
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_slot_freep) struct mbus_slot *slot = NULL;
        struct fanout_report rep = {};
        usec_t last_activity;
        int r;

        r = bench_connect(c->address, "mbus-bench-subscriber", &conn);
        if (r < 0)
                return r;
        r = mbus_subscribe(conn, BENCH_FANOUT_NAMESPACE ".*", fanout_on_event, &rep, &slot,
                           /* ret_error= */ NULL);
        if (r < 0)
                return r;
        r = write_full(c->fd, "R", 1);
        if (r < 0)
                return r;

        /* Until "Done", or until nothing came for a while (then Done itself was lost). */
        last_activity = now_usec(CLOCK_MONOTONIC);
        while (!rep.got_done) {
                usec_t n;

                r = mbus_conn_process(conn);
                if (r < 0) {
                        rep.error = r;
                        break;
                }
                if (r > 0) {
                        last_activity = now_usec(CLOCK_MONOTONIC);
                        continue;
                }
                n = now_usec(CLOCK_MONOTONIC);
                if (n - last_activity >= BENCH_FANOUT_IDLE_USEC)
                        break;
                r = mbus_conn_wait(conn, BENCH_FANOUT_IDLE_USEC - (n - last_activity));
                if (r < 0 && r != -EINTR) {
                        rep.error = r;
                        break;
                }
        }
        return write_full(c->fd, &rep, sizeof(rep));
}

int fanout_run(const char *address, struct fanout_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *fds = NULL;
        static const char *const events[] = { "Tick", "Done", NULL };
        uint64_t total = 0, n_done = 0;
        usec_t t_start, t_sent, t_last = 0;
        size_t n_started = 0;
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
                struct fanout_child child = { .address = address, .fd = sp[1] };
                fds[n_started] = sp[0];
                r = bench_fork(&pids[n_started], fds, n_started + 1, fanout_child_run, &child);
                safe_close(sp[1]);
                if (r < 0) {
                        fds[n_started] = safe_close(sp[0]);
                        goto finish;
                }
                r = read_full(fds[n_started], &c, 1, BENCH_READY_TIMEOUT_USEC);
                if (r < 0) {
                        n_started++;
                        tool_error("fanout: subscriber did not start: %s", strerror(-r));
                        goto finish;
                }
        }

        r = bench_connect(address, "mbus-bench-publisher", &conn);
        if (r < 0)
                goto finish;
        r = mbus_register(conn, BENCH_FANOUT_NAMESPACE, NULL, 0, events, NULL, &error);
        if (r < 0) {
                tool_print_failure("fanout: cannot register", r, &error);
                goto finish;
        }

        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < arg_events; i++) {
                _cleanup_json_ json_object *payload = bench_payload(i, 80);   /* ~100 bytes of JSON */

                if (!payload) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = mbus_emit(conn, BENCH_FANOUT_NAMESPACE, "Tick", payload);
                if (r < 0)
                        goto finish;
                if (arg_pace > 0 && (i + 1) % arg_pace == 0) {
                        r = mbus_ping(conn, BENCH_CALL_TIMEOUT_USEC);
                        if (r < 0)
                                goto finish;
                }
        }
        r = mbus_emit(conn, BENCH_FANOUT_NAMESPACE, "Done", NULL);
        if (r >= 0)
                r = mbus_ping(conn, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                goto finish;
        t_sent = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < n_started; i++) {
                struct fanout_report rep;

                r = read_full(fds[i], &rep, sizeof(rep), 120 * USEC_PER_SEC);
                if (r < 0) {
                        tool_error("fanout: no report from subscriber %zu: %s", i, strerror(-r));
                        goto finish;
                }
                if (rep.error < 0)
                        tool_error("fanout: subscriber %zu lost its connection: %s", i, strerror(-rep.error));
                total += rep.received;
                n_done += rep.got_done;
                t_last = MAX(t_last, rep.last_usec);
        }

        if (n_done < n_started)
                tool_error("fanout: warning: %zu of %zu subscribers never saw the final event",
                           (size_t) (n_started - n_done), n_started);
        *ret = (struct fanout_result) {
                .published_per_sec = (double) arg_events * USEC_PER_SEC / (double) MAX(t_sent - t_start, 1u),
                .delivered_per_sec = (double) total * USEC_PER_SEC / (double) MAX(MAX(t_last, t_sent) - t_start, 1u),
                .lost = arg_events * arg_subscribers - total,
        };
        r = 0;
finish:
        if (r < 0)
                tool_error("fanout: %s", strerror(-r));
        conn = mbus_conn_unref(conn);
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], 20 * USEC_PER_SEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        return r;
}

int bench_fanout(struct bench *b, const char *address) {
        struct fanout_result res = {};
        int r;

        r = fanout_run(address, &res);
        if (r < 0)
                return r;
        bench_record(b, "fanout", "published_per_sec", "events/s", res.published_per_sec);
        bench_record(b, "fanout", "delivered_per_sec", "events/s", res.delivered_per_sec);
        bench_record(b, "fanout", "lost", "events", (double) res.lost);
        return 0;
}
