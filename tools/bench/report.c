/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench: targets, and the results as a table or as one JSON object. */

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

#include "config.h"
#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

struct bench_target {
        const char *name;
        const char *description;
        double value, limit;
        const char *unit;
};

/* Evaluates the targets of issue 3 from the medians; returns how many could be evaluated. */
static size_t bench_targets(const struct bench *b, struct bench_target t[static 6]) {
        size_t n = 0;
        double floor_p50 = bench_median(b, "floor", "rtt_p50_usec");
        double seq_p50 = bench_median(b, "rpc-seq", "p50_usec");
        double v;

        if (!isnan(floor_p50) && !isnan(seq_p50) && floor_p50 > 0)
                t[n++] = (struct bench_target) {
                        "rpc-seq-latency", "rpc-seq p50 / floor round-trip p50", seq_p50 / floor_p50, 4, "x"
                };
        v = bench_median(b, "fanout", "lost");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "fanout-lost", "fanout events lost", v, 0, "events" };
        v = bench_median(b, "tls", "fanout_lost");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "tls-fanout-lost", "fanout over TLS: events lost", v, 0, "events" };
        v = bench_median(b, "idle", "rss_kib_per_peer");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "idle-rss", "broker RSS per idle peer", v, 4, "KiB" };
        v = bench_median(b, "rpc-seq", "broker_cpu_usec_per_call");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "broker-cpu", "broker CPU per routed call", v, 5, "µs" };
        return n;
}

/*
 * The broker reads and writes two frames per call, three times the socket work of the floor's
 * echo side per round trip: broker CPU per call divided by 3x the echo's CPU per round trip
 * says how close the broker is to what this machine charges for that work (1.0: nothing but
 * the syscalls). Not a target of the issue; context for the absolute CPU target.
 */
static double bench_cpu_vs_floor(const struct bench *b) {
        double echo = bench_median(b, "floor", "echo_cpu_usec_per_rtt");
        double broker = bench_median(b, "rpc-seq", "broker_cpu_usec_per_call");

        if (isnan(echo) || isnan(broker) || echo <= 0)
                return NAN;
        return broker / (3 * echo);
}

static bool target_pass(const struct bench_target *t) {
        return t->value <= t->limit;
}

static double target_ratio(const struct bench_target *t) {
        return t->limit > 0 ? t->value / t->limit : (t->value > 0 ? INFINITY : 0);
}

/* A number as JSON with three decimals at most: 6907.165, not 6907.1649403359088. */
static json_object *json_number(double v) {
        char buf[64];

        if (!isfinite(v))
                return NULL;
        snprintf(buf, sizeof(buf), "%.3f", v);
        /* "12.500" -> "12.5", "3.000" -> "3.0" */
        for (size_t n = strlen(buf); n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.'; n--)
                buf[n - 1] = 0;
        return json_object_new_double_s(v, buf);
}

int bench_print_json(const struct bench *b) {
        _cleanup_json_ json_object *root = json_object_new_object(), *results = json_object_new_object(),
                                   *mins = json_object_new_object(), *maxs = json_object_new_object(),
                                   *targets = json_object_new_array();
        struct bench_target t[6];
        size_t n;

        if (!root || !results || !mins || !maxs || !targets)
                return -ENOMEM;
        json_object_object_add(root, "version", json_object_new_string(MBUS_VERSION));
        json_object_object_add(root, "runs", json_object_new_int64((int64_t) arg_runs));
        json_object_object_add(root, "address", arg_address ? json_object_new_string(arg_address) : NULL);
        json_object_object_add(root, "broker", b->broker_path ? json_object_new_string(b->broker_path) : NULL);
        json_object_object_add(root, "fanout_pace", json_object_new_int64((int64_t) arg_pace));
        json_object_object_add(root, "cpus", json_object_new_int64(b->n_cpus));
        json_object_object_add(root, "loadavg_start", json_number(b->loadavg_start));
        json_object_object_add(root, "loadavg_end", json_number(b->loadavg_end));

        for (size_t i = 0; i < b->n_metrics; i++) {
                const struct bench_metric *m = &b->metrics[i];
                json_object *tables[] = { results, mins, maxs };
                double values[] = { metric_median(m), metric_extreme(m, -1), metric_extreme(m, 1) };

                for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
                        json_object *sc;

                        if (!json_object_object_get_ex(tables[k], m->scenario, &sc)) {
                                sc = json_object_new_object();
                                json_object_object_add(tables[k], m->scenario, sc);
                        }
                        json_object_object_add(sc, m->name, json_number(values[k]));
                }
        }
        n = bench_targets(b, t);
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "name", json_object_new_string(t[i].name));
                json_object_object_add(o, "value", json_number(t[i].value));
                json_object_object_add(o, "limit", json_number(t[i].limit));
                json_object_object_add(o, "ratio", json_number(target_ratio(&t[i])));
                json_object_object_add(o, "pass", json_object_new_boolean(target_pass(&t[i])));
                json_object_array_add(targets, o);
        }
        json_object_object_add(root, "broker_cpu_vs_socket_floor", json_number(bench_cpu_vs_floor(b)));
        json_object_object_add(root, "results", TAKE_PTR(results));
        json_object_object_add(root, "min", TAKE_PTR(mins));
        json_object_object_add(root, "max", TAKE_PTR(maxs));
        json_object_object_add(root, "targets", TAKE_PTR(targets));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Columns of a UTF-8 string: "µs" is two bytes, one column. */
static size_t utf8_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char) *s & 0xc0) != 0x80;
        return n;
}

void bench_print_text(const struct bench *b) {
        struct bench_target t[6];
        const char *last = NULL;
        size_t n;

        printf("mbus-bench %s: broker %s, %" PRIu64 " run%s, medians%s\n", MBUS_VERSION,
               arg_address ?: b->broker_path ?: "-", arg_runs, arg_runs == 1 ? "" : "s",
               arg_runs > 1 ? " (min .. max over the runs)" : "");
        printf("  machine: %ld CPUs, load average %.2f at the start, %.2f at the end%s\n", b->n_cpus,
               b->loadavg_start, b->loadavg_end,
               /* only the start counts: the benchmark's own processes raise the end */
               b->loadavg_start >= (double) b->n_cpus ? " (busy: other work skews these figures)" : "");
        for (size_t i = 0; i < b->n_metrics; i++) {
                const struct bench_metric *m = &b->metrics[i];

                printf("  %-14s %-28s %12.2f %s", i > 0 && strcmp(last, m->scenario) == 0 ? "" : m->scenario,
                       m->name, metric_median(m), m->unit);
                if (m->n_values > 1)
                        printf("%*s (%.2f .. %.2f)", (int) (8 - MIN(utf8_width(m->unit), (size_t) 8)), "",
                               metric_extreme(m, -1), metric_extreme(m, 1));
                putchar('\n');
                last = m->scenario;
        }
        if (bench_find(b, "fanout", "lost"))
                printf("  (fanout: the publisher waits for a PONG every %" PRIu64 " events)\n", arg_pace);

        double dbus_p50 = bench_median(b, "dbus", "p50_usec"), seq_p50 = bench_median(b, "rpc-seq", "p50_usec");
        if (!isnan(dbus_p50) && !isnan(seq_p50) && seq_p50 > 0)
                printf("  mbus vs dbus-daemon: rpc-seq p50 %.1f µs vs %.1f µs (D-Bus/mbus = %.2f)\n",
                       seq_p50, dbus_p50, dbus_p50 / seq_p50);

        double tls_p50 = bench_median(b, "tls", "rpc_seq_p50_usec"), unix_p50 = bench_median(b, "tls", "unix_rpc_seq_p50_usec");
        if (!isnan(tls_p50) && !isnan(unix_p50))
                printf("  TLS vs UNIX socket, same broker: rpc-seq p50 %.1f µs vs %.1f µs (TLS/UNIX per run: %.2f)\n",
                       tls_p50, unix_p50, bench_median(b, "tls", "rpc_seq_p50_vs_unix"));
        double st_broker = bench_median(b, "tls", "s_time_broker_per_sec");
        if (!isnan(st_broker))
                printf("  full TLS handshakes, openssl s_time -new: mbus-broker %.0f/s vs openssl s_server %.0f/s"
                       " (broker/s_server per run: %.2f)\n", st_broker, bench_median(b, "tls", "s_time_s_server_per_sec"),
                       bench_median(b, "tls", "s_time_broker_vs_s_server"));

        double cpu_ratio = bench_cpu_vs_floor(b);
        if (!isnan(cpu_ratio))
                printf("  broker CPU per call / (3 x floor echo CPU per round trip) = %.2f\n", cpu_ratio);

        n = bench_targets(b, t);
        if (n > 0)
                printf("Targets:\n");
        for (size_t i = 0; i < n; i++)
                printf("  %-4s %-38s %9.2f %-6s limit %5.1f %-6s ratio %.2f\n", target_pass(&t[i]) ? "PASS" : "MISS",
                       t[i].description, t[i].value, t[i].unit, t[i].limit, t[i].unit, target_ratio(&t[i]));
        fflush(stdout);
}
