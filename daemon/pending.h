/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Pending calls: (caller, serial) -> callee, with deadlines; each call completes exactly once. */

#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"
#include "util/time-util.h"

/*
 * An entry leaves the table by exactly one of: mbus_pending_complete() or _take() (the callee
 * replied), mbus_pending_pop_expired() or _take_expired() (deadline), mbus_pending_pop_callee() (the callee is gone) or
 * mbus_pending_drop_caller() (the caller is gone). Whoever removes it owes the caller its one
 * answer (except for a caller that is gone), so "exactly one reply" is a property of this
 * table rather than of every code path in the router.
 *
 * Each peer embeds two lists (calls it made, calls it must answer) so that a disconnect finds
 * its entries without a scan. Ids are peer ids; the table never touches a peer (the router finds
 * a caller from its list, which the peer embeds).
 */

struct mbus_frame;
struct mbus_ns_counters;
struct mbus_pending_list;

struct mbus_pending_key {
        uint64_t caller;
        uint64_t serial;
};

/* One pending call. Read-only outside pending.c; the router reads what its CALL left. */
struct mbus_pending {
        struct mbus_pending_key key;    /* key in the table */
        uint64_t callee;
        usec_t deadline;
        size_t heap_idx;
        struct mbus_pending_list *caller_list, *callee_list;    /* borrowed: embedded in the peers */
        struct mbus_pending *caller_prev, *caller_next;
        struct mbus_pending *callee_prev, *callee_next;
        struct mbus_ns_counters *counters;      /* a reference, or NULL: where its answer is counted */
        const char *namespace, *member;         /* the call's, in names[], or NULL: for monitors */
        struct mbus_pending_table *table;       /* borrowed: whose free list takes it back; NULL: none */
        char names[];
};

struct mbus_pending_list {
        struct mbus_pending *first;
        size_t n;
        size_t *n_also;         /* a second counter kept in step with n (the caller's user's, for
                                   quotas); NULL: none. Set on calls_out only. */
};

struct mbus_pending_table;

/* Lifecycle. Freeing the table frees its entries; lists pointing at them must be discarded. */
int mbus_pending_table_new(struct mbus_pending_table **ret);
struct mbus_pending_table *mbus_pending_table_free(struct mbus_pending_table *t);

/*
 * Records the call (caller, serial) forwarded to callee, due at deadline (CLOCK_MONOTONIC µs).
 * Returns 0, -EEXIST if the caller already has a call with that serial pending, -ENOMEM.
 */
int mbus_pending_add(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                     usec_t deadline, struct mbus_pending_list *caller_list,
                     struct mbus_pending_list *callee_list);

/*
 * The same, keeping what the call leaves for its answer in the entry's one allocation: ns and
 * member (copied; NULL: none) and a new reference on counters (NULL: none).
 */
int mbus_pending_add_call(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                          usec_t deadline, struct mbus_pending_list *caller_list,
                          struct mbus_pending_list *callee_list, const char *ns, const char *member,
                          struct mbus_ns_counters *counters);

/*
 * A reply from callee for (caller, serial). Returns 0 and removes the entry; -ENOENT if no
 * such call is pending (late or bogus reply), -EPERM if it is pending on another callee (the
 * entry stays).
 */
int mbus_pending_complete(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee);

/*
 * As mbus_pending_complete(), but the entry, out of the table, goes to *ret (if ret is not
 * NULL) for its caller_list, counters, namespace and member to be read; free it with
 * mbus_pending_free().
 */
int mbus_pending_take(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                      struct mbus_pending **ret);

/* Takes the entry with the earliest deadline <= now out of the table, or returns NULL. */
struct mbus_pending *mbus_pending_take_expired(struct mbus_pending_table *t, usec_t now);

/* Frees an entry taken out of the table. Returns NULL. */
struct mbus_pending *mbus_pending_free(struct mbus_pending *p);

/*
 * Removes one entry whose deadline is <= now, earliest first. Returns 1 and its caller, serial
 * and context (a new header-only CALL with the serial, namespace and member of the call, made
 * only if ret_context is not NULL; NULL if none was kept or without memory), or 0 if none is
 * due. Each ret_* may be NULL.
 */

int mbus_pending_pop_expired(struct mbus_pending_table *t, usec_t now, uint64_t *ret_caller,
                             uint64_t *ret_serial, struct mbus_frame **ret_context);

/* Removes one entry of a callee's list. Returns 1 and as mbus_pending_pop_expired(), or 0 if empty. */
int mbus_pending_pop_callee(struct mbus_pending_table *t, struct mbus_pending_list *callee_list,
                            uint64_t *ret_caller, uint64_t *ret_serial, struct mbus_frame **ret_context);

/* Removes every entry of a caller's list, silently. Returns how many there were. */
size_t mbus_pending_drop_caller(struct mbus_pending_table *t, struct mbus_pending_list *caller_list);

/* Queries. */
usec_t mbus_pending_next_deadline(const struct mbus_pending_table *t);  /* USEC_INFINITY: none */
size_t mbus_pending_size(const struct mbus_pending_table *t);

MBUS_DEFINE_CLEANUP(struct mbus_pending_table *, mbus_pending_table_free);
MBUS_DEFINE_CLEANUP(struct mbus_pending *, mbus_pending_free);
