/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Events: emitting them, and subscriptions with local dispatch.
 *
 * The broker sends each event once per peer however many of its patterns match, so the
 * library matches again locally (mbus_pattern_matches()) and runs every subscription whose
 * pattern matches, each once, in the order they were made. The broker's subscription count
 * per pattern is kept at one: the first local slot with a pattern sends SUBSCRIBE (and waits
 * for the answer), the last one to go sends UNSUBSCRIBE (without waiting: the answer, like an
 * ERROR for an EVENT sent by mbus_emit(), has no pending call and is dropped at debug level;
 * mbus_emit_wait() is the way to hear of a refused event).
 *
 * Dispatch takes a reference on every matching slot before running any handler, so a handler
 * may free its own slot or any other, or subscribe anew, without the walk going astray; a slot
 * freed before its turn is skipped.
 *
 * One event is also read by the library itself: org.mbus.Broker.NamespaceLost, which the
 * broker sends straight to an owner it unregistered (a reload took its right to own away). The
 * local registration goes before any handler runs, so the service's own handler for that event
 * may register the namespace again. Only the broker (":1.0") is believed, and only about a
 * namespace registered here; no peer can send as ":1.0", since the broker stamps every sender.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn-internal.h"
#include "proto/names.h"
#include "util/json-util.h"

static bool pattern_in_use(const struct mbus_conn *conn, const char *pattern) {
        for (struct mbus_slot *s = conn->subscriptions; s; s = s->sub.next)
                if (strcmp(s->sub.pattern, pattern) == 0)
                        return true;
        return false;
}

void mbus_slot_unlink_subscription(struct mbus_slot *slot, bool send_unsubscribe) {
        struct mbus_conn *conn = slot->conn;

        if (!conn)
                return;

        if (slot->sub.prev)
                slot->sub.prev->sub.next = slot->sub.next;
        else
                conn->subscriptions = slot->sub.next;
        if (slot->sub.next)
                slot->sub.next->sub.prev = slot->sub.prev;
        slot->sub.prev = slot->sub.next = NULL;
        slot->conn = NULL;

        if (send_unsubscribe && conn->state == MBUS_CONN_RUNNING && !pattern_in_use(conn, slot->sub.pattern))
                (void) mbus_conn_send_raw(conn, MBUS_FRAME_UNSUBSCRIBE,
                                          &(const struct mbus_frame_fields) {
                                                  .serial = mbus_conn_next_serial(conn),
                                                  .pattern = slot->sub.pattern,
                                          }, NULL, 0);

        mbus_slot_unref(slot);          /* the connection's reference */
}

void mbus_conn_disconnect_subscriptions(struct mbus_conn *conn) {
        while (conn->subscriptions)
                mbus_slot_unlink_subscription(conn->subscriptions, /* send_unsubscribe= */ false);
}

/* One of handler and raw_handler is set. */
static int subscribe(struct mbus_conn *conn, const char *pattern, mbus_event_handler_t handler,
                     mbus_event_raw_handler_t raw_handler, void *userdata, struct mbus_slot **ret_slot,
                     struct mbus_error *ret_error) {
        struct mbus_slot *slot, *last;
        int r;

        if (!conn || !pattern || !ret_slot || !mbus_pattern_is_valid(pattern))
                return -EINVAL;
        r = mbus_conn_check_running(conn);
        if (r < 0)
                return r;

        /* Linked (slot->conn set) only once the broker has said yes. */
        r = mbus_slot_new(&slot, /* conn= */ NULL, MBUS_SLOT_SUBSCRIPTION, userdata);
        if (r < 0)
                return r;
        slot->sub.handler = handler;
        slot->sub.raw_handler = raw_handler;
        slot->sub.pattern = strdup(pattern);
        if (!slot->sub.pattern) {
                mbus_slot_unref(slot);
                return -ENOMEM;
        }

        if (!pattern_in_use(conn, pattern)) {
                r = mbus_conn_call_control(conn, MBUS_FRAME_SUBSCRIBE,
                                           &(struct mbus_frame_fields) { .pattern = pattern }, NULL,
                                           ret_error);
                if (r < 0) {
                        mbus_slot_unref(slot);
                        return r;
                }
        }

        /* Append: handlers run in the order their subscriptions were made. */
        for (last = conn->subscriptions; last && last->sub.next; last = last->sub.next)
                ;
        slot->sub.prev = last;
        if (last)
                last->sub.next = slot;
        else
                conn->subscriptions = slot;
        slot->conn = conn;

        slot->floating = false;
        *ret_slot = mbus_slot_ref(slot);
        return 0;
}

_public_ int mbus_subscribe(struct mbus_conn *conn, const char *pattern, mbus_event_handler_t handler,
                            void *userdata, struct mbus_slot **ret_slot, struct mbus_error *ret_error) {
        if (!handler)
                return -EINVAL;
        return subscribe(conn, pattern, handler, NULL, userdata, ret_slot, ret_error);
}

_public_ int mbus_subscribe_raw(struct mbus_conn *conn, const char *pattern, mbus_event_raw_handler_t handler,
                                void *userdata, struct mbus_slot **ret_slot, struct mbus_error *ret_error) {
        if (!handler)
                return -EINVAL;
        return subscribe(conn, pattern, NULL, handler, userdata, ret_slot, ret_error);
}

static bool event_is_namespace_lost(const struct mbus_frame *frame) {
        return frame->f.sender && strcmp(frame->f.sender, MBUS_BROKER_PEER_ID) == 0 &&
                frame->f.namespace && strcmp(frame->f.namespace, MBUS_BROKER_NAMESPACE) == 0 &&
                frame->f.member && strcmp(frame->f.member, "NamespaceLost") == 0;
}

/* The broker unregistered a namespace of ours: forget its handler table. */
static void event_handle_namespace_lost(struct mbus_conn *conn, json_object *payload) {
        const char *ns;

        ns = json_get_string(payload, "namespace");
        if (ns && mbus_conn_drop_service(conn, ns))
                mbus_conn_log_debug("broker took namespace %s away: %s", ns,
                                    strna(json_get_string(payload, "reason")));
}

/*
 * The payload is parsed into a json-c tree only when something here needs one: a json_object
 * handler among the matching subscriptions, or NamespaceLost. Raw handlers get the bytes.
 */
int mbus_conn_dispatch_event(struct mbus_conn *conn, struct mbus_frame *frame) {
        _cleanup_json_ json_object *payload = NULL;
        struct mbus_slot *stack[16], **matches = stack;
        size_t n = 0, n_alloc = ELEMENTSOF(stack);
        bool namespace_lost = event_is_namespace_lost(frame), want_json = namespace_lost, json_ok = false,
                any_raw = false;
        struct mbus_event_raw raw;
        struct mbus_event event;

        for (struct mbus_slot *s = conn->subscriptions; s; s = s->sub.next) {
                if (!mbus_pattern_matches(s->sub.pattern, frame->f.namespace, frame->f.member))
                        continue;
                if (n == n_alloc) {
                        struct mbus_slot **m = malloc(n_alloc * 2 * sizeof(*m));

                        if (!m)
                                break;  /* out of memory: the handlers found so far still run */
                        memcpy(m, matches, n * sizeof(*m));
                        if (matches != stack)
                                free(matches);
                        matches = m;
                        n_alloc *= 2;
                }
                matches[n++] = mbus_slot_ref(s);
                want_json = want_json || s->sub.handler;
                any_raw = any_raw || s->sub.raw_handler;
        }

        if (want_json) {
                json_ok = mbus_conn_parse_body(conn, frame, &payload) >= 0;
                if (!json_ok) {
                        /* Not the connection's fault, so it stays up; the count lets a subscriber
                         * (or its monitoring) see what its json_object handlers missed. Raw
                         * handlers parse nothing here, so an event only they take is not counted. */
                        conn->n_unparsed_events++;
                        mbus_conn_log_debug("event %s.%s from %s: payload is not valid JSON, not for "
                                            "json_object handlers (%" PRIu64 " such events so far)",
                                            frame->f.namespace, frame->f.member, strna(frame->f.sender),
                                            conn->n_unparsed_events);
                }
        }
        /* Before any handler runs, so a handler may register the namespace again. */
        if (namespace_lost && json_ok)
                event_handle_namespace_lost(conn, payload);

        if (n == 0)
                mbus_conn_log_debug("event %s.%s matches no subscription", frame->f.namespace, frame->f.member);

        event = (struct mbus_event) {
                .ns = frame->f.namespace,
                .event = frame->f.member,
                .sender = frame->f.sender,
                .direct = frame->f.destination != NULL,
                .payload = payload,
        };
        raw = (struct mbus_event_raw) {
                .ns = event.ns,
                .event = event.event,
                .sender = event.sender,
                .direct = event.direct,
                .body = frame->body_len > 0 ? (const char *) frame->body : "",
                .body_len = frame->body_len,
        };
        for (size_t i = 0; i < n; i++) {
                struct mbus_slot *s = matches[i];

                if (!s->conn)           /* freed by an earlier handler */
                        ;
                else if (s->sub.raw_handler)
                        (void) s->sub.raw_handler(conn, &raw, s->userdata);
                else if (json_ok)
                        (void) s->sub.handler(conn, &event, s->userdata);
                mbus_slot_unref(s);
        }
        if (matches != stack)
                free(matches);
        return json_ok || any_raw || !want_json ? 1 : 0;     /* 0: dropped as not JSON */
}

/* The checks of every emit; the EVENT's fields in *ret. */
static int emit_fields(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                       struct mbus_frame_fields *ret) {
        if (!conn || !ns || !event || !mbus_namespace_is_valid(ns) || !mbus_member_is_valid(event))
                return -EINVAL;
        if (destination && !mbus_peer_id_is_valid(destination))
                return -EINVAL;
        if (mbus_conn_check_running(conn) < 0)
                return -ENOTCONN;
        *ret = (struct mbus_frame_fields) {
                .serial = mbus_conn_next_serial(conn),
                .namespace = ns,
                .member = event,
                .destination = destination,
        };
        return 0;
}

/* Queues one EVENT; its serial (which a refusal names as reply_serial) in *ret_serial. */
static int emit(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                json_object *payload, uint64_t *ret_serial) {
        struct mbus_frame_fields f;
        int r;

        r = emit_fields(conn, destination, ns, event, &f);
        if (r < 0)
                return r;
        r = mbus_conn_queue(conn, MBUS_FRAME_EVENT, &f, payload);
        if (r < 0)
                return r;
        if (ret_serial)
                *ret_serial = f.serial;
        return 0;
}

_public_ int mbus_emit_raw(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                           const char *payload, size_t payload_len) {
        struct mbus_frame_fields f;
        int r;

        if (!payload && payload_len > 0)
                return -EINVAL;
        r = emit_fields(conn, destination, ns, event, &f);
        if (r < 0)
                return r;
        return mbus_conn_queue_raw(conn, MBUS_FRAME_EVENT, &f, payload, payload_len);
}

/*
 * An EVENT gets no answer when the broker routes it, only an ERROR when it refuses it. The
 * broker handles one connection's frames in order, so a PING sent right after the EVENT is
 * answered after the EVENT was routed or refused: the refusal, if any, arrives before the
 * PONG, and the PONG alone means it was routed.
 */
_public_ int mbus_emit_wait(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                            json_object *payload, uint64_t timeout_usec, struct mbus_error *ret_error) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reply = NULL;
        uint64_t serial, ping, wire_timeout;
        usec_t deadline;
        int r;

        deadline = mbus_call_deadline(now_usec(CLOCK_MONOTONIC), timeout_usec, &wire_timeout);
        r = emit(conn, destination, ns, event, payload, &serial);
        if (r < 0)
                return r;

        ping = mbus_conn_next_serial(conn);
        r = mbus_conn_send_raw(conn, MBUS_FRAME_PING, &(const struct mbus_frame_fields) { .serial = ping },
                               NULL, 0);
        if (r < 0)
                return r;

        r = mbus_conn_wait_answer(conn, ping, /* error_serial= */ serial, deadline, &reply, ret_error);
        if (r < 0)
                return r;
        if (reply->type != MBUS_FRAME_PONG)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_PROTOCOL, "Unexpected reply type");
        return 0;
}

_public_ int mbus_conn_get_unparsed_events(const struct mbus_conn *conn, uint64_t *ret) {
        if (!conn || !ret)
                return -EINVAL;
        *ret = conn->n_unparsed_events;
        return 0;
}

_public_ int mbus_emit(struct mbus_conn *conn, const char *ns, const char *event, json_object *payload) {
        return emit(conn, /* destination= */ NULL, ns, event, payload, /* ret_serial= */ NULL);
}

_public_ int mbus_emit_to(struct mbus_conn *conn, const char *destination, const char *ns,
                          const char *event, json_object *payload) {
        if (!destination)
                return -EINVAL;
        return emit(conn, destination, ns, event, payload, /* ret_serial= */ NULL);
}
