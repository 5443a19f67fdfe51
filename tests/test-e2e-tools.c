/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command-line tools as a user runs them: separate processes against a real broker, with
 * their exit status, standard output and standard error checked.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/tool-run.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

static json_object *parse_out(const struct run *r) {
        json_object *o = json_tokener_parse(r->out);
        ck_assert_msg(o, "stdout is not JSON: '%s'", r->out);
        return o;
}

START_TEST(test_mbus_call_prints_results_and_names_errors) {
        struct test_broker b;
        struct test_service svc;
        struct run r;
        json_object *o;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "org.mbus.Broker", "Version", NULL });
        ck_assert_int_eq(r.status, 0);
        o = parse_out(&r);
        ck_assert_int_eq(test_json_int(o, "protocol"), 1);
        json_object_put(o);

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, NS, "Echo",
                                        "{\"a\": [1, 2, {\"b\": \"c\"}]}", NULL });
        ck_assert_int_eq(r.status, 0);
        o = parse_out(&r);
        json_object *want = json_tokener_parse("{\"a\": [1, 2, {\"b\": \"c\"}]}");
        ck_assert(json_object_equal(o, want));
        json_object_put(want);
        json_object_put(o);

        /* ListNamespaces shows the service */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "org.mbus.Broker",
                                        "ListNamespaces", NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.out, NS));

        /* an mbus error: exit 1, its name on stderr, nothing on stdout */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "org.example.Nobody", "Foo", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_nonnull(strstr(r.err, MBUS_ERROR_NO_SUCH_NAMESPACE));
        ck_assert_str_eq(r.out, "");

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, NS, "Fail", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_nonnull(strstr(r.err, "org.example.Error.Failed"));
        ck_assert_ptr_nonnull(strstr(r.err, "asked to fail"));

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "--timeout", "0.3", NS, "Hang", NULL });
        ck_assert_int_eq(r.status, 124);
        ck_assert_ptr_nonnull(strstr(r.err, MBUS_ERROR_TIMEOUT));

        /* wrong usage: exit 2 */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, NS, "Echo", "{not json", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "bad name", "Echo", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--no-such-option", NULL });
        ck_assert_int_eq(r.status, 2);

        /* no broker there: exit 69, saying so */
        char gone[400];
        snprintf(gone, sizeof(gone), "%s/nothing-here", b.dir);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", gone, "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 69);
        ck_assert_msg(strstr(r.err, "no broker at"), "stderr: %s", r.err);

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--help", NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.out, "NAMESPACE"));

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/*
 * The bus a tool reaches: --system ($MBUS_SYSTEM_ADDRESS stands in for /run/mbus/socket),
 * --user ($XDG_RUNTIME_DIR/mbus/socket), and by default what the library chooses: $MBUS_ADDRESS,
 * else the user bus in a user session, else the system bus.
 */
START_TEST(test_tools_choose_the_system_or_the_user_bus) {
        struct test_broker b;
        struct run r;
        char dir[] = "/tmp/mbus-test-runtime-XXXXXX", sub[600], sock[700];

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(setenv("MBUS_ADDRESS", "/nonexistent/mbus-test/socket", 1), 0);
        ck_assert_int_eq(setenv("MBUS_SYSTEM_ADDRESS", b.address, 1), 0);
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--system", "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 69);         /* no broker there */
        ck_assert_msg(strstr(r.err, "/nonexistent/mbus-test/socket"), "%s", r.err);
        /* no session (a system service with User=): the system bus */
        ck_assert_int_eq(unsetenv("MBUS_ADDRESS"), 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 0);

        /* a user session whose bus is the test broker */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sub, sizeof(sub), "%s/mbus", dir);
        snprintf(sock, sizeof(sock), "%s/socket", sub);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        ck_assert_int_eq(symlink(b.address, sock), 0);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", dir, 1), 0);
        ck_assert_int_eq(setenv("MBUS_SYSTEM_ADDRESS", "/nonexistent/mbus-test/system", 1), 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--user", "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--user", "--timeout", "0.1", "org.example.*", NULL });
        ck_assert_int_eq(r.status, 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--user", "org.example.Tools", "Changed", NULL });
        ck_assert_int_eq(r.status, 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 0);
        if (getenv("MBUS_TEST_INTROSPECT")) {
                run_tool(&r, (const char *[]) { getenv("MBUS_TEST_INTROSPECT"), "--user-bus", NULL });
                ck_assert_int_eq(r.status, 0);
                ck_assert_msg(strstr(r.out, "org.mbus.Broker"), "%s", r.out);
        }
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--system", "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 69);
        ck_assert_msg(strstr(r.err, "/nonexistent/mbus-test/system"), "%s", r.err);

        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--system", "--user", "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "exclude each other"), "%s", r.err);

        (void) unlink(sock);
        (void) rmdir(sub);
        (void) rmdir(dir);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* Waits until the broker counts at least n subscriptions. */
static void wait_subscriptions(const char *address, int64_t n) {
        struct mbus_conn *conn = test_connect(address, "waiter");
        long long deadline = test_now_ms() + 20000;
        int64_t have = 0;

        while (test_now_ms() < deadline) {
                json_object *o = NULL;
                ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
                have = test_json_int(o, "subscriptions");
                json_object_put(o);
                if (have >= n)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_int_ge(have, n);
        mbus_conn_unref(conn);
}

START_TEST(test_mbus_publish_reaches_mbus_subscribe) {
        struct test_broker b;
        struct proc sub;
        struct run r, rs;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);

        proc_start(&sub, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "--count", "2",
                                            "--timeout", "30", "org.example.Tools.*", "org.example.*", NULL });
        wait_subscriptions(b.address, 2);

        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, "org.example.Tools",
                                        "Changed", "{\"x\": 1}", NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, "org.example.Tools",
                                        "Removed", NULL });
        ck_assert_int_eq(r.status, 0);

        memset(&rs, 0, sizeof(rs));
        proc_finish(&sub, &rs, 30000);
        ck_assert_int_eq(rs.status, 0);

        /* exactly two lines, one JSON object each, in order, despite two matching patterns */
        char *nl = strchr(rs.out, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = 0;
        json_object *e1 = json_tokener_parse(rs.out), *e2 = json_tokener_parse(nl + 1), *p;
        ck_assert_ptr_nonnull(e1);
        ck_assert_ptr_nonnull(e2);
        ck_assert_ptr_null(strchr(nl + 1, '\n') ? strchr(strchr(nl + 1, '\n') + 1, '{') : NULL);
        ck_assert_str_eq(test_json_str(e1, "namespace"), "org.example.Tools");
        ck_assert_str_eq(test_json_str(e1, "event"), "Changed");
        ck_assert_ptr_nonnull(test_json_str(e1, "sender"));
        ck_assert_int_eq(strncmp(test_json_str(e1, "sender"), ":1.", 3), 0);
        ck_assert(json_object_object_get_ex(e1, "payload", &p));
        ck_assert_int_eq(test_json_int(p, "x"), 1);
        ck_assert_str_eq(test_json_str(e2, "event"), "Removed");
        json_object_put(e1);
        json_object_put(e2);

        /* --count with nothing coming: exit 124 at the timeout; without --count: 0 */
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "--count", "1",
                                        "--timeout", "0.3", "org.none.*", NULL });
        ck_assert_int_eq(r.status, 124);
        ck_assert_str_eq(r.out, "");
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "--timeout", "0.3",
                                        "org.none.*", NULL });
        ck_assert_int_eq(r.status, 0);
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "org.bad*", NULL });
        ck_assert_int_eq(r.status, 2);

        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_publish_fails_on_a_taken_namespace) {
        struct test_broker b;
        struct test_service svc;
        struct run r;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, NS, "Changed", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_nonnull(strstr(r.err, MBUS_ERROR_NAMESPACE_TAKEN));

        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, NS, "Changed", "[1", NULL });
        ck_assert_int_eq(r.status, 2);

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A broker with --config-dir: org.example.Tools declares Changed {interface: string}. */
static void start_with_tools_interface(struct test_config *c, struct test_broker *b) {
        const char *args[] = { "--config-dir", NULL, NULL };

        ck_assert_int_eq(test_config_new(c, /* with_shipped= */ true), 0);
        test_config_write(c, "interfaces.d/org.example.Tools.json",
                          "{\"namespace\": \"org.example.Tools\", \"procedures\": [],\n"
                          " \"events\": [{\"name\": \"Changed\",\n"
                          "             \"args\": [{\"name\": \"interface\", \"type\": \"string\"}]}]}\n");
        args[1] = c->dir;
        ck_assert_int_eq(test_broker_start(b, args), 0);
}

START_TEST(test_mbus_publish_reports_an_event_the_broker_refused) {
        struct test_config c;
        struct test_broker b;
        struct run r;

        start_with_tools_interface(&c, &b);

        /* the payload does not match the interface file: the broker's error, exit 1 (unchecked by
         * the tool, which would refuse it itself: test-e2e-tool-args) */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, "--no-check",
                                        "org.example.Tools", "Changed", "{\"interface\": 1}", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "cannot emit event: " MBUS_ERROR_INVALID_ARGS ": "), "stderr: %s", r.err);
        ck_assert_msg(strstr(r.err, "'interface'"), "stderr: %s", r.err);
        ck_assert_str_eq(r.out, "");

        /* one that matches is routed: exit 0, silent */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "--address", b.address, "org.example.Tools",
                                        "Changed", "{\"interface\": \"eth0\"}", NULL });
        ck_assert_msg(r.status == 0, "status %d, stderr: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "");

        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
}
END_TEST

START_TEST(test_mbus_subscribe_names_the_rule_that_denied_it) {
        struct test_config c;
        struct test_broker b;
        struct run r;
        char policy[256], path[512];

        /* our own uid may not see Secret; every other event falls to the default (allowed) */
        snprintf(policy, sizeof(policy),
                 "<policy namespace=\"org.example.Tools\">\n"
                 "  <deny subscribe=\"Secret\" user=\"%u\"/>\n"
                 "</policy>\n", (unsigned) getuid());
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        test_config_write(&c, "policy.d/org.example.Tools.xml", policy);
        ck_assert_int_eq(test_broker_start(&b, (const char *[]) { "--config-dir", c.dir, NULL }), 0);

        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "--timeout", "10",
                                        "org.example.Tools.*", "org.example.Tools.Secret", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(strstr(r.err, "cannot subscribe to 'org.example.Tools.Secret': " MBUS_ERROR_ACCESS_DENIED
                             ": Access denied"), "stderr: %s", r.err);
        snprintf(path, sizeof(path), "%s:2", test_config_path(&c, "policy.d/org.example.Tools.xml",
                                                              (char[400]) {}, 400));
        ck_assert_msg(strstr(r.err, path), "the rule's place %s is not named: %s", path, r.err);

        /* what policy allows is subscribed as before */
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "--address", b.address, "--timeout", "0.2",
                                        "org.example.Tools.Public", NULL });
        ck_assert_msg(r.status == 0, "status %d, stderr: %s", r.status, r.err);

        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
}
END_TEST

/* Emits events as fast as the broker takes them until killed. */
static pid_t start_flood(const char *address) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct mbus_conn *conn = test_connect(address, "flood");

                if (mbus_register(conn, "org.example.Flood", NULL, 0, NULL, NULL, NULL) < 0)
                        _exit(1);
                for (;;)
                        if (mbus_emit(conn, "org.example.Flood", "Tick", NULL) < 0 || mbus_conn_flush(conn) < 0)
                                _exit(2);
        }
        return pid;
}

/* Starts mbus-subscribe with stdout on /dev/null: the flood would fill any pipe. */
static pid_t start_quiet_subscriber(const char *const *argv) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

                dup2(fd, STDOUT_FILENO);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        return pid;
}

START_TEST(test_mbus_subscribe_ends_on_time_and_on_signal_under_a_flood) {
        struct test_broker b;
        long long start;
        pid_t flood, sub;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        flood = start_flood(b.address);

        /* --timeout 1 while events never stop coming: ends at about 1 s, exit 0. */
        start = test_now_ms();
        sub = start_quiet_subscriber((const char *[]) { TOOL("mbus-subscribe"), "--address", b.address,
                                                        "--timeout", "1", "org.example.Flood.*", NULL });
        ck_assert_int_eq(test_wait(sub, 10000), 0);
        ck_assert_int_lt(test_now_ms() - start, 3000);

        /* No timeout: SIGINT ends it promptly, exit 0 (no --count to miss). */
        sub = start_quiet_subscriber((const char *[]) { TOOL("mbus-subscribe"), "--address", b.address,
                                                        "org.example.Flood.*", NULL });
        wait_subscriptions(b.address, 1);
        usleep(300 * 1000);
        start = test_now_ms();
        ck_assert_int_eq(kill(sub, SIGINT), 0);
        ck_assert_int_eq(test_wait(sub, 10000), 0);
        ck_assert_int_lt(test_now_ms() - start, 3000);

        ck_assert_int_eq(kill(flood, SIGKILL), 0);
        (void) test_wait(flood, 10000);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_mbus_bench_serves_echo_for_mbus_call) {
        struct test_broker b;
        struct proc bench;
        struct run r, rb;
        long long deadline;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        proc_start(&bench, (const char *[]) { TOOL("mbus-bench"), "--address", b.address, "serve-echo",
                                              "org.example.BenchEcho", NULL });

        /* it registers in its own time: call until the namespace is there */
        deadline = test_now_ms() + 20000;
        do {
                run_tool(&r, (const char *[]) { TOOL("mbus-call"), "--address", b.address, "org.example.BenchEcho",
                                                "Echo", "{\"seq\": 1}", NULL });
        } while (r.status != 0 && test_now_ms() < deadline && usleep(50 * 1000) == 0);
        ck_assert_int_eq(r.status, 0);
        json_object *o = parse_out(&r);
        ck_assert_int_eq(test_json_int(o, "seq"), 1);
        json_object_put(o);

        ck_assert_int_eq(kill(bench.pid, SIGTERM), 0);
        memset(&rb, 0, sizeof(rb));
        proc_finish(&bench, &rb, 20000);
        ck_assert_int_eq(rb.status, 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A number in the JSON of mbus-bench: results/min/max -> scenario -> name. */
static double bench_figure(json_object *root, const char *table, const char *scenario, const char *name) {
        json_object *t, *s, *v;

        ck_assert_msg(json_object_object_get_ex(root, table, &t), "no %s", table);
        ck_assert_msg(json_object_object_get_ex(t, scenario, &s), "no %s.%s", table, scenario);
        ck_assert_msg(json_object_object_get_ex(s, name, &v), "no %s.%s.%s", table, scenario, name);
        return json_object_get_double(v);
}

START_TEST(test_mbus_bench_checks_every_event_and_counts_the_drops) {
        const char *broker = getenv("MBUS_TEST_BROKER");
        json_object *o, *targets;
        bool found = false;
        struct run r;

        ck_assert_ptr_nonnull(broker);
        /* fanout-slow injects a real loss: one subscriber reads slowly against a small broker queue */
        run_tool(&r, (const char *[]) { TOOL("mbus-bench"), "--broker", broker, "--json", "-s", "fanout",
                                        "-s", "fanout-slow", "--events", "3000", "--subscribers", "2", NULL });
        ck_assert_msg(r.status == 0, "mbus-bench failed: %s", r.err);
        o = parse_out(&r);

        /* every delivery checked by sequence number, with min and max beside the median */
        ck_assert(bench_figure(o, "results", "fanout", "delivered_per_sec") > 0);
        ck_assert(bench_figure(o, "min", "fanout", "delivered_per_sec") <=
                  bench_figure(o, "max", "fanout", "delivered_per_sec"));
        ck_assert(bench_figure(o, "results", "fanout", "lost") == 0);
        ck_assert(bench_figure(o, "results", "fanout", "duplicates") == 0);
        ck_assert(bench_figure(o, "results", "fanout", "reordered") == 0);
        ck_assert(bench_figure(o, "results", "fanout", "broker_cpu_usec_per_delivery") >= 0);

        /* the slow subscriber's gaps are found, and the subscribers' gaps are exactly what the
         * broker says it dropped (the other one may fall behind too on a loaded machine) */
        ck_assert(bench_figure(o, "results", "fanout-slow", "slow_missed") > 0);
        ck_assert(bench_figure(o, "results", "fanout-slow", "slow_missed") +
                  bench_figure(o, "results", "fanout-slow", "other_missed") ==
                  bench_figure(o, "results", "fanout-slow", "broker_dropped"));
        ck_assert(bench_figure(o, "results", "fanout-slow", "dropped_vs_missed_diff") == 0);
        ck_assert(bench_figure(o, "results", "fanout-slow", "errors") == 0);

        ck_assert(json_object_object_get_ex(o, "targets", &targets));
        for (size_t i = 0; i < json_object_array_length(targets); i++) {
                json_object *t = json_object_array_get_idx(targets, i);

                if (strcmp(test_json_str(t, "name"), "fanout-exactly-once") != 0)
                        continue;
                found = true;
                ck_assert_str_eq(test_json_str(t, "statistic"), "max");
                ck_assert(json_object_get_boolean(json_object_object_get(t, "pass")));
        }
        ck_assert(found);
        json_object_put(o);
}
END_TEST

START_TEST(test_mbus_wait_returns_when_every_namespace_has_an_owner) {
        struct test_broker b;
        struct test_service svc, later;
        struct proc p;
        struct run r;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        /* already there: at once */
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), NS, "--address", b.address, NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "");

        /* one there, one not yet: waits, then follows NamespaceOwnerChanged */
        memset(&r, 0, sizeof(r));
        proc_start(&p, (const char *[]) { TOOL("mbus-wait"), "-a", b.address, NS, "org.example.Later", NULL });
        usleep(300 * 1000);
        ck_assert_int_eq(waitpid(p.pid, NULL, WNOHANG), 0);     /* still waiting */
        ck_assert_int_eq(test_service_start(&later, b.address, "org.example.Later"), 0);
        proc_finish(&p, &r, 20000);
        ck_assert_int_eq(r.status, 0);

        /* never: 124 after the timeout, naming what is missing */
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), "-a", b.address, "--timeout", "0.3", NS,
                                        "org.example.Never", NULL });
        ck_assert_int_eq(r.status, 124);
        ck_assert_msg(strstr(r.err, "org.example.Never has no owner"), "stderr: %s", r.err);
        ck_assert_msg(!strstr(r.err, NS " has"), "stderr: %s", r.err);

        /* a wrong command line is 2, an unreachable broker 69 */
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), "-a", b.address, "not-a-namespace", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), "-a", "/nonexistent/mbus/socket", NS, NULL });
        ck_assert_int_eq(r.status, 69);

        ck_assert_int_eq(test_service_quit(&later, b.address, "org.example.Later"), 0);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static void assert_echoes(const struct run *r, const char *want_json) {
        json_object *o, *want = json_tokener_parse(want_json);

        ck_assert_msg(r->status == 0, "status %d, stderr %s", r->status, r->err);
        o = parse_out(r);
        ck_assert_msg(json_object_equal(o, want), "got %s, want %s", r->out, want_json);
        json_object_put(o);
        json_object_put(want);
}

START_TEST(test_mbus_call_takes_arguments_as_json_stdin_file_and_pairs) {
        struct test_broker b;
        struct test_service svc;
        struct run r;
        char file[400];
        FILE *f;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        /* pairs, options after the operands */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), NS, "Echo", "iface=eth0", "mtu:=1500", "up:=true",
                                        "--address", b.address, NULL });
        assert_echoes(&r, "{\"iface\": \"eth0\", \"mtu\": 1500, \"up\": true}");
        /* the value of KEY=VALUE is a string, even when it looks like a number */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "n=1", NULL });
        assert_echoes(&r, "{\"n\": \"1\"}");
        /* standard input and @FILE */
        run_tool_stdin(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "-", NULL },
                       "[1, 2, 3]\n");
        assert_echoes(&r, "[1, 2, 3]");
        snprintf(file, sizeof(file), "%s/args.json", b.dir);
        f = fopen(file, "we");
        ck_assert_ptr_nonnull(f);
        fputs("{\"from\": \"file\"}", f);
        fclose(f);
        char at[410];
        snprintf(at, sizeof(at), "@%s", file);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", at, NULL });
        assert_echoes(&r, "{\"from\": \"file\"}");
        /* -- ends the options: a negative number is JSON */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, "--", NS, "Echo", "-5", NULL });
        assert_echoes(&r, "-5");
        /* --json=pretty indents, --json=short does not */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "a:=[1]", "--json=pretty",
                                        NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strchr(r.out, '\n') != strrchr(r.out, '\n'), "not indented: %s", r.out);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "a:=[1]", "--json=short",
                                        NULL });
        ck_assert_str_eq(r.out, "{\"a\":[1]}\n");

        /* faults are named before anything is sent: exit 2 */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "a=1", "a=2", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "key 'a' given twice"), "stderr: %s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "a:=[1", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "invalid JSON for key 'a'"), "stderr: %s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "@/nonexistent/args", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "/nonexistent/args"), "stderr: %s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "a=1", "{}", NULL });
        ck_assert_int_eq(r.status, 2);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, NS, "Echo", "--json=fancy", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A UNIX socket listening at path. */
static int listen_at(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        return fd;
}

START_TEST(test_tools_name_the_cause_when_they_cannot_connect) {
        char dir[] = "/tmp/mbus-connect-XXXXXX", silent[300], junk[300];
        long long t0;
        int sfd, jfd, cfd;
        pid_t child;
        struct run r;

        ck_assert_ptr_nonnull(mkdtemp(dir));

        /* a socket that accepts (the kernel's backlog does) but never answers: the timeout covers
         * the handshake */
        snprintf(silent, sizeof(silent), "%s/silent", dir);
        sfd = listen_at(silent);
        t0 = test_now_ms();
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-t", "0.5", "-a", silent, "org.mbus.Broker", "Ping",
                                        NULL });
        ck_assert_int_eq(r.status, 124);
        ck_assert_msg(test_now_ms() - t0 < 15000, "the timeout did not cover the handshake");
        ck_assert_msg(strstr(r.err, "HELLO"), "stderr: %s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-wait"), "-t", "0.5", "-a", silent, "org.example.X", NULL });
        ck_assert_int_eq(r.status, 124);

        /* a socket that speaks another protocol */
        snprintf(junk, sizeof(junk), "%s/junk", dir);
        jfd = listen_at(junk);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                cfd = accept(jfd, NULL, NULL);
                if (cfd >= 0)
                        (void) !write(cfd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
                usleep(500 * 1000);
                _exit(0);
        }
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", junk, "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 69);
        ck_assert_msg(strstr(r.err, "not an mbus socket"), "stderr: %s", r.err);
        ck_assert_int_eq(test_wait(child, 10000), 0);

        /* a relative path: a usage error, said as such */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", "run/mbus/socket", "org.mbus.Broker", "Ping", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "relative path"), "stderr: %s", r.err);

        close(sfd);
        close(jfd);
        unlink(silent);
        unlink(junk);
        rmdir(dir);
}
END_TEST

static Suite *tools_suite(void) {
        Suite *s = suite_create("e2e-tools");
        TCase *tc = tcase_create("tools");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_mbus_call_prints_results_and_names_errors);
        tcase_add_test(tc, test_tools_choose_the_system_or_the_user_bus);
        tcase_add_test(tc, test_mbus_publish_reaches_mbus_subscribe);
        tcase_add_test(tc, test_mbus_publish_fails_on_a_taken_namespace);
        tcase_add_test(tc, test_mbus_publish_reports_an_event_the_broker_refused);
        tcase_add_test(tc, test_mbus_subscribe_names_the_rule_that_denied_it);
        tcase_add_test(tc, test_mbus_bench_serves_echo_for_mbus_call);
        tcase_add_test(tc, test_mbus_bench_checks_every_event_and_counts_the_drops);
        tcase_add_test(tc, test_mbus_wait_returns_when_every_namespace_has_an_owner);
        tcase_add_test(tc, test_mbus_call_takes_arguments_as_json_stdin_file_and_pairs);
        tcase_add_test(tc, test_tools_name_the_cause_when_they_cannot_connect);
        tcase_add_test(tc, test_mbus_subscribe_ends_on_time_and_on_signal_under_a_flood);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(tools_suite)
