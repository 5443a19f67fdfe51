/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* org.mbus.Broker: the broker's own procedures (a table) and events. */

#include <stddef.h>
#include <stdint.h>

struct mbus_broker;
struct mbus_frame;
struct mbus_peer;

#define MBUS_DRIVER_NAMESPACE "org.mbus.Broker"

/* Larger argument bodies of the broker's procedures are refused (LimitsExceeded) unparsed. */
#define MBUS_DRIVER_BODY_MAX (64u * 1024u)

/* Registers org.mbus.Broker with owner ":1.0". Returns 0 or negative errno. */
int mbus_driver_init(struct mbus_broker *b);

/*
 * Answers a CALL to org.mbus.Broker: RETURN with the procedure's result, or ERROR
 * (UnknownProcedure, InvalidArgs, NoSuchPeer). Returns 0, or negative errno if no answer
 * could be queued (the caller is then dropped, which is its answer).
 */
int mbus_driver_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *call);

/* Answers StartNamespace's call serial: RETURN {"namespace", "owner"} (activation.c). */
int mbus_driver_answer_started(struct mbus_broker *b, struct mbus_peer *caller, uint64_t serial, const char *ns);

/* Queues WELCOME for peer's HELLO. */
int mbus_driver_welcome(struct mbus_broker *b, struct mbus_peer *peer, uint64_t hello_serial);

/* Broker events, sent only if somebody subscribed to them. Owner 0 means none (JSON null). */
void mbus_driver_emit_peer_connected(struct mbus_broker *b, struct mbus_peer *peer);
void mbus_driver_emit_peer_disconnected(struct mbus_broker *b, struct mbus_peer *peer);
void mbus_driver_emit_owner_changed(struct mbus_broker *b, const char *ns, uint64_t old_owner, uint64_t new_owner);

/* NamespaceLost {"namespace", "reason"}, a direct event to peer (always sent). */
void mbus_driver_send_namespace_lost(struct mbus_broker *b, struct mbus_peer *peer, const char *ns,
                                     const char *reason);

/* The driver's table, for introspection and its tests: names by index, NULL past the end. */
const char *mbus_driver_procedure_name(size_t i);
const char *mbus_driver_event_name(size_t i);
