/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* json-c helpers. */

#include <stddef.h>
#include <json-c/json.h>

static inline void json_object_putp(json_object **p) {
        if (*p) {
                json_object_put(*p);
                *p = NULL;
        }
}
#define _cleanup_json_ __attribute__((__cleanup__(json_object_putp)))

/*
 * Parses exactly len bytes of text as one JSON value (trailing garbage is an error). Returns 0
 * and the value in *ret (a NULL json_object for the JSON literal null), -EBADMSG if the text is
 * not valid JSON, -ENOMEM.
 */
int json_parse_bytes(const char *text, size_t len, json_object **ret);
/*
 * The same with a tokener the caller keeps between parses (*tok: NULL at first, made here;
 * the caller frees it with json_tokener_free()): a json-c tokener is a large zeroed allocation,
 * too costly to make for every event a client receives.
 */
int json_parse_bytes_reuse(struct json_tokener **tok, const char *text, size_t len, json_object **ret);

/* Looks up key in object o and returns its string value, or NULL if absent or not a string. */
const char *json_get_string(json_object *o, const char *key);
