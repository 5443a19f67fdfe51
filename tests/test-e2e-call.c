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
#include "util/test-util.h"

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

        /* the broker's own namespace is not for the taking */
        static const struct mbus_procedure none[] = { { "X", NULL } };
        ck_assert_int_eq(mbus_register(conn, MBUS_BROKER_NAMESPACE, none, 0, NULL, NULL, &error), -EEXIST);
        ck_assert_str_eq(error.name, MBUS_ERROR_NAMESPACE_TAKEN);
        mbus_error_free(&error);
        ck_assert_int_eq(mbus_unregister(conn, MBUS_BROKER_NAMESPACE, &error), -EPERM);
        mbus_error_free(&error);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-intruder", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 5, 0, NS, "Spoofed", NULL, NULL, NULL, "{}"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 5);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NOT_OWNER);
        raw_frame_done(&f);
        /* nor can anyone speak for the broker */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 6, 0, MBUS_BROKER_NAMESPACE, "PeerDisconnected", NULL,
                                         NULL, NULL, "{\"id\": \":1.1\"}"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 6);
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


/* After a raw frame exchange, asserts nothing else is waiting for fd: a PING's PONG comes
 * first. */
static void assert_nothing_more(int fd) {
        struct raw_frame f;

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 999, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_msg(f.type == MBUS_FRAME_PONG, "unexpected frame of type %u (reply_serial %llu)", f.type,
                      (unsigned long long) f.reply_serial);
        ck_assert_int_eq(f.reply_serial, 999);
        raw_frame_done(&f);
}

START_TEST(test_each_call_gets_exactly_one_answer) {
        static const char *const args[] = { "--max-call-timeout", "0.3", NULL };
        struct test_broker b;
        struct raw_frame f, call;
        char *caller_id = NULL, *other_id = NULL;
        int svc, caller, other;

        ck_assert_int_eq(test_broker_start(&b, args), 0);

        /* a raw service, so the test decides when (and who) answers */
        svc = raw_connect(b.address);
        ck_assert_int_ge(svc, 0);
        ck_assert_int_eq(raw_hello_full(svc, "raw-service", "[\"caller\"]", NULL, NULL), 0);
        ck_assert_int_eq(raw_register(svc, 2, NS), 0);
        caller = raw_connect(b.address);
        ck_assert_int_ge(caller, 0);
        ck_assert_int_eq(raw_hello(caller, "raw-caller", &caller_id), 0);
        other = raw_connect(b.address);
        ck_assert_int_ge(other, 0);
        ck_assert_int_eq(raw_hello(other, "raw-other", &other_id), 0);

        /* the service sees the call with the caller's serial and id */
        struct raw_buf buf = {};
        raw_frame_begin(&buf, MBUS_FRAME_CALL);
        raw_field_u64(&buf, MBUS_FIELD_SERIAL, 10);
        raw_field_str(&buf, MBUS_FIELD_NAMESPACE, NS);
        raw_field_str(&buf, MBUS_FIELD_MEMBER, "Slow");
        raw_field_u64(&buf, MBUS_FIELD_TIMEOUT, 20 * 1000 * 1000);   /* capped at 0.3 s */
        raw_frame_finish(&buf, "{\"x\": 1}");
        long long t0 = test_now_ms();
        ck_assert_int_eq(raw_send_buf(caller, &buf), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_CALL, &call), 0);
        ck_assert_int_eq(call.serial, 10);
        ck_assert_str_eq(call.sender, caller_id);
        /* ... and who the caller is, as the kernel told the broker */
        ck_assert(call.has_caller_ids);
        ck_assert_uint_eq(call.caller_uid, getuid());
        ck_assert_uint_eq(call.caller_gid, getgid());
        ck_assert_uint_eq(call.caller_pid, (uint64_t) getpid());
        ck_assert_str_eq(call.caller_name, "raw-caller");
        ck_assert_str_eq(call.member, "Slow");
        ck_assert_str_eq(call.body, "{\"x\": 1}");
        ck_assert_int_eq(call.timeout_usec, 20 * 1000 * 1000);      /* forwarded as sent */

        /* a peer that is not the callee cannot answer it */
        ck_assert_int_eq(raw_send_simple(other, MBUS_FRAME_RETURN, 0, 10, NULL, NULL, caller_id, NULL, NULL,
                                         "\"forged\""), 0);
        /* the deadline, capped by --max-call-timeout, answers it */
        ck_assert_int_eq(raw_recv_type(caller, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_ge(test_now_ms() - t0, 250);
        ck_assert_int_lt(test_now_ms() - t0, 10000);
        ck_assert_int_eq(f.reply_serial, 10);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_TIMEOUT);
        raw_frame_done(&f);

        /* the service's late answer is dropped: the caller hears nothing more */
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_RETURN, 0, 10, NULL, NULL, caller_id, NULL, NULL,
                                         "\"late\""), 0);
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_PING, 3, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_PONG, &f), 0);
        raw_frame_done(&f);
        assert_nothing_more(caller);

        /* an answer in time goes through exactly once, body untouched */
        ck_assert_int_eq(raw_send_simple(caller, MBUS_FRAME_CALL, 11, 0, NS, "Fast", NULL, NULL, NULL, "[]"), 0);
        raw_frame_done(&call);
        ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_CALL, &call), 0);
        ck_assert_int_eq(call.serial, 11);
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_RETURN, 0, 11, NULL, NULL, caller_id, NULL, NULL,
                                         "{\"answer\": [1, \"two\"]}"), 0);
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_RETURN, 0, 11, NULL, NULL, caller_id, NULL, NULL,
                                         "\"again\""), 0);
        ck_assert_int_eq(raw_recv_type(caller, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 11);
        ck_assert_str_eq(f.body, "{\"answer\": [1, \"two\"]}");
        raw_frame_done(&f);
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_PING, 4, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_PONG, &f), 0);
        raw_frame_done(&f);
        assert_nothing_more(caller);
        raw_frame_done(&call);

        /* a caller that leaves with a call pending: its late answer goes nowhere, and the
         * broker forgets the call */
        ck_assert_int_eq(raw_send_simple(other, MBUS_FRAME_CALL, 5, 0, NS, "Fast", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_CALL, &call), 0);
        close(other);
        usleep(100 * 1000);
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_RETURN, 0, call.serial, NULL, NULL, other_id, NULL,
                                         NULL, NULL), 0);
        raw_frame_done(&call);
        struct mbus_conn *conn = test_connect(b.address, "inspector");
        json_object *o = NULL;
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "pending_calls"), 0);
        json_object_put(o);
        mbus_conn_unref(conn);

        free(caller_id);
        free(other_id);
        close(caller);
        close(svc);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A raw peer that said HELLO with features (JSON text, NULL: none); WELCOME's body in *ret_welcome. */
static int connect_raw(const char *address, const char *name, const char *features, char **ret_welcome) {
        int fd = raw_connect(address);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello_full(fd, name, features, NULL, ret_welcome), 0);
        return fd;
}

/*
 * The caller_* fields are opt-in (HELLO "features": ["caller"]): a service built before they
 * existed refuses unknown field codes, so it must get forwarded CALLs without them, answer, and
 * stay connected; one that asks gets them, and WELCOME names what was granted.
 */
START_TEST(test_caller_fields_only_for_peers_that_ask) {
        struct test_broker b;
        struct raw_frame call, answer;
        char *welcome_old = NULL, *welcome_new = NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        int old_svc = connect_raw(b.address, "old-service", NULL, &welcome_old);
        ck_assert_ptr_nonnull(strstr(welcome_old, "\"features\":[]"));
        ck_assert_int_eq(raw_register(old_svc, 2, NS), 0);
        /* unknown features are ignored, not refused: a newer client meets an older broker */
        int new_svc = connect_raw(b.address, "new-service", "[\"caller\", \"x-later\"]", &welcome_new);
        ck_assert_ptr_nonnull(strstr(welcome_new, "\"features\":[\"caller\"]"));
        ck_assert_int_eq(raw_register(new_svc, 2, NS ".New"), 0);
        int caller = connect_raw(b.address, "raw-caller", NULL, NULL);

        for (uint64_t serial = 10; serial < 12; serial++) {
                /* twice: the old service is still connected after the first */
                ck_assert_int_eq(raw_send_simple(caller, MBUS_FRAME_CALL, serial, 0, NS, "Get", NULL, NULL, NULL,
                                                 "{}"), 0);
                ck_assert_int_eq(raw_recv_type(old_svc, 10000, MBUS_FRAME_CALL, &call), 0);
                ck_assert_int_eq(call.serial, serial);
                /* codes 0-9 only: the fields every version-1 receiver knows */
                ck_assert_uint_eq(call.fields_seen >> MBUS_FIELD_CALLER_UID, 0);
                ck_assert(!call.has_caller_ids);
                ck_assert_int_eq(raw_send_simple(old_svc, MBUS_FRAME_RETURN, 0, serial, NULL, NULL, call.sender,
                                                 NULL, NULL, "1"), 0);
                raw_frame_done(&call);
                ck_assert_int_eq(raw_recv_type(caller, 10000, MBUS_FRAME_RETURN, &answer), 0);
                ck_assert_int_eq(answer.reply_serial, serial);
                raw_frame_done(&answer);
        }

        ck_assert_int_eq(raw_send_simple(caller, MBUS_FRAME_CALL, 20, 0, NS ".New", "Get", NULL, NULL, NULL, "{}"),
                         0);
        ck_assert_int_eq(raw_recv_type(new_svc, 10000, MBUS_FRAME_CALL, &call), 0);
        ck_assert(call.has_caller_ids);
        ck_assert_uint_eq(call.caller_uid, getuid());
        ck_assert_uint_eq(call.caller_pid, (uint64_t) getpid());
        ck_assert_str_eq(call.caller_name, "raw-caller");
        raw_frame_done(&call);

        /* a features value that is not an array of strings is refused, with the reason */
        int bad = raw_connect(b.address);
        ck_assert_int_ge(bad, 0);
        ck_assert_int_eq(raw_hello_full(bad, "bad", "\"caller\"", NULL, NULL), -EBADMSG);
        ck_assert_int_eq(raw_wait_eof(bad, 10000), 0);

        free(welcome_old);
        free(welcome_new);
        close(bad);
        close(caller);
        close(new_svc);
        close(old_svc);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_peer_ids_are_never_reused) {
        struct test_broker b;
        uint64_t last = 0;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        for (int i = 0; i < 20; i++) {
                char *id = NULL;
                int fd = raw_connect(b.address);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(raw_hello(fd, "short-lived", &id), 0);
                ck_assert_int_eq(strncmp(id, ":1.", 3), 0);
                uint64_t n = strtoull(id + 3, NULL, 10);
                ck_assert_uint_gt(n, last);
                ck_assert_uint_ge(n, 1);
                last = n;
                free(id);
                close(fd);
        }
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
        tcase_add_test(tc, test_each_call_gets_exactly_one_answer);
        tcase_add_test(tc, test_caller_fields_only_for_peers_that_ask);
        tcase_add_test(tc, test_peer_ids_are_never_reused);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(call_suite)
