/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The broker's answers to one peer: RETURN, ERROR, PONG; the one place ERROR frames are built. */

#include <stdint.h>
#include <json-c/json.h>

#include "util/macro.h"

struct mbus_broker;
struct mbus_frame;
struct mbus_peer;

/*
 * Queues ERROR(reply_serial, the name of error, {"message": ...}) to peer. error is a negative
 * errno mapped by proto/errors.c. Returns 0 or negative errno (the frame could not be queued).
 */
int mbus_reply_error(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, int error,
                     const char *format, ...) _printf_(5, 6);

/* Logs (rate-limited) and queues ERROR(reply_serial 0, ProtocolError, reason) to peer. Returns -EBADMSG. */
int mbus_reply_protocol_error(struct mbus_broker *b, struct mbus_peer *peer, const char *reason);

/* Queues RETURN(reply_serial) with body (NULL: no body) to peer. */
int mbus_reply_return(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, json_object *body);

/* Queues PONG(reply_serial = the PING's serial) to peer. */
int mbus_reply_pong(struct mbus_broker *b, struct mbus_peer *peer, uint64_t ping_serial);

/*
 * Builds, without queueing, ERROR(reply_serial, the name of error, {"message": message}): for a
 * connection that never becomes a peer (refused over --max-peers). Returns 0 or -ENOMEM.
 */
int mbus_reply_new_error_frame(struct mbus_frame **ret, uint64_t reply_serial, int error, const char *message);
