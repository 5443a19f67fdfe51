/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench: the sequence check every fan-out subscriber runs, mbus's and the peers' alike,
 * and the parent's sum of their reports. A subscriber keeps a bit per sequence number, so a
 * loss, a duplicate and a reordering are each counted exactly, not inferred from a total.
 */

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

int fanout_seq_init(struct fanout_seq *s, uint64_t n_events) {
        *s = (struct fanout_seq) { .n_events = n_events };
        s->seen = calloc(n_events / 8 + 1, 1);
        return s->seen ? 0 : -ENOMEM;
}

void fanout_seq_done(struct fanout_seq *s) {
        s->seen = mfree(s->seen);
}

size_t fanout_payload_text(char *buf, size_t size, uint64_t seq) {
#define HEAD "{\"seq\":"
#define TAIL ",\"data\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"
        char digits[20];
        size_t n = 0, len;

        _Static_assert(sizeof(TAIL) - 1 == FANOUT_DATA_LEN + 11, "the data of bench_payload(seq, FANOUT_DATA_LEN)");
        do
                digits[n++] = (char) ('0' + seq % 10);
        while ((seq /= 10) > 0);
        len = sizeof(HEAD) - 1 + n + sizeof(TAIL) - 1;
        assert(len < size);
        memcpy(buf, HEAD, sizeof(HEAD) - 1);
        for (size_t i = 0; i < n; i++)
                buf[sizeof(HEAD) - 1 + i] = digits[n - 1 - i];
        memcpy(buf + sizeof(HEAD) - 1 + n, TAIL, sizeof(TAIL));         /* with its NUL */
        return len;
#undef HEAD
#undef TAIL
}

int64_t fanout_seq_of(const char *data, size_t len) {
        static const char prefix[] = "{\"seq\":";
        const char *p, *end = data + len;
        uint64_t v = 0;

        if (len < sizeof(prefix) || memcmp(data, prefix, sizeof(prefix) - 1) != 0)
                return -1;
        for (p = data + sizeof(prefix) - 1; p < end && *p >= '0' && *p <= '9'; p++) {
                if (v > (INT64_MAX - 9) / 10)
                        return -1;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        /* digits, then the end of the number */
        if (p == data + sizeof(prefix) - 1 || p == end || (*p != ',' && *p != '}'))
                return -1;
        return (int64_t) v;
}

void fanout_seq_note(struct fanout_seq *s, int64_t seq) {
        s->rep.received++;
        s->rep.last_usec = now_usec(CLOCK_MONOTONIC);
        if (seq < 0 || (uint64_t) seq >= s->n_events) {
                s->rep.invalid++;
                return;
        }
        if (s->seen[seq / 8] & (1u << (seq % 8))) {
                s->rep.duplicates++;
                return;
        }
        s->seen[seq / 8] |= 1u << (seq % 8);
        s->rep.distinct++;
        if ((uint64_t) seq + 1 < s->highest)
                s->rep.reordered++;
        s->highest = MAX(s->highest, (uint64_t) seq + 1);
}

usec_t fanout_cpu_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

int fanout_collect(const int *fds, size_t n, uint64_t n_events, bool slow, usec_t t_start, usec_t t_sent,
                   struct fanout_result *res, uint64_t *ret_total) {
        uint64_t total = 0, sub_cpu = 0;
        usec_t t_last = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                struct fanout_report rep;

                r = read_full(fds[i], &rep, sizeof(rep), 300 * USEC_PER_SEC);
                if (r < 0) {
                        tool_error("fanout: no report from subscriber %zu: %s", i, strerror(-r));
                        return r;
                }
                if (rep.error < 0) {
                        tool_error("fanout: subscriber %zu failed: %s", i, strerror(-rep.error));
                        return rep.error;
                }
                total += rep.received;
                sub_cpu += rep.cpu_usec;
                t_last = MAX(t_last, rep.last_usec);
                res->duplicates += rep.duplicates;
                res->reordered += rep.reordered;
                res->invalid += rep.invalid;
                if (slow && i == n - 1)
                        res->slow_missed = (double) (n_events - rep.distinct);
                else
                        res->lost += n_events - rep.distinct;
        }
        res->published_per_sec = (double) n_events * USEC_PER_SEC / (double) MAX(t_sent - t_start, 1u);
        res->delivered_per_sec = (double) total * USEC_PER_SEC / (double) MAX(MAX(t_last, t_sent) - t_start, 1u);
        res->subscriber_cpu_usec_per_delivery = total > 0 ? (double) sub_cpu / (double) total : NAN;
        *ret_total = total;
        return 0;
}
