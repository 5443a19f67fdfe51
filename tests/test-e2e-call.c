/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Calls end to end: a real broker, an echo service in a forked process, callers using libmbus
 * or raw sockets. Each test checks one answer a caller sees: a result, or one named error.
 */

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"

#define NS "org.example.Echo"

struct async_result {
        int n_calls;
        char names[8][64];
};

static int on_async_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                          void *userdata) {
        struct async_result *a = userdata;

        if (a->n_calls < 8)
                snprintf(a->names[a->n_calls], sizeof(a->names[0]), "%s",
                         error && error->name ? error->name : "ok");
        a->n_calls++;
        return 0;
}

START_TEST(test_call_returns_the_service_result) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *args, *result = NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        struct mbus_conn *conn = test_connect(b.address, "caller");
        args = json_tokener_parse("{\"seq\": 7, \"data\": \"héllo\", \"list\": [1, 2, 3]}");
        ck_assert_ptr_nonnull(args);
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", args, 0, &result, &error), 0);
        ck_assert(!mbus_error_is_set(&error));
        ck_assert_ptr_nonnull(result);
        ck_assert(json_object_equal(args, result));
        json_object_put(result);
        result = NULL;

        /* many in a row on one connection: each gets its own answer */
        for (int i = 0; i < 100; i++) {
                json_object *n = json_object_new_int(i);
                ck_assert_int_eq(mbus_call(conn, NS, "Echo", n, 0, &result, &error), 0);
                ck_assert_int_eq(json_object_get_int(result), i);
                json_object_put(result);
                json_object_put(n);
                result = NULL;
        }

        json_object_put(args);
        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_service_error_reaches_the_caller_by_name) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "caller");

        ck_assert_int_eq(mbus_call(conn, NS, "Fail", NULL, 0, NULL, &error), -EREMOTEIO);
        ck_assert_str_eq(error.name, "org.example.Error.Failed");
        ck_assert_str_eq(error.message, "asked to fail");
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_call_without_owner_fails_with_no_such_namespace) {
        struct test_broker b;
        struct mbus_error error = MBUS_ERROR_NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        struct mbus_conn *conn = test_connect(b.address, "caller");

        ck_assert_int_eq(mbus_call(conn, "org.example.Nobody", "Foo", NULL, 0, NULL, &error), -ENXIO);
        ck_assert_str_eq(error.name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        ck_assert_ptr_nonnull(error.message);
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_unknown_procedure_is_named) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "caller");

        ck_assert_int_eq(mbus_call(conn, NS, "NoSuchThing", NULL, 0, NULL, &error), -EOPNOTSUPP);
        ck_assert_str_eq(error.name, MBUS_ERROR_UNKNOWN_PROCEDURE);
        mbus_error_free(&error);

        /* the broker's own namespace answers the same way */
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "NoSuchThing", NULL, 0, NULL, &error),
                         -EOPNOTSUPP);
        ck_assert_str_eq(error.name, MBUS_ERROR_UNKNOWN_PROCEDURE);
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_unanswered_call_times_out) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        struct raw_frame f;
        long long t0;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "caller");

        /* libmbus: the caller sees Timeout after its timeout, not before */
        t0 = test_now_ms();
        ck_assert_int_eq(mbus_call(conn, NS, "Hang", NULL, 300 * 1000, NULL, &error), -ETIMEDOUT);
        ck_assert_int_ge(test_now_ms() - t0, 280);
        ck_assert_int_lt(test_now_ms() - t0, 10000);
        ck_assert_str_eq(error.name, MBUS_ERROR_TIMEOUT);
        mbus_error_free(&error);

        /* on the wire: the broker itself answers with ERROR Timeout for the caller's serial */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-caller", NULL), 0);
        struct raw_buf buf = {};
        raw_frame_begin(&buf, MBUS_FRAME_CALL);
        raw_field_u64(&buf, MBUS_FIELD_SERIAL, 42);
        raw_field_str(&buf, MBUS_FIELD_NAMESPACE, NS);
        raw_field_str(&buf, MBUS_FIELD_MEMBER, "Hang");
        raw_field_u64(&buf, MBUS_FIELD_TIMEOUT, 300 * 1000);
        raw_frame_finish(&buf, "{}");
        t0 = test_now_ms();
        ck_assert_int_eq(raw_send_buf(fd, &buf), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_ge(test_now_ms() - t0, 280);
        ck_assert_int_eq(f.reply_serial, 42);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_TIMEOUT);
        raw_frame_done(&f);
        close(fd);

        /* the service is still fine */
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, &error), 0);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_owner_disconnect_fails_every_pending_call) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        struct async_result a = {};

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "caller");

        ck_assert_int_eq(mbus_call_async(conn, NS, "Hang", NULL, 0, on_async_reply, &a, NULL), 0);
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hang", NULL, 0, on_async_reply, &a, NULL), 0);
        /* the service vanishes while holding three calls */
        ck_assert_int_eq(mbus_call(conn, NS, "Disconnect", NULL, 0, NULL, &error), -ENOLINK);
        ck_assert_str_eq(error.name, MBUS_ERROR_OWNER_DISCONNECTED);
        mbus_error_free(&error);

        long long deadline = test_now_ms() + 10000;
        while (a.n_calls < 2 && test_now_ms() < deadline)
                ck_assert_int_ge(test_pump(conn, -1, 200), 0);
        ck_assert_int_eq(a.n_calls, 2);
        ck_assert_str_eq(a.names[0], MBUS_ERROR_OWNER_DISCONNECTED);
        ck_assert_str_eq(a.names[1], MBUS_ERROR_OWNER_DISCONNECTED);
        ck_assert_int_eq(test_wait(svc.pid, 10000), 0);

        /* and the namespace is free again */
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, &error), -ENXIO);
        ck_assert_str_eq(error.name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_non_json_arguments_get_invalid_args) {
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-caller", NULL), 0);
        /* the broker forwards bodies untouched; the service's library refuses this one */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 7, 0, NS, "Echo", NULL, NULL, NULL,
                                         "{not json at all"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 7);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_INVALID_ARGS);
        raw_frame_done(&f);

        /* a valid call on the same connection still works */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 8, 0, NS, "Echo", NULL, NULL, NULL, "[1]"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 8);
        ck_assert_str_eq(f.body, "[1]");
        raw_frame_done(&f);
        close(fd);

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_taken_namespace_cannot_be_registered_twice) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        static const struct mbus_procedure none[] = { { "Echo", NULL } };

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "second-owner");

        ck_assert_int_eq(mbus_register(conn, NS, none, 0, NULL, NULL, &error), -EEXIST);
        ck_assert_str_eq(error.name, MBUS_ERROR_NAMESPACE_TAKEN);
        mbus_error_free(&error);

        /* once the owner is gone, the namespace can be had */
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_int_eq(mbus_register(conn, NS, none, 0, NULL, NULL, &error), 0);
        ck_assert(!mbus_error_is_set(&error));

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_only_the_owner_may_unregister_or_emit) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "intruder");

        ck_assert_int_eq(mbus_unregister(conn, NS, &error), -EPERM);
        ck_assert_str_eq(error.name, MBUS_ERROR_NOT_OWNER);
        mbus_error_free(&error);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-intruder", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 5, 0, NS, "Spoofed", NULL, NULL, NULL, "{}"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 5);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NOT_OWNER);
        raw_frame_done(&f);
        close(fd);

        /* the owner is unaffected */
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, &error), 0);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_calls_over_the_pending_limit_get_limits_exceeded) {
        static const char *const args[] = { "--max-pending-calls", "2", NULL };
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-caller", NULL), 0);
        for (uint64_t serial = 2; serial <= 4; serial++)
                ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, serial, 0, NS, "Hang", NULL, NULL, NULL,
                                                 NULL), 0);
        /* the third call is refused at once, by name, for its own serial */
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 4);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        raw_frame_done(&f);

        /* the two held ones are answered when their owner goes away: nothing is dropped */
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        uint64_t seen = 0;
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
                ck_assert_str_eq(f.error_name, MBUS_ERROR_OWNER_DISCONNECTED);
                ck_assert(f.reply_serial == 2 || f.reply_serial == 3);
                seen |= 1u << f.reply_serial;
                raw_frame_done(&f);
        }
        ck_assert_int_eq(seen, (1u << 2) | (1u << 3));
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *call_suite(void) {
        Suite *s = suite_create("e2e-call");
        TCase *tc = tcase_create("call");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_call_returns_the_service_result);
        tcase_add_test(tc, test_service_error_reaches_the_caller_by_name);
        tcase_add_test(tc, test_call_without_owner_fails_with_no_such_namespace);
        tcase_add_test(tc, test_unknown_procedure_is_named);
        tcase_add_test(tc, test_unanswered_call_times_out);
        tcase_add_test(tc, test_owner_disconnect_fails_every_pending_call);
        tcase_add_test(tc, test_non_json_arguments_get_invalid_args);
        tcase_add_test(tc, test_taken_namespace_cannot_be_registered_twice);
        tcase_add_test(tc, test_only_the_owner_may_unregister_or_emit);
        tcase_add_test(tc, test_calls_over_the_pending_limit_get_limits_exceeded);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(call_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
