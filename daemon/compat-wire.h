/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The original mBus framing: a 4-byte big-endian length, then JSON text, optionally zlib. */

/*
 * Uncompressed: LEN (u32 BE) then LEN bytes of JSON. With zlib agreed: LEN (u32 BE), then the
 * uncompressed length (u32 BE) and a zlib stream of LEN - 4 bytes. Untrusted input is bounded
 * twice: LEN against the broker's maximum frame size before anything is buffered, and the
 * inflated size against the stated length (itself at most that maximum), so a zip bomb stops
 * after max bytes of output and costs only its connection.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBUS_COMPAT_WIRE_HEADER 4u

/*
 * Looks at the buffered bytes: returns 0 and the size of the whole frame (header included) in
 * *ret_size, -EAGAIN if the header is not complete, -EMSGSIZE if the frame is longer than
 * max bytes after the header.
 */
int mbus_compat_wire_peek(const uint8_t *data, size_t len, size_t max, size_t *ret_size);

/*
 * Decodes the n bytes after a frame's header into JSON text (a new NUL-terminated buffer,
 * *ret_len without the NUL). Returns 0, -EMSGSIZE (stated length over max), -EBADMSG (not a
 * zlib stream, or not inflating to exactly the stated length), -ENOMEM.
 */
int mbus_compat_wire_decode(const uint8_t *data, size_t n, bool zlib, size_t max, char **ret, size_t *ret_len);

/* Encodes len bytes of text as one frame (a new buffer). Returns 0, -EMSGSIZE, -ENOMEM. */
int mbus_compat_wire_encode(const char *text, size_t len, bool zlib, uint8_t **ret, size_t *ret_len);

/* The size of len bytes of text as one uncompressed frame, or 0 if that is too long to frame. */
size_t mbus_compat_wire_plain_size(size_t len);

/* Writes len bytes of text as one uncompressed frame into dst, which has
 * mbus_compat_wire_plain_size(len) bytes. */
void mbus_compat_wire_plain_put(uint8_t *dst, const char *text, size_t len);

/*
 * Appends o as JSON text to the buffer *buf of *len bytes used out of *cap (grown with realloc):
 * the text json-c writes with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE. Returns
 * 0, -ENOMEM or -ELOOP (nested too deep); on error *len is as it was.
 */
int mbus_compat_wire_append_json(uint8_t **buf, size_t *len, size_t *cap, json_object *o);
