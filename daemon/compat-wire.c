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

/*
 * The JSON writer: the same text json-c writes with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE, straight into the caller's buffer. json-c's own writer
 * allocated a buffer on every object it wrote and formatted every integer with snprintf; frames
 * are written once per message, so that was most of the cost of sending one.
 */
struct compat_text {
        uint8_t **buf;
        size_t *len, *cap;
};

static int compat_text_put(struct compat_text *t, const char *s, size_t n) {
        if (*t->cap - *t->len < n) {
                size_t want = MAX(*t->len + n, MAX(*t->cap * 2, (size_t) 256));
                uint8_t *p = realloc(*t->buf, want);

                if (!p)
                        return -ENOMEM;
                *t->buf = p;
                *t->cap = want;
        }
        memcpy(*t->buf + *t->len, s, n);
        *t->len += n;
        return 0;
}

static int compat_text_string(struct compat_text *t, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        size_t start = 0;
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        int r;

        r = compat_text_put(t, "\"", 1);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                size_t esc_len = 2;

                /* Most bytes are copied as they are, in runs. */
                if (c >= ' ' && c != '"' && c != '\\')
                        continue;
                switch (c) {
                case '\b': esc[1] = 'b'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                case '\f': esc[1] = 'f'; break;
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                default:
                        esc[1] = 'u';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        esc_len = 6;
                }
                r = compat_text_put(t, s + start, i - start);
                if (r >= 0)
                        r = compat_text_put(t, esc, esc_len);
                start = i + 1;
        }
        if (r >= 0)
                r = compat_text_put(t, s + start, n - start);
        return r < 0 ? r : compat_text_put(t, "\"", 1);
}

/* Decimal without the locale or printf: integers have no locale-dependent form anyway. */
static int compat_text_int(struct compat_text *t, int64_t v) {
        char digits[24];
        size_t i = sizeof(digits);
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        do {
                digits[--i] = (char) ('0' + u % 10);
                u /= 10;
        } while (u > 0);
        if (v < 0)
                digits[--i] = '-';
        return compat_text_put(t, digits + i, sizeof(digits) - i);
}

static int compat_text_value(struct compat_text *t, json_object *o, unsigned depth) {
        const char *s;
        size_t n = 0;
        bool first = true;
        int r = 0;

        if (depth > 1000)
                return -ELOOP;
        switch (json_object_get_type(o)) {
        case json_type_null:
                return compat_text_put(t, "null", 4);
        case json_type_boolean:
                return json_object_get_boolean(o) ? compat_text_put(t, "true", 4) : compat_text_put(t, "false", 5);
        case json_type_int:
                if (json_object_get_int64(o) == INT64_MAX && json_object_get_uint64(o) != (uint64_t) INT64_MAX)
                        break;  /* an unsigned value above INT64_MAX: json-c writes it */
                return compat_text_int(t, json_object_get_int64(o));
        case json_type_string:
                return compat_text_string(t, json_object_get_string(o), (size_t) json_object_get_string_len(o));
        case json_type_object:
                r = compat_text_put(t, "{", 1);
                json_object_object_foreach(o, key, val) {
                        if (r >= 0 && !first)
                                r = compat_text_put(t, ",", 1);
                        if (r >= 0)
                                r = compat_text_string(t, key, strlen(key));
                        if (r >= 0)
                                r = compat_text_put(t, ":", 1);
                        if (r >= 0)
                                r = compat_text_value(t, val, depth + 1);
                        first = false;
                }
                return r < 0 ? r : compat_text_put(t, "}", 1);
        case json_type_array:
                r = compat_text_put(t, "[", 1);
                for (size_t i = 0; r >= 0 && i < json_object_array_length(o); i++) {
                        if (i > 0)
                                r = compat_text_put(t, ",", 1);
                        if (r >= 0)
                                r = compat_text_value(t, json_object_array_get_idx(o, i), depth + 1);
                }
                return r < 0 ? r : compat_text_put(t, "]", 1);
        case json_type_double:
                break;
        }
        /* Doubles (rare in frames; their text depends on how they were made) are json-c's. */
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        return s ? compat_text_put(t, s, n) : -ENOMEM;
}

int mbus_compat_wire_append_json(uint8_t **buf, size_t *len, size_t *cap, json_object *o) {
        struct compat_text t = { .buf = buf, .len = len, .cap = cap };
        size_t start = *len;
        int r;

        r = compat_text_value(&t, o, 0);
        if (r < 0)
                *len = start;
        return r;
}
