/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Name escaping for the compat front end (the rules are in compat-names.h). The escaped form is
 * built byte by byte, then checked with the same validators the frame parser uses, so what
 * leaves here is always a name the broker accepts. Pure functions: tested as tables.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat-names.h"
#include "proto/names.h"
#include "util/macro.h"

static bool compat_is_alpha(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool compat_is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static bool compat_is_hex(unsigned char c) {
        return compat_is_digit(c) || (c >= 'a' && c <= 'f');
}

/*
 * Escapes s; in_namespace: '.' separates labels (kept unless it would leave a label empty) and
 * '-' may stand inside a label. Writes into out (at least 4 * len + 3 bytes).
 */
static void compat_escape(const char *s, bool in_namespace, char *out) {
        size_t len = strlen(s), o = 0;
        bool at_start = true;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                bool keep;

                if (c == '.' && in_namespace)
                        keep = !at_start && i + 1 < len && s[i + 1] != '.';
                else if (c == '_')
                        keep = s[i + 1] != '_';
                else if (compat_is_alpha(c))
                        keep = true;
                else if (compat_is_digit(c) || (c == '-' && in_namespace))
                        keep = !at_start;
                else
                        keep = false;

                if (keep)
                        out[o++] = (char) c;
                else
                        o += (size_t) sprintf(out + o, "__%02x", c);
                at_start = keep && c == '.';
        }
        out[o] = 0;
}

static int compat_escape_checked(const char *s, bool in_namespace, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t len;

        if (!s || !s[0])
                return -EINVAL;
        len = strlen(s);
        if (len > MBUS_NAME_MAX)
                return -EINVAL;
        out = malloc(4 * len + 3);
        if (!out)
                return -ENOMEM;

        /* A valid name comes out unchanged unless it holds "__" (or ends in label "_"). */
        compat_escape(s, in_namespace, out);
        if (in_namespace) {
                size_t n = strlen(out);

                if (n >= 2 && strcmp(out + n - 2, "._") == 0)
                        strcpy(out + n - 1, "__5f");
                else if (!strchr(out, '.'))
                        strcat(out, "._");
        }
        if (in_namespace ? !mbus_namespace_is_valid(out) : !mbus_member_is_valid(out))
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

int mbus_compat_escape_namespace(const char *identifier, char **ret) {
        return compat_escape_checked(identifier, /* in_namespace= */ true, ret);
}

int mbus_compat_escape_member(const char *name, char **ret) {
        return compat_escape_checked(name, /* in_namespace= */ false, ret);
}

static int compat_unescape(const char *s, bool in_namespace, char **ret) {
        size_t len = strlen(s), o = 0;
        char *out;

        /* The marker label of a one-label identifier: escaping never leaves "._" at the end. */
        if (in_namespace && len >= 2 && strcmp(s + len - 2, "._") == 0)
                len -= 2;
        out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                if (i + 3 < len && s[i] == '_' && s[i + 1] == '_' && compat_is_hex((unsigned char) s[i + 2]) &&
                    compat_is_hex((unsigned char) s[i + 3])) {
                        unsigned v;

                        (void) sscanf(s + i + 2, "%2x", &v);
                        out[o++] = (char) v;
                        i += 3;
                } else
                        out[o++] = s[i];
        }
        out[o] = 0;
        *ret = out;
        return 0;
}

int mbus_compat_unescape_namespace(const char *ns, char **ret) {
        return compat_unescape(ns, /* in_namespace= */ true, ret);
}

int mbus_compat_unescape_member(const char *member, char **ret) {
        return compat_unescape(member, /* in_namespace= */ false, ret);
}
