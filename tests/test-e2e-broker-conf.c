/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * broker.conf end to end: a real broker whose listeners and limits come from DIR/broker.conf
 * (--config-dir DIR) under a command line that overrides one of them, a file it refuses to
 * start with, and TLS certificates rotated by a reload while a TLS client and a wss:// client
 * stay connected.
 */

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "helpers/ws-util.h"
#include "util/test-util.h"

/* A loopback port nobody listens on now: the kernel's pick for port 0. */
static int free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &l), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static void start(struct test_broker *b, const struct test_config *c, const char *const *more) {
        const char *args[16] = { "--config-dir", c->dir, "--log-level", "info" };
        char socket_path[512];
        size_t n = 4;

        for (size_t i = 0; more && more[i] && n < 15; i++)
                args[n++] = more[i];
        test_config_path(c, "socket", socket_path, sizeof(socket_path));
        ck_assert_int_eq(test_broker_start_listening(b, socket_path, args, c->log), 0);
}

static void stop(struct test_broker *b, const struct test_config *c) {
        int st = test_broker_stop(b);

        if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "cat %s >&2", c->log);
                (void) !system(cmd);
        }
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: status %d", st);
}

/*
 * Connects one peer to each address and the rest to the first (the UNIX socket), then expects
 * the next one to be refused as over the limit: the broker's one ERROR frame, read raw (a
 * libmbus client may see the close first). The rest go to the UNIX socket because there they
 * are root's, which may use the whole limit; a loopback TCP peer is its address's user, which
 * may hold about half of what is left.
 */
static void fill_up(const char *const *addresses, size_t n_addresses, size_t n, struct mbus_conn **conns) {
        struct raw_frame f;
        int fd;

        for (size_t i = 0; i < n; i++) {
                conns[i] = test_connect(addresses[i < n_addresses ? i : 0], "filler");
                ck_assert_int_eq(mbus_ping(conns[i], 5 * 1000000), 0);
        }
        fd = raw_connect(addresses[0]);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        raw_frame_done(&f);
        close(fd);
        for (size_t i = 0; i < n; i++)
                conns[i] = mbus_conn_unref(conns[i]);
}

START_TEST(test_listeners_and_limits_come_from_the_file_and_the_command_line_wins) {
        struct test_config c;
        struct test_broker b;
        struct mbus_conn *conns[8];
        char text[1024], unix_path[512], tcp[64];
        const char *addresses[2] = { unix_path, tcp };

        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        test_config_path(&c, "socket", unix_path, sizeof(unix_path));
        snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%d", free_port());
        snprintf(text, sizeof(text),
                 "# the broker of this test\n"
                 "[Broker]\n"
                 "Listen=/nowhere/socket\n"
                 "Listen=\n"                    /* empties the list */
                 "Listen=%s\n"
                 "Listen=%s\n"
                 "[Limits]\n"
                 "MaxPeers=3\n"
                 "MaxBananas=12\n",
                 unix_path, tcp);
        test_config_write(&c, "broker.conf", text);

        /* Both listeners and MaxPeers= from the file. */
        start(&b, &c, NULL);
        fill_up(addresses, 2, 3, conns);
        ck_assert(test_file_wait_for(c.log, "broker.conf:9: Unknown key MaxBananas= in section [Limits]", 5000));
        stop(&b, &c);

        /* --max-peers wins over MaxPeers=; the listeners still come from the file. */
        start(&b, &c, (const char *[]) { "--max-peers", "4", NULL });
        fill_up(addresses, 2, 4, conns);
        stop(&b, &c);

        test_config_remove(&c);
}
END_TEST

START_TEST(test_a_bad_value_refuses_the_start_naming_file_and_line) {
        const char *broker = getenv("MBUS_TEST_BROKER");
        struct test_config c;
        char err[4096], path[512];

        ck_assert_ptr_nonnull(broker);
        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        test_config_write(&c, "broker.conf", "[Limits]\nMaxPeers=100\n");
        ck_assert_int_eq(mkdir(test_config_path(&c, "broker.conf.d", path, sizeof(path)), 0755), 0);
        test_config_write(&c, "broker.conf.d/50-typo.conf", "[Limits]\n\nMaxPeers=lots\n");

        ck_assert_int_eq(test_run((const char *[]) { broker, "--config-dir", c.dir, "--log-target", "console", NULL },
                                  NULL, 0, err, sizeof(err), 20000), 1);
        ck_assert_msg(strstr(err, "broker.conf.d/50-typo.conf:3: invalid MaxPeers= (1..1048576): lots"),
                      "stderr: %s", err);

        /* A file named on the command line must exist. */
        ck_assert_int_eq(test_run((const char *[]) { broker, "--broker-config", "/nonexistent/broker.conf",
                                                     "--log-target", "console", NULL },
                                  NULL, 0, err, sizeof(err), 20000), 1);
        ck_assert_msg(strstr(err, "/nonexistent/broker.conf: cannot open"), "stderr: %s", err);
        test_config_remove(&c);
}
END_TEST

static void make_certs(const struct test_config *c, const char *name) {
        const char *src = getenv("MBUS_TEST_SRCDIR");
        char tool[512], dir[512], out[4096];

        ck_assert_ptr_nonnull(src);
        snprintf(tool, sizeof(tool), "%s/tests/helpers/make-test-certs", src);
        test_config_path(c, name, dir, sizeof(dir));
        ck_assert_int_eq(test_run((const char *[]) { tool, dir, NULL }, out, sizeof(out), out, sizeof(out), 60000), 0);
}

/* Installs certs/<name> as the broker's live file <as>, replaced atomically. */
static void install(const struct test_config *c, const char *certs, const char *name, const char *as) {
        char from[512], to[512], tmp[600];
        char relpath[256];

        snprintf(relpath, sizeof(relpath), "%s/%s", certs, name);
        test_config_path(c, relpath, from, sizeof(from));
        test_config_path(c, as, to, sizeof(to));
        snprintf(tmp, sizeof(tmp), "%s.new", to);
        ck_assert_int_eq(test_run((const char *[]) { "/bin/cp", from, tmp, NULL }, NULL, 0, NULL, 0, 10000), 0);
        ck_assert_int_eq(rename(tmp, to), 0);
}

/* A TLS client with the client certificate of one set, trusting that set's CA. */
static int tls_open(struct mbus_conn **ret, const struct test_config *c, int port, const char *certs) {
        char address[1024];

        snprintf(address, sizeof(address),
                 "tls://127.0.0.1:%d?cert=%s/%s/client.pem&key=%s/%s/client-key.pem&ca=%s/%s/ca.pem", port, c->dir,
                 certs, c->dir, certs, c->dir, certs);
        return mbus_conn_open(ret, address, "tls-client");
}

/*
 * A wss:// client with the client certificate of one set, trusting that set's CA: the status of
 * the upgrade (101) or -EPROTO if the TLS handshake failed. keep: left open in *keep.
 */
static int wss_open(const struct test_config *c, int port, const char *certs, struct ws_client *keep) {
        char cert[600], key[600], ca[600];
        struct ws_tls tls = { .cert = cert, .key = key, .ca = ca };
        struct ws_client w;
        int r;

        snprintf(cert, sizeof(cert), "%s/%s/client.pem", c->dir, certs);
        snprintf(key, sizeof(key), "%s/%s/client-key.pem", c->dir, certs);
        snprintf(ca, sizeof(ca), "%s/%s/ca.pem", c->dir, certs);
        r = ws_client_open(keep ?: &w, (unsigned) port, "/v1/ws", NULL, &tls);
        if (!keep)
                ws_client_close(&w);
        return r;
}

/* One call of Ping in the JSON form on an open WebSocket peer; serial > 1 (1 was HELLO). */
static void wss_ping(struct ws_client *w, int serial) {
        char call[200], *answer = NULL, want[64];
        size_t len;

        snprintf(call, sizeof(call),
                 "{\"type\":\"CALL\",\"serial\":%d,\"namespace\":\"org.mbus.Broker\",\"member\":\"Ping\"}", serial);
        ck_assert_int_eq(ws_client_send(w, WS_TEXT, call, strlen(call)), 0);
        ck_assert_int_eq(ws_client_recv(w, &answer, &len), WS_TEXT);
        snprintf(want, sizeof(want), "\"reply_serial\":%d", serial);
        ck_assert_msg(strstr(answer, "\"type\":\"RETURN\"") && strstr(answer, want), "%s", answer);
        free(answer);
}

START_TEST(test_reload_rotates_tls_certificates_and_refuses_a_broken_one) {
        struct test_config c;
        struct test_broker b;
        struct mbus_conn *old = NULL, *fresh = NULL, *admin;
        struct mbus_error error = MBUS_ERROR_NULL;
        char text[4096], unix_path[512], *welcome = NULL;
        int port = free_port(), wss_port = free_port();
        struct ws_client wold;
        size_t len;

        ck_assert_int_eq(test_config_new(&c, /* with_shipped= */ true), 0);
        make_certs(&c, "one");
        make_certs(&c, "two");
        install(&c, "one", "server.pem", "server.pem");
        install(&c, "one", "server-key.pem", "server-key.pem");
        install(&c, "one", "ca.pem", "ca.pem");
        test_config_path(&c, "socket", unix_path, sizeof(unix_path));
        snprintf(text, sizeof(text),
                 "[Broker]\nListen=%s\nListen=tls://127.0.0.1:%d\nListen=wss://127.0.0.1:%d\n"
                 "[TLS]\nCertificate=%s/server.pem\nKey=%s/server-key.pem\nCA=%s/ca.pem\n",
                 unix_path, port, wss_port, c.dir, c.dir, c.dir);
        test_config_write(&c, "broker.conf", text);
        start(&b, &c, NULL);

        ck_assert_int_eq(tls_open(&old, &c, port, "one"), 0);
        ck_assert_int_eq(mbus_call(old, "org.mbus.Broker", "Ping", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(tls_open(&fresh, &c, port, "two"), -EPROTO);
        /* The same over wss://, whose TLS is libwebsockets': a peer of set one stays connected. */
        ck_assert_int_eq(wss_open(&c, wss_port, "one", &wold), 101);
        {
                static const char hello[] = "{\"type\":\"HELLO\",\"serial\":1,\"body\":{\"name\":\"wss-old\"}}";

                ck_assert_int_eq(ws_client_send(&wold, WS_TEXT, hello, strlen(hello)), 0);
                ck_assert_int_eq(ws_client_recv(&wold, &welcome, &len), WS_TEXT);
                ck_assert_msg(strstr(welcome, "\"type\":\"WELCOME\""), "%s", welcome);
                free(welcome);
        }
        wss_ping(&wold, 2);
        ck_assert_int_eq(wss_open(&c, wss_port, "two", NULL), -EPROTO);

        /* The second set, in force by SIGHUP. */
        install(&c, "two", "server.pem", "server.pem");
        install(&c, "two", "server-key.pem", "server-key.pem");
        install(&c, "two", "ca.pem", "ca.pem");
        ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
        ck_assert(test_file_wait_for(c.log, "and the TLS certificates", 10000));

        ck_assert_int_eq(tls_open(&fresh, &c, port, "two"), 0);
        ck_assert_int_eq(mbus_call(fresh, "org.mbus.Broker", "Ping", NULL, 0, NULL, NULL), 0);
        fresh = mbus_conn_unref(fresh);
        ck_assert_int_eq(tls_open(&fresh, &c, port, "one"), -EPROTO);       /* server now of CA two */
        ck_assert_int_eq(mbus_call(old, "org.mbus.Broker", "Ping", NULL, 0, NULL, NULL), 0);  /* its session */
        ck_assert_int_eq(wss_open(&c, wss_port, "two", NULL), 101);
        ck_assert_int_eq(wss_open(&c, wss_port, "one", NULL), -EPROTO);
        wss_ping(&wold, 3);

        /* A broken certificate: ReloadConfig says why, and the second set stays in force. */
        test_config_write(&c, "server.pem", "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        admin = test_connect(unix_path, "admin");
        ck_assert_int_eq(mbus_call(admin, "org.mbus.Broker", "ReloadConfig", NULL, 0, NULL, &error), -EIO);
        ck_assert_str_eq(error.name, MBUS_ERROR_FAILED);
        ck_assert_msg(strstr(error.message, "the previous one stays in force") &&
                      strstr(error.message, "cannot load the TLS certificates") && strstr(error.message, "server.pem"),
                      "message: %s", error.message);
        ck_assert(test_file_wait_for(c.log, "Configuration rejected, the previous one stays in force: cannot load "
                                            "the TLS certificates", 5000));
        mbus_error_free(&error);
        ck_assert_int_eq(tls_open(&fresh, &c, port, "two"), 0);
        ck_assert_int_eq(mbus_call(fresh, "org.mbus.Broker", "Ping", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(mbus_call(old, "org.mbus.Broker", "Ping", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(wss_open(&c, wss_port, "two", NULL), 101);
        wss_ping(&wold, 4);
        ws_client_close(&wold);

        /* Taking TLS away from a TLS listener is refused too. */
        snprintf(text, sizeof(text), "[Broker]\nListen=%s\nListen=tls://127.0.0.1:%d\nListen=wss://127.0.0.1:%d\n",
                 unix_path, port, wss_port);
        test_config_write(&c, "broker.conf", text);
        ck_assert_int_eq(mbus_call(admin, "org.mbus.Broker", "ReloadConfig", NULL, 0, NULL, &error), -EIO);
        ck_assert_msg(strstr(error.message, "TLS listeners need a certificate"), "message: %s", error.message);
        mbus_error_free(&error);

        fresh = mbus_conn_unref(fresh);
        old = mbus_conn_unref(old);
        admin = mbus_conn_unref(admin);
        stop(&b, &c);
        test_config_remove(&c);
}
END_TEST

static Suite *broker_conf_suite(void) {
        Suite *s = suite_create("e2e-broker-conf");
        TCase *tc = tcase_create("broker-conf");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_listeners_and_limits_come_from_the_file_and_the_command_line_wins);
        tcase_add_test(tc, test_a_bad_value_refuses_the_start_naming_file_and_line);
        tcase_add_test(tc, test_reload_rotates_tls_certificates_and_refuses_a_broken_one);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(broker_conf_suite);
}
