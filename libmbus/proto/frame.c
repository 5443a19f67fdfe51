/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building and sharing frames. A frame is immutable once built and reference-counted, so the
 * broker queues one frame on N peers' streams without copying it. Both constructors go
 * through frame_build(), the only encoder of header fields: a field present in the struct
 * (non-zero / non-NULL) is written, in code order, so two encodings of the same fields are
 * byte-identical. ERROR is one exception to "0 means absent": its reply_serial 0 is
 * meaningful (a connection-level error) and is always written; caller_uid and caller_gid are
 * the other, written together whenever has_caller_ids says so (uid 0 is root).
 *
 * The encoder does not validate values (callers check what they accept from users), which
 * also lets tests build deliberately malformed frames through the same code.
 */

#include <assert.h>
#include <string.h>

#include "proto/frame-internal.h"
#include "util/macro.h"

struct mbus_frame *mbus_frame_alloc(size_t n_bytes) {
        struct mbus_frame *frame;

        if (n_bytes > SIZE_MAX - sizeof(*frame))
                return NULL;
        frame = malloc(sizeof(*frame) + n_bytes);
        if (!frame)
                return NULL;
        *frame = (struct mbus_frame) { .n_ref = 1 };
        return frame;
}

static uint8_t *put_le16(uint8_t *p, uint16_t v) {
        v = htole16(v);
        memcpy(p, &v, sizeof(v));
        return p + sizeof(v);
}

static uint8_t *put_le32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof(v));
        return p + sizeof(v);
}

static uint8_t *put_le64(uint8_t *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, sizeof(v));
        return p + sizeof(v);
}

/* The present fields in wire (code) order, so encoding and size computation walk the same
 * list; only present ones are listed, as a frame carries a few of the many codes. */
struct field_ref {
        enum mbus_field_code code;
        enum mbus_field_kind kind;
        uint64_t u64;
        const char *str;
        size_t str_len;         /* without the NUL */
        const char **slot;      /* where the decoded pointer goes in the new frame */
};

static int fields_collect(struct field_ref refs[static _MBUS_FIELD_MAX - 1], size_t *ret_n,
                          enum mbus_frame_type type, const struct mbus_frame_fields *in,
                          struct mbus_frame_fields *out, size_t *ret_fields_len) {
        size_t n = 0, len = 0;

#define U64(c, v, always)                                                                       \
        if ((v) != 0 || (always))                                                               \
                refs[n++] = (struct field_ref) { .code = (c), .kind = MBUS_FIELD_KIND_UINT64,   \
                                                 .u64 = (v) }
#define STR(c, v, o)                                                                            \
        if (v)                                                                                  \
                refs[n++] = (struct field_ref) { .code = (c), .kind = MBUS_FIELD_KIND_STRING,   \
                                                 .str = (v), .slot = &(o) }

        U64(MBUS_FIELD_SERIAL, in->serial, false);
        U64(MBUS_FIELD_REPLY_SERIAL, in->reply_serial, type == MBUS_FRAME_ERROR);
        STR(MBUS_FIELD_NAMESPACE, in->namespace, out->namespace);
        STR(MBUS_FIELD_MEMBER, in->member, out->member);
        STR(MBUS_FIELD_DESTINATION, in->destination, out->destination);
        STR(MBUS_FIELD_SENDER, in->sender, out->sender);
        STR(MBUS_FIELD_ERROR_NAME, in->error_name, out->error_name);
        U64(MBUS_FIELD_TIMEOUT, in->timeout_usec, false);
        STR(MBUS_FIELD_PATTERN, in->pattern, out->pattern);
        U64(MBUS_FIELD_CALLER_UID, in->caller_uid, in->has_caller_ids);
        U64(MBUS_FIELD_CALLER_GID, in->caller_gid, in->has_caller_ids);
        U64(MBUS_FIELD_CALLER_PID, in->caller_pid, false);
        STR(MBUS_FIELD_CALLER_GROUPS, in->caller_groups, out->caller_groups);
        STR(MBUS_FIELD_CALLER_NAME, in->caller_name, out->caller_name);
        STR(MBUS_FIELD_CALLER_CERT_CN, in->caller_cert_cn, out->caller_cert_cn);
        STR(MBUS_FIELD_CALLER_CERT_FINGERPRINT, in->caller_cert_fingerprint, out->caller_cert_fingerprint);
        STR(MBUS_FIELD_CALLER_ADDRESS, in->caller_address, out->caller_address);
#undef U64
#undef STR
        assert(n <= _MBUS_FIELD_MAX - 1);

        for (size_t i = 0; i < n; i++) {
                if (refs[i].kind == MBUS_FIELD_KIND_UINT64)
                        len += 4 + 8;
                else {
                        refs[i].str_len = strnlen(refs[i].str, MBUS_FIELD_STRING_MAX);
                        if (refs[i].str_len > MBUS_FIELD_STRING_MAX - 1)
                                return -EINVAL;
                        len += 4 + refs[i].str_len + 1;
                }
        }

        *ret_n = n;
        *ret_fields_len = len;
        return 0;
}

/* The one encoder. body is copied into the new frame unless body_owner is given. */
static int frame_build(struct mbus_frame **ret, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                       const void *body, size_t body_len, struct mbus_frame *body_owner) {
        static const struct mbus_frame_fields no_fields = {};
        struct field_ref refs[_MBUS_FIELD_MAX - 1];
        struct mbus_frame_fields decoded = {};
        struct mbus_frame *frame;
        size_t fields_len, head_len, n_bytes, n_refs;
        uint8_t *p;
        int r;

        assert(ret);
        assert(body || body_len == 0);

        if (type < 0 || type > UINT8_MAX)
                return -EINVAL;
        if (!fields)
                fields = &no_fields;

        r = fields_collect(refs, &n_refs, type, fields, &decoded, &fields_len);
        if (r < 0)
                return r;
        if (fields_len > UINT32_MAX || body_len > UINT32_MAX)
                return -EMSGSIZE;

        head_len = MBUS_FRAME_HEADER_SIZE + fields_len;
        n_bytes = head_len;
        if (!body_owner) {
                if (body_len > SIZE_MAX - n_bytes - 1)
                        return -EMSGSIZE;
                n_bytes += body_len + 1;
        }

        frame = mbus_frame_alloc(n_bytes);
        if (!frame)
                return -ENOMEM;

        p = mbus_frame_bytes(frame);
        *p++ = MBUS_PROTOCOL_VERSION;
        *p++ = (uint8_t) type;
        *p++ = 0;               /* flags */
        *p++ = 0;               /* reserved */
        p = put_le32(p, (uint32_t) fields_len);
        p = put_le32(p, (uint32_t) body_len);

        for (size_t i = 0; i < n_refs; i++) {
                const struct field_ref *f = &refs[i];

                *p++ = (uint8_t) f->code;
                *p++ = (uint8_t) f->kind;
                if (f->kind == MBUS_FIELD_KIND_UINT64) {
                        p = put_le16(p, 8);
                        p = put_le64(p, f->u64);
                } else {
                        p = put_le16(p, (uint16_t) (f->str_len + 1));
                        memcpy(p, f->str, f->str_len);
                        *f->slot = (const char *) p;
                        p += f->str_len;
                        *p++ = 0;
                }
        }
        assert(p == mbus_frame_bytes(frame) + head_len);

        decoded.serial = fields->serial;
        decoded.reply_serial = fields->reply_serial;
        decoded.timeout_usec = fields->timeout_usec;
        decoded.has_caller_ids = fields->has_caller_ids;
        decoded.caller_uid = fields->has_caller_ids ? fields->caller_uid : 0;
        decoded.caller_gid = fields->has_caller_ids ? fields->caller_gid : 0;
        decoded.caller_pid = fields->caller_pid;

        frame->type = type;
        frame->flags = 0;
        frame->f = decoded;
        frame->head = mbus_frame_bytes(frame);
        frame->head_len = head_len;
        frame->body_len = body_len;
        if (body_owner) {
                frame->body = body_owner->body;
                frame->body_owner = mbus_frame_ref(body_owner);
        } else {
                if (body_len > 0)
                        memcpy(p, body, body_len);
                p[body_len] = 0;        /* the NUL after the body is part of the contract */
                frame->body = p;
        }

        *ret = frame;
        return 0;
}

int mbus_frame_new(struct mbus_frame **ret, enum mbus_frame_type type,
                   const struct mbus_frame_fields *fields, const void *body, size_t body_len) {
        return frame_build(ret, type, fields, body, body_len, /* body_owner= */ NULL);
}

int mbus_frame_new_with_body_of(struct mbus_frame **ret, enum mbus_frame_type type,
                                const struct mbus_frame_fields *fields, struct mbus_frame *body_src) {
        assert(body_src);

        /* Chains never form: borrowing from a borrower borrows from the real owner. */
        if (body_src->body_owner)
                body_src = body_src->body_owner;
        return frame_build(ret, type, fields, body_src->body, body_src->body_len, body_src);
}

/* Points a string field of the copy at the same offset into its head as in the original's. */
static const char *rebase(const char *str, const uint8_t *from, const uint8_t *to) {
        return str ? (const char *) to + ((const uint8_t *) str - from) : NULL;
}

int mbus_frame_copy(struct mbus_frame **ret, const struct mbus_frame *frame) {
        struct mbus_frame *copy;
        uint8_t *p;

        assert(ret && frame);

        copy = mbus_frame_alloc(frame->head_len + frame->body_len + 1);
        if (!copy)
                return -ENOMEM;
        p = mbus_frame_bytes(copy);
        memcpy(p, frame->head, frame->head_len);
        if (frame->body_len > 0)
                memcpy(p + frame->head_len, frame->body, frame->body_len);
        p[frame->head_len + frame->body_len] = 0;

        copy->type = frame->type;
        copy->flags = frame->flags;
        copy->f = frame->f;
        /* Every string of f points into the head (frame-internal.h). */
        copy->f.namespace = rebase(frame->f.namespace, frame->head, p);
        copy->f.member = rebase(frame->f.member, frame->head, p);
        copy->f.destination = rebase(frame->f.destination, frame->head, p);
        copy->f.sender = rebase(frame->f.sender, frame->head, p);
        copy->f.error_name = rebase(frame->f.error_name, frame->head, p);
        copy->f.pattern = rebase(frame->f.pattern, frame->head, p);
        copy->f.caller_groups = rebase(frame->f.caller_groups, frame->head, p);
        copy->f.caller_name = rebase(frame->f.caller_name, frame->head, p);
        copy->f.caller_cert_cn = rebase(frame->f.caller_cert_cn, frame->head, p);
        copy->f.caller_cert_fingerprint = rebase(frame->f.caller_cert_fingerprint, frame->head, p);
        copy->f.caller_address = rebase(frame->f.caller_address, frame->head, p);
        copy->head = p;
        copy->head_len = frame->head_len;
        copy->body = p + frame->head_len;
        copy->body_len = frame->body_len;
        *ret = copy;
        return 0;
}

struct mbus_frame *mbus_frame_ref(struct mbus_frame *frame) {
        if (!frame)
                return NULL;
        assert(frame->n_ref > 0);
        frame->n_ref++;
        return frame;
}

struct mbus_frame *mbus_frame_unref(struct mbus_frame *frame) {
        if (!frame)
                return NULL;
        assert(frame->n_ref > 0);
        if (--frame->n_ref > 0)
                return NULL;
        mbus_frame_unref(frame->body_owner);
        free(frame);
        return NULL;
}

const char *mbus_frame_type_to_string(enum mbus_frame_type type) {
        static const char *const table[_MBUS_FRAME_TYPE_MAX] = {
                [MBUS_FRAME_HELLO] = "HELLO",
                [MBUS_FRAME_WELCOME] = "WELCOME",
                [MBUS_FRAME_REGISTER] = "REGISTER",
                [MBUS_FRAME_UNREGISTER] = "UNREGISTER",
                [MBUS_FRAME_CALL] = "CALL",
                [MBUS_FRAME_RETURN] = "RETURN",
                [MBUS_FRAME_ERROR] = "ERROR",
                [MBUS_FRAME_EVENT] = "EVENT",
                [MBUS_FRAME_SUBSCRIBE] = "SUBSCRIBE",
                [MBUS_FRAME_UNSUBSCRIBE] = "UNSUBSCRIBE",
                [MBUS_FRAME_PING] = "PING",
                [MBUS_FRAME_PONG] = "PONG",
        };

        if (type < 0 || type >= _MBUS_FRAME_TYPE_MAX)
                return NULL;
        return table[type];
}
