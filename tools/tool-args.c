/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Arguments on a command line, as people write them: a JSON value when they have one, a file
 * or standard input for anything long, and KEY=VALUE pairs for the common case of an object
 * of strings, with KEY:=JSON for the odd number or list. Everything is parsed, and every fault
 * named, before a tool connects: nothing half-formed is ever sent.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "tools/tool-args.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#define TOOL_ARGS_MAX (16u * 1024u * 1024u)

/* Reads all of f (at most TOOL_ARGS_MAX bytes) as a NUL-terminated string. */
static int args_read_all(FILE *f, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        for (;;) {
                size_t k;

                if (size - len < 4096) {
                        char *p;

                        if (size >= TOOL_ARGS_MAX)
                                return -EFBIG;
                        size = size ? size * 2 : 8192;
                        p = realloc(buf, size + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                k = fread(buf + len, 1, size - len, f);
                len += k;
                if (k == 0)
                        break;
        }
        if (ferror(f))
                return -EIO;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int args_parse_json(const char *text, const char *source, const char *what, json_object **ret) {
        const char *reason = NULL;

        if (tool_parse_json(text, ret, &reason) >= 0)
                return 0;
        tool_error("invalid JSON %s in %s: %s", what, source, reason ? reason : "not one JSON value");
        return -EINVAL;
}

static int args_from_file(const char *path, const char *what, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        bool is_stdin = strcmp(path, "-") == 0;
        const char *source = is_stdin ? "standard input" : path;
        FILE *f;
        int r;

        f = is_stdin ? stdin : fopen(path, "re");
        if (!f) {
                tool_error("cannot read %s from %s: %m", what, path);
                return -EINVAL;
        }
        r = args_read_all(f, &text);
        if (!is_stdin)
                fclose(f);
        if (r < 0) {
                tool_error("cannot read %s from %s: %s", what, source, strerror(-r));
                return -EINVAL;
        }
        return args_parse_json(text, source, what, ret);
}

/* Length of the KEY of a KEY=VALUE or KEY:=JSON operand, 0 if s is not one; *ret_json tells which. */
static size_t args_pair_key(const char *s, bool *ret_json) {
        size_t n = 0;

        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return 0;
        while (s[n] && (strchr("_.-", s[n]) || (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'A' && s[n] <= 'Z') ||
                        (s[n] >= 'a' && s[n] <= 'z')))
                n++;
        if (s[n] == '=') {
                *ret_json = false;
                return n;
        }
        if (s[n] == ':' && s[n + 1] == '=') {
                *ret_json = true;
                return n;
        }
        return 0;
}

int tool_args_parse(char *const *args, size_t n, const char *what, json_object **ret) {
        _cleanup_json_ json_object *o = NULL;
        bool json;

        *ret = NULL;
        if (n == 0)
                return 0;
        if (n == 1 && strcmp(args[0], "-") == 0)
                return args_from_file("-", what, ret);
        if (n == 1 && args[0][0] == '@')
                return args_from_file(args[0] + 1, what, ret);
        if (n == 1 && args_pair_key(args[0], &json) == 0)
                return args_parse_json(args[0], "the command line", what, ret);

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t k = args_pair_key(args[i], &json);
                _cleanup_free_ char *key = NULL;
                json_object *v = NULL;

                if (k == 0) {
                        tool_error("invalid %s '%s': with several operands each must be KEY=VALUE or KEY:=JSON",
                                   what, args[i]);
                        return -EINVAL;
                }
                key = strndup(args[i], k);
                if (!key)
                        return -ENOMEM;
                if (json_object_object_get_ex(o, key, NULL)) {
                        tool_error("invalid %s: key '%s' given twice", what, key);
                        return -EINVAL;
                }
                if (json) {
                        const char *reason = NULL;

                        if (tool_parse_json(args[i] + k + 2, &v, &reason) < 0) {
                                tool_error("invalid JSON for key '%s' in '%s': %s", key, args[i],
                                           reason ? reason : "not one JSON value");
                                return -EINVAL;
                        }
                } else {
                        v = json_object_new_string(args[i] + k + 1);
                        if (!v)
                                return -ENOMEM;
                }
                if (json_object_object_add(o, key, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}
