/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keep-alive with test-sized timers (0.2 s interval and timeout, 2 misses): a peer that stops
 * answering PINGs is dropped and its pending calls are answered; peers that answer stay.
 */

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

static const char *const keepalive_args[] = {
        "--keepalive-interval", "0.2", "--keepalive-timeout", "0.2", "--keepalive-threshold", "2", NULL
};

START_TEST(test_welcome_announces_the_keepalive_settings) {
        struct test_broker b;
        struct raw_frame f;
        json_object *w, *ka;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, keepalive_args), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL,
                                         "{\"name\": \"k\"}"), 0);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_WELCOME);
        w = json_tokener_parse(f.body);
        ck_assert(json_object_object_get_ex(w, "keepalive", &ka));
        ck_assert_int_eq(test_json_int(ka, "interval_usec"), 200000);
        ck_assert_int_eq(test_json_int(ka, "timeout_usec"), 200000);
        ck_assert_int_eq(test_json_int(ka, "threshold"), 2);
        json_object_put(w);
        raw_frame_done(&f);

        /* the broker pings an idle peer: the first PING comes after about one interval */
        long long t0 = test_now_ms();
        ck_assert_int_eq(raw_recv(fd, 5000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_PING);
        ck_assert_int_ne(f.serial, 0);
        ck_assert_int_ge(test_now_ms() - t0, 100);
        raw_frame_done(&f);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_silent_peer_is_dropped_and_its_calls_answered) {
        struct test_broker b;
        struct mbus_error error = MBUS_ERROR_NULL;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, keepalive_args), 0);

        /* completes the handshake, owns a namespace, then never reads or answers again */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "zombie", NULL), 0);
        ck_assert_int_eq(raw_register(fd, 2, "org.example.Zombie"), 0);

        struct mbus_conn *conn = test_connect(b.address, "caller");
        long long t0 = test_now_ms();
        ck_assert_int_eq(mbus_call(conn, "org.example.Zombie", "Anything", NULL, 20 * 1000 * 1000, NULL,
                                   &error), -ENOLINK);
        long long took = test_now_ms() - t0;
        ck_assert_str_eq(error.name, MBUS_ERROR_OWNER_DISCONNECTED);
        mbus_error_free(&error);
        /* interval + threshold x timeout is 0.6 s: far from the call's own 20 s */
        ck_assert_int_lt(took, 10000);

        /* the zombie's socket was closed, its namespace released */
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);
        ck_assert_int_eq(mbus_call(conn, "org.example.Zombie", "Anything", NULL, 0, NULL, &error), -ENXIO);
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_peers_that_answer_pings_stay_connected) {
        struct test_broker b;
        struct raw_frame f;
        json_object *o = NULL;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, keepalive_args), 0);
        struct mbus_conn *conn = test_connect(b.address, "idle-but-alive");
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-alive", NULL), 0);

        /* two seconds: ten intervals. libmbus answers PINGs itself while it processes; the raw
         * peer answers them in raw_recv_type() while waiting for a frame that never comes */
        long long end = test_now_ms() + 2000;
        int n_pings = 0;
        while (test_now_ms() < end) {
                ck_assert_int_ge(test_pump(conn, -1, 50), 0);
                if (raw_recv(fd, 50, &f) == 0) {
                        if (f.type == MBUS_FRAME_PING) {
                                n_pings++;
                                ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PONG, 0, f.serial, NULL, NULL,
                                                                 NULL, NULL, NULL, NULL), 0);
                        }
                        raw_frame_done(&f);
                }
        }
        ck_assert_int_ge(n_pings, 3);
        ck_assert(mbus_conn_is_open(conn));
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "peers"), 2);
        json_object_put(o);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 9, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 5000, MBUS_FRAME_PONG, &f), 0);
        ck_assert_int_eq(f.reply_serial, 9);
        raw_frame_done(&f);

        close(fd);
        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST


START_TEST(test_peer_without_hello_is_dropped) {
        struct test_broker b;
        int fd, trickler;

        ck_assert_int_eq(test_broker_start(&b, keepalive_args), 0);

        /* connects and says nothing: gone after interval + timeout (0.4 s) */
        long long t0 = test_now_ms();
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        /* sends half a HELLO header, byte by byte: bytes alone do not keep it */
        trickler = raw_connect(b.address);
        ck_assert_int_ge(trickler, 0);
        for (int i = 0; i < 6; i++) {
                if (raw_send(trickler, "\x01", 1) < 0)
                        break;           /* already dropped */
                usleep(100 * 1000);
        }
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        ck_assert_int_ge(test_now_ms() - t0, 300);
        ck_assert_int_eq(raw_wait_eof(trickler, 10000), 0);
        close(fd);
        close(trickler);

        /* a peer that does say HELLO in time stays */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "polite", NULL), 0);
        struct raw_frame f;
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 5000, MBUS_FRAME_PONG, &f), 0);
        raw_frame_done(&f);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *keepalive_suite(void) {
        Suite *s = suite_create("e2e-keepalive");
        TCase *tc = tcase_create("keepalive");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_welcome_announces_the_keepalive_settings);
        tcase_add_test(tc, test_silent_peer_is_dropped_and_its_calls_answered);
        tcase_add_test(tc, test_peers_that_answer_pings_stay_connected);
        tcase_add_test(tc, test_peer_without_hello_is_dropped);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(keepalive_suite)
