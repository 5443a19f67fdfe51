/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-process tests of the broker: a real struct mbus_broker on its own sd-event loop, peers
 * on socketpairs, frames built and read with the proto code, the loop stepped by hand. This
 * makes the reentrant paths (a peer dropped while another's batch is routed, a caller
 * condemned by its own replies) deterministic and visible to ASan. The harness is
 * test-harness.c, shared with test-enforce.c.
 */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pending.h"
#include "test-harness.h"
#include "util/json-util.h"
#include "util/test-util.h"

static void t_init(struct tctx *t) {
        t_setup(t, LOG_WARNING);
        t_start(t);
}

static bool tp_is_closed(struct tctx *t, struct tpeer *p) {
        struct mbus_frame *f;

        while ((f = tp_recv(t, p)))
                mbus_frame_unref(f);
        return mbus_stream_read(&p->s) == -ECONNRESET;
}

/* Sends a control frame and expects RETURN. */
static void tp_ok(struct tctx *t, struct tpeer *p, enum mbus_frame_type type, struct mbus_frame_fields f) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *r = NULL;
        uint64_t serial = tp_send(p, type, f, NULL);

        r = tp_recv(t, p);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, MBUS_FRAME_RETURN);
        ck_assert_uint_eq(r->f.reply_serial, serial);
}

START_TEST(test_handshake_assigns_increasing_ids) {
        struct tctx t = {};
        struct tpeer a, b;

        t_init(&t);
        tp_connect(&t, &a);
        tp_connect(&t, &b);
        tp_hello(&t, &a, "a");
        tp_hello(&t, &b, "b");
        ck_assert_str_eq(a.id, ":1.1");
        ck_assert_str_eq(b.id, ":1.2");
        tp_close(&a);
        tp_close(&b);
        t_run(&t);
        ck_assert_uint_eq(t.broker->n_peers, 0);
        t_done(&t);
}
END_TEST

START_TEST(test_call_return_and_owner_disconnect) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *call = NULL, *ret = NULL, *err = NULL;
        struct tctx t = {};
        struct tpeer svc, cl;
        uint64_t s1, s2;

        t_init(&t);
        tp_connect(&t, &svc);
        tp_connect(&t, &cl);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &cl, "cl");
        tp_ok(&t, &svc, MBUS_FRAME_REGISTER, (struct mbus_frame_fields) { .namespace = "org.t.Svc" });

        s1 = tp_send(&cl, MBUS_FRAME_CALL, (struct mbus_frame_fields) { .namespace = "org.t.Svc", .member = "M" },
                     "{\"x\":1}");
        call = tp_recv(&t, &svc);
        ck_assert_ptr_nonnull(call);
        ck_assert_int_eq(call->type, MBUS_FRAME_CALL);
        ck_assert_str_eq(call->f.sender, cl.id);
        ck_assert_uint_eq(call->f.serial, s1);
        ck_assert_uint_eq(call->body_len, 7);

        tp_send(&svc, MBUS_FRAME_RETURN, (struct mbus_frame_fields) { .reply_serial = s1, .destination = cl.id },
                "{}");
        ret = tp_recv(&t, &cl);
        ck_assert_ptr_nonnull(ret);
        ck_assert_int_eq(ret->type, MBUS_FRAME_RETURN);
        ck_assert_uint_eq(ret->f.reply_serial, s1);

        /* A second reply to the same call is dropped: the caller sees nothing. */
        tp_send(&svc, MBUS_FRAME_RETURN, (struct mbus_frame_fields) { .reply_serial = s1, .destination = cl.id },
                "{}");
        t_run(&t);
        ck_assert_uint_eq(t.broker->stats.replies_dropped, 1);

        /* A call in flight when the owner goes: OwnerDisconnected, once. */
        s2 = tp_send(&cl, MBUS_FRAME_CALL, (struct mbus_frame_fields) { .namespace = "org.t.Svc", .member = "M" },
                     NULL);
        t_run(&t);
        tp_close(&svc);
        err = tp_recv(&t, &cl);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->type, MBUS_FRAME_ERROR);
        ck_assert_uint_eq(err->f.reply_serial, s2);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.OwnerDisconnected");
        ck_assert_ptr_null(tp_recv(&t, &cl));
        ck_assert_uint_eq(mbus_pending_size(t.broker->pending), 0);

        tp_close(&cl);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_malformed_frame_drops_only_its_sender) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *err = NULL, *ev = NULL;
        static const uint8_t garbage[] = { 1, 5, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 8 };
        struct tctx t = {};
        struct tpeer bad, watcher;

        t_init(&t);
        tp_connect(&t, &watcher);
        tp_hello(&t, &watcher, "watcher");
        tp_ok(&t, &watcher, MBUS_FRAME_SUBSCRIBE, (struct mbus_frame_fields) { .pattern = "org.mbus.Broker.PeerDisconnected" });
        tp_connect(&t, &bad);
        tp_hello(&t, &bad, "bad");

        ck_assert_int_eq(write(bad.fd, garbage, sizeof(garbage)), (ssize_t) sizeof(garbage));
        err = tp_recv(&t, &bad);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->type, MBUS_FRAME_ERROR);
        ck_assert_uint_eq(err->f.reply_serial, 0);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.ProtocolError");
        ck_assert(tp_is_closed(&t, &bad));

        ev = tp_recv(&t, &watcher);
        ck_assert_ptr_nonnull(ev);
        ck_assert_int_eq(ev->type, MBUS_FRAME_EVENT);
        ck_assert_str_eq(ev->f.member, "PeerDisconnected");
        ck_assert_str_eq(ev->f.sender, ":1.0");
        ck_assert_uint_eq(t.broker->n_peers, 1);

        tp_close(&bad);
        tp_close(&watcher);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_caller_that_never_reads_is_dropped_at_twice_the_limit) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *r = NULL;
        struct tctx t = {};
        struct tpeer hog, other;

        t_init(&t);
        t.options.max_queue_bytes = 4096;
        tp_connect(&t, &hog);
        tp_connect(&t, &other);
        tp_hello(&t, &hog, "hog");
        tp_hello(&t, &other, "other");

        /* Replies pile up: first the socket buffer fills, then the queue, then the peer goes. */
        for (unsigned i = 0; i < 20000 && !hog.s.in; i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

                ck_assert_int_eq(mbus_frame_new(&f, MBUS_FRAME_CALL,
                                                &(struct mbus_frame_fields) {
                                                        .serial = ++hog.serial,
                                                        .namespace = "org.mbus.Broker",
                                                        .member = "ListPeers",
                                                }, NULL, 0), 0);
                ck_assert_int_eq(mbus_stream_queue(&hog.s, f), 0);
                if (mbus_stream_flush(&hog.s) < 0)
                        break;
                if (i % 64 == 0)
                        t_run(&t);
        }
        t_run(&t);
        ck_assert_uint_eq(t.broker->n_peers, 1);

        /* The other peer is untouched. */
        tp_send(&other, MBUS_FRAME_PING, (struct mbus_frame_fields) {}, NULL);
        r = tp_recv(&t, &other);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, MBUS_FRAME_PONG);

        tp_close(&hog);
        tp_close(&other);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_event_fanout_is_deduplicated_and_needs_ownership) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e1 = NULL, *e2 = NULL, *err = NULL;
        struct tctx t = {};
        struct tpeer pub, sub;
        uint64_t s;

        t_init(&t);
        tp_connect(&t, &pub);
        tp_connect(&t, &sub);
        tp_hello(&t, &pub, "pub");
        tp_hello(&t, &sub, "sub");
        tp_ok(&t, &pub, MBUS_FRAME_REGISTER, (struct mbus_frame_fields) { .namespace = "org.t.Pub" });
        tp_ok(&t, &sub, MBUS_FRAME_SUBSCRIBE, (struct mbus_frame_fields) { .pattern = "*" });
        tp_ok(&t, &sub, MBUS_FRAME_SUBSCRIBE, (struct mbus_frame_fields) { .pattern = "org.t.*" });
        tp_ok(&t, &sub, MBUS_FRAME_SUBSCRIBE, (struct mbus_frame_fields) { .pattern = "org.t.Pub.Ev" });

        tp_send(&pub, MBUS_FRAME_EVENT, (struct mbus_frame_fields) { .namespace = "org.t.Pub", .member = "Ev" }, "1");
        tp_send(&pub, MBUS_FRAME_EVENT, (struct mbus_frame_fields) { .namespace = "org.t.Pub", .member = "Ev" }, "2");
        e1 = tp_recv(&t, &sub);
        e2 = tp_recv(&t, &sub);
        ck_assert_ptr_nonnull(e1);
        ck_assert_ptr_nonnull(e2);
        ck_assert_int_eq(e1->body[0], '1');
        ck_assert_int_eq(e2->body[0], '2');
        ck_assert_str_eq(e1->f.sender, pub.id);
        ck_assert_uint_eq(t.broker->stats.events_delivered, 2);

        s = tp_send(&sub, MBUS_FRAME_EVENT, (struct mbus_frame_fields) { .namespace = "org.t.Pub", .member = "Ev" }, NULL);
        err = tp_recv(&t, &sub);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->type, MBUS_FRAME_ERROR);
        ck_assert_uint_eq(err->f.reply_serial, s);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.NotOwner");

        tp_close(&pub);
        tp_close(&sub);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_call_times_out_exactly_once) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *call = NULL, *err = NULL;
        struct tctx t = {};
        struct tpeer svc, cl;
        uint64_t s;

        t_init(&t);
        t.options.max_call_timeout = 50 * USEC_PER_MSEC;        /* caps the 25 s default */
        t.options.default_call_timeout = 50 * USEC_PER_MSEC;
        tp_connect(&t, &svc);
        tp_connect(&t, &cl);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &cl, "cl");
        tp_ok(&t, &svc, MBUS_FRAME_REGISTER, (struct mbus_frame_fields) { .namespace = "org.t.Slow" });

        s = tp_send(&cl, MBUS_FRAME_CALL, (struct mbus_frame_fields) { .namespace = "org.t.Slow", .member = "M" }, NULL);
        call = tp_recv(&t, &svc);
        ck_assert_ptr_nonnull(call);
        for (unsigned i = 0; i < 20 && mbus_pending_size(t.broker->pending) > 0; i++)
                (void) sd_event_run(t.event, 20 * USEC_PER_MSEC);
        err = tp_recv(&t, &cl);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.Timeout");
        ck_assert_uint_eq(err->f.reply_serial, s);

        /* The late reply goes nowhere. */
        tp_send(&svc, MBUS_FRAME_RETURN, (struct mbus_frame_fields) { .reply_serial = s, .destination = cl.id }, NULL);
        ck_assert_ptr_null(tp_recv(&t, &cl));
        ck_assert_uint_eq(t.broker->stats.replies_dropped, 1);

        tp_close(&svc);
        tp_close(&cl);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_over_max_peers_is_told_and_closed) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *err = NULL;
        struct tctx t = {};
        struct tpeer a, b;

        t_init(&t);
        t.options.max_peers = 1;
        tp_connect(&t, &a);
        tp_connect(&t, &b);
        err = tp_recv(&t, &b);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(err->type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.LimitsExceeded");
        ck_assert(tp_is_closed(&t, &b));
        tp_hello(&t, &a, "a");
        ck_assert_uint_eq(t.broker->stats.peers_refused, 1);

        tp_close(&a);
        tp_close(&b);
        t_run(&t);
        t_done(&t);
}
END_TEST

START_TEST(test_second_hello_and_forged_sender_are_protocol_errors) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *e1 = NULL, *e2 = NULL;
        struct tctx t = {};
        struct tpeer a, b;

        t_init(&t);
        tp_connect(&t, &a);
        tp_connect(&t, &b);
        tp_hello(&t, &a, "a");
        tp_hello(&t, &b, "b");

        tp_send(&a, MBUS_FRAME_HELLO, (struct mbus_frame_fields) {}, NULL);
        e1 = tp_recv(&t, &a);
        ck_assert_ptr_nonnull(e1);
        ck_assert_str_eq(e1->f.error_name, "org.mbus.Error.ProtocolError");
        ck_assert(tp_is_closed(&t, &a));

        tp_send(&b, MBUS_FRAME_PING, (struct mbus_frame_fields) { .sender = ":1.7" }, NULL);
        e2 = tp_recv(&t, &b);
        ck_assert_ptr_nonnull(e2);
        ck_assert_str_eq(e2->f.error_name, "org.mbus.Error.ProtocolError");
        ck_assert(tp_is_closed(&t, &b));
        ck_assert_uint_eq(t.broker->n_peers, 0);

        tp_close(&a);
        tp_close(&b);
        t_run(&t);
        t_done(&t);
}
END_TEST

static Suite *broker_suite(void) {
        Suite *s = suite_create("broker");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_handshake_assigns_increasing_ids);
        tcase_add_test(tc, test_call_return_and_owner_disconnect);
        tcase_add_test(tc, test_malformed_frame_drops_only_its_sender);
        tcase_add_test(tc, test_caller_that_never_reads_is_dropped_at_twice_the_limit);
        tcase_add_test(tc, test_event_fanout_is_deduplicated_and_needs_ownership);
        tcase_add_test(tc, test_call_times_out_exactly_once);
        tcase_add_test(tc, test_over_max_peers_is_told_and_closed);
        tcase_add_test(tc, test_second_hello_and_forged_sender_are_protocol_errors);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(broker_suite)
