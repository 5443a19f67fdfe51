/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench: one figure per run of each metric; medians, extremes, percentiles. */

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

int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Latencies are taken in ns: the floor is a few µs, where µs steps would be 10% each. */
uint64_t now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* Percentile of sorted values: the smallest value with at least p% of values at or below. */
uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (n * p + 99) / 100;
        return sorted[i > 0 ? i - 1 : 0];
}

void bench_record(struct bench *b, const char *scenario, const char *name, const char *unit,
                         double value) {
        struct bench_metric *m = NULL;

        for (size_t i = 0; i < b->n_metrics; i++)
                if (strcmp(b->metrics[i].scenario, scenario) == 0 && strcmp(b->metrics[i].name, name) == 0) {
                        m = &b->metrics[i];
                        break;
                }
        if (!m) {
                if (b->n_metrics >= BENCH_MAX_METRICS) {
                        tool_error("warning: too many figures, %s %s not recorded", scenario, name);
                        return;
                }
                m = &b->metrics[b->n_metrics++];
                *m = (struct bench_metric) { .unit = unit };
                snprintf(m->scenario, sizeof(m->scenario), "%s", scenario);
                snprintf(m->name, sizeof(m->name), "%s", name);
        }
        if (m->n_values < BENCH_MAX_RUNS)
                m->values[m->n_values++] = value;
}

const struct bench_metric *bench_find(const struct bench *b, const char *scenario,
                                             const char *name) {
        for (size_t i = 0; i < b->n_metrics; i++)
                if (strcmp(b->metrics[i].scenario, scenario) == 0 && strcmp(b->metrics[i].name, name) == 0)
                        return &b->metrics[i];
        return NULL;
}

double metric_median(const struct bench_metric *m) {
        double v[BENCH_MAX_RUNS];

        if (!m || m->n_values == 0)
                return NAN;
        memcpy(v, m->values, m->n_values * sizeof(double));
        qsort(v, m->n_values, sizeof(double), cmp_double);
        if (m->n_values % 2)
                return v[m->n_values / 2];
        return (v[m->n_values / 2 - 1] + v[m->n_values / 2]) / 2;
}

/* The smallest (sign -1) or largest (sign 1) value over the runs: how far the runs spread. */
double metric_extreme(const struct bench_metric *m, int sign) {
        double v;

        if (!m || m->n_values == 0)
                return NAN;
        v = m->values[0];
        for (size_t i = 1; i < m->n_values; i++)
                if (sign * (m->values[i] - v) > 0)
                        v = m->values[i];
        return v;
}

double bench_median(const struct bench *b, const char *scenario, const char *name) {
        return metric_median(bench_find(b, scenario, name));
}
