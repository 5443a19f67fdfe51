/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the compat front end's pure parts: name escaping, the original framing with
 * zlib, and the translation of original frames into mbus frames and back, on a connection
 * without a socket or broker (the frames it pushes are read back from its message link).
 */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "compat-internal.h"
#include "compat-names.h"
#include "compat-wire.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/test-util.h"

START_TEST(test_names_round_trip_and_valid_names_stay_unchanged) {
        static const struct {
                const char *name;
                const char *ns;         /* NULL: not a namespace (same as member test only) */
                const char *member;
        } table[] = {
                { "org.example.Network", "org.example.Network", "org__2eexample__2eNetwork" },
                { "org.mbus.client.execute-command", "org.mbus.client.execute-command",
                  "org__2embus__2eclient__2eexecute__2dcommand" },
                { "org.mbus.client.6b8b4567", "org.mbus.client.__36b8b4567",
                  "org__2embus__2eclient__2e6b8b4567" },
                { "command.execute", "command.execute", "command__2eexecute" },
                { "StateChanged", "StateChanged._", "StateChanged" },
                { "a__b", "a__5f_b._", "a__5f_b" },
                { "x._", "x.__5f", "x__2e_" },
                { "..", "__2e__2e._", "__2e__2e" },
                { "9lives", "__39lives._", "__39lives" },
                { "caf\xc3\xa9.bar", "caf__c3__a9.bar", "caf__c3__a9__2ebar" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *ns = NULL, *member = NULL, *back_ns = NULL, *back_member = NULL;

                ck_assert_int_eq(mbus_compat_escape_namespace(table[i].name, &ns), 0);
                ck_assert_str_eq(ns, table[i].ns);
                ck_assert(mbus_namespace_is_valid(ns));
                ck_assert_int_eq(mbus_compat_unescape_namespace(ns, &back_ns), 0);
                ck_assert_str_eq(back_ns, table[i].name);

                ck_assert_int_eq(mbus_compat_escape_member(table[i].name, &member), 0);
                ck_assert_str_eq(member, table[i].member);
                ck_assert(mbus_member_is_valid(member));
                ck_assert_int_eq(mbus_compat_unescape_member(member, &back_member), 0);
                ck_assert_str_eq(back_member, table[i].name);
        }
}
END_TEST

START_TEST(test_names_that_cannot_be_carried_are_refused) {
        char long_name[300];
        char *out = NULL;

        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        ck_assert_int_eq(mbus_compat_escape_namespace("", &out), -EINVAL);
        ck_assert_int_eq(mbus_compat_escape_member("", &out), -EINVAL);
        ck_assert_int_eq(mbus_compat_escape_member(long_name, &out), -EINVAL);
        /* 200 dots escape to 800 bytes: too long for a name. */
        memset(long_name, '.', 200);
        long_name[200] = 0;
        ck_assert_int_eq(mbus_compat_escape_namespace(long_name, &out), -EINVAL);
        ck_assert_ptr_null(out);
}
END_TEST

/* The frame writer writes exactly json-c's text: every escape, integer extremes, nesting. */
START_TEST(test_json_text_is_json_c_text) {
        static const char *const docs[] = {
                "{}",
                "[]",
                "{\"a\":[1,-2,0,9223372036854775807,-9223372036854775808,18446744073709551615],\"b\":null,"
                "\"c\":true,\"d\":false,\"e\":{\"f\":[[],{}]},\"g\":1.5,\"h\":-0.25e3}",
                "{\"s\":\"a/b \\\"q\\\" \\\\ \\b\\f\\n\\r\\t \\u0001\\u001f \\u007f \\u00e9 \\u20ac\","
                "\"k\\n/\\\"\":\"\"}",
        };
        char ctl[34];

        for (size_t i = 0; i < ELEMENTSOF(docs) + 1; i++) {
                _cleanup_json_ json_object *o = NULL;
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len = 0, cap = 0;
                const char *want;

                if (i < ELEMENTSOF(docs))
                        ck_assert_int_eq(json_parse_bytes(docs[i], strlen(docs[i]), &o), 0);
                else {
                        /* Every control character, in a string json-c did not parse. */
                        for (size_t c = 1; c < 33; c++)
                                ctl[c - 1] = (char) c;
                        ctl[32] = 0x7f;
                        ctl[33] = 0;
                        o = json_object_new_array();
                        (void) json_object_array_add(o, json_object_new_string(ctl));
                }
                want = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                buf = (uint8_t *) strdup("x");
                len = cap = 1;
                ck_assert_int_eq(mbus_compat_wire_append_json(&buf, &len, &cap, o), 0);
                ck_assert_uint_eq(len, 1 + strlen(want));
                ck_assert(memcmp(buf, "x", 1) == 0);
                ck_assert(memcmp(buf + 1, want, strlen(want)) == 0);
        }
}
END_TEST

START_TEST(test_wire_frames_plain_and_zlib_and_bounded_inflate) {
        static const char text[] = "{\"org.mbus.method.tag.type\":\"org.mbus.method.type.command\"}";
        _cleanup_free_ uint8_t *plain = NULL, *zipped = NULL, *bomb = NULL;
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ uint8_t *zeros = calloc(1, 1u << 20);
        size_t plain_len, zipped_len, size, len;
        uLongf zlen = compressBound(1u << 20);
        uint32_t n;

        ck_assert_int_eq(mbus_compat_wire_encode(text, strlen(text), false, &plain, &plain_len), 0);
        ck_assert_uint_eq(plain_len, 4 + strlen(text));
        ck_assert_int_eq(mbus_compat_wire_peek(plain, 3, 1024, &size), -EAGAIN);
        ck_assert_int_eq(mbus_compat_wire_peek(plain, plain_len, 1024, &size), 0);
        ck_assert_uint_eq(size, plain_len);
        ck_assert_int_eq(mbus_compat_wire_peek(plain, plain_len, 10, &size), -EMSGSIZE);
        ck_assert_int_eq(mbus_compat_wire_decode(plain + 4, plain_len - 4, false, 1024, &out, &len), 0);
        ck_assert_str_eq(out, text);
        free(out);
        out = NULL;

        ck_assert_int_eq(mbus_compat_wire_encode(text, strlen(text), true, &zipped, &zipped_len), 0);
        ck_assert_int_eq(mbus_compat_wire_decode(zipped + 4, zipped_len - 4, true, 1024, &out, &len), 0);
        ck_assert_str_eq(out, text);
        free(out);
        out = NULL;
        /* Stated length over the maximum: refused before inflating. */
        ck_assert_int_eq(mbus_compat_wire_decode(zipped + 4, zipped_len - 4, true, 10, &out, &len), -EMSGSIZE);
        /* Corrupt stream. */
        zipped[10] ^= 0xff;
        ck_assert_int_eq(mbus_compat_wire_decode(zipped + 4, zipped_len - 4, true, 1024, &out, &len), -EBADMSG);

        /* A bomb: 1 MiB of zeros stated as 64 bytes stops at 64. */
        bomb = malloc(4 + zlen);
        ck_assert_int_eq(compress2(bomb + 4, &zlen, zeros, 1u << 20, 9), Z_OK);
        n = htonl(64);
        memcpy(bomb, &n, 4);
        ck_assert_int_eq(mbus_compat_wire_decode(bomb, 4 + zlen, true, 1u << 24, &out, &len), -EBADMSG);
        ck_assert_ptr_null(out);
}
END_TEST

/* --- translation ------------------------------------------------------------------------------ */

struct tconn {
        struct mbus_compat_conn c;
};

static void tconn_init(struct tconn *t) {
        memset(t, 0, sizeof(*t));
        mbus_compat_conn_init(&t->c, 1u << 20);
        ck_assert_int_eq(mbus_message_link_new(&t->c.link, 0), 0);
}

static void tconn_done(struct tconn *t) {
        mbus_compat_conn_done(&t->c);
        t->c.link = mbus_message_link_unref(t->c.link);
        free(t->c.out);
}

/* The next native frame the translator pushed, or NULL. */
static struct mbus_frame *tconn_native(struct tconn *t) {
        struct mbus_message_link *l = t->c.link;
        struct mbus_frame *f = NULL;
        size_t size;

        if (l->in_end == l->in_start)
                return NULL;
        ck_assert_int_eq(mbus_frame_peek_size(l->in + l->in_start, l->in_end - l->in_start, SIZE_MAX, &size, NULL), 0);
        ck_assert_int_eq(mbus_frame_parse(&f, l->in + l->in_start, size, SIZE_MAX, NULL), 0);
        l->in_start += size;
        return f;
}

/* The next original frame the translator queued for the socket, or NULL. */
static json_object *tconn_original(struct tconn *t) {
        json_object *o = NULL;
        uint32_t n;

        if (t->c.out_end == t->c.out_start)
                return NULL;
        memcpy(&n, t->c.out + t->c.out_start, 4);
        n = ntohl(n);
        ck_assert_int_eq(json_parse_bytes((const char *) t->c.out + t->c.out_start + 4, n, &o), 0);
        t->c.out_start += 4 + n;
        return o;
}

static void tconn_feed(struct tconn *t, const char *text) {
        const char *reason = NULL;

        ck_assert_int_eq(mbus_compat_from_original(&t->c, text, strlen(text), &reason), 0);
}

static void tconn_reply(struct tconn *t, enum mbus_frame_type type, uint64_t reply_serial, const char *error,
                        const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        struct mbus_frame_fields fields = { .reply_serial = reply_serial, .error_name = error };

        ck_assert_int_eq(mbus_frame_new(&f, type, &fields, body, body ? strlen(body) : 0), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t->c, f), 0);
}

#define CMD(dest, ident, seq, payload)                                                                  \
        "{\"org.mbus.method.tag.type\":\"org.mbus.method.type.command\",\"org.mbus.method.tag.destination\":\"" \
        dest "\",\"org.mbus.method.tag.identifier\":\"" ident "\",\"org.mbus.method.tag.sequence\":" #seq     \
        ",\"org.mbus.method.tag.payload\":" payload "}"

/* Runs the create handshake of identifier through the translator. */
static void tconn_create(struct tconn *t) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *hello = NULL, *reg = NULL;
        _cleanup_json_ json_object *res = NULL;
        json_object *p;

        tconn_feed(t, CMD("org.mbus.server", "command.create", 1,
                          "{\"identifier\":\"org.mbus.client.6b8b4567\",\"compressions\":[\"none\",\"zlib\"]}"));
        hello = tconn_native(t);
        ck_assert_int_eq(hello->type, MBUS_FRAME_HELLO);
        ck_assert_ptr_null(tconn_original(t));          /* nothing until the broker welcomed it */
        tconn_reply(t, MBUS_FRAME_WELCOME, hello->f.serial, NULL, "{\"id\":\":1.5\"}");
        reg = tconn_native(t);
        ck_assert_int_eq(reg->type, MBUS_FRAME_REGISTER);
        ck_assert_str_eq(reg->f.namespace, "org.mbus.client.__36b8b4567");
        tconn_reply(t, MBUS_FRAME_RETURN, reg->f.serial, NULL, NULL);
        res = tconn_original(t);
        ck_assert_str_eq(json_get_string(res, COMPAT_TAG_TYPE), COMPAT_TYPE_RESULT);
        ck_assert(json_object_object_get_ex(res, COMPAT_TAG_PAYLOAD, &p));
        ck_assert_str_eq(json_get_string(p, "identifier"), "org.mbus.client.6b8b4567");
        ck_assert_str_eq(json_get_string(p, "compression"), "none");
        ck_assert_int_eq(t->c.state, COMPAT_RUNNING);
}

START_TEST(test_create_is_hello_and_register_of_the_escaped_identifier) {
        struct tconn t;

        tconn_init(&t);
        tconn_create(&t);
        tconn_done(&t);
}
END_TEST

START_TEST(test_command_is_a_call_and_error_status_comes_back) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *call = NULL, *call2 = NULL;
        _cleanup_json_ json_object *ok = NULL, *bad = NULL;
        json_object *p, *v;
        struct tconn t;

        tconn_init(&t);
        tconn_create(&t);
        tconn_feed(&t, CMD("org.mbus.client.execute-command", "command.execute", 5, "{\"command\":\"ls\"}"));
        call = tconn_native(&t);
        ck_assert_int_eq(call->type, MBUS_FRAME_CALL);
        ck_assert_str_eq(call->f.namespace, "org.mbus.client.execute-command");
        ck_assert_str_eq(call->f.member, "command__2eexecute");
        ck_assert_str_eq((const char *) call->body, "{\"command\":\"ls\"}");
        tconn_reply(&t, MBUS_FRAME_RETURN, call->f.serial, NULL, "{\"output\":\"x\"}");
        ok = tconn_original(&t);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(ok, COMPAT_TAG_SEQUENCE)), 5);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(ok, COMPAT_TAG_STATUS)), 0);
        ck_assert(json_object_object_get_ex(ok, COMPAT_TAG_PAYLOAD, &p));
        ck_assert_str_eq(json_get_string(p, "output"), "x");

        tconn_feed(&t, CMD("org.example.Svc", "Get", 6, "{}"));
        call2 = tconn_native(&t);
        /* The status a translated result carried wins over the error's errno. */
        tconn_reply(&t, MBUS_FRAME_ERROR, call2->f.serial, "org.mbus.Error.Failed",
                    "{\"message\":\"command returned status 7\",\"status\":7}");
        bad = tconn_original(&t);
        ck_assert(json_object_object_get_ex(bad, COMPAT_TAG_STATUS, &v));
        ck_assert_int_eq(json_object_get_int(v), 7);
        tconn_done(&t);
}
END_TEST

START_TEST(test_native_call_reaches_registered_command_and_result_returns) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *reg = NULL, *call = NULL, *ret = NULL, *err = NULL,
                                                       *unknown = NULL, *answer = NULL;
        _cleanup_json_ json_object *r1 = NULL, *cmd = NULL, *r2 = NULL, *decl = NULL;
        struct mbus_frame_fields f = { .serial = 9, .namespace = "org.mbus.client.__36b8b4567",
                                       .member = "command__2eexecute", .sender = ":1.7" };
        char text[512];
        struct tconn t;

        tconn_init(&t);
        tconn_create(&t);
        tconn_feed(&t, CMD("org.mbus.server", "command.register", 2, "{\"command\":\"command.execute\"}"));
        reg = tconn_native(&t);
        ck_assert_int_eq(reg->type, MBUS_FRAME_REGISTER);
        ck_assert_int_eq(json_parse_bytes((const char *) reg->body, reg->body_len, &decl), 0);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(json_object_object_get(decl, "procedures"), 0)),
                         "command__2eexecute");
        tconn_reply(&t, MBUS_FRAME_RETURN, reg->f.serial, NULL, NULL);
        r1 = tconn_original(&t);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(r1, COMPAT_TAG_STATUS)), 0);

        ck_assert_int_eq(mbus_frame_new(&call, MBUS_FRAME_CALL, &f, "{\"command\":\"ls\"}", 16), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t.c, call), 0);
        cmd = tconn_original(&t);
        ck_assert_str_eq(json_get_string(cmd, COMPAT_TAG_TYPE), COMPAT_TYPE_COMMAND);
        ck_assert_str_eq(json_get_string(cmd, COMPAT_TAG_IDENTIFIER), "command.execute");
        ck_assert_str_eq(json_get_string(cmd, COMPAT_TAG_SOURCE), ":1.7");
        (void) snprintf(text, sizeof(text), CMD("org.mbus.server", "command.result", 3,
                        "{\"org.mbus.method.tag.destination\":\":1.7\",\"org.mbus.method.tag.identifier\":"
                        "\"command.execute\",\"org.mbus.method.tag.sequence\":%d,\"org.mbus.method.tag.status\":0,"
                        "\"org.mbus.method.tag.payload\":{\"out\":1}}"),
                        json_object_get_int(json_object_object_get(cmd, COMPAT_TAG_SEQUENCE)));
        tconn_feed(&t, text);
        ret = tconn_native(&t);
        ck_assert_int_eq(ret->type, MBUS_FRAME_RETURN);
        ck_assert_int_eq(ret->f.reply_serial, 9);
        ck_assert_str_eq(ret->f.destination, ":1.7");
        ck_assert_str_eq((const char *) ret->body, "{\"out\":1}");
        r2 = tconn_original(&t);                        /* command.result itself is answered */
        ck_assert_int_eq(json_object_get_int(json_object_object_get(r2, COMPAT_TAG_SEQUENCE)), 3);

        /* A procedure it never registered: UnknownProcedure, and the client hears nothing. */
        f.member = "other";
        f.serial = 10;
        ck_assert_int_eq(mbus_frame_new(&unknown, MBUS_FRAME_CALL, &f, NULL, 0), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t.c, unknown), 0);
        err = tconn_native(&t);
        ck_assert_int_eq(err->type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(err->f.error_name, "org.mbus.Error.UnknownProcedure");
        ck_assert_ptr_null(tconn_original(&t));

        /* The broker's keep-alive PING is answered by the translator. */
        f = (struct mbus_frame_fields) { .serial = 11 };
        mbus_frame_unrefp(&unknown);
        ck_assert_int_eq(mbus_frame_new(&unknown, MBUS_FRAME_PING, &f, NULL, 0), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t.c, unknown), 0);
        answer = tconn_native(&t);
        ck_assert_int_eq(answer->type, MBUS_FRAME_PONG);
        ck_assert_int_eq(answer->f.reply_serial, 11);
        /* ... unless the client agreed to ping and has been silent past its threshold. */
        t.c.ping_interval = 1000;
        t.c.ping_timeout = 500;
        t.c.ping_threshold = 2;
        t.c.last_rx -= 5 * USEC_PER_SEC;
        ck_assert_int_eq(mbus_compat_from_native(&t.c, unknown), 0);
        ck_assert_ptr_null(tconn_native(&t));
        t.c.last_rx += 4 * USEC_PER_SEC;
        ck_assert_int_eq(mbus_compat_from_native(&t.c, unknown), 0);
        mbus_frame_unrefp(&answer);
        answer = tconn_native(&t);
        ck_assert_int_eq(answer->type, MBUS_FRAME_PONG);
        tconn_done(&t);
}
END_TEST

START_TEST(test_subscriptions_become_patterns_and_events_are_filtered) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *s1 = NULL, *s2 = NULL, *ev = NULL, *other = NULL;
        _cleanup_json_ json_object *r1 = NULL, *r2 = NULL, *got = NULL;
        struct mbus_frame_fields f = { .serial = 3, .namespace = "org.example.Net", .member = "Up", .sender = ":1.9" };
        struct tconn t;

        tconn_init(&t);
        tconn_create(&t);
        tconn_feed(&t, CMD("org.mbus.server", "command.subscribe", 2,
                           "{\"source\":\"org.mbus.client.6b8b4567\",\"event\":\"org.mbus.method.event.identifier.all\"}"));
        s1 = tconn_native(&t);
        ck_assert_int_eq(s1->type, MBUS_FRAME_SUBSCRIBE);
        ck_assert_str_eq(s1->f.pattern, "org.mbus.client.__36b8b4567.*");
        tconn_reply(&t, MBUS_FRAME_RETURN, s1->f.serial, NULL, NULL);
        r1 = tconn_original(&t);
        tconn_feed(&t, CMD("org.mbus.server", "command.subscribe", 3,
                           "{\"source\":\"org.mbus.method.event.source.all\",\"event\":\"Up\"}"));
        s2 = tconn_native(&t);
        ck_assert_str_eq(s2->f.pattern, "*");
        tconn_reply(&t, MBUS_FRAME_RETURN, s2->f.serial, NULL, NULL);
        r2 = tconn_original(&t);

        ck_assert_int_eq(mbus_frame_new(&ev, MBUS_FRAME_EVENT, &f, "{\"a\":1}", 7), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t.c, ev), 0);
        got = tconn_original(&t);
        ck_assert_str_eq(json_get_string(got, COMPAT_TAG_SOURCE), "org.example.Net");
        ck_assert_str_eq(json_get_string(got, COMPAT_TAG_IDENTIFIER), "Up");
        /* "*" brings every event; only the subscribed name gets through. */
        f.member = "Down";
        ck_assert_int_eq(mbus_frame_new(&other, MBUS_FRAME_EVENT, &f, "{}", 2), 0);
        ck_assert_int_eq(mbus_compat_from_native(&t.c, other), 0);
        ck_assert_ptr_null(tconn_original(&t));
        tconn_done(&t);
}
END_TEST

START_TEST(test_acknowledged_event_is_event_then_ping) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *ev = NULL, *ping = NULL;
        _cleanup_json_ json_object *res = NULL;
        struct tconn t;

        tconn_init(&t);
        tconn_create(&t);
        /* MBusClient.py's ping: a null payload is none. */
        tconn_feed(&t, "{\"org.mbus.method.tag.type\":\"org.mbus.method.type.event\",\"org.mbus.method.tag.destination\":"
                       "\"org.mbus.server\",\"org.mbus.method.tag.identifier\":\"org.mbus.server.event.ping\","
                       "\"org.mbus.method.tag.sequence\":3,\"org.mbus.method.tag.payload\":null,"
                       "\"org.mbus.method.tag.timeout\":null}");
        res = tconn_original(&t);
        ck_assert_str_eq(json_get_string(res, COMPAT_TAG_IDENTIFIER), "org.mbus.server.event.pong");
        json_object_put(TAKE_PTR(res));
        tconn_feed(&t, CMD("org.mbus.server", "command.event", 4,
                           "{\"org.mbus.method.tag.destination\":\"org.mbus.method.event.destination.subscribers\","
                           "\"org.mbus.method.tag.identifier\":\"state.changed\",\"org.mbus.method.tag.payload\":{}}"));
        ev = tconn_native(&t);
        ck_assert_int_eq(ev->type, MBUS_FRAME_EVENT);
        ck_assert_str_eq(ev->f.member, "state__2echanged");
        ping = tconn_native(&t);
        ck_assert_int_eq(ping->type, MBUS_FRAME_PING);
        ck_assert_ptr_null(tconn_original(&t));         /* not acknowledged before the PONG */
        /* Refused (policy): the ERROR comes before the PONG, and the ack says so. */
        tconn_reply(&t, MBUS_FRAME_ERROR, ev->f.serial, "org.mbus.Error.AccessDenied", "{}");
        tconn_reply(&t, MBUS_FRAME_PONG, ping->f.serial, NULL, NULL);
        res = tconn_original(&t);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(res, COMPAT_TAG_SEQUENCE)), 4);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(res, COMPAT_TAG_STATUS)), -1);
        tconn_done(&t);
}
END_TEST

START_TEST(test_malformed_frames_are_refused) {
        static const char *const bad[] = {
                "nope", "[]", "{}", CMD("org.mbus.server", "command.create", 1, "[]"),
                CMD("org.mbus.server", "command.status", 1, "{}"),     /* before command.create */
        };
        struct tconn t;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *reason = NULL;

                tconn_init(&t);
                ck_assert_int_eq(mbus_compat_from_original(&t.c, bad[i], strlen(bad[i]), &reason), -EBADMSG);
                ck_assert_ptr_nonnull(reason);
                tconn_done(&t);
        }
}
END_TEST

static Suite *compat_suite(void) {
        Suite *s = suite_create("compat");
        TCase *tc = tcase_create("compat");

        tcase_add_test(tc, test_names_round_trip_and_valid_names_stay_unchanged);
        tcase_add_test(tc, test_names_that_cannot_be_carried_are_refused);
        tcase_add_test(tc, test_wire_frames_plain_and_zlib_and_bounded_inflate);
        tcase_add_test(tc, test_json_text_is_json_c_text);
        tcase_add_test(tc, test_create_is_hello_and_register_of_the_escaped_identifier);
        tcase_add_test(tc, test_command_is_a_call_and_error_status_comes_back);
        tcase_add_test(tc, test_native_call_reaches_registered_command_and_result_returns);
        tcase_add_test(tc, test_subscriptions_become_patterns_and_events_are_filtered);
        tcase_add_test(tc, test_acknowledged_event_is_event_then_ping);
        tcase_add_test(tc, test_malformed_frames_are_refused);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(compat_suite)
