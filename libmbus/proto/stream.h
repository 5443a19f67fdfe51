/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A non-blocking frame stream over a socket: batched input, a queue of frames to send. */

/*
 * Input: one read() takes in as many bytes as have arrived (up to the buffer); frames are then
 * popped one by one without further syscalls. Output: queued frames are references, never
 * copies; one writev() sends as many of them (head and body iovecs) as the socket takes.
 * Buffers are taken on demand and given back as soon as they are empty, so an idle stream
 * holds no heap memory at all.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/transport.h"

struct mbus_frame;

#define MBUS_STREAM_READ_SIZE (64u * 1024u)

struct mbus_stream {
        struct mbus_transport transport;        /* its fd is borrowed: the stream's owner closes it */
        size_t max_frame_size;

        uint8_t *in;                    /* NULL while empty; scratch, or owned */
        size_t in_start, in_end, in_cap;
        uint8_t *scratch;               /* borrowed, MBUS_STREAM_READ_SIZE bytes, shared by many
                                           streams (NULL: none): see mbus_stream_set_scratch() */
        bool keep_input;                /* keep the input buffer once empty, for the next read:
                                           a client's one stream, not a broker's many */
        bool keep_output;               /* keep the output ring once drained, for the next frame
                                           (a client's, too) */

        struct mbus_frame **out;        /* ring of queued frames, NULL while empty */
        size_t out_first, n_out, out_cap;
        size_t out_offset;              /* bytes of out[out_first] already written */
        size_t out_bytes;               /* bytes queued and not yet written */

        uint8_t *in_lent;               /* the buffer a view from mbus_stream_pop_view() points
                                           into, until mbus_stream_release_view(); NULL: none.
                                           While it is in, the view's NUL stands where the byte
                                           at in_start was: that byte is in_saved. */
        uint8_t in_saved;
        bool in_saved_valid;

        uint64_t bytes_in, bytes_out;   /* totals, for statistics */
        bool drained;                   /* the last read found the socket empty: -EAGAIN, or on a
                                           plain socket fewer bytes than there was room for */
};

/* A stream over a plain socket; max_frame_size 0 means MBUS_FRAME_SIZE_MAX_DEFAULT. */
void mbus_stream_init(struct mbus_stream *s, int fd, size_t max_frame_size);
/* Drops queued frames, buffers and the transport's state, not the fd. */
void mbus_stream_done(struct mbus_stream *s);

/*
 * Lets the stream read into scratch (MBUS_STREAM_READ_SIZE bytes, borrowed, shared by the
 * streams of one thread) whenever it has no partial frame of its own buffered: then a read
 * that brings whole frames needs no memory of the stream's own. The owner pops every whole
 * frame and calls mbus_stream_own_input() before any other stream reads into scratch.
 */
void mbus_stream_set_scratch(struct mbus_stream *s, uint8_t *scratch);

/*
 * Moves input left in the scratch buffer (the start of a frame, or whole frames the owner did
 * not pop yet) into memory of the stream's own, MBUS_STREAM_READ_SIZE bytes, freeing the
 * scratch for the next stream. Returns 0 or -ENOMEM (the input is then
 * dropped: the stream is unusable).
 */
int mbus_stream_own_input(struct mbus_stream *s);

/*
 * One read() into the input buffer. Returns the number of bytes read (> 0), -EAGAIN if nothing
 * was there, -ECONNRESET on end of file (the peer hung up), or another negative errno. If the
 * buffered bytes already start with a bad fixed header (oversize: -EMSGSIZE, other version:
 * -EPROTONOSUPPORT, else -EBADMSG) it reads nothing and returns that error; mbus_stream_pop()
 * returns the same error with its reason. -ENOBUFS means whole frames fill the buffer: pop
 * them first (reading then popping until 0, as every caller does, never sees it).
 */
int mbus_stream_read(struct mbus_stream *s);

/*
 * The most input buffer of the stream's own the next mbus_stream_read() may hold, in bytes:
 * MBUS_STREAM_READ_SIZE, or more while a large frame arrives (its buffer doubles as it fills,
 * up to the frame's size), or what is allocated now if that is more; 0 when the read goes into
 * the scratch buffer (mbus_stream_set_scratch()), which is not the stream's. For an owner that
 * budgets memory: it may refuse to read instead. The stream holds s->in_cap bytes of its own
 * now (once mbus_stream_own_input() has run after a read into the scratch).
 */
size_t mbus_stream_read_capacity(const struct mbus_stream *s);

/*
 * Takes the next whole frame out of the input buffer. Returns 1 and the frame in *ret, 0 if no
 * whole frame is buffered yet, or the errors of mbus_frame_parse() (with *ret_reason naming the
 * fault) when the buffered bytes are malformed: the stream is then unusable.
 */
int mbus_stream_pop(struct mbus_stream *s, struct mbus_frame **ret, const char **ret_reason);

/*
 * Like mbus_stream_pop(), but decodes the frame in place (mbus_frame_parse_view()): *view points
 * into the input buffer and nothing is copied or allocated. The view stays valid until
 * mbus_stream_release_view(), whatever is done with the stream meanwhile (a read or pop that
 * comes first moves the rest of the input to a new buffer, leaving the view's bytes alone;
 * mbus_stream_done() leaves them to the release). Returns what mbus_stream_pop() returns, or
 * -EBUSY while another view is out: one at a time.
 */
int mbus_stream_pop_view(struct mbus_stream *s, struct mbus_frame *view, const char **ret_reason);
/* Ends the view of the last mbus_stream_pop_view(); does nothing if no view is out. */
void mbus_stream_release_view(struct mbus_stream *s);
static inline bool mbus_stream_has_view(const struct mbus_stream *s) {
        return s->in_lent;
}

/*
 * The size of the frame whose first bytes are buffered (MBUS_FRAME_HEADER_SIZE while its
 * header is incomplete or bad), or 0 if nothing is buffered: what the owner waits for.
 */
size_t mbus_stream_partial_frame_size(const struct mbus_stream *s);

/* Queues frame for sending, taking a new reference. Returns 0 or -ENOMEM. Does no I/O. */
int mbus_stream_queue(struct mbus_stream *s, struct mbus_frame *frame);

/*
 * Writes queued frames with writev() until the queue is empty or the socket is full. Returns
 * 0 if everything was sent, 1 if output remains queued (wait for EPOLLOUT), or a negative errno
 * (-EPIPE, -ECONNRESET, ...) if the connection is broken.
 */
int mbus_stream_flush(struct mbus_stream *s);

static inline bool mbus_stream_has_output(const struct mbus_stream *s) {
        return s->n_out > 0;
}
static inline size_t mbus_stream_queued_bytes(const struct mbus_stream *s) {
        return s->out_bytes;
}
/* The poll events the stream waits for now: its transport decides. */
static inline uint32_t mbus_stream_events(const struct mbus_stream *s) {
        return mbus_transport_events(&s->transport, s->n_out > 0);
}
/* True if the transport holds input that poll cannot report: read again without polling. */
static inline bool mbus_stream_has_pending(const struct mbus_stream *s) {
        return mbus_transport_pending(&s->transport);
}
/*
 * True if the last mbus_stream_read() left nothing in the socket to read: an edge-triggered
 * owner waits for the next wake-up only then (a TLS stream is drained only at -EAGAIN, as a
 * short read may end at a record boundary with more records queued).
 */
static inline bool mbus_stream_drained(const struct mbus_stream *s) {
        return s->drained;
}
/*
 * True if a whole frame (or a malformed header, which mbus_stream_pop() reports) is buffered:
 * popping would return something other than 0.
 */
bool mbus_stream_has_frame(const struct mbus_stream *s);
/* True if a whole or partial frame is buffered (more input may make a frame complete). */
static inline bool mbus_stream_has_input(const struct mbus_stream *s) {
        return s->in_end > s->in_start;
}
