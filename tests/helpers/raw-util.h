/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Raw protocol access for tests: hand-built frames (good and malformed) on plain sockets. */

/*
 * These helpers encode and decode frames themselves, independently of libmbus/proto, so the
 * tests check the broker against the wire format as documented in frame.h rather than against
 * a second copy of the same code. Everything here blocks with a timeout; functions return 0 or
 * a negative errno and never abort, so tests assert on their results.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"   /* constants only: types, field codes and kinds */

/* A frame under construction: the caller may write any bytes, also malformed ones. */
struct raw_buf {
        uint8_t *data;
        size_t len, cap;
};

/* Starts a frame: fixed header with the given version/type/flags/reserved, lengths patched in
 * by raw_frame_finish(). */
void raw_frame_begin_full(struct raw_buf *b, uint8_t version, uint8_t type, uint8_t flags,
                          uint8_t reserved);
static inline void raw_frame_begin(struct raw_buf *b, enum mbus_frame_type type) {
        raw_frame_begin_full(b, MBUS_PROTOCOL_VERSION, (uint8_t) type, 0, 0);
}
/* A TLV field with an arbitrary kind and value (for malformed cases). */
void raw_field(struct raw_buf *b, uint8_t code, uint8_t kind, const void *value, uint16_t len);
void raw_field_u64(struct raw_buf *b, enum mbus_field_code code, uint64_t v);
/* A string field with its terminating NUL, as the format wants it. */
void raw_field_str(struct raw_buf *b, enum mbus_field_code code, const char *s);
/* Ends the fields and appends the body (NULL: none); fills in both lengths. */
void raw_frame_finish(struct raw_buf *b, const char *body);
void raw_buf_done(struct raw_buf *b);

/* A received frame, decoded. Strings are NULL when absent; body is NUL-terminated (or NULL). */
struct raw_frame {
        uint8_t type;
        uint64_t serial, reply_serial, timeout_usec;
        char *namespace, *member, *destination, *sender, *error_name, *pattern;
        bool has_caller_ids;            /* caller_uid/caller_gid seen: a forwarded CALL */
        uint64_t caller_uid, caller_gid, caller_pid;
        char *caller_name;              /* the other caller_* strings are checked and skipped */
        uint32_t fields_seen;           /* bit 1 << code for every field code that came */
        char *body;
        size_t body_len;
};
void raw_frame_done(struct raw_frame *f);

/* Connects a blocking socket to address (a path). Returns the fd or a negative errno. */
int raw_connect(const char *address);
/* Writes all bytes. Returns 0 or a negative errno (-EPIPE when the broker hung up). */
int raw_send(int fd, const void *data, size_t len);
static inline int raw_send_buf(int fd, const struct raw_buf *b) {
        return raw_send(fd, b->data, b->len);
}
/* Receives one frame within timeout_ms. Returns 0, -ETIMEDOUT, -ECONNRESET on end of file,
 * -EBADMSG if the broker sent something that is not a frame. */
int raw_recv(int fd, int timeout_ms, struct raw_frame *ret);
/* Like raw_recv(), but answers PINGs and skips frames until one of type arrives. */
int raw_recv_type(int fd, int timeout_ms, uint8_t type, struct raw_frame *ret);
/* Waits for the broker to close the connection, reading and discarding frames. Returns 0 on
 * end of file (or a reset), -ETIMEDOUT if the connection is still open after timeout_ms. */
int raw_wait_eof(int fd, int timeout_ms);

/* Sends HELLO (serial 1, {"name": name}) and waits for WELCOME. Returns 0 and the peer id
 * (malloc'd, may pass NULL) or a negative errno. */
int raw_hello(int fd, const char *name, char **ret_id);
/* Like raw_hello(), also sending "features": features (JSON text, NULL: no key) and returning
 * WELCOME's body (malloc'd, may pass NULL). */
int raw_hello_full(int fd, const char *name, const char *features, char **ret_id, char **ret_welcome);
/* Sends a frame of type with the usual fields; NULL/0 ones are left out. */
int raw_send_simple(int fd, enum mbus_frame_type type, uint64_t serial, uint64_t reply_serial,
                    const char *ns, const char *member, const char *destination,
                    const char *error_name, const char *pattern, const char *body);
/* REGISTER / SUBSCRIBE and wait for their RETURN (or ERROR: returns -EREMOTEIO). */
int raw_register(int fd, uint64_t serial, const char *ns);
int raw_subscribe(int fd, uint64_t serial, const char *pattern);
