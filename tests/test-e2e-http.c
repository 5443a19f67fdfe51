/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HTTP calls on a ws:// listener, against a real broker and a daemon on its UNIX socket:
 * POST /v1/call/NAMESPACE/PROCEDURE answers the result, or the mbus error as
 * {"error", "message"} with its HTTP status; the caller is a peer with the connection's
 * identity, so policy applies; GET /v1/namespaces and /v1/introspect/NAMESPACE are the
 * broker's ListNamespaces and Introspect; GET /v1/events streams events as Server-Sent Events
 * to a reader that is a peer too (policy, a bounded queue whose drops it is told of); GET
 * /metrics is GetStats in the OpenMetrics text format, read back by Python's prometheus_client
 * parser where it is installed.
 */

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/ws-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"
#define TICKER_NS "org.example.Ticker"
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
/* Loopback readers may subscribe to the ticker's events, except Secret. */
static const char ticker_policy[] =
        "<policy namespace=\"" TICKER_NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow subscribe=\"*\" address=\"127.0.0.0/8\"/>\n"
        "  <deny subscribe=\"Secret\" address=\"127.0.0.0/8\"/>\n"
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



/* GETs path and asserts the status and a JSON answer; returns the body. */
static const char *get(unsigned port, const char *path, int status, char *buf) {
        int r = http_client_request(port, "GET", path, NULL, buf, BUF_SIZE);

        ck_assert_msg(r == status, "%s: %d, not %d: %.300s", path, r, status, buf);
        ck_assert_ptr_nonnull(strcasestr(buf, "content-type: application/json"));
        return http_client_body(buf);
}

START_TEST(test_namespaces_and_introspection_over_http) {
        struct test_config c;
        struct test_broker b;
        struct test_service svc;
        char ws[64], *buf = malloc(BUF_SIZE), needle[128];
        const char *args[] = { "--config-dir", NULL, "--scope", "system", "--listen", ws, NULL };
        unsigned port = test_free_tcp_port();
        const char *body;

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        args[1] = c.dir;
        test_config_write(&c, "policy.d/" NS ".xml", policy);
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(&b, args, c.log, true), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        /* Each namespace with its owner and who the owner is (a UNIX service: its uid). */
        body = get(port, "/v1/namespaces", 200, buf);
        ck_assert_msg(strstr(body, "{\"namespace\":\"org.mbus.Broker\",\"owner\":\":1.0\""), "%s", body);
        (void) snprintf(needle, sizeof(needle), "{\"namespace\":\"" NS "\",\"owner\":\"%s\",\"uid\":%u,\"user\":\"uid:%u\"",
                        svc.id, (unsigned) getuid(), (unsigned) getuid());
        ck_assert_msg(strstr(body, needle), "%s not in %s", needle, body);
        ck_assert_msg(strstr(body, "\"next\":null"), "all on one page: %s", body);

        /* A page at a time, as ListNamespaces gives it: limit and after pass through. */
        body = get(port, "/v1/namespaces?limit=1", 200, buf);
        ck_assert_msg(strstr(body, "{\"namespace\":\"" NS "\"") && !strstr(body, "org.mbus.Broker") &&
                      strstr(body, "\"next\":\"" NS "\""), "first page: %s", body);
        body = get(port, "/v1/namespaces?after=" NS "&limit=1", 200, buf);
        ck_assert_msg(strstr(body, "{\"namespace\":\"org.mbus.Broker\"") && !strstr(body, "\"namespace\":\"" NS),
                      "second page: %s", body);
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/namespaces?limit=0", 400, buf), "InvalidArgs"));

        body = get(port, "/v1/introspect/org.mbus.Broker", 200, buf);
        ck_assert_ptr_nonnull(strstr(body, "\"namespace\":\"org.mbus.Broker\""));
        ck_assert_ptr_nonnull(strstr(body, "{\"name\":\"GetPeer\""));
        ck_assert_ptr_nonnull(strstr(body, "\"source\":\"file\""));
        /* A namespace without a file: what its owner declared. */
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/introspect/" NS, 200, buf), "\"source\":\"declared\""));
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/introspect/org.example.Nobody", 404, buf),
                                     "\"error\":\"org.mbus.Error.NoSuchNamespace\""));
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/introspect/not..valid", 400, buf),
                                     "\"error\":\"org.mbus.Error.InvalidArgs\""));

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
        test_config_remove(&c);
        free(buf);
}
END_TEST

/* A daemon that owns TICKER_NS and emits what the argument says, then waits to be killed. */
struct ticker_args {
        const char *address;
        unsigned n, size;               /* n Tick events with a payload of size bytes */
        bool repeat_last;               /* Last again every 100 ms: a reader whose queue was full
                                           when the first one came still gets one */
};

static int ticker_main(void *userdata) {
        const struct ticker_args *a = userdata;
        struct mbus_conn *c = test_connect(a->address, "ticker");
        struct mbus_error error = MBUS_ERROR_NULL;
        char *filler = malloc(a->size + 1);

        (void) signal(SIGTERM, SIG_DFL);       /* Check's handler would take the test's process group */
        child_assert(filler);
        memset(filler, 'x', a->size);
        filler[a->size] = 0;
        child_assert(mbus_register(c, TICKER_NS, NULL, 0, NULL, NULL, &error) == 0);
        for (unsigned i = 1; i <= a->n; i++) {
                json_object *p = json_object_new_object();

                json_object_object_add(p, "n", json_object_new_int((int) i));
                json_object_object_add(p, "filler", json_object_new_string(filler));
                /* Waiting for the broker now and then keeps the emitter's own queue short. */
                child_assert((i % 64 == 0 ? mbus_emit_wait(c, NULL, TICKER_NS, "Tick", p, 0, &error) :
                                            mbus_emit(c, TICKER_NS, "Tick", p)) == 0);
                json_object_put(p);
        }
        child_assert(mbus_emit_wait(c, NULL, TICKER_NS, "Last", NULL, 0, &error) == 0);
        while (a->repeat_last) {
                usleep(100 * 1000);
                child_assert(mbus_emit_wait(c, NULL, TICKER_NS, "Last", NULL, 0, &error) == 0);
        }
        for (;;)
                pause();
}

/* Opens GET path on 127.0.0.1:port; rcvbuf > 0: that small a receive buffer. Returns the socket. */
static int sse_open(unsigned port, const char *path, int rcvbuf) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char request[512];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        if (rcvbuf > 0)
                ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        (void) snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", path, port);
        ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t) strlen(request));
        return fd;
}

/*
 * Reads from fd into buf (size bytes, NUL-terminated; what was there stays) until needle is in
 * it, the connection ends or timeout_ms pass; older bytes are shifted out when full. Returns
 * whether needle was seen.
 */
static bool sse_read_until(int fd, char *buf, size_t size, const char *needle, int timeout_ms) {
        size_t n = strlen(buf);
        struct timespec start, now;

        /* The deadline is in time, not in reads: a reader streaming many events reads often. */
        (void) clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (strstr(buf, needle))
                        break;
                (void) clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= timeout_ms)
                        break;
                if (poll(&p, 1, 100) <= 0)
                        continue;
                if (n + 1 >= size) {
                        /* Keep the last half: a needle across the cut is still found. */
                        memmove(buf, buf + n - size / 2, size / 2);
                        n = size / 2;
                }
                k = read(fd, buf + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = 0;
        }
        return strstr(buf, needle);
}

/* A broker with the ticker's policy on a ws:// listener at port; max_queue: --max-queue-bytes or NULL. */
static void ticker_broker_start(struct test_config *c, struct test_broker *b, unsigned port, const char *max_queue) {
        char ws[64];
        const char *args[] = { "--config-dir", c->dir, "--scope", "system", "--listen", ws,
                               max_queue ? "--max-queue-bytes" : NULL, max_queue, NULL };

        test_config_write(c, "policy.d/" TICKER_NS ".xml", ticker_policy);
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(b, args, c->log, true), 0);
}

static void ticker_broker_stop(struct test_config *c, struct test_broker *b, pid_t ticker) {
        kill(ticker, SIGTERM);
        (void) test_wait(ticker, 5000);
        ck_assert_broker_stops_cleanly(b);
        test_config_remove(c);
}

START_TEST(test_events_stream_as_server_sent_events_under_policy) {
        struct test_config c;
        struct test_broker b;
        char *buf = malloc(BUF_SIZE), *all = calloc(1, BUF_SIZE);
        unsigned port = test_free_tcp_port();
        struct ticker_args ta = { .n = 3, .size = 4 };
        pid_t ticker;
        int fd, fd_broker;

        ck_assert_ptr_nonnull(buf);
        ck_assert_ptr_nonnull(all);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        ticker_broker_start(&c, &b, port, NULL);

        /* A refused subscription is answered as a call would be, and nothing streams. */
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/events?pattern=" TICKER_NS ".Secret", 403, buf),
                                     "\"error\":\"org.mbus.Error.AccessDenied\""));
        ck_assert_ptr_nonnull(strstr(get(port, "/v1/events?pattern=not..valid", 400, buf),
                                     "\"error\":\"org.mbus.Error.InvalidArgs\""));

        /* Two readers: the ticker's events, and the broker's (whose PeerConnected names the ticker). */
        fd = sse_open(port, "/v1/events?pattern=" TICKER_NS ".*", 0);
        fd_broker = sse_open(port, "/v1/events?pattern=org.mbus.Broker.PeerConnected", 0);
        ck_assert(sse_read_until(fd, all, BUF_SIZE, ": subscribed to " TICKER_NS ".*\n\n", 10000));
        ck_assert_ptr_nonnull(strstr(all, "HTTP/1.1 200"));
        ck_assert_ptr_nonnull(strcasestr(all, "content-type: text/event-stream"));
        buf[0] = 0;
        ck_assert(sse_read_until(fd_broker, buf, BUF_SIZE, ": subscribed to", 10000));

        ta.address = b.address;
        ticker = test_fork(ticker_main, &ta);
        ck_assert_msg(sse_read_until(fd, all, BUF_SIZE, "\"member\":\"Last\"", 10000), "%s", all);
        ck_assert_msg(strstr(all, "data: {\"namespace\":\"" TICKER_NS "\",\"member\":\"Tick\",\"sender\":\":1."),
                      "%s", all);
        ck_assert_ptr_nonnull(strstr(all, "\"payload\":{\"n\":3,\"filler\":\"xxxx\"}}\n\n"));
        ck_assert_ptr_null(strstr(all, "event: dropped"));
        ck_assert_msg(sse_read_until(fd_broker, buf, BUF_SIZE, "\"name\":\"ticker\"", 10000), "%s", buf);
        close(fd);
        close(fd_broker);
        ticker_broker_stop(&c, &b, ticker);
        free(buf);
        free(all);
}
END_TEST

/* What a real OpenMetrics parser reads in the exposition: families, types, per-namespace samples. */
static const char metrics_check[] =
        "import sys\n"
        "from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n"
        "m = {f.name: f for f in parse(open(sys.argv[1]).read())}\n"
        "assert m['mbus_calls_routed'].type == 'counter' and m['mbus_calls_routed'].samples[0].value >= 1, m\n"
        "assert m['mbus_peers'].type == 'gauge'\n"
        "def per_ns(family):\n"
        "    assert m[family].type == 'counter', m[family]\n"
        "    return {s.labels['namespace']: s.value for s in m[family].samples}\n"
        "calls, errors, events = (per_ns('mbus_namespace_' + k) for k in ('calls', 'errors', 'events'))\n"
        "# One sample per namespace that exists, whatever names callers tried.\n"
        "assert set(calls) == set(errors) == set(events) == {'org.mbus.Broker', sys.argv[2], sys.argv[3]}, calls\n"
        "assert calls[sys.argv[2]] == 3 and errors[sys.argv[2]] == 1 and events[sys.argv[2]] == 0, (calls, errors)\n"
        "assert events[sys.argv[3]] == 4 and calls[sys.argv[3]] == 0, events\n";

START_TEST(test_metrics_are_openmetrics_text_of_getstats_with_namespace_counters) {
        struct test_config c;
        struct test_broker b;
        struct test_service svc;
        char *buf = malloc(BUF_SIZE), path[600], script[600], cmd[1600];
        unsigned port = test_free_tcp_port();
        struct ticker_args ta = { .n = 3, .size = 4 };
        const char *text = NULL, *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
        pid_t ticker;
        FILE *f;

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        test_config_write(&c, "policy.d/" NS ".xml", policy);
        ticker_broker_start(&c, &b, port, NULL);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        /* On NS: two calls answered, one denied; a namespace that does not exist gets no counters. */
        (void) post(port, "/v1/call/" NS "/Echo", "{}", 200, NULL, buf);
        (void) post(port, "/v1/call/" NS "/Echo", "{}", 200, NULL, buf);
        (void) post(port, "/v1/call/" NS "/Fail", "{}", 403, "org.mbus.Error.AccessDenied", buf);
        (void) post(port, "/v1/call/org.example.Nobody/X", "{}", 404, "org.mbus.Error.NoSuchNamespace", buf);
        /* The ticker emits 3 Ticks and Last, with nobody subscribed: emitted all the same. */
        ta.address = b.address;
        ticker = test_fork(ticker_main, &ta);
        for (int i = 0; i < 200; i++) {
                ck_assert_int_eq(http_client_request(port, "GET", "/metrics", NULL, buf, BUF_SIZE), 200);
                text = http_client_body(buf);
                if (strstr(text, "mbus_namespace_events_total{namespace=\"" TICKER_NS "\"} 4\n"))
                        break;
                usleep(50 * 1000);
        }
        ck_assert_ptr_nonnull(strcasestr(buf, "content-type: application/openmetrics-text; version=1.0.0"));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_peers gauge\nmbus_peers "));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_calls_routed counter\nmbus_calls_routed_total "));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_namespace_calls counter\n"));
        ck_assert_msg(strstr(text, "mbus_namespace_calls_total{namespace=\"" NS "\"} 3\n"), "%s", text);
        ck_assert_msg(strstr(text, "mbus_namespace_errors_total{namespace=\"" NS "\"} 1\n"), "%s", text);
        ck_assert_msg(strstr(text, "mbus_namespace_events_total{namespace=\"" TICKER_NS "\"} 4\n"), "%s", text);
        ck_assert_ptr_null(strstr(text, "org.example.Nobody"));
        ck_assert(strlen(text) >= 6 && strcmp(text + strlen(text) - 6, "# EOF\n") == 0);

        /*
         * A real OpenMetrics parser agrees, where Debian's python3-prometheus-client is installed
         * (Debian's python3 by its path: a python3 earlier on PATH may not see Debian's modules).
         */
        (void) snprintf(cmd, sizeof(cmd), "%s -c 'import prometheus_client.openmetrics.parser' 2>/dev/null", python);
        if (system(cmd) == 0) {
                (void) test_config_path(&c, "metrics.txt", path, sizeof(path));
                f = fopen(path, "we");
                ck_assert_ptr_nonnull(f);
                ck_assert_int_ge(fputs(text, f), 0);
                ck_assert_int_eq(fclose(f), 0);
                test_config_write(&c, "check-metrics.py", metrics_check);
                (void) snprintf(cmd, sizeof(cmd), "%s %s %s " NS " " TICKER_NS, python,
                                test_config_path(&c, "check-metrics.py", script, sizeof(script)), path);
                ck_assert_int_eq(system(cmd), 0);
        }
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ticker_broker_stop(&c, &b, ticker);
        free(buf);
}
END_TEST

/*
 * A reader that does not keep up: its queue (--max-queue-bytes) fills, the broker drops events
 * for it and counts them, other peers go on, and once it reads again it is told how many it
 * missed before the next event.
 */
START_TEST(test_a_slow_event_reader_loses_events_counted_and_is_told) {
        struct test_config c;
        struct test_broker b;
        char *buf = malloc(BUF_SIZE), *all = calloc(1, BUF_SIZE);
        unsigned port = test_free_tcp_port();
        struct ticker_args ta = { .n = 4000, .size = 1000, .repeat_last = true };
        pid_t ticker;
        int fd;

        ck_assert_ptr_nonnull(buf);
        ck_assert_ptr_nonnull(all);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        ticker_broker_start(&c, &b, port, "16K");

        fd = sse_open(port, "/v1/events?pattern=" TICKER_NS ".*", 4096);
        ck_assert(sse_read_until(fd, all, BUF_SIZE, ": subscribed to", 10000));

        /* 4 MB of events while the reader reads nothing; the emitter waits for the broker now and then. */
        ta.address = b.address;
        ticker = test_fork(ticker_main, &ta);
        for (int i = 0; i < 600; i++) {
                const char *body;

                ck_assert_int_eq(http_client_request(port, "POST", "/v1/call/org.mbus.Broker/GetStats", "{}", buf,
                                                     BUF_SIZE), 200);
                body = strstr(http_client_body(buf), "\"events_dropped\":");
                ck_assert_ptr_nonnull(body);
                if (atoi(body + strlen("\"events_dropped\":")) > 0)
                        break;
                usleep(50 * 1000);
        }
        ck_assert_msg(atoi(strstr(http_client_body(buf), "\"events_dropped\":") + strlen("\"events_dropped\":")) > 0,
                      "%s", http_client_body(buf));

        /*
         * Reading again: the notice of the drops comes, with the event that follows them. (Not
         * necessarily the ticker's last: it may have been emitted while the queue was still full.)
         */
        ck_assert_msg(sse_read_until(fd, all, BUF_SIZE, "event: dropped\ndata: {\"dropped\":", 60000), "%s",
                      all + (strlen(all) > 300 ? strlen(all) - 300 : 0));
        memmove(all, strstr(all, "event: dropped"), strlen(strstr(all, "event: dropped")) + 1);
        ck_assert_msg(sse_read_until(fd, all, BUF_SIZE, "}\n\ndata: {\"namespace\":\"" TICKER_NS "\",\"member\":\"", 60000),
                      "%.300s", all);
        ck_assert_int_gt(atoi(all + strlen("event: dropped\ndata: {\"dropped\":")), 0);
        close(fd);
        ticker_broker_stop(&c, &b, ticker);
        free(buf);
        free(all);
}
END_TEST

static Suite *http_suite(void) {
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_http_calls_answer_results_and_errors_with_their_status);
        tcase_add_test(tc, test_metrics_are_openmetrics_text_of_getstats_with_namespace_counters);
        tcase_add_test(tc, test_namespaces_and_introspection_over_http);
        tcase_add_test(tc, test_events_stream_as_server_sent_events_under_policy);
        tcase_add_test(tc, test_a_slow_event_reader_loses_events_counted_and_is_told);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(http_suite);
}
