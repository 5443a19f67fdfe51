/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus.js, the JavaScript client (www/mbus.js), against a real broker: node runs
 * tests/js/test-mbus.mjs over a ws:// listener. It calls a daemon on the UNIX socket (result,
 * error with the sender that answered it, the broker's timeout with none), subscribes with a
 * wildcard, registers a namespace and serves a procedure that a C client calls here. Skipped
 * (77) without node.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"
#define JS_NS "org.example.Js"

static const char policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow call=\"*\" user=\"*\"/>\n"
        "  <allow call=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";
static const char js_policy[] =
        "<policy namespace=\"" JS_NS "\">\n"
        "  <allow own=\"true\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"*\" user=\"*\"/>\n"
        "  <allow call=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";

START_TEST(test_mbus_js_calls_subscribes_and_serves_a_c_client) {
        struct test_config c;
        struct test_broker b;
        struct test_service svc;
        struct mbus_conn *conn;
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *args, *result = NULL;
        char ws[64], cmd[1024], line[256] = "";
        const char *src = getenv("MBUS_TEST_SRCDIR");
        const char *bargs[] = { "--config-dir", NULL, "--scope", "system", "--listen", ws, NULL };
        unsigned port = test_free_tcp_port();
        FILE *node;
        int st;

        ck_assert_ptr_nonnull(src);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        bargs[1] = c.dir;
        test_config_write(&c, "policy.d/" NS ".xml", policy);
        test_config_write(&c, "policy.d/" JS_NS ".xml", js_policy);
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(&b, bargs, c.log, true), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        (void) snprintf(cmd, sizeof(cmd),
                        "exec node --experimental-websocket %s/tests/js/test-mbus.mjs %s/www/mbus.js "
                        "ws://127.0.0.1:%u/v1/ws " NS " " JS_NS, src, src, port);
        node = popen(cmd, "r");
        ck_assert_ptr_nonnull(node);
        ck_assert_msg(fgets(line, sizeof(line), node) && strcmp(line, "ready\n") == 0, "node said: %s", line);

        /* A C client calls the procedure the script serves. */
        conn = test_connect(b.address, "c-caller");
        args = json_tokener_parse("{\"n\":21}");
        ck_assert_int_eq(mbus_call(conn, JS_NS, "Double", args, 0, &result, &error), 0);
        ck_assert_int_eq(test_json_int(result, "n"), 42);
        json_object_put(args);
        json_object_put(result);
        mbus_conn_unref(conn);

        st = pclose(node);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "node failed: status %d", st);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
}
END_TEST

static Suite *js_suite(void) {
        Suite *s = suite_create("js");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_mbus_js_calls_subscribes_and_serves_a_c_client);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (system("node --experimental-websocket -e 'if (typeof WebSocket !== \"function\") process.exit(1)' "
                   ">/dev/null 2>&1") != 0) {
                fprintf(stderr, "node with WebSocket support is not installed: skipped\n");
                return 77;
        }
        return test_config_main(js_suite);
}
