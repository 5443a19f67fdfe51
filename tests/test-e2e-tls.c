/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peers on the network: a real broker with a UNIX socket and a tls:// (or tcp://) listener on
 * loopback, certificates made for this run with the openssl command line
 * (helpers/make-test-certs), libmbus clients connecting by tls:// address. What a remote
 * daemon sees: it joins only with a valid client certificate, every bad one is refused in the
 * handshake and logged with its reason, it is named by its certificate in GetPeer and in policy
 * decisions, and a peer that stalls or misbehaves costs only itself.
 */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "proto/address.h"
#include "proto/frame.h"
#include "proto/stream.h"
#include "proto/tls.h"
#include "util/test-util.h"

#define NS "org.example.Echo"
#define REMOTE_NS "org.example.Remote"

static char certs[256];

static const char *cert_path(const char *name, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/%s", certs, name);
        return buf;
}

static unsigned free_port(void) {
        unsigned port = test_free_tcp_port();

        ck_assert_uint_gt(port, 0);
        return port;
}

struct env {
        struct test_config c;
        struct test_broker b;
        unsigned port;
        char tls[128];          /* tls://127.0.0.1:PORT */
};

/* Policy of the test namespaces: certificate peers are named by CN, SAN and fingerprint. */
static const char echo_policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow own=\"true\" user=\"root\"/>\n"
        "  <allow call=\"*\" cert-cn=\"client1\"/>\n"
        "  <allow call=\"Echo\" cert-san=\"DNS:node2.example.org\"/>\n"
        "  <allow subscribe=\"*\" user=\"*\"/>\n"
        "</policy>\n";

static const char remote_policy[] =
        "<policy namespace=\"" REMOTE_NS "\">\n"
        "  <allow own=\"true\" cert-cn=\"client1\"/>\n"
        "  <allow call=\"*\" user=\"root\"/>\n"
        "  <allow subscribe=\"*\" user=\"*\"/>\n"
        "  <allow send=\"*\" cert-cn=\"client1\"/>\n"
        "</policy>\n";

static void env_start_args(struct env *e, const char *const *more) {
        char cert[300], key[300], ca[300], crl[300];
        const char *args[32] = {
                "--config-dir", e->c.dir, "--scope", "system", "--listen", e->tls,
                "--tls-cert", cert_path("server.pem", cert, sizeof(cert)),
                "--tls-key", cert_path("server-key.pem", key, sizeof(key)),
                "--tls-ca", cert_path("ca.pem", ca, sizeof(ca)),
                "--tls-crl", cert_path("crl.pem", crl, sizeof(crl)),
        };
        size_t n = 14;

        for (size_t i = 0; more && more[i]; i++)
                args[n++] = more[i];
        args[n] = NULL;
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_init(struct env *e) {
        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        test_config_write(&e->c, "policy.d/" NS ".xml", echo_policy);
        test_config_write(&e->c, "policy.d/" REMOTE_NS ".xml", remote_policy);
        e->port = free_port();
        (void) snprintf(e->tls, sizeof(e->tls), "tls://127.0.0.1:%u", e->port);
}

static void env_start(struct env *e) {
        env_init(e);
        env_start_args(e, NULL);
}

static void env_done(struct env *e) {
        int st = test_broker_stop(&e->b);

        if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                char cmd[400];

                (void) snprintf(cmd, sizeof(cmd), "cat %s >&2", e->c.log);
                (void) !system(cmd);
        }
        test_config_remove(&e->c);
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: status %d", st);
}

/* tls://127.0.0.1:PORT?cert=DIR/NAME.pem&key=DIR/NAME-key.pem&ca=DIR/ca.pem; name NULL: no cert. */
static const char *client_address(const struct env *e, const char *name, char *buf, size_t size) {
        if (name)
                (void) snprintf(buf, size, "%s?cert=%s/%s.pem&key=%s/%s-key.pem&ca=%s/ca.pem", e->tls, certs, name,
                                certs, name, certs);
        else
                (void) snprintf(buf, size, "%s?ca=%s/ca.pem", e->tls, certs);
        return buf;
}

static json_object *call_ok(struct mbus_conn *c, const char *ns, const char *member, const char *args_json) {
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *args = args_json ? json_tokener_parse(args_json) : NULL, *result = NULL;
        int r;

        r = mbus_call(c, ns, member, args, 0, &result, &error);
        ck_assert_msg(r >= 0, "%s.%s: %s: %s", ns, member, error.name ?: "?", error.message ?: strerror(-r));
        json_object_put(args);
        mbus_error_free(&error);
        return result;
}

/* Calls and expects the error name; returns its message (static). */
static const char *call_fails(struct mbus_conn *c, const char *ns, const char *member, const char *error_name) {
        static char message[512];
        struct mbus_error error = MBUS_ERROR_NULL;
        json_object *result = NULL;
        int r;

        r = mbus_call(c, ns, member, NULL, 0, &result, &error);
        ck_assert_msg(r < 0, "%s.%s succeeded", ns, member);
        ck_assert_str_eq(error.name ?: "", error_name);
        (void) snprintf(message, sizeof(message), "%s", error.message ?: "");
        mbus_error_free(&error);
        json_object_put(result);
        return message;
}

/* SHA-256 fingerprint of NAME.pem as openssl prints it: "AB:CD:...". */
static void openssl_fingerprint(const char *name, char *buf, size_t size) {
        char cmd[600];
        FILE *f;

        (void) snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/%s.pem -noout -fingerprint -sha256 | sed 's/.*=//'",
                        certs, name);
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, (int) size, f));
        pclose(f);
        buf[strcspn(buf, "\n")] = 0;
        ck_assert_uint_eq(strlen(buf), 95);
}

START_TEST(test_tls_client_calls_a_unix_service_and_is_named_by_its_certificate) {
        struct env e;
        struct test_service svc;
        struct mbus_conn *c;
        char addr[1024], fp[128] = "", id[64];
        json_object *r, *cert, *v;

        env_start(&e);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);

        c = test_connect(client_address(&e, "client", addr, sizeof(addr)), "remote-client");
        r = call_ok(c, NS, "Echo", "{\"hello\":\"tls\"}");
        ck_assert_str_eq(test_json_str(r, "hello"), "tls");
        json_object_put(r);

        /* GetPeer names it by transport, address and certificate, and gives it no uid. */
        (void) snprintf(id, sizeof(id), "{\"id\":\"%s\"}", mbus_conn_get_unique_id(c));
        r = call_ok(c, "org.mbus.Broker", "GetPeer", id);
        ck_assert_str_eq(test_json_str(r, "transport"), "tls");
        ck_assert(strncmp(test_json_str(r, "address") ?: "", "127.0.0.1:", 10) == 0);
        ck_assert(json_object_object_get_ex(r, "uid", &v) && v == NULL);
        ck_assert(json_object_object_get_ex(r, "pid", &v) && v == NULL);
        ck_assert(json_object_object_get_ex(r, "cert", &cert) && cert);
        ck_assert_str_eq(test_json_str(cert, "cn"), "client1");
        ck_assert_str_eq(test_json_str(cert, "issuer"), "CN=mbus test CA");
        ck_assert(json_object_object_get_ex(cert, "san", &v));
        ck_assert_int_eq(json_object_array_length(v), 3);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "DNS:node1.example.org");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 1)), "URI:spiffe://example.org/node1");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 2)), "email:node1@example.org");

        /* The fingerprint is the one openssl prints for the same file, in lowercase without colons. */
        openssl_fingerprint("client", fp, sizeof(fp));
        for (char *p = fp, *q = fp;; p++)
                if (*p != ':' && !(*q++ = (char) (*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p)))
                        break;
        ck_assert_uint_eq(strlen(fp), 64);
        ck_assert_str_eq(test_json_str(cert, "fingerprint"), fp);
        json_object_put(r);

        mbus_conn_unref(c);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        env_done(&e);
}
END_TEST

static int on_event(struct mbus_conn *conn, const struct mbus_event *event, void *userdata) {
        json_object **got = userdata;

        if (!*got)
                *got = json_object_get(event->payload);
        return 0;
}

START_TEST(test_unix_client_calls_a_tls_service_and_receives_its_events) {
        struct env e;
        struct test_service svc;
        struct mbus_conn *c;
        char addr[1024];
        json_object *r;

        env_start(&e);
        ck_assert_int_eq(test_service_start(&svc, client_address(&e, "client", addr, sizeof(addr)), REMOTE_NS), 0);

        c = test_connect(e.b.address, "local-client");
        r = call_ok(c, REMOTE_NS, "Echo", "{\"from\":\"unix\"}");
        ck_assert_str_eq(test_json_str(r, "from"), "unix");
        json_object_put(r);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, REMOTE_NS), 0);

        /* Events from a TLS publisher reach a UNIX subscriber, and the reverse. */
        {
                struct mbus_conn *pub = test_connect(client_address(&e, "client", addr, sizeof(addr)), "pub");
                json_object *got = NULL, *payload = json_tokener_parse("{\"state\":\"up\"}");
                struct mbus_conn *tls_sub = test_connect(client_address(&e, "client", addr, sizeof(addr)), "sub");
                json_object *got2 = NULL;
                struct mbus_slot *slot1 = NULL, *slot2 = NULL;

                ck_assert_int_eq(mbus_subscribe(c, REMOTE_NS ".StateChanged", on_event, &got, &slot1, NULL), 0);
                ck_assert_int_eq(mbus_subscribe(tls_sub, NS ".*", on_event, &got2, &slot2, NULL), 0);
                ck_assert_int_eq(mbus_register(pub, REMOTE_NS, NULL, 0, (const char *const[]) { "StateChanged", NULL },
                                               NULL, NULL), 0);
                ck_assert_int_eq(mbus_emit_wait(pub, NULL, REMOTE_NS, "StateChanged", payload, 0, NULL), 0);
                ck_assert_int_eq(test_pump(c, -1, 300), 0);
                ck_assert_ptr_nonnull(got);
                ck_assert_str_eq(test_json_str(got, "state"), "up");

                ck_assert_int_eq(mbus_register(c, NS, NULL, 0, (const char *const[]) { "Tick", NULL }, NULL, NULL), 0);
                ck_assert_int_eq(mbus_emit_wait(c, NULL, NS, "Tick", payload, 0, NULL), 0);
                ck_assert_int_eq(test_pump(tls_sub, -1, 300), 0);
                ck_assert_ptr_nonnull(got2);
                ck_assert_str_eq(test_json_str(got2, "state"), "up");

                mbus_slot_free(slot1);
                mbus_slot_free(slot2);
                json_object_put(got);
                json_object_put(got2);
                json_object_put(payload);
                mbus_conn_unref(pub);
                mbus_conn_unref(tls_sub);
        }
        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_policy_names_tls_peers_by_cn_san_and_fingerprint) {
        struct env e;
        struct test_service svc;
        struct mbus_conn *c1, *c2, *unix_conn;
        char addr[1024];
        const char *msg;
        char fp[128], policy[2048];
        json_object *r;

        /* client2 may also call Fail, by its certificate's fingerprint as openssl prints it. */
        env_init(&e);
        openssl_fingerprint("client2", fp, sizeof(fp));
        (void) snprintf(policy, sizeof(policy), "%.*s  <allow call=\"Fail\" cert-fingerprint=\"%s\"/>\n</policy>\n",
                        (int) (strlen(echo_policy) - strlen("</policy>\n")), echo_policy, fp);
        test_config_write(&e.c, "policy.d/" NS ".xml", policy);
        env_start_args(&e, NULL);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);

        /* client1: cert-cn rule, every procedure. */
        c1 = test_connect(client_address(&e, "client", addr, sizeof(addr)), "c1");
        /* Fail answers an error of the service's own: reaching it proves the call passed policy. */
        (void) call_fails(c1, NS, "Fail", "org.example.Error.Failed");

        /* client2: only Echo, by its SAN; anything else is denied by default, and the denial
         * names the certificate. */
        c2 = test_connect(client_address(&e, "client2", addr, sizeof(addr)), "c2");
        r = call_ok(c2, NS, "Echo", "{}");
        json_object_put(r);
        msg = call_fails(c2, NS, "Hang", "org.mbus.Error.AccessDenied");
        ck_assert_msg(strstr(msg, "by certificate CN=client2 from 127.0.0.1:"), "%s", msg);
        /* ...and Fail by its fingerprint: the call reaches the service. */
        (void) call_fails(c2, NS, "Fail", "org.example.Error.Failed");

        /* A certificate peer is not root: it may not own what only root may own. */
        ck_assert_int_eq(mbus_register(c2, "org.example.Other", NULL, 0, NULL, NULL, NULL), -EACCES);

        /* A UNIX peer matches no certificate rule: nobody in its place. */
        unix_conn = test_connect(e.b.address, "unix");
        r = call_ok(unix_conn, NS, "Echo", "{}");     /* root: the system default */
        json_object_put(r);

        mbus_conn_unref(c1);
        mbus_conn_unref(c2);
        mbus_conn_unref(unix_conn);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        env_done(&e);
}
END_TEST

#define ADDR_NS "org.example.Addr"

START_TEST(test_policy_by_address_and_by_a_certificate_mapped_to_a_user) {
        struct env e;
        struct test_service svc;
        struct mbus_conn *c1, *c2;
        char addr[1024];
        const char *msg;

        env_init(&e);
        test_config_write(&e.c, "policy.d/" ADDR_NS ".xml",
                          "<policy namespace=\"" ADDR_NS "\">\n"
                          "  <allow own=\"true\" user=\"root\"/>\n"
                          "  <allow call=\"Echo\" address=\"127.0.0.0/8\"/>\n"
                          "  <deny call=\"Echo\" cert-cn=\"client2\" address=\"127.0.0.0/8\"/>\n"
                          "  <allow call=\"Fail\" user=\"nobody\"/>\n"
                          "  <allow call=\"Hang\" address=\"10.0.0.0/8\"/>\n"
                          "</policy>\n");
        test_config_write(&e.c, "policy.d/@identities.xml",
                          "<identities>\n"
                          "  <map cert-cn=\"client2\" user=\"nobody\"/>\n"
                          "</identities>\n");
        env_start_args(&e, NULL);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, ADDR_NS), 0);
        c1 = test_connect(client_address(&e, "client", addr, sizeof(addr)), "c1");
        c2 = test_connect(client_address(&e, "client2", addr, sizeof(addr)), "c2");

        /* From loopback: the address rule lets client1 in... */
        json_object_put(call_ok(c1, ADDR_NS, "Echo", "{}"));
        /* ...and a rule naming certificate and address together, more specific, keeps client2 out. */
        msg = call_fails(c2, ADDR_NS, "Echo", "org.mbus.Error.AccessDenied");
        ck_assert_msg(strstr(msg, "rule 'deny call Echo cert-cn=client2 address=127.0.0.0/8'"), "%s", msg);
        /* An address that does not match decides nothing. */
        msg = call_fails(c1, ADDR_NS, "Hang", "org.mbus.Error.AccessDenied");
        ck_assert_msg(strstr(msg, "no rule matched"), "%s", msg);

        /* client2's certificate is mapped to nobody: the user rule applies to it, and the
         * decision says so; client1 has no mapping, hence no uid. */
        (void) call_fails(c2, ADDR_NS, "Fail", "org.example.Error.Failed");
        msg = call_fails(c1, ADDR_NS, "Fail", "org.mbus.Error.AccessDenied");
        ck_assert_msg(strstr(msg, "by certificate CN=client1"), "%s", msg);

        mbus_conn_unref(c1);
        mbus_conn_unref(c2);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, ADDR_NS), 0);
        env_done(&e);
}
END_TEST

/* Each bad certificate: refused in the handshake, the client told why, the broker's log says
 * why with the peer's address. */
START_TEST(test_bad_certificates_are_refused_and_logged) {
        static const struct {
                const char *name;               /* NULL: no client certificate */
                const char *client_says;
                const char *broker_says;
        } cases[] = {
                { "expired", "certificate expired", "certificate verification failed: certificate has expired" },
                { "future", "bad certificate", "certificate verification failed: certificate is not yet valid" },
                { "revoked", "certificate revoked", "certificate verification failed: certificate revoked" },
                { "other", "unknown ca", "certificate verification failed: unable to get local issuer certificate" },
                { NULL, "certificate required", "peer did not return a certificate" },
        };
        struct env e;
        struct mbus_conn *ok;
        char addr[1024], needle[300];
        json_object *r;

        env_start(&e);
        ok = test_connect(client_address(&e, "client", addr, sizeof(addr)), "ok");

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct mbus_error error = MBUS_ERROR_NULL;
                struct mbus_conn *c = NULL;
                int k;

                k = mbus_conn_open_with_error(&c, client_address(&e, cases[i].name, addr, sizeof(addr)), "bad", &error);
                ck_assert_msg(k == -EPROTO, "%s: %d", cases[i].name ?: "no cert", k);
                ck_assert_ptr_null(c);
                ck_assert_msg(error.message && strstr(error.message, cases[i].client_says), "%s: %s",
                              cases[i].name ?: "no cert", error.message ?: "(none)");
                mbus_error_free(&error);

                (void) snprintf(needle, sizeof(needle), "Refused TLS connection from 127.0.0.1:");
                ck_assert(test_file_wait_for(e.c.log, cases[i].broker_says, 5000));
                ck_assert(test_file_wait_for(e.c.log, needle, 5000));
        }

        /* The good client never noticed. */
        r = call_ok(ok, "org.mbus.Broker", "Ping", NULL);
        json_object_put(r);
        mbus_conn_unref(ok);
        env_done(&e);
}
END_TEST

START_TEST(test_client_refuses_a_server_it_cannot_verify) {
        struct env e;
        struct mbus_error error = MBUS_ERROR_NULL;
        struct mbus_conn *c = NULL;
        char addr[1024];

        env_start(&e);
        /* The other CA did not sign the broker's certificate. */
        (void) snprintf(addr, sizeof(addr), "%s?cert=%s/client.pem&key=%s/client-key.pem&ca=%s/other-ca.pem",
                        e.tls, certs, certs, certs);
        ck_assert_int_eq(mbus_conn_open_with_error(&c, addr, "c", &error), -EPROTO);
        ck_assert_msg(error.message && strstr(error.message, "certificate verification failed"), "%s",
                      error.message ?: "");
        mbus_error_free(&error);

        /* The broker's certificate names localhost and 127.0.0.1, not this name. */
        (void) snprintf(addr, sizeof(addr), "%s?cert=%s/client.pem&key=%s/client-key.pem&ca=%s/ca.pem&name=bus.example.org",
                        e.tls, certs, certs, certs);
        ck_assert_int_eq(mbus_conn_open_with_error(&c, addr, "c", &error), -EPROTO);
        ck_assert_msg(error.message && strstr(error.message, "hostname mismatch"), "%s", error.message ?: "");
        mbus_error_free(&error);
        env_done(&e);
}
END_TEST

/* Connects a plain TCP socket to the TLS port. */
static int tcp_connect(unsigned port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* Waits for the broker to close fd; returns the milliseconds it took, or -1. */
static long long wait_closed(int fd, int timeout_ms) {
        long long start = test_now_ms();

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char buf[4096];
                long long left = timeout_ms - (test_now_ms() - start);

                if (left <= 0 || poll(&p, 1, (int) left) <= 0)
                        return -1;
                if (read(fd, buf, sizeof(buf)) <= 0)
                        return test_now_ms() - start;
        }
}

START_TEST(test_stalled_handshake_is_dropped_at_the_deadline_while_others_call) {
        static const char *const more[] = { "--handshake-timeout", "0.5", NULL };
        static const unsigned char partial_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
        struct env e;
        struct test_service svc;
        struct mbus_conn *c;
        char addr[1024];
        int silent, partial;
        long long t0;

        env_init(&e);
        env_start_args(&e, more);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);
        c = test_connect(client_address(&e, "client", addr, sizeof(addr)), "busy");

        silent = tcp_connect(e.port);                   /* says nothing at all */
        partial = tcp_connect(e.port);                  /* half a ClientHello, then nothing */
        ck_assert_int_eq(write(partial, partial_hello, sizeof(partial_hello)), (ssize_t) sizeof(partial_hello));

        /* Meanwhile a TLS client keeps calling, undisturbed. */
        t0 = test_now_ms();
        while (test_now_ms() - t0 < 300) {
                json_object *r = call_ok(c, NS, "Echo", "{\"n\":1}");
                json_object_put(r);
        }

        /* Both are dropped once the deadline passes (0.5 s; the sweep runs every 0.125 s). */
        ck_assert_int_ge(wait_closed(silent, 5000), 0);
        ck_assert_int_ge(wait_closed(partial, 5000), 0);
        ck_assert_int_ge(test_now_ms() - t0, 400);
        ck_assert(test_file_wait_for(e.c.log, "the TLS handshake did not finish in time", 2000));
        close(silent);
        close(partial);

        json_object_put(call_ok(c, NS, "Echo", "{}"));
        mbus_conn_unref(c);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        env_done(&e);
}
END_TEST

/* A client that completes the TLS handshake with a good certificate and then sends garbage:
 * the broker answers ProtocolError over TLS and drops it; nobody else notices. */
START_TEST(test_garbage_after_the_handshake_costs_only_that_peer) {
        static const char garbage[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        _cleanup_(mbus_tls_context_unrefp) struct mbus_tls_context *ctx = NULL;
        struct mbus_stream s;
        struct env e;
        struct mbus_conn *c;
        char addr[1024], reason[MBUS_TLS_REASON_MAX], cert[300], key[300], ca[300];
        struct iovec iov = { .iov_base = (void *) garbage, .iov_len = sizeof(garbage) - 1 };
        int fd, r;
        bool got_error = false;
        long long t0;

        env_start(&e);
        c = test_connect(client_address(&e, "client", addr, sizeof(addr)), "bystander");

        ck_assert_int_eq(mbus_tls_context_new(&ctx,
                                              &(const struct mbus_tls_files) {
                                                      .cert = cert_path("client.pem", cert, sizeof(cert)),
                                                      .key = cert_path("client-key.pem", key, sizeof(key)),
                                                      .ca = cert_path("ca.pem", ca, sizeof(ca)),
                                              },
                                              false, false, reason), 0);
        fd = tcp_connect(e.port);
        mbus_stream_init(&s, fd, 0);
        ck_assert_int_eq(mbus_transport_init_tls(&s.transport, ctx, fd, "127.0.0.1"), 0);
        t0 = test_now_ms();
        while ((r = mbus_transport_handshake(&s.transport)) == -EAGAIN && test_now_ms() - t0 < 5000) {
                struct pollfd p = { .fd = fd, .events = (short) mbus_stream_events(&s) };
                (void) poll(&p, 1, 100);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(s.transport.ops->writev(&s.transport, &iov, 1), (ssize_t) iov.iov_len);

        /* Read until the broker closes: its last words are a ProtocolError frame. */
        t0 = test_now_ms();
        for (;;) {
                struct mbus_frame *f = NULL;
                struct pollfd p = { .fd = fd, .events = POLLIN };

                ck_assert_msg(test_now_ms() - t0 < 5000, "the broker did not drop the peer");
                (void) poll(&p, 1, 100);
                r = mbus_stream_read(&s);
                while (mbus_stream_pop(&s, &f, NULL) > 0) {
                        got_error |= f->type == MBUS_FRAME_ERROR && f->f.error_name &&
                                     strcmp(f->f.error_name, "org.mbus.Error.ProtocolError") == 0;
                        mbus_frame_unref(f);
                }
                if (r == -ECONNRESET || (r < 0 && r != -EAGAIN))
                        break;
        }
        ck_assert(got_error);
        mbus_stream_done(&s);
        close(fd);

        json_object_put(call_ok(c, "org.mbus.Broker", "Ping", NULL));
        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_plain_tcp_only_on_loopback_unless_forced) {
        struct env e;
        struct mbus_conn *c;
        char addr[128], tool[300], out[4096] = "", err[4096] = "";
        json_object *r;
        const char *argv[] = { getenv("MBUS_TEST_BROKER"), "--address", NULL, "--listen", "tcp://0.0.0.0:1",
                               "--log-target", "console", NULL };
        int code;

        /* On 0.0.0.0 without --tcp-allow-remote: refused at start, saying why. */
        (void) snprintf(tool, sizeof(tool), "/tmp/mbus-tls-test-%d.sock", (int) getpid());
        argv[2] = tool;
        code = test_run(argv, out, sizeof(out), err, sizeof(err), 10000);
        ck_assert_int_eq(code, 1);
        ck_assert_msg(strstr(err, "Refusing plain TCP on tcp://0.0.0.0:1"), "%s", err);
        (void) unlink(tool);

        /* On loopback it serves, with a warning, and a tcp:// peer is named by its address. */
        ck_assert_int_eq(test_config_new(&e.c, true), 0);
        e.port = free_port();
        (void) snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%u", e.port);
        {
                const char *args[] = { "--config-dir", e.c.dir, "--listen", addr, NULL };
                ck_assert_int_eq(test_broker_start_full(&e.b, args, e.c.log, true), 0);
        }
        ck_assert(test_file_wait_for(e.c.log, "Listening on plain TCP", 5000));
        c = test_connect(addr, "tcp-client");
        (void) snprintf(tool, sizeof(tool), "{\"id\":\"%s\"}", mbus_conn_get_unique_id(c));
        r = call_ok(c, "org.mbus.Broker", "GetPeer", tool);
        ck_assert_str_eq(test_json_str(r, "transport"), "tcp");
        ck_assert(strncmp(test_json_str(r, "address") ?: "", "127.0.0.1:", 10) == 0);
        json_object_put(r);
        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_tls_without_certificates_refuses_to_start) {
        char sock[128], out[256], err[4096] = "";
        const char *argv[] = { getenv("MBUS_TEST_BROKER"), "--address", sock, "--listen", "tls://127.0.0.1:1",
                               "--log-target", "console", NULL };

        (void) snprintf(sock, sizeof(sock), "/tmp/mbus-tls-test-%d.sock", (int) getpid());
        ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err), 10000), 1);
        ck_assert_msg(strstr(err, "TLS needs --tls-cert"), "%s", err);
        (void) unlink(sock);
}
END_TEST

static Suite *tls_suite(void) {
        Suite *s = suite_create("e2e-tls");
        TCase *tc = tcase_create("tls");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_tls_client_calls_a_unix_service_and_is_named_by_its_certificate);
        tcase_add_test(tc, test_unix_client_calls_a_tls_service_and_receives_its_events);
        tcase_add_test(tc, test_policy_names_tls_peers_by_cn_san_and_fingerprint);
        tcase_add_test(tc, test_policy_by_address_and_by_a_certificate_mapped_to_a_user);
        tcase_add_test(tc, test_bad_certificates_are_refused_and_logged);
        tcase_add_test(tc, test_client_refuses_a_server_it_cannot_verify);
        tcase_add_test(tc, test_stalled_handshake_is_dropped_at_the_deadline_while_others_call);
        tcase_add_test(tc, test_garbage_after_the_handshake_costs_only_that_peer);
        tcase_add_test(tc, test_plain_tcp_only_on_loopback_unless_forced);
        tcase_add_test(tc, test_tls_without_certificates_refuses_to_start);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int r;

        if (test_config_root_init() < 0)
                return EXIT_FAILURE;
        if (test_make_certs(certs, sizeof(certs)) < 0) {
                fprintf(stderr, "cannot make the test certificates with openssl\n");
                test_config_root_done();
                return EXIT_FAILURE;
        }
        r = mbus_test_run_suite(tls_suite(), CK_NORMAL);
        test_remove_certs(certs);
        test_config_root_done();
        return r;
}
