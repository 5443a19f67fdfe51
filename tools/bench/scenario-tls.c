/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench tls: the same broker over TLS and over its UNIX socket, and next to openssl. */

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

/* Idle growth of a fresh broker per peer, UNIX (tls_peers false) or TLS. */
static int tls_idle(struct bench *b, bool tls_peers, double *ret_kib_per_peer) {
        struct bench_broker bb;
        uint64_t rss0;
        int r;

        r = bench_broker_start(&bb, b->broker_path, &b->tls, /* extra_args= */ NULL);
        if (r < 0)
                return r;
        r = idle_run(tls_peers ? bb.tls_address : bb.address, bb.pid, &rss0, ret_kib_per_peer);
        bench_broker_stop(&bb);
        return r;
}

/*
 * One broker listening on both, for rpc-seq over each (same broker, same processes, one after
 * the other), fanout over TLS and the handshakes; openssl s_server on another port for the
 * reference; then a fresh broker for each idle measurement, as in idle. A run records nothing
 * unless all of it worked, so that every ratio compares figures of the same run.
 */
int bench_tls(struct bench *b) {
        struct bench_broker bb = {};
        struct rpc_seq_result seq_unix = {}, seq_tls = {};
        struct fanout_result fan = {};
        double full = 0, resumed = 0, st_broker = 0, st_broker_user = 0, st_server = 0, st_server_user = 0;
        double idle_unix = 0, idle_tls = 0;
        usec_t duration = arg_tls_seconds * USEC_PER_SEC;
        pid_t s_server = 0;
        uint16_t port;
        int r;

        r = bench_broker_start(&bb, b->broker_path, &b->tls, /* extra_args= */ NULL);
        if (r < 0) {
                tool_error("tls: cannot start %s: %s", b->broker_path, r == -ECHILD ? "it exited at once" : strerror(-r));
                return r;
        }
        r = rpc_seq_run(bb.address, bb.pid, &seq_unix);
        if (r >= 0)
                r = rpc_seq_run(bb.tls_address, bb.pid, &seq_tls);
        if (r >= 0)
                r = fanout_run(bb.tls_address, arg_subscribers, arg_events, /* slow= */ false, &fan);
        if (r >= 0)
                r = bench_tls_handshakes(&b->tls, bb.tls_port, /* resume= */ false, duration, &full);
        if (r >= 0)
                r = bench_tls_handshakes(&b->tls, bb.tls_port, /* resume= */ true, duration, &resumed);
        if (r >= 0)
                r = bench_tls_s_time(&b->tls, bb.tls_port, arg_tls_seconds, &st_broker, &st_broker_user);
        bench_broker_stop(&bb);
        if (r < 0)
                return r;

        r = bench_tls_free_port(&port);
        if (r >= 0)
                r = bench_tls_s_server_start(&b->tls, port, &s_server);
        if (r >= 0)
                r = bench_tls_s_time(&b->tls, port, arg_tls_seconds, &st_server, &st_server_user);
        bench_tls_s_server_stop(s_server);
        if (r < 0)
                return r;

        r = tls_idle(b, /* tls_peers= */ false, &idle_unix);
        if (r >= 0)
                r = tls_idle(b, /* tls_peers= */ true, &idle_tls);
        if (r < 0)
                return r;

        bench_record(b, "tls", "rpc_seq_calls_per_sec", "calls/s", seq_tls.calls_per_sec);
        bench_record(b, "tls", "rpc_seq_p50_usec", "µs", seq_tls.p50_usec);
        bench_record(b, "tls", "rpc_seq_p99_usec", "µs", seq_tls.p99_usec);
        bench_record(b, "tls", "unix_rpc_seq_p50_usec", "µs", seq_unix.p50_usec);
        bench_record(b, "tls", "rpc_seq_p50_vs_unix", "x", seq_tls.p50_usec / seq_unix.p50_usec);
        if (!isnan(seq_tls.broker_cpu_usec) && !isnan(seq_unix.broker_cpu_usec)) {
                bench_record(b, "tls", "broker_cpu_usec_per_call", "µs", seq_tls.broker_cpu_usec);
                bench_record(b, "tls", "unix_broker_cpu_usec_per_call", "µs", seq_unix.broker_cpu_usec);
        }
        bench_record(b, "tls", "fanout_delivered_per_sec", "events/s", fan.delivered_per_sec);
        bench_record(b, "tls", "fanout_lost", "events", (double) (fan.lost + fan.duplicates + fan.reordered + fan.invalid));
        bench_record(b, "tls", "handshakes_full_per_sec", "1/s", full);
        bench_record(b, "tls", "handshakes_resumed_per_sec", "1/s", resumed);
        bench_record(b, "tls", "s_time_broker_per_sec", "1/s", st_broker);
        bench_record(b, "tls", "s_time_s_server_per_sec", "1/s", st_server);
        bench_record(b, "tls", "s_time_broker_vs_s_server", "x", st_broker / st_server);
        bench_record(b, "tls", "full_vs_s_time_s_server", "x", full / st_server);
        bench_record(b, "tls", "s_time_broker_per_user_sec", "1/s", st_broker_user);
        bench_record(b, "tls", "s_time_s_server_per_user_sec", "1/s", st_server_user);
        bench_record(b, "tls", "idle_unix_kib_per_peer", "KiB", idle_unix);
        bench_record(b, "tls", "idle_tls_kib_per_peer", "KiB", idle_tls);
        return 0;
}
