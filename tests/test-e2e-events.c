/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Events end to end: one publisher, subscribers in forked processes with different patterns,
 * each of which must see exactly the events its pattern matches, once each and in order; raw
 * subscribers check on the wire that a peer gets one copy however many of its patterns match,
 * and that direct events reach their destination alone.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

struct subscriber {
        const char *address;
        const char *pattern;
        struct test_pipe ready, stop, result;
        pid_t pid;
        char id[32];
        char seen[1024];
};

static int on_event(struct mbus_conn *conn, const struct mbus_event *e, void *userdata) {
        struct subscriber *s = userdata;
        json_object *n;
        char item[128];

        if (strcmp(e->ns, MBUS_BROKER_NAMESPACE) == 0)
                return 0;          /* peers coming and going: not what this test counts */
        if (e->payload && json_object_object_get_ex(e->payload, "n", &n))
                snprintf(item, sizeof(item), "%s%s/%d ", e->event, e->direct ? "!" : "", json_object_get_int(n));
        else
                snprintf(item, sizeof(item), "%s%s ", e->event, e->direct ? "!" : "");
        child_assert(strlen(s->seen) + strlen(item) < sizeof(s->seen));
        strcat(s->seen, item);
        return 0;
}

static int subscriber_main(void *userdata) {
        struct subscriber *s = userdata;
        struct mbus_conn *conn = NULL;
        struct mbus_slot *slot = NULL;

        child_assert(mbus_conn_open(&conn, s->address, "subscriber") >= 0);
        child_assert(mbus_subscribe(conn, s->pattern, on_event, s, &slot, NULL) >= 0);
        test_pipe_write(&s->ready, mbus_conn_get_unique_id(conn));

        /* until the test says it has published everything ... */
        child_assert(test_pump(conn, s->stop.fd[0], 30000) >= 0);
        /* ... then a round trip through the broker: whatever it queued for us before the PONG
         * has arrived once mbus_ping() returns, and is dispatched below */
        child_assert(mbus_ping(conn, 0) >= 0);
        while (mbus_conn_process(conn) > 0)
                ;
        size_t n = strlen(s->seen);
        if (n > 0 && s->seen[n - 1] == ' ')
                s->seen[n - 1] = 0;
        test_pipe_write(&s->result, s->seen[0] ? s->seen : "-");

        mbus_slot_free(slot);
        mbus_conn_unref(conn);
        return 0;
}

static void subscriber_start(struct subscriber *s, const char *address, const char *pattern) {
        *s = (struct subscriber) { .address = address, .pattern = pattern };
        test_pipe_init(&s->ready);
        test_pipe_init(&s->stop);
        test_pipe_init(&s->result);
        s->pid = test_fork(subscriber_main, s);
        ck_assert_int_eq(test_pipe_read_line(&s->ready, s->id, sizeof(s->id), 20000), 0);
}

/* Tells the subscriber to finish and returns what it saw ("-" for nothing). */
static const char *subscriber_finish(struct subscriber *s) {
        ck_assert_int_eq(write(s->stop.fd[1], "x", 1), 1);
        ck_assert_int_eq(test_pipe_read_line(&s->result, s->seen, sizeof(s->seen), 20000), 0);
        ck_assert_int_eq(test_wait(s->pid, 20000), 0);
        test_pipe_close(&s->ready);
        test_pipe_close(&s->stop);
        test_pipe_close(&s->result);
        return s->seen;
}

static void emit_n(struct mbus_conn *conn, const char *ns, const char *event, int n) {
        json_object *p = json_object_new_object();

        json_object_object_add(p, "n", json_object_new_int(n));
        ck_assert_int_eq(mbus_emit(conn, ns, event, p), 0);
        json_object_put(p);
}

/* Counts the EVENT frames a raw peer has been sent, up to the PONG of a PING it sends now;
 * broker events are left out. Fails the test if an event's sender is not sender. */
static int raw_count_events(int fd, const char *sender, char *members, size_t size) {
        struct raw_frame f;
        int n = 0;

        members[0] = 0;
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 1000, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        for (;;) {
                ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
                if (f.type == MBUS_FRAME_PONG) {
                        ck_assert_int_eq(f.reply_serial, 1000);
                        raw_frame_done(&f);
                        return n;
                }
                if (f.type == MBUS_FRAME_EVENT && strcmp(f.namespace, MBUS_BROKER_NAMESPACE) != 0) {
                        ck_assert_str_eq(f.sender, sender);
                        if (strlen(members) + strlen(f.member) + 2 < size) {
                                strcat(members, f.member);
                                strcat(members, " ");
                        }
                        n++;
                }
                raw_frame_done(&f);
        }
}

START_TEST(test_events_reach_each_matching_subscriber_exactly_once) {
        static const struct mbus_procedure none[] = { { "X", NULL } };
        struct test_broker b;
        struct subscriber all, example, net_exact, net_any, partial_label, other_member;
        char members[512];
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        subscriber_start(&all, b.address, "*");
        subscriber_start(&example, b.address, "org.example.*");
        subscriber_start(&net_exact, b.address, "org.example.Net.Up");
        subscriber_start(&net_any, b.address, "org.example.Net.*");
        subscriber_start(&partial_label, b.address, "org.exam.*");
        subscriber_start(&other_member, b.address, "org.example.Net.Down");

        /* a raw peer whose three patterns all match: still one copy per event */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-sub", NULL), 0);
        ck_assert_int_eq(raw_subscribe(fd, 2, "*"), 0);
        ck_assert_int_eq(raw_subscribe(fd, 3, "org.example.*"), 0);
        ck_assert_int_eq(raw_subscribe(fd, 4, "org.example.Net.Up"), 0);

        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, "org.example.Net", none, 0, NULL, NULL, NULL), 0);
        ck_assert_int_eq(mbus_register(pub, "org.example.Disk", none, 0, NULL, NULL, NULL), 0);
        ck_assert_int_eq(mbus_register(pub, "org.other.Thing", none, 0, NULL, NULL, NULL), 0);
        emit_n(pub, "org.example.Net", "Up", 0);
        emit_n(pub, "org.example.Net", "Up", 1);
        ck_assert_int_eq(mbus_emit(pub, "org.example.Disk", "Full", NULL), 0);
        emit_n(pub, "org.example.Net", "Up", 2);
        ck_assert_int_eq(mbus_emit(pub, "org.other.Thing", "Happened", NULL), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);

        ck_assert_str_eq(subscriber_finish(&all), "Up/0 Up/1 Full Up/2 Happened");
        ck_assert_str_eq(subscriber_finish(&example), "Up/0 Up/1 Full Up/2");
        ck_assert_str_eq(subscriber_finish(&net_exact), "Up/0 Up/1 Up/2");
        ck_assert_str_eq(subscriber_finish(&net_any), "Up/0 Up/1 Up/2");
        ck_assert_str_eq(subscriber_finish(&partial_label), "-");
        ck_assert_str_eq(subscriber_finish(&other_member), "-");

        ck_assert_int_eq(raw_count_events(fd, mbus_conn_get_unique_id(pub), members, sizeof(members)), 5);
        ck_assert_str_eq(members, "Up Up Full Up Happened ");
        close(fd);

        mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_direct_events_reach_their_destination_alone) {
        static const struct mbus_procedure none[] = { { "X", NULL } };
        struct test_broker b;
        struct subscriber target, bystander;
        struct raw_frame f;
        char members[512], raw_id_buf[32], *raw_id = NULL;
        int fd, pub_fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        subscriber_start(&target, b.address, "*");
        subscriber_start(&bystander, b.address, "*");

        /* a raw peer without any subscription: direct events reach it anyway */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-target", &raw_id), 0);
        snprintf(raw_id_buf, sizeof(raw_id_buf), "%s", raw_id);
        free(raw_id);

        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, "org.example.Net", none, 0, NULL, NULL, NULL), 0);
        emit_n(pub, "org.example.Net", "Up", 1);                       /* broadcast */
        json_object *p = json_object_new_object();
        json_object_object_add(p, "n", json_object_new_int(2));
        ck_assert_int_eq(mbus_emit_to(pub, target.id, "org.example.Net", "Private", p), 0);
        ck_assert_int_eq(mbus_emit_to(pub, raw_id_buf, "org.example.Net", "JustYou", p), 0);
        json_object_put(p);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);

        ck_assert_str_eq(subscriber_finish(&target), "Up/1 Private!/2");
        ck_assert_str_eq(subscriber_finish(&bystander), "Up/1");
        ck_assert_int_eq(raw_count_events(fd, mbus_conn_get_unique_id(pub), members, sizeof(members)), 1);
        ck_assert_str_eq(members, "JustYou ");
        close(fd);

        /* a destination that does not exist: the emitter hears NoSuchPeer */
        pub_fd = raw_connect(b.address);
        ck_assert_int_ge(pub_fd, 0);
        ck_assert_int_eq(raw_hello(pub_fd, "raw-pub", NULL), 0);
        ck_assert_int_eq(raw_register(pub_fd, 2, "org.example.Raw"), 0);
        ck_assert_int_eq(raw_send_simple(pub_fd, MBUS_FRAME_EVENT, 3, 0, "org.example.Raw", "Lost", ":1.99999",
                                         NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(pub_fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 3);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_PEER);
        raw_frame_done(&f);
        close(pub_fd);

        mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_unsubscribed_patterns_stop_delivering) {
        static const struct mbus_procedure none[] = { { "X", NULL } };
        struct test_broker b;
        char members[512];
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-sub", NULL), 0);
        /* the same pattern twice: still one copy per event */
        ck_assert_int_eq(raw_subscribe(fd, 2, "org.example.Net.*"), 0);
        ck_assert_int_eq(raw_subscribe(fd, 5, "org.example.Net.*"), 0);

        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, "org.example.Net", none, 0, NULL, NULL, NULL), 0);
        ck_assert_int_eq(mbus_emit(pub, "org.example.Net", "First", NULL), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(raw_count_events(fd, mbus_conn_get_unique_id(pub), members, sizeof(members)), 1);

        /* one UNSUBSCRIBE undoes one SUBSCRIBE */
        struct raw_frame f;
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_UNSUBSCRIBE, 6, 0, NULL, NULL, NULL, NULL,
                                         "org.example.Net.*", NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 6);
        raw_frame_done(&f);
        ck_assert_int_eq(mbus_emit(pub, "org.example.Net", "Still", NULL), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(raw_count_events(fd, mbus_conn_get_unique_id(pub), members, sizeof(members)), 1);

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_UNSUBSCRIBE, 3, 0, NULL, NULL, NULL, NULL,
                                         "org.example.Net.*", NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 3);
        raw_frame_done(&f);

        ck_assert_int_eq(mbus_emit(pub, "org.example.Net", "Second", NULL), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(raw_count_events(fd, mbus_conn_get_unique_id(pub), members, sizeof(members)), 0);

        /* unsubscribing what was never subscribed is an error, not silence */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_UNSUBSCRIBE, 4, 0, NULL, NULL, NULL, NULL,
                                         "org.example.Net.*", NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 4);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_SUBSCRIPTION);
        raw_frame_done(&f);
        close(fd);

        mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *events_suite(void) {
        Suite *s = suite_create("e2e-events");
        TCase *tc = tcase_create("events");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_events_reach_each_matching_subscriber_exactly_once);
        tcase_add_test(tc, test_direct_events_reach_their_destination_alone);
        tcase_add_test(tc, test_unsubscribed_patterns_stop_delivering);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(events_suite)
