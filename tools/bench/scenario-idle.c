/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench idle: the broker's memory per idle connection. */

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

int bench_idle(struct bench *b, const char *address) {
        uint64_t rss0 = 0;
        double per_peer = 0;
        int r;

        r = idle_run(address, /* broker_pid= */ 0, &rss0, &per_peer);
        if (r < 0)
                return r;
        bench_record(b, "idle", "peers", "peers", (double) arg_idle);
        bench_record(b, "idle", "broker_rss_kib_before", "KiB", (double) rss0);
        bench_record(b, "idle", "rss_kib_per_peer", "KiB", per_peer);
        return 0;
}
