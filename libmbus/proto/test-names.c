/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Name grammar and pattern matching as tables: each row is a name and whether it is valid,
 * or a pattern, an event and whether the pattern matches it. Patterns match whole labels.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/names.h"
#include "util/macro.h"
#include "util/test-util.h"

static char *repeat(const char *unit, size_t n, const char *tail) {
        size_t ul = strlen(unit), tl = strlen(tail);
        char *s = malloc(ul * n + tl + 1), *p = s;

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++, p += ul)
                memcpy(p, unit, ul);
        memcpy(p, tail, tl + 1);
        return s;
}

START_TEST(test_namespace_names) {
        static const struct { const char *s; bool valid; } t[] = {
                { "org.example", true },
                { "org.example.Network", true },
                { "_a.b-c.D9", true },
                { "a.b", true },
                { "org", false },               /* one label */
                { "", false },
                { ".org.example", false },
                { "org..example", false },
                { "org.example.", false },
                { "org.9example", false },      /* label starts with a digit */
                { "org.-example", false },
                { "org.exa mple", false },
                { "org.exa*", false },
                { "org.caf\xc3\xa9", false },   /* non-ASCII */
                { "org/example", false },
        };
        _cleanup_free_ char *labels32 = repeat("a.", 31, "a");
        _cleanup_free_ char *labels33 = repeat("a.", 32, "a");
        _cleanup_free_ char *len255 = repeat("a", 251, ".bcd");
        _cleanup_free_ char *len256 = repeat("a", 252, ".bcd");

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(mbus_namespace_is_valid(t[i].s) == t[i].valid, "%s", t[i].s);
        ck_assert(!mbus_namespace_is_valid(NULL));
        ck_assert(mbus_namespace_is_valid(labels32));
        ck_assert(!mbus_namespace_is_valid(labels33));
        ck_assert_uint_eq(strlen(len255), 255);
        ck_assert(mbus_namespace_is_valid(len255));
        ck_assert(!mbus_namespace_is_valid(len256));
}
END_TEST

START_TEST(test_member_names) {
        static const struct { const char *s; bool valid; } t[] = {
                { "StateChanged", true },
                { "_x", true },
                { "a9_", true },
                { "", false },
                { "9a", false },
                { "Get.State", false },
                { "Get-State", false },
                { "Get State", false },
                { "\xc3\xa9", false },
        };
        _cleanup_free_ char *len255 = repeat("a", 255, "");
        _cleanup_free_ char *len256 = repeat("a", 256, "");

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(mbus_member_is_valid(t[i].s) == t[i].valid, "%s", t[i].s);
        ck_assert(!mbus_member_is_valid(NULL));
        ck_assert(mbus_member_is_valid(len255));
        ck_assert(!mbus_member_is_valid(len256));
}
END_TEST

START_TEST(test_error_names) {
        ck_assert(mbus_error_name_is_valid("org.mbus.Error.Timeout"));
        ck_assert(mbus_error_name_is_valid("org.Busy"));
        ck_assert(!mbus_error_name_is_valid("Timeout"));
        ck_assert(!mbus_error_name_is_valid("org.mbus.Error."));
        ck_assert(!mbus_error_name_is_valid(""));
        ck_assert(!mbus_error_name_is_valid(NULL));
}
END_TEST

START_TEST(test_peer_ids) {
        static const struct { const char *s; bool valid; uint64_t id; } t[] = {
                { ":1.0", true, 0 },
                { ":1.1", true, 1 },
                { ":1.42", true, 42 },
                { ":1.18446744073709551615", true, UINT64_MAX },
                { ":1.18446744073709551616", false, 0 },       /* overflows u64 */
                { ":1.01", false, 0 },
                { ":1.", false, 0 },
                { ":1.-1", false, 0 },
                { ":1.1a", false, 0 },
                { ":2.1", false, 0 },
                { "1.1", false, 0 },
                { ":1.+1", false, 0 },
                { "", false, 0 },
        };
        char buf[MBUS_PEER_ID_MAX];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t id = 12345;

                ck_assert_msg(mbus_peer_id_is_valid(t[i].s) == t[i].valid, "%s", t[i].s);
                ck_assert_int_eq(mbus_peer_id_parse(t[i].s, &id), t[i].valid ? 0 : -EINVAL);
                ck_assert_uint_eq(id, t[i].valid ? t[i].id : 12345);
        }
        ck_assert(!mbus_peer_id_is_valid(NULL));

        ck_assert_str_eq(mbus_peer_id_format(buf, 0), ":1.0");
        ck_assert_str_eq(mbus_peer_id_format(buf, 42), ":1.42");
        ck_assert_str_eq(mbus_peer_id_format(buf, UINT64_MAX), ":1.18446744073709551615");
}
END_TEST

START_TEST(test_pattern_validity) {
        static const struct { const char *s; bool valid; } t[] = {
                { "*", true },
                { "org.example.Network.StateChanged", true },
                { "org.example.Ev", true },
                { "org.*", true },
                { "org.example.*", true },
                { "org.example.Network.*", true },
                { "", false },
                { "**", false },
                { ".*", false },
                { "*.Ev", false },
                { "org.*.Ev", false },
                { "org.ex*", false },
                { "org.example", false },       /* "org" is no namespace */
                { "org", false },
                { "org.example.Net.State-Changed", false },
                { "org.example.", false },
                { "org.example.Network..*", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(mbus_pattern_is_valid(t[i].s) == t[i].valid, "%s", t[i].s);
        ck_assert(!mbus_pattern_is_valid(NULL));
}
END_TEST

START_TEST(test_pattern_matching_whole_labels) {
        static const struct { const char *pattern, *ns, *member; bool match; } t[] = {
                { "*", "org.example", "Ev", true },
                { "org.example.Network.StateChanged", "org.example.Network", "StateChanged", true },
                { "org.example.Network.StateChanged", "org.example.Network", "StateChangedX", false },
                { "org.example.Network.StateChanged", "org.example.NetworkX", "StateChanged", false },
                { "org.example.Network.StateChanged", "org.example", "Network", false },
                { "org.example.Network.*", "org.example.Network", "StateChanged", true },
                { "org.example.Network.*", "org.example.Network.Wifi", "Up", true },
                { "org.example.Network.*", "org.example.NetworkManager", "Up", false },
                { "org.example.*", "org.example.Network", "StateChanged", true },
                { "org.example.*", "org.example", "Ev", true },
                { "org.example.*", "org.examplex.Net", "StateChanged", false },
                { "org.example.*", "org.exampl", "Ev", false },
                { "org.*", "org.example", "Ev", true },
                { "org.*", "com.example", "Ev", false },
                { "org.*", "organ.example", "Ev", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(mbus_pattern_matches(t[i].pattern, t[i].ns, t[i].member) == t[i].match,
                              "%s vs %s.%s", t[i].pattern, t[i].ns, t[i].member);
}
END_TEST

START_TEST(test_utf8_strict) {
        static const struct { const char *s; size_t len; bool valid; } t[] = {
                { "", 0, true },
                { "ascii", 5, true },
                { "caf\xc3\xa9", 5, true },
                { "\xe2\x82\xac", 3, true },                    /* U+20AC */
                { "\xf0\x9f\x98\x80", 4, true },                /* U+1F600 */
                { "\xf4\x8f\xbf\xbf", 4, true },                /* U+10FFFF */
                { "\xef\xbf\xbf", 3, true },                    /* U+FFFF */
                { "a\0b", 3, false },                           /* NUL */
                { "\xc3", 1, false },                           /* truncated */
                { "\xe2\x82", 2, false },
                { "\xc0\x80", 2, false },                       /* overlong NUL */
                { "\xc1\xbf", 2, false },                       /* overlong */
                { "\xe0\x80\xaf", 3, false },                   /* overlong */
                { "\xf0\x80\x80\xaf", 4, false },               /* overlong */
                { "\xed\xa0\x80", 3, false },                   /* U+D800 */
                { "\xed\xbf\xbf", 3, false },                   /* U+DFFF */
                { "\xf4\x90\x80\x80", 4, false },               /* U+110000 */
                { "\xf8\x88\x80\x80\x80", 5, false },           /* 5-byte form */
                { "\x80", 1, false },
                { "\xc3\x28", 2, false },                       /* bad continuation */
                { "\xfe", 1, false },
                { "\xff", 1, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_msg(mbus_utf8_is_valid(t[i].s, t[i].len) == t[i].valid, "row %zu", i);
}
END_TEST

static Suite *names_suite(void) {
        Suite *s = suite_create("names");
        TCase *tc = tcase_create("names");

        tcase_add_test(tc, test_namespace_names);
        tcase_add_test(tc, test_member_names);
        tcase_add_test(tc, test_error_names);
        tcase_add_test(tc, test_peer_ids);
        tcase_add_test(tc, test_pattern_validity);
        tcase_add_test(tc, test_pattern_matching_whole_labels);
        tcase_add_test(tc, test_utf8_strict);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(names_suite)
