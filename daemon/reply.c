/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker's answers. Every CALL gets exactly one RETURN or ERROR, whoever decides it: the
 * router (no owner, denied, too large, a full queue), the driver (the broker's own procedures),
 * the pending table's removal paths (Timeout, OwnerDisconnected). They all come here, so that an
 * ERROR frame is built in one place, its name taken from the errno table of proto/errors.c and
 * its body always {"message": ...}; a client can rely on that shape whoever refused it.
 *
 * This file builds and queues frames and decides nothing: it routes nothing and calls neither
 * the router nor the driver, so that the router, the driver and the broker can all answer
 * through it without calling each other for that. Answers go in the REPLY class of the peer's
 * queue: never dropped for a full queue (a peer that does not read its answers is dropped
 * instead, see peer.h).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbus/mbus-errors.h>

#include "broker.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/frame.h"
#include "reply.h"
#include "util/json-util.h"

static int reply_queue_new(struct mbus_peer *peer, enum mbus_frame_type type,
                           const struct mbus_frame_fields *fields, const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        int r;

        r = mbus_frame_new(&f, type, fields, body, body ? strlen(body) : 0);
        if (r < 0)
                return r;
        return mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY);
}

/* ERROR named name with {"message": message}; without memory for the JSON, without a body. */
static int reply_error_frame(struct mbus_frame **ret, uint64_t reply_serial, const char *name,
                             const char *message) {
        _cleanup_json_ json_object *o = NULL;
        const char *body = NULL;

        o = json_object_new_object();
        if (o && json_object_object_add(o, "message", json_object_new_string(message ?: "")) >= 0)
                body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        return mbus_frame_new(ret, MBUS_FRAME_ERROR,
                              &(const struct mbus_frame_fields) {
                                      .reply_serial = reply_serial,
                                      .error_name = name,
                              }, body, body ? strlen(body) : 0);
}

static int reply_queue_error(struct mbus_peer *peer, uint64_t reply_serial, const char *name,
                             const char *message) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        int r;

        r = reply_error_frame(&f, reply_serial, name, message);
        if (r < 0)
                return r;
        return mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY);
}

int mbus_reply_new_error_frame(struct mbus_frame **ret, uint64_t reply_serial, int error, const char *message) {
        return reply_error_frame(ret, reply_serial, mbus_errno_to_error_name(error), message);
}

int mbus_reply_error(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, int error,
                     const char *format, ...) {
        char message[1024];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        b->stats.errors_sent++;         /* the router tells which namespace's call it answered */

        return reply_queue_error(peer, reply_serial, mbus_errno_to_error_name(error), message);
}

int mbus_reply_protocol_error(struct mbus_broker *b, struct mbus_peer *peer, const char *reason) {
        if (mbus_broker_log_ratelimit(b, &b->protocol_log_ratelimit, LOG_NOTICE, -EBADMSG,
                                      MBUS_MSGID_PROTOCOL_ERROR, "protocol errors"))
                (void) mbus_log(LOG_NOTICE, -EBADMSG,
                                MBUS_FIELDS(.msgid = MBUS_MSGID_PROTOCOL_ERROR, .peer = peer),
                                "Protocol error from :1.%" PRIu64 ": %s", peer->id, reason);
        (void) reply_queue_error(peer, 0, MBUS_ERROR_PROTOCOL, reason);
        return -EBADMSG;
}

int mbus_reply_return(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, json_object *body) {
        return reply_queue_new(peer, MBUS_FRAME_RETURN,
                               &(const struct mbus_frame_fields) { .reply_serial = reply_serial },
                               body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL);
}

int mbus_reply_pong(struct mbus_broker *b, struct mbus_peer *peer, uint64_t ping_serial) {
        return reply_queue_new(peer, MBUS_FRAME_PONG,
                               &(const struct mbus_frame_fields) { .reply_serial = ping_serial }, NULL);
}
