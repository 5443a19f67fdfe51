/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The broker's side of accounting per user (user.h): which user a peer is, the broker-wide
 * usage and limit of each quota, and the answer and log entry when one is exceeded.
 */

#include <stddef.h>
#include <stdint.h>

#include "user.h"

struct mbus_broker;
struct mbus_creds;
struct mbus_peer;

/* The broker-wide usage of q now, and its limit (for HELLO: the cap per user). */
size_t mbus_quota_used_total(const struct mbus_broker *b, enum mbus_quota q);
size_t mbus_quota_limit(const struct mbus_broker *b, enum mbus_quota q);

/*
 * Whether user u may take n more of q. If not, logs that (rate-limited,
 * MBUS_MSGID_QUOTA_EXCEEDED) and writes the reason for the peer into msg. Returns 0, -ENOBUFS
 * or -EDQUOT (see mbus_user_check()).
 */
int mbus_quota_check(struct mbus_broker *b, struct mbus_user *u, enum mbus_quota q, size_t n, char *msg,
                     size_t size);

/*
 * As mbus_quota_check() for the user of peer, answering a refusal to the call or request
 * serial with LimitsExceeded and the reason. Returns 0 if allowed, -ENOBUFS if refused and
 * answered, another negative errno if the answer could not be queued.
 */
int mbus_quota_check_request(struct mbus_broker *b, struct mbus_peer *peer, uint64_t serial, enum mbus_quota q,
                             size_t n);

/*
 * The user that creds are: their uid (for a network peer: the uid its certificate maps to), or
 * else its certificate, or else its address; a reference in *ret. Returns 0 or -ENOMEM.
 */
int mbus_quota_user_of(struct mbus_broker *b, const struct mbus_creds *creds, struct mbus_user **ret);

/*
 * Makes peer the user u's (taking over the reference): charges a connection and a HELLO slot,
 * and books the peer's calls and namespaces to u from now on. The caller has checked both.
 */
void mbus_quota_attach(struct mbus_peer *peer, struct mbus_user *u);

/* Gives back everything peer still holds of its user and drops the reference. */
void mbus_quota_detach(struct mbus_peer *peer);

/* The peer was welcomed: its HELLO slot is free again. */
void mbus_quota_welcomed(struct mbus_peer *peer);

/*
 * After a TLS handshake, the peer is its certificate's user (or its mapped uid's) rather than
 * its address's. Returns 0, -ENOBUFS or -EDQUOT (that user has no room; msg says why), -ENOMEM.
 */
int mbus_quota_rebind(struct mbus_broker *b, struct mbus_peer *peer, char *msg, size_t size);
