/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench dbus: rpc-seq against a private dbus-daemon through sd-bus. */

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
#include <systemd/sd-bus.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

static int dbus_on_echo(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", s);
}

static const sd_bus_vtable dbus_echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "s", "s", dbus_on_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static int dbus_open(const char *address, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

struct dbus_child {
        const char *address;
        int ready_fd, stop_fd;
};

static int dbus_child_run(void *userdata) {
        struct dbus_child *c = userdata;
        sd_bus *bus = NULL;
        int r;

        r = dbus_open(c->address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, "/org/mbus/Bench", "org.mbus.Bench", dbus_echo_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, BENCH_DBUS_NAME, 0);
        if (r >= 0)
                r = write_full(c->ready_fd, "R", 1);
        while (r >= 0) {
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = sd_bus_get_events(bus) },
                        { .fd = c->stop_fd, .events = POLLIN },
                };
                uint64_t until;
                int timeout = -1;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= n ? 0 : (int) MIN((until - n + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, 2, timeout);
                if (r < 0 && errno == EINTR)
                        r = 0;
                if (r < 0)
                        r = -errno;
                else if (p[1].revents)
                        break;
        }
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}

int bench_dbus(struct bench *b) {
        char tmpl[] = "/tmp/mbus-bench-dbus-XXXXXX";
        _cleanup_free_ char *address = NULL;
        _cleanup_free_ uint64_t *lat = NULL;
        sd_bus *bus = NULL;
        pid_t daemon_pid = 0, echo_pid = 0;
        int ready[2] = { -EBADF, -EBADF }, stop[2] = { -EBADF, -EBADF }, r;
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        if (!mkdtemp(tmpl))
                return -errno;
        if (asprintf(&address, "unix:path=%s/bus", tmpl) < 0) {
                address = NULL;
                r = -ENOMEM;
                goto finish;
        }

        fflush(NULL);
        daemon_pid = fork();
        if (daemon_pid < 0) {
                r = -errno;
                daemon_pid = 0;
                goto finish;
        }
        if (daemon_pid == 0) {
                char arg[PATH_MAX + 16];
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* it prints its address and, unprivileged, a complaint about its fd limit */
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                snprintf(arg, sizeof(arg), "--address=%s", address);
                execlp("dbus-daemon", "dbus-daemon", "--session", arg, "--nofork", "--nopidfile", (char *) NULL);
                fprintf(stderr, "mbus-bench: cannot execute dbus-daemon: %m\n");
                _exit(127);
        }

        /* Ready when sd-bus can say Hello. */
        for (usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);;) {
                r = dbus_open(address, &bus);
                if (r >= 0)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        tool_error("dbus: dbus-daemon did not come up: %s", strerror(-r));
                        goto finish;
                }
                (void) usleep(5000);
        }

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(stop, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        struct dbus_child child = { .address = address, .ready_fd = ready[1], .stop_fd = stop[0] };
        /* sd-bus connections must not cross fork(): drop ours and reconnect afterwards */
        bus = sd_bus_flush_close_unref(bus);
        r = bench_fork(&echo_pid, (const int[]) { ready[0], stop[1] }, 2, dbus_child_run, &child);
        ready[1] = safe_close(ready[1]);
        stop[0] = safe_close(stop[0]);
        if (r < 0) {
                echo_pid = 0;
                goto finish;
        }
        char c;
        r = read_full(ready[0], &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r >= 0)
                r = dbus_open(address, &bus);
        if (r < 0)
                goto finish;

        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *args = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *s;
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = proc_cpu_usec(daemon_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                /* the same JSON text as rpc-seq, carried as a D-Bus string */
                args = bench_payload(i, 64);
                if (!args) {
                        r = -ENOMEM;
                        goto finish;
                }
                t0 = now_nsec();
                r = sd_bus_call_method(bus, BENCH_DBUS_NAME, "/org/mbus/Bench", "org.mbus.Bench", "Echo",
                                       &error, &reply, "s", json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &s);
                if (r >= 0) {
                        _cleanup_json_ json_object *result = json_tokener_parse(s);
                        json_object *seq;
                        if (!json_object_object_get_ex(result, "seq", &seq) ||
                            json_object_get_int64(seq) != (int64_t) i)
                                r = -EBADMSG;
                }
                sd_bus_message_unref(reply);
                if (r < 0) {
                        tool_error("dbus: call failed: %s", error.message ?: strerror(-r));
                        sd_bus_error_free(&error);
                        goto finish;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(daemon_pid, &cpu1) >= 0;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        bench_record(b, "dbus", "calls_per_sec", "calls/s",
                     (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
        bench_record(b, "dbus", "p50_usec", "µs", percentile(lat, arg_calls, 50) / 1000.0);
        bench_record(b, "dbus", "p99_usec", "µs", percentile(lat, arg_calls, 99) / 1000.0);
        if (have_cpu)
                bench_record(b, "dbus", "daemon_cpu_usec_per_call", "µs",
                             (double) (cpu1 - cpu0) / (double) arg_calls);
        r = 0;
finish:
        bus = sd_bus_flush_close_unref(bus);
        safe_close(ready[0]), safe_close(ready[1]), safe_close(stop[0]), safe_close(stop[1]);
        if (echo_pid > 0 && bench_wait(echo_pid, 10 * USEC_PER_SEC) < 0 && r >= 0)
                r = -ECHILD;
        if (daemon_pid > 0) {
                (void) kill(daemon_pid, SIGTERM);
                (void) bench_wait(daemon_pid, 10 * USEC_PER_SEC);
        }
        if (address)
                (void) unlink(address + strlen("unix:path="));
        (void) rmdir(tmpl);
        return r;
}
