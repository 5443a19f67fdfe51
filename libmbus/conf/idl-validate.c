/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CALL and EVENT bodies checked against a namespace's description: the one place the broker
 * looks into a body it routes, and only for namespaces that ship an interface file. The body
 * is parsed with json_parse_bytes() (bounded nesting) and walked alongside the declared type,
 * whose depth is itself bounded by MBUS_IDL_TYPE_DEPTH_MAX, so a hostile body costs at most one
 * linear pass. The reason for a refusal names the argument and, inside arrays, the element
 * ("argument 'x'[2][0]: expected int, got string"), for the ERROR frame the caller gets back.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "util/json-util.h"
#include "util/macro.h"

static const char *idl_json_type_name(json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "bool";
        case json_type_double:
                return "double";
        case json_type_int:
                return "int";
        case json_type_object:
                return "object";
        case json_type_array:
                return "array";
        case json_type_string:
                return "string";
        }
        return "unknown";
}

static bool idl_value_kind_matches(const struct mbus_idl_type *t, json_object *v) {
        enum json_type jt = json_object_get_type(v);

        switch (t->kind) {
        case MBUS_IDL_STRING:
                return jt == json_type_string;
        case MBUS_IDL_INT:
                return jt == json_type_int;
        case MBUS_IDL_DOUBLE:
                return jt == json_type_double || jt == json_type_int;
        case MBUS_IDL_BOOL:
                return jt == json_type_boolean;
        case MBUS_IDL_OBJECT:
                return jt == json_type_object;
        case MBUS_IDL_ARRAY:
                return jt == json_type_array;
        case MBUS_IDL_ANY:
                return true;
        default:
                return false;
        }
}

/* what is "argument 'x'" or "argument 'x'[2][0]", grown in place as arrays are entered. */
static int idl_value_check(const struct mbus_idl_type *t, json_object *v, char *what, size_t what_size,
                           char *reason, size_t reason_size) {
        char expected[MBUS_IDL_TYPE_STRING_MAX];
        size_t n;

        if (!v && (t->nullable || t->kind == MBUS_IDL_ANY))
                return 0;
        if (v && idl_value_kind_matches(t, v)) {
                if (t->kind != MBUS_IDL_ARRAY)
                        return 0;

                n = strlen(what);
                for (size_t i = 0, len = json_object_array_length(v); i < len; i++) {
                        int r;

                        (void) snprintf(what + n, what_size - n, "[%zu]", i);
                        r = idl_value_check(t->element, json_object_array_get_idx(v, i), what, what_size,
                                            reason, reason_size);
                        if (r < 0)
                                return r;
                }
                what[n] = 0;
                return 0;
        }

        (void) snprintf(reason, reason_size, "%s: expected %s, got %s", what,
                        mbus_idl_type_to_string(t, expected, sizeof(expected)), idl_json_type_name(v));
        return -EINVAL;
}

int mbus_idl_validate(const struct mbus_idl_arg *args, size_t n_args, const char *body, size_t len,
                      char *reason, size_t reason_size) {
        _cleanup_json_ json_object *o = NULL;
        size_t n_present = 0;
        char dummy[1];
        int r;

        if (!reason || reason_size == 0) {
                reason = dummy;
                reason_size = sizeof(dummy);
        }
        reason[0] = 0;
        if (n_args > 0 && !args)
                return -EINVAL;

        if (body && len > 0 && !idl_text_is_blank(body, len)) {
                r = json_parse_bytes(body, len, &o);
                if (r == -EBADMSG) {
                        (void) snprintf(reason, reason_size, "arguments are not valid JSON");
                        return r;
                }
                if (r < 0)
                        return r;
                if (!json_object_is_type(o, json_type_object)) {
                        (void) snprintf(reason, reason_size, "arguments must be a JSON object");
                        return -EINVAL;
                }
        }

        for (size_t i = 0; i < n_args; i++) {
                char what[512];
                json_object *v;

                if (!o || !json_object_object_get_ex(o, args[i].name, &v)) {
                        if (args[i].optional)
                                continue;
                        (void) snprintf(reason, reason_size, "missing argument '%s'", args[i].name);
                        return -EINVAL;
                }
                n_present++;
                (void) snprintf(what, sizeof(what), "argument '%s'", args[i].name);
                r = idl_value_check(&args[i].type, v, what, sizeof(what), reason, reason_size);
                if (r < 0)
                        return r;
        }

        /* Keys are unique, so every key is declared exactly when the counts agree; otherwise
         * the first unknown key comes after at most n_present declared ones: a body with a
         * million keys costs no more than one with a few. */
        if (!o || (size_t) json_object_object_length(o) == n_present)
                return 0;
        json_object_object_foreach(o, key, val) {
                bool found = false;

                (void) val;
                for (size_t i = 0; i < n_args && !found; i++)
                        found = strcmp(args[i].name, key) == 0;
                if (!found) {
                        (void) snprintf(reason, reason_size, "unknown argument '%s'", key);
                        return -EINVAL;
                }
        }
        return 0;
}
