/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A crowd of peers leaving at once while others work: the broker polls every peer socket
 * from one epoll set of its own and handles a batch of ready sockets per wake-up, so hang-ups
 * of hundreds of peers arrive together with the frames of the peers that stay. Whatever the
 * batch holds, every call of a peer that stays is answered exactly once, every peer that left
 * is announced once (PeerDisconnected) with the namespaces it owned (NamespaceOwnerChanged),
 * and a newcomer is served afterwards. Outcomes only: no figure of time is asserted.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define SERVICE_NS "org.example.CrowdEcho"
#define CROWD 500               /* peers that leave together */
#define CROWD_OWNERS 20         /* of them, the first own a namespace each */
#define CALLS 400               /* calls of the peer that stays, half before the crowd leaves */
#define FIRST_SERIAL 100

static const char *const crowd_args[] = {
        "--max-peers", "2000", "--max-queue-bytes", "8388608", NULL
};

struct crowd {
        const char *address;
        struct test_pipe ready;
};

/*
 * The crowd: every peer says HELLO; some own a namespace, some subscribe, some are in the
 * middle of sending a frame, some have a call out to the service. Then it waits to be killed,
 * so that the kernel closes all of its sockets at once.
 */
static int crowd_run(void *userdata) {
        struct crowd *c = userdata;
        static const char partial[] = { 1, MBUS_FRAME_CALL, 0, 0, 12, 0, 0, 0 };

        for (int i = 0; i < CROWD; i++) {
                int fd = raw_connect(c->address);
                char ns[64];

                child_assert(fd >= 0);
                child_assert(raw_hello(fd, "crowd", NULL) == 0);
                if (i < CROWD_OWNERS) {
                        snprintf(ns, sizeof(ns), "org.example.Crowd%d", i);
                        child_assert(raw_register(fd, 2, ns) == 0);
                } else if (i % 4 == 1)
                        child_assert(raw_subscribe(fd, 2, "org.example.*") == 0);
                else if (i % 4 == 2)
                        child_assert(raw_send(fd, partial, sizeof(partial)) == 0);
                else if (i % 4 == 3)
                        child_assert(raw_send_simple(fd, MBUS_FRAME_CALL, 3, 0, SERVICE_NS, "Echo", NULL, NULL,
                                                     NULL, "{\"from\":\"crowd\"}") == 0);
        }
        test_pipe_write(&c->ready, "ready");
        for (;;)
                pause();
}

static void send_call(int fd, int i) {
        char body[64];

        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, FIRST_SERIAL + (uint64_t) i, 0, SERVICE_NS, "Echo",
                                         NULL, NULL, NULL, body), 0);
}

/* The broker's keep-alive may ask any peer: true if f was a PING, answered (and freed). */
static bool answered_ping(int fd, struct raw_frame *f) {
        if (f->type != MBUS_FRAME_PING)
                return false;
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PONG, 0, f->serial, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        raw_frame_done(f);
        return true;
}

/* One frame for the caller: a reply to one of its calls, never a second one. */
static void caller_take(int fd, bool *answered, int *n_answered) {
        struct raw_frame f;
        char body[64];
        int i;

        ck_assert_int_eq(raw_recv(fd, 30000, &f), 0);
        if (answered_ping(fd, &f))
                return;
        ck_assert_msg(f.type == MBUS_FRAME_RETURN, "caller got frame type %u (%s)", f.type,
                      f.error_name ?: "");
        ck_assert_uint_ge(f.reply_serial, FIRST_SERIAL);
        ck_assert_uint_lt(f.reply_serial, FIRST_SERIAL + CALLS);
        i = (int) (f.reply_serial - FIRST_SERIAL);
        ck_assert_msg(!answered[i], "call %d answered twice", i);
        answered[i] = true;
        (*n_answered)++;
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        ck_assert_ptr_nonnull(f.body);
        ck_assert_msg(strstr(f.body, body), "call %d answered with %s", i, f.body);
        raw_frame_done(&f);
}

/* One frame for the watcher: counts departures (each id once) and released namespaces. */
static void watcher_take(int fd, char (*gone)[32], int *n_gone, int *n_released) {
        struct raw_frame f;
        json_object *body;

        ck_assert_int_eq(raw_recv(fd, 30000, &f), 0);
        if (answered_ping(fd, &f))
                return;
        ck_assert_int_eq(f.type, MBUS_FRAME_EVENT);
        body = json_tokener_parse(f.body);
        ck_assert_ptr_nonnull(body);
        if (strcmp(f.member, "PeerDisconnected") == 0) {
                const char *id = test_json_str(body, "id");

                ck_assert_ptr_nonnull(id);
                for (int k = 0; k < *n_gone; k++)
                        ck_assert_msg(strcmp(gone[k], id) != 0, "%s announced twice", id);
                ck_assert_int_lt(*n_gone, CROWD);
                snprintf(gone[(*n_gone)++], 32, "%s", id);
        } else if (strcmp(f.member, "NamespaceOwnerChanged") == 0) {
                json_object *owner;

                ck_assert(json_object_object_get_ex(body, "new_owner", &owner));
                if (!owner && strncmp(test_json_str(body, "namespace"), "org.example.Crowd", 17) == 0)
                        (*n_released)++;
        }
        json_object_put(body);
        raw_frame_done(&f);
}

START_TEST(test_crowd_leaving_at_once_costs_the_others_nothing) {
        static char gone[CROWD][32];
        static bool answered[CALLS];
        struct test_broker b;
        struct test_service svc;
        struct crowd c;
        struct raw_frame f;
        char line[16];
        int caller, watcher, late, n_answered = 0, n_gone = 0, n_released = 0;
        pid_t pid;

        memset(answered, 0, sizeof(answered));
        ck_assert_int_ge(test_raise_nofile(CROWD + 256), CROWD + 64);
        ck_assert_int_eq(test_broker_start(&b, crowd_args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, SERVICE_NS), 0);

        watcher = raw_connect(b.address);
        ck_assert_int_ge(watcher, 0);
        ck_assert_int_eq(raw_hello(watcher, "watcher", NULL), 0);
        ck_assert_int_eq(raw_subscribe(watcher, 2, MBUS_BROKER_NAMESPACE ".PeerDisconnected"), 0);
        ck_assert_int_eq(raw_subscribe(watcher, 3, MBUS_BROKER_NAMESPACE ".NamespaceOwnerChanged"), 0);
        caller = raw_connect(b.address);
        ck_assert_int_ge(caller, 0);
        ck_assert_int_eq(raw_hello(caller, "caller", NULL), 0);

        c = (struct crowd) { .address = b.address };
        test_pipe_init(&c.ready);
        pid = test_fork(crowd_run, &c);
        ck_assert_int_eq(test_pipe_read_line(&c.ready, line, sizeof(line), 60000), 0);

        /* Half of the calls in flight, the crowd gone at once, the other half after it. */
        for (int i = 0; i < CALLS / 2; i++)
                send_call(caller, i);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        for (int i = CALLS / 2; i < CALLS; i++)
                send_call(caller, i);

        while (n_answered < CALLS || n_gone < CROWD || n_released < CROWD_OWNERS) {
                struct pollfd p[2] = { { .fd = caller, .events = POLLIN }, { .fd = watcher, .events = POLLIN } };

                ck_assert_int_gt(poll(p, 2, 30000), 0);
                if (p[0].revents)
                        caller_take(caller, answered, &n_answered);
                if (p[1].revents)
                        watcher_take(watcher, gone, &n_gone, &n_released);
        }
        ck_assert_int_eq(n_released, CROWD_OWNERS);

        /* Nothing more is owed to the caller: its next call's reply is the next frame. */
        send_call(caller, 0);
        ck_assert_int_eq(raw_recv_type(caller, 30000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_uint_eq(f.reply_serial, FIRST_SERIAL);
        raw_frame_done(&f);

        /* A newcomer is served. */
        late = raw_connect(b.address);
        ck_assert_int_ge(late, 0);
        ck_assert_int_eq(raw_hello(late, "late", NULL), 0);
        ck_assert_int_eq(raw_send_simple(late, MBUS_FRAME_PING, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(late, 30000, MBUS_FRAME_PONG, &f), 0);
        ck_assert_uint_eq(f.reply_serial, 2);
        raw_frame_done(&f);

        close(late);
        close(caller);
        close(watcher);
        test_pipe_close(&c.ready);
        ck_assert_int_eq(test_service_quit(&svc, b.address, SERVICE_NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *crowd_suite(void) {
        Suite *s = suite_create("e2e-crowd");
        TCase *tc = tcase_create("crowd");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC * 3);
        tcase_add_test(tc, test_crowd_leaving_at_once_costs_the_others_nothing);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(crowd_suite)
