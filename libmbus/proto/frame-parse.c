/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Untrusted bytes -> frame. Everything a peer can get wrong is decided here, once, with a
 * static reason string that the broker sends back in its ProtocolError and logs, so "why was
 * I disconnected" always has an exact answer. The rules are the wire spec in frame.h:
 *
 *   fixed header   version, flags == 0, reserved == 0, known type, lengths within the buffer
 *                  and within max_size (checked before anything is copied)
 *   each field     whole TLV inside fields_len, known code, the code's kind, UINT64 len 8,
 *                  STRING NUL-terminated with no other NUL, UTF-8, valid for its field,
 *                  at most once, allowed for the frame type, serials and timeout non-zero;
 *                  caller_uid and caller_gid only together
 *   per type       every required field present
 *
 * mbus_frame_parse() copies the frame into one allocation (struct + bytes + NUL after the body)
 * and points the decoded strings into that copy, so such a frame never references the reader's
 * buffer. mbus_frame_parse_view() decodes the same way into the caller's struct, pointing into
 * the caller's bytes: a receiver that hands a frame to a callback and forgets it then copies
 * and allocates nothing. Both run the same checks (frame_decode()).
 * Integers are read with memcpy + leXXtoh: wire data is never aligned.
 *
 * Every string field's check accepts ASCII only or checks UTF-8 itself (text_is_printable), so
 * UTF-8 is decoded only to name the fault of a string its check refused.
 */

#include <assert.h>
#include <string.h>

#include "proto/frame-internal.h"
#include "proto/names.h"
#include "util/macro.h"

#define F(code) (1u << (code))
#define CALLER_FIELDS                                                                           \
        (F(MBUS_FIELD_CALLER_UID) | F(MBUS_FIELD_CALLER_GID) | F(MBUS_FIELD_CALLER_PID) |       \
         F(MBUS_FIELD_CALLER_GROUPS) | F(MBUS_FIELD_CALLER_NAME) | F(MBUS_FIELD_CALLER_CERT_CN) |  \
         F(MBUS_FIELD_CALLER_CERT_FINGERPRINT) | F(MBUS_FIELD_CALLER_ADDRESS))

static const struct {
        uint32_t required;
        uint32_t optional;
} frame_rules[_MBUS_FRAME_TYPE_MAX] = {
        [MBUS_FRAME_HELLO]       = { F(MBUS_FIELD_SERIAL), 0 },
        [MBUS_FRAME_WELCOME]     = { F(MBUS_FIELD_REPLY_SERIAL), 0 },
        [MBUS_FRAME_REGISTER]    = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_NAMESPACE), 0 },
        [MBUS_FRAME_UNREGISTER]  = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_NAMESPACE), 0 },
        [MBUS_FRAME_CALL]        = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_NAMESPACE) | F(MBUS_FIELD_MEMBER),
                                     F(MBUS_FIELD_TIMEOUT) | F(MBUS_FIELD_SENDER) | CALLER_FIELDS },
        [MBUS_FRAME_RETURN]      = { F(MBUS_FIELD_REPLY_SERIAL),
                                     F(MBUS_FIELD_DESTINATION) | F(MBUS_FIELD_SENDER) },
        [MBUS_FRAME_ERROR]       = { F(MBUS_FIELD_REPLY_SERIAL) | F(MBUS_FIELD_ERROR_NAME),
                                     F(MBUS_FIELD_DESTINATION) | F(MBUS_FIELD_SENDER) },
        [MBUS_FRAME_EVENT]       = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_NAMESPACE) | F(MBUS_FIELD_MEMBER),
                                     F(MBUS_FIELD_DESTINATION) | F(MBUS_FIELD_SENDER) },
        [MBUS_FRAME_SUBSCRIBE]   = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_PATTERN), 0 },
        [MBUS_FRAME_UNSUBSCRIBE] = { F(MBUS_FIELD_SERIAL) | F(MBUS_FIELD_PATTERN), 0 },
        [MBUS_FRAME_PING]        = { F(MBUS_FIELD_SERIAL), 0 },
        [MBUS_FRAME_PONG]        = { F(MBUS_FIELD_REPLY_SERIAL), 0 },
};

/* "10,27,1000": decimal gids of at most 10 digits, one comma between two. */
static bool gid_list_is_valid(const char *s) {
        size_t digits = 0;

        for (; *s; s++) {
                if (*s >= '0' && *s <= '9') {
                        if (++digits > 10)
                                return false;
                } else if (*s == ',' && digits > 0)
                        digits = 0;
                else
                        return false;
        }
        return digits > 0;
}

static bool fingerprint_is_valid(const char *s) {
        size_t n = 0;

        for (; *s; s++, n++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return n == 64;
}

/* Per field code: its kind, the name check for strings, and the reasons we report. */
static const struct {
        enum mbus_field_kind kind;
        bool (*valid)(const char *s);
        const char *missing;
        const char *invalid;
} field_rules[_MBUS_FIELD_MAX] = {
        [MBUS_FIELD_SERIAL] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing serial field", "serial is 0" },
        [MBUS_FIELD_REPLY_SERIAL] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing reply_serial field", "reply_serial is 0" },
        [MBUS_FIELD_NAMESPACE] = { MBUS_FIELD_KIND_STRING, mbus_namespace_is_valid,
                "missing namespace field", "invalid namespace name" },
        [MBUS_FIELD_MEMBER] = { MBUS_FIELD_KIND_STRING, mbus_member_is_valid,
                "missing member field", "invalid member name" },
        [MBUS_FIELD_DESTINATION] = { MBUS_FIELD_KIND_STRING, mbus_peer_id_is_valid,
                "missing destination field", "invalid destination peer id" },
        [MBUS_FIELD_SENDER] = { MBUS_FIELD_KIND_STRING, mbus_peer_id_is_valid,
                "missing sender field", "invalid sender peer id" },
        [MBUS_FIELD_ERROR_NAME] = { MBUS_FIELD_KIND_STRING, mbus_error_name_is_valid,
                "missing error_name field", "invalid error name" },
        [MBUS_FIELD_TIMEOUT] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing timeout field", "timeout is 0" },
        [MBUS_FIELD_PATTERN] = { MBUS_FIELD_KIND_STRING, mbus_pattern_is_valid,
                "missing pattern field", "invalid subscription pattern" },
        [MBUS_FIELD_CALLER_UID] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing caller_uid field", NULL },
        [MBUS_FIELD_CALLER_GID] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing caller_gid field", NULL },
        [MBUS_FIELD_CALLER_PID] = { MBUS_FIELD_KIND_UINT64, NULL,
                "missing caller_pid field", "caller_pid is 0" },
        [MBUS_FIELD_CALLER_GROUPS] = { MBUS_FIELD_KIND_STRING, gid_list_is_valid,
                "missing caller_groups field", "invalid caller_groups list" },
        [MBUS_FIELD_CALLER_NAME] = { MBUS_FIELD_KIND_STRING, mbus_text_is_printable,
                "missing caller_name field", "caller_name contains control characters" },
        [MBUS_FIELD_CALLER_CERT_CN] = { MBUS_FIELD_KIND_STRING, mbus_text_is_printable,
                "missing caller_cert_cn field", "caller_cert_cn contains control characters" },
        [MBUS_FIELD_CALLER_CERT_FINGERPRINT] = { MBUS_FIELD_KIND_STRING, fingerprint_is_valid,
                "missing caller_cert_fingerprint field", "invalid caller_cert_fingerprint" },
        [MBUS_FIELD_CALLER_ADDRESS] = { MBUS_FIELD_KIND_STRING, mbus_text_is_printable,
                "missing caller_address field", "caller_address contains control characters" },
};

static int fail(const char **ret_reason, int error, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return error;
}

int mbus_frame_peek_size(const void *data, size_t len, size_t max_size, size_t *ret_size,
                         const char **ret_reason) {
        const uint8_t *p = data;
        uint64_t size;

        if (len < MBUS_FRAME_HEADER_SIZE)
                return fail(ret_reason, -EAGAIN, "truncated frame header");
        if (p[0] != MBUS_PROTOCOL_VERSION)
                return fail(ret_reason, -EPROTONOSUPPORT, "unsupported protocol version");
        if (p[1] == 0 || p[1] >= _MBUS_FRAME_TYPE_MAX)
                return fail(ret_reason, -EBADMSG, "unknown frame type");
        if (p[2] != 0)
                return fail(ret_reason, -EBADMSG, "non-zero flags");
        if (p[3] != 0)
                return fail(ret_reason, -EBADMSG, "non-zero reserved byte");

        /* 64-bit sum: two u32 lengths cannot overflow it, whatever size_t is. */
        size = (uint64_t) MBUS_FRAME_HEADER_SIZE + mbus_read_le32(p + 4) + mbus_read_le32(p + 8);
        if (size > max_size)
                return fail(ret_reason, -EMSGSIZE, "frame larger than the maximum frame size");

        if (ret_size)
                *ret_size = (size_t) size;
        return 0;
}

/* Decodes the TLVs of frame (head and f already set up) into frame->f. */
static int frame_parse_fields(struct mbus_frame *frame, const char **ret_reason) {
        const uint8_t *p = frame->head + MBUS_FRAME_HEADER_SIZE, *end = frame->head + frame->head_len;
        uint32_t allowed, seen = 0;
        enum mbus_frame_type type = frame->type;

        allowed = frame_rules[type].required | frame_rules[type].optional;

        while (p < end) {
                uint8_t code, kind;
                uint16_t len;

                if (end - p < 4)
                        return fail(ret_reason, -EBADMSG, "truncated field header");
                code = p[0];
                kind = p[1];
                len = mbus_read_le16(p + 2);
                p += 4;
                if ((size_t) (end - p) < len)
                        return fail(ret_reason, -EBADMSG, "truncated field value");

                if (code == 0 || code >= _MBUS_FIELD_MAX)
                        return fail(ret_reason, -EBADMSG, "unknown field code");
                if (kind != field_rules[code].kind)
                        return fail(ret_reason, -EBADMSG, "wrong kind for field");
                if (seen & F(code))
                        return fail(ret_reason, -EBADMSG, "duplicate field");
                seen |= F(code);
                if (!(allowed & F(code)))
                        return fail(ret_reason, -EBADMSG, "field not allowed for this frame type");

                if (kind == MBUS_FIELD_KIND_UINT64) {
                        uint64_t v;

                        if (len != 8)
                                return fail(ret_reason, -EBADMSG, "UINT64 field length is not 8");
                        v = mbus_read_le64(p);
                        /* ERROR with reply_serial 0 is a connection-level error, not a reply;
                         * caller uid and gid 0 are root's. */
                        if (v == 0 && field_rules[code].invalid &&
                            !(code == MBUS_FIELD_REPLY_SERIAL && type == MBUS_FRAME_ERROR))
                                return fail(ret_reason, -EBADMSG, field_rules[code].invalid);

                        switch (code) {
                        case MBUS_FIELD_SERIAL:
                                frame->f.serial = v;
                                break;
                        case MBUS_FIELD_REPLY_SERIAL:
                                frame->f.reply_serial = v;
                                break;
                        case MBUS_FIELD_TIMEOUT:
                                frame->f.timeout_usec = v;
                                break;
                        case MBUS_FIELD_CALLER_UID:
                                frame->f.caller_uid = v;
                                break;
                        case MBUS_FIELD_CALLER_GID:
                                frame->f.caller_gid = v;
                                break;
                        case MBUS_FIELD_CALLER_PID:
                                frame->f.caller_pid = v;
                                break;
                        }
                } else {
                        const char *s = (const char *) p;
                        const char **slot = NULL;

                        if (len == 0)
                                return fail(ret_reason, -EBADMSG, "empty string field");
                        if (p[len - 1] != 0)
                                return fail(ret_reason, -EBADMSG, "string field not NUL-terminated");
                        if (memchr(p, 0, len - 1))
                                return fail(ret_reason, -EBADMSG, "string field contains NUL");
                        if (!field_rules[code].valid(s))
                                return fail(ret_reason, -EBADMSG,
                                            mbus_utf8_is_valid(s, len - 1) ? field_rules[code].invalid :
                                            "string field is not valid UTF-8");

                        switch (code) {
                        case MBUS_FIELD_NAMESPACE:
                                slot = &frame->f.namespace;
                                break;
                        case MBUS_FIELD_MEMBER:
                                slot = &frame->f.member;
                                break;
                        case MBUS_FIELD_DESTINATION:
                                slot = &frame->f.destination;
                                break;
                        case MBUS_FIELD_SENDER:
                                slot = &frame->f.sender;
                                break;
                        case MBUS_FIELD_ERROR_NAME:
                                slot = &frame->f.error_name;
                                break;
                        case MBUS_FIELD_PATTERN:
                                slot = &frame->f.pattern;
                                break;
                        case MBUS_FIELD_CALLER_GROUPS:
                                slot = &frame->f.caller_groups;
                                break;
                        case MBUS_FIELD_CALLER_NAME:
                                slot = &frame->f.caller_name;
                                break;
                        case MBUS_FIELD_CALLER_CERT_CN:
                                slot = &frame->f.caller_cert_cn;
                                break;
                        case MBUS_FIELD_CALLER_CERT_FINGERPRINT:
                                slot = &frame->f.caller_cert_fingerprint;
                                break;
                        case MBUS_FIELD_CALLER_ADDRESS:
                                slot = &frame->f.caller_address;
                                break;
                        }
                        assert(slot);   /* field_rules[] gives the string kind to these fields only */
                        *slot = s;
                }
                p += len;
        }

        if ((seen & frame_rules[type].required) != frame_rules[type].required) {
                for (unsigned code = 1; code < _MBUS_FIELD_MAX; code++)
                        if ((frame_rules[type].required & F(code)) && !(seen & F(code)))
                                return fail(ret_reason, -EBADMSG, field_rules[code].missing);
        }
        if (!!(seen & F(MBUS_FIELD_CALLER_UID)) != !!(seen & F(MBUS_FIELD_CALLER_GID)))
                return fail(ret_reason, -EBADMSG, "caller_uid and caller_gid come together");
        frame->f.has_caller_ids = seen & F(MBUS_FIELD_CALLER_UID);
        return 0;
}

/* Checks size bytes at data as one whole frame and decodes them into frame, pointing into data. */
static int frame_decode(struct mbus_frame *frame, const uint8_t *p, size_t size, size_t max_size,
                        const char **ret_reason) {
        size_t frame_size, fields_len;
        int r;

        r = mbus_frame_peek_size(p, size, max_size, &frame_size, ret_reason);
        if (r == -EAGAIN)       /* a whole frame was promised: short is malformed */
                return fail(ret_reason, -EBADMSG, "truncated frame header");
        if (r < 0)
                return r;

        fields_len = mbus_read_le32(p + 4);
        if (fields_len > size - MBUS_FRAME_HEADER_SIZE)
                return fail(ret_reason, -EBADMSG, "fields extend beyond the frame");
        if (frame_size > size)
                return fail(ret_reason, -EBADMSG, "body extends beyond the frame");
        if (frame_size < size)
                return fail(ret_reason, -EBADMSG, "trailing bytes after the frame");

        frame->type = p[1];
        frame->flags = p[2];
        frame->head = p;
        frame->head_len = MBUS_FRAME_HEADER_SIZE + fields_len;
        frame->body = frame->head + frame->head_len;
        frame->body_len = size - frame->head_len;

        return frame_parse_fields(frame, ret_reason);
}

int mbus_frame_parse(struct mbus_frame **ret, const void *data, size_t size, size_t max_size,
                     const char **ret_reason) {
        struct mbus_frame *frame;
        int r;

        if (!ret || (!data && size > 0))
                return fail(ret_reason, -EINVAL, "invalid arguments");

        /* Refuse an oversize frame before allocating for it. */
        r = mbus_frame_peek_size(data, size, max_size, NULL, ret_reason);
        if (r < 0 && r != -EAGAIN)
                return r;

        frame = mbus_frame_alloc(size + 1);
        if (!frame)
                return fail(ret_reason, -ENOMEM, "out of memory");
        if (size > 0)
                memcpy(mbus_frame_bytes(frame), data, size);
        mbus_frame_bytes(frame)[size] = 0;              /* the NUL after the body */

        r = frame_decode(frame, mbus_frame_bytes(frame), size, max_size, ret_reason);
        if (r < 0) {
                free(frame);
                return r;
        }

        *ret = frame;
        return 0;
}

int mbus_frame_parse_view(struct mbus_frame *view, const void *data, size_t size, size_t max_size,
                          const char **ret_reason) {
        struct mbus_frame f = {};       /* n_ref 0: a view, never reference-counted */
        int r;

        if (!view || !data)
                return fail(ret_reason, -EINVAL, "invalid arguments");
        assert(((const uint8_t *) data)[size] == 0);

        r = frame_decode(&f, data, size, max_size, ret_reason);
        if (r < 0)
                return r;
        *view = f;
        return 0;
}
