/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * WebSocket peers: a real broker with a UNIX socket and a ws:// listener on loopback, and a
 * WebSocket client written here from the RFC (a raw socket, the upgrade request, masked
 * frames), so the broker is checked against the wire rather than against libwebsockets on
 * both ends. What a page sees: the upgrade at /v1/ws with the subprotocol mbus, HELLO, calls
 * and events in binary frames and in their JSON form, a refused origin, and a misbehaving
 * connection costing only itself.
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
#include "util/macro.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

enum { WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8 };

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

static void env_start(struct env *e, const char *origin) {
        char ws[64];
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "system", "--listen", ws,
                               origin ? "--ws-origin" : NULL, origin, NULL };

        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        test_config_write(&e->c, "policy.d/" NS ".xml", echo_policy);
        e->port = test_free_tcp_port();
        ck_assert_uint_gt(e->port, 0);
        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", e->port);
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_done(struct env *e) {
        ck_assert_broker_stops_cleanly(&e->b);
        test_config_remove(&e->c);
}

/* Connects and sends the upgrade request; returns the fd and the status line's code. */
static int ws_open(unsigned port, const char *path, const char *origin, int *ret_status) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char req[512], resp[2048];
        size_t n = 0;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        (void) snprintf(req, sizeof(req),
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: mbus\r\n%s%s%s\r\n",
                        path, port, origin ? "Origin: " : "", origin ?: "", origin ? "\r\n" : "");
        ck_assert_int_eq(raw_send(fd, req, strlen(req)), 0);

        /* The response ends at an empty line; read byte by byte so no frame is swallowed. */
        while (n < sizeof(resp) - 1 && (n < 4 || memcmp(resp + n - 4, "\r\n\r\n", 4) != 0)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, 5000) <= 0 || read(fd, resp + n, 1) != 1)
                        break;
                n++;
        }
        resp[n] = 0;
        *ret_status = n > 12 && strncmp(resp, "HTTP/1.1 ", 9) == 0 ? atoi(resp + 9) : -1;
        return fd;
}

/* Sends one WebSocket frame; masked as a client must unless told otherwise. */
static int ws_send_frame(int fd, uint8_t first, const void *data, size_t len, bool mask) {
        uint8_t hdr[14], key[4] = { 0x12, 0x34, 0x56, 0x78 };
        size_t h = 0;
        _cleanup_free_ uint8_t *buf = malloc(len + sizeof(hdr));
        int r;

        ck_assert_ptr_nonnull(buf);
        hdr[h++] = first;
        if (len < 126)
                hdr[h++] = (uint8_t) ((mask ? 0x80 : 0) | len);
        else if (len < 65536) {
                hdr[h++] = (uint8_t) ((mask ? 0x80 : 0) | 126);
                hdr[h++] = (uint8_t) (len >> 8);
                hdr[h++] = (uint8_t) len;
        } else {
                hdr[h++] = (uint8_t) ((mask ? 0x80 : 0) | 127);
                for (int i = 7; i >= 0; i--)
                        hdr[h++] = (uint8_t) (len >> (8 * i));
        }
        if (mask)
                for (size_t i = 0; i < 4; i++)
                        hdr[h++] = key[i];
        memcpy(buf, hdr, h);
        for (size_t i = 0; i < len; i++)
                buf[h + i] = ((const uint8_t *) data)[i] ^ (mask ? key[i % 4] : 0);
        r = raw_send(fd, buf, h + len);
        return r;
}

static int ws_send(int fd, int opcode, const void *data, size_t len) {
        return ws_send_frame(fd, (uint8_t) (0x80 | opcode), data, len, true);
}

static int read_exact(int fd, void *buf, size_t len, int timeout_ms) {
        for (size_t n = 0; n < len;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, timeout_ms) <= 0)
                        return -ETIMEDOUT;
                k = read(fd, (uint8_t *) buf + n, len - n);
                if (k <= 0)
                        return -ECONNRESET;
                n += (size_t) k;
        }
        return 0;
}

/* Receives one (unfragmented) message; returns its opcode, -ECONNRESET or -ETIMEDOUT. */
static int ws_recv(int fd, char **ret, size_t *ret_len) {
        uint8_t h[2], ext[8];
        uint64_t len;
        char *data;
        int r;

        r = read_exact(fd, h, 2, 5000);
        if (r < 0)
                return r;
        len = h[1] & 0x7f;
        if (len == 126 || len == 127) {
                size_t n = len == 126 ? 2 : 8;

                r = read_exact(fd, ext, n, 5000);
                if (r < 0)
                        return r;
                len = 0;
                for (size_t i = 0; i < n; i++)
                        len = len << 8 | ext[i];
        }
        data = malloc(len + 1);
        ck_assert_ptr_nonnull(data);
        r = read_exact(fd, data, len, 5000);
        if (r < 0) {
                free(data);
                return r;
        }
        data[len] = 0;
        *ret = data;
        if (ret_len)
                *ret_len = len;
        return h[0] & 0x0f;
}

/* Waits until the broker closes the connection (a close frame, then the end). */
static bool ws_closed(int fd) {
        for (;;) {
                char *m = NULL;
                int op = ws_recv(fd, &m, NULL);

                free(m);
                if (op == -ECONNRESET || op == WS_CLOSE)
                        return true;
                if (op < 0)
                        return false;
        }
}

static int ws_open_ok(unsigned port) {
        int status, fd = ws_open(port, "/v1/ws", NULL, &status);

        ck_assert_int_eq(status, 101);
        return fd;
}

/* HELLO in binary, then a CALL of ListNamespaces in binary; asserts both answers. */
static void ws_hello_binary_and_list(int fd, const char *name) {
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
        ck_assert_int_eq(ws_send(fd, WS_BINARY, b.data, b.len), 0);
        raw_buf_done(&b);
        ck_assert_int_eq(ws_recv(fd, &m, &len), WS_BINARY);
        ck_assert_uint_ge(len, MBUS_FRAME_HEADER_SIZE);
        ck_assert_int_eq(m[1], MBUS_FRAME_WELCOME);
        free(m);

        raw_frame_begin(&b, MBUS_FRAME_CALL);
        raw_field_u64(&b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(&b, MBUS_FIELD_NAMESPACE, "org.mbus.Broker");
        raw_field_str(&b, MBUS_FIELD_MEMBER, "ListNamespaces");
        raw_frame_finish(&b, NULL);
        ck_assert_int_eq(ws_send(fd, WS_BINARY, b.data, b.len), 0);
        raw_buf_done(&b);
        ck_assert_int_eq(ws_recv(fd, &m, &len), WS_BINARY);
        ck_assert_int_eq(m[1], MBUS_FRAME_RETURN);
        ck_assert_ptr_nonnull(memmem(m, len, "org.mbus.Broker", 15));
        free(m);
}

START_TEST(test_binary_frames_hello_and_call) {
        struct env e;
        int fd;

        env_start(&e, NULL);
        fd = ws_open_ok(e.port);
        ws_hello_binary_and_list(fd, "ws-binary");
        close(fd);
        env_done(&e);
}
END_TEST

START_TEST(test_json_form_calls_a_unix_service_and_receives_events) {
        struct test_service svc;
        struct env e;
        char *m = NULL, *addr;
        int fd;

        env_start(&e, NULL);
        addr = e.b.address;
        ck_assert_int_eq(test_service_start(&svc, addr, NS), 0);

        fd = ws_open_ok(e.port);
#define SEND_TEXT(s) ck_assert_int_eq(ws_send(fd, WS_TEXT, s, strlen(s)), 0)
        SEND_TEXT("{\"type\":\"HELLO\",\"serial\":1,\"body\":{\"name\":\"ws-json\"}}");
        ck_assert_int_eq(ws_recv(fd, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"type\":\"WELCOME\""));
        free(m);

        /* A call to a daemon on the UNIX socket, and its answer in the JSON form. */
        SEND_TEXT("{\"type\":\"CALL\",\"serial\":2,\"namespace\":\"" NS "\",\"member\":\"Echo\","
                  "\"body\":{\"say\":\"hi from a page\"}}");
        ck_assert_int_eq(ws_recv(fd, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"type\":\"RETURN\""));
        ck_assert_ptr_nonnull(strstr(m, "\"reply_serial\":2"));
        ck_assert_ptr_nonnull(strstr(m, "hi from a page"));
        free(m);

        /* An error keeps its name. */
        SEND_TEXT("{\"type\":\"CALL\",\"serial\":3,\"namespace\":\"" NS "\",\"member\":\"Fail\"}");
        ck_assert_int_eq(ws_recv(fd, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"error_name\":\"org.example.Error.Failed\""));
        free(m);

        /* Subscribing is answered in the same form. */
        SEND_TEXT("{\"type\":\"SUBSCRIBE\",\"serial\":4,\"pattern\":\"" NS ".*\"}");
        ck_assert_int_eq(ws_recv(fd, &m, NULL), WS_TEXT);
        ck_assert_ptr_nonnull(strstr(m, "\"reply_serial\":4"));
        free(m);
#undef SEND_TEXT
        close(fd);
        ck_assert_int_eq(test_service_quit(&svc, addr, NS), 0);
        env_done(&e);
}
END_TEST

START_TEST(test_origin_path_and_subprotocol_are_checked) {
        struct env e;
        int status, fd;

        env_start(&e, "https://console.example.org");
        fd = ws_open(e.port, "/v1/ws", "https://evil.example.com", &status);
        ck_assert_int_ne(status, 101);
        close(fd);
        fd = ws_open(e.port, "/v1/ws", "https://console.example.org", &status);
        ck_assert_int_eq(status, 101);
        close(fd);
        fd = ws_open(e.port, "/v1/ws", "http://127.0.0.1:0", &status);
        ck_assert_int_ne(status, 101);
        close(fd);
        fd = ws_open(e.port, "/elsewhere", NULL, &status);
        ck_assert_int_ne(status, 101);
        close(fd);
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
        int good, fd;

        env_start(&e, NULL);
        good = ws_open_ok(e.port);
        ws_hello_binary_and_list(good, "good");

        /* Larger than the HELLO limit, in fragments. */
        {
                _cleanup_free_ uint8_t *big = calloc(1, 3000);

                fd = ws_open_ok(e.port);
                ck_assert_int_eq(ws_send_frame(fd, WS_BINARY, big, 3000, true), 0);    /* FIN clear */
                (void) ws_send_frame(fd, 0x00, big, 3000, true);                        /* continuation */
                ck_assert(ws_closed(fd));
                close(fd);
        }
        /* Not a frame. */
        fd = ws_open_ok(e.port);
        ck_assert_int_eq(ws_send(fd, WS_BINARY, junk, sizeof(junk)), 0);
        ck_assert(ws_closed(fd));
        close(fd);
        /* Garbage JSON. */
        fd = ws_open_ok(e.port);
        ck_assert_int_eq(ws_send(fd, WS_TEXT, "{\"type\":", 8), 0);
        ck_assert(ws_closed(fd));
        close(fd);
        /* An unmasked client frame. */
        fd = ws_open_ok(e.port);
        (void) ws_send_frame(fd, 0x80 | WS_BINARY, junk, sizeof(junk), false);
        ck_assert(ws_closed(fd));
        close(fd);
        /* A reserved opcode. */
        fd = ws_open_ok(e.port);
        (void) ws_send_frame(fd, 0x80 | 0x3, junk, sizeof(junk), true);
        ck_assert(ws_closed(fd));
        close(fd);
        /* A close in the middle of a fragmented message. */
        fd = ws_open_ok(e.port);
        ck_assert_int_eq(ws_send_frame(fd, WS_BINARY, junk, 4, true), 0);
        close(fd);

        /* The good peer is still served. */
        {
                struct raw_buf b = {};
                char *m = NULL;

                raw_frame_begin(&b, MBUS_FRAME_CALL);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, 3);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, "org.mbus.Broker");
                raw_field_str(&b, MBUS_FIELD_MEMBER, "GetStats");
                raw_frame_finish(&b, NULL);
                ck_assert_int_eq(ws_send(good, WS_BINARY, b.data, b.len), 0);
                raw_buf_done(&b);
                ck_assert_int_eq(ws_recv(good, &m, NULL), WS_BINARY);
                ck_assert_int_eq(m[1], MBUS_FRAME_RETURN);
                free(m);
        }
        close(good);
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

static Suite *ws_suite(void) {
        Suite *s = suite_create("ws");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_binary_frames_hello_and_call);
        tcase_add_test(tc, test_json_form_calls_a_unix_service_and_receives_events);
        tcase_add_test(tc, test_origin_path_and_subprotocol_are_checked);
        tcase_add_test(tc, test_bad_traffic_costs_only_that_peer);
        tcase_add_test(tc, test_plain_ws_only_on_loopback_unless_forced);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int r;

        if (test_config_root_init() < 0)
                return EXIT_FAILURE;
        r = mbus_test_run_suite(ws_suite(), CK_NORMAL);
        test_config_root_done();
        return r;
}
