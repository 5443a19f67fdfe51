/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus wire frames: the one binary format both the broker and libmbus speak. */

/*
 * Protocol version 1. Every integer is little-endian.
 *
 *   offset  size        what
 *   0       1           version, MBUS_PROTOCOL_VERSION
 *   1       1           type, enum mbus_frame_type
 *   2       1           flags, none defined in version 1: must be 0
 *   3       1           reserved, must be 0
 *   4       4           fields_len: bytes of header fields after the 12-byte fixed header
 *   8       4           body_len: bytes of body after the fields
 *   12      fields_len  header fields, each a TLV:
 *                         u8 code (enum mbus_field_code), u8 kind (enum mbus_field_kind),
 *                         u16 len, then len bytes of value
 *                         UINT64: len is 8
 *                         STRING: 1 <= len <= 65535, the last byte is NUL and no other byte is,
 *                                 the text is valid UTF-8 and valid for its field (names.h)
 *                       a code appears at most once; each code has one fixed kind;
 *                       unknown codes are malformed in version 1
 *   12+fields_len body_len  body: UTF-8 JSON text, or nothing (body_len 0 means no body)
 *
 * The whole frame is at most the receiver's maximum frame size (default 16 MiB); the fixed
 * header alone tells its size, so a reader never scans for delimiters and can refuse an
 * oversize frame before reading it.
 *
 * Required fields per type (the parser refuses a frame that lacks one; fields not listed are
 * allowed only where shown as optional, anything else is malformed):
 *   HELLO       serial                                  body: {"name": "client name"}
 *   WELCOME     reply_serial                            body: {"id": ":1.N", ...} see man page
 *   REGISTER    serial, namespace                       body: optional declaration of members
 *   UNREGISTER  serial, namespace
 *   CALL        serial, namespace, member; optional timeout, sender, caller_* (below)
 *   RETURN      reply_serial; optional destination, sender
 *   ERROR       reply_serial (0: not a reply, a connection-level error), error_name;
 *               optional destination, sender            body: {"message": "..."}
 *   EVENT       serial, namespace, member; optional destination, sender
 *   SUBSCRIBE   serial, pattern
 *   UNSUBSCRIBE serial, pattern
 *   PING        serial
 *   PONG        reply_serial
 *
 * Serials are chosen by the sender of a frame, start at 1 and never repeat on a connection;
 * 0 is not a valid serial (nor reply_serial, except in ERROR; nor timeout: absent means the
 * default). A reply names the serial it answers in reply_serial. The sender
 * field is written by the broker only: it names the peer a forwarded CALL, EVENT or ERROR came
 * from. A RETURN is forwarded unchanged, without it: the caller knows whom it called; an ERROR
 * gets it so that a service's error is never taken for the broker's own (those have none). Clients never
 * set it; the broker treats a frame from a client that carries one as malformed.
 *
 * The caller_* fields are the caller's identity, written by the broker only, on a forwarded
 * CALL (a client that sends one is disconnected like one that sends sender): caller_uid and
 * caller_gid (always both, 0 is root: these two are the UINT64 fields where 0 is a value),
 * caller_pid and caller_groups (decimal gids joined by ",") for UNIX peers; caller_address
 * ("192.0.2.7:41234") for network peers, and caller_cert_cn and caller_cert_fingerprint (64
 * lowercase hex digits) for TLS peers with a client certificate; caller_name, the client name
 * from HELLO, when not empty. The service thus learns who calls without a round trip.
 * Receivers refuse field codes they do not know, so the broker writes the caller_* fields only
 * to a peer that asked for them: HELLO's body lists "features": ["caller"], WELCOME's body lists
 * the features granted.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBUS_PROTOCOL_VERSION 1
/* Optional features negotiated at HELLO (see above): the names in the "features" lists. */
#define MBUS_FEATURE_CALLER "caller"
#define MBUS_FRAME_HEADER_SIZE 12
#define MBUS_FRAME_SIZE_MAX_DEFAULT (16u * 1024u * 1024u)
#define MBUS_FIELD_STRING_MAX 65535u

enum mbus_frame_type {
        MBUS_FRAME_HELLO = 1,
        MBUS_FRAME_WELCOME = 2,
        MBUS_FRAME_REGISTER = 3,
        MBUS_FRAME_UNREGISTER = 4,
        MBUS_FRAME_CALL = 5,
        MBUS_FRAME_RETURN = 6,
        MBUS_FRAME_ERROR = 7,
        MBUS_FRAME_EVENT = 8,
        MBUS_FRAME_SUBSCRIBE = 9,
        MBUS_FRAME_UNSUBSCRIBE = 10,
        MBUS_FRAME_PING = 11,
        MBUS_FRAME_PONG = 12,
        _MBUS_FRAME_TYPE_MAX,
        _MBUS_FRAME_TYPE_INVALID = -EINVAL,
};

enum mbus_field_kind {
        MBUS_FIELD_KIND_UINT64 = 1,
        MBUS_FIELD_KIND_STRING = 2,
};

enum mbus_field_code {
        MBUS_FIELD_SERIAL = 1,          /* UINT64 */
        MBUS_FIELD_REPLY_SERIAL = 2,    /* UINT64 */
        MBUS_FIELD_NAMESPACE = 3,       /* STRING, a namespace name */
        MBUS_FIELD_MEMBER = 4,          /* STRING, a procedure or event name */
        MBUS_FIELD_DESTINATION = 5,     /* STRING, a peer id ":1.N" */
        MBUS_FIELD_SENDER = 6,          /* STRING, a peer id ":1.N", written by the broker */
        MBUS_FIELD_ERROR_NAME = 7,      /* STRING, an error name such as org.mbus.Error.Timeout */
        MBUS_FIELD_TIMEOUT = 8,         /* UINT64, microseconds, relative to reception */
        MBUS_FIELD_PATTERN = 9,         /* STRING, a subscription pattern */
        MBUS_FIELD_CALLER_UID = 10,     /* UINT64, 0 allowed; written by the broker, as all caller_* */
        MBUS_FIELD_CALLER_GID = 11,     /* UINT64, 0 allowed */
        MBUS_FIELD_CALLER_PID = 12,     /* UINT64 */
        MBUS_FIELD_CALLER_GROUPS = 13,  /* STRING, "10,27,1000": supplementary gids */
        MBUS_FIELD_CALLER_NAME = 14,    /* STRING, client name, no control characters */
        MBUS_FIELD_CALLER_CERT_CN = 15, /* STRING, no control characters */
        MBUS_FIELD_CALLER_CERT_FINGERPRINT = 16, /* STRING, SHA-256, 64 lowercase hex digits */
        MBUS_FIELD_CALLER_ADDRESS = 17, /* STRING, "HOST:PORT", no control characters */
        _MBUS_FIELD_MAX,
};

/* Decoded header fields. 0 and NULL mean absent; strings point into the frame's memory. */
struct mbus_frame_fields {
        uint64_t serial;
        uint64_t reply_serial;
        uint64_t timeout_usec;
        const char *namespace;
        const char *member;
        const char *destination;
        const char *sender;
        const char *error_name;
        const char *pattern;
        /* The caller's identity (broker-written, CALL only). has_caller_ids: uid and gid present. */
        bool has_caller_ids;
        uint64_t caller_uid;
        uint64_t caller_gid;
        uint64_t caller_pid;
        const char *caller_groups;
        const char *caller_name;
        const char *caller_cert_cn;
        const char *caller_cert_fingerprint;
        const char *caller_address;
};

/* True if f carries any caller_* field. */
static inline bool mbus_frame_fields_have_caller(const struct mbus_frame_fields *f) {
        return f->has_caller_ids || f->caller_pid || f->caller_groups || f->caller_name || f->caller_cert_cn ||
               f->caller_cert_fingerprint || f->caller_address;
}

/*
 * An immutable, reference-counted frame. head is what goes on the wire first (fixed header and
 * fields), body follows it; a frame that re-sends another frame's body with new fields holds a
 * reference on that frame (body_owner) instead of copying the body, so a broker forwarding a
 * CALL or fanning an EVENT out to N subscribers never copies or re-encodes the JSON.
 * body is followed by a NUL byte in memory (not on the wire), so it may be handed to a JSON
 * parser as a C string when body_len > 0.
 */
struct mbus_frame {
        unsigned n_ref;
        enum mbus_frame_type type;
        uint8_t flags;
        struct mbus_frame_fields f;
        const uint8_t *head;
        size_t head_len;
        const uint8_t *body;
        size_t body_len;
        struct mbus_frame *body_owner;
};

/* Decoding. */

/*
 * Reads the fixed header at data (len bytes available) and returns the size of the whole frame
 * in *ret_size. Returns 0 on success, -EAGAIN if fewer than MBUS_FRAME_HEADER_SIZE bytes are
 * available, -EPROTONOSUPPORT for another protocol version, -EMSGSIZE if the frame is larger
 * than max_size, -EBADMSG for any other fault; *ret_reason (if not NULL) names the fault as a
 * static string on failure.
 */
int mbus_frame_peek_size(const void *data, size_t len, size_t max_size, size_t *ret_size,
                         const char **ret_reason);

/*
 * Decodes and validates exactly one whole frame of size bytes at data, which may be any
 * untrusted bytes. The frame gets its own copy of the bytes. Returns 0 and the new frame
 * (one reference) in *ret, or the errors of mbus_frame_peek_size() (-EBADMSG for every
 * malformed case: truncated, trailing bytes, unknown type or field, wrong field kind, duplicate
 * field, missing required field, a field not allowed for the type, invalid UTF-8 or invalid
 * name, non-zero flags or reserved byte), -ENOMEM; *ret_reason names the fault on failure.
 * Does not parse the JSON body.
 */
int mbus_frame_parse(struct mbus_frame **ret, const void *data, size_t size, size_t max_size,
                     const char **ret_reason);

/*
 * Like mbus_frame_parse(), but decodes in place: *view, the caller's struct, gets pointers into
 * data instead of a copy, so nothing is allocated. data[size] must be a NUL byte (the one after
 * the body that every frame has in memory), and data must stay unchanged while the view is
 * used. A view has n_ref 0: it is never passed to mbus_frame_ref() or mbus_frame_unref();
 * mbus_frame_copy() makes a frame of it that may be kept. Same returns as mbus_frame_parse()
 * but -ENOMEM; *view is written only on success.
 */
int mbus_frame_parse_view(struct mbus_frame *view, const void *data, size_t size, size_t max_size,
                          const char **ret_reason);

/*
 * A frame of its own (one reference, bytes copied, body included) with the contents of frame,
 * which may be a view. Returns 0 or -ENOMEM.
 */
int mbus_frame_copy(struct mbus_frame **ret, const struct mbus_frame *frame);

/* Encoding. */

/*
 * Builds a frame of the given type with the given fields (absent ones are 0/NULL) and a copy
 * of body (body_len bytes, NULL if body_len is 0). Returns 0 and the new frame (one reference)
 * in *ret, -EINVAL if a string field is longer than MBUS_FIELD_STRING_MAX - 1 bytes, -EMSGSIZE
 * if the frame would not fit the u32 lengths, -ENOMEM. Field values are not validated here:
 * callers validate what they take from users (names.h). Fields are written in code order, each
 * one that is non-zero/non-NULL, plus reply_serial of ERROR always (0 there is meaningful).
 */
int mbus_frame_new(struct mbus_frame **ret, enum mbus_frame_type type,
                   const struct mbus_frame_fields *fields, const void *body, size_t body_len);

/*
 * Like mbus_frame_new(), but the new frame re-sends the body of body_src without copying it:
 * it takes a reference on body_src. Used by the broker to forward a frame with new fields.
 */
int mbus_frame_new_with_body_of(struct mbus_frame **ret, enum mbus_frame_type type,
                                const struct mbus_frame_fields *fields, struct mbus_frame *body_src);

/* Lifetime. */
struct mbus_frame *mbus_frame_ref(struct mbus_frame *frame);
struct mbus_frame *mbus_frame_unref(struct mbus_frame *frame);   /* takes NULL, returns NULL */

/* Queries. */
static inline size_t mbus_frame_size(const struct mbus_frame *frame) {
        return frame->head_len + frame->body_len;
}
const char *mbus_frame_type_to_string(enum mbus_frame_type type);  /* "CALL", ...; NULL if unknown */

static inline void mbus_frame_unrefp(struct mbus_frame **p) {
        if (*p)
                *p = mbus_frame_unref(*p);
}
