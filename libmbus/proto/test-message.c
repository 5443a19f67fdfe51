/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message link (message.h): a received message becomes exactly one frame for the stream,
 * frames the stream writes leave one per message in the form the other side chose, output is
 * bounded, and whichever side lets go first leaves the other a working object.
 */

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "proto/frame.h"
#include "proto/message.h"
#include "proto/transport.h"
#include "util/macro.h"
#include "util/test-util.h"

#define MAX_SIZE (64u * 1024u)

/* The wire bytes of a PING with the given serial. */
static size_t ping_bytes(uint64_t serial, uint8_t *buf, size_t size) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        struct mbus_frame_fields fields = { .serial = serial };

        ck_assert_int_eq(mbus_frame_new(&f, MBUS_FRAME_PING, &fields, NULL, 0), 0);
        ck_assert_uint_le(mbus_frame_size(f), size);
        memcpy(buf, f->head, f->head_len);
        return f->head_len;
}

static ssize_t link_read(struct mbus_transport *t, void *buf, size_t size) {
        return t->ops->read(t, buf, size);
}

static ssize_t link_write(struct mbus_transport *t, const void *data, size_t len) {
        struct iovec iov = { .iov_base = (void *) data, .iov_len = len };

        return t->ops->writev(t, &iov, 1);
}

/* A received message, binary or its JSON form, reaches the stream as the one binary frame. */
static void check_input_form(bool text) {
        static const char json[] = "{\"type\":\"PING\",\"serial\":7}";
        _cleanup_(mbus_message_link_unrefp) struct mbus_message_link *l = NULL;
        struct mbus_transport t;
        uint8_t frame[64], buf[128];
        size_t n = ping_bytes(7, frame, sizeof(frame));

        ck_assert_int_eq(mbus_message_link_new(&l, 0), 0);
        mbus_transport_init_message(&t, l);
        ck_assert(!mbus_transport_pending(&t));
        ck_assert_int_eq(link_read(&t, buf, sizeof(buf)), -EAGAIN);
        if (text)
                ck_assert_int_eq(mbus_message_link_push(l, json, strlen(json), true, MAX_SIZE, NULL), 0);
        else
                ck_assert_int_eq(mbus_message_link_push(l, frame, n, false, MAX_SIZE, NULL), 0);
        ck_assert(mbus_transport_pending(&t));
        ck_assert_int_eq(link_read(&t, buf, sizeof(buf)), (ssize_t) n);
        ck_assert_mem_eq(buf, frame, n);
        ck_assert_int_eq(link_read(&t, buf, sizeof(buf)), -EAGAIN);

        /* The owner's connection ends: the stream reads the end. */
        l->eof = true;
        ck_assert_int_eq(link_read(&t, buf, sizeof(buf)), 0);
        mbus_transport_done(&t);
}

START_TEST(test_binary_message_reaches_the_stream_as_one_frame) {
        check_input_form(false);
}
END_TEST

START_TEST(test_json_message_reaches_the_stream_as_the_binary_frame) {
        check_input_form(true);
}
END_TEST

START_TEST(test_message_that_is_not_exactly_one_frame_is_refused) {
        _cleanup_(mbus_message_link_unrefp) struct mbus_message_link *l = NULL;
        struct mbus_transport t;
        uint8_t two[128], buf[128];
        size_t n = ping_bytes(1, two, sizeof(two));
        const char *reason = NULL;

        ck_assert_int_eq(mbus_message_link_new(&l, 0), 0);
        mbus_transport_init_message(&t, l);
        (void) ping_bytes(2, two + n, sizeof(two) - n);

        ck_assert_int_eq(mbus_message_link_push(l, two, 2 * n, false, MAX_SIZE, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "binary message is not exactly one frame");
        reason = NULL;
        ck_assert_int_eq(mbus_message_link_push(l, two, n - 1, false, MAX_SIZE, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "binary message is not exactly one frame");
        reason = NULL;
        ck_assert_int_eq(mbus_message_link_push(l, two, n, false, n - 1, &reason), -EMSGSIZE);
        ck_assert_str_eq(reason, "message larger than the frame size limit");
        reason = NULL;
        ck_assert_int_eq(mbus_message_link_push(l, "{}", 2, true, MAX_SIZE, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "JSON frame without a type");

        /* Nothing was queued by any of them. */
        ck_assert(!mbus_transport_pending(&t));
        ck_assert_int_eq(link_read(&t, buf, sizeof(buf)), -EAGAIN);
        mbus_transport_done(&t);
}
END_TEST

static unsigned n_output_calls;

static void count_output(void *userdata) {
        n_output_calls++;
}

/* Frames the stream writes leave one per message, in the form of the first message. */
static void check_output_form(bool text) {
        _cleanup_(mbus_message_link_unrefp) struct mbus_message_link *l = NULL;
        struct mbus_transport t;
        uint8_t frame[64], pair[128], *msg = NULL;
        size_t n = ping_bytes(3, frame, sizeof(frame)), len = 0;
        bool got_text = !text;

        ck_assert_int_eq(mbus_message_link_new(&l, 0), 0);
        l->on_output = count_output;
        n_output_calls = 0;
        mbus_transport_init_message(&t, l);
        if (text)
                ck_assert_int_eq(mbus_message_link_push(l, "{\"type\":\"PING\",\"serial\":3}", 26, true, MAX_SIZE,
                                                        NULL), 0);
        else
                ck_assert_int_eq(mbus_message_link_push(l, frame, n, false, MAX_SIZE, NULL), 0);

        /* Two frames in one write: two messages. */
        memcpy(pair, frame, n);
        (void) ping_bytes(4, pair + n, sizeof(pair) - n);
        ck_assert_int_eq(link_write(&t, pair, 2 * n), (ssize_t) (2 * n));
        ck_assert_uint_eq(n_output_calls, 1);
        ck_assert(mbus_message_link_has_output(l));

        for (uint64_t serial = 3; serial <= 4; serial++) {
                ck_assert_int_eq(mbus_message_link_pop(l, /* headroom= */ 16, &msg, &len, &got_text), 1);
                ck_assert(got_text == text);
                if (text) {
                        char want[64];

                        (void) snprintf(want, sizeof(want), "{\"type\":\"PING\",\"serial\":%u}", (unsigned) serial);
                        ck_assert_uint_eq(len, strlen(want));
                        ck_assert_mem_eq(msg + 16, want, len);
                } else {
                        ck_assert_uint_eq(len, n);
                        ck_assert_mem_eq(msg + 16, pair + (serial - 3) * n, n);
                }
                free(msg);
        }
        ck_assert_int_eq(mbus_message_link_pop(l, 0, &msg, &len, &got_text), 0);
        ck_assert(!mbus_message_link_has_output(l));
        mbus_transport_done(&t);
}

START_TEST(test_output_leaves_in_binary_after_a_binary_first_message) {
        check_output_form(false);
}
END_TEST

START_TEST(test_output_leaves_in_json_after_a_json_first_message) {
        check_output_form(true);
}
END_TEST

START_TEST(test_output_is_bounded_by_out_max) {
        _cleanup_(mbus_message_link_unrefp) struct mbus_message_link *l = NULL;
        struct mbus_transport t;
        uint8_t frame[64], *msg = NULL;
        size_t n = ping_bytes(3, frame, sizeof(frame)), len;
        bool text;

        ck_assert_int_eq(mbus_message_link_new(&l, /* out_max= */ 2 * n), 0);
        mbus_transport_init_message(&t, l);
        ck_assert_int_eq(link_write(&t, frame, n), (ssize_t) n);
        ck_assert_int_eq(link_write(&t, frame, n), (ssize_t) n);
        /* Full: the stream keeps the frame and counts it against the peer's queue. */
        ck_assert_int_eq(link_write(&t, frame, n), -EAGAIN);
        ck_assert_int_eq(mbus_message_link_pop(l, 0, &msg, &len, &text), 1);
        free(msg);
        ck_assert_int_eq(link_write(&t, frame, n), (ssize_t) n);
        mbus_transport_done(&t);
}
END_TEST

START_TEST(test_either_side_may_let_go_first) {
        struct mbus_message_link *l = NULL;
        struct mbus_transport t;
        uint8_t frame[64], *msg = NULL;
        size_t n = ping_bytes(3, frame, sizeof(frame)), len;
        bool text;

        /* The peer goes first: its last frame still leaves, and the owner is told. */
        ck_assert_int_eq(mbus_message_link_new(&l, 0), 0);
        l->on_output = count_output;
        n_output_calls = 0;
        mbus_transport_init_message(&t, l);
        ck_assert_int_eq(link_write(&t, frame, n), (ssize_t) n);
        mbus_transport_done(&t);
        ck_assert(l->stream_gone);
        ck_assert_uint_eq(n_output_calls, 2);
        ck_assert_int_eq(mbus_message_link_pop(l, 0, &msg, &len, &text), 1);
        ck_assert_uint_eq(len, n);
        free(msg);
        l = mbus_message_link_unref(l);

        /* The socket goes first: the stream reads the end and cannot write. */
        ck_assert_int_eq(mbus_message_link_new(&l, 0), 0);
        mbus_transport_init_message(&t, l);
        l->eof = true;
        l = mbus_message_link_unref(l);
        ck_assert_int_eq(link_read(&t, frame, sizeof(frame)), 0);
        ck_assert_int_eq(link_write(&t, frame, n), -EPIPE);
        mbus_transport_done(&t);
}
END_TEST

static Suite *message_suite(void) {
        Suite *s = suite_create("message");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_binary_message_reaches_the_stream_as_one_frame);
        tcase_add_test(tc, test_json_message_reaches_the_stream_as_the_binary_frame);
        tcase_add_test(tc, test_message_that_is_not_exactly_one_frame_is_refused);
        tcase_add_test(tc, test_output_leaves_in_binary_after_a_binary_first_message);
        tcase_add_test(tc, test_output_leaves_in_json_after_a_json_first_message);
        tcase_add_test(tc, test_output_is_bounded_by_out_max);
        tcase_add_test(tc, test_either_side_may_let_go_first);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(message_suite)
