/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench over WebSocket: rpc-seq-ws and fanout-ws (--transport ws), and rpc-seq and fanout
 * against the WebSocket listener of an existing broker (--address ws://... or wss://...).
 *
 * The peers here speak the bench's own WebSocket client (ws.c), binary messages by default
 * (one frame each, as mbus.js and every page send them), JSON text with --ws-json.
 *
 * rpc-seq-ws and fanout-ws start a broker of their own with a UNIX and a WebSocket listener,
 * run the UNIX scenario and then the WebSocket one on it, one after the other, and record both
 * and their ratio from the same run:
 *   rpc-seq-ws  the caller on WebSocket, the echo service on the UNIX socket: a page calling a
 *               daemon, the case the WebSocket listener exists for;
 *   fanout-ws   the subscribers on WebSocket, the publisher on the UNIX socket: the same
 *               publisher as the UNIX fanout, so the ratio is the cost of delivering over
 *               WebSocket (what N browser tabs watching a bus cost), not of publishing over it.
 * Every event is checked by sequence number as in fanout (fanout-check.c), and the end is the
 * same PING handshake.
 *
 * With --address ws://..., every peer of rpc-seq and fanout is a WebSocket peer (caller, echo
 * service, publisher, subscribers): there is no UNIX socket to compare with, and the broker's
 * pid is not known (no broker CPU figures). The figures are recorded as rpc-seq and fanout.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "proto/frame.h"
#include "tools/bench/bench.h"
#include "tools/bench/ws.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define WS_TICK_PATTERN BENCH_FANOUT_NAMESPACE ".Tick"

/* Sends a request and checks that the broker answered it with a RETURN. */
static int ws_expect_return(struct bench_ws *ws, const char *what, enum mbus_frame_type type,
                            const struct mbus_frame_fields *fields, const char *body_json) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *answer = NULL;
        _cleanup_json_ json_object *body = body_json ? json_tokener_parse(body_json) : NULL;
        int r;

        if (body_json && !body)
                return -ENOMEM;
        r = bench_ws_request(ws, type, fields, body, &answer);
        if (r < 0) {
                tool_error("%s: %s", what, strerror(-r));
                return r;
        }
        if (answer->type != MBUS_FRAME_RETURN) {
                bench_ws_complain(what, answer);
                return -EPROTO;
        }
        return 0;
}

/* ---- the echo service over WebSocket ----------------------------------------------------- */

struct ws_child {
        const char *address;
        uint64_t n_events;
};

static int ws_echo_answer(struct bench_ws *ws, const struct mbus_frame *call) {
        _cleanup_json_ json_object *args = NULL;
        struct mbus_frame_fields f = { .reply_serial = call->f.serial, .destination = call->f.sender };

        if (!call->f.member || strcmp(call->f.member, "Echo") != 0) {
                f.error_name = "org.mbus.Error.UnknownProcedure";
                return (int) MIN(bench_ws_send(ws, MBUS_FRAME_ERROR, &f, "{\"message\":\"only Echo\"}", 23), 0);
        }
        /* parsed and written again, as a service that looks at its arguments does */
        if (bench_ws_body(call, &args) < 0) {
                f.error_name = "org.mbus.Error.InvalidArgs";
                return (int) MIN(bench_ws_send(ws, MBUS_FRAME_ERROR, &f, "{\"message\":\"not JSON\"}", 22), 0);
        }
        return (int) MIN(bench_ws_send_json(ws, MBUS_FRAME_RETURN, &f, args), 0);
}

/* Registers the echo namespace, says ready, answers calls until the parent hangs up. */
static int ws_echo_child(void *userdata, int fd) {
        const struct ws_child *c = userdata;
        _cleanup_(bench_ws_freep) struct bench_ws *ws = NULL;
        int r;

        r = bench_ws_open(&ws, c->address, "mbus-bench-echo", arg_ws_json);
        if (r >= 0)
                r = ws_expect_return(ws, "echo service: REGISTER", MBUS_FRAME_REGISTER,
                                     &(struct mbus_frame_fields) { .namespace = BENCH_ECHO_NAMESPACE },
                                     "{\"procedures\":[\"Echo\"]}");
        if (r >= 0)
                r = write_full(fd, "R", 1);
        if (r < 0)
                return r;       /* said why, or the parent is gone */
        while (r >= 0) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                struct pollfd p[2] = { { .fd = ws->fd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

                if (!bench_ws_pending(ws)) {
                        r = poll(p, 2, -1);
                        if (r < 0 && errno != EINTR)
                                return -errno;
                        if (p[1].revents)
                                return 0;
                        if (!p[0].revents)
                                continue;
                }
                r = bench_ws_recv(ws, BENCH_CALL_TIMEOUT_USEC, &frame);
                if (r >= 0 && frame->type == MBUS_FRAME_CALL)
                        r = ws_echo_answer(ws, frame);
        }
        tool_error("echo service over WebSocket: %s", strerror(-r));
        return r;
}

/* The echo service on address: over WebSocket for a ws:// one, else libmbus's (echo.c). */
static int ws_echo_start(const char *address, pid_t *ret_pid, int *ret_fd) {
        struct ws_child c = { .address = address };

        if (!bench_address_is_ws(address))
                return echo_start(address, ret_pid, ret_fd);
        return bench_start_child(ret_pid, ret_fd, NULL, 0, ws_echo_child, &c);
}

/* ---- rpc-seq with the caller on WebSocket ------------------------------------------------ */

static int ws_call_echo(struct bench_ws *ws, uint64_t i) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *answer = NULL;
        _cleanup_json_ json_object *args = bench_payload(i, 64), *result = NULL;
        json_object *seq;
        int r;

        if (!args)
                return -ENOMEM;
        r = bench_ws_request(ws, MBUS_FRAME_CALL,
                             &(struct mbus_frame_fields) { .namespace = BENCH_ECHO_NAMESPACE, .member = "Echo",
                                                           .timeout_usec = BENCH_CALL_TIMEOUT_USEC },
                             args, &answer);
        if (r < 0)
                return r;
        /* the result parsed as libmbus parses every RETURN */
        if (answer->type != MBUS_FRAME_RETURN || bench_ws_body(answer, &result) < 0 || !result ||
            !json_object_object_get_ex(result, "seq", &seq) || json_object_get_int64(seq) != (int64_t) i) {
                bench_ws_complain("rpc-seq over WebSocket: the answer is not the echo of the call", answer);
                return -EBADMSG;
        }
        return 0;
}

/* caller_address: ws://; echo_address: where the echo service connects (ws:// or UNIX). */
static int ws_rpc_seq_run(const char *caller_address, const char *echo_address, pid_t broker_pid,
                          struct rpc_seq_result *ret) {
        _cleanup_(bench_ws_freep) struct bench_ws *ws = NULL;
        _cleanup_free_ uint64_t *lat = calloc(arg_calls, sizeof(uint64_t));
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;
        pid_t echo_pid = 0;
        int echo_fd = -EBADF, r;

        if (!lat)
                return -ENOMEM;
        r = ws_echo_start(echo_address, &echo_pid, &echo_fd);
        if (r < 0) {
                tool_error("rpc-seq over WebSocket: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        r = bench_ws_open(&ws, caller_address, "mbus-bench", arg_ws_json);
        for (uint64_t i = 0; r >= 0 && i < BENCH_WARMUP + arg_calls; i++) {
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                t0 = now_nsec();
                r = ws_call_echo(ws, i);
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        ws = bench_ws_free(ws);
        if (echo_stop(echo_pid, echo_fd) < 0 && r >= 0) {
                tool_error("rpc-seq over WebSocket: the echo service did not exit cleanly");
                r = -ECHILD;
        }
        if (r < 0)
                return r;
        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        *ret = (struct rpc_seq_result) {
                .calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u),
                .p50_usec = percentile(lat, arg_calls, 50) / 1000.0,
                .p99_usec = percentile(lat, arg_calls, 99) / 1000.0,
                .broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN,
                .broker_user_usec = NAN,
                .broker_sys_usec = NAN,
        };
        return 0;
}

/* ---- fan-out with the subscribers on WebSocket ------------------------------------------- */

/* Notes the sequence number of an EVENT; other frames are not the subscriber's business. */
static void ws_note_event(struct fanout_seq *seq, const struct mbus_frame *frame) {
        _cleanup_json_ json_object *payload = NULL;
        json_object *o;

        if (frame->type != MBUS_FRAME_EVENT)
                return;
        fanout_seq_note(seq, bench_ws_body(frame, &payload) >= 0 && payload &&
                        json_object_object_get_ex(payload, "seq", &o) && json_object_is_type(o, json_type_int) ?
                        json_object_get_int64(o) : -1);
}

/* Receives until the parent says the publisher is done, then pings and takes what is left. */
static int ws_fanout_receive(struct bench_ws *ws, struct fanout_seq *seq, int parent_fd) {
        uint64_t n = 0, serial;
        int64_t k;
        char c;
        int r;

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                struct pollfd p[2] = { { .fd = ws->fd, .events = POLLIN }, { .fd = parent_fd, .events = POLLIN } };
                bool pending = bench_ws_pending(ws);

                /* a busy subscriber looks at the parent's socket only every so often */
                if (!pending || ++n % 1024 == 0) {
                        r = poll(p, 2, pending ? 0 : -1);
                        if (r < 0 && errno != EINTR)
                                return -errno;
                        if (r > 0 && p[1].revents)
                                break;
                        if (!pending && !p[0].revents)
                                continue;
                }
                r = bench_ws_recv(ws, BENCH_CALL_TIMEOUT_USEC, &frame);
                if (r < 0)
                        return r;
                ws_note_event(seq, frame);
        }

        r = read_full(parent_fd, &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r < 0)
                return r;
        /* the broker answers after every event it queued for us */
        k = bench_ws_send(ws, MBUS_FRAME_PING, &(struct mbus_frame_fields) {}, NULL, 0);
        if (k < 0)
                return (int) k;
        serial = (uint64_t) k;
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;

                r = bench_ws_recv(ws, 60 * USEC_PER_SEC, &frame);
                if (r < 0)
                        return r;
                if (frame->type == MBUS_FRAME_PONG && frame->f.reply_serial == serial)
                        return 0;
                ws_note_event(seq, frame);
        }
}

static int ws_subscriber_child(void *userdata, int fd) {
        const struct ws_child *c = userdata;
        _cleanup_(bench_ws_freep) struct bench_ws *ws = NULL;
        struct fanout_seq seq;
        usec_t cpu0;
        int r;

        r = fanout_seq_init(&seq, c->n_events);
        if (r < 0)
                return r;
        r = bench_ws_open(&ws, c->address, "mbus-bench-subscriber", arg_ws_json);
        if (r >= 0)
                r = ws_expect_return(ws, "subscriber: SUBSCRIBE", MBUS_FRAME_SUBSCRIBE,
                                     &(struct mbus_frame_fields) { .pattern = WS_TICK_PATTERN }, NULL);
        if (r < 0) {
                fanout_seq_done(&seq);
                return r;
        }
        cpu0 = fanout_cpu_usec();
        r = write_full(fd, "R", 1);
        if (r >= 0)
                r = ws_fanout_receive(ws, &seq, fd);
        if (r < 0)
                seq.rep.error = r;
        seq.rep.cpu_usec = fanout_cpu_usec() - cpu0;
        fanout_seq_done(&seq);
        return write_full(fd, &seq.rep, sizeof(seq.rep));
}

/* The publisher: a libmbus connection (UNIX), or a WebSocket peer for a ws:// address. */
struct ws_publisher {
        struct mbus_conn *conn;
        struct bench_ws *ws;
};

static void ws_publisher_done(struct ws_publisher *p) {
        p->conn = mbus_conn_unref(p->conn);
        p->ws = bench_ws_free(p->ws);
}

static int ws_publisher_open(struct ws_publisher *p, const char *address) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        static const char *const events[] = { "Tick", NULL };
        int r;

        if (bench_address_is_ws(address)) {
                r = bench_ws_open(&p->ws, address, "mbus-bench-publisher", arg_ws_json);
                if (r < 0)
                        return r;
                return ws_expect_return(p->ws, "publisher: REGISTER", MBUS_FRAME_REGISTER,
                                        &(struct mbus_frame_fields) { .namespace = BENCH_FANOUT_NAMESPACE },
                                        "{\"events\":[\"Tick\"]}");
        }
        r = bench_connect(address, "mbus-bench-publisher", &p->conn);
        if (r < 0)
                return r;
        r = mbus_register(p->conn, BENCH_FANOUT_NAMESPACE, NULL, 0, events, NULL, &error);
        if (r < 0)
                tool_print_failure("fanout over WebSocket: cannot register", r, &error);
        return r;
}

static int ws_publisher_emit(struct ws_publisher *p, uint64_t i) {
        _cleanup_json_ json_object *payload = bench_payload(i, 80);   /* ~100 bytes of JSON */

        if (!payload)
                return -ENOMEM;
        if (p->conn)
                return mbus_emit(p->conn, BENCH_FANOUT_NAMESPACE, "Tick", payload);
        return (int) MIN(bench_ws_send_json(p->ws, MBUS_FRAME_EVENT,
                                            &(struct mbus_frame_fields) { .namespace = BENCH_FANOUT_NAMESPACE,
                                                                          .member = "Tick" },
                                            payload), 0);
}

/* Once answered, every event before it has been routed. An event refused is an ERROR first. */
static int ws_publisher_ping(struct ws_publisher *p, usec_t timeout) {
        uint64_t serial;
        int64_t k;

        if (p->conn)
                return mbus_ping(p->conn, timeout);
        k = bench_ws_send(p->ws, MBUS_FRAME_PING, &(struct mbus_frame_fields) {}, NULL, 0);
        if (k < 0)
                return (int) k;
        serial = (uint64_t) k;
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                int r;

                r = bench_ws_recv(p->ws, timeout, &frame);
                if (r < 0)
                        return r;
                if (frame->type == MBUS_FRAME_ERROR) {
                        bench_ws_complain("fanout over WebSocket: an event", frame);
                        return -EPROTO;
                }
                if (frame->type == MBUS_FRAME_PONG && frame->f.reply_serial == serial)
                        return 0;
        }
}

/* sub_address: ws:// for the subscribers; pub_address: the publisher's (UNIX or ws://). */
static int ws_fanout_run(const char *sub_address, const char *pub_address, pid_t broker_pid,
                         struct fanout_result *ret) {
        _cleanup_free_ pid_t *pids = calloc(arg_subscribers, sizeof(pid_t));
        _cleanup_free_ int *fds = calloc(arg_subscribers, sizeof(int));
        struct ws_publisher pub = {};
        struct fanout_result res = { .slow_missed = NAN, .broker_dropped = NAN };
        struct ws_child child = { .address = sub_address, .n_events = arg_events };
        uint64_t total = 0;
        usec_t t_start, t_sent, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        size_t n_started = 0;
        int r = 0;

        if (!pids || !fds)
                return -ENOMEM;
        for (; n_started < arg_subscribers; n_started++) {
                r = bench_start_child(&pids[n_started], &fds[n_started], fds, n_started, ws_subscriber_child, &child);
                if (r < 0) {
                        tool_error("fanout over WebSocket: subscriber did not start: %s", strerror(-r));
                        goto finish;
                }
        }

        r = ws_publisher_open(&pub, pub_address);
        if (r < 0)
                goto finish;
        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < arg_events; i++) {
                r = ws_publisher_emit(&pub, i);
                if (r >= 0 && arg_pace > 0 && (i + 1) % arg_pace == 0)
                        r = ws_publisher_ping(&pub, BENCH_CALL_TIMEOUT_USEC);
                if (r < 0)
                        goto finish;
        }
        r = ws_publisher_ping(&pub, 120 * USEC_PER_SEC);
        if (r < 0)
                goto finish;
        t_sent = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < n_started; i++) {
                r = write_full(fds[i], "F", 1);
                if (r < 0)
                        goto finish;
        }
        r = fanout_collect(fds, n_started, arg_events, /* slow= */ false, t_start, t_sent, &res, &total);
        if (r < 0)
                goto finish;
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        res.broker_cpu_usec_per_delivery = have_cpu && total > 0 ? (double) (cpu1 - cpu0) / (double) total : NAN;
        *ret = res;
finish:
        if (r < 0)
                tool_error("fanout over WebSocket: %s", strerror(-r));
        ws_publisher_done(&pub);
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], BENCH_EXIT_TIMEOUT_USEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        return r;
}

/* ---- the scenarios ----------------------------------------------------------------------- */

/* A broker of our own on a UNIX socket and ws://127.0.0.1:PORT (written to ws_address). */
static int ws_broker_start(struct bench *b, const char *scenario, struct bench_broker *bb, char *ws_address,
                           size_t size) {
        char listen_ws[64];
        uint16_t port;
        int r;

        r = bench_tls_free_port(&port);
        if (r < 0)
                return r;
        snprintf(listen_ws, sizeof(listen_ws), "ws://127.0.0.1:%u", port);
        snprintf(ws_address, size, "%s", listen_ws);
        /* a ws peer is known by its address only: the default policy would refuse its calls */
        r = bench_broker_start_open(bb, b->broker_path,
                                    (const char *const[]) { "--listen", listen_ws, "--log-level", "err", NULL });
        if (r < 0)
                tool_error("%s: cannot start %s: %s", scenario, b->broker_path, strerror(-r));
        return r;
}

static void ws_record_rpc_seq(struct bench *b, const char *scenario, const struct rpc_seq_result *res) {
        bench_record(b, scenario, "calls_per_sec", "calls/s", res->calls_per_sec);
        bench_record(b, scenario, "p50_usec", "µs", res->p50_usec);
        bench_record(b, scenario, "p99_usec", "µs", res->p99_usec);
}

int bench_rpc_seq_ws(struct bench *b) {
        struct bench_broker bb = {};
        struct rpc_seq_result unix_res = {}, ws_res = {};
        char ws_address[64];
        int r;

        r = ws_broker_start(b, "rpc-seq-ws", &bb, ws_address, sizeof(ws_address));
        if (r < 0)
                return r;
        r = rpc_seq_run(bb.address, bb.pid, &unix_res);
        if (r >= 0)
                r = ws_rpc_seq_run(ws_address, /* echo_address= */ bb.address, bb.pid, &ws_res);
        bench_broker_stop(&bb);
        if (r < 0) {
                tool_error("rpc-seq-ws: %s", strerror(-r));
                return r;
        }
        ws_record_rpc_seq(b, "rpc-seq-ws", &ws_res);
        bench_record(b, "rpc-seq-ws", "unix_p50_usec", "µs", unix_res.p50_usec);
        bench_record(b, "rpc-seq-ws", "p50_vs_unix", "x", ws_res.p50_usec / unix_res.p50_usec);
        if (!isnan(ws_res.broker_cpu_usec) && !isnan(unix_res.broker_cpu_usec)) {
                bench_record(b, "rpc-seq-ws", "broker_cpu_usec_per_call", "µs", ws_res.broker_cpu_usec);
                bench_record(b, "rpc-seq-ws", "unix_broker_cpu_usec_per_call", "µs", unix_res.broker_cpu_usec);
        }
        return 0;
}

int bench_fanout_ws(struct bench *b) {
        struct bench_broker bb = {};
        struct fanout_result unix_res = {}, ws_res = {};
        char ws_address[64];
        int r;

        r = ws_broker_start(b, "fanout-ws", &bb, ws_address, sizeof(ws_address));
        if (r < 0)
                return r;
        r = fanout_run(bb.address, arg_subscribers, arg_events, /* slow= */ false, &unix_res);
        if (r >= 0)
                r = ws_fanout_run(ws_address, /* pub_address= */ bb.address, bb.pid, &ws_res);
        bench_broker_stop(&bb);
        if (r < 0) {
                tool_error("fanout-ws: %s", strerror(-r));
                return r;
        }
        fanout_record(b, "fanout-ws", "", &ws_res);
        bench_record(b, "fanout-ws", "unix_delivered_per_sec", "events/s", unix_res.delivered_per_sec);
        bench_record(b, "fanout-ws", "delivered_vs_unix", "x", ws_res.delivered_per_sec / unix_res.delivered_per_sec);
        /* the UNIX run on the same broker is checked as strictly as fanout's */
        bench_record(b, "fanout-ws", "unix_errors", "events",
                     (double) (unix_res.lost + unix_res.duplicates + unix_res.reordered + unix_res.invalid));
        if (!isnan(ws_res.broker_cpu_usec_per_delivery) && !isnan(unix_res.broker_cpu_usec_per_delivery))
                bench_record(b, "fanout-ws", "unix_broker_cpu_usec_per_delivery", "µs",
                             unix_res.broker_cpu_usec_per_delivery);
        return 0;
}

int bench_ws_rpc_seq(struct bench *b, const char *address) {
        struct rpc_seq_result res = {};
        int r;

        r = ws_rpc_seq_run(address, /* echo_address= */ address, /* broker_pid= */ 0, &res);
        if (r < 0)
                return r;
        ws_record_rpc_seq(b, "rpc-seq", &res);
        return 0;
}

int bench_ws_fanout(struct bench *b, const char *address) {
        struct fanout_result res = {};
        int r;

        r = ws_fanout_run(address, /* pub_address= */ address, /* broker_pid= */ 0, &res);
        if (r < 0)
                return r;
        fanout_record(b, "fanout", "", &res);
        return 0;
}
