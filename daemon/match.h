/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The subscription index: which peers want an event NAMESPACE.MEMBER. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/*
 * Owners are peer ids (uint64_t), each with an opaque pointer the index hands back with every
 * match (the broker's struct mbus_peer, so a delivery needs no lookup by id); the index knows
 * nothing else about peers. A subscription is (pattern, owner) with a count: subscribing the
 * same pattern twice needs two unsubscribes, but the owner still gets each event once.
 */
struct mbus_match_index;

typedef void (*mbus_match_func_t)(uint64_t owner, void *owner_data, void *userdata);

/* Lifecycle. */
int mbus_match_index_new(struct mbus_match_index **ret);
struct mbus_match_index *mbus_match_index_free(struct mbus_match_index *idx);

/* Operations. */

/*
 * Adds pattern (must be valid, mbus_pattern_is_valid()) for owner. owner_data (borrowed; the
 * same for every subscription of one owner) is what lookups pass back for it: it must stay
 * valid until mbus_match_remove_owner(). Returns 1 if the owner had no subscription with this
 * pattern, 0 if its count was raised, -EINVAL for an invalid pattern, -ENOMEM.
 */
int mbus_match_add(struct mbus_match_index *idx, const char *pattern, uint64_t owner, void *owner_data);

/* Lowers the count of (pattern, owner); the last one removes it. Returns 0 or -ENOENT. */
int mbus_match_remove(struct mbus_match_index *idx, const char *pattern, uint64_t owner);

/* Removes every subscription of owner. Returns how many (distinct patterns) there were. */
size_t mbus_match_remove_owner(struct mbus_match_index *idx, uint64_t owner);

/*
 * Calls fn once for each owner with at least one pattern matching ns.member, however many of
 * its patterns match. fn must not change the index. Returns the number of owners called.
 * Cost: three kinds of hash lookups (exact name, each label prefix of ns, "*"), then only
 * the matching subscriptions; never a scan of all of them.
 */
size_t mbus_match_lookup(struct mbus_match_index *idx, const char *ns, const char *member,
                         mbus_match_func_t fn, void *userdata);

/* Queries. */
bool mbus_match_hits(struct mbus_match_index *idx, const char *ns, const char *member);
size_t mbus_match_count_owner(const struct mbus_match_index *idx, uint64_t owner);
size_t mbus_match_size(const struct mbus_match_index *idx);   /* distinct (pattern, owner) */

MBUS_DEFINE_CLEANUP(struct mbus_match_index *, mbus_match_index_free);
