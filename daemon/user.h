/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * Accounting per user: what each identity (a uid, or a certificate that no mapping gives a uid)
 * holds of the broker's shared resources, and whether it may take more.
 *
 * The rule, for every resource but the HELLO pool: an unprivileged user may hold at most as
 * much as it leaves free for everybody else, of the limit minus a reserve (1/16 of it, at least
 * one), rounded up. Alone it gets half; each further user gets at most half of what is left, so a second
 * user always finds room and no one user can starve the others however many connections it
 * opens. Root and the broker's own uid are privileged: they are held to the whole limit only,
 * so the reserve is theirs and an administrator can always connect and call. Fixed per-user
 * caps were the alternative; they either waste a small system's capacity or allow a large one
 * to be exhausted by a few users, while a share of what is left adapts to both.
 *
 * Connections that have not said HELLO are also a small fixed pool per user
 * (--max-hello-per-user): a stranger's half-open connections cost little, and only its own.
 *
 * This module is pure bookkeeping: no sockets, no logging. The broker passes the broker-wide
 * usage, which its registries know (peers, pending calls, namespaces, subscriptions, queued
 * bytes), and decides what to answer.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/macro.h"

enum mbus_quota {
        MBUS_QUOTA_CONNECTIONS,
        MBUS_QUOTA_HELLO,               /* connections not yet welcomed: a fixed cap per user */
        MBUS_QUOTA_PENDING_CALLS,       /* calls its peers made that await an answer */
        MBUS_QUOTA_SUBSCRIPTIONS,
        MBUS_QUOTA_NAMESPACES,
        MBUS_QUOTA_QUEUED_BYTES,        /* bytes queued for its peers to read */
        _MBUS_QUOTA_MAX,
        _MBUS_QUOTA_INVALID = -EINVAL,
};

struct mbus_user_registry;

struct mbus_user {
        struct mbus_user_registry *registry;    /* borrowed: outlives every user */
        unsigned n_ref;                 /* one per peer that is this user */
        bool privileged;                /* root or the broker's uid: no share rule */
        uid_t uid;                      /* (uid_t) -1: a certificate or address without a uid */
        size_t used[_MBUS_QUOTA_MAX];
        char key[];                     /* "uid:1000", "cert:<sha256>", "addr:192.0.2.7"; the table key */
};

/* Lifecycle. privileged_uid: the broker's own uid, privileged like root. */
int mbus_user_registry_new(struct mbus_user_registry **ret, uid_t privileged_uid);
struct mbus_user_registry *mbus_user_registry_free(struct mbus_user_registry *reg);
size_t mbus_user_registry_size(const struct mbus_user_registry *reg);

/*
 * Iteration over the users, as mbus_hashmap_iterate(): start with *state = 0. The registry must
 * not change meanwhile.
 */
bool mbus_user_registry_iterate(const struct mbus_user_registry *reg, size_t *state, struct mbus_user **ret);

/*
 * A reference on the user named key, made on first use (uid: its uid, or -1). Returns 0, or
 * -ENOMEM.
 */
int mbus_user_get(struct mbus_user_registry *reg, const char *key, uid_t uid, struct mbus_user **ret);
struct mbus_user *mbus_user_ref(struct mbus_user *u);
/* Drops a reference; the last one frees the user, which must hold nothing by then. */
struct mbus_user *mbus_user_unref(struct mbus_user *u);

/*
 * Whether u may take n more of q, where the broker as a whole uses used_total of limit (for
 * MBUS_QUOTA_HELLO, limit is the cap per user and used_total is ignored). Returns 0, or -EDQUOT
 * (u's share is used up) or -ENOBUFS (the limit, or for an unprivileged user the limit less the
 * reserve, is reached). Charges nothing.
 */
int mbus_user_check(const struct mbus_user *u, enum mbus_quota q, size_t n, size_t used_total, size_t limit);

/* The most of q that u could hold now, by the same rule (for messages and GetUserStats). */
size_t mbus_user_share(const struct mbus_user *u, enum mbus_quota q, size_t used_total, size_t limit);

/* Books n more, or n fewer, of q to u. Uncharging more than is held is a bug (asserted). */
void mbus_user_charge(struct mbus_user *u, enum mbus_quota q, size_t n);
void mbus_user_uncharge(struct mbus_user *u, enum mbus_quota q, size_t n);

/* The reserve of limit that only privileged users may use: 1/16, at least 1 (0 for 0). */
size_t mbus_quota_reserve(size_t limit);

/* "connections", "hello", "pending_calls", ...: the name in errors, logs and GetUserStats. */
const char *mbus_quota_to_string(enum mbus_quota q);

/*
 * The user key of an identity: "uid:N" for a uid, else "cert:<fingerprint>", else "addr:<host>"
 * for address (its port dropped), into buf. Returns buf.
 */
#define MBUS_USER_KEY_MAX 96
const char *mbus_user_key(uid_t uid, const char *fingerprint, const char *address, char buf[static MBUS_USER_KEY_MAX]);

MBUS_DEFINE_CLEANUP(struct mbus_user *, mbus_user_unref);
MBUS_DEFINE_CLEANUP(struct mbus_user_registry *, mbus_user_registry_free);
