/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Per-namespace counters: calls, errors and events, for GetStats and GET /metrics. */

/*
 * Counted only for namespaces that exist (an owner, or an interface file), so that the set of
 * names (a metrics label) is bounded by what the bus really has, never by the names callers make
 * up. A namespace that stops existing keeps its entry until the next sweep (when the table has
 * grown to twice what exists); one that comes back after that starts from 0, which Prometheus
 * reads as a counter reset.
 *
 * Counters are shared: the table holds a reference, so does the registry entry of an owned
 * namespace (from its first count on: routing to it then costs no lookup here) and each call
 * pending on it (its answer is counted where the call was, even once the namespace is gone; a
 * namespace that comes back before the sweep finds the same counters in the table).
 */

#include <stdbool.h>
#include <stdint.h>

#include "util/macro.h"

struct mbus_ns_counters {
        unsigned n_ref;
        uint64_t calls;         /* CALLs addressed to it, answered or refused */
        uint64_t errors;        /* of those, the ones answered with an ERROR, by the broker or its owner */
        uint64_t events;        /* EVENTs emitted in it, broadcast or to one peer */
        char name[];
};

struct mbus_ns_stats;

int mbus_ns_stats_new(struct mbus_ns_stats **ret);
struct mbus_ns_stats *mbus_ns_stats_free(struct mbus_ns_stats *s);

struct mbus_ns_counters *mbus_ns_counters_ref(struct mbus_ns_counters *c);
struct mbus_ns_counters *mbus_ns_counters_unref(struct mbus_ns_counters *c);

/*
 * The counters of ns (borrowed: the table keeps its reference until a sweep), made on first use; NULL if ns does not exist (exists(ns, userdata) says)
 * or without memory (a count is lost, nothing else). Before making an entry, entries of names
 * that no longer exist are swept once the table holds twice n_existing + 64.
 */
struct mbus_ns_counters *mbus_ns_stats_get(struct mbus_ns_stats *s, const char *ns, size_t n_existing,
                                           bool (*exists)(const char *ns, void *userdata), void *userdata);

/* The entry of ns if it has one (borrowed), or NULL: a query that counts nothing. */
const struct mbus_ns_counters *mbus_ns_stats_peek(const struct mbus_ns_stats *s, const char *ns);

MBUS_DEFINE_CLEANUP(struct mbus_ns_stats *, mbus_ns_stats_free);
MBUS_DEFINE_CLEANUP(struct mbus_ns_counters *, mbus_ns_counters_unref);
