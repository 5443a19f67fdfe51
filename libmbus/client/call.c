/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Calls: synchronous, asynchronous, and the control requests (REGISTER, SUBSCRIBE, ...) that
 * wait for their RETURN the same way.
 *
 * Every asynchronous call is a CALL slot, linked twice while pending: in conn->pending under
 * its serial (replies are matched on reply_serial), and in a list sorted by local deadline
 * (the earliest is what mbus_conn_get_timeout() reports). A call completes exactly once, in
 * call_complete(), which unlinks the slot before running the handler: by a RETURN or ERROR,
 * by its local deadline (Timeout), or by the connection's end (Disconnected). mbus_slot_free()
 * unlinks it without running the handler. A reply whose serial is no longer pending (after a
 * local timeout or a cancel, or the broker's answer to an EVENT or UNSUBSCRIBE) is dropped.
 *
 * The local deadline is the caller's timeout, which the broker also gets in the CALL, so both
 * ends give up at the same moment; whichever notices first answers, the other's answer is late
 * and dropped.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn-internal.h"
#include "proto/names.h"
#include "util/hashmap.h"
#include "util/json-util.h"

/* What we tell the broker for MBUS_TIMEOUT_INFINITY: so long that its own cap applies. */
#define MBUS_CALL_TIMEOUT_WIRE_MAX ((uint64_t) UINT32_MAX * USEC_PER_SEC)

usec_t mbus_call_deadline(usec_t now, uint64_t timeout_usec, uint64_t *ret_wire_timeout) {
        if (timeout_usec == 0)
                timeout_usec = MBUS_CALL_TIMEOUT_DEFAULT_USEC;
        if (timeout_usec == MBUS_TIMEOUT_INFINITY) {
                *ret_wire_timeout = MBUS_CALL_TIMEOUT_WIRE_MAX;
                return USEC_INFINITY;
        }
        *ret_wire_timeout = timeout_usec;
        return usec_add(now, timeout_usec);
}

usec_t mbus_conn_first_deadline(const struct mbus_conn *conn) {
        return conn->pending_first ? conn->pending_first->call.deadline : USEC_INFINITY;
}

static void call_link(struct mbus_conn *conn, struct mbus_slot *slot) {
        struct mbus_slot *after = conn->pending_last;

        /* Calls mostly share a timeout, so the right place is nearly always the tail. */
        while (after && after->call.deadline > slot->call.deadline)
                after = after->call.prev;

        slot->call.prev = after;
        slot->call.next = after ? after->call.next : conn->pending_first;
        if (slot->call.next)
                slot->call.next->call.prev = slot;
        else
                conn->pending_last = slot;
        if (after)
                after->call.next = slot;
        else
                conn->pending_first = slot;
}

void mbus_slot_unlink_call(struct mbus_slot *slot) {
        struct mbus_conn *conn = slot->conn;

        assert(slot->type == MBUS_SLOT_CALL);
        if (!conn)
                return;

        (void) mbus_hashmap_remove(conn->pending, &slot->call.serial);
        if (slot->call.prev)
                slot->call.prev->call.next = slot->call.next;
        else
                conn->pending_first = slot->call.next;
        if (slot->call.next)
                slot->call.next->call.prev = slot->call.prev;
        else
                conn->pending_last = slot->call.prev;
        slot->call.prev = slot->call.next = NULL;
        slot->conn = NULL;
        mbus_slot_unref(slot);          /* the connection's reference */
}

/* The one place an asynchronous call completes. */
static void call_complete(struct mbus_slot *slot, json_object *result, const struct mbus_error *error) {
        /* unlinking drops the connection's reference, maybe the last: keep slot until we return */
        _unused_ _cleanup_(mbus_slot_unrefp) struct mbus_slot *ref = mbus_slot_ref(slot);
        struct mbus_conn *conn = slot->conn;

        mbus_slot_unlink_call(slot);
        (void) slot->call.handler(conn, result, error, slot->userdata);
}

/* An error libmbus makes itself (Timeout, Disconnected, InvalidReply): no service sent it. */
static void call_complete_error(struct mbus_slot *slot, const char *name, const char *message) {
        _cleanup_(mbus_error_free) struct mbus_error e = MBUS_ERROR_NULL;

        if (slot->conn)
                mbus_conn_set_error_sender(slot->conn, NULL);
        (void) mbus_conn_error_set(&e, name, message);
        call_complete(slot, NULL, &e);
}

/* The message of InvalidReply: the caller learns which call's service sent garbage. */
static char *call_invalid_reply_message(const char *what) {
        char *m;

        if (asprintf(&m, "The service answered %s with a result that is not valid JSON", what ?: "the call") < 0)
                return NULL;
        return m;
}

int mbus_conn_dispatch_reply(struct mbus_conn *conn, struct mbus_frame *frame) {
        _cleanup_(mbus_error_free) struct mbus_error e = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *result = NULL;
        struct mbus_slot *slot;

        slot = mbus_hashmap_get(conn->pending, &frame->f.reply_serial);
        if (!slot) {
                if (frame->type == MBUS_FRAME_ERROR)
                        mbus_conn_log_debug("ignoring %s for serial %" PRIu64, strna(frame->f.error_name),
                                            frame->f.reply_serial);
                else
                        mbus_conn_log_debug("ignoring reply to serial %" PRIu64, frame->f.reply_serial);
                return 0;
        }

        if (frame->type == MBUS_FRAME_ERROR) {
                /* The broker marks the errors it forwards from a service with the sender. */
                mbus_conn_set_error_sender(conn, frame->f.sender);
                (void) mbus_conn_frame_to_error(frame, &e);
                call_complete(slot, NULL, &e);
                return 1;
        }

        if (mbus_conn_parse_body(conn, frame, &result) < 0) {
                _cleanup_free_ char *m = call_invalid_reply_message(slot->call.what);

                mbus_conn_log_debug("reply to %s (serial %" PRIu64 ") is not valid JSON", strna(slot->call.what),
                                    frame->f.reply_serial);
                call_complete_error(slot, MBUS_ERROR_INVALID_REPLY, m);
                return 1;
        }
        call_complete(slot, result, NULL);
        return 1;
}

int mbus_conn_fail_one_pending(struct mbus_conn *conn, const char *error_name, const char *message) {
        if (!conn->pending_first)
                return 0;
        call_complete_error(conn->pending_first, error_name, message);
        return 1;
}

int mbus_conn_expire_one_pending(struct mbus_conn *conn, usec_t now) {
        if (!conn->pending_first || conn->pending_first->call.deadline > now)
                return 0;
        call_complete_error(conn->pending_first, MBUS_ERROR_TIMEOUT, "Call timed out");
        return 1;
}

static int call_check_args(struct mbus_conn *conn, const char *ns, const char *procedure) {
        if (!conn || !ns || !procedure)
                return -EINVAL;
        if (!mbus_namespace_is_valid(ns) || !mbus_member_is_valid(procedure))
                return -EINVAL;
        return 0;
}

_public_ int mbus_call_async(struct mbus_conn *conn, const char *ns, const char *procedure,
                             json_object *args, uint64_t timeout_usec, mbus_reply_handler_t handler,
                             void *userdata, struct mbus_slot **ret_slot) {
        struct mbus_slot *slot;
        uint64_t wire_timeout;
        int r;

        r = call_check_args(conn, ns, procedure);
        if (r < 0)
                return r;
        if (!handler)
                return -EINVAL;
        r = mbus_conn_check_running(conn);
        if (r < 0)
                return r;

        r = mbus_slot_new(&slot, conn, MBUS_SLOT_CALL, userdata);
        if (r < 0)
                return r;
        slot->call.handler = handler;
        if (asprintf(&slot->call.what, "%s.%s", ns, procedure) < 0) {
                slot->call.what = NULL;
                slot->conn = NULL;
                mbus_slot_unref(slot);
                return -ENOMEM;
        }
        slot->call.serial = mbus_conn_next_serial(conn);
        slot->call.deadline = mbus_call_deadline(now_usec(CLOCK_MONOTONIC), timeout_usec, &wire_timeout);

        r = mbus_hashmap_put(conn->pending, &slot->call.serial, slot);
        if (r < 0) {
                slot->conn = NULL;
                mbus_slot_unref(slot);
                return r;
        }
        call_link(conn, slot);

        r = mbus_conn_send(conn, MBUS_FRAME_CALL,
                           &(const struct mbus_frame_fields) {
                                   .serial = slot->call.serial,
                                   .namespace = ns,
                                   .member = procedure,
                                   .timeout_usec = wire_timeout,
                           }, args);
        if (r < 0) {
                mbus_slot_unlink_call(slot);    /* frees it: nobody else holds it yet */
                return r;
        }

        if (ret_slot) {
                slot->floating = false;
                *ret_slot = mbus_slot_ref(slot);
        }
        return 0;
}

/* Waits for the answer to serial, or an ERROR for error_serial (0: none); returns 0 and a
 * RETURN (or WELCOME/PONG) frame in *ret, the errno of an ERROR frame (filling ret_error), or
 * -ETIMEDOUT / -ENOTCONN with ret_error filled. */
int mbus_conn_wait_answer(struct mbus_conn *conn, uint64_t serial, uint64_t error_serial, usec_t deadline,
                          struct mbus_frame **ret, struct mbus_error *ret_error) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reply = NULL;
        int r;

        r = mbus_conn_wait_reply_or_error(conn, serial, error_serial, deadline, &reply);
        if (r < 0)
                mbus_conn_set_error_sender(conn, NULL);
        if (r == -ETIMEDOUT)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_TIMEOUT, "Call timed out");
        if (r == -ENOTCONN)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_DISCONNECTED,
                                           conn->error < 0 ? strerror(-conn->error) : "Not connected");
        if (r < 0)
                return r;
        if (reply->type == MBUS_FRAME_ERROR) {
                mbus_conn_set_error_sender(conn, reply->f.sender);
                return mbus_conn_frame_to_error(reply, ret_error);
        }

        *ret = TAKE_PTR(reply);
        return 0;
}

_public_ int mbus_call(struct mbus_conn *conn, const char *ns, const char *procedure, json_object *args,
                       uint64_t timeout_usec, json_object **ret_result, struct mbus_error *ret_error) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reply = NULL;
        _cleanup_json_ json_object *result = NULL;
        uint64_t serial, wire_timeout;
        usec_t deadline;
        int r;

        r = call_check_args(conn, ns, procedure);
        if (r < 0)
                return r;
        r = mbus_conn_check_running(conn);
        if (r < 0)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_DISCONNECTED, "Not connected");

        serial = mbus_conn_next_serial(conn);
        deadline = mbus_call_deadline(now_usec(CLOCK_MONOTONIC), timeout_usec, &wire_timeout);
        r = mbus_conn_send(conn, MBUS_FRAME_CALL,
                           &(const struct mbus_frame_fields) {
                                   .serial = serial,
                                   .namespace = ns,
                                   .member = procedure,
                                   .timeout_usec = wire_timeout,
                           }, args);
        if (r < 0)
                return r;

        r = mbus_conn_wait_answer(conn, serial, /* error_serial= */ 0, deadline, &reply, ret_error);
        if (r < 0)
                return r;
        assert(reply);
        if (reply->type != MBUS_FRAME_RETURN)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_PROTOCOL, "Unexpected reply type");
        if (mbus_conn_parse_body(conn, reply, &result) < 0) {
                _cleanup_free_ char *what = NULL, *m = NULL;

                if (asprintf(&what, "%s.%s", ns, procedure) >= 0)
                        m = call_invalid_reply_message(what);
                mbus_conn_set_error_sender(conn, NULL);
                return mbus_conn_error_set(ret_error, MBUS_ERROR_INVALID_REPLY, m);
        }

        if (ret_result)
                *ret_result = TAKE_PTR(result);
        return 0;
}

int mbus_conn_call_control(struct mbus_conn *conn, enum mbus_frame_type type,
                           struct mbus_frame_fields *fields, json_object *body,
                           struct mbus_error *ret_error) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reply = NULL;
        uint64_t wire_timeout;
        usec_t deadline;
        int r;

        r = mbus_conn_check_running(conn);
        if (r < 0)
                return mbus_conn_error_set(ret_error, MBUS_ERROR_DISCONNECTED, "Not connected");

        fields->serial = mbus_conn_next_serial(conn);
        deadline = mbus_call_deadline(now_usec(CLOCK_MONOTONIC), 0, &wire_timeout);
        r = mbus_conn_send(conn, type, fields, body);
        if (r < 0)
                return r;

        r = mbus_conn_wait_answer(conn, fields->serial, /* error_serial= */ 0, deadline, &reply, ret_error);
        if (r < 0)
                return r;
        assert(reply);
        if (reply->type != (type == MBUS_FRAME_PING ? MBUS_FRAME_PONG : MBUS_FRAME_RETURN))
                return mbus_conn_error_set(ret_error, MBUS_ERROR_PROTOCOL, "Unexpected reply type");
        return 0;
}

_public_ int mbus_ping(struct mbus_conn *conn, uint64_t timeout_usec) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reply = NULL;
        uint64_t serial, wire_timeout;
        usec_t deadline;
        int r;

        r = mbus_conn_check_running(conn);
        if (r < 0)
                return r;

        serial = mbus_conn_next_serial(conn);
        deadline = mbus_call_deadline(now_usec(CLOCK_MONOTONIC), timeout_usec, &wire_timeout);
        r = mbus_conn_send_raw(conn, MBUS_FRAME_PING, &(const struct mbus_frame_fields) { .serial = serial },
                               NULL, 0);
        if (r < 0)
                return r;

        r = mbus_conn_wait_answer(conn, serial, /* error_serial= */ 0, deadline, &reply, NULL);
        if (r < 0)
                return r;
        assert(reply);
        return reply->type == MBUS_FRAME_PONG ? 0 : -EBADMSG;
}
