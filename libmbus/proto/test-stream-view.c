/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frames decoded in place (mbus_stream_pop_view()) over a real socketpair: whatever way the
 * bytes are cut into reads (at every byte boundary, many frames in one read, one frame larger
 * than the read buffer), every frame comes out whole, in order, with the NUL after its body,
 * and a view stays intact while the stream reads and pops on behind it or is done.
 */

#include <check.h>
#include <poll.h>
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

static void close_pair(int fds[2]) {
        safe_close(fds[0]);
        safe_close(fds[1]);
}

/* The wire bytes of EVENT serial with a body_len-byte body that depends on serial. */
static uint8_t *event_bytes(uint64_t serial, size_t body_len, size_t *ret_len) {
        struct mbus_frame_fields f = { .serial = serial, .namespace = "org.example.View", .member = "Ev",
                                       .sender = ":1.7" };
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
        char *body = malloc(body_len + 1);
        uint8_t *bytes;

        ck_assert_ptr_nonnull(body);
        for (size_t i = 0; i < body_len; i++)
                body[i] = (char) ('a' + (serial + i) % 26);
        ck_assert_int_eq(mbus_frame_new(&frame, MBUS_FRAME_EVENT, &f, body, body_len), 0);
        free(body);
        bytes = malloc(mbus_frame_size(frame));
        ck_assert_ptr_nonnull(bytes);
        memcpy(bytes, frame->head, frame->head_len);
        memcpy(bytes + frame->head_len, frame->body, frame->body_len);
        *ret_len = mbus_frame_size(frame);
        return bytes;
}

/* The wire bytes of EVENTs 1..n back to back, each with a body_len-byte body. */
static uint8_t *events_bytes(uint64_t n, size_t body_len, size_t *ret_len) {
        uint8_t *all = NULL;
        size_t len = 0;

        for (uint64_t i = 1; i <= n; i++) {
                size_t k;
                _cleanup_free_ uint8_t *b = event_bytes(i, body_len, &k);

                all = realloc(all, len + k);
                ck_assert_ptr_nonnull(all);
                memcpy(all + len, b, k);
                len += k;
        }
        *ret_len = len;
        return all;
}

static void check_view(const struct mbus_frame *v, uint64_t serial, size_t body_len) {
        ck_assert_uint_eq(v->n_ref, 0);
        ck_assert_int_eq(v->type, MBUS_FRAME_EVENT);
        ck_assert_uint_eq(v->f.serial, serial);
        ck_assert_str_eq(v->f.namespace, "org.example.View");
        ck_assert_str_eq(v->f.member, "Ev");
        ck_assert_str_eq(v->f.sender, ":1.7");
        ck_assert_uint_eq(v->body_len, body_len);
        for (size_t i = 0; i < body_len; i++)
                ck_assert_int_eq(v->body[i], 'a' + (serial + i) % 26);
        ck_assert_int_eq(v->body[body_len], 0);
}

/* Writes what the socket takes of [*p, end) without blocking. */
static void feed(int fd, const uint8_t **p, const uint8_t *end) {
        while (*p < end) {
                ssize_t n = write(fd, *p, (size_t) (end - *p));

                if (n < 0 && errno == EAGAIN)
                        return;
                ck_assert_int_gt(n, 0);
                *p += n;
        }
}

/* Pops every whole frame as a view, checking it is serial *next, and releases it. */
static void pop_all(struct mbus_stream *s, uint64_t *next, size_t body_len) {
        struct mbus_frame v;
        int r;

        while ((r = mbus_stream_pop_view(s, &v, NULL)) > 0) {
                check_view(&v, (*next)++, body_len);
                mbus_stream_release_view(s);
        }
        ck_assert_int_eq(r, 0);
}

START_TEST(test_frames_split_at_every_byte_come_out_whole) {
        enum { N = 3, BODY = 40 };
        size_t len;
        _cleanup_free_ uint8_t *all = events_bytes(N, BODY, &len);

        for (size_t cut = 1; cut < len; cut++) {
                struct mbus_stream s;
                uint64_t next = 1;
                int fds[2];

                make_pair(fds);
                mbus_stream_init(&s, fds[0], 0);
                s.keep_input = true;    /* as a client's stream */

                ck_assert_int_eq(write(fds[1], all, cut), (ssize_t) cut);
                ck_assert_int_eq(mbus_stream_read(&s), (int) cut);
                pop_all(&s, &next, BODY);
                ck_assert_int_eq(write(fds[1], all + cut, len - cut), (ssize_t) (len - cut));
                ck_assert_int_eq(mbus_stream_read(&s), (int) (len - cut));
                pop_all(&s, &next, BODY);

                ck_assert_uint_eq(next, N + 1);
                ck_assert(!mbus_stream_has_input(&s));
                mbus_stream_done(&s);
                close_pair(fds);
        }
}
END_TEST

START_TEST(test_many_frames_arrive_with_one_read_and_pop_without_syscalls) {
        enum { N = 300, BODY = 100 };
        struct mbus_stream s;
        uint64_t next = 1;
        size_t total;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        s.keep_input = true;
        _cleanup_free_ uint8_t *all = events_bytes(N, BODY, &total);

        ck_assert_uint_lt(total, MBUS_STREAM_READ_SIZE);
        ck_assert_int_eq(write(fds[1], all, total), (ssize_t) total);

        ck_assert_int_eq(mbus_stream_read(&s), (int) total);
        /* a read shorter than the room it had: nothing more is waiting */
        ck_assert(mbus_stream_drained(&s));
        safe_close(fds[1]);     /* any further read would now see the hang-up, not a frame */
        pop_all(&s, &next, BODY);
        ck_assert_uint_eq(next, N + 1);
        mbus_stream_done(&s);
        safe_close(fds[0]);
}
END_TEST

START_TEST(test_frame_larger_than_the_buffer_comes_out_whole) {
        const size_t body = 3 * MBUS_STREAM_READ_SIZE + 123;
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        const uint8_t *p, *end;
        struct mbus_stream s;
        size_t len_a, len_b;
        uint64_t next = 1;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        s.keep_input = true;
        a = event_bytes(1, body, &len_a);
        b = event_bytes(2, 10, &len_b);

        /* the big one, then a small one right behind it */
        p = a;
        end = a + len_a;
        while (next == 1) {
                feed(fds[1], &p, end);
                if (p == end) {
                        const uint8_t *q = b;

                        feed(fds[1], &q, b + len_b);
                        ck_assert_ptr_eq(q, b + len_b);
                        p = end + 1;    /* fed */
                }
                (void) mbus_stream_read(&s);
                struct mbus_frame v;
                int r = mbus_stream_pop_view(&s, &v, NULL);

                ck_assert_int_ge(r, 0);
                if (r > 0) {
                        check_view(&v, next++, body);
                        mbus_stream_release_view(&s);
                }
        }
        while (next == 2) {
                (void) mbus_stream_read(&s);
                pop_all(&s, &next, 10);
        }
        mbus_stream_done(&s);
        close_pair(fds);
}
END_TEST

START_TEST(test_view_survives_reads_and_pops_behind_it) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *got = NULL;
        struct mbus_stream s;
        struct mbus_frame v;
        size_t len_a, len_b;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        s.keep_input = true;
        a = event_bytes(1, 50, &len_a);
        b = event_bytes(2, 60, &len_b);

        /* frame 1 whole and half of frame 2 in one read */
        ck_assert_int_eq(write(fds[1], a, len_a), (ssize_t) len_a);
        ck_assert_int_eq(write(fds[1], b, len_b / 2), (ssize_t) (len_b / 2));
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_int_eq(mbus_stream_pop_view(&s, &v, NULL), 1);
        check_view(&v, 1, 50);
        /* one view at a time */
        struct mbus_frame w;
        ck_assert_int_eq(mbus_stream_pop_view(&s, &w, NULL), -EBUSY);
        /* what waits behind the view still tells its own size */
        ck_assert_uint_eq(mbus_stream_partial_frame_size(&s), len_b);
        ck_assert(!mbus_stream_has_frame(&s));

        /* a callback reads and pops on while the view is out */
        ck_assert_int_eq(write(fds[1], b + len_b / 2, len_b - len_b / 2), (ssize_t) (len_b - len_b / 2));
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_int_eq(mbus_stream_pop(&s, &got, NULL), 1);
        ck_assert_uint_eq(got->f.serial, 2);
        ck_assert_uint_eq(got->body_len, 60);

        check_view(&v, 1, 50);          /* untouched */
        mbus_stream_release_view(&s);
        ck_assert(!mbus_stream_has_view(&s));
        ck_assert(!mbus_stream_has_input(&s));
        mbus_stream_done(&s);
        close_pair(fds);
}
END_TEST

START_TEST(test_view_outlives_the_stream_until_released) {
        _cleanup_free_ uint8_t *a = NULL;
        struct mbus_stream s;
        struct mbus_frame v;
        size_t len_a;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        s.keep_input = true;
        a = event_bytes(5, 70, &len_a);
        ck_assert_int_eq(write(fds[1], a, len_a), (ssize_t) len_a);
        ck_assert_int_eq(write(fds[1], a, 5), 5);       /* the start of another */
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_int_eq(mbus_stream_pop_view(&s, &v, NULL), 1);

        /* a callback closes the connection under the view */
        mbus_stream_done(&s);
        check_view(&v, 5, 70);
        mbus_stream_release_view(&s);   /* frees the buffer (the sanitizer build checks) */
        close_pair(fds);
}
END_TEST

START_TEST(test_view_copy_is_a_frame_of_its_own) {
        _cleanup_free_ uint8_t *a = NULL;
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *copy = NULL;
        struct mbus_frame v;
        size_t len;

        a = event_bytes(9, 33, &len);
        a = realloc(a, len + 1);
        ck_assert_ptr_nonnull(a);
        a[len] = 0;
        ck_assert_int_eq(mbus_frame_parse_view(&v, a, len, MBUS_FRAME_SIZE_MAX_DEFAULT, NULL), 0);
        ck_assert_int_eq(mbus_frame_copy(&copy, &v), 0);
        memset(a, 0xff, len);           /* the view's bytes go; the copy's stay */
        check_view(&(struct mbus_frame) { .type = copy->type, .f = copy->f, .body = copy->body,
                                          .body_len = copy->body_len }, 9, 33);
        ck_assert_uint_eq(copy->n_ref, 1);
}
END_TEST

START_TEST(test_malformed_frame_is_refused_in_place_too) {
        _cleanup_free_ uint8_t *a = NULL;
        struct mbus_stream s;
        struct mbus_frame v;
        const char *reason = NULL;
        size_t len;
        int fds[2];

        make_pair(fds);
        mbus_stream_init(&s, fds[0], 0);
        a = event_bytes(3, 20, &len);
        a[len - 22] = 0;        /* ":1.7" -> ":1.\0": a NUL inside the sender string, the last field */
        ck_assert_int_eq(write(fds[1], a, len), (ssize_t) len);
        ck_assert_int_gt(mbus_stream_read(&s), 0);
        ck_assert_int_eq(mbus_stream_pop_view(&s, &v, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(reason);
        ck_assert(!mbus_stream_has_view(&s));
        mbus_stream_done(&s);
        close_pair(fds);
}
END_TEST

static Suite *stream_view_suite(void) {
        Suite *s = suite_create("stream-view");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_frames_split_at_every_byte_come_out_whole);
        tcase_add_test(tc, test_many_frames_arrive_with_one_read_and_pop_without_syscalls);
        tcase_add_test(tc, test_frame_larger_than_the_buffer_comes_out_whole);
        tcase_add_test(tc, test_view_survives_reads_and_pops_behind_it);
        tcase_add_test(tc, test_view_outlives_the_stream_until_released);
        tcase_add_test(tc, test_view_copy_is_a_frame_of_its_own);
        tcase_add_test(tc, test_malformed_frame_is_refused_in_place_too);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(stream_view_suite)
