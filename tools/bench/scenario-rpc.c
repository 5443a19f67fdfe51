/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench rpc-seq and rpc-pipelined: calls to the echo service through the broker. */

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

/* broker_pid: 0 to take it from the connection (a UNIX socket's peer credentials). */
int rpc_seq_run(const char *address, pid_t broker_pid, struct rpc_seq_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_free_ uint64_t *lat = NULL;
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0, user0 = 0, user1 = 0, sys0 = 0, sys1 = 0;
        bool have_cpu = false, have_split = false;
        pid_t echo_pid = 0;
        int stop_fd = -EBADF, r;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        r = echo_start(address, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("rpc-seq: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        r = bench_connect(address, "mbus-bench", &conn);
        if (r < 0)
                goto finish;
        if (broker_pid <= 0)
                broker_pid = conn_peer_pid(conn);

        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
                _cleanup_json_ json_object *args = NULL, *result = NULL;
                json_object *seq;
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
                        have_split = broker_pid > 0 && proc_cpu_split_usec(broker_pid, &user0, &sys0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                args = bench_payload(i, 64);
                if (!args) {
                        r = -ENOMEM;
                        goto finish;
                }
                t0 = now_nsec();        /* the call itself, as the floor's write+read */
                r = mbus_call(conn, BENCH_ECHO_NAMESPACE, "Echo", args, BENCH_CALL_TIMEOUT_USEC, &result, &error);
                if (r < 0) {
                        tool_print_failure("rpc-seq: call failed", r, &error);
                        goto finish;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
                if (!json_object_object_get_ex(result, "seq", &seq) ||
                    json_object_get_int64(seq) != (int64_t) i) {
                        tool_error("rpc-seq: the echo service returned something else than its arguments");
                        r = -EBADMSG;
                        goto finish;
                }
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        if (have_split)
                have_split = proc_cpu_split_usec(broker_pid, &user1, &sys1) >= 0;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        *ret = (struct rpc_seq_result) {
                .calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u),
                .p50_usec = percentile(lat, arg_calls, 50) / 1000.0,
                .p99_usec = percentile(lat, arg_calls, 99) / 1000.0,
                .broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN,
                /* in clock ticks: coarse, but tells the kernel's share from the broker's own code */
                .broker_user_usec = have_split ? (double) (user1 - user0) / (double) arg_calls : NAN,
                .broker_sys_usec = have_split ? (double) (sys1 - sys0) / (double) arg_calls : NAN,
        };
        r = 0;
finish:
        conn = mbus_conn_unref(conn);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0) {
                tool_error("rpc-seq: the echo service did not exit cleanly");
                r = -ECHILD;
        }
        return r;
}

int bench_rpc_seq(struct bench *b, const char *address) {
        struct rpc_seq_result res = {};
        int r;

        r = rpc_seq_run(address, /* broker_pid= */ 0, &res);
        if (r < 0)
                return r;
        bench_record(b, "rpc-seq", "calls_per_sec", "calls/s", res.calls_per_sec);
        bench_record(b, "rpc-seq", "p50_usec", "µs", res.p50_usec);
        bench_record(b, "rpc-seq", "p99_usec", "µs", res.p99_usec);
        if (!isnan(res.broker_cpu_usec))
                bench_record(b, "rpc-seq", "broker_cpu_usec_per_call", "µs", res.broker_cpu_usec);
        if (!isnan(res.broker_user_usec)) {
                bench_record(b, "rpc-seq", "broker_user_usec_per_call", "µs", res.broker_user_usec);
                bench_record(b, "rpc-seq", "broker_sys_usec_per_call", "µs", res.broker_sys_usec);
        }
        return 0;
}

/* ---- rpc-pipelined ----------------------------------------------------------------------- */

struct pipeline {
        uint64_t sent, done;
        int error;
};

static int pipeline_send(struct mbus_conn *conn, struct pipeline *p);

static int pipeline_on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                             void *userdata) {
        struct pipeline *p = userdata;
        int r;

        p->done++;
        if (error) {
                if (p->error >= 0 && !mbus_error_has_name(error, MBUS_ERROR_DISCONNECTED))
                        tool_print_failure("rpc-pipelined: call failed", mbus_error_name_to_errno(error->name), error);
                p->error = mbus_error_name_to_errno(error->name);
                return 0;
        }
        if (p->sent < arg_calls && p->error >= 0) {
                r = pipeline_send(conn, p);
                if (r < 0)
                        p->error = r;
        }
        return 0;
}

static int pipeline_send(struct mbus_conn *conn, struct pipeline *p) {
        _cleanup_json_ json_object *args = NULL;
        int r;

        args = bench_payload(p->sent, 64);
        if (!args)
                return -ENOMEM;
        r = mbus_call_async(conn, BENCH_ECHO_NAMESPACE, "Echo", args, BENCH_CALL_TIMEOUT_USEC,
                            pipeline_on_reply, p, /* ret_slot= */ NULL);
        if (r < 0)
                return r;
        p->sent++;
        return 0;
}

int bench_rpc_pipelined(struct bench *b, const char *address) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        struct pipeline p = {};
        usec_t t_start, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        pid_t echo_pid = 0, broker_pid;
        int stop_fd = -EBADF, r;

        r = echo_start(address, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("rpc-pipelined: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        r = bench_connect(address, "mbus-bench", &conn);
        if (r < 0)
                goto finish;

        broker_pid = conn_peer_pid(conn);
        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < MIN(arg_window, arg_calls); i++) {
                r = pipeline_send(conn, &p);
                if (r < 0)
                        goto finish;
        }
        while (p.done < p.sent) {
                r = mbus_conn_process(conn);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        continue;
                r = mbus_conn_wait(conn, BENCH_CALL_TIMEOUT_USEC);
                if (r == 0)
                        r = -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        goto finish;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        r = p.error;
        if (r < 0)
                goto finish;
        bench_record(b, "rpc-pipelined", "calls_per_sec", "calls/s",
                     (double) p.done * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
        /* with frames batched per wakeup: compare with rpc-seq's figure */
        if (have_cpu)
                bench_record(b, "rpc-pipelined", "broker_cpu_usec_per_call", "µs",
                             (double) (cpu1 - cpu0) / (double) p.done);
finish:
        if (r < 0)
                tool_error("rpc-pipelined: %s", strerror(-r));
        conn = mbus_conn_unref(conn);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0)
                r = -ECHILD;
        return r;
}

/* ---- rpc-callers ------------------------------------------------------------------------- */

/*
 * 1, 4 and 16 caller processes, each making sequential calls to the one echo service, all
 * started together by one byte on their pipes: calls/s of all of them, and the broker's CPU per
 * call. Each makes arg_calls / callers calls (at least 500), so a run costs about the same.
 */
struct caller_child {
        const char *address;
        int fd;                         /* "R" once connected; "G" from the parent; the report */
        uint64_t n_calls;
};

struct caller_report {
        usec_t start, end;
        int32_t error;
};

static int caller_child_run(void *userdata) {
        struct caller_child *c = userdata;
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        struct caller_report rep = {};
        char go;
        int r;

        r = bench_connect(c->address, "mbus-bench-caller", &conn);
        if (r < 0)
                return r;
        r = write_full(c->fd, "R", 1);
        if (r >= 0)
                r = read_full(c->fd, &go, 1, 60 * USEC_PER_SEC);
        if (r < 0)
                return r;
        rep.start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < c->n_calls; i++) {
                _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
                _cleanup_json_ json_object *args = bench_payload(i, 64), *result = NULL;

                r = args ? mbus_call(conn, BENCH_ECHO_NAMESPACE, "Echo", args, BENCH_CALL_TIMEOUT_USEC, &result,
                                     &error) : -ENOMEM;
                if (r < 0) {
                        tool_print_failure("rpc-callers: call failed", r, &error);
                        rep.error = r;
                        break;
                }
        }
        rep.end = now_usec(CLOCK_MONOTONIC);
        return write_full(c->fd, &rep, sizeof(rep));
}

static int rpc_callers_run(const char *address, uint64_t n_callers, double *ret_calls_per_sec,
                           double *ret_broker_cpu_usec) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        int fds[16];
        pid_t pids[16], echo_pid = 0, broker_pid;
        uint64_t n_calls = MAX(arg_calls / n_callers, (uint64_t) 500);
        usec_t start = USEC_INFINITY, end = 0, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        size_t n_started = 0;
        int stop_fd = -EBADF, r;

        assert(n_callers <= ELEMENTSOF(fds));
        r = echo_start(address, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("rpc-callers: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        for (; n_started < n_callers; n_started++) {
                int sp[2];
                char c;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = -errno;
                        goto finish;
                }
                struct caller_child child = { .address = address, .fd = sp[1], .n_calls = n_calls };
                fds[n_started] = sp[0];
                r = bench_fork(&pids[n_started], fds, n_started + 1, caller_child_run, &child);
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
        r = bench_connect(address, "mbus-bench", &conn);
        if (r < 0)
                goto finish;
        broker_pid = conn_peer_pid(conn);
        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
        for (size_t i = 0; i < n_started && r >= 0; i++)
                r = write_full(fds[i], "G", 1);
        for (size_t i = 0; i < n_started && r >= 0; i++) {
                struct caller_report rep;

                r = read_full(fds[i], &rep, sizeof(rep), 600 * USEC_PER_SEC);
                if (r < 0)
                        break;
                if (rep.error < 0)
                        r = rep.error;
                start = MIN(start, rep.start);
                end = MAX(end, rep.end);
        }
        if (r < 0)
                goto finish;
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        *ret_calls_per_sec = (double) (n_calls * n_callers) * USEC_PER_SEC / (double) MAX(end - start, 1u);
        *ret_broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) (n_calls * n_callers) : NAN;
finish:
        if (r < 0)
                tool_error("rpc-callers: %s", strerror(-r));
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], BENCH_EXIT_TIMEOUT_USEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        conn = mbus_conn_unref(conn);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0)
                r = -ECHILD;
        return r;
}

int bench_rpc_callers(struct bench *b, const char *address) {
        static const uint64_t counts[] = { 1, 4, 16 };

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                double calls_per_sec = 0, cpu = NAN;
                char name[48];
                int r;

                r = rpc_callers_run(address, counts[i], &calls_per_sec, &cpu);
                if (r < 0)
                        return r;
                snprintf(name, sizeof(name), "c%" PRIu64 "_calls_per_sec", counts[i]);
                bench_record(b, "rpc-callers", name, "calls/s", calls_per_sec);
                if (!isnan(cpu)) {
                        snprintf(name, sizeof(name), "c%" PRIu64 "_broker_cpu_usec_per_call", counts[i]);
                        bench_record(b, "rpc-callers", name, "µs", cpu);
                }
        }
        return 0;
}
