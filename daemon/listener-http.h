/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* HTTP calls: one request on a WebSocket listener becomes one CALL by a short-lived peer. */

/*
 * POST /v1/call/NAMESPACE/PROCEDURE and GET /metrics (daemon/listener-ws.c parses HTTP). The
 * caller is a peer like any other for the length of one call: it has the connection's
 * credentials (address, client certificate), says HELLO, sends the CALL, and goes once the
 * answer is there, so routing, policy and the exactly-one-answer rule are the broker's own.
 */

#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

struct mbus_broker;
struct mbus_creds;
struct mbus_http_call;
struct mbus_message_link;

/*
 * Starts the call of ns.member with the JSON body (len bytes; 0: none) and timeout_usec (0: the
 * broker's default) as a new peer with creds (moved). done(userdata) is called once, when the answer is in
 * (mbus_http_call_result()) — possibly before this returns. Returns 0, -EINVAL (a name is
 * not valid: nothing started), -ENOBUFS (too many peers) or -ENOMEM.
 */
int mbus_http_call_new(struct mbus_http_call **ret, struct mbus_broker *b, struct mbus_creds *creds,
                       const char *ns, const char *member, const char *body, size_t len, uint64_t timeout_usec,
                       void (*done)(void *userdata), void *userdata);
/*
 * Starts the call of org.mbus.Broker.GetStats for GET /metrics: one page after the other, until
 * the last; the answer (mbus_http_call_result()) is GetStats' result with every namespace in its
 * per_namespace (the totals are those of the first page) and no "next". As
 * mbus_http_call_new() otherwise.
 */
int mbus_http_stats_call_new(struct mbus_http_call **ret, struct mbus_broker *b, struct mbus_creds *creds,
                             void (*done)(void *userdata), void *userdata);
/* Ends the call (its peer is dropped if still there); done is not called any more. Takes NULL. */
struct mbus_http_call *mbus_http_call_free(struct mbus_http_call *call);

/*
 * The answer: the HTTP status (0 while pending; 200 with the result as JSON text, or the
 * status of the error with {"error": NAME, "message": TEXT}), the body, and the error name
 * (NULL for 200). Strings are owned by the call.
 */
int mbus_http_call_result(const struct mbus_http_call *call, const char **ret_body, const char **ret_error);

/*
 * Pushes one frame (built from type, fields and body) into link as the next message its peer
 * reads: how the broker's HTTP front ends speak for their short-lived peers. 0 or -ENOMEM.
 */
int mbus_http_link_push_frame(struct mbus_message_link *link, enum mbus_frame_type type,
                              const struct mbus_frame_fields *fields, const char *body, size_t len);

/* {"error": name, "message": message} as JSON text, a new string; NULL without memory. */
char *mbus_http_error_body(const char *name, const char *message);

/* The HTTP status that answers an mbus error name: 404, 403, 400, 504, 503 or 500. */
int mbus_http_status_of_error(const char *name);

/*
 * The OpenMetrics text exposition of GetStats' result (JSON text): gauges and counters named
 * mbus_*, and its per_namespace counters as mbus_namespace_{calls,errors,events}_total with a
 * namespace label, ending in "# EOF". A new string in *ret; 0, -EBADMSG (not a JSON object) or -ENOMEM.
 */
int mbus_http_metrics_format(const char *stats_json, char **ret);
