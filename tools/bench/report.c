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
#include "tools/bench/ws.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#define BENCH_MAX_TARGETS 24

struct bench_target {
        const char *name;
        const char *description;
        double value, limit;
        const char *unit;
        bool at_least;                  /* pass if value >= limit; else if value <= limit */
        const char *statistic;          /* "median" of the runs, or "max": any bad run fails */
};

static double bench_max(const struct bench *b, const char *scenario, const char *name) {
        return metric_extreme(bench_find(b, scenario, name), 1);
}

/* The name of the largest idle size's figure what ("p10000_teardown_ping_msec"). */
static void idle_name(char *buf, size_t size, const char *what) {
        uint64_t n = 0;

        for (size_t i = 0; i < arg_n_idle_sizes; i++)
                n = MAX(n, arg_idle_sizes[i]);
        snprintf(buf, size, "p%" PRIu64 "_%s", n, what);
}

/*
 * The targets of issue 12, each from figures of the same runs: a peer's median against mbus's,
 * or an absolute limit. Loss, duplication and reordering count in every run (their maximum),
 * never as a median. Returns how many could be evaluated with the scenarios that ran.
 */
static size_t bench_targets(const struct bench *b, struct bench_target t[static BENCH_MAX_TARGETS]) {
        size_t n = 0;
        double floor_p50 = bench_median(b, "floor", "rtt_p50_usec");
        double v, w;
        char name[48];

#define TARGET(...) t[n++] = (struct bench_target) { __VA_ARGS__ }
        v = bench_median(b, "fanout", "delivered_per_sec");
        w = bench_median(b, "nats", "fanout_delivered_per_sec");
        if (!isnan(v) && !isnan(w) && w > 0)
                TARGET("fanout-rate-vs-nats", "fanout deliveries/s, mbus / NATS", v / w, 1, "x", true, "median");
        v = bench_median(b, "fanout", "total_cpu_usec_per_delivery");
        w = bench_median(b, "nats", "fanout_total_cpu_usec_per_delivery");
        if (!isnan(v) && !isnan(w) && w > 0)
                TARGET("fanout-cpu-vs-nats", "fanout CPU per delivery, mbus / NATS", v / w, 1, "x", false, "median");
        v = 0;
        if (bench_find(b, "fanout", "lost")) {
                static const char *const kinds[] = { "lost", "duplicates", "reordered", "invalid" };

                for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                        if (bench_find(b, "fanout", kinds[i]))
                                v += bench_max(b, "fanout", kinds[i]);
                TARGET("fanout-exactly-once", "fanout lost+duplicated+reordered, worst run", v, 0, "events", false,
                       "max");
        }
        for (size_t i = 0; i < 4; i++) {
                static const unsigned counts[] = { 1, 8, 64, 256 };
                static const char *const names[] = { "fanout-scale-1-exactly-once", "fanout-scale-8-exactly-once",
                                                     "fanout-scale-64-exactly-once", "fanout-scale-256-exactly-once" };
                static const char *const descriptions[] = {
                        "fanout-scale 1 subscriber: errors, worst run", "fanout-scale 8 subscribers: errors, worst run",
                        "fanout-scale 64 subscribers: errors, worst run", "fanout-scale 256 subscribers: errors, worst run",
                };

                snprintf(name, sizeof(name), "s%u_errors", counts[i]);
                if (bench_find(b, "fanout-scale", name))
                        TARGET(names[i], descriptions[i], bench_max(b, "fanout-scale", name), 0,
                               "events", false, "max");
        }
        if (bench_find(b, "fanout-slow", "dropped_vs_missed_diff")) {
                TARGET("slow-drops-counted", "slow subscriber: |dropped - missed|, worst", bench_max(b, "fanout-slow",
                       "dropped_vs_missed_diff"), 0, "events", false, "max");
                TARGET("slow-in-order", "slow subscriber: duplicated+reordered, worst", bench_max(b, "fanout-slow",
                       "errors"), 0, "events", false, "max");
        }
        if (bench_find(b, "fanout-ws", "lost")) {
                static const char *const kinds[] = { "lost", "duplicates", "reordered", "invalid" };

                v = 0;
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                        if (bench_find(b, "fanout-ws", kinds[i]))
                                v += bench_max(b, "fanout-ws", kinds[i]);
                TARGET("ws-fanout-exactly-once", "fanout over WebSocket: errors, worst run", v, 0, "events", false,
                       "max");
        }
        if (bench_find(b, "tls", "fanout_lost"))
                TARGET("tls-fanout-exactly-once", "fanout over TLS: errors, worst run", bench_max(b, "tls", "fanout_lost"),
                       0, "events", false, "max");
        v = bench_median(b, "rpc-seq", "calls_per_sec");
        w = bench_median(b, "dbus-broker", "calls_per_sec");
        if (!isnan(v) && !isnan(w) && w > 0)
                TARGET("rpc-seq-vs-dbus-broker", "rpc-seq calls/s, mbus / dbus-broker", v / w, 2, "x", true, "median");
        v = bench_median(b, "rpc-seq", "p50_usec");
        if (!isnan(floor_p50) && !isnan(v) && floor_p50 > 0)
                TARGET("rpc-seq-latency", "rpc-seq p50 / floor round-trip p50", v / floor_p50, 3, "x", false, "median");
        v = bench_median(b, "rpc-pipelined", "broker_cpu_usec_per_call");
        if (!isnan(v))
                TARGET("pipelined-broker-cpu", "rpc-pipelined broker CPU per call", v, 3, "µs", false, "median");
        idle_name(name, sizeof(name), "teardown_ping_msec");
        if (bench_find(b, "idle", name))
                TARGET("idle-teardown", "all idle peers close: next PING answered", bench_median(b, "idle", name), 50,
                       "ms", false, "median");
        idle_name(name, sizeof(name), "sigterm_exit_msec");
        if (bench_find(b, "idle", name))
                TARGET("idle-sigterm", "SIGTERM with all idle peers: exit", bench_median(b, "idle", name), 100, "ms",
                       false, "median");
        idle_name(name, sizeof(name), "rss_kib_per_peer");
        if (bench_find(b, "idle", name))
                TARGET("idle-rss", "broker RSS per idle peer", bench_median(b, "idle", name), 1, "KiB", false, "median");
#undef TARGET
        assert(n <= BENCH_MAX_TARGETS);
        return n;
}

/* One line of the comparison with the peers: mbus's median, the peer's, and mbus / peer. */
struct bench_comparison {
        const char *what;
        const char *mbus_scenario, *mbus_name;
        const char *peer_name;          /* in the peer's scenario */
        bool higher_is_better;
};

static const struct bench_comparison bench_comparisons[] = {
        { "rpc-seq calls/s",            "rpc-seq",       "calls_per_sec",               "calls_per_sec",                      true  },
        { "rpc-seq p50 µs",             "rpc-seq",       "p50_usec",                    "p50_usec",                           false },
        { "rpc-seq broker CPU µs/call", "rpc-seq",       "broker_cpu_usec_per_call",    "daemon_cpu_usec_per_call",           false },
        { "pipelined calls/s",          "rpc-pipelined", "calls_per_sec",               "pipelined_calls_per_sec",            true  },
        { "pipelined broker CPU µs/call", "rpc-pipelined", "broker_cpu_usec_per_call",  "pipelined_daemon_cpu_usec_per_call", false },
        { "fanout deliveries/s",        "fanout",        "delivered_per_sec",           "fanout_delivered_per_sec",           true  },
        { "fanout broker CPU µs/delivery", "fanout",     "broker_cpu_usec_per_delivery", "fanout_broker_cpu_usec_per_delivery", false },
        { "fanout total CPU µs/delivery", "fanout",      "total_cpu_usec_per_delivery", "fanout_total_cpu_usec_per_delivery", false },
};

/* The original mBus broker is compared with mbus's compat listener, in the same protocol. */
static const struct bench_comparison bench_compat_comparisons[] = {
        { "rpc-seq calls/s",            "rpc-seq-compat", "calls_per_sec",            "calls_per_sec",            true  },
        { "rpc-seq p50 µs",             "rpc-seq-compat", "p50_usec",                 "p50_usec",                 false },
        { "rpc-seq broker CPU µs/call", "rpc-seq-compat", "broker_cpu_usec_per_call", "daemon_cpu_usec_per_call", false },
};

/* The compat listener beside native rpc-seq on the same broker: compat figure, native figure,
 * and the ratio taken in each run. */
static const struct {
        const char *what, *compat, *native, *ratio;
} bench_compat_native[] = {
        { "rpc-seq calls/s",            "calls_per_sec",            "native_calls_per_sec",            "calls_per_sec_vs_native" },
        { "rpc-seq p50 µs",             "p50_usec",                 "native_p50_usec",                 "p50_vs_native"           },
        { "rpc-seq broker CPU µs/call", "broker_cpu_usec_per_call", "native_broker_cpu_usec_per_call", "broker_cpu_vs_native"    },
};

static const char *const bench_peers[] = { "dbus", "dbus-broker", "nats" };
static const char *const bench_peer_titles[] = { "dbus-daemon", "dbus-broker", "NATS" };

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
        return t->at_least ? t->value >= t->limit : t->value <= t->limit;
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

/* Adds c's line for peer to comparisons when both figures were measured. */
static void json_add_comparison(json_object *comparisons, const struct bench *b, const char *peer,
                                const struct bench_comparison *c) {
        double v = bench_median(b, c->mbus_scenario, c->mbus_name);
        double w = bench_median(b, peer, c->peer_name);
        json_object *o;

        if (isnan(v) || isnan(w) || w <= 0)
                return;
        o = json_object_new_object();
        json_object_object_add(o, "peer", json_object_new_string(peer));
        json_object_object_add(o, "scenario", json_object_new_string(c->mbus_scenario));
        json_object_object_add(o, "name", json_object_new_string(c->mbus_name));
        json_object_object_add(o, "mbus", json_number(v));
        json_object_object_add(o, "value", json_number(w));
        json_object_object_add(o, "mbus_vs_peer", json_number(v / w));
        json_object_object_add(o, "higher_is_better", json_object_new_boolean(c->higher_is_better));
        json_object_array_add(comparisons, o);
}

int bench_print_json(const struct bench *b) {
        _cleanup_json_ json_object *root = json_object_new_object(), *results = json_object_new_object(),
                                   *mins = json_object_new_object(), *maxs = json_object_new_object(),
                                   *targets = json_object_new_array(), *comparisons = json_object_new_array();
        struct bench_target t[BENCH_MAX_TARGETS];
        size_t n;

        if (!root || !results || !mins || !maxs || !targets || !comparisons)
                return -ENOMEM;
        json_object_object_add(root, "version", json_object_new_string(MBUS_VERSION));
        json_object_object_add(root, "runs", json_object_new_int64((int64_t) arg_runs));
        json_object_object_add(root, "address", arg_address ? json_object_new_string(arg_address) : NULL);
        json_object_object_add(root, "broker", b->broker_path ? json_object_new_string(b->broker_path) : NULL);
        json_object_object_add(root, "fanout_pace", json_object_new_int64((int64_t) arg_pace));
        /* what the bench's WebSocket peers sent: one binary frame per message, or its JSON text */
        json_object_object_add(root, "ws_messages", json_object_new_string(arg_ws_json ? "json" : "binary"));
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
                json_object_object_add(o, "at_least", json_object_new_boolean(t[i].at_least));
                json_object_object_add(o, "statistic", json_object_new_string(t[i].statistic));
                json_object_object_add(o, "pass", json_object_new_boolean(target_pass(&t[i])));
                json_object_array_add(targets, o);
        }
        for (size_t p = 0; p < ELEMENTSOF(bench_peers); p++)
                for (size_t i = 0; i < ELEMENTSOF(bench_comparisons); i++)
                        json_add_comparison(comparisons, b, bench_peers[p], &bench_comparisons[i]);
        for (size_t i = 0; i < ELEMENTSOF(bench_compat_comparisons); i++)
                json_add_comparison(comparisons, b, "mbus-orig", &bench_compat_comparisons[i]);
        json_object_object_add(root, "compat_address", arg_compat_address ? json_object_new_string(arg_compat_address) : NULL);
        json_object_object_add(root, "broker_cpu_vs_socket_floor", json_number(bench_cpu_vs_floor(b)));
        json_object_object_add(root, "results", TAKE_PTR(results));
        json_object_object_add(root, "min", TAKE_PTR(mins));
        json_object_object_add(root, "max", TAKE_PTR(maxs));
        json_object_object_add(root, "targets", TAKE_PTR(targets));
        json_object_object_add(root, "comparisons", TAKE_PTR(comparisons));
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

/* A figure's median, with "(min .. max)" over several runs: "9393.51 (9012.40 .. 9650.02)". */
static const char *figure_range(char *buf, size_t size, const struct bench_metric *m) {
        if (m->n_values > 1)
                snprintf(buf, size, "%.2f (%.2f .. %.2f)", metric_median(m), metric_extreme(m, -1), metric_extreme(m, 1));
        else
                snprintf(buf, size, "%.2f", metric_median(m));
        return buf;
}

/* rpc-seq in the original protocol: the compat listener against the original broker, and
 * against native rpc-seq on the same broker. */
static void bench_print_compat(const struct bench *b) {
        char x[96], y[96], z[96];
        bool header = false;

        for (size_t i = 0; i < ELEMENTSOF(bench_compat_comparisons); i++) {
                const struct bench_comparison *c = &bench_compat_comparisons[i];
                const struct bench_metric *v = bench_find(b, c->mbus_scenario, c->mbus_name);
                const struct bench_metric *w = bench_find(b, "mbus-orig", c->peer_name);

                if (!v || !w || metric_median(w) <= 0)
                        continue;
                if (!header)
                        printf("mbus compat vs original mBus (medians%s; compat/original, %s):\n",
                               arg_runs > 1 ? " (min .. max)" : "", "> 1 is better for rates, < 1 for times and CPU");
                header = true;
                printf("  %s%*s %-32s vs %-32s %.2f\n", c->what, (int) (28 - MIN(utf8_width(c->what), (size_t) 28)), "",
                       figure_range(x, sizeof(x), v), figure_range(y, sizeof(y), w), metric_median(v) / metric_median(w));
        }

        header = false;
        for (size_t i = 0; i < ELEMENTSOF(bench_compat_native); i++) {
                const struct bench_metric *v = bench_find(b, "rpc-seq-compat", bench_compat_native[i].native);
                const struct bench_metric *w = bench_find(b, "rpc-seq-compat", bench_compat_native[i].compat);
                const struct bench_metric *r = bench_find(b, "rpc-seq-compat", bench_compat_native[i].ratio);

                if (!v || !w || !r)
                        continue;
                if (!header)
                        printf("mbus native vs compat, same broker (medians%s; compat/native%s):\n",
                               arg_runs > 1 ? " (min .. max)" : "", arg_runs > 1 ? " per run" : "");
                header = true;
                printf("  %s%*s %-32s vs %-32s %s\n", bench_compat_native[i].what,
                       (int) (28 - MIN(utf8_width(bench_compat_native[i].what), (size_t) 28)), "",
                       figure_range(x, sizeof(x), v), figure_range(y, sizeof(y), w), figure_range(z, sizeof(z), r));
        }
}

void bench_print_text(const struct bench *b) {
        struct bench_target t[BENCH_MAX_TARGETS];
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

                printf("  %-13s %-36s %12.2f %s", i > 0 && strcmp(last, m->scenario) == 0 ? "" : m->scenario,
                       m->name, metric_median(m), m->unit);
                if (m->n_values > 1)
                        printf("%*s (%.2f .. %.2f)", (int) (8 - MIN(utf8_width(m->unit), (size_t) 8)), "",
                               metric_extreme(m, -1), metric_extreme(m, 1));
                putchar('\n');
                last = m->scenario;
        }
        if (bench_find(b, "fanout", "lost") && arg_pace > 0)
                printf("  (fanout: the publisher waits for a PONG every %" PRIu64 " events, which no peer does)\n",
                       arg_pace);

        /* mbus against every peer measured in the same runs */
        for (size_t p = 0; p < ELEMENTSOF(bench_peers); p++) {
                bool header = false;

                for (size_t i = 0; i < ELEMENTSOF(bench_comparisons); i++) {
                        const struct bench_comparison *c = &bench_comparisons[i];
                        double v = bench_median(b, c->mbus_scenario, c->mbus_name);
                        double w = bench_median(b, bench_peers[p], c->peer_name);

                        if (isnan(v) || isnan(w) || w <= 0)
                                continue;
                        if (!header)
                                printf("mbus vs %s (medians; mbus/%s, %s):\n", bench_peer_titles[p], bench_peer_titles[p],
                                       "> 1 is better for rates, < 1 for times and CPU");
                        header = true;
                        printf("  %-32s %12.2f vs %12.2f  %6.2f\n", c->what, v, w, v / w);
                }
        }

        double tls_p50 = bench_median(b, "tls", "rpc_seq_p50_usec"), unix_p50 = bench_median(b, "tls", "unix_rpc_seq_p50_usec");
        if (!isnan(tls_p50) && !isnan(unix_p50))
                printf("  TLS vs UNIX socket, same broker: rpc-seq p50 %.1f µs vs %.1f µs (TLS/UNIX per run: %.2f)\n",
                       tls_p50, unix_p50, bench_median(b, "tls", "rpc_seq_p50_vs_unix"));
        const char *ws_form = arg_ws_json ? "JSON text messages" : "binary messages";
        double ws_p50 = bench_median(b, "rpc-seq-ws", "p50_usec");
        if (!isnan(ws_p50))
                printf("  WebSocket (%s) vs UNIX socket, same broker: rpc-seq p50 %.1f µs vs %.1f µs"
                       " (ws/UNIX per run: %.2f)\n", ws_form, ws_p50, bench_median(b, "rpc-seq-ws", "unix_p50_usec"),
                       bench_median(b, "rpc-seq-ws", "p50_vs_unix"));
        double ws_rate = bench_median(b, "fanout-ws", "delivered_per_sec");
        if (!isnan(ws_rate))
                printf("  WebSocket (%s) vs UNIX socket, same broker: fanout %.0f vs %.0f deliveries/s"
                       " (ws/UNIX per run: %.2f), worst run lost %.0f\n", ws_form, ws_rate,
                       bench_median(b, "fanout-ws", "unix_delivered_per_sec"),
                       bench_median(b, "fanout-ws", "delivered_vs_unix"), bench_max(b, "fanout-ws", "lost"));
        if (bench_address_is_ws(arg_address))
                printf("  (rpc-seq and fanout: every peer on the WebSocket listener %s, %s)\n", arg_address, ws_form);
        double st_broker = bench_median(b, "tls", "s_time_broker_per_sec");
        if (!isnan(st_broker))
                printf("  full TLS handshakes, openssl s_time -new: mbus-broker %.0f/s vs openssl s_server %.0f/s"
                       " (broker/s_server per run: %.2f)\n", st_broker, bench_median(b, "tls", "s_time_s_server_per_sec"),
                       bench_median(b, "tls", "s_time_broker_vs_s_server"));

        bench_print_compat(b);

        double cpu_ratio = bench_cpu_vs_floor(b);
        if (!isnan(cpu_ratio))
                printf("  broker CPU per call / (3 x floor echo CPU per round trip) = %.2f\n", cpu_ratio);

        n = bench_targets(b, t);
        if (n > 0)
                printf("Targets:\n");
        for (size_t i = 0; i < n; i++)
                printf("  %-4s %-45s %10.2f %-6s %s %5.1f %-6s (%s)\n", target_pass(&t[i]) ? "PASS" : "MISS",
                       t[i].description, t[i].value, t[i].unit, t[i].at_least ? ">=" : "<=", t[i].limit, t[i].unit,
                       t[i].statistic);
        fflush(stdout);
}
