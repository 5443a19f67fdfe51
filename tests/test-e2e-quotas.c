/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accounting per user end to end: a real broker run as root, and a forked client of uid
 * nobody that takes whatever it can of a limit. What each test shows: nobody stops at its
 * share with LimitsExceeded naming the quota and its user, while root still connects and calls
 * and another unprivileged user still finds room; GetUserStats shows who holds what. Needs
 * root to switch uids; skipped (77) otherwise.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>

#include <mbus/mbus.h>
#include <mbus/mbus-errors.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/list-util.h"
#include "helpers/raw-util.h"

enum grab {
        GRAB_CONNECTIONS,       /* welcomed connections */
        GRAB_HELLO,             /* connections that never say HELLO */
        GRAB_SUBSCRIPTIONS,     /* subscriptions on one connection */
};

/*
 * A child of uid who that takes what it can of one resource (at most max), then writes
 * "N ERROR_NAME MESSAGE" (how many it got and the refusal) to the pipe and holds everything
 * until the pipe's other end says go.
 */
struct grabber {
        pid_t pid;
        struct test_pipe to_parent, to_child;
        int n;
        char error[64], message[512];
        char libmbus[700];      /* GRAB_CONNECTIONS: "ERRNO NAME MESSAGE" of mbus_conn_open_with_error() */
};

static void grab_child(const char *address, enum grab what, int max, struct test_pipe *out, struct test_pipe *in) {
        struct raw_frame f = {};
        char line[700] = "", buf[16];
        int n = 0, fd = -1;

        (void) signal(SIGPIPE, SIG_IGN);
        for (int i = 0; i < max; i++) {
                int r;

                if (what != GRAB_SUBSCRIPTIONS || fd < 0) {
                        fd = raw_connect(address);
                        if (fd < 0)
                                break;
                }
                switch (what) {
                case GRAB_CONNECTIONS:
                        (void) raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL, "{}");
                        break;
                case GRAB_HELLO:
                        /* a refusal arrives at once; an accepted connection says nothing */
                        break;
                case GRAB_SUBSCRIPTIONS:
                        if (i == 0 && raw_hello(fd, "grabber", NULL) < 0)
                                _exit(2);
                        char pattern[64];
                        snprintf(pattern, sizeof(pattern), "org.example.Q%d.*", i);
                        (void) raw_send_simple(fd, MBUS_FRAME_SUBSCRIBE, 100 + (uint64_t) i, 0, NULL, NULL, NULL, NULL,
                                              pattern, NULL);
                        break;
                }
                r = raw_recv(fd, what == GRAB_HELLO ? 300 : 10000, &f);
                if (r == -ETIMEDOUT && what == GRAB_HELLO) {
                        n++;
                        continue;
                }
                if (r < 0)
                        break;
                if (f.type == MBUS_FRAME_ERROR) {
                        snprintf(line, sizeof(line), "%s %s", f.error_name ?: "?", f.body ?: "");
                        raw_frame_done(&f);
                        break;
                }
                n++;
                raw_frame_done(&f);
        }
        char report[800];
        snprintf(report, sizeof(report), "%d %s", n, line);
        test_pipe_write(out, report);
        if (what == GRAB_CONNECTIONS) {
                /* what a libmbus client of this user is told now */
                struct mbus_error e = MBUS_ERROR_NULL;
                struct mbus_conn *conn = NULL;
                int r = mbus_conn_open_with_error(&conn, address, "one-more", &e);

                snprintf(report, sizeof(report), "%d %s %s", r, e.name ?: "-", e.message ?: "-");
                test_pipe_write(out, report);
                mbus_error_free(&e);
                mbus_conn_unref(conn);
        }
        (void) test_pipe_read_line(in, buf, sizeof(buf), 60000);
        _exit(0);
}

static void grab_start(struct grabber *g, const char *address, const struct test_who *who, enum grab what, int max) {
        char line[700];

        test_pipe_init(&g->to_parent);
        test_pipe_init(&g->to_child);
        g->pid = fork();
        ck_assert_int_ge(g->pid, 0);
        if (g->pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(who->gid) < 0 || setuid(who->uid) < 0)
                        _exit(3);
                grab_child(address, what, max, &g->to_parent, &g->to_child);
        }
        ck_assert_int_eq(test_pipe_read_line(&g->to_parent, line, sizeof(line), 60000), 0);
        g->error[0] = g->message[0] = 0;
        ck_assert_int_ge(sscanf(line, "%d %63s %511[^\n]", &g->n, g->error, g->message), 1);
        g->libmbus[0] = 0;
        if (what == GRAB_CONNECTIONS)
                ck_assert_int_eq(test_pipe_read_line(&g->to_parent, g->libmbus, sizeof(g->libmbus), 60000), 0);
}

static void grab_stop(struct grabber *g) {
        test_pipe_write(&g->to_child, "go");
        ck_assert_int_eq(test_wait(g->pid, 20000), 0);
        test_pipe_close(&g->to_parent);
        test_pipe_close(&g->to_child);
}

static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };
static const struct test_who OTHER = { 4242, 4242, NULL, 0 };

/* What GetUserStats says user key holds of quota, or -1 if the user is not listed (on any page). */
static int64_t user_holds(struct mbus_conn *conn, const char *key, const char *quota) {
        json_object *users = test_list_all(conn, "GetUserStats", "users");
        int64_t v = -1;

        for (size_t i = 0; i < json_object_array_length(users); i++) {
                json_object *u = json_object_array_get_idx(users, i), *k;

                if (json_object_object_get_ex(u, "user", &k) && strcmp(json_object_get_string(k), key) == 0)
                        v = test_json_int(u, quota);
        }
        json_object_put(users);
        return v;
}

START_TEST(test_root_still_connects_and_calls_while_nobody_holds_its_whole_quota) {
        static const char *const args[] = { "--max-peers", "32", "--max-hello-per-user", "64", NULL };
        struct grabber g, other;
        struct mbus_conn *root;
        struct test_env e;

        test_env_start(&e, /* files= */ NULL, args);
        /* 32 less 2 kept for root: nobody alone may hold half of 30 */
        grab_start(&g, e.b.address, &NOBODY, GRAB_CONNECTIONS, 40);
        ck_assert_int_eq(g.n, 15);
        ck_assert_str_eq(g.error, MBUS_ERROR_LIMITS_EXCEEDED);
        ck_assert_msg(strstr(g.message, "uid:65534") && strstr(g.message, "connections"), "%s", g.message);
        /* a libmbus client is told the same by name, not "Broken pipe" */
        ck_assert_msg(strncmp(g.libmbus, "-105 org.mbus.Error.LimitsExceeded Quota exceeded: uid:65534", 60) == 0,
                      "%s", g.libmbus);

        /* root connects and calls, and sees who holds what */
        root = test_connect(e.b.address, "admin");
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(user_holds(root, "uid:65534", "connections"), 15);

        /* another unprivileged user still finds room: half of what nobody and root left */
        grab_start(&other, e.b.address, &OTHER, GRAB_CONNECTIONS, 40);
        ck_assert_int_eq(other.n, 7);
        ck_assert_str_eq(other.error, MBUS_ERROR_LIMITS_EXCEEDED);
        ck_assert_int_eq(mbus_ping(root, 5000000), 0);
        grab_stop(&other);

        grab_stop(&g);
        /* everything comes back when nobody leaves */
        for (int i = 0; i < 100 && user_holds(root, "uid:65534", "connections") >= 0; i++)
                usleep(50000);
        ck_assert_int_eq(user_holds(root, "uid:65534", "connections"), -1);
        mbus_conn_unref(root);
        ck_assert(test_file_wait_for(e.c.log, "Quota exceeded: uid:65534 holds 15 connections", 5000));
        test_env_done(&e);
}
END_TEST

START_TEST(test_connections_without_hello_are_a_small_pool_per_user) {
        static const char *const args[] = { "--max-hello-per-user", "4", NULL };
        struct grabber g;
        struct mbus_conn *root;
        struct test_env e;

        test_env_start(&e, /* files= */ NULL, args);
        grab_start(&g, e.b.address, &NOBODY, GRAB_HELLO, 10);
        ck_assert_int_eq(g.n, 4);
        ck_assert_str_eq(g.error, MBUS_ERROR_LIMITS_EXCEEDED);
        ck_assert_msg(strstr(g.message, "not sent HELLO"), "%s", g.message);

        /* another user's pool is untouched */
        root = test_connect(e.b.address, "admin");
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(user_holds(root, "uid:65534", "hello"), 4);
        mbus_conn_unref(root);
        grab_stop(&g);
        test_env_done(&e);
}
END_TEST

static int on_event(struct mbus_conn *conn, const struct mbus_event *event, void *userdata) {
        return 0;
}

START_TEST(test_subscriptions_are_shared_by_the_same_rule) {
        static const char *const args[] = { "--max-subscriptions-total", "32", NULL };
        struct mbus_slot *slots[17];
        struct grabber g;
        struct mbus_conn *root;
        struct test_env e;

        test_env_start(&e, /* files= */ NULL, args);
        grab_start(&g, e.b.address, &NOBODY, GRAB_SUBSCRIPTIONS, 40);
        ck_assert_msg(g.n == 15, "%d: %s %s", g.n, g.error, g.message);
        ck_assert_str_eq(g.error, MBUS_ERROR_LIMITS_EXCEEDED);
        ck_assert_msg(strstr(g.message, "subscriptions"), "%s", g.message);

        root = test_connect(e.b.address, "admin");
        ck_assert_ptr_nonnull(root);
        for (int i = 0; i < 17; i++) {
                char pattern[64];

                snprintf(pattern, sizeof(pattern), "org.example.R%d.*", i);
                ck_assert_int_eq(mbus_subscribe(root, pattern, on_event, NULL, &slots[i], NULL), 0);
        }
        ck_assert_int_eq(user_holds(root, "uid:0", "subscriptions"), 17);
        for (int i = 0; i < 17; i++)
                mbus_slot_free(slots[i]);
        grab_stop(&g);
        mbus_conn_unref(root);
        test_env_done(&e);
}
END_TEST

/*
 * Connections that each announce a large frame, send all of it but the end and then trickle a
 * byte now and then: the broker drops them once the frame is overdue (--frame-timeout plus its
 * size at --min-frame-rate), however they trickle, and its memory comes back down after.
 */
START_TEST(test_trickled_frames_are_dropped_and_memory_comes_back) {
        static const char *const args[] = { "--max-frame-size", "4M", "--frame-timeout", "1",
                                             "--min-frame-rate", "64M", NULL };
        enum { N = 8, FRAME = 4 * 1024 * 1024 - 4096 };
        struct raw_buf f = {};
        struct mbus_conn *root;
        long base, during, after;
        int fds[N], open_fds = N;
        char *body;
        struct test_env e;

        test_asan_small_quarantine();

        (void) signal(SIGPIPE, SIG_IGN);
        test_env_start(&e, /* files= */ NULL, args);
        root = test_connect(e.b.address, "admin");
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(mbus_ping(root, 5000000), 0);
        base = test_broker_rss_kb(&e.b);
        ck_assert_int_gt(base, 0);

        body = malloc(FRAME);
        ck_assert_ptr_nonnull(body);
        memset(body, '0', FRAME - 1);
        body[FRAME - 1] = 0;
        raw_frame_begin(&f, MBUS_FRAME_CALL);
        raw_field_u64(&f, MBUS_FIELD_SERIAL, 7);
        raw_field_str(&f, MBUS_FIELD_NAMESPACE, "org.example.Big");
        raw_field_str(&f, MBUS_FIELD_MEMBER, "Take");
        raw_frame_finish(&f, body);
        free(body);

        for (int i = 0; i < N; i++) {
                fds[i] = raw_connect(e.b.address);
                ck_assert_int_ge(fds[i], 0);
                ck_assert_int_eq(raw_hello(fds[i], "trickler", NULL), 0);
                ck_assert_int_eq(raw_send(fds[i], f.data, f.len - 64), 0);
        }
        usleep(200 * 1000);
        during = test_broker_rss_kb(&e.b);
        /* Each holds at most its one frame's worth: 8 x 4 MiB, and some slack. */
        ck_assert_msg(during - base < 48 * 1024, "RSS %ld KiB during, %ld before", during, base);

        /* Trickle one byte each 100 ms: not enough to keep a connection, whatever its bytes. */
        for (int round = 0; round < 60 && open_fds > 0; round++) {
                open_fds = 0;
                for (int i = 0; i < N; i++) {
                        if (fds[i] < 0)
                                continue;
                        if (raw_send(fds[i], f.data + f.len - 64 + (round % 60), 1) < 0 ||
                            raw_wait_eof(fds[i], 0) == 0) {
                                close(fds[i]);
                                fds[i] = -1;
                                continue;
                        }
                        open_fds++;
                }
                usleep(100 * 1000);
        }
        ck_assert_msg(open_fds == 0, "%d trickling connections still open after 6 s", open_fds);
        raw_buf_done(&f);

        /* The broker is fine, and gave the memory back. */
        ck_assert_int_eq(mbus_ping(root, 5000000), 0);
        after = test_broker_rss_kb(&e.b);
        ck_assert_msg(after - base < 8 * 1024, "RSS %ld KiB after the attack, %ld before (%ld during)", after, base,
                      during);
        ck_assert(test_file_wait_for(e.c.log, "did not finish a frame of", 5000));
        mbus_conn_unref(root);
        test_env_done(&e);
}
END_TEST

static Suite *quotas_suite(void) {
        Suite *s = suite_create("e2e-quotas");
        TCase *tc = tcase_create("quotas");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_root_still_connects_and_calls_while_nobody_holds_its_whole_quota);
        tcase_add_test(tc, test_connections_without_hello_are_a_small_pool_per_user);
        tcase_add_test(tc, test_subscriptions_are_shared_by_the_same_rule);
        tcase_add_test(tc, test_trickled_frames_are_dropped_and_memory_comes_back);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_agent_main(quotas_suite, "run clients under other uids");
}
