/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HTTP calls on a ws:// listener, against a real broker and a daemon on its UNIX socket:
 * POST /v1/call/NAMESPACE/PROCEDURE answers the result, or the mbus error as
 * {"error", "message"} with its HTTP status; the caller is a peer with the connection's
 * identity, so policy applies; GET /metrics is GetStats in the OpenMetrics text format, read
 * back by Python's prometheus_client parser where it is installed.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/ws-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"
#define BUF_SIZE (64 * 1024)

/* Loopback callers may call Echo, Hang, Disconnect and Nope, not Fail. */
static const char policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow call=\"Echo\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"Hang\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"Disconnect\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"Nope\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";

/* POSTs body to path; asserts the status and, if error is set, the error name; returns the body. */
static const char *post(unsigned port, const char *path, const char *body, int status, const char *error, char *buf) {
        int r = http_client_request(port, "POST", path, body, buf, BUF_SIZE);
        const char *b = http_client_body(buf);

        ck_assert_msg(r == status, "%s: %d, not %d: %.300s", path, r, status, buf);
        ck_assert_ptr_nonnull(strcasestr(buf, "content-type: application/json"));
        if (error) {
                char needle[128];

                (void) snprintf(needle, sizeof(needle), "{\"error\":\"%s\",\"message\":", error);
                ck_assert_msg(strncmp(b, needle, strlen(needle)) == 0, "%s: %s", path, b);
        }
        return b;
}

START_TEST(test_http_calls_answer_results_and_errors_with_their_status) {
        struct test_config c;
        struct test_broker b;
        struct test_service svc;
        char ws[64], *buf = malloc(BUF_SIZE);
        const char *args[] = { "--config-dir", NULL, "--scope", "system", "--listen", ws, NULL };
        unsigned port = test_free_tcp_port();

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        args[1] = c.dir;
        test_config_write(&c, "policy.d/" NS ".xml", policy);
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(&b, args, c.log, true), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        ck_assert_str_eq(post(port, "/v1/call/" NS "/Echo", "{\"over\":\"http\"}", 200, NULL, buf), "{\"over\":\"http\"}");
        ck_assert_str_eq(post(port, "/v1/call/org.mbus.Broker/Ping", NULL, 200, NULL, buf), "{}");
        (void) post(port, "/v1/call/org.example.Nobody/X", "{}", 404, "org.mbus.Error.NoSuchNamespace", buf);
        (void) post(port, "/v1/call/" NS "/Nope", "{}", 404, "org.mbus.Error.UnknownProcedure", buf);
        ck_assert_ptr_nonnull(strstr(post(port, "/v1/call/" NS "/Fail", "{}", 403, "org.mbus.Error.AccessDenied", buf),
                                     "ws peer 127.0.0.1:"));
        (void) post(port, "/v1/call/" NS "/Echo", "not json", 400, "org.mbus.Error.InvalidArgs", buf);
        (void) post(port, "/v1/call/not-a-namespace/Echo", "{}", 400, "org.mbus.Error.InvalidArgs", buf);
        (void) post(port, "/v1/call/" NS "/Hang?timeout=200", "{}", 504, "org.mbus.Error.Timeout", buf);
        (void) post(port, "/v1/call/" NS "/Disconnect", "{}", 503, "org.mbus.Error.OwnerDisconnected", buf);

        /* Not a call: GET on the call path, an unknown path. */
        ck_assert_int_eq(http_client_request(port, "GET", "/v1/call/" NS "/Echo", NULL, buf, BUF_SIZE), 405);
        ck_assert_int_eq(http_client_request(port, "POST", "/v1/nothing", "{}", buf, BUF_SIZE), 404);

        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
        free(buf);
}
END_TEST

START_TEST(test_metrics_are_openmetrics_text_of_getstats) {
        struct test_config c;
        struct test_broker b;
        char ws[64], *buf = malloc(BUF_SIZE), path[600], cmd[1400];
        const char *args[] = { "--config-dir", NULL, "--scope", "system", "--listen", ws, NULL };
        unsigned port = test_free_tcp_port();
        const char *text;
        FILE *f;

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        args[1] = c.dir;
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(&b, args, c.log, true), 0);

        /* A call first, so a counter is above 0. */
        ck_assert_int_eq(http_client_request(port, "POST", "/v1/call/org.mbus.Broker/Ping", "{}", buf, BUF_SIZE), 200);
        ck_assert_int_eq(http_client_request(port, "GET", "/metrics", NULL, buf, BUF_SIZE), 200);
        ck_assert_ptr_nonnull(strcasestr(buf, "content-type: application/openmetrics-text; version=1.0.0"));
        text = http_client_body(buf);
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_peers gauge\nmbus_peers "));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_calls_routed counter\nmbus_calls_routed_total "));
        ck_assert(strlen(text) >= 6 && strcmp(text + strlen(text) - 6, "# EOF\n") == 0);

        /* A real OpenMetrics parser agrees, where Debian's python3-prometheus-client is installed. */
        if (system("python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null") == 0) {
                (void) test_config_path(&c, "metrics.txt", path, sizeof(path));
                f = fopen(path, "we");
                ck_assert_ptr_nonnull(f);
                ck_assert_int_ge(fputs(text, f), 0);
                ck_assert_int_eq(fclose(f), 0);
                (void) snprintf(cmd, sizeof(cmd),
                                "python3 -c 'import sys; from prometheus_client.openmetrics.parser import "
                                "text_string_to_metric_families as p; m = {f.name: f for f in p(open(sys.argv[1]).read())}; "
                                "assert m[\"mbus_calls_routed\"].type == \"counter\", m; "
                                "assert m[\"mbus_calls_routed\"].samples[0].value >= 1; "
                                "assert m[\"mbus_peers\"].type == \"gauge\"' %s", path);
                ck_assert_int_eq(system(cmd), 0);
        }
        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
        free(buf);
}
END_TEST

static Suite *http_suite(void) {
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_http_calls_answer_results_and_errors_with_their_status);
        tcase_add_test(tc, test_metrics_are_openmetrics_text_of_getstats);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(http_suite);
}
