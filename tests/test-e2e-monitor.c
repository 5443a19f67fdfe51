/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Monitors end to end: a raw peer calls org.mbus.Broker.BecomeMonitor and then reads the
 * Monitor events the broker copies to it. Filters are applied in the broker; a monitor that does
 * not read loses copies (and is told how many) while the bus keeps its speed; a peer the policy
 * does not let monitor is refused. The broker runs with the shipped policy, in the system scope.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"

#define NS "org.example.Watched"
#define OTHER "org.example.Other"

struct env {
        struct test_config c;
        struct test_broker b;
};

static void env_start(struct env *e, const char *max_queue_bytes) {
        ck_assert_int_eq(test_config_new(&e->c, true), 0);
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "system", "--max-queue-bytes", max_queue_bytes,
                               NULL };
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, /* for other uids */ true), 0);
}

static void env_stop(struct env *e) {
        ck_assert_broker_stops_cleanly(&e->b);
        test_config_remove(&e->c);
}

static int connect_raw(const struct env *e, const char *name) {
        int fd = raw_connect(e->b.address);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, name, NULL), 0);
        return fd;
}

/* BecomeMonitor with filters (JSON): 0, or -EREMOTEIO with the error name in err_name. */
static int become_monitor(int fd, const char *filters, char *err_name, size_t size) {
        struct raw_frame f;
        int r;

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 2, 0, "org.mbus.Broker", "BecomeMonitor", NULL, NULL,
                                         NULL, filters), 0);
        for (;;) {
                r = raw_recv(fd, 10000, &f);
                if (r < 0)
                        return r;
                if ((f.type == MBUS_FRAME_RETURN || f.type == MBUS_FRAME_ERROR) && f.reply_serial == 2)
                        break;
                raw_frame_done(&f);
        }
        r = f.type == MBUS_FRAME_RETURN ? 0 : -EREMOTEIO;
        if (err_name)
                snprintf(err_name, size, "%s", f.error_name ?: "");
        raw_frame_done(&f);
        return r;
}

/* A raw service answering every CALL of its namespace with its body, n calls in all. */
static void serve(int svc, int n) {
        for (int i = 0; i < n; i++) {
                struct raw_frame call;

                ck_assert_int_eq(raw_recv_type(svc, 10000, MBUS_FRAME_CALL, &call), 0);
                ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_RETURN, 0, call.serial, NULL, NULL, call.sender, NULL,
                                                 NULL, call.body), 0);
                raw_frame_done(&call);
        }
}

static void call_once(int caller, int svc, uint64_t serial, const char *ns, const char *member) {
        struct raw_frame answer;

        ck_assert_int_eq(raw_send_simple(caller, MBUS_FRAME_CALL, serial, 0, ns, member, NULL, NULL, NULL, "{\"n\":1}"),
                         0);
        serve(svc, 1);
        ck_assert_int_eq(raw_recv_type(caller, 10000, MBUS_FRAME_RETURN, &answer), 0);
        ck_assert_int_eq(answer.reply_serial, serial);
        raw_frame_done(&answer);
}

/* The next Monitor event's body, or NULL if none comes within timeout_ms. */
static char *next_copy(int mon, int timeout_ms) {
        for (;;) {
                struct raw_frame f;
                char *body;

                if (raw_recv_type(mon, timeout_ms, MBUS_FRAME_EVENT, &f) < 0)
                        return NULL;
                if (strcmp(f.member, "Monitor") != 0) {
                        raw_frame_done(&f);
                        continue;
                }
                body = f.body;
                f.body = NULL;
                raw_frame_done(&f);
                return body;
        }
}

START_TEST(test_monitor_sees_filtered_calls_and_replies) {
        struct env e;
        char *copy;

        env_start(&e, "1048576");
        int svc = connect_raw(&e, "svc");
        ck_assert_int_eq(raw_register(svc, 2, NS), 0);
        ck_assert_int_eq(raw_register(svc, 3, OTHER), 0);
        int caller = connect_raw(&e, "caller");
        int mon = connect_raw(&e, "mon");
        ck_assert_int_eq(become_monitor(mon, "{\"namespace\": \"" NS "\", \"types\": [\"call\", \"return\"]}", NULL, 0),
                         0);

        call_once(caller, svc, 10, OTHER, "Get");       /* filtered out: another namespace */
        call_once(caller, svc, 11, NS, "Get");

        copy = next_copy(mon, 10000);
        ck_assert_ptr_nonnull(copy);
        ck_assert_ptr_nonnull(strstr(copy, "\"type\":\"call\""));
        ck_assert_ptr_nonnull(strstr(copy, "\"serial\":11"));
        ck_assert_ptr_nonnull(strstr(copy, "\"namespace\":\"" NS "\""));
        ck_assert_ptr_nonnull(strstr(copy, "\"body\":{\"n\":1}"));
        ck_assert_ptr_nonnull(strstr(copy, "\"time_usec\":"));
        free(copy);
        /* the reply, placed by its call's namespace */
        copy = next_copy(mon, 10000);
        ck_assert_ptr_nonnull(copy);
        ck_assert_ptr_nonnull(strstr(copy, "\"type\":\"return\""));
        ck_assert_ptr_nonnull(strstr(copy, "\"reply_serial\":11"));
        ck_assert_ptr_nonnull(strstr(copy, "\"member\":\"Get\""));
        free(copy);

        /* new filters replace the old: only events now, of any namespace */
        ck_assert_int_eq(become_monitor(mon, "{\"types\": [\"event\"]}", NULL, 0), 0);
        call_once(caller, svc, 12, NS, "Get");
        ck_assert_int_eq(raw_send_simple(svc, MBUS_FRAME_EVENT, 20, 0, OTHER, "Changed", NULL, NULL, NULL, "{}"), 0);
        copy = next_copy(mon, 10000);
        ck_assert_ptr_nonnull(copy);
        ck_assert_ptr_nonnull(strstr(copy, "\"type\":\"event\""));
        ck_assert_ptr_nonnull(strstr(copy, "\"member\":\"Changed\""));
        free(copy);
        ck_assert_ptr_null(next_copy(mon, 300));

        /* bad filters are refused with InvalidArgs */
        char err[128];
        ck_assert_int_eq(become_monitor(mon, "{\"types\": [\"calls\"]}", err, sizeof(err)), -EREMOTEIO);
        ck_assert_str_eq(err, "org.mbus.Error.InvalidArgs");

        close(mon);
        close(caller);
        close(svc);
        env_stop(&e);
}
END_TEST

/* Calls per second of n sequential calls. */
static double call_rate(int caller, int svc, uint64_t first_serial, int n) {
        long long t0 = test_now_ms();

        for (int i = 0; i < n; i++)
                call_once(caller, svc, first_serial + (uint64_t) i, NS, "Get");
        return n * 1000.0 / (double) (test_now_ms() - t0 + 1);
}

START_TEST(test_slow_monitor_loses_copies_not_speed) {
        struct env e;
        char *copy;
        int n_lost = 0;

        env_start(&e, "65536");
        int svc = connect_raw(&e, "svc");
        ck_assert_int_eq(raw_register(svc, 2, NS), 0);
        int caller = connect_raw(&e, "caller");

        double without = call_rate(caller, svc, 100, 2000);

        /* a monitor that reads nothing: its socket buffer, then its queue fill up */
        int mon = connect_raw(&e, "mon");
        ck_assert_int_eq(become_monitor(mon, "{}", NULL, 0), 0);
        /* Until they are full, its copies are built and sent like any other frame, which is work
         * the bus does for a monitor that keeps up too; what is measured is the bus once the
         * monitor is stuck. */
        (void) call_rate(caller, svc, 5000, 2000);
        double with = call_rate(caller, svc, 10000, 2000);
        /* a ratio, not a time: the stuck monitor must not hold the callers back */
        ck_assert_msg(with > 0.5 * without, "%.0f calls/s with a stuck monitor, %.0f without", with, without);

        /* it lost copies, and is told so before its next copy that fits once it has read the rest */
        while ((copy = next_copy(mon, 500)))
                free(copy);
        call_once(caller, svc, 50000, NS, "Get");
        for (int i = 0; i < 3 && !n_lost; i++) {
                struct raw_frame f;

                ck_assert_int_eq(raw_recv_type(mon, 10000, MBUS_FRAME_EVENT, &f), 0);
                if (strcmp(f.member, "MonitorLost") == 0)
                        n_lost = atoi(strstr(f.body, "\"lost\":") + 7);
                raw_frame_done(&f);
        }
        ck_assert_int_gt(n_lost, 0);

        close(mon);
        close(caller);
        close(svc);
        env_stop(&e);
}
END_TEST

START_TEST(test_non_root_monitor_refused) {
        struct env e;
        struct test_agent nobody;
        static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };

        if (!test_can_switch_uid())
                return;
        env_start(&e, "1048576");
        ck_assert_int_eq(test_agent_start(&nobody, e.b.address, &NOBODY), 0);
        ck_assert_int_eq(test_agent_do(&nobody, "call org.mbus.Broker BecomeMonitor {}"), -EREMOTEIO);
        ck_assert_str_eq(test_agent_error_name(&nobody), "org.mbus.Error.AccessDenied");
        ck_assert_ptr_nonnull(strstr(nobody.reply, "monitor"));
        ck_assert_int_eq(test_agent_stop(&nobody), 0);
        env_stop(&e);
}
END_TEST

static Suite *monitor_suite(void) {
        Suite *s = suite_create("monitor");
        TCase *tc = tcase_create("monitor");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_monitor_sees_filtered_calls_and_replies);
        tcase_add_test(tc, test_slow_monitor_loses_copies_not_speed);
        tcase_add_test(tc, test_non_root_monitor_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(monitor_suite);
}
