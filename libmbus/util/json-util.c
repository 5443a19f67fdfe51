/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-c helpers. Bodies arrive as (pointer, length) pairs from frames: json_tokener_parse()
 * would stop at the first NUL and happily ignore trailing text, so we drive the tokener with
 * an explicit length, a bounded nesting depth (a hostile body must not recurse us into the
 * ground), and refuse anything but whitespace after the value.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/json-util.h"
#include "util/macro.h"

#define JSON_DEPTH_MAX 64

static void json_tokener_freep(struct json_tokener **p) {
        if (*p)
                json_tokener_free(*p);
}

static bool json_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int json_parse_bytes(const char *text, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;

        return json_parse_bytes_reuse(&tok, text, len, ret);
}

int json_parse_bytes_reuse(struct json_tokener **reuse, const char *text, size_t len, json_object **ret) {
        _cleanup_json_ json_object *o = NULL;
        struct json_tokener *tok;
        enum json_tokener_error jerr;
        size_t end;

        if (!text && len > 0)
                return -EINVAL;
        if (len > INT32_MAX)
                return -EBADMSG;
        /* json-c treats an embedded NUL as end of input; a body with one is not JSON text. */
        if (len > 0 && memchr(text, 0, len))
                return -EBADMSG;

        if (*reuse)
                json_tokener_reset(*reuse);
        else {
                *reuse = json_tokener_new_ex(JSON_DEPTH_MAX);
                if (!*reuse)
                        return -ENOMEM;
                json_tokener_set_flags(*reuse, JSON_TOKENER_STRICT);
        }
        tok = *reuse;

        o = json_tokener_parse_ex(tok, text ? text : "", (int) len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                /* The input ended inside a value, or a bare number needs its terminator:
                 * feeding an empty chunk tells the tokener this is all there is. */
                o = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                if (jerr != json_tokener_success)
                        return -EBADMSG;
                end = len;
        } else if (jerr != json_tokener_success)
                return -EBADMSG;
        else
                end = json_tokener_get_parse_end(tok);

        for (; end < len; end++)
                if (!json_is_space(text[end]))
                        return -EBADMSG;

        *ret = TAKE_PTR(o);
        return 0;
}

const char *json_get_string(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        if (!json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}
