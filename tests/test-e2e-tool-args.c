/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tools' arguments as a user writes them: mbus-publish takes mbus-call's forms (JSON, -,
 * @FILE, KEY=VALUE, KEY:=JSON) and options after them, so does mbus-subscribe for its options;
 * mbus-call and mbus-publish check arguments against the namespace's introspection and refuse a
 * mismatch themselves (exit 2, the argument and the type named) before sending anything.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/tool-run.h"

#define TYPED "org.example.Typed"
#define EVENTS "org.example.TypedEvents"
#define DECLARED "org.example.Declared"

START_TEST(test_mbus_publish_takes_the_argument_forms_of_mbus_call) {
        struct test_broker b;
        struct proc sub;
        struct run r;
        char file[400], at[410];
        FILE *f;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);

        /* options after the pattern */
        proc_start(&sub, (const char *[]) { TOOL("mbus-subscribe"), "org.example.Args.*", "-a", b.address,
                                            "--timeout", "60", NULL });
        /* publish until the subscription is in place: the first event that arrives is a probe */
        long long deadline = test_now_ms() + 20000;
        do {
                run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Args", "Probe",
                                                NULL });
                ck_assert_int_eq(r.status, 0);
        } while (!proc_read_until(&sub, "\"Probe\"", 200) && test_now_ms() < deadline);

        /* pairs with options after them */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "org.example.Args", "Pairs", "iface=eth0", "mtu:=1500",
                                        "--address", b.address, NULL });
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);
        /* standard input */
        run_tool_stdin(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Args", "Stdin", "-",
                                              NULL }, "[1, 2]\n");
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);
        /* @FILE */
        snprintf(file, sizeof(file), "%s/payload.json", b.dir);
        f = fopen(file, "we");
        ck_assert_ptr_nonnull(f);
        fputs("{\"from\": \"file\"}", f);
        fclose(f);
        snprintf(at, sizeof(at), "@%s", file);
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Args", "File", at, NULL });
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);

        ck_assert(proc_read_until(&sub, "\"File\"", 10000));
        ck_assert_int_eq(kill(sub.pid, SIGTERM), 0);
        proc_finish(&sub, &r, 30000);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(strstr(r.out, "\"event\":\"Pairs\",\"sender\":") &&
                      strstr(r.out, "\"payload\":{\"iface\":\"eth0\",\"mtu\":1500}"), "%s", r.out);
        ck_assert_msg(strstr(r.out, "\"event\":\"Stdin\"") && strstr(r.out, "\"payload\":[1,2]"), "%s", r.out);
        ck_assert_msg(strstr(r.out, "\"payload\":{\"from\":\"file\"}"), "%s", r.out);

        /* faults are named before connecting: exit 2 */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Args", "E", "a=1", "a=2",
                                        NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "key 'a' given twice"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "org.example.Args", "E", "@/nonexistent/p",
                                        NULL });
        ck_assert_int_eq(r.status, 2);

        /* mbus-subscribe: --json=pretty indents, a bad mode is a usage error */
        run_tool(&r, (const char *[]) { TOOL("mbus-subscribe"), "org.example.*", "--json=fancy", NULL });
        ck_assert_int_eq(r.status, 2);

        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A broker whose interfaces.d types TYPED.Echo {name: string, mtu?: int} and EVENTS.Changed
 * {interface: string}, with an echo service on TYPED and one on DECLARED (no file). */
static void start_typed(struct test_config *c, struct test_broker *b, struct test_service *typed,
                        struct test_service *declared) {
        ck_assert_int_eq(test_config_new(c, /* with_shipped= */ true), 0);
        test_config_write(c, "interfaces.d/" TYPED ".json",
                          "{\"namespace\": \"" TYPED "\", \"procedures\": [\n"
                          "  {\"name\": \"Echo\", \"in\": [{\"name\": \"name\", \"type\": \"string\"},\n"
                          "                              {\"name\": \"mtu\", \"type\": \"int\", \"optional\": true}],\n"
                          "   \"out\": []},\n"
                          "  {\"name\": \"Fail\"}, {\"name\": \"Hang\"}, {\"name\": \"Quit\"}, {\"name\": \"Disconnect\"}],\n"
                          " \"events\": []}\n");
        test_config_write(c, "interfaces.d/" EVENTS ".json",
                          "{\"namespace\": \"" EVENTS "\", \"procedures\": [],\n"
                          " \"events\": [{\"name\": \"Changed\", \"args\": [{\"name\": \"interface\", \"type\": \"string\"}]}]}\n");
        ck_assert_int_eq(test_broker_start(b, (const char *[]) { "--config-dir", c->dir, NULL }), 0);
        ck_assert_int_eq(test_service_start(typed, b->address, TYPED), 0);
        ck_assert_int_eq(test_service_start(declared, b->address, DECLARED), 0);
}

START_TEST(test_arguments_are_checked_against_the_introspection_before_sending) {
        struct test_config c;
        struct test_broker b;
        struct test_service typed, declared;
        struct run r;

        start_typed(&c, &b, &typed, &declared);

        /* what fits is sent */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, TYPED, "Echo", "name=eth0", "mtu:=1500",
                                        NULL });
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);
        ck_assert_str_eq(r.out, "{\"name\":\"eth0\",\"mtu\":1500}\n");

        /* a string where an int is wanted: refused by the tool, naming the argument, the type, the fix */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, TYPED, "Echo", "name=eth0", "mtu=1500",
                                        NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(strstr(r.err, "mbus-call: invalid arguments for " TYPED ".Echo: argument 'mtu': expected int, "
                                    "got string") && strstr(r.err, "KEY:=JSON"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, TYPED, "Echo", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "missing argument 'name'"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, TYPED, "Echo", "name=a", "nmae=b", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "unknown argument 'nmae'"), "%s", r.err);

        /* --no-check sends it: the broker refuses it itself, a remote error (1) */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, TYPED, "Echo", "name=eth0", "mtu=1500",
                                        "--no-check", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, MBUS_ERROR_INVALID_ARGS), "%s", r.err);
        ck_assert_msg(!strstr(r.err, "invalid arguments for"), "%s", r.err);

        /* a namespace without types: nothing to check against, the service answers */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, DECLARED, "Echo", "anything:=[1]", NULL });
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);
        ck_assert_str_eq(r.out, "{\"anything\":[1]}\n");
        /* a namespace nobody owns: the broker's answer, as before */
        run_tool(&r, (const char *[]) { TOOL("mbus-call"), "-a", b.address, "org.example.Nobody", "Foo", "a=1", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, MBUS_ERROR_NO_SUCH_NAMESPACE), "%s", r.err);

        /* events: checked before the namespace is even registered */
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, EVENTS, "Changed", "interface:=1",
                                        NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "mbus-publish: invalid payload for " EVENTS ".Changed: argument 'interface': "
                                    "expected string, got int"), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, "--no-check", EVENTS, "Changed",
                                        "interface:=1", NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "cannot emit event: " MBUS_ERROR_INVALID_ARGS), "%s", r.err);
        run_tool(&r, (const char *[]) { TOOL("mbus-publish"), "-a", b.address, EVENTS, "Changed", "interface=eth0",
                                        NULL });
        ck_assert_msg(r.status == 0, "%d: %s", r.status, r.err);

        ck_assert_int_eq(test_service_quit(&declared, b.address, DECLARED), 0);
        ck_assert_int_eq(test_service_quit(&typed, b.address, TYPED), 0);
        test_config_broker_done(&c, &b);
}
END_TEST

static Suite *tool_args_suite(void) {
        Suite *s = suite_create("e2e-tool-args");
        TCase *tc = tcase_create("tool-args");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_mbus_publish_takes_the_argument_forms_of_mbus_call);
        tcase_add_test(tc, test_arguments_are_checked_against_the_introspection_before_sending);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(tool_args_suite);
}
