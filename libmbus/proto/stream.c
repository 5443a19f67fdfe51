/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A non-blocking frame stream. The two directions are independent:
 *
 * Input is one byte buffer, allocated on the first read and freed as soon as every buffered
 * byte has been popped, so thousands of idle peers hold no input memory. A stream given a
 * scratch buffer (the broker's, shared by all its peers) reads into that instead while it has
 * no partial frame: whole frames are cut out of the scratch and only the start of an
 * incomplete frame is copied into a buffer of the stream's own (mbus_stream_own_input()),
 * which then grows as described next, so a read that brings whole frames allocates nothing. A
 * stream with keep_input set (a client's) keeps its one buffer for the next read instead. One read takes what
 * has arrived (many frames, usually); mbus_stream_pop() then cuts frames out without further
 * syscalls. The buffer is MBUS_STREAM_READ_SIZE bytes and grows towards one frame's size only
 * once that frame's fixed header has been read and checked against max_frame_size, and then
 * only as its bytes arrive (doubling whenever it is full): a peer announcing an oversize
 * frame is refused before a byte of its body is buffered, one announcing a large frame and
 * sending little makes us hold little, and no peer can make us allocate more than
 * max_frame_size for input. Doubling keeps the copying linear in the frame's size.
 *
 * Output is a ring of frame references (the same frame may sit in many streams; the bytes
 * are never copied). Each flush hands up to IOV_MAX/2 frames to one sendmsg() as head+body
 * iovecs, remembering how far into the first frame a short write got. The ring is freed
 * whenever it drains, unless keep_output says to keep it (a client's one stream).
 *
 * A frame may also be handed out as a view (mbus_stream_pop_view()): decoded in place, its
 * strings and body pointing into the input buffer, with a NUL written after its body over the
 * first byte of the next frame, which is kept aside (in_saved) and put back on release. While
 * a view is out its buffer is not moved, reused or freed: a read or pop that comes first (a
 * callback that makes a synchronous call) moves the bytes after the view to a new buffer
 * (stream_unlend()), and the view's buffer goes at release.
 *
 * Bytes move through the stream's transport (proto/transport.h): a plain socket, or TLS.
 */

#include <assert.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include "proto/frame.h"
#include "proto/stream.h"
#include "util/macro.h"

#define STREAM_OUT_MIN 8u
#define STREAM_IOV_FRAMES (IOV_MAX / 2)

void mbus_stream_init(struct mbus_stream *s, int fd, size_t max_frame_size) {
        assert(s);

        *s = (struct mbus_stream) {
                .max_frame_size = max_frame_size > 0 ? max_frame_size : MBUS_FRAME_SIZE_MAX_DEFAULT,
        };
        mbus_transport_init_socket(&s->transport, fd);
}

static void stream_in_free(struct mbus_stream *s) {
        if (s->in != s->scratch && s->in != s->in_lent)        /* a view's: freed at its release */
                free(s->in);
        s->in = NULL;
        s->in_start = s->in_end = s->in_cap = 0;
}

/* Every buffered byte has been taken: give the buffer back, unless it is to be kept. */
static void stream_in_release(struct mbus_stream *s) {
        if (s->keep_input && s->in && s->in != s->scratch) {
                s->in_start = s->in_end = 0;
                return;
        }
        stream_in_free(s);
}

static void stream_out_release(struct mbus_stream *s) {
        if (!s->keep_output) {
                free(s->out);
                s->out = NULL;
                s->out_cap = 0;
        }
        s->out_first = s->n_out = 0;
        s->out_offset = 0;
        s->out_bytes = 0;
}

/*
 * A view is out and its buffer still holds the rest of the input: moves that rest into a
 * buffer of its own (the same size, so the growth rules hold), so the next read or pop can
 * change it. Returns 0 or -ENOMEM.
 */
static int stream_unlend(struct mbus_stream *s) {
        size_t avail = s->in_end - s->in_start;
        uint8_t *p;

        if (!s->in_lent || s->in != s->in_lent)
                return 0;
        if (avail == 0) {
                s->in = NULL;
                s->in_start = s->in_end = s->in_cap = 0;
                return 0;
        }
        p = malloc(s->in_cap);
        if (!p)
                return -ENOMEM;
        memcpy(p, s->in + s->in_start, avail);
        if (s->in_saved_valid)
                p[0] = s->in_saved;
        s->in_saved_valid = false;
        s->in = p;
        s->in_start = 0;
        s->in_end = avail;
        return 0;
}

void mbus_stream_done(struct mbus_stream *s) {
        if (!s)
                return;

        stream_in_free(s);
        for (size_t i = 0; i < s->n_out; i++)
                mbus_frame_unref(s->out[(s->out_first + i) % s->out_cap]);
        s->keep_output = false;
        stream_out_release(s);
        mbus_transport_done(&s->transport);
}

void mbus_stream_set_scratch(struct mbus_stream *s, uint8_t *scratch) {
        assert(s && !s->in);
        s->scratch = scratch;
}

int mbus_stream_own_input(struct mbus_stream *s) {
        size_t avail;
        uint8_t *p;
        int r;

        r = stream_unlend(s);
        if (r < 0)
                return r;
        avail = s->in_end - s->in_start;
        if (!s->in || s->in != s->scratch)
                return 0;
        if (avail == 0) {
                stream_in_release(s);
                return 0;
        }
        /* As big as a read into a buffer of its own would have taken: the growth rules below
         * stay those of a stream without scratch. */
        p = malloc(MBUS_STREAM_READ_SIZE);
        if (!p) {
                stream_in_release(s);
                return -ENOMEM;
        }
        memcpy(p, s->in + s->in_start, avail);
        s->in = p;
        s->in_start = 0;
        s->in_end = avail;
        s->in_cap = MBUS_STREAM_READ_SIZE;
        return 0;
}

/* Makes room for at least want bytes in total (buffered + free) with the data at offset 0. */
static int stream_in_reserve(struct mbus_stream *s, size_t want) {
        size_t avail = s->in_end - s->in_start;
        uint8_t *p;

        want = MAX(want, (size_t) MBUS_STREAM_READ_SIZE);
        assert(s->in || (s->in_start == 0 && s->in_end == 0));

        /* Reallocate to grow, and also to shrink after a large frame has gone: the buffer
         * only stays big while a big frame is being read. */
        if (s->in_cap < want || (s->in_cap > want && avail <= want)) {
                p = malloc(want);
                if (!p)
                        return -ENOMEM;
                if (avail > 0)
                        memcpy(p, s->in + s->in_start, avail);
                free(s->in);
                s->in = p;
                s->in_cap = want;
        } else if (s->in_start > 0) {
                memmove(s->in, s->in + s->in_start, avail);
        }
        s->in_start = 0;
        s->in_end = avail;
        return 0;
}

/* mbus_frame_peek_size() of the buffered input, which may start with a view's NUL (see above). */
static int stream_peek(const struct mbus_stream *s, size_t *ret_size, const char **ret_reason) {
        size_t avail = s->in_end - s->in_start;
        const uint8_t *p = s->in + s->in_start;
        uint8_t head[MBUS_FRAME_HEADER_SIZE];

        if (avail == 0 || !s->in)       /* the same: bytes are buffered only in a buffer */
                return mbus_frame_peek_size(NULL, 0, s->max_frame_size, ret_size, ret_reason);
        if (s->in_saved_valid && s->in == s->in_lent) {
                memcpy(head, p, MIN(avail, sizeof(head)));
                head[0] = s->in_saved;
                p = head;
                avail = MIN(avail, sizeof(head));
        }
        return mbus_frame_peek_size(p, avail, s->max_frame_size, ret_size, ret_reason);
}

/* The buffer size the next read wants (see mbus_stream_read_capacity()), or a bad header's error. */
static int stream_read_want(const struct mbus_stream *s, size_t *ret) {
        size_t avail = s->in_end - s->in_start, want = MBUS_STREAM_READ_SIZE;

        if (avail >= MBUS_FRAME_HEADER_SIZE) {
                size_t frame_size;
                int r;

                /* A bad header is final: report it instead of reading on; pop() names it. */
                r = stream_peek(s, &frame_size, NULL);
                if (r < 0)
                        return r;
                if (frame_size > want) {
                        size_t room = s->in_cap - s->in_start;  /* from the frame's first byte */

                        /* Keep the size while there is room; once full, double, up to the frame. */
                        want = avail < room ? room : MIN(frame_size, MAX(want, 2 * room));
                }
        }
        *ret = want;
        return 0;
}

size_t mbus_stream_read_capacity(const struct mbus_stream *s) {
        size_t want;

        assert(s);
        if (!s->in && s->scratch)
                return 0;               /* the next read goes into the scratch, not ours */
        if (stream_read_want(s, &want) < 0)
                return s->in_cap;       /* nothing more will be read */
        return MAX(want, s->in_cap);
}

int mbus_stream_read(struct mbus_stream *s) {
        size_t want, space;
        ssize_t n;
        int r;

        assert(s);

        r = stream_unlend(s);
        if (r < 0)
                return r;
        r = stream_read_want(s, &want);
        if (r < 0)
                return r;

        if (!s->in && s->scratch) {
                s->in = s->scratch;
                s->in_cap = MBUS_STREAM_READ_SIZE;
        } else if (!s->in || s->in_cap - s->in_start < want || s->in_start > 0) {
                assert(!s->in || s->in != s->scratch);        /* own_input() ran after the last read */
                r = stream_in_reserve(s, want);
                if (r < 0)
                        return r;
        }

        /* A complete frame may already be buffered and fill the buffer: pop it first. */
        if (s->in_end == s->in_cap) {
                s->drained = false;
                return -ENOBUFS;
        }

        space = s->in_cap - s->in_end;
        n = s->transport.ops->read(&s->transport, s->in + s->in_end, space);
        /* A stream socket's read stops short only when nothing more is queued. */
        s->drained = n == -EAGAIN || (n > 0 && (size_t) n < space && !s->transport.tls);
        if (n <= 0) {
                r = n == 0 ? -ECONNRESET : (int) n;
                if (s->in_end == s->in_start)
                        stream_in_release(s);   /* stay at zero memory while idle */
                return r;
        }

        s->in_end += (size_t) n;
        s->bytes_in += (uint64_t) n;
        return (int) MIN((size_t) n, (size_t) INT_MAX);
}

size_t mbus_stream_partial_frame_size(const struct mbus_stream *s) {
        size_t avail = s->in_end - s->in_start, frame_size;

        if (avail == 0)
                return 0;
        if (stream_peek(s, &frame_size, NULL) < 0)
                return MBUS_FRAME_HEADER_SIZE;
        return frame_size;
}

bool mbus_stream_has_frame(const struct mbus_stream *s) {
        size_t avail = s->in_end - s->in_start, frame_size;

        if (avail < MBUS_FRAME_HEADER_SIZE)
                return false;
        if (stream_peek(s, &frame_size, NULL) < 0)
                return true;
        return frame_size <= avail;
}

/*
 * The size of the whole frame at the start of the input: 1 and its size, 0 if none is buffered
 * whole (the buffer goes if nothing at all is), or the error of a bad header.
 */
static int stream_next_frame(struct mbus_stream *s, size_t *ret_size, const char **ret_reason) {
        size_t avail = s->in_end - s->in_start, frame_size;
        int r;

        if (avail < MBUS_FRAME_HEADER_SIZE) {
                if (avail == 0 && s->in)
                        stream_in_release(s);
                return 0;
        }
        r = mbus_frame_peek_size(s->in + s->in_start, avail, s->max_frame_size, &frame_size, ret_reason);
        if (r < 0)
                return r;
        if (frame_size > avail)
                return 0;
        *ret_size = frame_size;
        return 1;
}

int mbus_stream_pop(struct mbus_stream *s, struct mbus_frame **ret, const char **ret_reason) {
        size_t frame_size;
        int r;

        assert(s && ret);

        r = stream_unlend(s);
        if (r < 0)
                return r;
        r = stream_next_frame(s, &frame_size, ret_reason);
        if (r <= 0)
                return r;

        r = mbus_frame_parse(ret, s->in + s->in_start, frame_size, s->max_frame_size, ret_reason);
        if (r < 0)
                return r;

        s->in_start += frame_size;
        if (s->in_start == s->in_end)
                stream_in_release(s);
        return 1;
}

int mbus_stream_pop_view(struct mbus_stream *s, struct mbus_frame *view, const char **ret_reason) {
        size_t frame_size, end;
        uint8_t saved = 0;
        int r;

        assert(s && view);

        if (s->in_lent)
                return -EBUSY;
        r = stream_next_frame(s, &frame_size, ret_reason);
        if (r <= 0)
                return r;

        /* The NUL after the body needs a byte: at the buffer's very end, make room (rare). */
        if (s->in_start + frame_size == s->in_cap) {
                if (s->in == s->scratch) {
                        r = mbus_stream_own_input(s);
                        if (r < 0)
                                return r;
                }
                r = stream_in_reserve(s, frame_size + 1);
                if (r < 0)
                        return r;
        }

        end = s->in_start + frame_size;
        if (end < s->in_end)
                saved = s->in[end];
        s->in[end] = 0;
        r = mbus_frame_parse_view(view, s->in + s->in_start, frame_size, s->max_frame_size, ret_reason);
        if (r < 0) {
                s->in[end] = saved;
                return r;
        }

        /* Consumed, but the buffer stays as it is until the release, even when empty. */
        s->in_start = end;
        s->in_lent = s->in;
        s->in_saved = saved;
        s->in_saved_valid = end < s->in_end;
        return 1;
}

void mbus_stream_release_view(struct mbus_stream *s) {
        assert(s);

        if (!s->in_lent)
                return;
        if (s->in == s->in_lent) {
                if (s->in_saved_valid)
                        s->in[s->in_start] = s->in_saved;
                s->in_lent = NULL;
                s->in_saved_valid = false;
                if (s->in_start == s->in_end)
                        stream_in_release(s);
                return;
        }
        /* The input moved on (stream_unlend()) or the stream is done: the buffer was the view's. */
        if (s->in_lent != s->scratch)
                free(s->in_lent);
        s->in_lent = NULL;
        s->in_saved_valid = false;
}

int mbus_stream_queue(struct mbus_stream *s, struct mbus_frame *frame) {
        assert(s && frame);

        if (s->n_out == s->out_cap) {
                size_t cap = MAX(s->out_cap * 2, (size_t) STREAM_OUT_MIN);
                struct mbus_frame **out;

                out = malloc(cap * sizeof(*out));
                if (!out)
                        return -ENOMEM;
                /* Unroll the ring so the oldest frame is at index 0 again. */
                for (size_t i = 0; i < s->n_out; i++)
                        out[i] = s->out[(s->out_first + i) % s->out_cap];
                free(s->out);
                s->out = out;
                s->out_cap = cap;
                s->out_first = 0;
        }

        s->out[(s->out_first + s->n_out) % s->out_cap] = mbus_frame_ref(frame);
        s->n_out++;
        s->out_bytes += mbus_frame_size(frame);
        return 0;
}

/* Adds the part of [p, p+len) at or after *skip to iov, consuming *skip. */
static size_t iov_add(struct iovec *iov, size_t n_iov, const uint8_t *p, size_t len, size_t *skip) {
        if (*skip >= len) {
                *skip -= len;
                return n_iov;
        }
        iov[n_iov] = (struct iovec) { .iov_base = (void *) (p + *skip), .iov_len = len - *skip };
        *skip = 0;
        return n_iov + 1;
}

int mbus_stream_flush(struct mbus_stream *s) {
        struct iovec iov[STREAM_IOV_FRAMES * 2];

        assert(s);

        while (s->n_out > 0) {
                size_t n_iov = 0, offered = 0, skip = s->out_offset, n_frames;
                ssize_t n;

                n_frames = MIN(s->n_out, (size_t) STREAM_IOV_FRAMES);
                for (size_t i = 0; i < n_frames; i++) {
                        const struct mbus_frame *f = s->out[(s->out_first + i) % s->out_cap];

                        n_iov = iov_add(iov, n_iov, f->head, f->head_len, &skip);
                        n_iov = iov_add(iov, n_iov, f->body, f->body_len, &skip);
                }
                for (size_t i = 0; i < n_iov; i++)
                        offered += iov[i].iov_len;

                n = s->transport.ops->writev(&s->transport, iov, n_iov);
                if (n < 0)
                        return n == -EAGAIN ? 1 : (int) n;

                s->bytes_out += (uint64_t) n;
                s->out_bytes -= (size_t) n;

                /* Retire every frame the write finished; remember how far it got into the next. */
                for (size_t left = (size_t) n; left > 0;) {
                        struct mbus_frame **slot = &s->out[s->out_first];
                        size_t rest = mbus_frame_size(*slot) - s->out_offset;

                        if (left < rest) {
                                s->out_offset += left;
                                break;
                        }
                        left -= rest;
                        *slot = mbus_frame_unref(*slot);
                        s->out_first = (s->out_first + 1) % s->out_cap;
                        s->n_out--;
                        s->out_offset = 0;
                }

                /* A short write means the socket is full: wait for EPOLLOUT, not for EAGAIN. */
                if ((size_t) n < offered)
                        break;
        }

        if (s->n_out == 0) {
                stream_out_release(s);
                return 0;
        }
        return 1;
}
