/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How events leave a publisher: mbus_emit_raw() sends the payload's bytes as they are, emitted
 * events are written by the batch (32 KiB, or the next flush) in order, and a publisher that
 * only sits in its sd-event loop after emitting still has its event written before it sleeps.
 * The subscriber is a raw socket, so what is checked is what went over the wire. And on the
 * receiving side, a subscriber on sd-event dispatches a burst by the batch, but a handler that
 * ends the loop is the last to run.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <systemd/sd-event.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.example.Emit"

static const struct mbus_procedure none[] = { { "X", NULL } };

static int raw_subscriber(const char *address, const char *pattern) {
        int fd = raw_connect(address);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "sub", NULL), 0);
        ck_assert_int_eq(raw_subscribe(fd, 2, pattern), 0);
        return fd;
}

/* The next EVENT of NS the raw peer gets (broker events skipped), within timeout_ms. */
static int next_event(int fd, int timeout_ms, struct raw_frame *ret) {
        for (;;) {
                int r = raw_recv(fd, timeout_ms, ret);

                if (r < 0)
                        return r;
                if (ret->type == MBUS_FRAME_EVENT && strcmp(ret->namespace, NS) == 0)
                        return 0;
                raw_frame_done(ret);
        }
}

START_TEST(test_raw_payload_goes_out_as_given) {
        struct test_broker b;
        struct raw_frame f;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        int fd = raw_subscriber(b.address, NS ".*");
        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, NS, none, 0, NULL, NULL, NULL), 0);

        static const char text[] = "{\"n\": 1,  \"s\":\"\\u00e9\"}";
        ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "Text", text, strlen(text)), 0);
        ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "Empty", NULL, 0), 0);
        /* the library does not judge the text; the broker does only with an interface file */
        ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "NotJson", "not json", 8), 0);
        /* what is refused before anything is sent */
        ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "Bad", NULL, 3), -EINVAL);
        ck_assert_int_eq(mbus_emit_raw(pub, NULL, "noDot", "Bad", "{}", 2), -EINVAL);
        ck_assert_int_eq(mbus_emit_raw(pub, "peer", NS, "Bad", "{}", 2), -EINVAL);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);

        ck_assert_int_eq(next_event(fd, 10000, &f), 0);
        ck_assert_str_eq(f.member, "Text");
        ck_assert_uint_eq(f.body_len, strlen(text));
        ck_assert_mem_eq(f.body, text, strlen(text));
        raw_frame_done(&f);
        ck_assert_int_eq(next_event(fd, 10000, &f), 0);
        ck_assert_str_eq(f.member, "Empty");
        ck_assert_uint_eq(f.body_len, 0);
        raw_frame_done(&f);
        ck_assert_int_eq(next_event(fd, 10000, &f), 0);
        ck_assert_str_eq(f.member, "NotJson");
        ck_assert_mem_eq(f.body, "not json", 8);
        raw_frame_done(&f);
        ck_assert_int_eq(next_event(fd, 300, &f), -ETIMEDOUT);

        mbus_conn_unref(pub);
        close(fd);
        ck_assert_int_eq(test_broker_stop(&b), 0);
}
END_TEST

START_TEST(test_events_leave_by_the_batch_in_order) {
        enum { N = 2000 };
        struct test_broker b;
        struct raw_frame f;
        char payload[64];
        int n_before = 0;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        int fd = raw_subscriber(b.address, NS ".Tick");
        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, NS, none, 0, NULL, NULL, NULL), 0);

        /* ~50 bytes a frame: more than two batches, and the publisher does nothing else */
        for (int i = 0; i < N; i++) {
                size_t len = (size_t) snprintf(payload, sizeof(payload), "{\"n\":%d}", i);

                ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "Tick", payload, len), 0);
        }
        /* full batches went without any flush; each event came once, in order */
        while (next_event(fd, 2000, &f) == 0) {
                snprintf(payload, sizeof(payload), "{\"n\":%d}", n_before);
                ck_assert_str_eq(f.body, payload);
                raw_frame_done(&f);
                n_before++;
        }
        ck_assert_int_gt(n_before, 0);
        ck_assert_int_lt(n_before, N);

        /* the rest goes with the next flush */
        ck_assert_int_eq(mbus_conn_flush(pub), 0);
        for (int i = n_before; i < N; i++) {
                ck_assert_int_eq(next_event(fd, 10000, &f), 0);
                snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
                ck_assert_str_eq(f.body, payload);
                raw_frame_done(&f);
        }

        mbus_conn_unref(pub);
        close(fd);
        ck_assert_int_eq(test_broker_stop(&b), 0);
}
END_TEST

struct loop_publisher {
        const char *address;
        struct test_pipe ready, stop;
};

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        child_assert(mbus_emit(userdata, NS, "Once", NULL) == 0);
        return 0;
}

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* A service that emits one event from a timer and then only sleeps in its loop. */
static int loop_publisher_main(void *userdata) {
        struct loop_publisher *p = userdata;
        struct mbus_conn *conn = NULL;
        sd_event *e = NULL;

        child_assert(sd_event_new(&e) >= 0);
        child_assert(mbus_conn_open(&conn, p->address, "loop-publisher") >= 0);
        child_assert(mbus_register(conn, NS, none, 0, NULL, NULL, NULL) >= 0);
        child_assert(mbus_conn_attach_event(conn, e, 0) >= 0);
        child_assert(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 1000, 0, on_timer, conn) >= 0);
        child_assert(sd_event_add_io(e, NULL, p->stop.fd[0], EPOLLIN, on_stop, NULL) >= 0);
        test_pipe_write(&p->ready, "ready");
        child_assert(sd_event_loop(e) >= 0);
        mbus_conn_unref(conn);
        sd_event_unref(e);
        return 0;
}

START_TEST(test_event_leaves_before_the_publishers_loop_sleeps) {
        struct loop_publisher p;
        struct test_broker b;
        struct raw_frame f;
        char line[16];

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        int fd = raw_subscriber(b.address, NS ".Once");
        p = (struct loop_publisher) { .address = b.address };
        test_pipe_init(&p.ready);
        test_pipe_init(&p.stop);
        pid_t pid = test_fork(loop_publisher_main, &p);
        ck_assert_int_eq(test_pipe_read_line(&p.ready, line, sizeof(line), 20000), 0);

        /* nothing but its loop runs in the publisher: the event must come all the same */
        ck_assert_int_eq(next_event(fd, 20000, &f), 0);
        ck_assert_str_eq(f.member, "Once");
        raw_frame_done(&f);

        ck_assert_int_eq(write(p.stop.fd[1], "x", 1), 1);
        ck_assert_int_eq(test_wait(pid, 20000), 0);
        test_pipe_close(&p.ready);
        test_pipe_close(&p.stop);
        close(fd);
        ck_assert_int_eq(test_broker_stop(&b), 0);
}
END_TEST

struct loop_subscriber {
        sd_event *event;
        int n_seen, exit_at;
};

static int on_tick(struct mbus_conn *conn, const struct mbus_event_raw *ev, void *userdata) {
        struct loop_subscriber *sub = userdata;

        if (++sub->n_seen == sub->exit_at)
                child_assert(sd_event_exit(sub->event, 0) >= 0);
        return 0;
}

START_TEST(test_handler_that_ends_the_loop_is_the_last_to_run) {
        struct loop_subscriber sub = { .exit_at = 3 };
        struct mbus_slot *slot = NULL;
        struct test_broker b;
        sd_event *e = NULL;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        struct mbus_conn *conn = test_connect(b.address, "subscriber");
        ck_assert_int_eq(mbus_subscribe_raw(conn, NS ".Tick", on_tick, &sub, &slot, NULL), 0);
        struct mbus_conn *pub = test_connect(b.address, "publisher");
        ck_assert_int_eq(mbus_register(pub, NS, none, 0, NULL, NULL, NULL), 0);
        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(mbus_emit_raw(pub, NULL, NS, "Tick", "{}", 2), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        /* all ten are queued for the subscriber, arriving together, before its loop runs */
        ck_assert_int_eq(mbus_ping(conn, 0), 0);

        ck_assert_int_eq(sd_event_new(&e), 0);
        sub.event = e;
        ck_assert_int_eq(mbus_conn_attach_event(conn, e, 0), 0);
        ck_assert_int_eq(sd_event_loop(e), 0);
        ck_assert_int_eq(sub.n_seen, 3);
        /* the rest is still there, each once */
        ck_assert_int_eq(mbus_conn_detach_event(conn), 0);
        while (mbus_conn_process(conn) > 0)
                ;
        ck_assert_int_eq(sub.n_seen, 10);

        sd_event_unref(e);
        mbus_slot_free(slot);
        mbus_conn_unref(conn);
        mbus_conn_unref(pub);
        ck_assert_int_eq(test_broker_stop(&b), 0);
}
END_TEST

static Suite *emit_suite(void) {
        Suite *s = suite_create("emit");
        TCase *tc = tcase_create("emit");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_raw_payload_goes_out_as_given);
        tcase_add_test(tc, test_events_leave_by_the_batch_in_order);
        tcase_add_test(tc, test_event_leaves_before_the_publishers_loop_sleeps);
        tcase_add_test(tc, test_handler_that_ends_the_loop_is_the_last_to_run);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(emit_suite)
