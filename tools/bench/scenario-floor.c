/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench floor: two processes ping-pong 64 bytes over a socketpair, no broker. */

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

static int floor_child_run(void *userdata) {
        int fd = *(int *) userdata;
        char buf[64];

        for (;;) {
                int r = read_exact(fd, buf, sizeof(buf));
                if (r == -EPIPE)
                        return 0;
                if (r < 0)
                        return r;
                r = write_full(fd, buf, sizeof(buf));
                if (r < 0)
                        return r;
        }
}

int bench_floor(struct bench *b) {
        _cleanup_free_ uint64_t *lat = NULL;
        usec_t cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;
        char buf[64];
        int sp[2], r = 0;
        pid_t pid = 0;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        r = bench_fork(&pid, &sp[0], 1, floor_child_run, &sp[1]);
        safe_close(sp[1]);
        if (r < 0) {
                safe_close(sp[0]);
                return r;
        }

        memset(buf, 'x', sizeof(buf));
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                uint64_t t0;

                if (i == BENCH_WARMUP)
                        have_cpu = proc_cpu_usec(pid, &cpu0) >= 0;
                t0 = now_nsec();

                r = write_full(sp[0], buf, sizeof(buf));
                if (r >= 0)
                        r = read_exact(sp[0], buf, sizeof(buf));
                if (r < 0)
                        break;
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        if (have_cpu)
                have_cpu = proc_cpu_usec(pid, &cpu1) >= 0;
        safe_close(sp[0]);
        if (bench_wait(pid, 10 * USEC_PER_SEC) < 0 && r >= 0)
                r = -ECHILD;
        if (r < 0)
                return r;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        bench_record(b, "floor", "rtt_p50_usec", "µs", percentile(lat, arg_calls, 50) / 1000.0);
        bench_record(b, "floor", "rtt_p99_usec", "µs", percentile(lat, arg_calls, 99) / 1000.0);
        /* What one read() + one write() on a socket cost on this machine: the broker does
         * three times that per call (read and forward the CALL, then the RETURN). */
        if (have_cpu)
                bench_record(b, "floor", "echo_cpu_usec_per_rtt", "µs",
                             (double) (cpu1 - cpu0) / (double) arg_calls);
        return 0;
}
