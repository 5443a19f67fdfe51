/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The router: a frame's type and header fields decide everything; bodies pass through
 * untouched (a forwarded CALL or EVENT gets a new head with the sender and keeps a reference
 * on the original body). The only bodies parsed are HELLO's and those of the broker's own
 * procedures (driver.c).
 *
 * Exactly one answer per CALL: every path through router_call() either forwards the call and
 * records it in the pending table (whose removal paths each owe one answer, see pending.h),
 * or answers it here. ERROR frames are built in one place, mbus_router_reply_error(), naming
 * errors through the errno table of proto/errors.c.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbus/mbus-errors.h>

#include "broker.h"
#include "driver.h"
#include "log-ids.h"
#include "match.h"
#include "namespace.h"
#include "peer.h"
#include "pending.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "router.h"
#include "stats.h"
#include "util/json-util.h"

static int router_queue_new(struct mbus_broker *b, struct mbus_peer *peer, enum mbus_frame_type type,
                            const struct mbus_frame_fields *fields, const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        int r;

        r = mbus_frame_new(&f, type, fields, body, body ? strlen(body) : 0);
        if (r < 0)
                return r;
        return mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY);
}

static int router_error_frame(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial,
                              const char *name, const char *message) {
        _cleanup_json_ json_object *o = NULL;
        const char *body = NULL;

        o = json_object_new_object();
        if (o && json_object_object_add(o, "message", json_object_new_string(message ?: "")) >= 0)
                body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        return router_queue_new(b, peer, MBUS_FRAME_ERROR,
                                &(const struct mbus_frame_fields) {
                                        .reply_serial = reply_serial,
                                        .error_name = name,
                                }, body);
}

int mbus_router_reply_error(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, int error,
                            const char *format, ...) {
        char message[512];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);

        return router_error_frame(b, peer, reply_serial, mbus_errno_to_error_name(error), message);
}

int mbus_router_protocol_error(struct mbus_broker *b, struct mbus_peer *peer, const char *reason) {
        (void) mbus_log(LOG_NOTICE, -EBADMSG, MBUS_FIELDS(.msgid = MBUS_MSGID_PROTOCOL_ERROR, .peer = peer),
                        "Protocol error from :1.%" PRIu64 ": %s", peer->id, reason);
        (void) router_error_frame(b, peer, 0, MBUS_ERROR_PROTOCOL, reason);
        return -EBADMSG;
}

int mbus_router_reply_return(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial,
                             json_object *body) {
        return router_queue_new(b, peer, MBUS_FRAME_RETURN,
                                &(const struct mbus_frame_fields) { .reply_serial = reply_serial },
                                body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL);
}

int mbus_router_send_ping(struct mbus_broker *b, struct mbus_peer *peer) {
        return router_queue_new(b, peer, MBUS_FRAME_PING,
                                &(const struct mbus_frame_fields) { .serial = ++b->next_serial }, NULL);
}

/* --- events ----------------------------------------------------------------------------------- */

struct router_broadcast {
        struct mbus_broker *broker;
        struct mbus_frame *event;
};

static void router_deliver(uint64_t owner, void *userdata) {
        struct router_broadcast *bc = userdata;
        struct mbus_peer *peer = mbus_broker_find_peer(bc->broker, owner);

        /* EVENT-class queueing never condemns a peer, so the index stays unchanged under us. */
        if (mbus_peer_is_running(peer) && mbus_peer_queue(peer, bc->event, MBUS_QUEUE_EVENT) >= 0)
                bc->broker->stats.events_delivered++;
}

void mbus_router_broadcast(struct mbus_broker *b, struct mbus_frame *event) {
        struct router_broadcast bc = { .broker = b, .event = event };

        (void) mbus_match_lookup(b->matches, event->f.namespace, event->f.member, router_deliver, &bc);
}

static int router_event(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *fwd = NULL;
        struct mbus_frame_fields fields = frame->f;
        struct mbus_namespace *ns;
        char id[MBUS_PEER_ID_MAX];
        int r;

        ns = mbus_namespace_get(b->namespaces, frame->f.namespace);
        if (!ns || ns->owner != peer->id)
                return mbus_router_reply_error(b, peer, frame->f.serial, -EPERM,
                                               "Peer %s does not own namespace %s",
                                               mbus_peer_format_id(peer, id), frame->f.namespace);

        fields.sender = mbus_peer_format_id(peer, id);
        r = mbus_frame_new_with_body_of(&fwd, MBUS_FRAME_EVENT, &fields, frame);
        if (r < 0)
                return r;

        if (frame->f.destination) {
                struct mbus_peer *dest = NULL;
                uint64_t dest_id;

                if (mbus_peer_id_parse(frame->f.destination, &dest_id) >= 0)
                        dest = mbus_broker_find_peer(b, dest_id);
                if (!mbus_peer_is_running(dest))
                        return mbus_router_reply_error(b, peer, frame->f.serial, -ESRCH, "No peer %s",
                                                       frame->f.destination);
                if (mbus_peer_queue(dest, fwd, MBUS_QUEUE_EVENT) >= 0)
                        b->stats.events_delivered++;
                return 0;
        }

        mbus_router_broadcast(b, fwd);
        return 0;
}

/* --- calls ------------------------------------------------------------------------------------ */

static int router_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *fwd = NULL;
        const struct mbus_config *c = b->config;
        struct mbus_frame_fields fields = frame->f;
        struct mbus_peer *callee;
        struct mbus_namespace *ns;
        char id[MBUS_PEER_ID_MAX];
        usec_t timeout, deadline;
        int r;

        b->stats.calls_routed++;

        ns = mbus_namespace_get(b->namespaces, frame->f.namespace);
        if (!ns)
                return mbus_router_reply_error(b, caller, frame->f.serial, -ENXIO,
                                               "Namespace %s has no owner", frame->f.namespace);
        if (ns->owner == MBUS_BROKER_ID)
                return mbus_driver_call(b, caller, frame);

        if (caller->calls_out.n >= c->max_pending_calls)
                return mbus_router_reply_error(b, caller, frame->f.serial, -ENOBUFS,
                                               "Too many pending calls (limit %zu)", c->max_pending_calls);

        callee = mbus_broker_find_peer(b, ns->owner);
        assert(callee);         /* a dropped peer owns nothing */

        fields.sender = mbus_peer_format_id(caller, id);
        r = mbus_frame_new_with_body_of(&fwd, MBUS_FRAME_CALL, &fields, frame);
        if (r < 0)
                return r;

        timeout = frame->f.timeout_usec > 0 ? frame->f.timeout_usec : c->default_call_timeout;
        timeout = MIN(timeout, c->max_call_timeout);
        deadline = usec_add(mbus_broker_now(b), timeout);

        r = mbus_pending_add(b->pending, caller->id, frame->f.serial, callee->id, deadline,
                             &caller->calls_out, &callee->calls_in);
        if (r == -EEXIST)
                return mbus_router_protocol_error(b, caller, "CALL reuses the serial of a pending call");
        if (r < 0)
                return r;

        r = mbus_peer_queue(callee, fwd, MBUS_QUEUE_CALL);
        if (r < 0) {
                (void) mbus_pending_complete(b->pending, caller->id, frame->f.serial, callee->id);
                if (r != -ENOBUFS)
                        return r;
                return mbus_router_reply_error(b, caller, frame->f.serial, -ENOBUFS,
                                               "The owner of %s does not keep up: its queue is full",
                                               frame->f.namespace);
        }

        mbus_broker_arm_call_timer(b, deadline);
        return 0;
}

/* A RETURN or ERROR from a callee: forwarded as is, if it answers a call pending on it. */
static int router_reply(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        struct mbus_peer *caller;
        uint64_t caller_id;
        int r;

        if (frame->f.reply_serial == 0) {
                /* A client's connection-level error: nothing to route. */
                (void) mbus_log(LOG_DEBUG, 0, MBUS_FIELDS(.peer = peer), "Peer :1.%" PRIu64 " reports error %s",
                                peer->id, frame->f.error_name ?: "?");
                return 0;
        }

        if (!frame->f.destination || mbus_peer_id_parse(frame->f.destination, &caller_id) < 0)
                r = -ENOENT;
        else
                r = mbus_pending_complete(b->pending, caller_id, frame->f.reply_serial, peer->id);
        if (r < 0) {
                /* Late (after Timeout) or bogus: normal, not an error of the replier. */
                b->stats.replies_dropped++;
                (void) mbus_log(LOG_DEBUG, r, MBUS_FIELDS(.peer = peer),
                                "Dropping %s from :1.%" PRIu64 " for %s serial %" PRIu64 ": no such pending call",
                                mbus_frame_type_to_string(frame->type), peer->id,
                                frame->f.destination ?: "(no destination)", frame->f.reply_serial);
                return 0;
        }

        caller = mbus_broker_find_peer(b, caller_id);
        assert(caller);         /* a dropped caller's entries are gone */
        r = mbus_peer_queue(caller, frame, MBUS_QUEUE_REPLY);
        return r == -ENOBUFS ? 0 : r;   /* -ENOBUFS: the caller was condemned, not this peer */
}

void mbus_router_expire_calls(struct mbus_broker *b, uint64_t now) {
        uint64_t caller_id, serial;

        while (mbus_pending_pop_expired(b->pending, now, &caller_id, &serial) > 0) {
                struct mbus_peer *caller = mbus_broker_find_peer(b, caller_id);

                if (caller)
                        (void) mbus_router_reply_error(b, caller, serial, -ETIMEDOUT, "Call timed out");
        }
}

/* --- control frames --------------------------------------------------------------------------- */

static int router_register(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        const char *name = frame->f.namespace;
        bool changed;
        int r;

        if (peer->namespaces.n >= MBUS_BROKER_MAX_NAMESPACES_PER_PEER)
                return mbus_router_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                                               "Too many namespaces (limit %u)",
                                               MBUS_BROKER_MAX_NAMESPACES_PER_PEER);

        r = mbus_namespace_register(b->namespaces, name, peer->id, &peer->namespaces,
                                    (const char *) frame->body, frame->body_len);
        if (r == -EEXIST) {
                struct mbus_namespace *ns = mbus_namespace_get(b->namespaces, name);

                return mbus_router_reply_error(b, peer, frame->f.serial, -EEXIST,
                                               "Namespace %s is owned by :1.%" PRIu64, name, ns->owner);
        }
        if (r < 0 && r != -EALREADY)
                return r;
        changed = r == 0;

        r = mbus_router_reply_return(b, peer, frame->f.serial, NULL);
        if (r < 0)
                return r;
        if (changed)
                mbus_driver_emit_owner_changed(b, name, /* old_owner= */ 0, peer->id);
        return 0;
}

static int router_unregister(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        const char *name = frame->f.namespace;
        int r;

        r = mbus_namespace_unregister(b->namespaces, name, peer->id);
        /* Whether somebody else owns it or nobody does, the answer is the same: not yours. */
        if (r == -ENOENT || r == -EPERM)
                return mbus_router_reply_error(b, peer, frame->f.serial, -EPERM,
                                               "Namespace %s is not owned by this peer", name);
        if (r < 0)
                return r;

        r = mbus_router_reply_return(b, peer, frame->f.serial, NULL);
        if (r < 0)
                return r;
        mbus_driver_emit_owner_changed(b, name, peer->id, /* new_owner= */ 0);
        return 0;
}

static int router_subscribe(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        int r;

        if (mbus_match_count_owner(b->matches, peer->id) >= MBUS_BROKER_MAX_SUBSCRIPTIONS_PER_PEER)
                return mbus_router_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                                               "Too many subscriptions (limit %u)",
                                               MBUS_BROKER_MAX_SUBSCRIPTIONS_PER_PEER);
        r = mbus_match_add(b->matches, frame->f.pattern, peer->id);
        if (r == -EINVAL)
                return mbus_router_reply_error(b, peer, frame->f.serial, -EINVAL, "Invalid pattern %s",
                                               frame->f.pattern);
        if (r < 0)
                return r;
        return mbus_router_reply_return(b, peer, frame->f.serial, NULL);
}

static int router_unsubscribe(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        int r;

        r = mbus_match_remove(b->matches, frame->f.pattern, peer->id);
        if (r == -ENOENT)
                return mbus_router_reply_error(b, peer, frame->f.serial, -ENOENT, "Not subscribed to %s",
                                               frame->f.pattern);
        if (r < 0)
                return r;
        return mbus_router_reply_return(b, peer, frame->f.serial, NULL);
}

/*
 * A client name ends up in logs and in ListPeers: keep at most MBUS_NAME_MAX bytes, cut at a
 * UTF-8 character boundary, with control characters replaced so that it cannot forge log lines.
 */
static int router_sanitize_name(const char *name, char **ret) {
        size_t len = name ? strlen(name) : 0;
        char *s;

        if (len > MBUS_NAME_MAX) {
                len = MBUS_NAME_MAX;
                while (len > 0 && ((unsigned char) name[len] & 0xC0) == 0x80)
                        len--;
        }
        s = strndup(name ?: "", len);
        if (!s)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '_';
        *ret = s;
        return 0;
}

static int router_hello(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        _cleanup_json_ json_object *o = NULL;
        const char *name = NULL;
        int r;

        if (frame->body_len > 0) {
                r = json_parse_bytes((const char *) frame->body, frame->body_len, &o);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return mbus_router_protocol_error(b, peer, "HELLO body is not valid JSON");
                if (o && json_object_is_type(o, json_type_object))
                        name = json_get_string(o, "name");
        }
        r = router_sanitize_name(name, &peer->name);
        if (r < 0)
                return r;

        peer->state = MBUS_PEER_RUNNING;
        peer->last_rx = mbus_broker_now(b);
        r = mbus_driver_welcome(b, peer, frame->f.serial);
        if (r < 0)
                return r;

        (void) mbus_log(LOG_DEBUG, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_CONNECTED, .peer = peer),
                        "Peer :1.%" PRIu64 " (%s) connected", peer->id, peer->name);
        mbus_driver_emit_peer_connected(b, peer);
        return 0;
}

int mbus_router_dispatch(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        assert(b && peer && frame);

        if (peer->state == MBUS_PEER_HANDSHAKE) {
                if (frame->type != MBUS_FRAME_HELLO)
                        return mbus_router_protocol_error(b, peer, "expected HELLO as the first frame");
                if (frame->f.sender)
                        return mbus_router_protocol_error(b, peer, "the sender field is written by the broker only");
                return router_hello(b, peer, frame);
        }

        if (frame->f.sender)
                return mbus_router_protocol_error(b, peer, "the sender field is written by the broker only");

        switch (frame->type) {
        case MBUS_FRAME_CALL:
                return router_call(b, peer, frame);
        case MBUS_FRAME_RETURN:
        case MBUS_FRAME_ERROR:
                return router_reply(b, peer, frame);
        case MBUS_FRAME_EVENT:
                return router_event(b, peer, frame);
        case MBUS_FRAME_REGISTER:
                return router_register(b, peer, frame);
        case MBUS_FRAME_UNREGISTER:
                return router_unregister(b, peer, frame);
        case MBUS_FRAME_SUBSCRIBE:
                return router_subscribe(b, peer, frame);
        case MBUS_FRAME_UNSUBSCRIBE:
                return router_unsubscribe(b, peer, frame);
        case MBUS_FRAME_PING:
                return router_queue_new(b, peer, MBUS_FRAME_PONG,
                                        &(const struct mbus_frame_fields) { .reply_serial = frame->f.serial }, NULL);
        case MBUS_FRAME_PONG:
                return 0;       /* activity was noted at read time */
        case MBUS_FRAME_HELLO:
                return mbus_router_protocol_error(b, peer, "HELLO sent twice");
        case MBUS_FRAME_WELCOME:
                return mbus_router_protocol_error(b, peer, "WELCOME is sent by the broker only");
        default:
                return mbus_router_protocol_error(b, peer, "unknown frame type");
        }
}
