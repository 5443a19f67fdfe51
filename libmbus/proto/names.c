/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Name validation (the grammar is in names.h) and pattern matching. Every name that reaches
 * the broker from a peer passes through here before it becomes a hash key, a log field or a
 * part of an ERROR message, so the checks are strict and bounded: ASCII only, fixed maximum
 * lengths, no recursion. Patterns match whole labels, which is what lets daemon/match.c index
 * them by exact name and by label prefix instead of scanning.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/names.h"
#include "util/macro.h"

#define MBUS_NAMESPACE_LABELS_MAX 32

/* One table lookup per character: names are checked on every frame either side receives. */
enum {
        CHAR_ALPHA_ = 1u << 0,          /* [A-Za-z_]: may start a label or member */
        CHAR_DIGIT = 1u << 1,
        CHAR_DASH = 1u << 2,            /* inside a label only */
};
static const uint8_t char_class[256] = {
        ['A' ... 'Z'] = CHAR_ALPHA_,
        ['a' ... 'z'] = CHAR_ALPHA_,
        ['_'] = CHAR_ALPHA_,
        ['0' ... '9'] = CHAR_DIGIT,
        ['-'] = CHAR_DASH,
};

static bool char_is_alpha_(char c) {
        return char_class[(uint8_t) c] & CHAR_ALPHA_;
}

static bool char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

/*
 * Checks len bytes at s as labels joined by '.', each [A-Za-z_][A-Za-z0-9_-]*, and returns the
 * number of labels, or 0 if the text is not such a sequence.
 */
static size_t labels_check(const char *s, size_t len) {
        size_t n_labels = 0;
        bool at_start = true;

        if (len == 0 || len > MBUS_NAME_MAX)
                return 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (at_start) {
                        if (!char_is_alpha_(c))
                                return 0;
                        at_start = false;
                        n_labels++;
                } else if (c == '.')
                        at_start = true;
                else if (!char_class[(uint8_t) c])
                        return 0;
        }
        if (at_start)           /* trailing '.' */
                return 0;
        return n_labels;
}

static bool namespace_check(const char *s, size_t len) {
        size_t n = labels_check(s, len);

        return n >= 2 && n <= MBUS_NAMESPACE_LABELS_MAX;
}

static bool member_check(const char *s, size_t len) {
        if (len == 0 || len > MBUS_NAME_MAX || !char_is_alpha_(s[0]))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!(char_class[(uint8_t) s[i]] & (CHAR_ALPHA_ | CHAR_DIGIT)))
                        return false;
        return true;
}

bool mbus_namespace_is_valid(const char *s) {
        return s && namespace_check(s, strnlen(s, MBUS_NAME_MAX + 1));
}

bool mbus_member_is_valid(const char *s) {
        return s && member_check(s, strnlen(s, MBUS_NAME_MAX + 1));
}

bool mbus_error_name_is_valid(const char *s) {
        return mbus_namespace_is_valid(s);
}

int mbus_peer_id_parse(const char *s, uint64_t *ret) {
        uint64_t id = 0;
        size_t i;

        if (!s || strncmp(s, ":1.", 3) != 0)
                return -EINVAL;
        s += 3;
        if (!char_is_digit(s[0]) || (s[0] == '0' && s[1] != 0))
                return -EINVAL;

        for (i = 0; s[i]; i++) {
                unsigned d;

                if (!char_is_digit(s[i]))
                        return -EINVAL;
                d = (unsigned) (s[i] - '0');
                if (id > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                id = id * 10 + d;
        }

        if (ret)
                *ret = id;
        return 0;
}

bool mbus_peer_id_is_valid(const char *s) {
        return mbus_peer_id_parse(s, NULL) >= 0;
}

char *mbus_peer_id_format(char buf[static MBUS_PEER_ID_MAX], uint64_t id) {
        (void) snprintf(buf, MBUS_PEER_ID_MAX, ":1.%" PRIu64, id);
        return buf;
}

bool mbus_pattern_is_valid(const char *s) {
        const char *dot;
        size_t len;

        if (!s)
                return false;
        if (strcmp(s, "*") == 0)
                return true;

        len = strnlen(s, 2 * MBUS_NAME_MAX + 2);
        if (len > 2 * MBUS_NAME_MAX + 1)
                return false;

        /* "prefix.*": one or more whole labels. A prefix may name a whole namespace
         * ("org.example.Network.*"), so it may be as long as one. */
        if (len >= 3 && s[len - 1] == '*' && s[len - 2] == '.') {
                size_t n = labels_check(s, len - 2);

                return n >= 1 && n <= MBUS_NAMESPACE_LABELS_MAX;
        }

        /* "NAMESPACE.MEMBER": split at the last dot. */
        dot = memrchr(s, '.', len);
        if (!dot)
                return false;
        return namespace_check(s, (size_t) (dot - s)) &&
               member_check(dot + 1, len - (size_t) (dot - s) - 1);
}

bool mbus_pattern_matches(const char *pattern, const char *ns, const char *member) {
        size_t plen, nslen;

        if (!pattern || !ns || !member)
                return false;
        if (strcmp(pattern, "*") == 0)
                return true;

        plen = strlen(pattern);
        nslen = strlen(ns);

        if (plen >= 2 && pattern[plen - 1] == '*' && pattern[plen - 2] == '.') {
                /* The prefix must be the namespace or end at one of its label boundaries. */
                plen -= 2;
                if (plen > nslen || memcmp(pattern, ns, plen) != 0)
                        return false;
                return plen == nslen || ns[plen] == '.';
        }

        return plen == nslen + 1 + strlen(member) &&
               memcmp(pattern, ns, nslen) == 0 &&
               pattern[nslen] == '.' &&
               strcmp(pattern + nslen + 1, member) == 0;
}

size_t mbus_utf8_char_len(const char *str, size_t len) {
        const uint8_t *s = (const uint8_t *) str;
        uint32_t cp, min;
        size_t n;

        if (len == 0 || s[0] == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;

        if ((s[0] & 0xe0) == 0xc0) {
                n = 2;
                cp = s[0] & 0x1f;
                min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3;
                cp = s[0] & 0x0f;
                min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4;
                cp = s[0] & 0x07;
                min = 0x10000;
        } else
                return 0;       /* continuation byte first, or 0xf8..0xff */

        if (len < n)
                return 0;
        for (size_t k = 1; k < n; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3f);
        }

        if (cp < min)                           /* overlong */
                return 0;
        if (cp >= 0xd800 && cp <= 0xdfff)       /* UTF-16 surrogate */
                return 0;
        if (cp > 0x10ffff)
                return 0;
        return n;
}

bool mbus_utf8_is_valid(const char *str, size_t len) {
        size_t i = 0;

        if (!str && len > 0)
                return false;
        while (i < len) {
                size_t n;

                /* ASCII other than NUL, most of what is checked, without a call per byte */
                if ((uint8_t) str[i] - 1u < 0x7fu) {
                        i++;
                        continue;
                }
                n = mbus_utf8_char_len(str + i, len - i);

                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

bool mbus_text_is_printable(const char *s) {
        size_t len = 0;

        for (; s[len]; len++)
                if ((unsigned char) s[len] < 0x20 || s[len] == 0x7f)
                        return false;
        return mbus_utf8_is_valid(s, len);
}
