/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CALL and EVENT bodies checked against a namespace's description: the one place the broker
 * looks into a body it routes, and only for namespaces that ship an interface file.
 *
 * The check costs a bounded amount of work and no memory whatever the body holds. Its size is
 * compared with the limit before a byte is read; then one pass over the text checks the JSON
 * grammar (RFC 8259: strict numbers, escapes, no control characters in strings, UTF-8) and the
 * declared types together, token by token, and stops at the first fault. Nothing is built: a
 * key is decoded into a buffer of one argument name's size, values are only recognised. Nested
 * arrays and objects count against the depth limit as they open, so a hostile body is refused
 * at its first byte past the limit; where the description wants no more than "some value"
 * (any, object), its contents are skipped by a loop whose only state is one bit per open level.
 * The recursion follows the declared type only, itself bounded by MBUS_IDL_TYPE_DEPTH_MAX.
 *
 * Faults are reported in the order of the text, then missing arguments in the order of the
 * description. The reason names the argument and, inside arrays, the element ("argument
 * 'x'[2][0]: expected int, got string"), for the ERROR frame the caller gets back.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "proto/names.h"
#include "util/macro.h"

struct idl_scan {
        const char *p, *end;
        unsigned depth, max_depth;
        uint8_t is_object[(MBUS_IDL_BODY_DEPTH_MAX + 8) / 8];  /* per open level: object, else array */
        char *reason;
        size_t reason_size;
};

/* What a value is, from its first byte (and, for a number, its whole text). */
enum idl_token {
        IDL_TOKEN_NULL,
        IDL_TOKEN_BOOL,
        IDL_TOKEN_INT,
        IDL_TOKEN_DOUBLE,
        IDL_TOKEN_STRING,
        IDL_TOKEN_OBJECT,
        IDL_TOKEN_ARRAY,
        IDL_TOKEN_INVALID,
};

static const char *const idl_token_names[] = {
        [IDL_TOKEN_NULL] = "null",
        [IDL_TOKEN_BOOL] = "bool",
        [IDL_TOKEN_INT] = "int",
        [IDL_TOKEN_DOUBLE] = "double",
        [IDL_TOKEN_STRING] = "string",
        [IDL_TOKEN_OBJECT] = "object",
        [IDL_TOKEN_ARRAY] = "array",
};

void mbus_idl_limits_resolve(const struct mbus_idl_limits *file, const struct mbus_idl_limits *defaults,
                             struct mbus_idl_limits *ret) {
        struct mbus_idl_limits l = {};

        if (defaults)
                l = *defaults;
        if (file && file->max_size > 0)
                l.max_size = file->max_size;
        if (file && file->max_depth > 0)
                l.max_depth = file->max_depth;
        if (l.max_size == 0)
                l.max_size = MBUS_IDL_BODY_SIZE_DEFAULT;
        if (l.max_depth == 0)
                l.max_depth = MBUS_IDL_BODY_DEPTH_DEFAULT;
        l.max_depth = MIN(l.max_depth, (unsigned) MBUS_IDL_BODY_DEPTH_MAX);
        *ret = l;
}

static int idl_syntax_error(struct idl_scan *s, const char *start) {
        (void) snprintf(s->reason, s->reason_size, "arguments are not valid JSON (at byte %zu)",
                        (size_t) (s->p - start));
        return -EBADMSG;
}

static void idl_skip_space(struct idl_scan *s) {
        while (s->p < s->end && idl_is_space(*s->p))
                s->p++;
}

/* The next byte, or 0 at the end (a NUL in the text is no JSON either). */
static char idl_peek(const struct idl_scan *s) {
        return s->p < s->end ? *s->p : 0;
}

/* Opens an array or object level; -ENOBUFS past the depth limit. */
static int idl_push(struct idl_scan *s, bool object) {
        if (s->depth >= s->max_depth) {
                (void) snprintf(s->reason, s->reason_size, "arguments nest deeper than %u levels "
                                "(max-body-depth)", s->max_depth);
                return -ENOBUFS;
        }
        if (object)
                s->is_object[s->depth / 8] |= (uint8_t) (1u << (s->depth % 8));
        else
                s->is_object[s->depth / 8] &= (uint8_t) ~(1u << (s->depth % 8));
        s->depth++;
        s->p++;
        return 0;
}

static bool idl_top_is_object(const struct idl_scan *s) {
        unsigned level = s->depth - 1;

        return s->is_object[level / 8] & (1u << (level % 8));
}

/* The length of the UTF-8 sequence at p (at most n bytes there), or 0 if it is not one. */
static size_t idl_utf8_length(const unsigned char *p, size_t n) {
        unsigned char c = p[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;     /* bounds of the second byte */

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;              /* no overlong forms */
                else if (c == 0xed)
                        hi = 0x9f;              /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;              /* nothing past U+10FFFF */
        } else
                return 0;
        if (n < len || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

static int idl_hex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/*
 * A string at s->p (its opening quote). With out, also its value, decoded into out (NUL
 * terminated) as far as it fits: *ret_fits says whether all of it did and held no NUL. Returns
 * 0 or -EBADMSG.
 */
static int idl_scan_string(struct idl_scan *s, char *out, size_t out_size, bool *ret_fits) {
        size_t n = 0;
        bool fits = true;

        s->p++;
        for (;;) {
                unsigned char c;
                size_t len;

                if (s->p >= s->end)
                        return -EBADMSG;
                c = (unsigned char) *s->p;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EBADMSG;
                if (c == '\\') {
                        char e;

                        if (s->end - s->p < 2)
                                return -EBADMSG;
                        e = s->p[1];
                        if (e == 'u') {
                                unsigned v = 0;

                                if (s->end - s->p < 6)
                                        return -EBADMSG;
                                for (int i = 2; i < 6; i++) {
                                        int h = idl_hex(s->p[i]);

                                        if (h < 0)
                                                return -EBADMSG;
                                        v = v * 16 + (unsigned) h;
                                }
                                /* Argument names are ASCII: any other escape cannot match one. */
                                if (out && (v == 0 || v >= 0x80))
                                        fits = false;
                                else if (out && n + 1 < out_size)
                                        out[n++] = (char) v;
                                else
                                        fits = false;
                                s->p += 6;
                                continue;
                        }
                        if (!strchr("\"\\/bfnrt", e) || e == 0)
                                return -EBADMSG;
                        if (out && n + 1 < out_size) {
                                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

                                out[n++] = to[strchr(from, e) - from];
                        } else
                                fits = false;
                        s->p += 2;
                        continue;
                }
                len = idl_utf8_length((const unsigned char *) s->p, (size_t) (s->end - s->p));
                if (len == 0)
                        return -EBADMSG;
                if (out && n + len < out_size) {
                        memcpy(out + n, s->p, len);
                        n += len;
                } else
                        fits = false;
                s->p += len;
        }
        s->p++;
        if (out) {
                out[n] = 0;
                *ret_fits = fits;
        }
        return 0;
}

static bool idl_is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* One or more digits at s->p; false if there is none. */
static bool idl_scan_digits(struct idl_scan *s) {
        if (!idl_is_digit(idl_peek(s)))
                return false;
        while (idl_is_digit(idl_peek(s)))
                s->p++;
        return true;
}

/* A number at s->p: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. Returns INT, DOUBLE or INVALID. */
static enum idl_token idl_scan_number(struct idl_scan *s) {
        bool is_double = false;

        if (idl_peek(s) == '-')
                s->p++;
        if (idl_peek(s) == '0')
                s->p++;
        else if (!idl_scan_digits(s))
                return IDL_TOKEN_INVALID;
        if (idl_peek(s) == '.') {
                s->p++;
                if (!idl_scan_digits(s))
                        return IDL_TOKEN_INVALID;
                is_double = true;
        }
        if (idl_peek(s) == 'e' || idl_peek(s) == 'E') {
                s->p++;
                if (idl_peek(s) == '+' || idl_peek(s) == '-')
                        s->p++;
                if (!idl_scan_digits(s))
                        return IDL_TOKEN_INVALID;
                is_double = true;
        }
        return is_double ? IDL_TOKEN_DOUBLE : IDL_TOKEN_INT;
}

static bool idl_scan_literal(struct idl_scan *s, const char *word) {
        size_t len = strlen(word);

        if ((size_t) (s->end - s->p) < len || memcmp(s->p, word, len) != 0)
                return false;
        s->p += len;
        return true;
}

/* What the value at s->p is, by its first byte; numbers are not scanned yet (INT stands for both). */
static enum idl_token idl_classify(const struct idl_scan *s) {
        switch (idl_peek(s)) {
        case 'n':
                return IDL_TOKEN_NULL;
        case 't':
        case 'f':
                return IDL_TOKEN_BOOL;
        case '"':
                return IDL_TOKEN_STRING;
        case '{':
                return IDL_TOKEN_OBJECT;
        case '[':
                return IDL_TOKEN_ARRAY;
        case '-':
        case '0' ... '9':
                return IDL_TOKEN_INT;
        default:
                return IDL_TOKEN_INVALID;
        }
}

/* A scalar at s->p (not '{' or '['); its token, INVALID for bad text. */
static enum idl_token idl_scan_scalar(struct idl_scan *s) {
        switch (idl_classify(s)) {
        case IDL_TOKEN_NULL:
                return idl_scan_literal(s, "null") ? IDL_TOKEN_NULL : IDL_TOKEN_INVALID;
        case IDL_TOKEN_BOOL:
                return idl_scan_literal(s, "true") || idl_scan_literal(s, "false") ? IDL_TOKEN_BOOL
                                                                                   : IDL_TOKEN_INVALID;
        case IDL_TOKEN_STRING:
                return idl_scan_string(s, NULL, 0, NULL) < 0 ? IDL_TOKEN_INVALID : IDL_TOKEN_STRING;
        case IDL_TOKEN_INT:
                return idl_scan_number(s);
        default:
                return IDL_TOKEN_INVALID;
        }
}

/* A member's key and its colon, at s->p (after white space), unread. */
static int idl_skip_key(struct idl_scan *s) {
        idl_skip_space(s);
        if (idl_peek(s) != '"' || idl_scan_string(s, NULL, 0, NULL) < 0)
                return -EBADMSG;
        idl_skip_space(s);
        if (idl_peek(s) != ':')
                return -EBADMSG;
        s->p++;
        return 0;
}

/*
 * Skips one value of any shape at s->p, checking its grammar: a loop over the bytes, with one
 * bit per open level (idl_push()) instead of recursion. Returns 0, -EBADMSG or -ENOBUFS.
 */
static int idl_skip_value(struct idl_scan *s) {
        unsigned base = s->depth;
        int r;

        for (;;) {
                /* A value is due. */
                idl_skip_space(s);
                if (idl_peek(s) == '{' || idl_peek(s) == '[') {
                        bool object = idl_peek(s) == '{';

                        r = idl_push(s, object);
                        if (r < 0)
                                return r;
                        idl_skip_space(s);
                        if (idl_peek(s) == (object ? '}' : ']')) {
                                s->p++;
                                s->depth--;
                        } else if (object) {
                                if (idl_skip_key(s) < 0)
                                        return -EBADMSG;
                                continue;
                        } else
                                continue;
                } else if (idl_scan_scalar(s) == IDL_TOKEN_INVALID)
                        return -EBADMSG;

                /* A value ended: close levels until one goes on, or the value we began is done. */
                for (;;) {
                        bool object;

                        if (s->depth == base)
                                return 0;
                        object = idl_top_is_object(s);
                        idl_skip_space(s);
                        if (idl_peek(s) == (object ? '}' : ']')) {
                                s->p++;
                                s->depth--;
                                continue;
                        }
                        if (idl_peek(s) != ',')
                                return -EBADMSG;
                        s->p++;
                        if (object && idl_skip_key(s) < 0)
                                return -EBADMSG;
                        break;
                }
        }
}

static bool idl_kind_matches(const struct mbus_idl_type *t, enum idl_token token) {
        switch (t->kind) {
        case MBUS_IDL_STRING:
                return token == IDL_TOKEN_STRING;
        case MBUS_IDL_INT:
                return token == IDL_TOKEN_INT;
        case MBUS_IDL_DOUBLE:
                return token == IDL_TOKEN_DOUBLE || token == IDL_TOKEN_INT;
        case MBUS_IDL_BOOL:
                return token == IDL_TOKEN_BOOL;
        case MBUS_IDL_OBJECT:
                return token == IDL_TOKEN_OBJECT;
        case MBUS_IDL_ARRAY:
                return token == IDL_TOKEN_ARRAY;
        case MBUS_IDL_ANY:
                return true;
        default:
                return false;
        }
}

static int idl_type_error(struct idl_scan *s, const struct mbus_idl_type *t, const char *what, enum idl_token got) {
        char expected[MBUS_IDL_TYPE_STRING_MAX];

        (void) snprintf(s->reason, s->reason_size, "%s: expected %s, got %s", what,
                        mbus_idl_type_to_string(t, expected, sizeof(expected)), idl_token_names[got]);
        return -EINVAL;
}

/*
 * One value at s->p (after white space) against type t. what is "argument 'x'" or "argument
 * 'x'[2][0]", grown in place as arrays are entered. Returns 0, -EINVAL (reason set), -EBADMSG
 * or -ENOBUFS.
 */
static int idl_check_value(struct idl_scan *s, const struct mbus_idl_type *t, char *what, size_t what_size) {
        enum idl_token token = idl_classify(s);
        size_t n;
        int r;

        if (token == IDL_TOKEN_INVALID)
                return -EBADMSG;
        if (token == IDL_TOKEN_NULL && (t->nullable || t->kind == MBUS_IDL_ANY))
                return idl_scan_scalar(s) == IDL_TOKEN_NULL ? 0 : -EBADMSG;
        if (token == IDL_TOKEN_INT) {
                /* int or double: only the whole number tells */
                token = idl_scan_number(s);
                if (token == IDL_TOKEN_INVALID)
                        return -EBADMSG;
                return idl_kind_matches(t, token) ? 0 : idl_type_error(s, t, what, token);
        }
        if (!idl_kind_matches(t, token))
                return idl_type_error(s, t, what, token);
        if (token != IDL_TOKEN_ARRAY || t->kind != MBUS_IDL_ARRAY)
                return token == IDL_TOKEN_OBJECT || token == IDL_TOKEN_ARRAY ? idl_skip_value(s)
                                                                            : idl_scan_scalar(s) == token ? 0 : -EBADMSG;

        /* array<T>: each element against T */
        r = idl_push(s, /* object= */ false);
        if (r < 0)
                return r;
        idl_skip_space(s);
        if (idl_peek(s) == ']') {
                s->p++;
                s->depth--;
                return 0;
        }
        n = strlen(what);
        for (size_t i = 0;; i++) {
                (void) snprintf(what + n, what_size - n, "[%zu]", i);
                idl_skip_space(s);
                r = idl_check_value(s, t->element, what, what_size);
                if (r < 0)
                        return r;
                idl_skip_space(s);
                if (idl_peek(s) == ']')
                        break;
                if (idl_peek(s) != ',')
                        return -EBADMSG;
                s->p++;
        }
        s->p++;
        s->depth--;
        what[n] = 0;
        return 0;
}

/* The argument named by key (decoded; fits: all of it is in key), or NULL. */
static const struct mbus_idl_arg *idl_find_arg(const struct mbus_idl_arg *args, size_t n_args, const char *key,
                                               bool fits, size_t *ret_index) {
        if (!fits)
                return NULL;
        for (size_t i = 0; i < n_args; i++)
                if (strcmp(args[i].name, key) == 0) {
                        *ret_index = i;
                        return &args[i];
                }
        return NULL;
}

/* The body object, member by member. */
static int idl_check_object(struct idl_scan *s, const struct mbus_idl_arg *args, size_t n_args) {
        uint64_t seen[(MBUS_IDL_ARGS_MAX + 63) / 64] = {};
        int r;

        r = idl_push(s, /* object= */ true);
        if (r < 0)
                return r;
        idl_skip_space(s);
        if (idl_peek(s) == '}')
                s->p++;
        else
                for (;;) {
                        const struct mbus_idl_arg *arg;
                        char key[MBUS_NAME_MAX + 1] = "", what[512];
                        size_t i = 0;
                        bool fits;

                        idl_skip_space(s);
                        if (idl_peek(s) != '"')
                                return -EBADMSG;
                        r = idl_scan_string(s, key, sizeof(key), &fits);
                        if (r < 0)
                                return r;
                        arg = idl_find_arg(args, n_args, key, fits, &i);
                        if (!arg) {
                                size_t shown = strlen(key);

                                /* At most 64 bytes of it, cut between two characters. */
                                if (shown > 64)
                                        for (shown = 64; shown > 0 && (key[shown] & 0xc0) == 0x80; shown--)
                                                ;
                                (void) snprintf(s->reason, s->reason_size, "unknown argument '%.*s%s'", (int) shown,
                                                key, fits && shown == strlen(key) ? "" : "...");
                                return -EINVAL;
                        }
                        /* A second value would leave it to the receiver's parser which one counts. */
                        if (seen[i / 64] & (UINT64_C(1) << (i % 64))) {
                                (void) snprintf(s->reason, s->reason_size, "argument '%s' given twice", arg->name);
                                return -EINVAL;
                        }
                        seen[i / 64] |= UINT64_C(1) << (i % 64);

                        idl_skip_space(s);
                        if (idl_peek(s) != ':')
                                return -EBADMSG;
                        s->p++;
                        idl_skip_space(s);
                        (void) snprintf(what, sizeof(what), "argument '%s'", arg->name);
                        r = idl_check_value(s, &arg->type, what, sizeof(what));
                        if (r < 0)
                                return r;
                        idl_skip_space(s);
                        if (idl_peek(s) == '}') {
                                s->p++;
                                break;
                        }
                        if (idl_peek(s) != ',')
                                return -EBADMSG;
                        s->p++;
                }
        s->depth--;

        idl_skip_space(s);
        if (s->p != s->end)
                return -EBADMSG;

        for (size_t i = 0; i < n_args; i++)
                if (!args[i].optional && !(seen[i / 64] & (UINT64_C(1) << (i % 64)))) {
                        (void) snprintf(s->reason, s->reason_size, "missing argument '%s'", args[i].name);
                        return -EINVAL;
                }
        return 0;
}

int mbus_idl_validate(const struct mbus_idl_arg *args, size_t n_args, const char *body, size_t len,
                      const struct mbus_idl_limits *limits, char *reason, size_t reason_size) {
        struct mbus_idl_limits l;
        struct idl_scan s;
        char dummy[1];
        int r;

        if (!reason || reason_size == 0) {
                reason = dummy;
                reason_size = sizeof(dummy);
        }
        reason[0] = 0;
        if ((n_args > 0 && !args) || n_args > MBUS_IDL_ARGS_MAX || (!body && len > 0))
                return -EINVAL;

        mbus_idl_limits_resolve(limits, /* defaults= */ NULL, &l);
        if (len > l.max_size) {
                (void) snprintf(reason, reason_size, "arguments are %zu bytes, more than %zu (max-body-size)", len,
                                l.max_size);
                return -ENOBUFS;
        }

        s = (struct idl_scan) {
                .p = body,
                .end = body ? body + len : NULL,
                .max_depth = l.max_depth,
                .reason = reason,
                .reason_size = reason_size,
        };
        idl_skip_space(&s);
        if (s.p == s.end) {
                /* An absent or blank body means {} */
                for (size_t i = 0; i < n_args; i++)
                        if (!args[i].optional) {
                                (void) snprintf(reason, reason_size, "missing argument '%s'", args[i].name);
                                return -EINVAL;
                        }
                return 0;
        }
        if (idl_peek(&s) != '{') {
                if (idl_classify(&s) == IDL_TOKEN_INVALID)
                        return idl_syntax_error(&s, body);
                (void) snprintf(reason, reason_size, "arguments must be a JSON object");
                return -EINVAL;
        }

        r = idl_check_object(&s, args, n_args);
        if (r == -EBADMSG)
                return idl_syntax_error(&s, body);
        return r;
}
