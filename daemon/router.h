/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* One parsed frame from a peer -> where it goes (answers are built by reply.h). */

#include <stdint.h>
#include <sys/types.h>

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

/*
 * Queues an EVENT frame (sender already set) to every peer subscribed to it, once each, that
 * the policy lets subscribe to it; owner_uid is the uid of the namespace's owner (the emitter).
 */
void mbus_router_broadcast(struct mbus_broker *b, struct mbus_frame *event, uid_t owner_uid);

/*
 * Routes a CALL that activation held (activation.c) as if it had just come from caller, with
 * its original deadline. Returns 0, or a negative errno when caller must be dropped.
 */
int mbus_router_route_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *frame,
                           uint64_t deadline);

/* Answers every call whose deadline passed with Timeout. */
void mbus_router_expire_calls(struct mbus_broker *b, uint64_t now);

/*
 * Counts an ERROR answer to the call whose headers context holds (the pending entry's context;
 * NULL: nothing to count) against its namespace (ns-stats.h).
 */
void mbus_router_count_error(struct mbus_broker *b, const struct mbus_frame *context);
