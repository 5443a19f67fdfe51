/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* One parsed frame from a peer -> where it goes; the one place ERROR frames are written. */

#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "util/macro.h"

struct mbus_broker;
struct mbus_frame;
struct mbus_peer;

/* Larger REGISTER bodies (declarations) are refused (LimitsExceeded) unparsed. */
#define MBUS_ROUTER_DECLARATION_MAX (256u * 1024u)

/*
 * Handles one frame from peer. Returns 0, or a negative errno when the peer must be dropped
 * (a protocol error: the ERROR frame naming it is already queued).
 */
int mbus_router_dispatch(struct mbus_broker *b, struct mbus_peer *peer, struct mbus_frame *frame);

/* Queues ERROR(reply_serial 0, ProtocolError, reason) to peer. Returns -EBADMSG. */
int mbus_router_protocol_error(struct mbus_broker *b, struct mbus_peer *peer, const char *reason);

/*
 * Queues ERROR(reply_serial, the name of error, {"message": ...}) to peer. error is a negative
 * errno mapped by proto/errors.c. Returns 0 or negative errno (the frame could not be queued).
 */
int mbus_router_reply_error(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial, int error,
                            const char *format, ...) _printf_(5, 6);

/* Queues RETURN(reply_serial) with body (NULL: no body) to peer. */
int mbus_router_reply_return(struct mbus_broker *b, struct mbus_peer *peer, uint64_t reply_serial,
                             json_object *body);

/*
 * Queues an EVENT frame (sender already set) to every peer subscribed to it, once each, that
 * the policy lets subscribe to it; owner_uid is the uid of the namespace's owner (the emitter).
 */
void mbus_router_broadcast(struct mbus_broker *b, struct mbus_frame *event, uid_t owner_uid);

/* Answers every call whose deadline passed with Timeout. */
void mbus_router_expire_calls(struct mbus_broker *b, uint64_t now);

/* Queues a keep-alive PING (a fresh broker serial) to peer. */
int mbus_router_send_ping(struct mbus_broker *b, struct mbus_peer *peer);
