/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What frame.c (build, lifetime) and frame-parse.c (decode) share: the layout of one allocation. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

/*
 * A frame is one allocation: the struct, then the head (fixed header + fields), then, unless
 * the body is borrowed from body_owner, the body and one NUL byte. Strings in f point into
 * the head's TLV values, which carry their own NUL on the wire.
 */
static inline uint8_t *mbus_frame_bytes(struct mbus_frame *frame) {
        return (uint8_t *) (frame + 1);
}

/* Allocates a frame with room for n_bytes after the struct (not zeroed: the caller writes each
 * of them), one reference, every field of the struct zero. */
struct mbus_frame *mbus_frame_alloc(size_t n_bytes);

/* Little-endian accessors: the wire is LE whatever the host is, and never aligned. */
static inline uint16_t mbus_read_le16(const uint8_t *p) {
        uint16_t v;

        memcpy(&v, p, sizeof(v));
        return le16toh(v);
}
static inline uint32_t mbus_read_le32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return le32toh(v);
}
static inline uint64_t mbus_read_le64(const uint8_t *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return le64toh(v);
}
