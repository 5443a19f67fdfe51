/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON form of a frame. The decoder builds the binary frame and runs it through
 * mbus_frame_parse(), so both forms accept exactly the same frames and every check (required
 * fields, names, UTF-8) lives in one place, frame-parse.c.
 */

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/frame-json.h"
#include "proto/frame.h"
#include "util/json-util.h"
#include "util/macro.h"

/* KEY_ID: caller_uid and caller_gid, where 0 (root) is a value and both come together. */
enum { KEY_U64, KEY_STR, KEY_ID };

struct frame_json_key {
        const char *name;
        int kind;
        size_t offset;
};

#define KEY(n, k, member) { n, k, offsetof(struct mbus_frame_fields, member) }
static const struct frame_json_key frame_json_keys[] = {
        KEY("serial", KEY_U64, serial),
        KEY("reply_serial", KEY_U64, reply_serial),
        KEY("timeout", KEY_U64, timeout_usec),
        KEY("namespace", KEY_STR, namespace),
        KEY("member", KEY_STR, member),
        KEY("destination", KEY_STR, destination),
        KEY("sender", KEY_STR, sender),
        KEY("error_name", KEY_STR, error_name),
        KEY("pattern", KEY_STR, pattern),
        KEY("caller_uid", KEY_ID, caller_uid),
        KEY("caller_gid", KEY_ID, caller_gid),
        KEY("caller_pid", KEY_U64, caller_pid),
        KEY("caller_groups", KEY_STR, caller_groups),
        KEY("caller_name", KEY_STR, caller_name),
        KEY("caller_cert_cn", KEY_STR, caller_cert_cn),
        KEY("caller_cert_fingerprint", KEY_STR, caller_cert_fingerprint),
        KEY("caller_address", KEY_STR, caller_address),
};

static int frame_json_type(const char *s) {
        for (int t = 1; t < _MBUS_FRAME_TYPE_MAX; t++)
                if (s && mbus_frame_type_to_string(t) && strcmp(mbus_frame_type_to_string(t), s) == 0)
                        return t;
        return -EBADMSG;
}

static const struct frame_json_key *frame_json_find_key(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(frame_json_keys); i++)
                if (strcmp(frame_json_keys[i].name, name) == 0)
                        return &frame_json_keys[i];
        return NULL;
}

static int frame_json_fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EBADMSG;
}

int mbus_frame_from_json(struct mbus_frame **ret, const char *text, size_t len, size_t max_size,
                         const char **ret_reason) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *built = NULL;
        _cleanup_json_ json_object *o = NULL;
        struct mbus_frame_fields f = {};
        const char *body = NULL;
        size_t body_len = 0;
        bool seen_body = false;
        unsigned n_ids = 0;
        int type = -EBADMSG, r;

        assert(ret && text);

        r = json_parse_bytes(text, len, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return frame_json_fail(ret_reason, "text message is not valid JSON");
        if (!json_object_is_type(o, json_type_object))
                return frame_json_fail(ret_reason, "text message is not a JSON object");

        json_object_object_foreach(o, key, value) {
                const struct frame_json_key *k;

                if (strcmp(key, "type") == 0) {
                        type = json_object_is_type(value, json_type_string) ?
                                frame_json_type(json_object_get_string(value)) : -EBADMSG;
                        if (type < 0)
                                return frame_json_fail(ret_reason, "unknown frame type in JSON");
                        continue;
                }
                if (strcmp(key, "body") == 0 || strcmp(key, "body_text") == 0) {
                        bool as_text = key[4] == '_';

                        if (seen_body)
                                return frame_json_fail(ret_reason, "JSON frame with both body and body_text");
                        seen_body = true;
                        if (as_text && !json_object_is_type(value, json_type_string))
                                return frame_json_fail(ret_reason, "JSON frame body_text is not a string");
                        if (as_text) {
                                body = json_object_get_string(value);
                                body_len = (size_t) json_object_get_string_len(value);
                        } else if (value) {
                                body = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
                                if (!body)
                                        return -ENOMEM;
                                body_len = strlen(body);
                        }
                        continue;
                }
                k = frame_json_find_key(key);
                if (!k)
                        return frame_json_fail(ret_reason, "unknown key in JSON frame");
                if (k->kind == KEY_U64 || k->kind == KEY_ID) {
                        if (!json_object_is_type(value, json_type_int))
                                return frame_json_fail(ret_reason, "JSON frame field is not an integer");
                        /* json-c keeps integers above INT64_MAX as uint64: get_int64() then
                         * saturates, and only a negative number is really negative. */
                        if (json_object_get_int64(value) < 0)
                                return frame_json_fail(ret_reason, "JSON frame field is negative");
                        *(uint64_t *) ((uint8_t *) &f + k->offset) = json_object_get_uint64(value);
                        n_ids += k->kind == KEY_ID;
                } else {
                        const char *v;

                        if (!json_object_is_type(value, json_type_string))
                                return frame_json_fail(ret_reason, "JSON frame field is not a string");
                        v = json_object_get_string(value);
                        /* A header string ends at its first NUL on the wire: "a\u0000b" is not "a". */
                        if (strlen(v) != (size_t) json_object_get_string_len(value))
                                return frame_json_fail(ret_reason, "JSON frame field contains a NUL character");
                        *(const char **) ((uint8_t *) &f + k->offset) = v;
                }
        }
        if (type < 0)
                return frame_json_fail(ret_reason, "JSON frame without a type");
        if (n_ids == 1)
                return frame_json_fail(ret_reason, "JSON frame with only one of caller_uid and caller_gid");
        f.has_caller_ids = n_ids == 2;

        r = mbus_frame_new(&built, type, &f, body, body_len);
        if (r == -EINVAL || r == -EMSGSIZE)
                return frame_json_fail(ret_reason, "JSON frame field too long");
        if (r < 0)
                return r;

        /* Round trip through the parser: the JSON form is held to every rule of the binary one. */
        {
                _cleanup_free_ uint8_t *bytes = malloc(mbus_frame_size(built));

                if (!bytes)
                        return -ENOMEM;
                memcpy(bytes, built->head, built->head_len);
                if (built->body_len > 0)
                        memcpy(bytes + built->head_len, built->body, built->body_len);
                return mbus_frame_parse(ret, bytes, mbus_frame_size(built), max_size, ret_reason);
        }
}

int mbus_frame_to_json(const struct mbus_frame *frame, json_object **ret) {
        _cleanup_json_ json_object *o = NULL;
        const char *type;

        assert(frame && ret);

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        type = mbus_frame_type_to_string(frame->type);
        if (json_object_object_add(o, "type", json_object_new_string(type ?: "?")) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(frame_json_keys); i++) {
                const struct frame_json_key *k = &frame_json_keys[i];
                const uint8_t *p = (const uint8_t *) &frame->f + k->offset;
                json_object *v = NULL;

                if (k->kind == KEY_ID) {
                        if (!frame->f.has_caller_ids)
                                continue;
                        v = json_object_new_uint64(*(const uint64_t *) p);
                } else if (k->kind == KEY_U64) {
                        uint64_t u = *(const uint64_t *) p;

                        /* ERROR always names the serial it answers, 0 included. */
                        if (u == 0 && !(frame->type == MBUS_FRAME_ERROR && strcmp(k->name, "reply_serial") == 0))
                                continue;
                        v = json_object_new_uint64(u);
                } else {
                        const char *s = *(const char *const *) p;

                        if (!s)
                                continue;
                        v = json_object_new_string(s);
                }
                if (!v || json_object_object_add(o, k->name, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }

        if (frame->body_len > 0) {
                json_object *body = NULL;
                const char *key = "body";
                int r;

                r = json_parse_bytes((const char *) frame->body, frame->body_len, &body);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        key = "body_text";
                        body = json_object_new_string_len((const char *) frame->body, (int) frame->body_len);
                        if (!body)
                                return -ENOMEM;
                }
                if (json_object_object_add(o, key, body) < 0) {
                        json_object_put(body);
                        return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(o);
        return 0;
}
