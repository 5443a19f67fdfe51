/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The frame stream over a real socketpair: batching (many frames per read, many per
 * sendmsg), frames split across reads, partial writes against a tiny send buffer, the
 * max-frame-size check before any body is buffered, errors on hang-up, and the promise that
 * an idle stream holds no buffers at all.
 */

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/stream.h"
#include "util/fd-util.h"
#include "util/macro.h"
#include "util/test-util.h"

static void make_pair(int fds[2]) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
}

static struct mbus_frame *make_event(uint64_t serial, size_t body_len) {
        struct mbus_frame_fields f = { .serial = serial, .namespace = "org.example.Test", .member = "Ev" };
        struct mbus_frame *frame = NULL;
        char *body = malloc(body_len + 1);

        ck_assert_ptr_nonnull(body);
        for (size_t i = 0; i < body_len; i++)
                body[i] = (char) ('a' + (serial + i) % 26);
        ck_assert_int_eq(mbus_frame_new(&frame, MBUS_FRAME_EVENT, &f, body, body_len), 0);
        free(body);
        return frame;
}

static void write_all(int fd, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };

                        ck_assert_int_ge(poll(&pfd, 1, 1000), 0);
                        continue;
                }
                ck_assert_int_gt(n, 0);
                p += n;
                len -= (size_t) n;
        }
}

static void write_frame(int fd, const struct mbus_frame *f) {
        write_all(fd, f->head, f->head_len);
        write_all(fd, f->body, f->body_len);
}

static void check_event(const struct mbus_frame *got, uint64_t serial, size_t body_len) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *want = make_event(serial, body_len);

        ck_assert_int_eq(got->type, MBUS_FRAME_EVENT);
        ck_assert_uint_eq(got->f.serial, serial);
        ck_assert_str_eq(got->f.namespace, "org.example.Test");
        ck_assert_uint_eq(got->body_len, body_len);
        ck_assert_mem_eq(got->body, want->body, body_len);
}

START_TEST(test_many_frames_arrive_with_one_read) {
        struct mbus_stream s;
        struct mbus_frame *f;
        size_t total = 0;
        int fds[2], n_popped = 0, r;

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        ck_assert_uint_eq(s.max_frame_size, MBUS_FRAME_SIZE_MAX_DEFAULT);

        for (uint64_t i = 1; i <= 100; i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(i, 100);

                write_frame(fds[1], e);
                total += mbus_frame_size(e);
        }

        r = mbus_stream_read(&s);
        ck_assert_int_eq(r, (int) total);
        ck_assert_uint_eq(s.bytes_in, total);
        while ((r = mbus_stream_pop(&s, &f, NULL)) == 1) {
                check_event(f, (uint64_t) ++n_popped, 100);
                mbus_frame_unref(f);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(n_popped, 100);
        ck_assert_ptr_null(s.in);
        ck_assert(!mbus_stream_has_input(&s));

        /* Nothing more to read: still no buffer held. */
        ck_assert_int_eq(mbus_stream_read(&s), -EAGAIN);
        ck_assert_ptr_null(s.in);

        mbus_stream_done(&s);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_frame_split_byte_by_byte) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(7, 33);
        _cleanup_free_ uint8_t *wire = malloc(mbus_frame_size(e));
        struct mbus_frame *f = NULL;
        struct mbus_stream s;
        size_t size = mbus_frame_size(e);
        int fds[2];

        memcpy(wire, e->head, e->head_len);
        memcpy(wire + e->head_len, e->body, e->body_len);
        make_pair(fds);
        mbus_stream_init(&s, fds[0], 4096);

        for (size_t i = 0; i < size; i++) {
                write_all(fds[1], wire + i, 1);
                ck_assert_int_eq(mbus_stream_read(&s), 1);
                if (i + 1 < size) {
                        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 0);
                        ck_assert(mbus_stream_has_input(&s));
                }
        }
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 1);
        check_event(f, 7, 33);
        mbus_frame_unref(f);
        ck_assert_ptr_null(s.in);

        mbus_stream_done(&s);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_frame_larger_than_read_size) {
        size_t body_len = 3 * MBUS_STREAM_READ_SIZE + 17;
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(3, body_len);
        struct mbus_stream in, out;
        struct mbus_frame *f = NULL;
        int fds[2], r, done = 0;

        make_pair(fds);
        mbus_stream_init(&in, fds[0], 1024 * 1024);
        mbus_stream_init(&out, fds[1], 1024 * 1024);
        ck_assert_int_eq(mbus_stream_queue(&out, e), 0);

        while (!done) {
                r = mbus_stream_flush(&out);
                ck_assert_int_ge(r, 0);
                r = mbus_stream_read(&in);
                ck_assert(r > 0 || r == -EAGAIN);
                ck_assert_uint_le(in.in_cap, mbus_frame_size(e));
                r = mbus_stream_pop(&in, &f, NULL);
                ck_assert_int_ge(r, 0);
                done = r;
        }
        check_event(f, 3, body_len);
        mbus_frame_unref(f);
        ck_assert_ptr_null(in.in);
        ck_assert_int_eq(mbus_stream_flush(&out), 0);
        ck_assert_ptr_null(out.out);

        mbus_stream_done(&in);
        mbus_stream_done(&out);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_partial_writes_with_small_sndbuf) {
        struct mbus_stream in, out;
        int fds[2], sndbuf = 4096, r;
        const unsigned n_frames = 3000;
        unsigned n_received = 0, n_flushes = 0, n_partial = 0;
        uint64_t queued = 0;

        make_pair(fds);
        ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
        mbus_stream_init(&in, fds[0], 0);
        mbus_stream_init(&out, fds[1], 0);

        /* More frames than IOV_MAX/2, of sizes that straddle every boundary. */
        for (unsigned i = 1; i <= n_frames; i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(i, (i * 37) % 3000);

                ck_assert_int_eq(mbus_stream_queue(&out, e), 0);
                ck_assert_uint_eq(e->n_ref, 2);         /* queued by reference */
                queued += mbus_frame_size(e);
        }
        ck_assert_uint_eq(mbus_stream_queued_bytes(&out), queued);
        ck_assert(mbus_stream_has_output(&out));

        for (;;) {
                struct mbus_frame *f;

                r = mbus_stream_flush(&out);
                ck_assert_int_ge(r, 0);
                n_flushes++;
                if (r == 1)
                        n_partial++;
                if (out.out_offset > 0)
                        ck_assert_uint_lt(out.out_offset, mbus_frame_size(out.out[out.out_first]));

                r = mbus_stream_read(&in);
                ck_assert(r > 0 || r == -EAGAIN);
                while ((r = mbus_stream_pop(&in, &f, NULL)) == 1) {
                        n_received++;
                        check_event(f, n_received, (n_received * 37) % 3000);
                        mbus_frame_unref(f);
                }
                ck_assert_int_eq(r, 0);
                if (n_received == n_frames)
                        break;
        }

        ck_assert_uint_gt(n_partial, 10);
        ck_assert_int_eq(mbus_stream_flush(&out), 0);
        ck_assert_ptr_null(out.out);
        ck_assert_ptr_null(in.in);
        ck_assert_uint_eq(out.bytes_out, queued);
        ck_assert_uint_eq(in.bytes_in, queued);
        ck_assert_uint_eq(mbus_stream_queued_bytes(&out), 0);
        ck_assert(!mbus_stream_has_output(&out));

        mbus_stream_done(&in);
        mbus_stream_done(&out);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

/* A large frame announced, little of it sent: the buffer holds about what arrived, not the frame. */
START_TEST(test_buffer_grows_as_a_large_frame_arrives) {
        struct mbus_frame_fields fields = { .serial = 1 };
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *big = NULL;
        size_t body_len = 8 * 1024 * 1024, sent;
        _cleanup_free_ char *body = calloc(1, body_len);
        struct mbus_frame *f = NULL;
        struct mbus_stream s;
        int fds[2], r;

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 16 * 1024 * 1024);
        ck_assert_ptr_nonnull(body);
        ck_assert_int_eq(mbus_frame_new(&big, MBUS_FRAME_PING, &fields, body, body_len), 0);

        write_all(fds[1], big->head, big->head_len);
        write_all(fds[1], body, 100);
        while ((r = mbus_stream_read(&s)) > 0)
                ;
        ck_assert_int_eq(r, -EAGAIN);
        ck_assert_uint_eq(mbus_stream_partial_frame_size(&s), mbus_frame_size(big));
        ck_assert_uint_le(s.in_cap, MBUS_STREAM_READ_SIZE);
        /* what an owner that budgets memory is told before each read: never less than is taken */
        ck_assert_uint_ge(mbus_stream_read_capacity(&s), s.in_cap);

        /* a quarter of it: the buffer is at most twice what arrived */
        sent = 100;
        while (sent < body_len / 4) {
                size_t n = MIN(body_len / 4 - sent, (size_t) 32768);

                write_all(fds[1], body + sent, n);
                sent += n;
                for (;;) {
                        size_t announced = mbus_stream_read_capacity(&s);

                        if (mbus_stream_read(&s) <= 0)
                                break;
                        ck_assert_uint_le(s.in_cap, announced);
                }
        }
        ck_assert_uint_le(s.in_cap, 2 * (big->head_len + sent));
        ck_assert_uint_le(mbus_stream_read_capacity(&s), 2 * s.in_cap);
        ck_assert_uint_le(mbus_stream_read_capacity(&s), mbus_frame_size(big));
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 0);

        /* the rest: the frame comes out whole, and the buffer goes */
        while (sent < body_len) {
                size_t n = MIN(body_len - sent, (size_t) 65536);

                write_all(fds[1], body + sent, n);
                sent += n;
                while (mbus_stream_read(&s) > 0)
                        ;
        }
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 1);
        ck_assert_uint_eq(f->body_len, body_len);
        mbus_frame_unref(f);
        ck_assert_ptr_null(s.in);
        ck_assert_uint_eq(mbus_stream_partial_frame_size(&s), 0);

        mbus_stream_done(&s);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_oversize_refused_before_body_is_buffered) {
        struct mbus_frame_fields fields = { .serial = 1 };
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *big = NULL;
        _cleanup_free_ char *body = calloc(1, 256 * 1024);
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        struct mbus_stream s;
        int fds[2], r;

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 1024);
        memset(body, ' ', 256 * 1024);
        ck_assert_int_eq(mbus_frame_new(&big, MBUS_FRAME_PING, &fields, body, 256 * 1024), 0);

        /* Only the header plus a little: the receiver must decide from the header alone. */
        write_all(fds[1], big->head, big->head_len);
        write_all(fds[1], body, 100);

        r = mbus_stream_read(&s);
        ck_assert_int_eq(r, (int) big->head_len + 100);
        ck_assert_int_eq(mbus_stream_pop(&s, &f, &reason), -EMSGSIZE);
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(reason);
        /* Further reads refuse too, and the buffer never grew toward the announced size. */
        ck_assert_int_eq(mbus_stream_read(&s), -EMSGSIZE);
        ck_assert_uint_le(s.in_cap, MBUS_STREAM_READ_SIZE);

        mbus_stream_done(&s);
        ck_assert_ptr_null(s.in);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_malformed_input_reports_reason) {
        static const uint8_t junk[12] = { 1, MBUS_FRAME_PING, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0 };
        static const uint8_t fields[4] = { 99, 1, 0, 0 };
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        struct mbus_stream s;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        write_all(fds[1], junk, sizeof(junk));
        write_all(fds[1], fields, sizeof(fields));
        ck_assert_int_eq(mbus_stream_read(&s), 16);
        ck_assert_int_eq(mbus_stream_pop(&s, &f, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(reason);
        ck_assert_ptr_nonnull(strstr(reason, "unknown field code"));

        mbus_stream_done(&s);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_eof_is_connreset) {
        struct mbus_stream s;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        ck_assert_int_eq(mbus_stream_read(&s), -EAGAIN);
        ck_assert_ptr_null(s.in);
        fds[1] = safe_close(fds[1]);
        ck_assert_int_eq(mbus_stream_read(&s), -ECONNRESET);
        ck_assert_ptr_null(s.in);

        mbus_stream_done(&s);
        safe_close(fds[0]);
}
END_TEST

START_TEST(test_write_to_closed_peer_is_epipe_not_sigpipe) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(1, 10);
        struct mbus_stream s;
        int fds[2], r;

        make_pair(fds);
        mbus_stream_init(&s, fds[1], 0);
        fds[0] = safe_close(fds[0]);
        ck_assert_int_eq(mbus_stream_queue(&s, e), 0);
        r = mbus_stream_flush(&s);      /* SIGPIPE would kill the test here */
        ck_assert(r == -EPIPE || r == -ECONNRESET);
        ck_assert(mbus_stream_has_output(&s));

        /* done() drops the queued reference. */
        ck_assert_uint_eq(e->n_ref, 2);
        mbus_stream_done(&s);
        ck_assert_uint_eq(e->n_ref, 1);
        ck_assert_ptr_null(s.out);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_one_frame_queued_on_many_streams) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e = make_event(1, 10);
        struct mbus_stream s[4];
        int fds[4][2];

        for (size_t i = 0; i < 4; i++) {
                make_pair(fds[i]);
                mbus_stream_init(&s[i], fds[i][1], 0);
                ck_assert_int_eq(mbus_stream_queue(&s[i], e), 0);
        }
        ck_assert_uint_eq(e->n_ref, 5);
        for (size_t i = 0; i < 4; i++) {
                struct mbus_stream in;
                struct mbus_frame *f;

                ck_assert_int_eq(mbus_stream_flush(&s[i]), 0);
                ck_assert_ptr_null(s[i].out);
                mbus_stream_init(&in, fds[i][0], 0);
                ck_assert_int_gt(mbus_stream_read(&in), 0);
                ck_assert_int_eq(mbus_stream_pop(&in, &f, NULL), 1);
                check_event(f, 1, 10);
                mbus_frame_unref(f);
                mbus_stream_done(&in);
                mbus_stream_done(&s[i]);
                safe_close(fds[i][0]);
                safe_close(fds[i][1]);
        }
        ck_assert_uint_eq(e->n_ref, 1);
}
END_TEST

/* Two streams share one scratch buffer: whole frames cost neither of them memory of its own,
 * and the start of a frame kept by one survives the other's reads into the scratch. */
START_TEST(test_streams_sharing_a_scratch_buffer_keep_only_partial_frames) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e1 = make_event(1, 300), *e2 = make_event(2, 300);
        _cleanup_free_ uint8_t *scratch = malloc(MBUS_STREAM_READ_SIZE);
        struct mbus_stream a, b;
        struct mbus_frame *f = NULL;
        int fa[2], fb[2];

        ck_assert_ptr_nonnull(scratch);
        make_pair(fa);
        make_pair(fb);
        mbus_stream_init(&a, fa[0], 0);
        mbus_stream_init(&b, fb[0], 0);
        mbus_stream_set_scratch(&a, scratch);
        mbus_stream_set_scratch(&b, scratch);

        /* a: one whole frame and the first 20 bytes of the next */
        write_frame(fa[1], e1);
        write_all(fa[1], e2->head, 20);
        ck_assert_int_gt(mbus_stream_read(&a), 0);
        ck_assert_ptr_eq(a.in, scratch);
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 1);
        f = mbus_frame_unref(f);
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 0);
        ck_assert_int_eq(mbus_stream_own_input(&a), 0);
        ck_assert_ptr_nonnull(a.in);
        ck_assert_ptr_ne(a.in, scratch);

        /* b: whole frames only, read into the scratch over a's old bytes; b holds nothing after */
        write_frame(fb[1], e2);
        ck_assert_int_gt(mbus_stream_read(&b), 0);
        ck_assert_int_eq(mbus_stream_pop(&b, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 2);
        f = mbus_frame_unref(f);
        ck_assert_int_eq(mbus_stream_pop(&b, &f, NULL), 0);
        ck_assert_int_eq(mbus_stream_own_input(&b), 0);
        ck_assert_ptr_null(b.in);

        /* a's frame completes from its own buffer, intact */
        write_all(fa[1], e2->head + 20, e2->head_len - 20);
        write_all(fa[1], e2->body, e2->body_len);
        ck_assert_int_gt(mbus_stream_read(&a), 0);
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 2);
        ck_assert_uint_eq(f->body_len, e2->body_len);
        ck_assert_int_eq(memcmp(f->body, e2->body, e2->body_len), 0);
        f = mbus_frame_unref(f);
        ck_assert_ptr_null(a.in);

        mbus_stream_done(&a);
        mbus_stream_done(&b);
        safe_close(fa[0]);
        safe_close(fa[1]);
        safe_close(fb[0]);
        safe_close(fb[1]);
}
END_TEST

/*
 * What an owner charges for input (mbus_stream_read_capacity()) is only what the stream keeps:
 * nothing for a read into the scratch, the own buffer once whole frames left unpopped (an
 * owner's budget ran out) and a partial frame move out of the scratch; mbus_stream_has_frame()
 * tells whole frames from a partial one.
 */
START_TEST(test_scratch_reads_cost_nothing_and_kept_frames_are_told_apart) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e1 = make_event(1, 300), *e2 = make_event(2, 300);
        _cleanup_free_ uint8_t *scratch = malloc(MBUS_STREAM_READ_SIZE);
        struct mbus_stream a;
        struct mbus_frame *f = NULL;
        int fa[2];

        ck_assert_ptr_nonnull(scratch);
        make_pair(fa);
        mbus_stream_init(&a, fa[0], 0);
        mbus_stream_set_scratch(&a, scratch);
        ck_assert_uint_eq(mbus_stream_read_capacity(&a), 0);
        ck_assert(!mbus_stream_has_frame(&a));

        /* two whole frames and the start of a third; the owner pops none before moving them */
        write_frame(fa[1], e1);
        write_frame(fa[1], e2);
        write_all(fa[1], e1->head, 10);
        ck_assert_int_gt(mbus_stream_read(&a), 0);
        ck_assert(mbus_stream_has_frame(&a));
        ck_assert_int_eq(mbus_stream_own_input(&a), 0);
        ck_assert_ptr_ne(a.in, scratch);
        ck_assert_uint_eq(a.in_cap, MBUS_STREAM_READ_SIZE);
        ck_assert_uint_eq(mbus_stream_read_capacity(&a), MBUS_STREAM_READ_SIZE);
        ck_assert(mbus_stream_has_frame(&a));
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 1);
        f = mbus_frame_unref(f);
        ck_assert(mbus_stream_has_frame(&a));
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 2);
        f = mbus_frame_unref(f);
        ck_assert(!mbus_stream_has_frame(&a));          /* 10 bytes of a frame: not whole */
        ck_assert(mbus_stream_has_input(&a));

        /* the rest arrives into the own buffer; once popped the stream keeps nothing */
        write_all(fa[1], e1->head + 10, e1->head_len - 10);
        write_all(fa[1], e1->body, e1->body_len);
        ck_assert_int_gt(mbus_stream_read(&a), 0);
        ck_assert(mbus_stream_has_frame(&a));
        ck_assert_int_eq(mbus_stream_pop(&a, &f, NULL), 1);
        f = mbus_frame_unref(f);
        ck_assert_ptr_null(a.in);
        ck_assert_uint_eq(mbus_stream_read_capacity(&a), 0);

        mbus_stream_done(&a);
        safe_close(fa[0]);
        safe_close(fa[1]);
}
END_TEST

/* A client's stream keeps its input buffer between reads instead of taking a new one. */
START_TEST(test_keep_input_reuses_the_buffer) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e1 = make_event(1, 100), *e2 = make_event(2, 100);
        struct mbus_stream s;
        struct mbus_frame *f = NULL;
        const uint8_t *first;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        s.keep_input = true;

        write_frame(fds[1], e1);
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 1);
        f = mbus_frame_unref(f);
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 0);
        ck_assert_ptr_nonnull(s.in);
        ck_assert(!mbus_stream_has_input(&s));
        first = s.in;

        write_frame(fds[1], e2);
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_ptr_eq(s.in, first);
        ck_assert_int_eq(mbus_stream_pop(&s, &f, NULL), 1);
        ck_assert_uint_eq(f->f.serial, 2);
        f = mbus_frame_unref(f);

        mbus_stream_done(&s);
        ck_assert_ptr_null(s.in);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

static Suite *stream_suite(void) {
        Suite *s = suite_create("stream");
        TCase *tc = tcase_create("stream");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_many_frames_arrive_with_one_read);
        tcase_add_test(tc, test_frame_split_byte_by_byte);
        tcase_add_test(tc, test_frame_larger_than_read_size);
        tcase_add_test(tc, test_partial_writes_with_small_sndbuf);
        tcase_add_test(tc, test_buffer_grows_as_a_large_frame_arrives);
        tcase_add_test(tc, test_oversize_refused_before_body_is_buffered);
        tcase_add_test(tc, test_malformed_input_reports_reason);
        tcase_add_test(tc, test_eof_is_connreset);
        tcase_add_test(tc, test_write_to_closed_peer_is_epipe_not_sigpipe);
        tcase_add_test(tc, test_one_frame_queued_on_many_streams);
        tcase_add_test(tc, test_streams_sharing_a_scratch_buffer_keep_only_partial_frames);
        tcase_add_test(tc, test_scratch_reads_cost_nothing_and_kept_frames_are_told_apart);
        tcase_add_test(tc, test_keep_input_reuses_the_buffer);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(stream_suite)
