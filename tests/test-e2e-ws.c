/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * WebSocket peers: a real broker with a UNIX socket and a ws:// (or wss://) listener on
 * loopback, and the test WebSocket client of helpers/ws-util.c, so the broker is checked
 * against the wire rather than against libwebsockets on both ends. What a page sees: the
 * upgrade at /v1/ws with the subprotocol mbus, HELLO, calls and live events in binary frames
 * and in their JSON form, a refused origin, a misbehaving connection costing only itself; on
 * wss://, its client certificate as its identity and every bad certificate refused and logged.
 * mbus-bench's WebSocket peers against the same broker: every event checked, every call answered.
 */

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "helpers/tool-run.h"
#include "helpers/ws-util.h"
#include "util/macro.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

static const char echo_policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow call=\"*\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"*\" user=\"*\"/>\n"
        "  <allow subscribe=\"*\" user=\"*\"/>\n"
        "  <allow subscribe=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";

struct env {
        struct test_config c;
        struct test_broker b;
        unsigned port;
};

/* Bench peers are known by address (ws) or certificate (wss): the policy lets loopback in. */
static const char bench_policy[] =
        "<policy namespace=\"%s\">\n"
        "  <allow own=\"true\" address=\"127.0.0.0/8\"/>\n"
        "  <allow call=\"*\" address=\"127.0.0.0/8\"/>\n"
        "  <allow subscribe=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";

/*
 * A broker with the UNIX socket and a scheme:// listener on loopback; more: further arguments;
 * bench: with the policy of mbus-bench's namespaces too.
 */
static void env_start_listen_policies(struct env *e, const char *scheme, const char *const *more, bool bench) {
        static const char *const bench_namespaces[] = { "org.mbus.Bench", "org.mbus.BenchFanout" };
        char listen[64];
        const char *args[32] = { "--config-dir", NULL, "--scope", "system", "--listen", listen };
        size_t n = 6;

        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        args[1] = e->c.dir;
        test_config_write(&e->c, "policy.d/" NS ".xml", echo_policy);
        for (size_t i = 0; bench && i < ELEMENTSOF(bench_namespaces); i++) {
                char path[128], text[512];

                (void) snprintf(path, sizeof(path), "policy.d/%s.xml", bench_namespaces[i]);
                (void) snprintf(text, sizeof(text), bench_policy, bench_namespaces[i]);
                test_config_write(&e->c, path, text);
        }
        e->port = test_free_tcp_port();
        ck_assert_uint_gt(e->port, 0);
        (void) snprintf(listen, sizeof(listen), "%s://127.0.0.1:%u", scheme, e->port);
        for (size_t i = 0; more && more[i]; i++)
                args[n++] = more[i];
        args[n] = NULL;
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_start_listen(struct env *e, const char *scheme, const char *const *more) {
        env_start_listen_policies(e, scheme, more, /* bench= */ false);
}

static void env_start(struct env *e, const char *origin) {
        const char *more[] = { origin ? "--ws-origin" : NULL, origin, NULL };

        env_start_listen(e, "ws", more);
}

static void env_done(struct env *e) {
        ck_assert_broker_stops_cleanly(&e->b);
        test_config_remove(&e->c);
}

static void ws_open_ok(struct ws_client *ws, unsigned port) {
        ck_assert_int_eq(ws_client_open(ws, port, "/v1/ws", NULL, NULL), 101);
}

/* HELLO in binary, then a CALL of ListNamespaces in binary; asserts both answers. */
static void ws_hello_binary_and_list(struct ws_client *ws, const char *name) {
        struct raw_buf b = {};
        char *m = NULL;
        size_t len = 0;

        raw_frame_begin(&b, MBUS_FRAME_HELLO);
        raw_field_u64(&b, MBUS_FIELD_SERIAL, 1);
        {
                char body[64];

                (void) snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
                raw_frame_finish(&b, body);
        }
        ck_assert_int_eq(ws_client_send(ws, WS_BINARY, b.data, b.len), 0);
        raw_buf_done(&b);
        ck_assert_int_eq(ws_client_recv(ws, &m, &len), WS_BINARY);
        ck_assert_uint_ge(len, MBUS_FRAME_HEADER_SIZE);
        ck_assert_int_eq(m[1], MBUS_FRAME_WELCOME);
        free(m);

        raw_frame_begin(&b, MBUS_FRAME_CALL);
        raw_field_u64(&b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(&b, MBUS_FIELD_NAMESPACE, "org.mbus.Broker");
        raw_field_str(&b, MBUS_FIELD_MEMBER, "ListNamespaces");
        raw_frame_finish(&b, NULL);
        ck_assert_int_eq(ws_client_send(ws, WS_BINARY, b.data, b.len), 0);
        raw_buf_done(&b);
        ck_assert_int_eq(ws_client_recv(ws, &m, &len), WS_BINARY);
        ck_assert_int_eq(m[1], MBUS_FRAME_RETURN);
        ck_assert_ptr_nonnull(memmem(m, len, "org.mbus.Broker", 15));
        free(m);
}

START_TEST(test_binary_frames_hello_and_call) {
        struct env e;
        struct ws_client ws;

        env_start(&e, NULL);
        ws_open_ok(&ws, e.port);
        ws_hello_binary_and_list(&ws, "ws-binary");
        ws_client_close(&ws);
        env_done(&e);
}
END_TEST

START_TEST(test_json_form_calls_a_unix_service_and_receives_events) {
        struct test_service svc;
        struct env e;
        char *m = NULL, *addr;
        struct ws_client ws;

        env_start(&e, NULL);
        addr = e.b.address;
        ck_assert_int_eq(test_service_start(&svc, addr, NS), 0);

        ws_open_ok(&ws, e.port);
#define SEND_TEXT(s) ck_assert_int_eq(ws_client_send(&ws, WS_TEXT, s, strlen(s)), 0)
        SEND_TEXT("{\"type\":\"HELLO\",\"serial\":1,\"body\":{\"name\":\"ws-json\"}}");
        ck_assert_int_eq(ws_client_recv(&ws, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"type\":\"WELCOME\""));
        free(m);

        /* A call to a daemon on the UNIX socket, and its answer in the JSON form. */
        SEND_TEXT("{\"type\":\"CALL\",\"serial\":2,\"namespace\":\"" NS "\",\"member\":\"Echo\","
                  "\"body\":{\"say\":\"hi from a page\"}}");
        ck_assert_int_eq(ws_client_recv(&ws, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"type\":\"RETURN\""));
        ck_assert_ptr_nonnull(strstr(m, "\"reply_serial\":2"));
        ck_assert_ptr_nonnull(strstr(m, "hi from a page"));
        free(m);

        /* An error keeps its name. */
        SEND_TEXT("{\"type\":\"CALL\",\"serial\":3,\"namespace\":\"" NS "\",\"member\":\"Fail\"}");
        ck_assert_int_eq(ws_client_recv(&ws, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"error_name\":\"org.example.Error.Failed\""));
        free(m);

        /* Subscribing is answered in the same form. */
        SEND_TEXT("{\"type\":\"SUBSCRIBE\",\"serial\":4,\"pattern\":\"" NS ".*\"}");
        ck_assert_int_eq(ws_client_recv(&ws, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"reply_serial\":4"));
        free(m);
#undef SEND_TEXT
        ws_client_close(&ws);
        ck_assert_int_eq(test_service_quit(&svc, addr, NS), 0);
        env_done(&e);
}
END_TEST

START_TEST(test_origin_path_and_subprotocol_are_checked) {
        struct env e;
        struct ws_client ws;

        env_start(&e, "https://console.example.org");
        ck_assert_int_ne(ws_client_open(&ws, e.port, "/v1/ws", "https://evil.example.com", NULL), 101);
        ws_client_close(&ws);
        ck_assert_int_eq(ws_client_open(&ws, e.port, "/v1/ws", "https://console.example.org", NULL), 101);
        ws_client_close(&ws);
        ck_assert_int_ne(ws_client_open(&ws, e.port, "/v1/ws", "http://127.0.0.1:0", NULL), 101);
        ws_client_close(&ws);
        ck_assert_int_ne(ws_client_open(&ws, e.port, "/elsewhere", NULL, NULL), 101);
        ws_client_close(&ws);
        ck_assert_broker_stops_cleanly(&e.b);
        {
                char cmd[512];

                (void) snprintf(cmd, sizeof(cmd), "grep -q 'origin https://evil.example.com is not allowed' %s",
                                e.c.log);
                ck_assert_int_eq(system(cmd), 0);
        }
        test_config_remove(&e.c);
}
END_TEST

/* Each bad connection is closed; a good one next to it keeps calling. */
START_TEST(test_bad_traffic_costs_only_that_peer) {
        static const uint8_t junk[] = "not a frame at all";
        struct env e;
        struct ws_client good, ws;

        env_start(&e, NULL);
        ws_open_ok(&good, e.port);
        ws_hello_binary_and_list(&good, "good");

        /* Larger than the HELLO limit, in fragments. */
        {
                _cleanup_free_ uint8_t *big = calloc(1, 3000);

                ws_open_ok(&ws, e.port);
                ck_assert_int_eq(ws_client_send_frame(&ws, WS_BINARY, big, 3000, true), 0);    /* FIN clear */
                (void) ws_client_send_frame(&ws, 0x00, big, 3000, true);                        /* continuation */
                ck_assert(ws_client_closed(&ws));
                ws_client_close(&ws);
        }
        /* Not a frame. */
        ws_open_ok(&ws, e.port);
        ck_assert_int_eq(ws_client_send(&ws, WS_BINARY, junk, sizeof(junk)), 0);
        ck_assert(ws_client_closed(&ws));
        ws_client_close(&ws);
        /* Garbage JSON. */
        ws_open_ok(&ws, e.port);
        ck_assert_int_eq(ws_client_send(&ws, WS_TEXT, "{\"type\":", 8), 0);
        ck_assert(ws_client_closed(&ws));
        ws_client_close(&ws);
        /* An unmasked client frame. */
        ws_open_ok(&ws, e.port);
        (void) ws_client_send_frame(&ws, 0x80 | WS_BINARY, junk, sizeof(junk), false);
        ck_assert(ws_client_closed(&ws));
        ws_client_close(&ws);
        /* A reserved opcode. */
        ws_open_ok(&ws, e.port);
        (void) ws_client_send_frame(&ws, 0x80 | 0x3, junk, sizeof(junk), true);
        ck_assert(ws_client_closed(&ws));
        ws_client_close(&ws);
        /* A close in the middle of a fragmented message. */
        ws_open_ok(&ws, e.port);
        ck_assert_int_eq(ws_client_send_frame(&ws, WS_BINARY, junk, 4, true), 0);
        ws_client_close(&ws);

        /* The good peer is still served. */
        {
                struct raw_buf b = {};
                char *m = NULL;

                raw_frame_begin(&b, MBUS_FRAME_CALL);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, 3);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, "org.mbus.Broker");
                raw_field_str(&b, MBUS_FIELD_MEMBER, "GetStats");
                raw_frame_finish(&b, NULL);
                ck_assert_int_eq(ws_client_send(&good, WS_BINARY, b.data, b.len), 0);
                raw_buf_done(&b);
                ck_assert_int_eq(ws_client_recv(&good, &m, NULL), WS_BINARY);
                ck_assert_int_eq(m[1], MBUS_FRAME_RETURN);
                free(m);
        }
        ws_client_close(&good);
        env_done(&e);
}
END_TEST

START_TEST(test_plain_ws_only_on_loopback_unless_forced) {
        struct test_config c;
        struct test_broker b;
        const char *args[] = { "--config-dir", NULL, "--listen", "ws://0.0.0.0:1", NULL };

        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        args[1] = c.dir;
        ck_assert_int_ne(test_broker_start_full(&b, args, c.log, false), 0);
        test_config_remove(&c);
}
END_TEST

/* A JSON message's text parsed; asserts it is an object. */
static json_object *ws_json(const char *text) {
        json_object *o = json_tokener_parse(text);

        ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", text);
        return o;
}

/* Sends a JSON form frame and returns the JSON answer (asserting it came in text). */
static json_object *ws_json_roundtrip(struct ws_client *ws, const char *text) {
        char *m = NULL;
        json_object *o;

        ck_assert_int_eq(ws_client_send(ws, WS_TEXT, text, strlen(text)), 0);
        ck_assert_int_eq(ws_client_recv(ws, &m, NULL), WS_TEXT);
        o = ws_json(m);
        free(m);
        return o;
}

/* HELLO in JSON; returns the peer id the broker gave (static). */
static const char *ws_hello_json(struct ws_client *ws, const char *name) {
        static char id[64];
        char hello[128];
        json_object *o, *body;

        (void) snprintf(hello, sizeof(hello), "{\"type\":\"HELLO\",\"serial\":1,\"body\":{\"name\":\"%s\"}}", name);
        o = ws_json_roundtrip(ws, hello);
        ck_assert_str_eq(test_json_str(o, "type"), "WELCOME");
        ck_assert(json_object_object_get_ex(o, "body", &body));
        (void) snprintf(id, sizeof(id), "%s", test_json_str(body, "id") ?: "");
        ck_assert_msg(id[0] == ':', "WELCOME without a peer id: %s", json_object_to_json_string(o));
        json_object_put(o);
        return id;
}

/* Live events: a subscriber in binary frames and one in JSON both get an event emitted by a
 * daemon on the UNIX socket, and the broker's own events. */
START_TEST(test_live_events_reach_binary_and_json_subscribers) {
        struct ws_client bin, text;
        struct raw_buf b = {};
        struct env e;
        struct mbus_conn *owner;
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *o, *payload, *body;
        char *m = NULL;
        size_t len = 0;

        env_start(&e, NULL);
        ws_open_ok(&bin, e.port);
        ws_hello_binary_and_list(&bin, "events-binary");
        raw_frame_begin(&b, MBUS_FRAME_SUBSCRIBE);
        raw_field_u64(&b, MBUS_FIELD_SERIAL, 3);
        raw_field_str(&b, MBUS_FIELD_PATTERN, NS ".*");
        raw_frame_finish(&b, NULL);
        ck_assert_int_eq(ws_client_send(&bin, WS_BINARY, b.data, b.len), 0);
        raw_buf_done(&b);
        ck_assert_int_eq(ws_client_recv(&bin, &m, &len), WS_BINARY);
        ck_assert_int_eq(m[1], MBUS_FRAME_RETURN);
        free(m);

        ws_open_ok(&text, e.port);
        (void) ws_hello_json(&text, "events-json");
        o = ws_json_roundtrip(&text, "{\"type\":\"SUBSCRIBE\",\"serial\":2,\"pattern\":\"org.mbus.Broker.*\"}");
        ck_assert_str_eq(test_json_str(o, "type"), "RETURN");
        json_object_put(o);
        o = ws_json_roundtrip(&text, "{\"type\":\"SUBSCRIBE\",\"serial\":3,\"pattern\":\"" NS ".*\"}");
        ck_assert_str_eq(test_json_str(o, "type"), "RETURN");
        json_object_put(o);

        /* A daemon connects and takes the namespace: the broker says both, in order. */
        owner = test_connect(e.b.address, "owner");
        ck_assert_int_eq(mbus_register(owner, NS, NULL, 0, NULL, NULL, &error), 0);
        for (size_t i = 0; i < 2; i++) {
                static const char *const expect[] = { "PeerConnected", "NamespaceOwnerChanged" };

                ck_assert_int_eq(ws_client_recv(&text, &m, NULL), WS_TEXT);
                o = ws_json(m);
                free(m);
                ck_assert_str_eq(test_json_str(o, "type"), "EVENT");
                ck_assert_str_eq(test_json_str(o, "namespace"), "org.mbus.Broker");
                ck_assert_str_eq(test_json_str(o, "member"), expect[i]);
                ck_assert(json_object_object_get_ex(o, "body", &body));
                if (i == 0)
                        ck_assert_str_eq(test_json_str(body, "name"), "owner");
                else
                        ck_assert_str_eq(test_json_str(body, "namespace"), NS);
                json_object_put(o);
        }

        /* Its event reaches both forms, with its sender and payload. */
        payload = json_tokener_parse("{\"level\":3}");
        ck_assert_int_eq(mbus_emit_wait(owner, NULL, NS, "Changed", payload, 0, &error), 0);
        json_object_put(payload);

        ck_assert_int_eq(ws_client_recv(&bin, &m, &len), WS_BINARY);
        ck_assert_uint_ge(len, MBUS_FRAME_HEADER_SIZE);
        ck_assert_int_eq(m[1], MBUS_FRAME_EVENT);
        ck_assert_ptr_nonnull(memmem(m, len, "Changed", 7));
        ck_assert_ptr_nonnull(memmem(m, len, "{\"level\":3}", 11));
        free(m);

        ck_assert_int_eq(ws_client_recv(&text, &m, NULL), WS_TEXT);
        o = ws_json(m);
        free(m);
        ck_assert_str_eq(test_json_str(o, "type"), "EVENT");
        ck_assert_str_eq(test_json_str(o, "namespace"), NS);
        ck_assert_str_eq(test_json_str(o, "member"), "Changed");
        ck_assert_str_eq(test_json_str(o, "sender"), mbus_conn_get_unique_id(owner));
        ck_assert(json_object_object_get_ex(o, "body", &body));
        ck_assert_int_eq(test_json_int(body, "level"), 3);
        json_object_put(o);

        mbus_conn_unref(owner);
        ws_client_close(&bin);
        ws_client_close(&text);
        env_done(&e);
}
END_TEST

static char certs[256];

static const char *cert_path(const char *name, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/%s", certs, name);
        return buf;
}

/* A broker with a wss:// listener on loopback and the test CA, CRL and server certificate. */
static void env_start_wss_policies(struct env *e, bool bench) {
        char cert[300], key[300], ca[300], crl[300];
        const char *more[] = {
                "--tls-cert", cert_path("server.pem", cert, sizeof(cert)),
                "--tls-key", cert_path("server-key.pem", key, sizeof(key)),
                "--tls-ca", cert_path("ca.pem", ca, sizeof(ca)),
                "--tls-crl", cert_path("crl.pem", crl, sizeof(crl)),
                NULL };

        env_start_listen_policies(e, "wss", more, bench);
}

static void env_start_wss(struct env *e) {
        env_start_wss_policies(e, /* bench= */ false);
}

/* Opens wss:// with the named client certificate (NULL: none); returns the HTTP status or -EPROTO. */
static int wss_open(struct ws_client *ws, const struct env *e, const char *name) {
        char cert[300], key[300], ca[300];
        struct ws_tls tls = { .ca = cert_path("ca.pem", ca, sizeof(ca)) };

        if (name) {
                (void) snprintf(cert, sizeof(cert), "%s/%s.pem", certs, name);
                (void) snprintf(key, sizeof(key), "%s/%s-key.pem", certs, name);
                tls.cert = cert;
                tls.key = key;
        }
        return ws_client_open(ws, e->port, "/v1/ws", NULL, &tls);
}

START_TEST(test_wss_peer_is_named_by_its_client_certificate) {
        struct ws_client ws;
        struct test_service svc;
        struct env e;
        const char *id;
        char call[256];
        json_object *o, *body, *cert;

        env_start_wss(&e);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);
        ck_assert_int_eq(wss_open(&ws, &e, "client"), 101);
        id = ws_hello_json(&ws, "wss-client");

        (void) snprintf(call, sizeof(call), "{\"type\":\"CALL\",\"serial\":2,\"namespace\":\"org.mbus.Broker\","
                        "\"member\":\"GetPeer\",\"body\":{\"id\":\"%s\"}}", id);
        o = ws_json_roundtrip(&ws, call);
        ck_assert_msg(strcmp(test_json_str(o, "type") ?: "", "RETURN") == 0, "%s", json_object_to_json_string(o));
        ck_assert(json_object_object_get_ex(o, "body", &body));
        ck_assert_str_eq(test_json_str(body, "transport"), "wss");
        ck_assert(strncmp(test_json_str(body, "address") ?: "", "127.0.0.1:", 10) == 0);
        ck_assert(json_object_object_get_ex(body, "cert", &cert) && cert);
        ck_assert_str_eq(test_json_str(cert, "cn"), "client1");
        ck_assert_str_eq(test_json_str(cert, "issuer"), "CN=mbus test CA");
        json_object_put(o);

        /* And it reaches a daemon on the UNIX socket like any peer. */
        o = ws_json_roundtrip(&ws, "{\"type\":\"CALL\",\"serial\":3,\"namespace\":\"" NS "\",\"member\":\"Echo\","
                                   "\"body\":{\"over\":\"wss\"}}");
        ck_assert_str_eq(test_json_str(o, "type"), "RETURN");
        ck_assert(json_object_object_get_ex(o, "body", &body));
        ck_assert_str_eq(test_json_str(body, "over"), "wss");
        json_object_put(o);

        ws_client_close(&ws);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        env_done(&e);
}
END_TEST

/* No certificate, an expired one, a revoked one: refused in the handshake and logged with the
 * reason and address; a good peer next to them never notices. */
START_TEST(test_wss_bad_certificates_are_refused_and_logged) {
        static const struct {
                const char *name;
                const char *broker_says;
        } cases[] = {
                { NULL, "peer did not return a certificate" },
                { "expired", "certificate verification failed: certificate has expired" },
                { "revoked", "certificate verification failed: certificate revoked" },
        };
        struct ws_client good, ws;
        struct env e;
        json_object *o;

        env_start_wss(&e);
        ck_assert_int_eq(wss_open(&good, &e, "client"), 101);
        (void) ws_hello_json(&good, "good");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = wss_open(&ws, &e, cases[i].name);

                ck_assert_msg(r == -EPROTO, "%s: %d", cases[i].name ?: "no cert", r);
                ws_client_close(&ws);
                ck_assert_msg(test_file_wait_for(e.c.log, cases[i].broker_says, 5000), "%s: not logged: %s",
                              cases[i].name ?: "no cert", cases[i].broker_says);
                ck_assert(test_file_wait_for(e.c.log, "Refused TLS connection from 127.0.0.1:", 5000));
        }

        o = ws_json_roundtrip(&good, "{\"type\":\"CALL\",\"serial\":2,\"namespace\":\"org.mbus.Broker\","
                                     "\"member\":\"Ping\"}");
        ck_assert_str_eq(test_json_str(o, "type"), "RETURN");
        json_object_put(o);
        ws_client_close(&good);
        env_done(&e);
}
END_TEST

/* ---- mbus-bench over WebSocket ------------------------------------------------------------ */

/* Runs mbus-bench with argv (after its path) and returns its JSON; the run must succeed. */
static json_object *bench_run(const char *const *args) {
        const char *argv[32] = { TOOL("mbus-bench") };
        struct proc p;
        struct run r;
        json_object *o;
        size_t n = 1;

        for (size_t i = 0; args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        proc_start(&p, argv);
        proc_finish(&p, &r, 240000);
        ck_assert_msg(r.status == 0, "mbus-bench failed (%d): %s", r.status, r.err);
        o = json_tokener_parse(r.out);
        ck_assert_msg(o, "mbus-bench printed no JSON: %s", r.out);
        return o;
}

/* A figure of mbus-bench's JSON: table (results, min, max) -> scenario -> name. */
static double bench_value(json_object *root, const char *table, const char *scenario, const char *name) {
        json_object *t, *s, *v;

        ck_assert_msg(json_object_object_get_ex(root, table, &t) && json_object_object_get_ex(t, scenario, &s) &&
                      json_object_object_get_ex(s, name, &v), "no %s.%s.%s", table, scenario, name);
        return json_object_get_double(v);
}

/* Every subscriber saw every event once and in order, in every run (the max of each count). */
static void assert_every_event_once(json_object *o, const char *scenario) {
        static const char *const counts[] = { "lost", "duplicates", "reordered" };

        ck_assert(bench_value(o, "results", scenario, "delivered_per_sec") > 0);
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                ck_assert_msg(bench_value(o, "max", scenario, counts[i]) == 0, "%s: %s %g", scenario, counts[i],
                              bench_value(o, "max", scenario, counts[i]));
}

static bool bench_target_passes(json_object *o, const char *name) {
        json_object *targets, *pass;

        ck_assert(json_object_object_get_ex(o, "targets", &targets));
        for (size_t i = 0; i < json_object_array_length(targets); i++) {
                json_object *t = json_object_array_get_idx(targets, i);

                if (strcmp(test_json_str(t, "name") ?: "", name) == 0)
                        return json_object_object_get_ex(t, "pass", &pass) && json_object_get_boolean(pass);
        }
        ck_abort_msg("no target %s", name);
        return false;
}

START_TEST(test_mbus_bench_transport_ws_checks_every_event_and_call) {
        const char *broker = getenv("MBUS_TEST_BROKER");
        json_object *o;

        ck_assert_ptr_nonnull(broker);
        /* a broker of its own with both listeners; the UNIX figures of the same run beside */
        o = bench_run((const char *[]) { "--broker", broker, "--transport", "ws", "-s", "fanout-ws", "-s", "rpc-seq-ws",
                                         "--json", "--calls", "300", "--events", "2000", "--subscribers", "3", NULL });
        ck_assert_str_eq(test_json_str(o, "ws_messages"), "binary");
        assert_every_event_once(o, "fanout-ws");
        ck_assert(bench_value(o, "results", "fanout-ws", "unix_delivered_per_sec") > 0);
        ck_assert(bench_value(o, "results", "fanout-ws", "delivered_vs_unix") > 0);
        ck_assert(bench_value(o, "max", "fanout-ws", "unix_errors") == 0);
        ck_assert(bench_target_passes(o, "ws-fanout-exactly-once"));
        /* every call was answered with its own echo, or the run would have failed */
        ck_assert(bench_value(o, "results", "rpc-seq-ws", "calls_per_sec") > 0);
        ck_assert(bench_value(o, "results", "rpc-seq-ws", "p50_usec") > 0);
        ck_assert(bench_value(o, "results", "rpc-seq-ws", "unix_p50_usec") > 0);
        ck_assert(bench_value(o, "results", "rpc-seq-ws", "p50_vs_unix") > 0);
        json_object_put(o);
}
END_TEST

START_TEST(test_mbus_bench_address_ws_puts_every_peer_on_websocket) {
        char address[64];
        json_object *o, *results, *v;
        struct env e;

        env_start_listen_policies(&e, "ws", NULL, /* bench= */ true);
        (void) snprintf(address, sizeof(address), "ws://127.0.0.1:%u", e.port);
        /* the JSON text form, which the broker answers in kind */
        o = bench_run((const char *[]) { "--address", address, "--ws-json", "--json", "--calls", "300", "--events",
                                         "1000", "--subscribers", "2", NULL });
        ck_assert_str_eq(test_json_str(o, "ws_messages"), "json");
        /* the default set over WebSocket: rpc-seq and fanout, nothing that needs a UNIX socket */
        ck_assert(json_object_object_get_ex(o, "results", &results));
        ck_assert_int_eq(json_object_object_length(results), 2);
        ck_assert(bench_value(o, "results", "rpc-seq", "calls_per_sec") > 0);
        assert_every_event_once(o, "fanout");
        ck_assert(bench_target_passes(o, "fanout-exactly-once"));
        /* the broker's pid is not known over TCP: no CPU figures rather than wrong ones */
        ck_assert(json_object_object_get_ex(results, "rpc-seq", &v));
        ck_assert(!json_object_object_get_ex(v, "broker_cpu_usec_per_call", NULL));
        json_object_put(o);
        env_done(&e);
}
END_TEST

START_TEST(test_mbus_bench_address_wss_uses_the_client_certificate) {
        char address[64], cert[300], key[300], ca[300];
        json_object *o;
        struct env e;
        struct run r;

        env_start_wss_policies(&e, /* bench= */ true);
        (void) snprintf(address, sizeof(address), "wss://127.0.0.1:%u", e.port);
        o = bench_run((const char *[]) { "--address", address, "-s", "rpc-seq", "--json", "--calls", "200",
                                         "--tls-cert", cert_path("client.pem", cert, sizeof(cert)),
                                         "--tls-key", cert_path("client-key.pem", key, sizeof(key)),
                                         "--tls-ca", cert_path("ca.pem", ca, sizeof(ca)), NULL });
        ck_assert(bench_value(o, "results", "rpc-seq", "calls_per_sec") > 0);
        json_object_put(o);

        /* without a client certificate the broker refuses, and the bench says so and fails */
        run_tool(&r, (const char *[]) { TOOL("mbus-bench"), "--address", address, "-s", "rpc-seq", "--calls", "10",
                                        "--tls-ca", ca, NULL });
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "TLS") || strstr(r.err, "upgrade"), "%s", r.err);
        env_done(&e);
}
END_TEST

START_TEST(test_mbus_bench_address_ws_refuses_scenarios_without_websocket_peers) {
        struct run r;

        run_tool(&r, (const char *[]) { TOOL("mbus-bench"), "--address", "ws://127.0.0.1:9", "-s", "idle", NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "scenario idle has no WebSocket peers"), "%s", r.err);
}
END_TEST

static Suite *ws_suite(void) {
        Suite *s = suite_create("ws");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_binary_frames_hello_and_call);
        tcase_add_test(tc, test_json_form_calls_a_unix_service_and_receives_events);
        tcase_add_test(tc, test_origin_path_and_subprotocol_are_checked);
        tcase_add_test(tc, test_bad_traffic_costs_only_that_peer);
        tcase_add_test(tc, test_plain_ws_only_on_loopback_unless_forced);
        tcase_add_test(tc, test_live_events_reach_binary_and_json_subscribers);
        tcase_add_test(tc, test_wss_peer_is_named_by_its_client_certificate);
        tcase_add_test(tc, test_wss_bad_certificates_are_refused_and_logged);
        suite_add_tcase(s, tc);

        /* whole benchmark runs: generous, as on a loaded machine under the sanitizers */
        tc = tcase_create("bench");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_mbus_bench_transport_ws_checks_every_event_and_call);
        tcase_add_test(tc, test_mbus_bench_address_ws_puts_every_peer_on_websocket);
        tcase_add_test(tc, test_mbus_bench_address_wss_uses_the_client_certificate);
        tcase_add_test(tc, test_mbus_bench_address_ws_refuses_scenarios_without_websocket_peers);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int r;

        if (test_config_root_init() < 0)
                return EXIT_FAILURE;
        if (test_make_certs(certs, sizeof(certs)) < 0) {
                test_config_root_done();
                return EXIT_FAILURE;
        }
        r = mbus_test_run_suite(ws_suite(), CK_NORMAL);
        test_remove_certs(certs);
        test_config_root_done();
        return r;
}
