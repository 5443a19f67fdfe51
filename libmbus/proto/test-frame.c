/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frame codec tests: every type round-trips byte for byte, and every malformed case the spec
 * in frame.h names is refused with its errno and a reason. Malformed frames are hand-built
 * here with a tiny TLV writer, independent of the encoder under test. Every file in
 * fuzz-regressions/ (inputs that once crashed the fuzzer) is parsed again on every run.
 */

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame-json.h"
#include "proto/frame.h"
#include "util/macro.h"
#include "util/test-util.h"

/* --- a hand-rolled frame writer -------------------------------------------------------- */

struct raw {
        uint8_t d[4096];
        size_t len;
        size_t fields_start;
};

static void raw_begin_full(struct raw *r, uint8_t version, uint8_t type, uint8_t flags, uint8_t reserved) {
        memset(r, 0, sizeof(*r));
        r->d[0] = version;
        r->d[1] = type;
        r->d[2] = flags;
        r->d[3] = reserved;
        r->len = MBUS_FRAME_HEADER_SIZE;
        r->fields_start = r->len;
}

static void raw_begin(struct raw *r, uint8_t type) {
        raw_begin_full(r, MBUS_PROTOCOL_VERSION, type, 0, 0);
}

static void put_le(uint8_t *p, uint64_t v, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void raw_field(struct raw *r, uint8_t code, uint8_t kind, const void *value, uint16_t len) {
        ck_assert_uint_le(r->len + 4 + len, sizeof(r->d));
        r->d[r->len++] = code;
        r->d[r->len++] = kind;
        put_le(r->d + r->len, len, 2);
        r->len += 2;
        if (len > 0)
                memcpy(r->d + r->len, value, len);
        r->len += len;
}

static void raw_u64(struct raw *r, uint8_t code, uint64_t v) {
        uint8_t b[8];

        put_le(b, v, 8);
        raw_field(r, code, MBUS_FIELD_KIND_UINT64, b, 8);
}

static void raw_str(struct raw *r, uint8_t code, const char *s) {
        raw_field(r, code, MBUS_FIELD_KIND_STRING, s, (uint16_t) (strlen(s) + 1));
}

/* Patches both lengths: fields are everything written so far, then body. */
static void raw_finish(struct raw *r, const char *body) {
        size_t body_len = body ? strlen(body) : 0;

        put_le(r->d + 4, r->len - r->fields_start, 4);
        put_le(r->d + 8, body_len, 4);
        if (body_len > 0)
                memcpy(r->d + r->len, body, body_len);
        r->len += body_len;
}

/* --- helpers --------------------------------------------------------------------------- */

static void expect_malformed_full(const void *data, size_t len, int error, const char *reason_part) {
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        int r;

        r = mbus_frame_parse(&f, data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
        ck_assert_msg(r == error, "expected %d (%s), got %d (reason: %s)", error, reason_part, r,
                      reason ? reason : "(null)");
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(reason);
        ck_assert_msg(strstr(reason, reason_part), "reason \"%s\" lacks \"%s\"", reason, reason_part);
}

static void expect_malformed(const struct raw *r, const char *reason_part) {
        expect_malformed_full(r->d, r->len, -EBADMSG, reason_part);
}

static struct mbus_frame *expect_valid(const struct raw *r) {
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        int k;

        k = mbus_frame_parse(&f, r->d, r->len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
        ck_assert_msg(k == 0, "parse failed: %d %s", k, reason ? reason : "");
        return f;
}

/* Copies head + body into one buffer, as they travel on the wire. */
static uint8_t *frame_wire(const struct mbus_frame *f) {
        uint8_t *buf = malloc(mbus_frame_size(f));

        ck_assert_ptr_nonnull(buf);
        memcpy(buf, f->head, f->head_len);
        if (f->body_len > 0)
                memcpy(buf + f->head_len, f->body, f->body_len);
        return buf;
}

static void assert_str_eq_null(const char *a, const char *b) {
        if (!a || !b)
                ck_assert_ptr_eq(a, b);
        else
                ck_assert_str_eq(a, b);
}

static void assert_fields_eq(const struct mbus_frame_fields *a, const struct mbus_frame_fields *b) {
        ck_assert_uint_eq(a->serial, b->serial);
        ck_assert_uint_eq(a->reply_serial, b->reply_serial);
        ck_assert_uint_eq(a->timeout_usec, b->timeout_usec);
        assert_str_eq_null(a->namespace, b->namespace);
        assert_str_eq_null(a->member, b->member);
        assert_str_eq_null(a->destination, b->destination);
        assert_str_eq_null(a->sender, b->sender);
        assert_str_eq_null(a->error_name, b->error_name);
        assert_str_eq_null(a->pattern, b->pattern);
        ck_assert_int_eq(a->has_caller_ids, b->has_caller_ids);
        ck_assert_uint_eq(a->caller_uid, b->caller_uid);
        ck_assert_uint_eq(a->caller_gid, b->caller_gid);
        ck_assert_uint_eq(a->caller_pid, b->caller_pid);
        assert_str_eq_null(a->caller_groups, b->caller_groups);
        assert_str_eq_null(a->caller_name, b->caller_name);
        assert_str_eq_null(a->caller_cert_cn, b->caller_cert_cn);
        assert_str_eq_null(a->caller_cert_fingerprint, b->caller_cert_fingerprint);
        assert_str_eq_null(a->caller_address, b->caller_address);
}

/* A valid field set per type, with every optional field present. */
static const struct {
        enum mbus_frame_type type;
        struct mbus_frame_fields f;
        const char *body;
} valid_frames[] = {
        { MBUS_FRAME_HELLO, { .serial = 1 }, "{\"name\":\"test\"}" },
        { MBUS_FRAME_WELCOME, { .reply_serial = 1 }, "{\"id\":\":1.42\"}" },
        { MBUS_FRAME_REGISTER, { .serial = 2, .namespace = "org.example.Echo" }, NULL },
        { MBUS_FRAME_REGISTER, { .serial = 2, .namespace = "org.example.Echo" }, "{\"procedures\":[\"Echo\"]}" },
        { MBUS_FRAME_UNREGISTER, { .serial = 3, .namespace = "org.example.Echo" }, NULL },
        { MBUS_FRAME_CALL, { .serial = 4, .namespace = "org.example.Echo", .member = "Echo" }, "{}" },
        { MBUS_FRAME_CALL, { .serial = UINT64_MAX, .namespace = "org.example.Echo", .member = "Echo",
                             .timeout_usec = 25000000, .sender = ":1.7" }, "[1,2,3]" },
        { MBUS_FRAME_CALL, { .serial = 4, .namespace = "org.example.Echo", .member = "Echo", .sender = ":1.7",
                             .has_caller_ids = true, .caller_uid = 0, .caller_gid = 0, .caller_pid = 42,
                             .caller_groups = "4,27,1000", .caller_name = "tool \xc3\xa9" }, "{}" },
        { MBUS_FRAME_CALL, { .serial = 4, .namespace = "org.example.Echo", .member = "Echo", .sender = ":1.7",
                             .caller_name = "n", .caller_cert_cn = "node1", .caller_address = "[::1]:4000",
                             .caller_cert_fingerprint =
                                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }, NULL },
        { MBUS_FRAME_RETURN, { .reply_serial = 4 }, NULL },
        { MBUS_FRAME_RETURN, { .reply_serial = 4, .destination = ":1.7", .sender = ":1.8" }, "{\"a\":1}" },
        { MBUS_FRAME_ERROR, { .reply_serial = 4, .error_name = "org.mbus.Error.Timeout" },
          "{\"message\":\"timed out\"}" },
        { MBUS_FRAME_ERROR, { .reply_serial = 0, .error_name = "org.mbus.Error.ProtocolError" }, NULL },
        { MBUS_FRAME_ERROR, { .reply_serial = 9, .error_name = "org.example.Error.Busy",
                              .destination = ":1.1", .sender = ":1.0" }, NULL },
        { MBUS_FRAME_EVENT, { .serial = 5, .namespace = "org.example.Net", .member = "StateChanged" }, "{}" },
        { MBUS_FRAME_EVENT, { .serial = 5, .namespace = "org.example.Net", .member = "StateChanged",
                              .destination = ":1.3", .sender = ":1.18446744073709551615" }, "{\"x\":\"\xc3\xa9\"}" },
        { MBUS_FRAME_SUBSCRIBE, { .serial = 6, .pattern = "*" }, NULL },
        { MBUS_FRAME_SUBSCRIBE, { .serial = 6, .pattern = "org.example.*" }, NULL },
        { MBUS_FRAME_UNSUBSCRIBE, { .serial = 7, .pattern = "org.example.Net.StateChanged" }, NULL },
        { MBUS_FRAME_PING, { .serial = 8 }, NULL },
        { MBUS_FRAME_PONG, { .reply_serial = 8 }, NULL },
};

/* --- round trips ----------------------------------------------------------------------- */

START_TEST(test_every_type_round_trips_byte_identical) {
        for (size_t i = 0; i < ELEMENTSOF(valid_frames); i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *a = NULL, *b = NULL, *c = NULL;
                _cleanup_free_ uint8_t *wire = NULL, *wire2 = NULL;
                const char *body = valid_frames[i].body, *reason = NULL;
                size_t body_len = body ? strlen(body) : 0, size = 0;

                ck_assert_int_eq(mbus_frame_new(&a, valid_frames[i].type, &valid_frames[i].f, body, body_len), 0);
                ck_assert_int_eq(a->type, valid_frames[i].type);
                ck_assert_uint_eq(a->n_ref, 1);
                assert_fields_eq(&a->f, &valid_frames[i].f);
                ck_assert_uint_eq(a->body_len, body_len);
                ck_assert_uint_eq(a->body[body_len], 0);

                wire = frame_wire(a);
                ck_assert_int_eq(mbus_frame_peek_size(wire, MBUS_FRAME_HEADER_SIZE, SIZE_MAX, &size, NULL), 0);
                ck_assert_uint_eq(size, mbus_frame_size(a));

                ck_assert_int_eq(mbus_frame_parse(&b, wire, size, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason), 0);
                ck_assert_int_eq(b->type, a->type);
                ck_assert_uint_eq(b->flags, 0);
                assert_fields_eq(&b->f, &a->f);
                ck_assert_uint_eq(b->head_len, a->head_len);
                ck_assert_uint_eq(b->body_len, body_len);
                if (body_len > 0)
                        ck_assert_mem_eq(b->body, body, body_len);
                ck_assert_uint_eq(b->body[body_len], 0);
                /* Decoded strings live in the frame's own copy, not in the caller's buffer. */
                if (b->f.namespace)
                        ck_assert(b->f.namespace >= (const char *) b->head &&
                                  b->f.namespace < (const char *) b->head + b->head_len);

                ck_assert_int_eq(mbus_frame_new(&c, b->type, &b->f, b->body, b->body_len), 0);
                wire2 = frame_wire(c);
                ck_assert_uint_eq(mbus_frame_size(c), size);
                ck_assert_mem_eq(wire2, wire, size);
        }
}
END_TEST

START_TEST(test_forwarded_frame_shares_body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *call = NULL, *fwd = NULL, *fwd2 = NULL, *parsed = NULL;
        _cleanup_free_ uint8_t *wire = NULL;
        struct mbus_frame_fields f = { .serial = 3, .namespace = "org.example.Echo", .member = "Echo" };
        const char *body = "{\"seq\":1}";

        ck_assert_int_eq(mbus_frame_new(&call, MBUS_FRAME_CALL, &f, body, strlen(body)), 0);
        f.sender = ":1.5";
        ck_assert_int_eq(mbus_frame_new_with_body_of(&fwd, MBUS_FRAME_CALL, &f, call), 0);
        ck_assert_ptr_eq(fwd->body, call->body);
        ck_assert_ptr_eq(fwd->body_owner, call);
        ck_assert_uint_eq(call->n_ref, 2);
        ck_assert_str_eq(fwd->f.sender, ":1.5");

        /* Forwarding a forwarded frame still points at the one real body. */
        ck_assert_int_eq(mbus_frame_new_with_body_of(&fwd2, MBUS_FRAME_CALL, &f, fwd), 0);
        ck_assert_ptr_eq(fwd2->body, call->body);
        ck_assert_uint_eq(call->n_ref, 3);

        /* The original may go first: the forwarded frame keeps the body alive. */
        call = mbus_frame_unref(call);
        fwd2 = mbus_frame_unref(fwd2);
        ck_assert_mem_eq(fwd->body, body, strlen(body));

        wire = frame_wire(fwd);
        ck_assert_int_eq(mbus_frame_parse(&parsed, wire, mbus_frame_size(fwd), SIZE_MAX, NULL), 0);
        ck_assert_str_eq(parsed->f.sender, ":1.5");
        ck_assert_mem_eq(parsed->body, body, strlen(body));
}
END_TEST

START_TEST(test_ref_unref) {
        struct mbus_frame *f = NULL;
        struct mbus_frame_fields fields = { .serial = 1 };

        ck_assert_ptr_null(mbus_frame_unref(NULL));
        ck_assert_ptr_null(mbus_frame_ref(NULL));
        ck_assert_int_eq(mbus_frame_new(&f, MBUS_FRAME_PING, &fields, NULL, 0), 0);
        ck_assert_ptr_eq(mbus_frame_ref(f), f);
        ck_assert_uint_eq(f->n_ref, 2);
        ck_assert_ptr_null(mbus_frame_unref(f));
        ck_assert_uint_eq(f->n_ref, 1);
        ck_assert_ptr_null(mbus_frame_unref(f));
}
END_TEST

START_TEST(test_encoder_limits) {
        struct mbus_frame *f = NULL;
        struct mbus_frame_fields fields = { .serial = 1 };
        char *big;

        big = malloc(MBUS_FIELD_STRING_MAX + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, 'a', MBUS_FIELD_STRING_MAX);
        big[MBUS_FIELD_STRING_MAX] = 0;

        fields.namespace = big;         /* 65535 bytes + NUL does not fit u16 */
        ck_assert_int_eq(mbus_frame_new(&f, MBUS_FRAME_REGISTER, &fields, NULL, 0), -EINVAL);
        ck_assert_ptr_null(f);

        big[MBUS_FIELD_STRING_MAX - 1] = 0;     /* 65534 + NUL fits */
        ck_assert_int_eq(mbus_frame_new(&f, MBUS_FRAME_REGISTER, &fields, NULL, 0), 0);
        ck_assert_uint_eq(f->head_len, MBUS_FRAME_HEADER_SIZE + 4 + 8 + 4 + MBUS_FIELD_STRING_MAX);
        f = mbus_frame_unref(f);
        free(big);
}
END_TEST

START_TEST(test_type_names) {
        ck_assert_str_eq(mbus_frame_type_to_string(MBUS_FRAME_HELLO), "HELLO");
        ck_assert_str_eq(mbus_frame_type_to_string(MBUS_FRAME_CALL), "CALL");
        ck_assert_str_eq(mbus_frame_type_to_string(MBUS_FRAME_PONG), "PONG");
        ck_assert_ptr_null(mbus_frame_type_to_string(0));
        ck_assert_ptr_null(mbus_frame_type_to_string(_MBUS_FRAME_TYPE_MAX));
        ck_assert_ptr_null(mbus_frame_type_to_string(_MBUS_FRAME_TYPE_INVALID));
}
END_TEST

/* --- fixed header ---------------------------------------------------------------------- */

START_TEST(test_peek_size) {
        struct raw r;
        size_t size = 0;
        const char *reason = NULL;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, "{}");

        for (size_t n = 0; n < MBUS_FRAME_HEADER_SIZE; n++)
                ck_assert_int_eq(mbus_frame_peek_size(r.d, n, SIZE_MAX, &size, NULL), -EAGAIN);
        ck_assert_int_eq(mbus_frame_peek_size(r.d, MBUS_FRAME_HEADER_SIZE, SIZE_MAX, &size, NULL), 0);
        ck_assert_uint_eq(size, r.len);
        ck_assert_int_eq(mbus_frame_peek_size(r.d, r.len, r.len, &size, NULL), 0);
        ck_assert_int_eq(mbus_frame_peek_size(r.d, r.len, r.len - 1, &size, &reason), -EMSGSIZE);
        ck_assert_ptr_nonnull(reason);

        /* Both lengths at their u32 maximum must not wrap. */
        put_le(r.d + 4, UINT32_MAX, 4);
        put_le(r.d + 8, UINT32_MAX, 4);
        ck_assert_int_eq(mbus_frame_peek_size(r.d, MBUS_FRAME_HEADER_SIZE, SIZE_MAX, &size, NULL), 0);
        ck_assert_uint_eq(size, (uint64_t) MBUS_FRAME_HEADER_SIZE + 2 * (uint64_t) UINT32_MAX);
        ck_assert_int_eq(mbus_frame_peek_size(r.d, MBUS_FRAME_HEADER_SIZE, UINT32_MAX, &size, NULL), -EMSGSIZE);
}
END_TEST

START_TEST(test_bad_version) {
        struct raw r;

        raw_begin_full(&r, 2, MBUS_FRAME_PING, 0, 0);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, NULL);
        expect_malformed_full(r.d, r.len, -EPROTONOSUPPORT, "version");

        r.d[0] = 0;
        expect_malformed_full(r.d, r.len, -EPROTONOSUPPORT, "version");
}
END_TEST

START_TEST(test_nonzero_flags_or_reserved) {
        struct raw r;

        raw_begin_full(&r, 1, MBUS_FRAME_PING, 1, 0);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, NULL);
        expect_malformed(&r, "flags");

        raw_begin_full(&r, 1, MBUS_FRAME_PING, 0, 0x80);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, NULL);
        expect_malformed(&r, "reserved");
}
END_TEST

START_TEST(test_unknown_type) {
        static const uint8_t types[] = { 0, _MBUS_FRAME_TYPE_MAX, 0x7f, 0xff };

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                struct raw r;

                raw_begin(&r, types[i]);
                raw_u64(&r, MBUS_FIELD_SERIAL, 1);
                raw_finish(&r, NULL);
                expect_malformed(&r, "unknown frame type");
        }
}
END_TEST

START_TEST(test_truncated_header) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, NULL);
        for (size_t n = 0; n < MBUS_FRAME_HEADER_SIZE; n++)
                expect_malformed_full(r.d, n, -EBADMSG, "truncated frame header");
        expect_malformed_full(NULL, 0, -EBADMSG, "truncated frame header");
}
END_TEST

START_TEST(test_fields_len_beyond_size) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, NULL);
        /* Cut inside the fields: fields_len promises more than there is. */
        expect_malformed_full(r.d, r.len - 1, -EBADMSG, "fields extend beyond");
        put_le(r.d + 4, 100000, 4);
        expect_malformed(&r, "fields extend beyond");
}
END_TEST

START_TEST(test_body_len_beyond_size) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, "{\"a\":1}");
        expect_malformed_full(r.d, r.len - 1, -EBADMSG, "body extends beyond");
        put_le(r.d + 8, 100000, 4);
        expect_malformed(&r, "body extends beyond");
}
END_TEST

START_TEST(test_trailing_bytes) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, "{}");
        r.d[r.len++] = ' ';
        expect_malformed(&r, "trailing bytes");
}
END_TEST

START_TEST(test_oversize) {
        struct raw r;
        struct mbus_frame *f = NULL;
        const char *reason = NULL;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, "{}");
        ck_assert_int_eq(mbus_frame_parse(&f, r.d, r.len, r.len - 1, &reason), -EMSGSIZE);
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(strstr(reason, "maximum frame size"));
        ck_assert_int_eq(mbus_frame_parse(&f, r.d, r.len, r.len, &reason), 0);
        f = mbus_frame_unref(f);
}
END_TEST

/* --- fields ---------------------------------------------------------------------------- */

START_TEST(test_truncated_field) {
        struct raw r;

        /* Three bytes of a field header left over. */
        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        r.d[r.len++] = MBUS_FIELD_TIMEOUT;
        r.d[r.len++] = MBUS_FIELD_KIND_UINT64;
        r.d[r.len++] = 8;
        raw_finish(&r, NULL);
        expect_malformed(&r, "truncated field header");

        /* A field whose value runs past fields_len into the body. */
        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_finish(&r, "{\"padding\":12345}");
        put_le(r.d + 4, 11, 4);         /* fields end 1 byte before the value does */
        put_le(r.d + 8, r.len - MBUS_FRAME_HEADER_SIZE - 11, 4);
        expect_malformed(&r, "truncated field value");

        /* A string whose len points past the fields. */
        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_field(&r, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, "org.a\0", 6);
        put_le(r.d + r.len - 6 - 2, 200, 2);
        raw_finish(&r, NULL);
        expect_malformed(&r, "truncated field value");
}
END_TEST

START_TEST(test_unknown_field_code) {
        static const uint8_t codes[] = { 0, _MBUS_FIELD_MAX, 0xff };

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                struct raw r;

                raw_begin(&r, MBUS_FRAME_PING);
                raw_u64(&r, MBUS_FIELD_SERIAL, 1);
                raw_u64(&r, codes[i], 5);
                raw_finish(&r, NULL);
                expect_malformed(&r, "unknown field code");
        }
}
END_TEST

START_TEST(test_wrong_field_kind) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_str(&r, MBUS_FIELD_SERIAL, "1");
        raw_finish(&r, NULL);
        expect_malformed(&r, "wrong kind");

        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_u64(&r, MBUS_FIELD_NAMESPACE, 1);
        raw_finish(&r, NULL);
        expect_malformed(&r, "wrong kind");

        raw_begin(&r, MBUS_FRAME_PING);
        raw_field(&r, MBUS_FIELD_SERIAL, 3, "\1\0\0\0\0\0\0\0", 8);
        raw_finish(&r, NULL);
        expect_malformed(&r, "wrong kind");
}
END_TEST

START_TEST(test_uint64_len_not_8) {
        static const uint16_t lens[] = { 0, 1, 4, 7, 9, 16 };

        for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
                uint8_t v[16] = { 1 };
                struct raw r;

                raw_begin(&r, MBUS_FRAME_PING);
                raw_field(&r, MBUS_FIELD_SERIAL, MBUS_FIELD_KIND_UINT64, v, lens[i]);
                raw_finish(&r, NULL);
                expect_malformed(&r, "length is not 8");
        }
}
END_TEST

START_TEST(test_duplicate_field) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_u64(&r, MBUS_FIELD_SERIAL, 2);
        raw_finish(&r, NULL);
        expect_malformed(&r, "duplicate field");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_finish(&r, NULL);
        expect_malformed(&r, "duplicate field");
}
END_TEST

START_TEST(test_fields_in_any_order) {
        struct mbus_frame *f;
        struct raw r;

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_u64(&r, MBUS_FIELD_TIMEOUT, 5);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_u64(&r, MBUS_FIELD_SERIAL, 9);
        raw_finish(&r, "{}");
        f = expect_valid(&r);
        ck_assert_uint_eq(f->f.serial, 9);
        ck_assert_uint_eq(f->f.timeout_usec, 5);
        ck_assert_str_eq(f->f.namespace, "org.a");
        ck_assert_str_eq(f->f.member, "M");
        ck_assert_str_eq((const char *) f->body, "{}");
        mbus_frame_unref(f);
}
END_TEST

/* The required fields of each type, the way frame.h lists them. */
static const struct {
        enum mbus_frame_type type;
        enum mbus_field_code required[3];
        const char *missing_reason[3];
} required_fields[] = {
        { MBUS_FRAME_HELLO, { MBUS_FIELD_SERIAL }, { "serial" } },
        { MBUS_FRAME_WELCOME, { MBUS_FIELD_REPLY_SERIAL }, { "reply_serial" } },
        { MBUS_FRAME_REGISTER, { MBUS_FIELD_SERIAL, MBUS_FIELD_NAMESPACE }, { "serial", "namespace" } },
        { MBUS_FRAME_UNREGISTER, { MBUS_FIELD_SERIAL, MBUS_FIELD_NAMESPACE }, { "serial", "namespace" } },
        { MBUS_FRAME_CALL, { MBUS_FIELD_SERIAL, MBUS_FIELD_NAMESPACE, MBUS_FIELD_MEMBER },
          { "serial", "namespace", "member" } },
        { MBUS_FRAME_RETURN, { MBUS_FIELD_REPLY_SERIAL }, { "reply_serial" } },
        { MBUS_FRAME_ERROR, { MBUS_FIELD_REPLY_SERIAL, MBUS_FIELD_ERROR_NAME }, { "reply_serial", "error_name" } },
        { MBUS_FRAME_EVENT, { MBUS_FIELD_SERIAL, MBUS_FIELD_NAMESPACE, MBUS_FIELD_MEMBER },
          { "serial", "namespace", "member" } },
        { MBUS_FRAME_SUBSCRIBE, { MBUS_FIELD_SERIAL, MBUS_FIELD_PATTERN }, { "serial", "pattern" } },
        { MBUS_FRAME_UNSUBSCRIBE, { MBUS_FIELD_SERIAL, MBUS_FIELD_PATTERN }, { "serial", "pattern" } },
        { MBUS_FRAME_PING, { MBUS_FIELD_SERIAL }, { "serial" } },
        { MBUS_FRAME_PONG, { MBUS_FIELD_REPLY_SERIAL }, { "reply_serial" } },
};

static void raw_valid_field(struct raw *r, enum mbus_field_code code) {
        switch (code) {
        case MBUS_FIELD_SERIAL:
        case MBUS_FIELD_REPLY_SERIAL:
        case MBUS_FIELD_TIMEOUT:
        case MBUS_FIELD_CALLER_UID:
        case MBUS_FIELD_CALLER_GID:
        case MBUS_FIELD_CALLER_PID:
                raw_u64(r, code, 77);
                break;
        case MBUS_FIELD_CALLER_GROUPS:
                raw_str(r, code, "1,2");
                break;
        case MBUS_FIELD_CALLER_NAME:
        case MBUS_FIELD_CALLER_CERT_CN:
        case MBUS_FIELD_CALLER_ADDRESS:
                raw_str(r, code, "x");
                break;
        case MBUS_FIELD_CALLER_CERT_FINGERPRINT:
                raw_str(r, code, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
                break;
        case MBUS_FIELD_NAMESPACE:
                raw_str(r, code, "org.example.Foo");
                break;
        case MBUS_FIELD_MEMBER:
                raw_str(r, code, "Bar");
                break;
        case MBUS_FIELD_DESTINATION:
        case MBUS_FIELD_SENDER:
                raw_str(r, code, ":1.3");
                break;
        case MBUS_FIELD_ERROR_NAME:
                raw_str(r, code, "org.mbus.Error.Failed");
                break;
        case MBUS_FIELD_PATTERN:
                raw_str(r, code, "org.example.*");
                break;
        default:
                ck_abort();
        }
}

START_TEST(test_missing_required_field) {
        for (size_t i = 0; i < ELEMENTSOF(required_fields); i++)
                for (size_t leave_out = 0; leave_out < 3 && required_fields[i].required[leave_out]; leave_out++) {
                        char want[64];
                        struct raw r;

                        raw_begin(&r, required_fields[i].type);
                        for (size_t k = 0; k < 3 && required_fields[i].required[k]; k++)
                                if (k != leave_out)
                                        raw_valid_field(&r, required_fields[i].required[k]);
                        raw_finish(&r, NULL);
                        snprintf(want, sizeof(want), "missing %s field", required_fields[i].missing_reason[leave_out]);
                        expect_malformed(&r, want);
                }
}
END_TEST

static bool field_allowed(enum mbus_frame_type type, enum mbus_field_code code) {
        for (size_t i = 0; i < ELEMENTSOF(required_fields); i++) {
                if (required_fields[i].type != type)
                        continue;
                for (size_t k = 0; k < 3; k++)
                        if (required_fields[i].required[k] == code)
                                return true;
        }
        switch (code) {
        case MBUS_FIELD_TIMEOUT:
                return type == MBUS_FRAME_CALL;
        case MBUS_FIELD_SENDER:
                return type == MBUS_FRAME_CALL || type == MBUS_FRAME_RETURN ||
                       type == MBUS_FRAME_ERROR || type == MBUS_FRAME_EVENT;
        case MBUS_FIELD_DESTINATION:
                return type == MBUS_FRAME_RETURN || type == MBUS_FRAME_ERROR || type == MBUS_FRAME_EVENT;
        case MBUS_FIELD_CALLER_UID:
        case MBUS_FIELD_CALLER_GID:
        case MBUS_FIELD_CALLER_PID:
        case MBUS_FIELD_CALLER_GROUPS:
        case MBUS_FIELD_CALLER_NAME:
        case MBUS_FIELD_CALLER_CERT_CN:
        case MBUS_FIELD_CALLER_CERT_FINGERPRINT:
        case MBUS_FIELD_CALLER_ADDRESS:
                return type == MBUS_FRAME_CALL;
        default:
                return false;
        }
}

START_TEST(test_field_not_allowed_for_type) {
        size_t n_refused = 0;

        /* Every (type, field) pair: the full required set plus one extra field. */
        for (size_t i = 0; i < ELEMENTSOF(required_fields); i++)
                for (enum mbus_field_code code = 1; code < _MBUS_FIELD_MAX; code++) {
                        struct mbus_frame *f = NULL;
                        const char *reason = NULL;
                        bool dup = false;
                        struct raw r;
                        int k;

                        raw_begin(&r, required_fields[i].type);
                        for (size_t j = 0; j < 3 && required_fields[i].required[j]; j++) {
                                raw_valid_field(&r, required_fields[i].required[j]);
                                dup = dup || required_fields[i].required[j] == code;
                        }
                        if (dup)
                                continue;
                        raw_valid_field(&r, code);
                        /* caller_uid and caller_gid only come together (test_caller_fields_checked) */
                        if (required_fields[i].type == MBUS_FRAME_CALL && code == MBUS_FIELD_CALLER_UID)
                                raw_valid_field(&r, MBUS_FIELD_CALLER_GID);
                        else if (required_fields[i].type == MBUS_FRAME_CALL && code == MBUS_FIELD_CALLER_GID)
                                raw_valid_field(&r, MBUS_FIELD_CALLER_UID);
                        raw_finish(&r, NULL);

                        k = mbus_frame_parse(&f, r.d, r.len, SIZE_MAX, &reason);
                        if (field_allowed(required_fields[i].type, code)) {
                                ck_assert_msg(k == 0, "%s with field %d: %s",
                                              mbus_frame_type_to_string(required_fields[i].type), code, reason);
                                mbus_frame_unref(f);
                        } else {
                                expect_malformed(&r, "not allowed");
                                n_refused++;
                        }
                }
        ck_assert_uint_gt(n_refused, 50);
}
END_TEST

START_TEST(test_sender_allowed_only_where_specified) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_HELLO);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_SENDER, ":1.1");
        raw_finish(&r, NULL);
        expect_malformed(&r, "not allowed");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_str(&r, MBUS_FIELD_DESTINATION, ":1.1");
        raw_finish(&r, NULL);
        expect_malformed(&r, "not allowed");
}
END_TEST

START_TEST(test_caller_fields_checked) {
        struct raw r;

        /* uid 0 is root, not "absent"; but uid without gid is malformed. */
        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_u64(&r, MBUS_FIELD_CALLER_UID, 0);
        raw_finish(&r, NULL);
        expect_malformed(&r, "come together");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_str(&r, MBUS_FIELD_CALLER_GROUPS, "1,,2");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid caller_groups");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_str(&r, MBUS_FIELD_CALLER_NAME, "a\nb");
        raw_finish(&r, NULL);
        expect_malformed(&r, "control characters");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_str(&r, MBUS_FIELD_CALLER_CERT_FINGERPRINT, "ABCDEF");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid caller_cert_fingerprint");

        /* Only a CALL carries a caller. */
        raw_begin(&r, MBUS_FRAME_EVENT);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "E");
        raw_u64(&r, MBUS_FIELD_CALLER_PID, 5);
        raw_finish(&r, NULL);
        expect_malformed(&r, "not allowed");
}
END_TEST

START_TEST(test_string_without_nul_or_with_embedded_nul) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_field(&r, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, "org.abc", 7);
        raw_finish(&r, NULL);
        expect_malformed(&r, "not NUL-terminated");

        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_field(&r, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, "org.a\0bc", 9);
        raw_finish(&r, NULL);
        expect_malformed(&r, "contains NUL");

        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_field(&r, MBUS_FIELD_NAMESPACE, MBUS_FIELD_KIND_STRING, "", 0);
        raw_finish(&r, NULL);
        expect_malformed(&r, "empty string");

        /* Just the NUL: the empty name, which no field accepts. */
        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid namespace");
}
END_TEST

START_TEST(test_invalid_utf8) {
        static const char *const bad[] = {
                "org.caf\xc3",                  /* truncated sequence */
                "org.\xc0\xaf",                 /* overlong '/' */
                "org.\xed\xa0\x80",             /* surrogate */
                "org.\xf4\x90\x80\x80",         /* > U+10FFFF */
                "org.\x80x",                    /* lone continuation */
                "org.\xff",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct raw r;

                raw_begin(&r, MBUS_FRAME_REGISTER);
                raw_u64(&r, MBUS_FIELD_SERIAL, 1);
                raw_str(&r, MBUS_FIELD_NAMESPACE, bad[i]);
                raw_finish(&r, NULL);
                expect_malformed(&r, "UTF-8");
        }
}
END_TEST

START_TEST(test_valid_utf8_but_invalid_name) {
        struct raw r;

        /* UTF-8 is fine, but names are ASCII. */
        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.caf\xc3\xa9");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid namespace");
}
END_TEST

START_TEST(test_invalid_names) {
        struct raw r;

        raw_begin(&r, MBUS_FRAME_REGISTER);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid namespace");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "Get.State");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid member");

        raw_begin(&r, MBUS_FRAME_RETURN);
        raw_u64(&r, MBUS_FIELD_REPLY_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_DESTINATION, ":1.01");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid destination");

        raw_begin(&r, MBUS_FRAME_EVENT);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "E");
        raw_str(&r, MBUS_FIELD_SENDER, ":2.1");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid sender");

        raw_begin(&r, MBUS_FRAME_ERROR);
        raw_u64(&r, MBUS_FIELD_REPLY_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_ERROR_NAME, "Timeout");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid error name");

        raw_begin(&r, MBUS_FRAME_SUBSCRIBE);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_PATTERN, "org.*.Foo");
        raw_finish(&r, NULL);
        expect_malformed(&r, "invalid subscription pattern");
}
END_TEST

START_TEST(test_zero_serials) {
        struct mbus_frame *f;
        struct raw r;

        raw_begin(&r, MBUS_FRAME_PING);
        raw_u64(&r, MBUS_FIELD_SERIAL, 0);
        raw_finish(&r, NULL);
        expect_malformed(&r, "serial is 0");

        raw_begin(&r, MBUS_FRAME_RETURN);
        raw_u64(&r, MBUS_FIELD_REPLY_SERIAL, 0);
        raw_finish(&r, NULL);
        expect_malformed(&r, "reply_serial is 0");

        raw_begin(&r, MBUS_FRAME_CALL);
        raw_u64(&r, MBUS_FIELD_SERIAL, 1);
        raw_str(&r, MBUS_FIELD_NAMESPACE, "org.a");
        raw_str(&r, MBUS_FIELD_MEMBER, "M");
        raw_u64(&r, MBUS_FIELD_TIMEOUT, 0);
        raw_finish(&r, NULL);
        expect_malformed(&r, "timeout is 0");

        /* ERROR is the exception: reply_serial 0 is a connection-level error. */
        raw_begin(&r, MBUS_FRAME_ERROR);
        raw_u64(&r, MBUS_FIELD_REPLY_SERIAL, 0);
        raw_str(&r, MBUS_FIELD_ERROR_NAME, "org.mbus.Error.ProtocolError");
        raw_finish(&r, "{\"message\":\"bye\"}");
        f = expect_valid(&r);
        ck_assert_uint_eq(f->f.reply_serial, 0);
        mbus_frame_unref(f);
}
END_TEST

/* --- fuzz regressions ------------------------------------------------------------------ */

/* Calls fn on the contents of every file in dir; returns how many there were. */
static size_t for_each_file(const char *dir, void (*fn)(const char *name, const uint8_t *data, size_t len)) {
        struct dirent *de;
        size_t n_files = 0;
        DIR *d;

        ck_assert_ptr_nonnull(dir);
        d = opendir(dir);
        ck_assert_msg(d, "cannot open %s", dir);

        while ((de = readdir(d))) {
                _cleanup_free_ uint8_t *data = NULL;
                _cleanup_free_ char *path = NULL;
                size_t len;
                FILE *fp;

                if (de->d_name[0] == '.')
                        continue;
                ck_assert_int_ge(asprintf(&path, "%s/%s", dir, de->d_name), 0);
                fp = fopen(path, "re");
                ck_assert_ptr_nonnull(fp);
                data = malloc(1024 * 1024);
                ck_assert_ptr_nonnull(data);
                len = fread(data, 1, 1024 * 1024, fp);
                fclose(fp);
                fn(de->d_name, data, len);
                n_files++;
        }
        closedir(d);
        return n_files;
}

static void parse_must_not_crash(const char *name, const uint8_t *data, size_t len) {
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        size_t size;
        int r;

        (void) mbus_frame_peek_size(data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &size, &reason);
        r = mbus_frame_parse(&f, data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
        if (r < 0)
                ck_assert_msg(reason && !f, "%s", name);
        else
                ck_assert_msg(f, "%s", name);
        mbus_frame_unref(f);
}

START_TEST(test_fuzz_regressions_do_not_crash) {
        const char *dir = getenv("MBUS_FUZZ_REGRESSIONS_DIR");

#ifdef MBUS_FUZZ_REGRESSIONS_DIR
        if (!dir)
                dir = MBUS_FUZZ_REGRESSIONS_DIR;
#endif
        ck_assert_uint_gt(for_each_file(dir, parse_must_not_crash), 0);
}
END_TEST

/* A seed is a frame in binary or, starting with "{", in its JSON form (frame-json.h). */
static void seed_must_be_valid(const char *name, const uint8_t *data, size_t len) {
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        int r;

        if (len > 0 && data[0] == '{')
                r = mbus_frame_from_json(&f, (const char *) data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
        else
                r = mbus_frame_parse(&f, data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
        ck_assert_msg(r == 0, "seed %s: %s", name, reason);
        mbus_frame_unref(f);
}

/* The seeds teach the fuzzer the format; a seed the parser refuses teaches it nothing. */
START_TEST(test_fuzz_seeds_are_valid_frames) {
        const char *dir = getenv("MBUS_FUZZ_CORPUS_DIR");

#ifdef MBUS_FUZZ_CORPUS_DIR
        if (!dir)
                dir = MBUS_FUZZ_CORPUS_DIR;
#endif
        ck_assert_uint_ge(for_each_file(dir, seed_must_be_valid), 12);
}
END_TEST

static Suite *frame_suite(void) {
        Suite *s = suite_create("frame");
        TCase *tc;

        tc = tcase_create("codec");
        tcase_add_test(tc, test_every_type_round_trips_byte_identical);
        tcase_add_test(tc, test_forwarded_frame_shares_body);
        tcase_add_test(tc, test_ref_unref);
        tcase_add_test(tc, test_encoder_limits);
        tcase_add_test(tc, test_type_names);
        tcase_add_test(tc, test_fields_in_any_order);
        suite_add_tcase(s, tc);

        tc = tcase_create("malformed");
        tcase_add_test(tc, test_peek_size);
        tcase_add_test(tc, test_bad_version);
        tcase_add_test(tc, test_nonzero_flags_or_reserved);
        tcase_add_test(tc, test_unknown_type);
        tcase_add_test(tc, test_truncated_header);
        tcase_add_test(tc, test_fields_len_beyond_size);
        tcase_add_test(tc, test_body_len_beyond_size);
        tcase_add_test(tc, test_trailing_bytes);
        tcase_add_test(tc, test_oversize);
        tcase_add_test(tc, test_truncated_field);
        tcase_add_test(tc, test_unknown_field_code);
        tcase_add_test(tc, test_wrong_field_kind);
        tcase_add_test(tc, test_uint64_len_not_8);
        tcase_add_test(tc, test_duplicate_field);
        tcase_add_test(tc, test_missing_required_field);
        tcase_add_test(tc, test_field_not_allowed_for_type);
        tcase_add_test(tc, test_sender_allowed_only_where_specified);
        tcase_add_test(tc, test_caller_fields_checked);
        tcase_add_test(tc, test_string_without_nul_or_with_embedded_nul);
        tcase_add_test(tc, test_invalid_utf8);
        tcase_add_test(tc, test_valid_utf8_but_invalid_name);
        tcase_add_test(tc, test_invalid_names);
        tcase_add_test(tc, test_zero_serials);
        tcase_add_test(tc, test_fuzz_regressions_do_not_crash);
        tcase_add_test(tc, test_fuzz_seeds_are_valid_frames);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(frame_suite)
