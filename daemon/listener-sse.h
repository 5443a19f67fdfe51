/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Server-Sent Events: GET /v1/events?pattern=P streams the events a subscription receives. */

/*
 * The reader is a peer like any other for as long as the HTTP response lasts: it has the
 * connection's credentials, says HELLO and SUBSCRIBEs to the pattern, so policy decides what it
 * sees (an exact pattern at SUBSCRIBE, a wildcard per event) and its user's quotas bind it. Its
 * queue is the peer's own: events that do not fit (--max-queue-bytes) are dropped and counted
 * (events_dropped), and the reader is told how many in an "event: dropped" record before the
 * next event it gets. A reader that stops reading altogether cannot answer the keep-alive's
 * pings and is dropped like any silent peer, which ends the response.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mbus_broker;
struct mbus_creds;
struct mbus_sse;

/*
 * Starts a reader of pattern as a new peer with creds (moved). on_output(userdata) is called
 * whenever mbus_sse_next() may have something (the owner asks its socket for writability).
 * Returns 0, -EINVAL (not a valid pattern: nothing started), -ENOBUFS (too many peers) or
 * -ENOMEM.
 */
int mbus_sse_new(struct mbus_sse **ret, struct mbus_broker *b, struct mbus_creds *creds, const char *pattern,
                 void (*on_output)(void *userdata), void *userdata);
/* Ends the reader (its peer is dropped if still there); on_output is not called any more. Takes NULL. */
struct mbus_sse *mbus_sse_free(struct mbus_sse *sse);

/*
 * The next piece of the response body: a new buffer with headroom unused bytes before the text
 * (the owner's), *ret_len the text's length. Returns 1, 0 if nothing is there yet, -ECONNRESET
 * once the peer is gone and everything it left was read (the response ends), or -ENOMEM.
 * Reading also moves mbus_sse_status() on from 0.
 */
int mbus_sse_next(struct mbus_sse *sse, size_t headroom, uint8_t **ret, size_t *ret_len);

/* Whether mbus_sse_next() has something to say (the owner wants writability meanwhile). */
bool mbus_sse_has_output(const struct mbus_sse *sse);

/*
 * 0 while the subscription is not answered yet; 200 once it stands (the body is the events);
 * else the HTTP status of the refusal, with {"error": NAME, "message": TEXT} in *ret_body
 * (owned by sse).
 */
int mbus_sse_status(const struct mbus_sse *sse, const char **ret_body);
