/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench fanout, fanout-scale and fanout-slow: one publisher, N subscriber processes.
 *
 * The publisher formats each payload itself and sends it with mbus_emit_raw(); every event
 * carries its sequence number; every subscriber keeps a bitmap of the numbers it
 * saw, so it counts losses, duplicates and reordering exactly, and the parent fails the run on
 * any of them (not on a median). The publisher sends as fast as mbus_emit() lets it, with no
 * PONG in between (--pace adds one, for comparison only): the peers' publishers do not wait
 * either. The end is a handshake, not a final event that could itself be dropped: once the
 * publisher's PING is answered, every event has been routed (queued or dropped); the parent
 * then tells each subscriber, which pings the broker too: its PONG comes after every event the
 * broker queued for it.
 *
 * fanout-slow has one subscriber that reads slowly against a broker with a small
 * --max-queue-bytes: the broker drops events for it, and the number it counts (events_dropped
 * of GetStats) must equal the number the subscribers found missing by sequence number (the
 * other one misses nothing on a quiet machine), with nothing duplicated or reordered.
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

/* The broker's queue limit in fanout-slow: a few hundred events, so the slow reader overflows. */
#define FANOUT_SLOW_QUEUE_BYTES "65536"
/* The slow subscriber sleeps this long after every FANOUT_SLOW_BATCH events. */
#define FANOUT_SLOW_SLEEP_USEC 1000
#define FANOUT_SLOW_BATCH 1

struct fanout_child {
        const char *address;
        int fd;                         /* "R" once subscribed; "F" from the parent; the report */
        uint64_t n_events;
        bool slow;
};

struct fanout_sub {
        struct fanout_seq seq;
        bool slow, draining;
        unsigned n_slow;
};

/*
 * A raw handler, as a subscriber that needs one number of the payload would write it: the
 * sequence number is read from the JSON text the publisher wrote, and no json-c tree is built.
 */
static int fanout_on_event(struct mbus_conn *conn, const struct mbus_event_raw *ev, void *userdata) {
        struct fanout_sub *sub = userdata;

        fanout_seq_note(&sub->seq, fanout_seq_of(ev->body, ev->body_len));
        if (sub->slow && !sub->draining && ++sub->n_slow % FANOUT_SLOW_BATCH == 0)
                (void) usleep(FANOUT_SLOW_SLEEP_USEC);
        return 0;
}

/* Receives until the parent says the publisher is done, then pings and takes what is left. */
static int fanout_receive(struct mbus_conn *conn, struct fanout_sub *sub, int parent_fd) {
        uint64_t n = 0;
        int r;

        for (;;) {
                struct pollfd p[2];
                uint64_t until;
                int timeout = -1;

                r = mbus_conn_process(conn);
                if (r < 0)
                        return r;
                /* a busy subscriber looks at the parent's pipe only every so often */
                if (r > 0 && ++n % 1024 != 0)
                        continue;
                p[0] = (struct pollfd) { .fd = mbus_conn_get_fd(conn), .events = mbus_conn_get_events(conn) };
                p[1] = (struct pollfd) { .fd = parent_fd, .events = POLLIN };
                if (r > 0)
                        timeout = 0;
                else if (mbus_conn_get_timeout(conn, &until) >= 0 && until != UINT64_MAX) {
                        usec_t t = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= t ? 0 : (int) MIN((until - t + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, 2, timeout);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && p[1].revents)
                        break;
        }

        char c;
        r = read_full(parent_fd, &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r < 0)
                return r;
        sub->draining = true;
        r = mbus_ping(conn, 60 * USEC_PER_SEC);
        if (r < 0)
                return r;
        while ((r = mbus_conn_process(conn)) > 0)
                ;
        return r;
}

static int fanout_child_run(void *userdata) {
        struct fanout_child *c = userdata;
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_slot_freep) struct mbus_slot *slot = NULL;
        struct fanout_sub sub = { .slow = c->slow };
        usec_t cpu0;
        int r;

        r = fanout_seq_init(&sub.seq, c->n_events);
        if (r < 0)
                return r;
        r = bench_connect(c->address, "mbus-bench-subscriber", &conn);
        if (r >= 0)
                r = mbus_subscribe_raw(conn, BENCH_FANOUT_NAMESPACE ".Tick", fanout_on_event, &sub, &slot,
                                       /* ret_error= */ NULL);
        if (r < 0) {
                fanout_seq_done(&sub.seq);
                return r;
        }
        cpu0 = fanout_cpu_usec();
        r = write_full(c->fd, "R", 1);
        if (r >= 0)
                r = fanout_receive(conn, &sub, c->fd);
        if (r < 0)
                sub.seq.rep.error = r;
        sub.seq.rep.cpu_usec = fanout_cpu_usec() - cpu0;
        fanout_seq_done(&sub.seq);
        return write_full(c->fd, &sub.seq.rep, sizeof(sub.seq.rep));
}

/* events_dropped of the broker's GetStats. */
static int fanout_broker_dropped(struct mbus_conn *conn, uint64_t *ret) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *result = NULL;
        json_object *o;
        int r;

        r = mbus_call(conn, "org.mbus.Broker", "GetStats", NULL, BENCH_CALL_TIMEOUT_USEC, &result, &error);
        if (r < 0) {
                tool_print_failure("fanout: GetStats failed", r, &error);
                return r;
        }
        if (!json_object_object_get_ex(result, "events_dropped", &o))
                return -EBADMSG;
        *ret = (uint64_t) json_object_get_int64(o);
        return 0;
}

int fanout_run(const char *address, uint64_t n_subscribers, uint64_t n_events, bool slow,
               struct fanout_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *fds = NULL;
        static const char *const events[] = { "Tick", NULL };
        struct fanout_result res = { .slow_missed = NAN, .broker_dropped = NAN };
        uint64_t total = 0, dropped0 = 0, dropped1 = 0;
        usec_t t_start, t_sent, cpu0 = 0, cpu1 = 0, pub_cpu0, pub_cpu;
        bool have_cpu = false;
        pid_t broker_pid;
        size_t n_started = 0;
        int r = 0;

        pids = calloc(n_subscribers, sizeof(*pids));
        fds = calloc(n_subscribers, sizeof(*fds));
        if (!pids || !fds)
                return -ENOMEM;

        /* with slow, the last subscriber is the slow one */
        for (; n_started < n_subscribers; n_started++) {
                int sp[2];
                char c;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = -errno;
                        goto finish;
                }
                struct fanout_child child = {
                        .address = address, .fd = sp[1], .n_events = n_events,
                        .slow = slow && n_started == n_subscribers - 1,
                };
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
        if (slow) {
                r = fanout_broker_dropped(conn, &dropped0);
                if (r < 0)
                        goto finish;
        }
        broker_pid = conn_peer_pid(conn);
        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;

        pub_cpu0 = fanout_cpu_usec();
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < n_events; i++) {
                char payload[FANOUT_PAYLOAD_MAX];
                size_t len = fanout_payload_text(payload, sizeof(payload), i);

                r = mbus_emit_raw(conn, /* destination= */ NULL, BENCH_FANOUT_NAMESPACE, "Tick", payload, len);
                if (r < 0)
                        goto finish;
                if (arg_pace > 0 && (i + 1) % arg_pace == 0) {
                        r = mbus_ping(conn, BENCH_CALL_TIMEOUT_USEC);
                        if (r < 0)
                                goto finish;
                }
        }
        r = mbus_ping(conn, 120 * USEC_PER_SEC);
        if (r < 0)
                goto finish;
        t_sent = now_usec(CLOCK_MONOTONIC);
        pub_cpu = fanout_cpu_usec() - pub_cpu0;

        for (size_t i = 0; i < n_started; i++) {
                r = write_full(fds[i], "F", 1);
                if (r < 0)
                        goto finish;
        }
        r = fanout_collect(fds, n_started, n_events, slow, t_start, t_sent, &res, &total);
        if (r < 0)
                goto finish;
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        if (slow) {
                r = fanout_broker_dropped(conn, &dropped1);
                if (r < 0)
                        goto finish;
                res.broker_dropped = (double) (dropped1 - dropped0);
        }

        res.broker_cpu_usec_per_delivery = have_cpu && total > 0 ? (double) (cpu1 - cpu0) / (double) total : NAN;
        res.publisher_cpu_usec_per_event = (double) pub_cpu / (double) MAX(n_events, 1u);
        if (have_cpu && total > 0 && res.delivered_per_sec > 0) {
                /* the subscribers' CPU time, and the run's wall time, from the per-delivery figures */
                double wall = (double) total * USEC_PER_SEC / res.delivered_per_sec;

                res.cpus_busy = ((double) pub_cpu + (double) (cpu1 - cpu0) +
                                 res.subscriber_cpu_usec_per_delivery * (double) total) / wall;
        }
        *ret = res;
        r = 0;
finish:
        if (r < 0)
                tool_error("fanout: %s", strerror(-r));
        conn = mbus_conn_unref(conn);
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], BENCH_EXIT_TIMEOUT_USEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        return r;
}

void fanout_record(struct bench *b, const char *scenario, const char *prefix, const struct fanout_result *res) {
        char name[48];

#define RECORD(what, unit, value)                                                     \
        do {                                                                            \
                snprintf(name, sizeof(name), "%s%s", prefix, what);                     \
                bench_record(b, scenario, name, unit, value);                           \
        } while (0)
        RECORD("published_per_sec", "events/s", res->published_per_sec);
        RECORD("delivered_per_sec", "events/s", res->delivered_per_sec);
        /* any of these in any run fails the fanout target (see report.c) */
        RECORD("lost", "events", (double) res->lost);
        RECORD("duplicates", "events", (double) res->duplicates);
        RECORD("reordered", "events", (double) res->reordered);
        if (res->invalid > 0)
                RECORD("invalid", "events", (double) res->invalid);
        if (!isnan(res->broker_cpu_usec_per_delivery)) {
                RECORD("broker_cpu_usec_per_delivery", "µs", res->broker_cpu_usec_per_delivery);
                RECORD("total_cpu_usec_per_delivery", "µs",
                       res->broker_cpu_usec_per_delivery + res->subscriber_cpu_usec_per_delivery);
        }
        RECORD("subscriber_cpu_usec_per_delivery", "µs", res->subscriber_cpu_usec_per_delivery);
        if (res->publisher_cpu_usec_per_event > 0)
                RECORD("publisher_cpu_usec_per_event", "µs", res->publisher_cpu_usec_per_event);
        if (res->cpus_busy > 0)
                RECORD("cpus_busy", "CPUs", res->cpus_busy);
#undef RECORD
}

int bench_fanout(struct bench *b, const char *address) {
        struct fanout_result res = {};
        int r;

        r = fanout_run(address, arg_subscribers, arg_events, /* slow= */ false, &res);
        if (r < 0)
                return r;
        fanout_record(b, "fanout", "", &res);
        return 0;
}

/* Subscribers 1, 8, 64, 256, with about the deliveries of fanout at 8 for the larger counts. */
int bench_fanout_scale(struct bench *b, const char *address) {
        static const uint64_t counts[] = { 1, 8, 64, 256 };

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                uint64_t n_events = MIN(arg_events, MAX((uint64_t) 1000, arg_events * 8 / counts[i]));
                struct fanout_result res = {};
                char prefix[32], name[64];
                int r;

                r = fanout_run(address, counts[i], n_events, /* slow= */ false, &res);
                if (r < 0)
                        return r;
                snprintf(prefix, sizeof(prefix), "s%" PRIu64 "_", counts[i]);
                snprintf(name, sizeof(name), "%sdelivered_per_sec", prefix);
                bench_record(b, "fanout-scale", name, "events/s", res.delivered_per_sec);
                snprintf(name, sizeof(name), "%serrors", prefix);
                bench_record(b, "fanout-scale", name, "events", (double) (res.lost + res.duplicates + res.reordered + res.invalid));
                if (!isnan(res.broker_cpu_usec_per_delivery)) {
                        snprintf(name, sizeof(name), "%sbroker_cpu_usec_per_delivery", prefix);
                        bench_record(b, "fanout-scale", name, "µs", res.broker_cpu_usec_per_delivery);
                }
        }
        return 0;
}

/* A broker of its own (not --address): it needs a small queue limit to drop anything. */
int bench_fanout_slow(struct bench *b) {
        /* its warnings about each dropped event are the point here, not news */
        static const char *const extra[] = { "--max-queue-bytes", FANOUT_SLOW_QUEUE_BYTES, "--log-level", "err", NULL };
        struct bench_broker bb = {};
        struct fanout_result res = {};
        int r;

        r = bench_broker_start(&bb, b->broker_path, /* tls= */ NULL, extra);
        if (r < 0) {
                tool_error("fanout-slow: cannot start %s: %s", b->broker_path, strerror(-r));
                return r;
        }
        r = fanout_run(bb.address, 2, arg_events, /* slow= */ true, &res);
        bench_broker_stop(&bb);
        if (r < 0)
                return r;
        bench_record(b, "fanout-slow", "slow_missed", "events", res.slow_missed);
        /* the other subscriber shares the small queue limit: on a loaded machine it falls
         * behind too, and the broker's count (one for all peers) includes its drops */
        bench_record(b, "fanout-slow", "other_missed", "events", (double) res.lost);
        bench_record(b, "fanout-slow", "broker_dropped", "events", res.broker_dropped);
        /* the target: what the broker says it dropped is exactly what the subscribers missed */
        bench_record(b, "fanout-slow", "dropped_vs_missed_diff", "events",
                     fabs(res.broker_dropped - res.slow_missed - (double) res.lost));
        /* a drop is a gap; nothing may come twice or out of order */
        bench_record(b, "fanout-slow", "errors", "events", (double) (res.duplicates + res.reordered + res.invalid));
        return 0;
}
