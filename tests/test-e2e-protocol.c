/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Malformed input: each broken frame a peer may send (after or instead of the handshake) gets
 * ERROR org.mbus.Error.ProtocolError with reply_serial 0 and a reason, and the connection is
 * closed; a service and a caller on the same broker keep working throughout.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

struct bad_case {
        const char *name;
        bool before_hello;          /* sent instead of HELLO */
        void (*build)(struct raw_buf *b);
};

static void call_head(struct raw_buf *b, uint64_t serial) {
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_field_u64(b, MBUS_FIELD_SERIAL, serial);
        raw_field_str(b, MBUS_FIELD_NAMESPACE, NS);
        raw_field_str(b, MBUS_FIELD_MEMBER, "Echo");
}

static void build_bad_version(struct raw_buf *b) {
        raw_frame_begin_full(b, 2, MBUS_FRAME_CALL, 0, 0);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(b, MBUS_FIELD_NAMESPACE, NS);
        raw_field_str(b, MBUS_FIELD_MEMBER, "Echo");
        raw_frame_finish(b, NULL);
}

static void build_unknown_type(struct raw_buf *b) {
        raw_frame_begin_full(b, MBUS_PROTOCOL_VERSION, 99, 0, 0);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_frame_finish(b, NULL);
}

static void build_flags_set(struct raw_buf *b) {
        raw_frame_begin_full(b, MBUS_PROTOCOL_VERSION, MBUS_FRAME_PING, 0x80, 0);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_frame_finish(b, NULL);
}

static void build_reserved_set(struct raw_buf *b) {
        raw_frame_begin_full(b, MBUS_PROTOCOL_VERSION, MBUS_FRAME_PING, 0, 1);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_frame_finish(b, NULL);
}

static void build_field_overruns(struct raw_buf *b) {
        /* a string field claiming 200 bytes inside 10 bytes of fields */
        raw_frame_begin(b, MBUS_FRAME_PING);
        raw_field(b, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, "abcdef", 6);
        b->data[MBUS_FRAME_HEADER_SIZE + 2] = 200;
        raw_frame_finish(b, NULL);
}

static void build_unknown_field(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_PING);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_u64(b, 77, 1);
        raw_frame_finish(b, NULL);
}

static void build_wrong_kind(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_PING);
        raw_field(b, MBUS_FIELD_SERIAL, MBUS_FIELD_KIND_STRING, "2", 2);
        raw_frame_finish(b, NULL);
}

static void build_short_uint(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_PING);
        raw_field(b, MBUS_FIELD_SERIAL, MBUS_FIELD_KIND_UINT64, "\x02\x00\x00\x00", 4);
        raw_frame_finish(b, NULL);
}

static void build_duplicate_field(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_PING);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 3);
        raw_frame_finish(b, NULL);
}

static void build_missing_member(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(b, MBUS_FIELD_NAMESPACE, NS);
        raw_frame_finish(b, "{}");
}

static void build_field_not_allowed(struct raw_buf *b) {
        /* a pattern on a CALL */
        call_head(b, 2);
        raw_field_str(b, MBUS_FIELD_PATTERN, "*");
        raw_frame_finish(b, "{}");
}

static void build_invalid_utf8(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(b, MBUS_FIELD_NAMESPACE, "org.ex\xc3\x28mple.Echo");
        raw_field_str(b, MBUS_FIELD_MEMBER, "Echo");
        raw_frame_finish(b, "{}");
}

static void build_invalid_name(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(b, MBUS_FIELD_NAMESPACE, "no-dots");
        raw_field_str(b, MBUS_FIELD_MEMBER, "Echo");
        raw_frame_finish(b, "{}");
}

static void build_invalid_pattern(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_SUBSCRIBE);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field_str(b, MBUS_FIELD_PATTERN, "org.bad*");
        raw_frame_finish(b, NULL);
}

static void build_string_without_nul(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_field(b, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, NS, (uint16_t) strlen(NS));
        raw_field_str(b, MBUS_FIELD_MEMBER, "Echo");
        raw_frame_finish(b, "{}");
}

static void build_serial_zero(struct raw_buf *b) {
        call_head(b, 0);
        raw_frame_finish(b, "{}");
}

static void build_sender_from_client(struct raw_buf *b) {
        call_head(b, 2);
        raw_field_str(b, MBUS_FIELD_SENDER, ":1.1");
        raw_frame_finish(b, "{}");
}

static void build_caller_from_client(struct raw_buf *b) {
        /* a client claiming to be root */
        call_head(b, 2);
        raw_field_u64(b, MBUS_FIELD_CALLER_UID, 0);
        raw_field_u64(b, MBUS_FIELD_CALLER_GID, 0);
        raw_frame_finish(b, "{}");
}

static void build_welcome_from_client(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_WELCOME);
        raw_field_u64(b, MBUS_FIELD_REPLY_SERIAL, 1);
        raw_frame_finish(b, "{\"id\": \":1.5\"}");
}

static void build_second_hello(struct raw_buf *b) {
        raw_frame_begin(b, MBUS_FRAME_HELLO);
        raw_field_u64(b, MBUS_FIELD_SERIAL, 2);
        raw_frame_finish(b, "{\"name\": \"again\"}");
}

static void build_oversize(struct raw_buf *b) {
        /* only the header: the size alone must be refused, without waiting for the bytes */
        raw_frame_begin(b, MBUS_FRAME_CALL);
        raw_frame_finish(b, NULL);
        b->data[8] = 0;
        b->data[9] = 0;
        b->data[10] = 0;
        b->data[11] = 0x10;            /* 256 MiB of body */
}

static void build_call_before_hello(struct raw_buf *b) {
        call_head(b, 1);
        raw_frame_finish(b, "{}");
}

static const struct bad_case bad_cases[] = {
        { "bad version", false, build_bad_version },
        { "unknown type", false, build_unknown_type },
        { "flags set", false, build_flags_set },
        { "reserved byte set", false, build_reserved_set },
        { "field overruns the fields", false, build_field_overruns },
        { "unknown field code", false, build_unknown_field },
        { "field of the wrong kind", false, build_wrong_kind },
        { "uint64 field of 4 bytes", false, build_short_uint },
        { "duplicate field", false, build_duplicate_field },
        { "CALL without member", false, build_missing_member },
        { "field not allowed for the type", false, build_field_not_allowed },
        { "invalid UTF-8 in a name", false, build_invalid_utf8 },
        { "invalid namespace", false, build_invalid_name },
        { "string without NUL", false, build_string_without_nul },
        { "invalid subscription pattern", false, build_invalid_pattern },
        { "serial 0", false, build_serial_zero },
        { "SENDER set by a client", false, build_sender_from_client },
        { "caller identity set by a client", false, build_caller_from_client },
        { "WELCOME from a client", false, build_welcome_from_client },
        { "second HELLO", false, build_second_hello },
        { "oversize frame", false, build_oversize },
        { "CALL before HELLO", true, build_call_before_hello },
};

START_TEST(test_malformed_frames_get_protocol_error_and_disconnect) {
        struct test_broker b;
        struct test_service svc;
        struct mbus_error error = MBUS_ERROR_NULL;
        const struct bad_case *c = &bad_cases[_i];
        struct raw_frame f;
        struct raw_buf buf = {};
        json_object *body;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        struct mbus_conn *conn = test_connect(b.address, "bystander");

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        if (!c->before_hello)
                ck_assert_int_eq(raw_hello(fd, "bad-peer", NULL), 0);
        c->build(&buf);
        ck_assert_int_eq(raw_send_buf(fd, &buf), 0);
        raw_buf_done(&buf);

        ck_assert_msg(raw_recv(fd, 10000, &f) == 0, "%s: no answer", c->name);
        ck_assert_msg(f.type == MBUS_FRAME_ERROR, "%s: got frame type %u", c->name, f.type);
        ck_assert_msg(f.error_name && strcmp(f.error_name, MBUS_ERROR_PROTOCOL) == 0, "%s: error %s", c->name,
                      f.error_name);
        ck_assert_int_eq(f.reply_serial, 0);
        body = f.body ? json_tokener_parse(f.body) : NULL;
        ck_assert_msg(test_json_str(body, "message") && test_json_str(body, "message")[0], "%s: no reason",
                      c->name);
        json_object_put(body);
        raw_frame_done(&f);
        ck_assert_msg(raw_wait_eof(fd, 10000) == 0, "%s: connection not closed", c->name);
        close(fd);

        /* nobody else noticed */
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, &error), 0);
        ck_assert(!mbus_error_is_set(&error));

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_frame_over_the_configured_size_is_refused) {
        static const char *const args[] = { "--max-frame-size", "4096", NULL };
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        struct raw_buf buf = {};
        char *big;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);

        /* WELCOME tells the limit */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL,
                                         "{\"name\": \"big\"}"), 0);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_WELCOME);
        json_object *w = json_tokener_parse(f.body);
        ck_assert_int_eq(test_json_int(w, "max_frame_size"), 4096);
        ck_assert_int_eq(test_json_int(w, "protocol"), 1);
        json_object_put(w);
        raw_frame_done(&f);

        /* a call that just fits is routed ... */
        big = malloc(8192);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', 8191);
        big[8191] = 0;
        big[0] = '"';
        big[3000] = '"';
        big[3001] = 0;
        call_head(&buf, 2);
        raw_frame_finish(&buf, big);
        ck_assert_int_le(buf.len, 4096);
        ck_assert_int_eq(raw_send_buf(fd, &buf), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 2);
        raw_frame_done(&f);

        /* ... one over the limit is a protocol error */
        big[3000] = 'x';
        big[3001] = 'x';
        big[5000] = '"';
        big[5001] = 0;
        call_head(&buf, 3);
        raw_frame_finish(&buf, big);
        ck_assert_int_gt(buf.len, 4096);
        ck_assert_int_eq(raw_send(fd, buf.data, buf.len), 0);
        raw_buf_done(&buf);
        free(big);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_peer_hanging_up_mid_frame_leaves_the_broker_working) {
        struct test_broker b;
        struct raw_buf buf = {};
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        for (int i = 0; i < 20; i++) {
                fd = raw_connect(b.address);
                ck_assert_int_ge(fd, 0);
                if (i % 2)
                        ck_assert_int_eq(raw_hello(fd, "quitter", NULL), 0);
                call_head(&buf, 2);
                raw_frame_finish(&buf, "{\"a\": 1}");
                ck_assert_int_eq(raw_send(fd, buf.data, (size_t) (i % 5 + 1) * buf.len / 6), 0);
                close(fd);
        }
        raw_buf_done(&buf);

        struct mbus_conn *conn = test_connect(b.address, "after");
        json_object *o = NULL;
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "peers"), 1);
        json_object_put(o);
        mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST


/* A HELLO name that is not UTF-8 must not make ListPeers invalid JSON for everybody. */
START_TEST(test_hello_name_with_invalid_utf8_is_reported_as_valid_utf8) {
        struct test_broker b;
        struct raw_frame f;
        int bad, fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        bad = raw_connect(b.address);
        ck_assert_int_ge(bad, 0);
        ck_assert_int_eq(raw_send_simple(bad, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL,
                                         "{\"name\": \"bad\xff\xc0\x80name\xe2\x82\"}"), 0);
        ck_assert_int_eq(raw_recv_type(bad, 10000, MBUS_FRAME_WELCOME, &f), 0);
        raw_frame_done(&f);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "lister", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 2, 0, MBUS_BROKER_NAMESPACE, "ListPeers", NULL, NULL,
                                         NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_ptr_nonnull(f.body);
        /* each byte of a broken sequence is a '?'; nothing but ASCII is left */
        ck_assert_msg(strstr(f.body, "bad???name??"), "%s", f.body);
        for (size_t i = 0; i < f.body_len; i++)
                ck_assert_uint_lt((unsigned char) f.body[i], 0x80);
        raw_frame_done(&f);
        close(fd);
        close(bad);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_reusing_the_serial_of_a_pending_call_is_a_protocol_error) {
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "repeater", NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 5, 0, NS, "Hang", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 5, 0, NS, "Echo", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 0);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);

        /* the service still serves */
        struct mbus_conn *conn = test_connect(b.address, "after");
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, NULL), 0);
        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* A JSON string body that makes the frame begun in b (fields written) exactly size bytes long. */
static void finish_exact(struct raw_buf *b, size_t size) {
        size_t body_len = size - b->len;
        char *body = malloc(body_len + 1);

        ck_assert_ptr_nonnull(body);
        memset(body, 'x', body_len);
        body[0] = body[body_len - 1] = '"';
        body[body_len] = 0;
        raw_frame_finish(b, body);
        free(body);
        ck_assert_uint_eq(b->len, size);
}

START_TEST(test_call_of_max_frame_size_is_refused_and_the_service_stays) {
        static const char *const args[] = { "--max-frame-size", "65536", NULL };
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        struct raw_buf buf = {};
        int fd;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "max-caller", NULL), 0);

        /* fits the limit as sent, not with the sender field the broker would add */
        call_head(&buf, 2);
        finish_exact(&buf, 65536);
        ck_assert_int_eq(raw_send_buf(fd, &buf), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 2);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        ck_assert_ptr_nonnull(strstr(f.body, "frame too large to forward"));
        raw_frame_done(&f);

        /* the service was not sent it: still connected, it answers the next call */
        call_head(&buf, 3);
        raw_frame_finish(&buf, "{\"a\": 1}");
        ck_assert_int_eq(raw_send_buf(fd, &buf), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_RETURN);
        ck_assert_int_eq(f.reply_serial, 3);
        raw_frame_done(&f);
        close(fd);

        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_event_of_max_frame_size_is_refused_and_subscribers_stay) {
        static const char *const args[] = { "--max-frame-size", "65536", NULL };
        struct test_broker b;
        struct raw_frame f;
        struct raw_buf buf = {};
        int owner, sub;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        owner = raw_connect(b.address);
        sub = raw_connect(b.address);
        ck_assert_int_ge(owner, 0);
        ck_assert_int_ge(sub, 0);
        ck_assert_int_eq(raw_hello(owner, "owner", NULL), 0);
        ck_assert_int_eq(raw_hello(sub, "subscriber", NULL), 0);
        ck_assert_int_eq(raw_register(owner, 2, NS), 0);
        ck_assert_int_eq(raw_subscribe(sub, 2, NS ".Changed"), 0);

        raw_frame_begin(&buf, MBUS_FRAME_EVENT);
        raw_field_u64(&buf, MBUS_FIELD_SERIAL, 3);
        raw_field_str(&buf, MBUS_FIELD_NAMESPACE, NS);
        raw_field_str(&buf, MBUS_FIELD_MEMBER, "Changed");
        finish_exact(&buf, 65536);
        ck_assert_int_eq(raw_send_buf(owner, &buf), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv_type(owner, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 3);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        raw_frame_done(&f);

        /* the subscriber got nothing of it and receives the next event */
        ck_assert_int_eq(raw_send_simple(owner, MBUS_FRAME_EVENT, 4, 0, NS, "Changed", NULL, NULL, NULL,
                                         "{\"n\": 4}"), 0);
        ck_assert_int_eq(raw_recv_type(sub, 10000, MBUS_FRAME_EVENT, &f), 0);
        ck_assert_int_eq(f.serial, 4);
        ck_assert_uint_lt(f.body_len, 100);
        raw_frame_done(&f);
        close(owner);
        close(sub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static int count_lines_with(const char *path, const char *needle) {
        char line[2048];
        int n = 0;
        FILE *f = fopen(path, "re");

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, needle))
                        n++;
        fclose(f);
        return n;
}

START_TEST(test_protocol_errors_and_drops_are_logged_rate_limited) {
        static const char *const args[] = { "--log-level", "info", NULL };
        char log[] = "/tmp/mbus-test-log-XXXXXX";
        struct test_broker b;
        struct raw_frame f;
        int fd;

        fd = mkstemp(log);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(test_broker_start_full(&b, args, log, false), 0);
        for (int i = 0; i < 40; i++) {
                fd = raw_connect(b.address);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 1, 0, NS, "Echo", NULL, NULL, NULL, NULL), 0);
                ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
                ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
                raw_frame_done(&f);
                ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
                close(fd);
        }
        ck_assert_broker_stops_cleanly(&b);

        /* 40 peers, but a burst of 10 lines each (within the 5 s interval) */
        ck_assert_int_ge(count_lines_with(log, "Protocol error from"), 1);
        ck_assert_int_le(count_lines_with(log, "Protocol error from"), 10);
        ck_assert_int_ge(count_lines_with(log, "Dropped peer"), 1);
        ck_assert_int_le(count_lines_with(log, "Dropped peer"), 10);
        (void) unlink(log);
}
END_TEST

static Suite *protocol_suite(void) {
        Suite *s = suite_create("e2e-protocol");
        TCase *tc = tcase_create("protocol");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_loop_test(tc, test_malformed_frames_get_protocol_error_and_disconnect, 0,
                            (int) (sizeof(bad_cases) / sizeof(bad_cases[0])));
        tcase_add_test(tc, test_frame_over_the_configured_size_is_refused);
        tcase_add_test(tc, test_peer_hanging_up_mid_frame_leaves_the_broker_working);
        tcase_add_test(tc, test_hello_name_with_invalid_utf8_is_reported_as_valid_utf8);
        tcase_add_test(tc, test_reusing_the_serial_of_a_pending_call_is_a_protocol_error);
        tcase_add_test(tc, test_call_of_max_frame_size_is_refused_and_the_service_stays);
        tcase_add_test(tc, test_event_of_max_frame_size_is_refused_and_subscribers_stay);
        tcase_add_test(tc, test_protocol_errors_and_drops_are_logged_rate_limited);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(protocol_suite)
