/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-c parses a configuration file but keeps no positions, so the loaders of introspection
 * files (conf/idl-json.c) and policy files (conf/policy-load.c) walk the text once more,
 * after json-c has accepted it. Valid JSON needs no real parser to be walked: a stack of open
 * containers, whether an object expects a key next, and which element of an array is current
 * say where every value sits. Strings are skipped with their escapes, so brackets and quotes
 * inside them count for nothing; literals and numbers are skipped to their end.
 *
 * The caller says which array elements matter in its callback, from the path of keys and
 * indices, so the lines do not depend on the order of keys in the file.
 *
 * mbus_json_lines_parse() is the json-c half: strict parsing, with the line of a syntax error
 * taken from the tokener's offset, so that both loaders word and place them alike.
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "conf/json-lines.h"
#include "util/json-util.h"
#include "util/macro.h"

struct json_lines_frame {
        bool expect_key;                /* object: the next string is a key */
        bool in_element;                /* array: the current element has started */
        uint32_t seen;                  /* object: keys of the table seen, 1u << key */
};

unsigned mbus_json_lines_key(const char *const *keys, size_t n_keys, const char *s, size_t len) {
        for (unsigned k = 1; k < n_keys; k++)
                if (keys[k] && strlen(keys[k]) == len && memcmp(keys[k], s, len) == 0)
                        return k;
        return 0;
}

int mbus_json_lines_scan(const struct mbus_json_lines *s, const char *text, size_t len, unsigned *ret_top_line) {
        struct mbus_json_lines_step path[MBUS_JSON_LINES_DEPTH_MAX + 1];
        struct json_lines_frame st[MBUS_JSON_LINES_DEPTH_MAX + 1];
        size_t depth = 0;
        unsigned line = 1, top_line = 1;
        int r;

        assert(s && (text || len == 0) && s->n_keys <= 32);

        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                struct mbus_json_lines_step *top = depth > 0 ? &path[depth - 1] : NULL;
                struct json_lines_frame *f = depth > 0 ? &st[depth - 1] : NULL;

                if (c == '\n') {
                        line++;
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\r' || c == ':')
                        continue;
                if (c == ',') {
                        if (top && top->object)
                                f->expect_key = true;
                        else if (top) {
                                top->index++;
                                f->in_element = false;
                        }
                        continue;
                }
                if (c == '}' || c == ']') {
                        assert(depth > 0);      /* json-c has checked the nesting */
                        depth--;
                        continue;
                }

                /* Anything else begins a key or a value. */
                if (top && !top->object && !f->in_element) {
                        f->in_element = true;
                        if (s->on_element) {
                                r = s->on_element(path, depth, line, s->userdata);
                                if (r < 0)
                                        return r;
                        }
                }

                if (c == '"') {
                        size_t start = ++i;

                        for (; i < len && text[i] != '"'; i++)
                                if (text[i] == '\\')
                                        i++;
                        if (top && top->object && f->expect_key) {
                                unsigned k = mbus_json_lines_key(s->keys, s->n_keys, text + start, i - start);

                                f->expect_key = false;
                                top->key = k;
                                top->key_text = text + start;
                                top->key_len = i - start;
                                if (k != 0) {
                                        if (f->seen & (UINT32_C(1) << k))
                                                return mbus_file_error_set(s->err, s->path, line, "duplicate key '%s'",
                                                                           s->keys[k]);
                                        f->seen |= UINT32_C(1) << k;
                                }
                        }
                        continue;
                }
                if (c == '{' || c == '[') {
                        if (depth == 0)
                                top_line = line;
                        if (depth >= ELEMENTSOF(st))
                                return -EBADMSG;        /* deeper than the caller's tokener allows */
                        path[depth] = (struct mbus_json_lines_step) { .object = c == '{' };
                        st[depth++] = (struct json_lines_frame) { .expect_key = c == '{' };
                        continue;
                }
                /* A literal or number: skip to its end. */
                while (i + 1 < len && !strchr(",]}: \t\r\n", text[i + 1]))
                        i++;
        }
        if (ret_top_line)
                *ret_top_line = top_line;
        return 0;
}

static void json_tokener_freep(struct json_tokener **p) {
        if (*p)
                json_tokener_free(*p);
}

int mbus_json_lines_parse(json_object **ret, const char *path, const char *text, size_t len, int max_depth,
                          const char *what, struct mbus_file_error *err) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_json_ json_object *o = NULL;
        enum json_tokener_error jerr;
        const char *nul;
        size_t end;

        assert(ret && (text || len == 0) && what);

        nul = len > 0 ? memchr(text, 0, len) : NULL;
        if (nul)
                return mbus_file_error_set(err, path, mbus_text_line_of(text, len, (size_t) (nul - text)),
                                           "JSON syntax error: NUL byte in the file");

        tok = json_tokener_new_ex(max_depth);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);

        o = json_tokener_parse_ex(tok, text ?: "", (int) len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                /* The input ended inside a value, or a bare number needs its terminator. */
                o = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                if (jerr != json_tokener_success)
                        return mbus_file_error_set(err, path, mbus_text_line_of(text, len, len),
                                                   "JSON syntax error: unexpected end of file");
                end = len;
        } else if (jerr != json_tokener_success)
                return mbus_file_error_set(err, path,
                                           mbus_text_line_of(text, len, json_tokener_get_parse_end(tok)),
                                           "JSON syntax error: %s", json_tokener_error_desc(jerr));
        else
                end = json_tokener_get_parse_end(tok);

        for (; end < len; end++)
                if (!strchr(" \t\r\n", text[end]))
                        return mbus_file_error_set(err, path, mbus_text_line_of(text, len, end),
                                                   "JSON syntax error: unexpected text after %s", what);
        *ret = TAKE_PTR(o);
        return 0;
}
