/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scale-probe: how the broker copes with many peers arriving or leaving at once. Not a test
 * (it asserts no threshold: the machine decides the figures); built next to the e2e tests
 * because it uses their helpers, and run by hand:
 *
 *   MBUS_TEST_BROKER=build/daemon/mbus-broker build/tests/scale-probe 1000 5000 10000
 *
 * For each N, against a fresh broker (--max-peers N + 64, run as root: root has no HELLO
 * pool), a child process:
 *   connect   opens N sockets, sends each its HELLO as soon as it is connected, then reads
 *             every WELCOME: time and rate of the burst;
 *   idle      the broker's VmRSS growth per peer, all N welcomed and idle;
 *   teardown  the child is killed, so the kernel closes all N sockets at once; from then, the
 *             time until a new client's HELLO and PING are answered;
 *   sigterm   with N peers connected again, the time from SIGTERM to the broker's exit.
 * Prints one line per N (times in ms).
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/macro.h"

static double now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* In the child: N peers, welcomed; writes the burst's duration (ms) to out, then waits to die. */
static int probe_hold_peers(const char *address, unsigned n, int out) {
        struct raw_buf hello = {};
        double t0, dt;
        int *fds;

        fds = calloc(n, sizeof(*fds));
        if (!fds)
                return 1;
        raw_frame_begin(&hello, MBUS_FRAME_HELLO);
        raw_field_u64(&hello, MBUS_FIELD_SERIAL, 1);
        raw_frame_finish(&hello, "{\"name\":\"scale-probe\"}");

        t0 = now_ms();
        for (unsigned i = 0; i < n; i++) {
                fds[i] = raw_connect(address);
                if (fds[i] < 0 || raw_send_buf(fds[i], &hello) < 0) {
                        fprintf(stderr, "scale-probe: connection %u: %s\n", i + 1,
                                strerror(fds[i] < 0 ? -fds[i] : EPIPE));
                        return 1;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                struct raw_frame f = {};

                if (raw_recv_type(fds[i], 60000, MBUS_FRAME_WELCOME, &f) < 0) {
                        fprintf(stderr, "scale-probe: no WELCOME for connection %u\n", i + 1);
                        return 1;
                }
                raw_frame_done(&f);
        }
        dt = now_ms() - t0;
        if (write(out, &dt, sizeof(dt)) != sizeof(dt))
                return 1;
        for (;;)
                pause();
}

static pid_t probe_spawn_holder(const char *address, unsigned n, double *ret_connect_ms) {
        int p[2];
        pid_t pid;

        if (pipe(p) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(p[0]);
                _exit(probe_hold_peers(address, n, p[1]));
        }
        close(p[1]);
        if (read(p[0], ret_connect_ms, sizeof(*ret_connect_ms)) != sizeof(*ret_connect_ms)) {
                close(p[0]);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -EIO;
        }
        close(p[0]);
        return pid;
}

/*
 * A new client: HELLO, WELCOME, PING, PONG, waiting up to 10 minutes for each answer (a broker
 * busy with a quadratic teardown takes its time; raw_hello() would give up after 10 s). Returns
 * 0 or a negative errno.
 */
static int probe_ping(const char *address) {
        struct raw_frame w = {}, f = {};
        int fd, r;

        fd = raw_connect(address);
        if (fd < 0)
                return fd;
        r = raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL,
                            "{\"name\":\"scale-probe-ping\"}");
        if (r >= 0)
                r = raw_recv_type(fd, 600000, MBUS_FRAME_WELCOME, &w);
        if (r >= 0)
                r = raw_send_simple(fd, MBUS_FRAME_PING, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL);
        if (r >= 0)
                r = raw_recv_type(fd, 600000, MBUS_FRAME_PONG, &f);
        raw_frame_done(&w);
        raw_frame_done(&f);
        close(fd);
        return r;
}

static int probe_one(unsigned n) {
        char max_peers[32];
        const char *args[] = { "--max-peers", max_peers, "--log-level", "warning", NULL };
        struct test_broker b = {};
        double connect_ms, t0, teardown_ms, sigterm_ms;
        long rss0, rss1;
        pid_t holder;
        int r, st;

        (void) snprintf(max_peers, sizeof(max_peers), "%u", n + 64);
        r = test_broker_start(&b, args);
        if (r < 0) {
                fprintf(stderr, "scale-probe: cannot start the broker: %s\n", strerror(-r));
                return r;
        }

        rss0 = test_broker_rss_kb(&b);
        holder = probe_spawn_holder(b.address, n, &connect_ms);
        if (holder < 0)
                goto fail;
        rss1 = test_broker_rss_kb(&b);

        (void) kill(holder, SIGKILL);
        (void) waitpid(holder, NULL, 0);
        t0 = now_ms();                  /* every socket of the holder is closed now */
        r = probe_ping(b.address);
        teardown_ms = now_ms() - t0;
        if (r < 0) {
                fprintf(stderr, "scale-probe: ping after teardown: %s\n", strerror(-r));
                goto fail;
        }

        holder = probe_spawn_holder(b.address, n, &(double) { 0 });
        if (holder < 0)
                goto fail;
        t0 = now_ms();
        st = test_broker_stop(&b);
        sigterm_ms = now_ms() - t0;
        (void) kill(holder, SIGKILL);
        (void) waitpid(holder, NULL, 0);

        printf("peers %u connect_ms %.1f connect_per_s %.0f idle_kib_per_peer %.2f teardown_ping_ms %.1f "
               "sigterm_exit_ms %.1f exit_status %d\n",
               n, connect_ms, (double) n / (connect_ms / 1e3), (double) (rss1 - rss0) / (double) n,
               teardown_ms, sigterm_ms, st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        fflush(stdout);
        return 0;

fail:
        (void) test_broker_stop(&b);
        return -EIO;
}

int main(int argc, char **argv) {
        struct rlimit rl;
        unsigned max = 0;
        int ret = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: MBUS_TEST_BROKER=path %s N [N...]\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++)
                max = MAX(max, (unsigned) strtoul(argv[i], NULL, 10));

        /* The holder and the broker (which inherits it) each need one fd per peer. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max + 256) {
                rl.rlim_cur = MIN((rlim_t) max + 256, rl.rlim_max);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }

        for (int i = 1; i < argc; i++)
                if (probe_one((unsigned) strtoul(argv[i], NULL, 10)) < 0)
                        ret = 1;
        return ret;
}
