/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The router: a frame's type and header fields decide everything; bodies pass through
 * untouched (a forwarded CALL or EVENT gets a new head with the sender and keeps a reference
 * on the original body). The only bodies parsed are HELLO's, REGISTER declarations (once, at
 * REGISTER), those of the broker's own procedures (driver.c), and CALL/EVENT bodies of the
 * namespaces that have an interface file or whose owner declared argument types at REGISTER
 * (conf/introspection.c). A file wins over a declaration: where both exist, the file checks.
 *
 * Access policy: REGISTER is checked for own, CALL for call (the broker's own procedures
 * included), an exact SUBSCRIBE pattern for subscribe, a direct EVENT for send; wildcard
 * subscriptions are filtered per event at delivery. The policy only answers; denials are logged
 * and answered here (router_check()). A namespace with neither a policy nor an interface file
 * costs one hash lookup in each table per frame (both tables skip even that when empty).
 *
 * Exactly one answer per CALL: every path through router_call() either forwards the call and
 * records it in the pending table (whose removal paths each owe one answer, see pending.h),
 * or answers it here, through reply.c: the one place ERROR frames are built, naming errors
 * through the errno table of proto/errors.c.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "broker.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "conf/policy.h"
#include "driver.h"
#include "log-ids.h"
#include "match.h"
#include "monitor.h"
#include "namespace.h"
#include "ns-stats.h"
#include "peer.h"
#include "pending.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "quota.h"
#include "reply.h"
#include "router.h"
#include "stats.h"
#include "util/json-util.h"

/* --- access ----------------------------------------------------------------------------------- */

static void router_log_denied(struct mbus_broker *b, struct mbus_peer *peer, enum mbus_policy_action action,
                              const char *ns, const char *member, const char *why) {
        char who[MBUS_CREDS_DESCRIBE_MAX];

        if (!mbus_broker_log_ratelimit(b, &b->denied_log_ratelimit, LOG_NOTICE, -EACCES, MBUS_MSGID_ACCESS_DENIED,
                                       "access denials"))
                return;
        (void) mbus_log(LOG_NOTICE, -EACCES,
                        MBUS_FIELDS(.msgid = MBUS_MSGID_ACCESS_DENIED, .peer = peer, .ns = ns, .member = member,
                                    .action = mbus_policy_action_to_string(action), .rule = why),
                        "Access denied: %s %s%s%s by %s (:1.%" PRIu64 "): %s",
                        mbus_policy_action_to_string(action), ns, member ? "." : "", member ?: "",
                        mbus_creds_describe(&peer->creds, who, sizeof(who)), peer->id, why);
}

/*
 * Checks peer's right to do action on ns (member) and, if denied, logs and answers
 * AccessDenied naming the deciding rule. Returns 0 if allowed, -EACCES if denied and answered,
 * another negative errno if the answer could not be queued.
 */
static int router_check(struct mbus_broker *b, struct mbus_peer *peer, uint64_t serial,
                        enum mbus_policy_action action, const char *ns, const char *member, const uid_t *owner_uid) {
        struct mbus_policy_decision d;
        struct mbus_identity who;
        char why[512], desc[MBUS_CREDS_DESCRIBE_MAX];
        int r;

        mbus_creds_to_identity(&peer->creds, &who);
        if (mbus_policy_check(b->policy, &who, action, ns, member, owner_uid, &d) >= 0)
                return 0;

        (void) mbus_policy_decision_describe(&d, why, sizeof(why));
        router_log_denied(b, peer, action, ns, member, why);
        r = mbus_reply_error(b, peer, serial, -EACCES, "Access denied: %s %s%s%s by %s: %s",
                             mbus_policy_action_to_string(action), ns, member ? "." : "", member ?: "",
                             mbus_creds_describe(&peer->creds, desc, sizeof(desc)), why);
        return r < 0 ? r : -EACCES;
}

/*
 * The sender field (and a CALL's caller fields) make a forwarded CALL or EVENT longer than the frame that came in, and
 * receivers take frames up to the advertised max_frame_size only (libmbus sets its input limit
 * to it): a frame that would grow past it is refused here with LimitsExceeded and goes nowhere,
 * instead of breaking the receiver's connection. Returns 0 if fwd may go, -ENOBUFS if refused
 * and answered, another negative errno if the answer could not be queued.
 */
static int router_check_forward_size(struct mbus_broker *b, struct mbus_peer *peer, const struct mbus_frame *frame,
                                     const struct mbus_frame *fwd) {
        int r;

        if (mbus_frame_size(fwd) <= b->options->max_frame_size)
                return 0;
        r = mbus_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                             "frame too large to forward with its sender field (%zu bytes, limit %zu)",
                             mbus_frame_size(fwd), b->options->max_frame_size);
        return r < 0 ? r : -ENOBUFS;
}

/* --- per-namespace counters ------------------------------------------------------------------- */

/* Whether ns exists: the bound on the names ns-stats.c keeps counters for. */
static bool router_ns_exists(const char *ns, void *userdata) {
        struct mbus_broker *b = userdata;

        return mbus_namespace_get(b->namespaces, ns) || mbus_introspection_get(b->interfaces, ns);
}

/*
 * The counters of the namespace name (borrowed), or NULL if it does not exist. entry is its
 * registry entry, NULL if it has none: the entry keeps a reference from the first count on,
 * so that counting for an owned namespace costs no lookup. Others (an interface file and no
 * owner) are looked up in the table at each count: a sweep may free them.
 */
static struct mbus_ns_counters *router_ns_counters(struct mbus_broker *b, struct mbus_namespace *entry,
                                                   const char *name) {
        struct mbus_ns_counters *c;

        if (entry && entry->counters)
                return entry->counters;
        if (!name)
                return NULL;
        c = mbus_ns_stats_get(b->ns_stats, name,
                              mbus_namespace_registry_size(b->namespaces) + mbus_introspection_size(b->interfaces),
                              router_ns_exists, b);
        if (c && entry)
                entry->counters = mbus_ns_counters_ref(c);
        return c;
}

static struct mbus_ns_counters *router_ns_counters_by_name(struct mbus_broker *b, const char *name) {
        return router_ns_counters(b, mbus_namespace_get(b->namespaces, name), name);
}

void mbus_router_count_error(struct mbus_broker *b, const struct mbus_frame *context) {
        struct mbus_ns_counters *c = context ? router_ns_counters_by_name(b, context->f.namespace) : NULL;

        if (c)
                c->errors++;
}

/* --- peers the tables point at ---------------------------------------------------------------- */

/*
 * The registry and the pending table keep ids and the lists a peer embeds, never a peer; both
 * lists leave with their peer (a dropped peer owns nothing and has no call pending), so the
 * peer a list is embedded in is there to be found without a lookup by id.
 */
static struct mbus_peer *router_owner_of(const struct mbus_namespace *ns) {
        if (!ns->owner_list)
                return NULL;    /* the broker's own */
        return (struct mbus_peer *) ((char *) ns->owner_list - offsetof(struct mbus_peer, namespaces));
}

static struct mbus_peer *router_caller_of(const struct mbus_pending *call) {
        return (struct mbus_peer *) ((char *) call->caller_list - offsetof(struct mbus_peer, calls_out));
}

/* --- events ----------------------------------------------------------------------------------- */

struct router_broadcast {
        struct mbus_broker *broker;
        struct mbus_frame *event;
        const struct mbus_policy_namespace *policy;     /* looked up once per event */
        uid_t owner_uid;
};

static void router_deliver(uint64_t owner, void *owner_data, void *userdata) {
        struct router_broadcast *bc = userdata;
        struct mbus_peer *peer = owner_data;    /* subscriptions leave the index with their peer */
        struct mbus_identity who;

        if (!mbus_peer_is_running(peer))
                return;

        /*
         * A subscriber sees only what it may subscribe to: exact patterns were checked at
         * SUBSCRIBE, wildcards are checked here, per event (a reload may also have changed the
         * verdict of an exact one). Skipped silently; not a drop.
         */
        mbus_creds_to_identity(&peer->creds, &who);
        if (mbus_policy_check_namespace(bc->broker->policy, bc->policy, &who, MBUS_POLICY_SUBSCRIBE,
                                        bc->event->f.member, &bc->owner_uid, NULL) < 0) {
                (void) mbus_log(LOG_DEBUG, 0, MBUS_FIELDS(.peer = peer, .ns = bc->event->f.namespace,
                                                          .member = bc->event->f.member),
                                "Not delivering %s.%s to :1.%" PRIu64 ": not allowed to subscribe to it",
                                bc->event->f.namespace, bc->event->f.member, peer->id);
                return;
        }

        /* EVENT-class queueing never condemns a peer, so the index stays unchanged under us. */
        if (mbus_peer_queue(peer, bc->event, MBUS_QUEUE_EVENT) >= 0)
                bc->broker->stats.events_delivered++;
}

/* counters: the event's namespace's (NULL: none, not counted). */
static void router_broadcast(struct mbus_broker *b, struct mbus_frame *event, uid_t owner_uid,
                             struct mbus_ns_counters *counters) {
        struct router_broadcast bc = {
                .broker = b,
                .event = event,
                .policy = mbus_policy_find(b->policy, event->f.namespace),
                .owner_uid = owner_uid,
        };

        if (counters)
                counters->events++;
        (void) mbus_match_lookup(b->matches, event->f.namespace, event->f.member, router_deliver, &bc);
        if (b->monitors) {
                uint64_t sender = MBUS_BROKER_ID;

                (void) mbus_peer_id_parse(event->f.sender, &sender);
                mbus_monitor_copy(b, event, NULL, NULL, sender, 0);
        }
}

void mbus_router_broadcast(struct mbus_broker *b, struct mbus_frame *event, uid_t owner_uid) {
        router_broadcast(b, event, owner_uid, router_ns_counters_by_name(b, event->f.namespace));
}

/*
 * What a namespace's CALL and EVENT bodies are checked against: its interface file, which wins,
 * else its owner's declaration if that typed anything (an untyped one costs no lookup), else
 * nothing (NULL). ns may be NULL (no owner).
 */
static const struct mbus_idl_namespace *router_description(struct mbus_broker *b, const struct mbus_namespace *ns,
                                                           const char *name) {
        const struct mbus_idl_namespace *file = mbus_introspection_get(b->interfaces, name);

        if (file)
                return file;
        return ns && ns->typed ? ns->described : NULL;
}

/* The broker's bounds on checking a body, where the interface file sets none. */
static struct mbus_idl_limits router_body_limits(const struct mbus_broker *b) {
        return (struct mbus_idl_limits) {
                .max_size = b->options->max_body_size,
                .max_depth = b->options->max_body_depth,
        };
}

static int router_event(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *fwd = NULL;
        struct mbus_frame_fields fields = frame->f;
        const struct mbus_idl_namespace *file;
        struct mbus_ns_counters *c;
        struct mbus_namespace *ns;
        int r;

        ns = mbus_namespace_get(b->namespaces, frame->f.namespace);
        if (!ns || ns->owner != peer->id)
                return mbus_reply_error(b, peer, frame->f.serial, -EPERM,
                                        "Peer %s does not own namespace %s",
                                        mbus_peer_id_string(peer), frame->f.namespace);

        if (frame->f.destination) {
                uid_t owner_uid = mbus_broker_peer_uid(b, peer);

                r = router_check(b, peer, frame->f.serial, MBUS_POLICY_SEND, frame->f.namespace, frame->f.member,
                                 &owner_uid);
                if (r < 0)
                        return r == -EACCES ? 0 : r;
        }

        file = router_description(b, ns, frame->f.namespace);
        if (file) {
                struct mbus_idl_limits limits = router_body_limits(b);
                char reason[512];

                r = mbus_introspection_check_event(file, frame->f.member, frame->body, frame->body_len,
                                                   &limits, reason, sizeof(reason));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return mbus_reply_error(b, peer, frame->f.serial, r == -ENOBUFS ? r : -EINVAL, "%s",
                                                reason);
        }

        fields.sender = mbus_peer_id_string(peer);
        r = mbus_frame_new_with_body_of(&fwd, MBUS_FRAME_EVENT, &fields, frame);
        if (r < 0)
                return r;
        r = router_check_forward_size(b, peer, frame, fwd);
        if (r < 0)
                return r == -ENOBUFS ? 0 : r;

        if (frame->f.destination) {
                struct mbus_peer *dest = NULL;
                uint64_t dest_id;

                if (mbus_peer_id_parse(frame->f.destination, &dest_id) >= 0)
                        dest = mbus_broker_find_peer(b, dest_id);
                if (!mbus_peer_is_running(dest))
                        return mbus_reply_error(b, peer, frame->f.serial, -ESRCH, "No peer %s",
                                                frame->f.destination);
                c = router_ns_counters(b, ns, frame->f.namespace);
                if (c)
                        c->events++;
                if (mbus_peer_queue(dest, fwd, MBUS_QUEUE_EVENT) >= 0)
                        b->stats.events_delivered++;
                if (b->monitors)
                        mbus_monitor_copy(b, fwd, NULL, NULL, peer->id, dest_id);
                return 0;
        }

        router_broadcast(b, fwd, mbus_broker_peer_uid(b, peer), router_ns_counters(b, ns, frame->f.namespace));
        return 0;
}

/* --- calls ------------------------------------------------------------------------------------ */

/* A call's deadline: its own timeout (or the default), capped by --max-call-timeout. */
static usec_t router_call_deadline(struct mbus_broker *b, const struct mbus_frame *frame) {
        const struct mbus_options *c = b->options;
        usec_t timeout = frame->f.timeout_usec > 0 ? frame->f.timeout_usec : c->default_call_timeout;

        return usec_add(mbus_broker_now(b), MIN(timeout, c->max_call_timeout));
}

/*
 * Checks a CALL's arguments against the namespace's interface file (NULL: none, nothing to
 * check). Returns 0 if they fit, 1 if not and answered InvalidArgs, or a negative errno.
 */
static int router_check_call_args(struct mbus_broker *b, struct mbus_peer *caller, const struct mbus_frame *frame,
                                  const struct mbus_idl_namespace *file) {
        struct mbus_idl_limits limits = router_body_limits(b);
        char reason[512];
        int r;

        if (!file)
                return 0;
        r = mbus_introspection_check_call(file, frame->f.member, frame->body, frame->body_len,
                                          &limits, reason, sizeof(reason));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                r = mbus_reply_error(b, caller, frame->f.serial, r, "%s", reason);
                return r < 0 ? r : 1;
        }
        return 0;
}

/*
 * A CALL to a namespace without owner whose file says how to start it: held by activation.c
 * until the service registers. The caller's right to call is checked now, against the owner
 * the service will be (the broker's user for a command; unknown for a unit), so that nobody
 * starts services they could not call; it is checked again when the call is delivered.
 */
static int router_call_activate(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame,
                                usec_t deadline) {
        const struct mbus_idl_namespace *file = mbus_introspection_get(b->interfaces, frame->f.namespace);
        char why[512];
        uid_t owner_uid = b->uid;
        int r;

        r = router_check(b, caller, frame->f.serial, MBUS_POLICY_CALL, frame->f.namespace, frame->f.member,
                         file->exec ? &owner_uid : NULL);
        if (r < 0)
                return r == -EACCES ? 0 : r;
        r = router_check_call_args(b, caller, frame, file);
        if (r != 0)
                return r < 0 ? r : 0;

        r = mbus_activation_queue_call(b->activation, frame->f.namespace, caller, frame,
                                       deadline ?: router_call_deadline(b, frame), why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return mbus_reply_error(b, caller, frame->f.serial, r, "%s", why);
        return 0;
}

/*
 * deadline: that of a call held by activation, 0 for a call that just came. ns: the
 * namespace's registry entry, NULL if it has no owner; counters: its counters (NULL: none),
 * which the pending call keeps for its answer.
 */
static int router_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame, usec_t deadline,
                       struct mbus_namespace *ns, struct mbus_ns_counters *counters) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *fwd = NULL;
        const struct mbus_options *c = b->options;
        struct mbus_frame_fields fields = frame->f;
        const struct mbus_idl_namespace *file;
        struct mbus_peer *callee;
        uid_t owner_uid;
        int r;

        if (!ns && mbus_activation_is_activatable(b, frame->f.namespace))
                return router_call_activate(b, caller, frame, deadline);
        if (!ns)
                return mbus_reply_error(b, caller, frame->f.serial, -ENXIO,
                                        "Namespace %s has no owner", frame->f.namespace);
        callee = router_owner_of(ns);
        assert(callee ? callee->id == ns->owner : ns->owner == MBUS_BROKER_ID);
        owner_uid = callee ? mbus_broker_peer_uid(b, callee) : b->uid;

        r = router_check(b, caller, frame->f.serial, MBUS_POLICY_CALL, frame->f.namespace, frame->f.member,
                         &owner_uid);
        if (r < 0)
                return r == -EACCES ? 0 : r;

        /* Nothing above parsed the body; the broker's own procedures do not take large ones. */
        if (!callee && frame->body_len > MBUS_DRIVER_BODY_MAX)
                return mbus_reply_error(b, caller, frame->f.serial, -ENOBUFS,
                                        "Arguments larger than %u bytes", MBUS_DRIVER_BODY_MAX);

        file = router_description(b, ns, frame->f.namespace);
        r = router_check_call_args(b, caller, frame, file);
        if (r != 0)
                return r < 0 ? r : 0;

        /* calls_routed counts the calls that reach a callee: the driver or a forwarded one. */
        if (!callee) {
                b->stats.calls_routed++;
                if (b->monitors)
                        mbus_monitor_copy(b, frame, NULL, NULL, caller->id, MBUS_BROKER_ID);
                return mbus_driver_call(b, caller, frame);
        }

        if (caller->calls_out.n >= c->max_pending_calls)
                return mbus_reply_error(b, caller, frame->f.serial, -ENOBUFS,
                                        "Too many pending calls (limit %zu)", c->max_pending_calls);
        r = mbus_quota_check_request(b, caller, frame->f.serial, MBUS_QUOTA_PENDING_CALLS, 1);
        if (r < 0)
                return r == -ENOBUFS ? 0 : r;

        fields.sender = mbus_peer_id_string(caller);
        if (callee->wants_caller)
                mbus_creds_to_caller_fields(&caller->creds, caller->caller_groups, caller->name, &fields);
        r = mbus_frame_new_with_body_of(&fwd, MBUS_FRAME_CALL, &fields, frame);
        if (r < 0)
                return r;
        r = router_check_forward_size(b, caller, frame, fwd);
        if (r < 0)
                return r == -ENOBUFS ? 0 : r;

        if (deadline == 0)
                deadline = router_call_deadline(b, frame);

        /* The call's names and counters stay with it: its answer is counted and shown by them. */
        r = mbus_pending_add_call(b->pending, caller->id, frame->f.serial, callee->id, deadline,
                                  &caller->calls_out, &callee->calls_in, frame->f.namespace, frame->f.member,
                                  counters);
        if (r == -EEXIST)
                return mbus_reply_protocol_error(b, caller, "CALL reuses the serial of a pending call");
        if (r < 0)
                return r;

        r = mbus_peer_queue(callee, fwd, MBUS_QUEUE_CALL);
        if (r < 0) {
                (void) mbus_pending_complete(b->pending, caller->id, frame->f.serial, callee->id);
                if (r != -ENOBUFS)
                        return r;
                return mbus_reply_error(b, caller, frame->f.serial, -ENOBUFS,
                                        "The owner of %s does not keep up: its queue is full",
                                        frame->f.namespace);
        }

        b->stats.calls_routed++;
        mbus_broker_arm_call_timer(b, deadline);
        if (b->monitors)
                mbus_monitor_copy(b, fwd, NULL, NULL, caller->id, callee->id);
        return 0;
}

/*
 * Routes a call, counting it against its namespace if it just came (deadline 0; one that
 * activation held was counted when it came), and an ERROR the broker answered it with.
 */
static int router_call_counted(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame,
                               usec_t deadline) {
        struct mbus_namespace *ns = mbus_namespace_get(b->namespaces, frame->f.namespace);
        /* Held across the call: the broker's own procedures may change the registry. */
        _cleanup_(mbus_ns_counters_unrefp) struct mbus_ns_counters *c =
                mbus_ns_counters_ref(router_ns_counters(b, ns, frame->f.namespace));
        uint64_t errors = b->stats.errors_sent;
        int r;

        if (c && deadline == 0)
                c->calls++;
        r = router_call(b, caller, frame, deadline, ns, c);
        if (c && b->stats.errors_sent != errors)
                c->errors++;
        return r;
}

int mbus_router_route_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame,
                           uint64_t deadline) {
        assert(b && caller && frame && deadline > 0);
        /* A call activation held: counted when it came. */
        return router_call_counted(b, caller, frame, deadline);
}

/*
 * An ERROR from a service goes on with the service's id as its sender, so that the caller can
 * tell it from the broker's own errors, which never carry one: services may use names of
 * org.mbus.Error too (man mbus-protocol(7), ERRORS). Only errors are marked: they are rare, and
 * RETURN stays a zero-copy forward. Returns 1 and the marked frame, 0 if the marked frame would
 * exceed the frame size and the caller got LimitsExceeded instead, or a negative errno.
 */
static int router_mark_service_error(struct mbus_broker *b, struct mbus_peer *service, struct mbus_peer *caller,
                                     struct mbus_frame *frame, struct mbus_frame **ret) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *marked = NULL;
        struct mbus_frame_fields fields = frame->f;
        int r;

        fields.sender = mbus_peer_id_string(service);
        r = mbus_frame_new_with_body_of(&marked, MBUS_FRAME_ERROR, &fields, frame);
        if (r < 0)
                return r;
        if (mbus_frame_size(marked) > b->options->max_frame_size) {
                r = mbus_reply_error(b, caller, frame->f.reply_serial, -ENOBUFS,
                                     "The error %s from :1.%" PRIu64 " is too large to forward with its sender "
                                     "field (limit %zu bytes)", frame->f.error_name, service->id,
                                     b->options->max_frame_size);
                return r < 0 ? r : 0;
        }
        *ret = TAKE_PTR(marked);
        return 1;
}

/* A RETURN (as is) or ERROR (marked with its sender) from a callee: forwarded if it answers a
 * call pending on it. */
static int router_reply(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *marked = NULL;
        _cleanup_(mbus_pending_freep) struct mbus_pending *call = NULL;
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
        else    /* The entry, out of the table, is kept for the count and the copy below. */
                r = mbus_pending_take(b->pending, caller_id, frame->f.reply_serial, peer->id, &call);
        if (r < 0) {
                /* Late (after Timeout) or bogus: normal, not an error of the replier. */
                b->stats.replies_dropped++;
                (void) mbus_log(LOG_DEBUG, r, MBUS_FIELDS(.peer = peer),
                                "Dropping %s from :1.%" PRIu64 " for %s serial %" PRIu64 ": no such pending call",
                                mbus_frame_type_to_string(frame->type), peer->id,
                                frame->f.destination ?: "(no destination)", frame->f.reply_serial);
                return 0;
        }

        if (frame->type == MBUS_FRAME_ERROR && call->counters)
                call->counters->errors++;
        caller = router_caller_of(call);
        assert(caller->id == caller_id);
        if (frame->type == MBUS_FRAME_ERROR) {
                /* The caller owes its answer to this frame alone (the call is no longer pending),
                 * so a failure to mark it is answered in its place, never dropped. */
                r = router_mark_service_error(b, peer, caller, frame, &marked);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
                frame = marked;
        }
        r = mbus_peer_queue(caller, frame, MBUS_QUEUE_REPLY);
        if (b->monitors)
                mbus_monitor_copy(b, frame, call->namespace, call->member, peer->id, caller_id);
        return r == -ENOBUFS ? 0 : r;   /* -ENOBUFS: the caller was condemned, not this peer */
}

void mbus_router_expire_calls(struct mbus_broker *b, uint64_t now) {
        struct mbus_pending *call;

        while ((call = mbus_pending_take_expired(b->pending, now))) {
                if (call->counters)
                        call->counters->errors++;
                (void) mbus_reply_error(b, router_caller_of(call), call->key.serial, -ETIMEDOUT, "Call timed out");
                (void) mbus_pending_free(call);
        }
}

/* --- control frames --------------------------------------------------------------------------- */

static bool router_declaration_is_typed(const struct mbus_idl_namespace *d) {
        for (size_t i = 0; i < d->n_procedures; i++)
                if (!d->procedures[i].untyped)
                        return true;
        for (size_t i = 0; i < d->n_events; i++)
                if (!d->events[i].untyped)
                        return true;
        return false;
}

/*
 * The declaration's names must be in the namespace's interface file where there is one; its
 * types, if any, are then kept for Introspect of a namespace without a file only: the file wins.
 */
static int router_register(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *described = NULL;
        const struct mbus_idl_namespace *file;
        const char *name = frame->f.namespace;
        struct mbus_file_error why = {};
        struct mbus_namespace *entry;
        bool changed;
        int r;

        /* Re-registering one's own namespace (to update the declaration) adds nothing. */
        entry = mbus_namespace_get(b->namespaces, name);
        if (!(entry && entry->owner == peer->id) && peer->namespaces.n >= MBUS_BROKER_MAX_NAMESPACES_PER_PEER)
                return mbus_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                                        "Too many namespaces (limit %u)",
                                        MBUS_BROKER_MAX_NAMESPACES_PER_PEER);
        if (!(entry && entry->owner == peer->id)) {
                r = mbus_quota_check_request(b, peer, frame->f.serial, MBUS_QUOTA_NAMESPACES, 1);
                if (r < 0)
                        return r == -ENOBUFS ? 0 : r;
        }

        r = router_check(b, peer, frame->f.serial, MBUS_POLICY_OWN, name, /* member= */ NULL, /* owner_uid= */ NULL);
        if (r < 0)
                return r == -EACCES ? 0 : r;

        /* The declaration is parsed here, once; Introspect and the file check use the result. */
        if (frame->body_len > MBUS_ROUTER_DECLARATION_MAX)
                return mbus_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                                        "REGISTER body larger than %u bytes", MBUS_ROUTER_DECLARATION_MAX);
        r = mbus_idl_from_declaration_with_error(&described, name, (const char *) frame->body, frame->body_len,
                                                 &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return mbus_reply_error(b, peer, frame->f.serial, -EINVAL,
                                        "REGISTER body must be {\"procedures\": [...], \"events\": [...]} with "
                                        "valid member names (or members with typed arguments), each once%s%s",
                                        why.message[0] ? ": " : "", why.message);
        file = mbus_introspection_get(b->interfaces, name);
        if (file) {
                char reason[512];

                r = mbus_introspection_check_declaration(file, described, reason, sizeof(reason));
                if (r < 0)
                        return mbus_reply_error(b, peer, frame->f.serial, -EINVAL, "%s (%s)", reason,
                                                file->path ?: "");
        }

        r = mbus_namespace_register(b->namespaces, name, peer->id, &peer->namespaces);
        if (r == -EEXIST) {
                struct mbus_namespace *ns = mbus_namespace_get(b->namespaces, name);

                return mbus_reply_error(b, peer, frame->f.serial, -EEXIST,
                                        "Namespace %s is owned by :1.%" PRIu64, name, ns->owner);
        }
        if (r < 0 && r != -EALREADY)
                return r;
        changed = r == 0;
        entry = mbus_namespace_get(b->namespaces, name);
        mbus_idl_namespace_free(entry->described);
        entry->described = TAKE_PTR(described);
        entry->typed = router_declaration_is_typed(entry->described);

        r = mbus_reply_return(b, peer, frame->f.serial, NULL);
        if (r < 0)
                return r;
        if (changed) {
                mbus_driver_emit_owner_changed(b, name, /* old_owner= */ 0, peer->id);
                mbus_activation_registered(b->activation, name);
        }
        return 0;
}

static int router_unregister(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        const char *name = frame->f.namespace;
        int r;

        r = mbus_namespace_unregister(b->namespaces, name, peer->id);
        /* Whether somebody else owns it or nobody does, the answer is the same: not yours. */
        if (r == -ENOENT || r == -EPERM)
                return mbus_reply_error(b, peer, frame->f.serial, -EPERM,
                                        "Namespace %s is not owned by this peer", name);
        if (r < 0)
                return r;

        r = mbus_reply_return(b, peer, frame->f.serial, NULL);
        if (r < 0)
                return r;
        mbus_driver_emit_owner_changed(b, name, peer->id, /* new_owner= */ 0);
        return 0;
}

/*
 * An exact pattern NAMESPACE.EVENT is checked now; wildcards are accepted and filtered per
 * event at delivery (router_deliver()).
 */
static int router_subscribe_check(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        const char *pattern = frame->f.pattern, *dot;
        char ns[MBUS_NAME_MAX + 1];
        struct mbus_namespace *entry;
        uid_t owner_uid;

        if (!mbus_pattern_is_valid(pattern) || strchr(pattern, '*'))
                return 0;
        dot = strrchr(pattern, '.');
        if (!dot || (size_t) (dot - pattern) > MBUS_NAME_MAX)
                return 0;
        memcpy(ns, pattern, (size_t) (dot - pattern));
        ns[dot - pattern] = 0;

        entry = mbus_namespace_get(b->namespaces, ns);
        if (entry)
                owner_uid = mbus_broker_uid_of(b, entry->owner);
        return router_check(b, peer, frame->f.serial, MBUS_POLICY_SUBSCRIBE, ns, dot + 1,
                            entry ? &owner_uid : NULL);
}

static int router_subscribe(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        int r;

        r = router_subscribe_check(b, peer, frame);
        if (r < 0)
                return r == -EACCES ? 0 : r;

        if (mbus_match_count_owner(b->matches, peer->id) >= MBUS_BROKER_MAX_SUBSCRIPTIONS_PER_PEER)
                return mbus_reply_error(b, peer, frame->f.serial, -ENOBUFS,
                                        "Too many subscriptions (limit %u)",
                                        MBUS_BROKER_MAX_SUBSCRIPTIONS_PER_PEER);
        r = mbus_quota_check_request(b, peer, frame->f.serial, MBUS_QUOTA_SUBSCRIPTIONS, 1);
        if (r < 0)
                return r == -ENOBUFS ? 0 : r;
        r = mbus_match_add(b->matches, frame->f.pattern, peer->id, peer);
        if (r == -EINVAL)
                return mbus_reply_error(b, peer, frame->f.serial, -EINVAL, "Invalid pattern %s",
                                        frame->f.pattern);
        if (r < 0)
                return r;
        if (r > 0)      /* a new entry; a repeated pattern only raises a count */
                mbus_user_charge(peer->user, MBUS_QUOTA_SUBSCRIPTIONS, 1);
        return mbus_reply_return(b, peer, frame->f.serial, NULL);
}

static int router_unsubscribe(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame) {
        size_t before = mbus_match_count_owner(b->matches, peer->id);
        int r;

        r = mbus_match_remove(b->matches, frame->f.pattern, peer->id);
        if (r == -ENOENT)
                return mbus_reply_error(b, peer, frame->f.serial, -ENOENT, "Not subscribed to %s",
                                        frame->f.pattern);
        if (r < 0)
                return r;
        /* Only the last of a pattern's repeated subscriptions frees its entry. */
        mbus_user_uncharge(peer->user, MBUS_QUOTA_SUBSCRIPTIONS, before - mbus_match_count_owner(b->matches, peer->id));
        return mbus_reply_return(b, peer, frame->f.serial, NULL);
}

/*
 * A client name ends up in logs and in ListPeers, GetPeer and PeerConnected, which must be
 * valid JSON for every client: keep at most MBUS_NAME_MAX bytes of whole UTF-8 characters,
 * each byte that is not part of a well-formed one replaced by '?', and control characters by
 * '_' so that it cannot forge log lines.
 */
static int router_sanitize_name(const char *name, char **ret) {
        size_t len = name ? strlen(name) : 0, i = 0, k = 0;
        char *s;

        s = malloc(MIN(len, (size_t) MBUS_NAME_MAX) + 1);
        if (!s)
                return -ENOMEM;
        while (i < len) {
                size_t n = mbus_utf8_char_len(name + i, len - i);

                if (k + MAX(n, (size_t) 1) > MBUS_NAME_MAX)
                        break;
                if (n == 0) {
                        s[k++] = '?';
                        i++;
                        continue;
                }
                if (n == 1 && ((unsigned char) name[i] < 0x20 || name[i] == 0x7f))
                        s[k++] = '_';
                else
                        memcpy(s + k, name + i, n), k += n;
                i += n;
        }
        s[k] = 0;
        *ret = s;
        return 0;
}

/*
 * The optional features a client asks for in HELLO ("features": ["caller", ...]); the broker
 * grants the ones it knows and names them in WELCOME. Unknown names are ignored, so that a
 * newer client works with an older broker. Returns 0, or -EINVAL if "features" is not an array
 * of strings.
 */
static int router_hello_features(struct mbus_peer *peer, json_object *hello) {
        json_object *features;

        if (!json_object_object_get_ex(hello, "features", &features))
                return 0;
        if (!json_object_is_type(features, json_type_array))
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(features); i++) {
                json_object *v = json_object_array_get_idx(features, i);

                if (!json_object_is_type(v, json_type_string))
                        return -EINVAL;
                if (strcmp(json_object_get_string(v), MBUS_FEATURE_CALLER) == 0)
                        peer->wants_caller = true;
        }
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
                        return mbus_reply_protocol_error(b, peer, "HELLO body is not valid JSON");
                if (o && json_object_is_type(o, json_type_object)) {
                        name = json_get_string(o, "name");
                        if (router_hello_features(peer, o) < 0)
                                return mbus_reply_protocol_error(b, peer,
                                                                 "HELLO features must be an array of strings");
                }
        }
        r = router_sanitize_name(name, &peer->name);
        if (r < 0)
                return r;
        r = mbus_creds_format_groups(&peer->creds, &peer->caller_groups);
        if (r < 0)
                return r;

        mbus_peer_set_running(peer);
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
                        return mbus_reply_protocol_error(b, peer, "expected HELLO as the first frame");
                if (frame->f.sender)
                        return mbus_reply_protocol_error(b, peer, "the sender field is written by the broker only");
                return router_hello(b, peer, frame);
        }

        if (frame->f.sender)
                return mbus_reply_protocol_error(b, peer, "the sender field is written by the broker only");
        if (mbus_frame_fields_have_caller(&frame->f))
                return mbus_reply_protocol_error(b, peer, "the caller fields are written by the broker only");

        switch (frame->type) {
        case MBUS_FRAME_CALL:
                return router_call_counted(b, peer, frame, /* deadline= */ 0);
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
                return mbus_reply_pong(b, peer, frame->f.serial);
        case MBUS_FRAME_PONG:
                return 0;       /* activity was noted at read time */
        case MBUS_FRAME_HELLO:
                return mbus_reply_protocol_error(b, peer, "HELLO sent twice");
        case MBUS_FRAME_WELCOME:
                return mbus_reply_protocol_error(b, peer, "WELCOME is sent by the broker only");
        default:
                return mbus_reply_protocol_error(b, peer, "unknown frame type");
        }
}
