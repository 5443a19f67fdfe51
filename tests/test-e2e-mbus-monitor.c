/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-monitor as an administrator runs it: the real tool against a real broker, while calls,
 * replies and events cross the bus; its lines are read as they come and checked (pairing of a
 * reply with its call, the latency, --json, --peer, filters, lost copies, a refusal).
 *
 * The tool becomes a monitor in its own time, so each case first makes probe calls until one
 * shows up: from then on everything routed is copied to it, in order.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/tool-run.h"

#define NS "org.example.Echo"

/* Calls NS.Echo {"probe": n} on conn until mon prints a line with it. */
static void wait_until_monitoring(struct proc *mon, struct mbus_conn *conn) {
        long long deadline = test_now_ms() + 20000;

        for (int n = 0; test_now_ms() < deadline; n++) {
                json_object *args = json_object_new_object(), *result = NULL;
                char needle[64];

                json_object_object_add(args, "probe", json_object_new_int(n));
                ck_assert_int_eq(mbus_call(conn, NS, "Echo", args, 0, &result, NULL), 0);
                json_object_put(args);
                json_object_put(result);
                snprintf(needle, sizeof(needle), "{\"probe\":%d}", n);
                if (proc_read_until(mon, needle, 200))
                        return;
        }
        ck_abort_msg("mbus-monitor printed no probe: '%s'", mon->out);
}

static void call_echo(struct mbus_conn *conn, const char *member, const char *json) {
        json_object *args = json_tokener_parse(json), *result = NULL;

        ck_assert_ptr_nonnull(args);
        (void) mbus_call(conn, NS, member, args, 0, &result, NULL);
        json_object_put(args);
        json_object_put(result);
}

/* The line of out containing needle, copied into buf (without its newline). */
static const char *line_with(const char *out, const char *needle, char *buf, size_t size) {
        const char *p = strstr(out, needle), *start, *end;

        ck_assert_msg(p, "no line with '%s' in:\n%s", needle, out);
        for (start = p; start > out && start[-1] != '\n'; start--)
                ;
        end = strchr(p, '\n') ?: p + strlen(p);
        snprintf(buf, size, "%.*s", (int) (end - start), start);
        return buf;
}

static void stop_monitor(struct proc *mon, struct run *r) {
        ck_assert_int_eq(kill(mon->pid, SIGTERM), 0);
        proc_finish(mon, r, 20000);
        ck_assert_msg(r->status == 0, "mbus-monitor exited %d: %s", r->status, r->err);
}

START_TEST(test_mbus_monitor_pairs_replies_with_calls_and_shows_latency) {
        struct test_broker b;
        struct test_service svc;
        struct proc mon;
        struct run r;
        struct mbus_conn *conn;
        char call[512], ret[512], err[512], sender[32], serial[32];

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        conn = test_connect(b.address, "caller");

        /* options after the filter, as in every tool */
        proc_start(&mon, (const char *[]) { TOOL("mbus-monitor"), NS, "-a", b.address, NULL });
        wait_until_monitoring(&mon, conn);

        /* an event of another namespace: filtered out in the broker */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Other", "Changed",
                                        "{\"other\": 1}", NULL });
        ck_assert_int_eq(r.status, 0);
        call_echo(conn, "Echo", "{\"mark\": \"one\"}");
        call_echo(conn, "Fail", "{\"mark\": \"two\"}");
        ck_assert(proc_read_until(&mon, "org.example.Error.Failed", 10000));
        stop_monitor(&mon, &r);

        /* the call: time, type, sender -> the service, NAMESPACE.MEMBER, serial, body */
        line_with(r.out, "{\"mark\":\"one\"}", call, sizeof(call));
        ck_assert_int_eq(sscanf(call, "%*s call %31s -> ", sender), 1);
        ck_assert_str_eq(sender, mbus_conn_get_unique_id(conn));
        ck_assert_msg(strstr(call, " -> ") && strstr(call, svc.id), "%s", call);
        ck_assert_msg(strstr(call, " " NS ".Echo serial="), "%s", call);
        ck_assert_msg(call[2] == ':' && call[5] == ':' && call[8] == '.', "no time of day: %s", call);
        snprintf(serial, sizeof(serial), "%s", strstr(call, "serial=") + 7);
        *strchr(serial, ' ') = 0;

        /* its reply: from the service back to the caller, the same serial, with a latency */
        char want[128];
        snprintf(want, sizeof(want), "reply_serial=%s latency=", serial);
        line_with(strstr(r.out, call) + strlen(call), " return ", ret, sizeof(ret));
        ck_assert_msg(strstr(ret, want), "'%s' not in '%s'", want, ret);
        snprintf(want, sizeof(want), "%s -> %s " NS ".Echo", svc.id, sender);
        ck_assert_msg(strstr(ret, want), "'%s' not in '%s'", want, ret);
        ck_assert_msg(strstr(ret, "ms {\"mark\":\"one\"}"), "%s", ret);

        /* an error reply: its name and latency too */
        line_with(r.out, " error ", err, sizeof(err));
        ck_assert_msg(strstr(err, NS ".Fail reply_serial=") && strstr(err, " latency=") &&
                      strstr(err, "org.example.Error.Failed"), "%s", err);

        ck_assert_msg(!strstr(r.out, "org.example.Other"), "filtered namespace shown:\n%s", r.out);
        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_monitor_json_lines_parse) {
        struct test_broker b;
        struct test_service svc;
        struct proc mon;
        struct run r;
        struct mbus_conn *conn;
        int n_lines = 0, n_replies = 0;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        conn = test_connect(b.address, "caller");

        proc_start(&mon, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "--json", "type=call,return",
                                            "member=Echo", NULL });
        wait_until_monitoring(&mon, conn);
        call_echo(conn, "Fail", "{}");          /* filtered out: another member, an error */
        call_echo(conn, "Echo", "{\"last\": true}");
        ck_assert(proc_read_until(&mon, "\"type\":\"return\",", 10000));
        ck_assert(proc_read_until(&mon, "{\"last\":true},\"latency_usec\"", 10000));
        stop_monitor(&mon, &r);

        for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
                json_object *o = json_tokener_parse(line), *v;

                ck_assert_msg(o, "not JSON: %s", line);
                ck_assert_str_eq(test_json_str(o, "member"), "Echo");
                ck_assert_int_gt(test_json_int(o, "time_usec"), 0);
                if (strcmp(test_json_str(o, "type"), "return") == 0) {
                        ck_assert(json_object_object_get_ex(o, "latency_usec", &v));
                        ck_assert_int_ge(json_object_get_int64(v), 0);
                        n_replies++;
                } else
                        ck_assert_str_eq(test_json_str(o, "type"), "call");
                json_object_put(o);
                n_lines++;
        }
        ck_assert_int_ge(n_replies, 2);
        ck_assert_int_eq(n_lines, 2 * n_replies);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_monitor_peer_traces_one_client) {
        struct test_broker b;
        struct test_service svc;
        struct proc mon;
        struct run r;
        struct mbus_conn *traced, *other;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        traced = test_connect(b.address, "traced-client");
        other = test_connect(b.address, "other-client");

        /* by client name */
        proc_start(&mon, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "--peer", "traced-client", NULL });
        wait_until_monitoring(&mon, traced);
        call_echo(other, "Echo", "{\"from\": \"other\"}");
        call_echo(traced, "Echo", "{\"from\": \"traced\"}");
        ck_assert(proc_read_until(&mon, " return ", 10000));
        ck_assert(proc_read_until(&mon, "{\"from\":\"traced\"}\n", 10000));
        stop_monitor(&mon, &r);
        ck_assert_msg(!strstr(r.out, "other"), "another peer's call shown:\n%s", r.out);

        /* by id; a name that no peer has is refused */
        proc_start(&mon, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "-p",
                                            mbus_conn_get_unique_id(other), NULL });
        wait_until_monitoring(&mon, other);
        stop_monitor(&mon, &r);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "--peer", "nobody-has-this", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "no peer is connected as 'nobody-has-this'"), "%s", r.err);

        /* --count not reached by --timeout: 124; --timeout alone ends it with 0 */
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "--count", "1", "--timeout", "0.3",
                                        "org.example.Quiet", NULL });
        ck_assert_int_eq(r.status, 124);
        ck_assert_msg(strstr(r.err, "timed out after 0 of 1 messages"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, "--timeout", "0.3", "org.example.Quiet",
                                        NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");

        mbus_conn_unref(traced);
        mbus_conn_unref(other);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_monitor_reports_what_it_lost) {
        struct test_broker b;
        struct test_service svc;
        struct proc mon;
        struct run r;
        struct mbus_conn *conn;
        char big[2100];

        ck_assert_int_eq(test_broker_start(&b, (const char *[]) { "--max-queue-bytes", "65536", NULL }), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        conn = test_connect(b.address, "caller");
        proc_start(&mon, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, NULL });
        wait_until_monitoring(&mon, conn);

        /* stdout not read: the tool blocks on the pipe, its socket and then its queue fill */
        snprintf(big, sizeof(big), "{\"pad\": \"%02000d\"}", 0);
        for (int i = 0; i < 3000; i++)
                call_echo(conn, "Echo", big);
        /* read it all; the count comes before the next copy that fits, so call once drained */
        long long deadline = test_now_ms() + 60000;
        while (!proc_read_until(&mon, "messages lost", 200) && test_now_ms() < deadline) {
                if (mon.n_out < sizeof(mon.out) - 1) {
                        call_echo(conn, "Echo", "{}");
                        continue;
                }
                /* full: keep a tail that may hold the start of the line */
                memmove(mon.out, mon.out + mon.n_out - 64, 64);
                mon.n_out = 64;
        }
        ck_assert_msg(strstr(mon.out, "messages lost: mbus-monitor did not read fast enough"), "%s", mon.out);
        stop_monitor(&mon, &r);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_monitor_refused_to_a_user_the_policy_does_not_allow) {
        struct test_config c;
        struct test_broker b;
        struct proc mon;
        struct run r;

        if (!test_can_switch_uid())
                return;
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        ck_assert_int_eq(test_broker_start_full(&b, (const char *[]) { "--config-dir", c.dir, "--scope", "system",
                                                                       NULL }, c.log, /* open_to_all= */ true), 0);

        proc_start_as(&mon, (const char *[]) { TOOL("mbus-monitor"), "-a", b.address, NULL }, TEST_UID_NOBODY,
                      TEST_GID_NOGROUP);
        memset(&r, 0, sizeof(r));
        proc_finish(&mon, &r, 20000);
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "not allowed to monitor this bus") && strstr(r.err, MBUS_ERROR_ACCESS_DENIED),
                      "%s", r.err);
        ck_assert_str_eq(r.out, "");

        test_config_broker_done(&c, &b);
}
END_TEST

START_TEST(test_mbus_monitor_usage_and_exit_codes) {
        struct run r;

        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "-a", "/nonexistent/mbus/socket", NULL });
        ck_assert_int_eq(r.status, 69);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "-a", "/nonexistent/mbus/socket", "type=calls", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "invalid type 'calls'"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "org..bad", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "org.a", "org.b", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "only one namespace pattern"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "--json=fancy", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-monitor"), "--help", NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.out, "FILTER"));
}
END_TEST

static Suite *mbus_monitor_suite(void) {
        Suite *s = suite_create("e2e-mbus-monitor");
        TCase *tc = tcase_create("mbus-monitor");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_mbus_monitor_pairs_replies_with_calls_and_shows_latency);
        tcase_add_test(tc, test_mbus_monitor_json_lines_parse);
        tcase_add_test(tc, test_mbus_monitor_peer_traces_one_client);
        tcase_add_test(tc, test_mbus_monitor_reports_what_it_lost);
        tcase_add_test(tc, test_mbus_monitor_refused_to_a_user_the_policy_does_not_allow);
        tcase_add_test(tc, test_mbus_monitor_usage_and_exit_codes);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(mbus_monitor_suite);
}
