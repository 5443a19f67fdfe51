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
