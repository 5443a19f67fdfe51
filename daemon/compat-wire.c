/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Original mBus frames (compat-wire.h). zlib is used in its plain "zlib stream" form, one
 * deflate per frame, as the original client writes with compress2() and reads with
 * uncompress(); inflate runs into a buffer of exactly the stated size, so output can never
 * exceed what was allowed.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "compat-wire.h"
#include "util/macro.h"

int mbus_compat_wire_peek(const uint8_t *data, size_t len, size_t max, size_t *ret_size) {
        uint32_t n;

        if (len < MBUS_COMPAT_WIRE_HEADER)
                return -EAGAIN;
        memcpy(&n, data, sizeof(n));
        n = ntohl(n);
        if (n > max)
                return -EMSGSIZE;
        *ret_size = MBUS_COMPAT_WIRE_HEADER + (size_t) n;
        return 0;
}

static int compat_inflate(const uint8_t *data, size_t n, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *out = NULL;
        z_stream z = {};
        uint32_t want;
        int r;

        if (n < 4)
                return -EBADMSG;
        memcpy(&want, data, sizeof(want));
        want = ntohl(want);
        if (want > max)
                return -EMSGSIZE;
        out = malloc((size_t) want + 1);
        if (!out)
                return -ENOMEM;
        if (inflateInit(&z) != Z_OK)
                return -ENOMEM;
        z.next_in = (Bytef *) (data + 4);
        z.avail_in = (uInt) (n - 4);
        z.next_out = (Bytef *) out;
        z.avail_out = want;
        r = inflate(&z, Z_FINISH);
        /* Z_STREAM_END with want bytes: exactly as stated. Anything else (more output than
         * stated, a truncated or corrupt stream, bytes after it) is a malformed frame. */
        if (r != Z_STREAM_END || z.total_out != want || z.avail_in != 0) {
                (void) inflateEnd(&z);
                return r == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
        }
        (void) inflateEnd(&z);
        out[want] = 0;
        *ret_len = want;
        *ret = TAKE_PTR(out);
        return 0;
}

int mbus_compat_wire_decode(const uint8_t *data, size_t n, bool zlib, size_t max, char **ret, size_t *ret_len) {
        char *out;

        if (zlib)
                return compat_inflate(data, n, max, ret, ret_len);
        if (n > max)
                return -EMSGSIZE;
        out = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        memcpy(out, data, n);
        out[n] = 0;
        *ret_len = n;
        *ret = out;
        return 0;
}

size_t mbus_compat_wire_plain_size(size_t len) {
        return len > UINT32_MAX - 8 ? 0 : MBUS_COMPAT_WIRE_HEADER + len;
}

void mbus_compat_wire_plain_put(uint8_t *dst, const char *text, size_t len) {
        uint32_t n = htonl((uint32_t) len);

        memcpy(dst, &n, sizeof(n));
        memcpy(dst + MBUS_COMPAT_WIRE_HEADER, text, len);
}

int mbus_compat_wire_encode(const char *text, size_t len, bool zlib, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint32_t n;
        size_t size;

        if (len > UINT32_MAX - 8)
                return -EMSGSIZE;
        if (!zlib) {
                size = mbus_compat_wire_plain_size(len);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                mbus_compat_wire_plain_put(buf, text, len);
        } else {
                uLongf zlen = compressBound((uLong) len);

                buf = malloc(8 + zlen);
                if (!buf)
                        return -ENOMEM;
                if (compress2(buf + 8, &zlen, (const Bytef *) text, (uLong) len, Z_DEFAULT_COMPRESSION) != Z_OK)
                        return -ENOMEM;
                n = htonl((uint32_t) (zlen + 4));
                memcpy(buf, &n, 4);
                n = htonl((uint32_t) len);
                memcpy(buf + 4, &n, 4);
                size = 8 + zlen;
        }
        *ret_len = size;
        *ret = TAKE_PTR(buf);
        return 0;
}
