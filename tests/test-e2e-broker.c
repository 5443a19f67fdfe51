/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker's own namespace, org.mbus.Broker: its procedures as any client calls them, and the
 * events it emits as a subscriber sees them (on a raw socket, so every frame is counted).
 */

#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "config.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

static int broker_call(struct mbus_conn *conn, const char *member, const char *args_json,
                       json_object **ret, struct mbus_error *error) {
        json_object *args = args_json ? json_tokener_parse(args_json) : NULL;
        int r;

        ck_assert(!args_json || args);
        r = mbus_call(conn, MBUS_BROKER_NAMESPACE, member, args, 0, ret, error);
        json_object_put(args);
        return r;
}

static json_object *stats_get(struct mbus_conn *conn) {
        json_object *o = NULL;

        ck_assert_int_eq(broker_call(conn, "GetStats", NULL, &o, NULL), 0);
        ck_assert_ptr_nonnull(o);
        return o;
}

START_TEST(test_broker_answers_ping_and_version) {
        struct test_broker b;
        json_object *o = NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        struct mbus_conn *conn = test_connect(b.address, "inspector");

        ck_assert_int_eq(broker_call(conn, "Ping", "{}", &o, NULL), 0);
        ck_assert(json_object_is_type(o, json_type_object));
        ck_assert_int_eq(json_object_object_length(o), 0);
        json_object_put(o);

        ck_assert_int_eq(broker_call(conn, "Version", NULL, &o, NULL), 0);
        ck_assert_str_eq(test_json_str(o, "version"), MBUS_VERSION);
        ck_assert_int_eq(test_json_int(o, "protocol"), 1);
        json_object_put(o);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static const char *owner_of(json_object *list, const char *ns) {
        json_object *arr;

        ck_assert(json_object_object_get_ex(list, "namespaces", &arr));
        ck_assert(json_object_is_type(arr, json_type_array));
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *e = json_object_array_get_idx(arr, i);
                if (test_json_str(e, "namespace") && strcmp(test_json_str(e, "namespace"), ns) == 0)
                        return test_json_str(e, "owner");
        }
        return NULL;
}

START_TEST(test_list_namespaces_shows_each_owner) {
        struct test_broker b;
        struct test_service svc;
        json_object *o = NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "inspector");

        ck_assert_int_eq(broker_call(conn, "ListNamespaces", NULL, &o, NULL), 0);
        ck_assert_str_eq(owner_of(o, MBUS_BROKER_NAMESPACE), ":1.0");
        ck_assert_str_eq(owner_of(o, NS), svc.id);
        ck_assert_ptr_null(owner_of(o, "org.example.Other"));
        json_object_put(o);

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_int_eq(mbus_ping(conn, 0), 0);
        ck_assert_int_eq(broker_call(conn, "ListNamespaces", NULL, &o, NULL), 0);
        ck_assert_ptr_null(owner_of(o, NS));
        json_object_put(o);

        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static int on_any_event(struct mbus_conn *conn, const struct mbus_event *e, void *userdata) {
        return 0;
}

static int on_any_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                        void *userdata) {
        return 0;
}

START_TEST(test_peers_are_listed_with_their_credentials) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *o = NULL, *arr;
        char args[128];
        struct timeval tv;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "inspector");
        const char *me = mbus_conn_get_unique_id(conn);

        /* myself: name, real uid/gid/pid, no namespaces, connected just now */
        snprintf(args, sizeof(args), "{\"id\": \"%s\"}", me);
        ck_assert_int_eq(broker_call(conn, "GetPeer", args, &o, NULL), 0);
        ck_assert_str_eq(test_json_str(o, "id"), me);
        ck_assert_str_eq(test_json_str(o, "name"), "inspector");
        ck_assert_int_eq(test_json_int(o, "uid"), getuid());
        ck_assert_int_eq(test_json_int(o, "gid"), getgid());
        ck_assert_int_eq(test_json_int(o, "pid"), getpid());
        ck_assert(json_object_object_get_ex(o, "namespaces", &arr));
        ck_assert_int_eq(json_object_array_length(arr), 0);
        gettimeofday(&tv, NULL);
        int64_t now = (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
        int64_t connected = test_json_int(o, "connected_usec");
        ck_assert_int_le(connected, now);
        ck_assert_int_gt(connected, now - 60 * 1000000LL);
        json_object_put(o);

        /* the service: its own pid and its namespace */
        snprintf(args, sizeof(args), "{\"id\": \"%s\"}", svc.id);
        ck_assert_int_eq(broker_call(conn, "GetPeer", args, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "pid"), svc.pid);
        ck_assert_str_eq(test_json_str(o, "name"), "test-service");
        ck_assert(json_object_object_get_ex(o, "namespaces", &arr));
        ck_assert_int_eq(json_object_array_length(arr), 1);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)), NS);
        json_object_put(o);

        /* what it is doing right now: two subscriptions, one call pending */
        struct mbus_slot *s1 = NULL, *s2 = NULL;
        ck_assert_int_eq(mbus_subscribe(conn, "org.example.*", on_any_event, NULL, &s1, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(conn, "*", on_any_event, NULL, &s2, NULL), 0);
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hang", NULL, 0, on_any_reply, NULL, NULL), 0);
        ck_assert_int_eq(mbus_conn_flush(conn), 0);
        snprintf(args, sizeof(args), "{\"id\": \"%s\"}", me);
        ck_assert_int_eq(broker_call(conn, "GetPeer", args, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "subscriptions"), 2);
        ck_assert_int_eq(test_json_int(o, "pending_calls"), 1);
        ck_assert_int_ge(test_json_int(o, "queued_bytes"), 0);
        json_object_put(o);
        mbus_slot_free(s1);
        mbus_slot_free(s2);

        /* ListPeers has both */
        ck_assert_int_eq(broker_call(conn, "ListPeers", NULL, &o, NULL), 0);
        ck_assert(json_object_object_get_ex(o, "peers", &arr));
        int found = 0;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                const char *id = test_json_str(json_object_array_get_idx(arr, i), "id");
                ck_assert_ptr_nonnull(id);
                found += strcmp(id, me) == 0 || strcmp(id, svc.id) == 0;
        }
        ck_assert_int_eq(found, 2);
        json_object_put(o);

        /* an unknown peer, and arguments that are not a peer id */
        ck_assert_int_eq(broker_call(conn, "GetPeer", "{\"id\": \":1.99999\"}", &o, &error), -ESRCH);
        ck_assert_str_eq(error.name, MBUS_ERROR_NO_SUCH_PEER);
        mbus_error_free(&error);
        ck_assert_int_eq(broker_call(conn, "GetPeer", "{}", &o, &error), -EINVAL);
        ck_assert_str_eq(error.name, MBUS_ERROR_INVALID_ARGS);
        mbus_error_free(&error);
        ck_assert_int_eq(broker_call(conn, "GetPeer", "{\"id\": 5}", &o, &error), -EINVAL);
        ck_assert_str_eq(error.name, MBUS_ERROR_INVALID_ARGS);
        mbus_error_free(&error);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_broker_refuses_non_json_arguments) {
        struct test_broker b;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 2, 0, MBUS_BROKER_NAMESPACE, "GetPeer", NULL,
                                         NULL, NULL, "{\"id\": "), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 2);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_INVALID_ARGS);
        raw_frame_done(&f);
        /* not a protocol error: the connection stays */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 3, 0, MBUS_BROKER_NAMESPACE, "Ping", NULL,
                                         NULL, NULL, "{}"), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 3);
        raw_frame_done(&f);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_stats_count_what_happened) {
        struct test_broker b;
        struct test_service svc;
        json_object *before, *after;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "inspector");

        /* a raw subscriber to everything: the events below are delivered to it */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-sub", NULL), 0);
        ck_assert_int_eq(raw_subscribe(fd, 2, "org.example.*"), 0);

        before = stats_get(conn);
        ck_assert_int_ge(test_json_int(before, "peers"), 3);
        ck_assert_int_ge(test_json_int(before, "namespaces"), 2);
        ck_assert_int_ge(test_json_int(before, "subscriptions"), 1);
        ck_assert_int_eq(test_json_int(before, "pending_calls"), 0);

        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, NULL), 0);
        static const struct mbus_procedure none[] = { { "X", NULL } };
        ck_assert_int_eq(mbus_register(conn, "org.example.Stats", none, 0, NULL, NULL, NULL), 0);
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(mbus_emit(conn, "org.example.Stats", "Tick", NULL), 0);
        ck_assert_int_eq(mbus_ping(conn, 0), 0);

        after = stats_get(conn);
        ck_assert_int_ge(test_json_int(after, "calls_routed") - test_json_int(before, "calls_routed"), 10);
        ck_assert_int_ge(test_json_int(after, "events_delivered") - test_json_int(before, "events_delivered"), 5);
        ck_assert_int_gt(test_json_int(after, "bytes_in"), test_json_int(before, "bytes_in"));
        ck_assert_int_gt(test_json_int(after, "bytes_out"), test_json_int(before, "bytes_out"));
        ck_assert_int_eq(test_json_int(after, "namespaces"), test_json_int(before, "namespaces") + 1);
        ck_assert_int_eq(test_json_int(after, "events_dropped"), 0);
        json_object_put(before);
        json_object_put(after);

        close(fd);
        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* Receives broker events on fd until one of member arrives that mentions id; fails the test
 * if none does within 10 s. */
static json_object *expect_broker_event(int fd, const char *member, const char *key, const char *value) {
        long long deadline = test_now_ms() + 10000;

        while (test_now_ms() < deadline) {
                struct raw_frame f;
                ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_EVENT, &f), 0);
                ck_assert_str_eq(f.namespace, MBUS_BROKER_NAMESPACE);
                json_object *body = f.body ? json_tokener_parse(f.body) : NULL;
                bool hit = strcmp(f.member, member) == 0 && test_json_str(body, key) &&
                           strcmp(test_json_str(body, key), value) == 0;
                raw_frame_done(&f);
                if (hit)
                        return body;
                json_object_put(body);
        }
        ck_abort_msg("no %s event with %s=%s", member, key, value);
        return NULL;
}

START_TEST(test_broker_announces_peers_and_owners) {
        struct test_broker b;
        json_object *e, *v;
        char id[32];
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "watcher", NULL), 0);
        ck_assert_int_eq(raw_subscribe(fd, 2, "org.mbus.Broker.*"), 0);

        struct mbus_conn *conn = test_connect(b.address, "newcomer");
        snprintf(id, sizeof(id), "%s", mbus_conn_get_unique_id(conn));

        e = expect_broker_event(fd, "PeerConnected", "id", id);
        ck_assert_str_eq(test_json_str(e, "name"), "newcomer");
        ck_assert_int_eq(test_json_int(e, "uid"), getuid());
        ck_assert_int_eq(test_json_int(e, "gid"), getgid());
        ck_assert_int_eq(test_json_int(e, "pid"), getpid());
        json_object_put(e);

        static const struct mbus_procedure none[] = { { "X", NULL } };
        ck_assert_int_eq(mbus_register(conn, NS, none, 0, NULL, NULL, NULL), 0);
        e = expect_broker_event(fd, "NamespaceOwnerChanged", "namespace", NS);
        ck_assert(json_object_object_get_ex(e, "old_owner", &v));
        ck_assert(json_object_is_type(v, json_type_null));
        ck_assert_str_eq(test_json_str(e, "new_owner"), id);
        json_object_put(e);

        ck_assert_int_eq(mbus_unregister(conn, NS, NULL), 0);
        e = expect_broker_event(fd, "NamespaceOwnerChanged", "namespace", NS);
        ck_assert_str_eq(test_json_str(e, "old_owner"), id);
        ck_assert(json_object_object_get_ex(e, "new_owner", &v));
        ck_assert(json_object_is_type(v, json_type_null));
        json_object_put(e);

        /* owning again, then hanging up: the namespace is released and the peer is gone */
        ck_assert_int_eq(mbus_register(conn, NS, none, 0, NULL, NULL, NULL), 0);
        json_object_put(expect_broker_event(fd, "NamespaceOwnerChanged", "new_owner", id));
        mbus_conn_unref(conn);
        e = expect_broker_event(fd, "NamespaceOwnerChanged", "old_owner", id);
        ck_assert_str_eq(test_json_str(e, "namespace"), NS);
        json_object_put(e);
        json_object_put(expect_broker_event(fd, "PeerDisconnected", "id", id));

        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *broker_suite(void) {
        Suite *s = suite_create("e2e-broker");
        TCase *tc = tcase_create("driver");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_broker_answers_ping_and_version);
        tcase_add_test(tc, test_list_namespaces_shows_each_owner);
        tcase_add_test(tc, test_peers_are_listed_with_their_credentials);
        tcase_add_test(tc, test_broker_refuses_non_json_arguments);
        tcase_add_test(tc, test_stats_count_what_happened);
        tcase_add_test(tc, test_broker_announces_peers_and_owners);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(broker_suite)
