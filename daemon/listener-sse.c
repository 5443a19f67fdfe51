/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Server-Sent Events (listener-sse.h). The reader's peer sits on a message link, as an HTTP
 * call's does (listener-http.c): we push its HELLO and SUBSCRIBE, and read what the broker
 * writes back only when the owner's socket can take more. So the link holds at most its
 * out_max, the peer's stream keeps the rest up to --max-queue-bytes, and beyond that the
 * broker drops events for this peer as for any slow one: nothing here buffers without bound.
 *
 * Each EVENT becomes one record, with the namespace, member, sender and payload as one line of
 * JSON (an EventSource's message event):
 *
 *   data: {"namespace":"org.example.Ticker","member":"Tick","sender":":1.7","payload":{"n":3}}
 *
 * Drops since the previous record are announced first ("event: dropped", data {"dropped": N}).
 * The keep-alive's PINGs are answered here; a protocol error or an administrator's
 * DisconnectPeer ends the stream with an "event: error" record naming it.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "broker.h"
#include "listener-http.h"
#include "listener-sse.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"

#define SSE_HELLO_SERIAL 1
#define SSE_SUBSCRIBE_SERIAL 2

struct mbus_sse {
        struct mbus_broker *broker;             /* borrowed */
        struct mbus_message_link *link;
        struct mbus_peer *peer;                 /* borrowed; NULL once gone */
        void (*on_output)(void *userdata);
        void *userdata;
        char *pattern;
        int status;                             /* 0 until SUBSCRIBE is answered */
        char *error_body;                       /* the refusal, for a status other than 200 */
        uint64_t dropped_told;                  /* the peer's n_events_dropped last announced */
        char *last_words;                       /* an ERROR outside any call: the final record */
        bool ended;                             /* last_words were handed out */
};

static void sse_on_link_output(void *userdata) {
        struct mbus_sse *sse = userdata;

        if (sse->link->stream_gone)
                sse->peer = NULL;
        if (sse->on_output)
                sse->on_output(sse->userdata);
}

static void sse_refuse(struct mbus_sse *sse, const char *name, const char *message) {
        if (sse->status != 0)
                return;
        sse->status = mbus_http_status_of_error(name);
        sse->error_body = mbus_http_error_body(name, message);
}

/* Formats into a new buffer with headroom; printf-like. Returns 1 or -ENOMEM. */
static int sse_record(size_t headroom, uint8_t **ret, size_t *ret_len, const char *format, ...) {
        va_list ap;
        char *text = NULL;
        uint8_t *buf;
        int n;

        va_start(ap, format);
        n = vasprintf(&text, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        buf = malloc(headroom + (size_t) n);
        if (!buf) {
                free(text);
                return -ENOMEM;
        }
        memcpy(buf + headroom, text, (size_t) n);
        free(text);
        *ret = buf;
        *ret_len = (size_t) n;
        return 1;
}

/* One EVENT as a record, the drops before it announced first. */
static int sse_event(struct mbus_sse *sse, const struct mbus_frame *f, size_t headroom, uint8_t **ret,
                     size_t *ret_len) {
        _cleanup_json_ json_object *o = json_object_new_object(), *payload = NULL;
        _cleanup_free_ char *dropped = NULL;
        uint64_t n = sse->peer ? sse->peer->n_events_dropped : sse->dropped_told;

        if (!o)
                return -ENOMEM;
        /* A body that is not JSON (the broker forwards bodies untouched) shows as null. */
        if (f->body_len > 0)
                (void) json_parse_bytes((const char *) f->body, f->body_len, &payload);
        if (json_object_object_add(o, "namespace", json_object_new_string(f->f.namespace ?: "")) < 0 ||
            json_object_object_add(o, "member", json_object_new_string(f->f.member ?: "")) < 0 ||
            json_object_object_add(o, "sender", json_object_new_string(f->f.sender ?: "")) < 0 ||
            json_object_object_add(o, "payload", TAKE_PTR(payload)) < 0)
                return -ENOMEM;
        if (n > sse->dropped_told && asprintf(&dropped, "event: dropped\ndata: {\"dropped\":%" PRIu64 "}\n\n",
                                              n - sse->dropped_told) < 0)
                return -ENOMEM;
        sse->dropped_told = n;
        /* JSON_C_TO_STRING_PLAIN escapes newlines inside strings: the data is one line. */
        return sse_record(headroom, ret, ret_len, "%sdata: %s\n\n", dropped ?: "",
                          json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/*
 * One frame the broker wrote to our peer. Returns 1 with a record, 0 if the frame makes none,
 * or a negative errno.
 */
static int sse_on_frame(struct mbus_sse *sse, const struct mbus_frame *f, size_t headroom, uint8_t **ret,
                        size_t *ret_len) {
        _cleanup_json_ json_object *body = NULL;
        const char *message;

        switch (f->type) {
        case MBUS_FRAME_EVENT:
                return sse->status == 200 ? sse_event(sse, f, headroom, ret, ret_len) : 0;
        case MBUS_FRAME_RETURN:
                if (f->f.reply_serial != SSE_SUBSCRIBE_SERIAL || sse->status != 0)
                        return 0;
                sse->status = 200;
                /* A comment: the first bytes of the body, so that the headers go out now. */
                return sse_record(headroom, ret, ret_len, ": subscribed to %s\n\n", sse->pattern);
        case MBUS_FRAME_ERROR:
                if (f->f.reply_serial != SSE_SUBSCRIBE_SERIAL && f->f.reply_serial != 0)
                        return 0;
                (void) json_parse_bytes((const char *) f->body, f->body_len, &body);
                message = body ? json_get_string(body, "message") : NULL;
                if (sse->status == 0) {
                        sse_refuse(sse, f->f.error_name ?: "org.mbus.Error.Failed", message);
                        return sse->error_body ? 0 : -ENOMEM;
                }
                /* Outside any call: the broker is about to drop the peer; say why at the end. */
                free(sse->last_words);
                sse->last_words = mbus_http_error_body(f->f.error_name ?: "org.mbus.Error.Failed", message);
                return sse->last_words ? 0 : -ENOMEM;
        case MBUS_FRAME_PING:
                if (!sse->peer)
                        return 0;
                if (mbus_http_link_push_frame(sse->link, MBUS_FRAME_PONG,
                                              &(struct mbus_frame_fields) { .reply_serial = f->f.serial }, NULL,
                                              0) < 0)
                        return -ENOMEM;
                mbus_peer_dispatch_io(sse->peer, EPOLLIN);      /* may drop the peer: see stream_gone */
                return 0;
        default:
                return 0;       /* WELCOME, PONG */
        }
}

int mbus_sse_next(struct mbus_sse *sse, size_t headroom, uint8_t **ret, size_t *ret_len) {
        bool refilled = false;
        int r;

        if (sse->ended)
                return -ECONNRESET;
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                _cleanup_free_ uint8_t *msg = NULL;
                size_t len = 0;
                bool text = false;

                r = mbus_message_link_pop(sse->link, 0, &msg, &len, &text);
                if (r < 0)
                        return r;
                if (r == 0 && sse->peer && !refilled) {
                        /* Drained: the peer's stream may hold frames the full link refused. */
                        refilled = true;
                        mbus_peer_dispatch_io(sse->peer, EPOLLOUT);     /* may drop it: see stream_gone */
                        continue;
                }
                if (r == 0)
                        break;
                if (mbus_frame_parse(&f, msg, len, SIZE_MAX, NULL) < 0)
                        continue;
                r = sse_on_frame(sse, f, headroom, ret, ret_len);
                if (r > 0 && !mbus_message_link_has_output(sse->link) && sse->peer)
                        /* Refill the link now, so the owner keeps asking for writability. */
                        mbus_peer_dispatch_io(sse->peer, EPOLLOUT);
                if (r != 0)
                        return r;
        }
        if (!sse->link->stream_gone)
                return 0;

        /* The peer is gone and everything it left was read. */
        sse->peer = NULL;
        sse_refuse(sse, "org.mbus.Error.Disconnected", "the broker dropped the event reader");
        sse->ended = true;
        if (sse->status == 200 && sse->last_words)
                return sse_record(headroom, ret, ret_len, "event: error\ndata: %s\n\n", sse->last_words);
        return -ECONNRESET;
}

bool mbus_sse_has_output(const struct mbus_sse *sse) {
        return mbus_message_link_has_output(sse->link) || sse->link->stream_gone;
}

int mbus_sse_status(const struct mbus_sse *sse, const char **ret_body) {
        if (ret_body)
                *ret_body = sse->error_body ?: "";
        return sse->status;
}

int mbus_sse_new(struct mbus_sse **ret, struct mbus_broker *b, struct mbus_creds *creds, const char *pattern,
                 void (*on_output)(void *userdata), void *userdata) {
        static const char hello[] = "{\"name\":\"sse\"}";
        struct mbus_sse *sse;
        struct mbus_peer *peer;
        int r;

        if (!mbus_pattern_is_valid(pattern))
                return -EINVAL;
        sse = calloc(1, sizeof(*sse));
        if (!sse)
                return -ENOMEM;
        sse->broker = b;
        sse->pattern = strdup(pattern);
        r = sse->pattern ? mbus_message_link_new(&sse->link, /* out_max= */ 0) : -ENOMEM;
        if (r < 0) {
                mbus_sse_free(sse);
                return r;
        }
        sse->link->on_output = sse_on_link_output;
        sse->link->userdata = sse;

        r = mbus_http_link_push_frame(sse->link, MBUS_FRAME_HELLO,
                                      &(struct mbus_frame_fields) { .serial = SSE_HELLO_SERIAL }, hello, strlen(hello));
        if (r >= 0)
                r = mbus_http_link_push_frame(sse->link, MBUS_FRAME_SUBSCRIBE,
                                              &(struct mbus_frame_fields) { .serial = SSE_SUBSCRIBE_SERIAL,
                                                                            .pattern = pattern }, NULL, 0);
        if (r >= 0)
                r = mbus_broker_accept_message(b, sse->link, creds, &peer);
        if (r < 0) {
                mbus_sse_free(sse);
                return r;
        }
        sse->peer = peer;
        sse->on_output = on_output;
        sse->userdata = userdata;
        *ret = sse;
        mbus_peer_dispatch_io(peer, EPOLLIN);   /* may call on_output */
        return 0;
}

struct mbus_sse *mbus_sse_free(struct mbus_sse *sse) {
        if (!sse)
                return NULL;
        sse->on_output = NULL;
        if (sse->peer)
                mbus_broker_condemn_peer(sse->broker, sse->peer, -ECONNRESET);
        if (sse->link) {
                sse->link->eof = true;
                sse->link->on_output = NULL;
        }
        mbus_message_link_unref(sse->link);
        free(sse->pattern);
        free(sse->error_body);
        free(sse->last_words);
        free(sse);
        return NULL;
}
