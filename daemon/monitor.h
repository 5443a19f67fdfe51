/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * Monitors: peers that receive a copy of the CALL, RETURN, ERROR and EVENT frames the broker
 * routes, filtered here in the broker, as org.mbus.Broker.Monitor events (mbus-protocol(7),
 * MONITORING). The broker keeps a list of them; with none, routing pays one NULL test.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct mbus_broker;
struct mbus_frame;
struct mbus_peer;

/* At most this many monitors at once: each costs a policy check per routed frame. */
#define MBUS_MONITORS_MAX 16u

struct mbus_monitor;

/*
 * Makes peer a monitor with the filters in args ({"namespace": PATTERN, "member": NAME,
 * "peer": ":1.N", "types": ["call", "return", "error", "event"]}, every key optional), or
 * replaces its filters. The caller has checked the policy. Returns 0, -EINVAL with a reason in
 * reason, -ENOBUFS (MBUS_MONITORS_MAX reached), -ENOMEM.
 */
int mbus_monitor_add(struct mbus_broker *b, struct mbus_peer *peer, json_object *args, char *reason, size_t size);

/* Peer (an id) stops being a monitor, if it was one. */
void mbus_monitor_remove(struct mbus_broker *b, uint64_t peer);

/* Frees every monitor (broker shutdown). */
void mbus_monitor_free_all(struct mbus_broker *b);

/*
 * Copies frame (routed from peer `from` to peer `to`, 0 for the broker or a broadcast) to
 * every monitor whose filters match and whose policy lets it monitor the namespace and member;
 * call_ns and call_member are those of the CALL a RETURN or ERROR answers (NULL: the frame's
 * own, which a reply has none of: then namespace and member filters and the policy exclude
 * it). Copies that do not fit a monitor's queue are lost and counted; the monitor is told how
 * many (org.mbus.Broker.MonitorLost) before its next copy that fits.
 */
void mbus_monitor_copy(struct mbus_broker *b, const struct mbus_frame *frame, const char *call_ns,
                       const char *call_member, uint64_t from, uint64_t to);
