/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-namespace counters as GetStats and GET /metrics show them, against a real broker with raw
 * peers (so that a service holds calls, leaves and comes back exactly when the test says): an
 * answer counts against the namespace its call was made to, even when the namespace left while
 * the call was pending; a namespace registered again, by its owner or by another peer, goes on
 * counting; and per_namespace comes a page at a time, so that it fits a small --max-frame-size,
 * while /metrics reads every page.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "helpers/ws-util.h"
#include "util/macro.h"
#include "util/test-util.h"

#define NS "org.example.Counted"
#define WAIT_MS 10000
#define N_PAGED 150
#define BUF_SIZE (256 * 1024)

/* A raw peer after HELLO: its socket and its id. */
struct raw_peer {
        int fd;
        char *id;
        uint64_t serial;
};

static void peer_open(struct raw_peer *p, const struct test_broker *b, const char *name) {
        p->fd = raw_connect(b->address);
        ck_assert_int_ge(p->fd, 0);
        ck_assert_int_eq(raw_hello(p->fd, name, &p->id), 0);
        p->serial = 100;
}

static void peer_close(struct raw_peer *p) {
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        free(p->id);
        p->id = NULL;
}

/* Calls ns.member with body; returns the serial (the answer is read later). */
static uint64_t peer_call(struct raw_peer *p, const char *ns, const char *member, const char *body) {
        uint64_t serial = ++p->serial;

        ck_assert_int_eq(raw_send_simple(p->fd, MBUS_FRAME_CALL, serial, 0, ns, member, NULL, NULL, NULL, body), 0);
        return serial;
}

/* Reads frames until the answer to serial; returns its type (RETURN or ERROR) and body in f. */
static uint8_t peer_answer(struct raw_peer *p, uint64_t serial, struct raw_frame *f) {
        for (;;) {
                ck_assert_int_eq(raw_recv(p->fd, WAIT_MS, f), 0);
                if ((f->type == MBUS_FRAME_RETURN || f->type == MBUS_FRAME_ERROR) && f->reply_serial == serial)
                        return f->type;
                raw_frame_done(f);
        }
}

/* UNREGISTER ns, and its RETURN. */
static void peer_unregister(struct raw_peer *p, const char *ns) {
        struct raw_frame f = {};
        uint64_t serial = ++p->serial;

        ck_assert_int_eq(raw_send_simple(p->fd, MBUS_FRAME_UNREGISTER, serial, 0, ns, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(peer_answer(p, serial, &f), MBUS_FRAME_RETURN);
        raw_frame_done(&f);
}

/* GetStats with args (JSON text, NULL: none), parsed. */
static json_object *peer_get_stats(struct raw_peer *p, const char *args) {
        struct raw_frame f = {};
        json_object *o;

        ck_assert_int_eq(peer_answer(p, peer_call(p, "org.mbus.Broker", "GetStats", args), &f), MBUS_FRAME_RETURN);
        o = json_tokener_parse(f.body);
        ck_assert_ptr_nonnull(o);
        raw_frame_done(&f);
        return o;
}

/* ns's counter key in GetStats (the first page: a handful of namespaces), -1 if it is not listed. */
static int64_t ns_counter(struct raw_peer *p, const char *ns, const char *key) {
        json_object *o = peer_get_stats(p, NULL), *per_ns, *c, *v;
        int64_t n = -1;

        ck_assert(json_object_object_get_ex(o, "per_namespace", &per_ns));
        if (json_object_object_get_ex(per_ns, ns, &c) && json_object_object_get_ex(c, key, &v))
                n = json_object_get_int64(v);
        json_object_put(o);
        return n;
}

/* The service's side: the next forwarded CALL, whose serial and sender it answers with. */
static void service_take_call(struct raw_peer *svc, struct raw_frame *f) {
        ck_assert_int_eq(raw_recv_type(svc->fd, WAIT_MS, MBUS_FRAME_CALL, f), 0);
        ck_assert_str_eq(f->namespace, NS);
        ck_assert_ptr_nonnull(f->sender);
}

static void service_answer(struct raw_peer *svc, const struct raw_frame *call, const char *error) {
        ck_assert_int_eq(raw_send_simple(svc->fd, error ? MBUS_FRAME_ERROR : MBUS_FRAME_RETURN, 0, call->serial,
                                         NULL, NULL, call->sender, error, NULL, "{}"), 0);
}

START_TEST(test_answers_count_against_a_namespace_that_left_while_they_were_pending) {
        struct test_broker b;
        struct raw_peer svc, caller;
        struct raw_frame calls[3] = {}, f = {};
        uint64_t serials[3];

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        peer_open(&svc, &b, "service");
        peer_open(&caller, &b, "caller");
        ck_assert_int_eq(raw_register(svc.fd, 2, NS), 0);

        for (size_t i = 0; i < 3; i++)
                serials[i] = peer_call(&caller, NS, "Work", "{}");
        for (size_t i = 0; i < 3; i++)
                service_take_call(&svc, &calls[i]);

        /* The namespace leaves with three calls pending on its former owner, which answers two. */
        peer_unregister(&svc, NS);
        ck_assert_int_eq(ns_counter(&caller, NS, "calls"), -1);        /* gone: not listed */
        service_answer(&svc, &calls[0], "org.example.Error.Refused");
        service_answer(&svc, &calls[1], NULL);
        ck_assert_int_eq(peer_answer(&caller, serials[0], &f), MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, "org.example.Error.Refused");
        raw_frame_done(&f);
        ck_assert_int_eq(peer_answer(&caller, serials[1], &f), MBUS_FRAME_RETURN);
        raw_frame_done(&f);

        /* Back, and the last answer: every call and both errors are counted where they were made. */
        ck_assert_int_eq(raw_register(svc.fd, 3, NS), 0);
        service_answer(&svc, &calls[2], "org.example.Error.Refused");
        ck_assert_int_eq(peer_answer(&caller, serials[2], &f), MBUS_FRAME_ERROR);
        raw_frame_done(&f);
        ck_assert_int_eq(ns_counter(&caller, NS, "calls"), 3);
        ck_assert_int_eq(ns_counter(&caller, NS, "errors"), 2);
        ck_assert_int_eq(ns_counter(&caller, NS, "events"), 0);

        for (size_t i = 0; i < 3; i++)
                raw_frame_done(&calls[i]);
        peer_close(&svc);
        peer_close(&caller);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_counters_go_on_when_another_peer_registers_the_namespace_again) {
        struct test_broker b;
        struct raw_peer svc, svc2, caller;
        struct raw_frame call = {}, f = {};
        uint64_t serial;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        peer_open(&svc, &b, "service");
        peer_open(&caller, &b, "caller");
        ck_assert_int_eq(raw_register(svc.fd, 2, NS), 0);

        /* One call answered, one whose owner disconnects before answering. */
        serial = peer_call(&caller, NS, "Work", "{}");
        service_take_call(&svc, &call);
        service_answer(&svc, &call, NULL);
        raw_frame_done(&call);
        ck_assert_int_eq(peer_answer(&caller, serial, &f), MBUS_FRAME_RETURN);
        raw_frame_done(&f);
        serial = peer_call(&caller, NS, "Work", "{}");
        service_take_call(&svc, &call);
        raw_frame_done(&call);
        peer_close(&svc);
        ck_assert_int_eq(peer_answer(&caller, serial, &f), MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, "org.mbus.Error.OwnerDisconnected");
        raw_frame_done(&f);

        /* Another peer takes the namespace: the counts so far stay, and new ones add to them. */
        peer_open(&svc2, &b, "service2");
        ck_assert_int_eq(raw_register(svc2.fd, 2, NS), 0);
        ck_assert_int_eq(ns_counter(&caller, NS, "calls"), 2);
        ck_assert_int_eq(ns_counter(&caller, NS, "errors"), 1);
        serial = peer_call(&caller, NS, "Work", "{}");
        service_take_call(&svc2, &call);
        service_answer(&svc2, &call, "org.example.Error.Refused");
        raw_frame_done(&call);
        ck_assert_int_eq(peer_answer(&caller, serial, &f), MBUS_FRAME_ERROR);
        raw_frame_done(&f);
        ck_assert_int_eq(ns_counter(&caller, NS, "calls"), 3);
        ck_assert_int_eq(ns_counter(&caller, NS, "errors"), 2);

        peer_close(&svc2);
        peer_close(&caller);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* Registers N_PAGED namespaces org.example.paging.N000... on p (long names: pages fill by bytes). */
static void register_many(struct raw_peer *p) {
        for (int i = 0; i < N_PAGED; i++) {
                char ns[128];

                (void) snprintf(ns, sizeof(ns), "org.example.paging.with.a.rather.long.name.N%03d", i);
                ck_assert_int_eq(raw_register(p->fd, 1000 + (uint64_t) i, ns), 0);
        }
}

START_TEST(test_getstats_gives_per_namespace_a_page_at_a_time_within_the_frame_size) {
        const char *args[] = { "--max-frame-size", "4096", NULL };
        struct test_broker b;
        struct raw_peer svc, caller;
        char after[300] = "", body[400], last[300] = "";
        int seen = 0, pages = 0, smallest = N_PAGED;
        json_object *o, *per_ns, *next;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        peer_open(&svc, &b, "service");
        peer_open(&caller, &b, "caller");
        register_many(&svc);

        /* A limit is a limit. */
        o = peer_get_stats(&caller, "{\"limit\":10}");
        ck_assert(json_object_object_get_ex(o, "per_namespace", &per_ns));
        ck_assert_int_eq(json_object_object_length(per_ns), 10);
        ck_assert(json_object_object_get_ex(o, "next", &next) && json_object_is_type(next, json_type_string));
        json_object_put(o);

        /* Page after page, each in one frame: every namespace once, in order. */
        for (;;) {
                (void) snprintf(body, sizeof(body), after[0] ? "{\"after\":\"%s\",\"limit\":1000}" : "{\"limit\":1000}",
                                after);
                o = peer_get_stats(&caller, body);
                ck_assert(json_object_object_get_ex(o, "per_namespace", &per_ns));
                ck_assert(json_object_object_get_ex(o, "peers", NULL));
                pages++;
                smallest = MIN(smallest, json_object_object_length(per_ns));
                json_object_object_foreach(per_ns, name, counters) {
                        ck_assert_msg(strcmp(name, last) > 0, "%s after %s", name, last);
                        ck_assert(json_object_object_get_ex(counters, "calls", NULL));
                        (void) snprintf(last, sizeof(last), "%s", name);
                        if (strncmp(name, "org.example.paging.", strlen("org.example.paging.")) == 0)
                                seen++;
                }
                ck_assert(json_object_object_get_ex(o, "next", &next));
                if (!next) {
                        json_object_put(o);
                        break;
                }
                ck_assert_str_eq(json_object_get_string(next), last);
                (void) snprintf(after, sizeof(after), "%s", last);
                json_object_put(o);
                ck_assert_int_lt(pages, N_PAGED);
        }
        ck_assert_int_eq(seen, N_PAGED);
        ck_assert_int_gt(pages, 1);     /* 4096 bytes hold far fewer than 1000 entries */

        /* An invalid page is the caller's error. */
        {
                struct raw_frame f = {};

                ck_assert_int_eq(peer_answer(&caller, peer_call(&caller, "org.mbus.Broker", "GetStats",
                                                                "{\"limit\":0}"), &f), MBUS_FRAME_ERROR);
                ck_assert_str_eq(f.error_name, "org.mbus.Error.InvalidArgs");
                raw_frame_done(&f);
        }

        peer_close(&svc);
        peer_close(&caller);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_metrics_has_every_namespace_under_a_small_frame_size) {
        struct test_config c;
        struct test_broker b;
        struct raw_peer svc, caller;
        char ws[64], *buf = malloc(BUF_SIZE);
        /* The shipped policy lets anyone read GetStats, over HTTP too. */
        const char *args[] = { "--config-dir", NULL, "--scope", "system", "--max-frame-size", "4096", "--listen", ws,
                               NULL };
        unsigned port = test_free_tcp_port();
        const char *text;
        int n = 0;

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        args[1] = c.dir;
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", port);
        ck_assert_int_eq(test_broker_start_full(&b, args, c.log, false), 0);
        peer_open(&svc, &b, "service");
        peer_open(&caller, &b, "caller");
        register_many(&svc);
        (void) ns_counter(&caller, "org.mbus.Broker", "calls");

        ck_assert_int_eq(http_client_request(port, "GET", "/metrics", NULL, buf, BUF_SIZE), 200);
        text = http_client_body(buf);
        for (const char *s = text; (s = strstr(s, "mbus_namespace_calls_total{namespace=\"org.example.paging.")); s++)
                n++;
        ck_assert_msg(n == N_PAGED, "%d samples: %.2000s", n, text);
        ck_assert_ptr_nonnull(strstr(text, "mbus_namespace_calls_total{namespace=\"org.mbus.Broker\"} "));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE mbus_peers gauge\nmbus_peers "));
        ck_assert(strlen(text) >= 6 && strcmp(text + strlen(text) - 6, "# EOF\n") == 0);

        peer_close(&svc);
        peer_close(&caller);
        test_config_broker_done(&c, &b);
        free(buf);
}
END_TEST

static Suite *ns_stats_suite(void) {
        Suite *s = suite_create("ns-stats");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_answers_count_against_a_namespace_that_left_while_they_were_pending);
        tcase_add_test(tc, test_counters_go_on_when_another_peer_registers_the_namespace_again);
        tcase_add_test(tc, test_getstats_gives_per_namespace_a_page_at_a_time_within_the_frame_size);
        tcase_add_test(tc, test_metrics_has_every_namespace_under_a_small_frame_size);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(ns_stats_suite)
