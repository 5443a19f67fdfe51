/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a caller learns from a service that answers badly, end to end through a real broker: a
 * raw service (hand-built frames, so it can send what no libmbus service would) answers
 * "Garbage" with a result that is not JSON, "Denied" and "Slow" with org.mbus.Error names of
 * its own, "Ok" properly, and "Emit" by emitting an event whose payload is not JSON, then a
 * good one. The caller is libmbus:
 *   - a result that is not JSON is org.mbus.Error.InvalidReply naming the call, and the
 *     service stays connected and keeps answering (man mbus-protocol(7));
 *   - an org.mbus.Error name sent by the service is marked as the service's: the ERROR frame
 *     carries its sender and mbus_conn_get_error_sender() gives its id, while the broker's own
 *     errors (NoSuchNamespace, AccessDenied by policy, Timeout) have none;
 *   - an event whose payload is not JSON reaches no handler and is counted by
 *     mbus_conn_get_unparsed_events(); the next good event is delivered.
 */

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.test.Replies"

struct service_args {
        const char *address;
        struct test_pipe ready;         /* the service's id, once registered */
};

/* The raw service: answers each CALL by its member until the broker hangs up. */
static int service_main(void *userdata) {
        struct service_args *sa = userdata;
        char *id = NULL;
        uint64_t serial = 10;
        int fd;

        fd = raw_connect(sa->address);
        child_assert(fd >= 0);
        child_assert(raw_hello(fd, "raw-service", &id) == 0);
        child_assert(raw_register(fd, 2, NS) == 0);
        test_pipe_write(&sa->ready, id);
        free(id);

        for (;;) {
                struct raw_frame call = {};
                int r;

                r = raw_recv_type(fd, 30000, MBUS_FRAME_CALL, &call);
                if (r == -ECONNRESET)
                        break;
                child_assert(r == 0);
                if (strcmp(call.member, "Garbage") == 0)
                        r = raw_send_simple(fd, MBUS_FRAME_RETURN, 0, call.serial, NULL, NULL, call.sender, NULL,
                                            NULL, "{\"state\": unquoted");
                else if (strcmp(call.member, "Denied") == 0)
                        r = raw_send_simple(fd, MBUS_FRAME_ERROR, 0, call.serial, NULL, NULL, call.sender,
                                            MBUS_ERROR_ACCESS_DENIED, NULL, "{\"message\": \"not you\"}");
                else if (strcmp(call.member, "Slow") == 0)
                        r = raw_send_simple(fd, MBUS_FRAME_ERROR, 0, call.serial, NULL, NULL, call.sender,
                                            MBUS_ERROR_TIMEOUT, NULL, "{\"message\": \"the disk is slow\"}");
                else if (strcmp(call.member, "Emit") == 0) {
                        child_assert(raw_send_simple(fd, MBUS_FRAME_EVENT, serial++, 0, NS, "Bad", NULL, NULL, NULL,
                                                     "{nope") == 0);
                        child_assert(raw_send_simple(fd, MBUS_FRAME_EVENT, serial++, 0, NS, "Good", NULL, NULL,
                                                     NULL, "{\"n\": 1}") == 0);
                        r = raw_send_simple(fd, MBUS_FRAME_RETURN, 0, call.serial, NULL, NULL, call.sender, NULL,
                                            NULL, "{}");
                } else if (strcmp(call.member, "Ignore") == 0)
                        r = 0;
                else
                        r = raw_send_simple(fd, MBUS_FRAME_RETURN, 0, call.serial, NULL, NULL, call.sender, NULL,
                                            NULL, "{\"ok\": true}");
                raw_frame_done(&call);
                child_assert(r == 0);
        }
        close(fd);
        return 0;
}

static pid_t service_start(struct service_args *sa, const char *address, char *id, size_t size) {
        pid_t pid;

        sa->address = address;
        test_pipe_init(&sa->ready);
        pid = test_fork(service_main, sa);
        ck_assert_int_eq(test_pipe_read_line(&sa->ready, id, size, 10000), 0);
        test_pipe_close(&sa->ready);
        return pid;
}

START_TEST(test_result_that_is_not_json_is_invalid_reply_and_the_service_stays) {
        struct mbus_error e = MBUS_ERROR_NULL;
        struct test_broker b;
        struct service_args sa;
        struct mbus_conn *conn;
        json_object *result = NULL;
        char id[32];
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_start(&sa, b.address, id, sizeof(id));
        conn = test_connect(b.address, "caller");

        ck_assert_int_eq(mbus_call(conn, NS, "Garbage", NULL, 0, &result, &e), -EBADE);
        ck_assert_ptr_null(result);
        ck_assert_str_eq(e.name, MBUS_ERROR_INVALID_REPLY);
        ck_assert_msg(strstr(e.message, NS ".Garbage"), "message: %s", e.message);
        ck_assert_ptr_null(mbus_conn_get_error_sender(conn));   /* libmbus said so, not the service */
        mbus_error_free(&e);

        /* Nothing else broke: the connection and the service both go on. */
        ck_assert(mbus_conn_is_open(conn));
        ck_assert_int_eq(mbus_call(conn, NS, "Ok", NULL, 0, &result, &e), 0);
        ck_assert(json_object_get_boolean(json_object_object_get(result, "ok")));
        json_object_put(result);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
        ck_assert_int_eq(test_wait(svc, 20000), 0);
}
END_TEST

static int on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error, void *userdata) {
        char *out = userdata;   /* "NAME SENDER" */

        ck_assert_ptr_nonnull(error);
        snprintf(out, 128, "%s %s", error->name, mbus_conn_get_error_sender(conn) ?: "broker");
        return 0;
}

START_TEST(test_service_errors_are_marked_with_their_sender) {
        struct mbus_error e = MBUS_ERROR_NULL;
        struct raw_frame f = {};
        struct test_broker b;
        struct service_args sa;
        struct mbus_conn *conn;
        char id[32], seen[128] = "", want[128];
        pid_t svc;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_start(&sa, b.address, id, sizeof(id));
        conn = test_connect(b.address, "caller");

        /* The service's AccessDenied and Timeout: same names and errnos as the broker's, and
         * the sender tells them apart. */
        ck_assert_int_eq(mbus_call(conn, NS, "Denied", NULL, 0, NULL, &e), -EACCES);
        ck_assert_str_eq(e.name, MBUS_ERROR_ACCESS_DENIED);
        ck_assert_str_eq(e.message, "not you");
        ck_assert_str_eq(mbus_conn_get_error_sender(conn), id);
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_call(conn, NS, "Slow", NULL, 0, NULL, &e), -ETIMEDOUT);
        ck_assert_str_eq(mbus_conn_get_error_sender(conn), id);
        mbus_error_free(&e);

        /* The broker's own errors carry none. */
        ck_assert_int_eq(mbus_call(conn, "org.test.Nobody", "Get", NULL, 0, NULL, &e), -ENXIO);
        ck_assert_ptr_null(mbus_conn_get_error_sender(conn));
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_call(conn, NS, "Ignore", NULL, 500 * 1000, NULL, &e), -ETIMEDOUT);
        ck_assert_ptr_null(mbus_conn_get_error_sender(conn));
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "NoSuchProcedure", NULL, 0, NULL, &e), -EOPNOTSUPP);
        ck_assert_ptr_null(mbus_conn_get_error_sender(conn));
        mbus_error_free(&e);

        /* The same in an asynchronous call's handler. */
        ck_assert_int_eq(mbus_call_async(conn, NS, "Denied", NULL, 0, on_reply, seen, NULL), 0);
        while (!seen[0]) {
                ck_assert_int_ge(mbus_conn_process(conn), 0);
                ck_assert_int_ge(mbus_conn_wait(conn, 100 * 1000), 0);
        }
        snprintf(want, sizeof(want), "%s %s", MBUS_ERROR_ACCESS_DENIED, id);
        ck_assert_str_eq(seen, want);

        /* On the wire: the forwarded ERROR has the service's id as sender. */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-caller", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 2, 0, NS, "Denied", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_ACCESS_DENIED);
        ck_assert_str_eq(f.sender, id);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 3, 0, "org.test.Nobody", "Get", NULL, NULL, NULL,
                                         NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        ck_assert_ptr_null(f.sender);
        raw_frame_done(&f);
        close(fd);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
        ck_assert_int_eq(test_wait(svc, 20000), 0);
}
END_TEST

struct events {
        int n;
        char last[64];
};

static int on_event(struct mbus_conn *conn, const struct mbus_event *event, void *userdata) {
        struct events *ev = userdata;

        ev->n++;
        snprintf(ev->last, sizeof(ev->last), "%s", event->event);
        return 0;
}

START_TEST(test_event_that_is_not_json_is_counted_and_skipped) {
        struct events ev = {};
        struct test_broker b;
        struct service_args sa;
        struct mbus_conn *conn;
        struct mbus_slot *sub = NULL;
        uint64_t n = 99;
        char id[32];
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_start(&sa, b.address, id, sizeof(id));
        conn = test_connect(b.address, "subscriber");
        ck_assert_int_eq(mbus_conn_get_unparsed_events(conn, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(mbus_conn_get_unparsed_events(NULL, &n), -EINVAL);
        ck_assert_int_eq(mbus_conn_get_unparsed_events(conn, NULL), -EINVAL);

        ck_assert_int_eq(mbus_subscribe(conn, NS ".*", on_event, &ev, &sub, NULL), 0);
        /* The events are sent before the RETURN, so they are here when the call returns. */
        ck_assert_int_eq(mbus_call(conn, NS, "Emit", NULL, 0, NULL, NULL), 0);
        while (ev.n < 1) {
                ck_assert_int_ge(mbus_conn_process(conn), 0);
                ck_assert_int_ge(mbus_conn_wait(conn, 100 * 1000), 0);
        }
        ck_assert_int_eq(ev.n, 1);
        ck_assert_str_eq(ev.last, "Good");
        ck_assert_int_eq(mbus_conn_get_unparsed_events(conn, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert(mbus_conn_is_open(conn));

        mbus_slot_free(sub);
        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
        ck_assert_int_eq(test_wait(svc, 20000), 0);
}
END_TEST

static Suite *replies_suite(void) {
        Suite *s = suite_create("replies");
        TCase *tc = tcase_create("e2e");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_result_that_is_not_json_is_invalid_reply_and_the_service_stays);
        tcase_add_test(tc, test_service_errors_are_marked_with_their_sender);
        tcase_add_test(tc, test_event_that_is_not_json_is_counted_and_skipped);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(replies_suite)
