/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A message transport: a stream whose bytes arrive and leave as whole frames, one per message. */

/*
 * Some connections do not carry a byte stream but messages with their own framing: WebSocket
 * (daemon/listener-ws.c), and any later front end that speaks another protocol. Such a
 * connection is owned by the code that speaks its protocol, which does all the socket I/O;
 * the peer above it still sees an ordinary frame stream (proto/stream.h). The two meet in a
 * message link, a reference-counted pair of byte queues that hold whole frames only:
 *
 *   owner --mbus_message_link_push()--> in queue  --transport read()-->  stream, peer
 *   owner <--mbus_message_link_pop()--- out queue <--transport writev()-- stream, peer
 *
 * push() takes one received message and checks that it is exactly one frame (binary) or one
 * frame in its JSON form (text, proto/frame-json.h), under the stream's size limit; pop()
 * gives the next frame to send as one message, in the form the other side chose with its
 * first message. The link is held by both sides, so whichever goes first (the socket hangs
 * up, or the broker drops the peer) leaves the other a valid object: a peer's last words
 * still leave after the peer is gone, and a hung-up socket reads as the end of the stream.
 *
 * Output is bounded: writev() takes frames only while the out queue holds less than out_max
 * bytes and reports -EAGAIN otherwise, so the stream keeps the rest and the peer's
 * --max-queue-bytes accounting works as for a socket.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/transport.h"
#include "util/macro.h"

struct mbus_message_link {
        unsigned n_ref;
        uint8_t *in;                    /* bytes of whole frames not yet read by the stream */
        size_t in_start, in_end, in_cap;
        uint8_t *out;                   /* bytes of whole frames not yet popped by the owner */
        size_t out_start, out_end, out_cap;
        size_t out_max;
        bool text;                      /* the other side's first message was text: answer in text */
        bool form_chosen;               /* its first message has arrived */
        bool eof;                       /* the owner's connection is gone: read() returns 0 */
        bool stream_gone;               /* the stream let go (peer freed): no more input wanted */
        /* Told when output was queued (the owner asks its socket for writability). */
        void (*on_output)(void *userdata);
        void *userdata;
};

/* A new link with one reference; out_max 0 means 64 KiB. Returns 0 or -ENOMEM. */
int mbus_message_link_new(struct mbus_message_link **ret, size_t out_max);
struct mbus_message_link *mbus_message_link_ref(struct mbus_message_link *l);
struct mbus_message_link *mbus_message_link_unref(struct mbus_message_link *l);
MBUS_DEFINE_CLEANUP(struct mbus_message_link *, mbus_message_link_unref);

/*
 * Takes one whole received message of len bytes; text: its JSON form. Checks it is exactly one
 * frame of at most max_frame_size bytes. Returns 0, -EMSGSIZE (too large), -EBADMSG (not one
 * frame: a partial or several frames, bad JSON; *ret_reason names it), or -ENOMEM. After an
 * error the connection is to be dropped: nothing was queued.
 */
int mbus_message_link_push(struct mbus_message_link *l, const void *data, size_t len, bool text,
                           size_t max_frame_size, const char **ret_reason);

/*
 * Takes the next frame to send out of the link as one message: a new buffer with headroom
 * unused bytes before the message (for the owner's own header), *ret_len its length without
 * the headroom, *ret_text whether it is text (JSON) or binary. Returns 1, 0 if nothing is
 * queued, -ENOMEM.
 */
int mbus_message_link_pop(struct mbus_message_link *l, size_t headroom, uint8_t **ret, size_t *ret_len,
                          bool *ret_text);

static inline bool mbus_message_link_has_output(const struct mbus_message_link *l) {
        return l->out_end > l->out_start;
}

/* Puts a stream transport over l into t, taking a reference on l. */
void mbus_transport_init_message(struct mbus_transport *t, struct mbus_message_link *l);
