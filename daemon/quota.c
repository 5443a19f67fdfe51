/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accounting per user, as the broker applies it. Where each quota is charged:
 *   connections, hello   at accept (mbus_quota_attach()); hello is given back at WELCOME,
 *                        connections when the peer is freed;
 *   pending_calls        by the pending table itself: the caller's calls_out list keeps the
 *                        user's counter in step (n_also), whichever way a call ends;
 *   namespaces           the same, through the owner's namespace list;
 *   subscriptions        router.c at SUBSCRIBE/UNSUBSCRIBE, broker.c when the peer is dropped;
 *   queued_bytes         peer.c when a frame is queued, given back as it is written; and
 *                        the input buffer, charged as it grows and given back as it shrinks.
 * A TLS peer is its address's user until its handshake is done, then its certificate's.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "conf/policy.h"
#include "log-ids.h"
#include "match.h"
#include "namespace.h"
#include "peer.h"
#include "pending.h"
#include "quota.h"
#include "reply.h"

size_t mbus_quota_used_total(const struct mbus_broker *b, enum mbus_quota q) {
        switch (q) {
        case MBUS_QUOTA_CONNECTIONS:
                return b->n_peers;
        case MBUS_QUOTA_HELLO:
                return 0;
        case MBUS_QUOTA_PENDING_CALLS:
                return mbus_pending_size(b->pending);
        case MBUS_QUOTA_SUBSCRIPTIONS:
                return mbus_match_size(b->matches);
        case MBUS_QUOTA_NAMESPACES:
                return mbus_namespace_registry_size(b->namespaces);
        case MBUS_QUOTA_QUEUED_BYTES:
                return b->queued_bytes;
        default:
                assert(!"bad quota");
                return 0;
        }
}

size_t mbus_quota_limit(const struct mbus_broker *b, enum mbus_quota q) {
        const struct mbus_options *o = b->options;

        switch (q) {
        case MBUS_QUOTA_CONNECTIONS:
                return o->max_peers;
        case MBUS_QUOTA_HELLO:
                return o->max_hello_per_user;
        case MBUS_QUOTA_PENDING_CALLS:
                return o->max_pending_calls_total;
        case MBUS_QUOTA_SUBSCRIPTIONS:
                return o->max_subscriptions_total;
        case MBUS_QUOTA_NAMESPACES:
                return o->max_namespaces_total;
        case MBUS_QUOTA_QUEUED_BYTES:
                return o->max_queue_bytes_total;
        default:
                assert(!"bad quota");
                return 0;
        }
}

int mbus_quota_check(struct mbus_broker *b, struct mbus_user *u, enum mbus_quota q, size_t n, char *msg,
                     size_t size) {
        size_t used = mbus_quota_used_total(b, q), limit = mbus_quota_limit(b, q);
        int r;

        /* Root and the broker's uid keep their reserve here too: a burst of administrators'
         * connects must not be refused for waiting on HELLO (--max-peers still binds them). */
        if (q == MBUS_QUOTA_HELLO && u->privileged)
                return 0;

        r = mbus_user_check(u, q, n, used, limit);
        if (r >= 0)
                return 0;

        b->stats.quota_refusals++;
        if (q == MBUS_QUOTA_HELLO)
                (void) snprintf(msg, size, "Quota exceeded: %s holds %zu connections that have not sent HELLO "
                                "(limit %zu per user)", u->key, u->used[q], limit);
        else if (r == -EDQUOT)
                (void) snprintf(msg, size, "Quota exceeded: %s holds %zu %s, its share now (a user may hold "
                                "at most what it leaves to the others; the broker holds %zu of %zu)",
                                u->key, u->used[q], mbus_quota_to_string(q), used, limit);
        else
                (void) snprintf(msg, size, "Limit reached: the broker holds %zu %s (limit %zu, of which %zu "
                                "are kept for root)", used, mbus_quota_to_string(q), limit, mbus_quota_reserve(limit));

        if (mbus_broker_log_ratelimit(b, &b->quota_log_ratelimit, LOG_WARNING, -ENOBUFS, MBUS_MSGID_QUOTA_EXCEEDED,
                                      "quota refusals"))
                (void) mbus_log(LOG_WARNING, -ENOBUFS, MBUS_FIELDS(.msgid = MBUS_MSGID_QUOTA_EXCEEDED), "%s", msg);
        return r;
}

int mbus_quota_check_request(struct mbus_broker *b, struct mbus_peer *peer, uint64_t serial, enum mbus_quota q,
                             size_t n) {
        char msg[256];
        int r;

        r = mbus_quota_check(b, peer->user, q, n, msg, sizeof(msg));
        if (r >= 0)
                return 0;
        r = mbus_reply_error(b, peer, serial, -ENOBUFS, "%s", msg);
        return r < 0 ? r : -ENOBUFS;
}

int mbus_quota_user_of(struct mbus_broker *b, const struct mbus_creds *creds, struct mbus_user **ret) {
        const struct mbus_policy_map *map = NULL;
        char key[MBUS_USER_KEY_MAX];
        const char *fingerprint = NULL;
        uid_t uid = creds->uid;

        if (creds->remote) {
                struct mbus_identity who;

                mbus_creds_to_identity(creds, &who);
                map = creds->remote->cert.fingerprint ? mbus_policy_find_map(b->policy, &who) : NULL;
                uid = map ? map->uid : (uid_t) -1;
                fingerprint = creds->remote->cert.fingerprint;
        }
        return mbus_user_get(b->users, mbus_user_key(uid, fingerprint, creds->remote ? creds->remote->address : NULL, key),
                             uid, ret);
}

void mbus_quota_attach(struct mbus_peer *peer, struct mbus_user *u) {
        assert(!peer->user);
        peer->user = u;
        mbus_user_charge(u, MBUS_QUOTA_CONNECTIONS, 1);
        if (peer->state == MBUS_PEER_HANDSHAKE) {
                mbus_user_charge(u, MBUS_QUOTA_HELLO, 1);
                peer->hello_charged = true;
        }
        assert(peer->calls_out.n == 0 && peer->namespaces.n == 0);
        peer->calls_out.n_also = &u->used[MBUS_QUOTA_PENDING_CALLS];
        peer->namespaces.n_also = &u->used[MBUS_QUOTA_NAMESPACES];
}

void mbus_quota_welcomed(struct mbus_peer *peer) {
        if (!peer->hello_charged)
                return;
        mbus_user_uncharge(peer->user, MBUS_QUOTA_HELLO, 1);
        peer->hello_charged = false;
}

void mbus_quota_detach(struct mbus_peer *peer) {
        struct mbus_user *u = peer->user;

        if (!u)
                return;
        /* Calls and namespaces left with the peer's registries; those counters are at zero. */
        assert(peer->calls_out.n == 0 && peer->namespaces.n == 0);
        mbus_quota_welcomed(peer);
        mbus_user_uncharge(u, MBUS_QUOTA_CONNECTIONS, 1);
        mbus_user_uncharge(u, MBUS_QUOTA_QUEUED_BYTES, peer->queue_charged + peer->input_charged);
        peer->broker->queued_bytes -= peer->queue_charged + peer->input_charged;
        peer->queue_charged = peer->input_charged = 0;
        peer->calls_out.n_also = NULL;
        peer->namespaces.n_also = NULL;
        peer->user = mbus_user_unref(u);
}

int mbus_quota_rebind(struct mbus_broker *b, struct mbus_peer *peer, char *msg, size_t size) {
        _cleanup_(mbus_user_unrefp) struct mbus_user *u = NULL;
        size_t queued = peer->queue_charged, input = peer->input_charged;
        int r;

        r = mbus_quota_user_of(b, &peer->creds, &u);
        if (r < 0)
                return r;
        if (u == peer->user)
                return 0;

        /* This peer counts in the broker's connections already: check as if it were not there. */
        b->n_peers--;
        r = mbus_quota_check(b, u, MBUS_QUOTA_CONNECTIONS, 1, msg, size);
        b->n_peers++;
        if (r >= 0)
                r = mbus_quota_check(b, u, MBUS_QUOTA_HELLO, 1, msg, size);
        if (r < 0)
                return r;

        mbus_quota_detach(peer);
        mbus_quota_attach(peer, TAKE_PTR(u));
        /* A handshake writes no frames, but keep the books right whatever was queued. */
        mbus_user_charge(peer->user, MBUS_QUOTA_QUEUED_BYTES, queued + input);
        peer->queue_charged = queued;
        peer->input_charged = input;
        b->queued_bytes += queued + input;
        return 0;
}
