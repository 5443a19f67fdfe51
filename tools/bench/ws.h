/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus-bench: a WebSocket peer of its own, one mbus frame per message, binary or JSON text. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "proto/frame.h"
#include "proto/transport.h"
#include "util/macro.h"
#include "util/time-util.h"

struct mbus_tls_context;

/*
 * One connection to a broker's WebSocket endpoint (/v1/ws, subprotocol mbus), after HELLO.
 * Blocking calls with deadlines over a non-blocking socket: the bench's peers do one thing at
 * a time, and a deadline keeps a silent broker from hanging a run.
 */
struct bench_ws {
        int fd;                                 /* owned */
        struct mbus_transport transport;        /* plain socket, or TLS (wss://) */
        struct mbus_tls_context *tls;           /* owned reference; wss:// only */
        bool text;                              /* frames go out as JSON text messages */
        uint64_t next_serial;
        uint8_t *in;                            /* received, not yet taken: in[in_start..in_end) */
        size_t in_start, in_end, in_size;
        uint8_t *out;                           /* the message being sent, reused */
        size_t out_size;
};

/*
 * Connects to address (ws://HOST:PORT, or wss://HOST:PORT with the client certificate, key and
 * CA of $MBUS_TLS_CERT, $MBUS_TLS_KEY and $MBUS_TLS_CA, the broker's certificate checked
 * against HOST), upgrades, and says HELLO with name. text: send frames in their JSON form
 * (the broker then answers in kind). Returns 0, or a negative errno after saying why.
 */
int bench_ws_open(struct bench_ws **ret, const char *address, const char *name, bool text);
struct bench_ws *bench_ws_free(struct bench_ws *ws);
MBUS_DEFINE_CLEANUP(struct bench_ws *, bench_ws_free);

/* True for a ws:// or wss:// address. */
bool bench_address_is_ws(const char *address);

/*
 * Sends one frame of type with fields (serial 0 for a type that needs one: the next serial)
 * and body (body_len bytes of JSON text, or NULL). Returns the serial it carries (0 if none),
 * or a negative errno.
 */
int64_t bench_ws_send(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                      const char *body, size_t body_len);
/* The same with body a JSON value (NULL: no body). */
int64_t bench_ws_send_json(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                           json_object *body);

/*
 * The next frame within timeout (-ETIMEDOUT); the broker's PINGs (WebSocket and mbus) are
 * answered here and never returned. -ECONNRESET when the broker closed.
 */
int bench_ws_recv(struct bench_ws *ws, usec_t timeout, struct mbus_frame **ret);

/* True if a frame may be waiting in user space, where poll() cannot see it. */
bool bench_ws_pending(const struct bench_ws *ws);

/*
 * Sends a frame and returns the broker's answer to it (the frame whose reply_serial is its
 * serial; an ERROR is returned too, the caller looks at its type). Frames in between are
 * dropped: the callers ask while nothing else is under way.
 */
int bench_ws_request(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                     json_object *body, struct mbus_frame **ret);

/* The body of frame as JSON (*ret NULL if it has none). Returns 0 or -EBADMSG. */
int bench_ws_body(const struct mbus_frame *frame, json_object **ret);

/* Says what frame, an ERROR or another unexpected answer to what, is; for the error line. */
void bench_ws_complain(const char *what, const struct mbus_frame *frame);
