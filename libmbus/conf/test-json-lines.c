/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON line scanner (conf/json-lines.c) on its own: every array element is reported once,
 * with the path of keys and indices that leads to it and the line it starts on, whatever the
 * strings contain and however the arrays nest; known keys given twice in one object are
 * refused with their line. The texts are checked to be valid JSON first, as the loaders do.
 * Syntax errors of the parse half carry their line.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "conf/json-lines.h"
#include "util/macro.h"
#include "util/test-util.h"

enum { KEY_OTHER, KEY_A, KEY_B, KEY_LIST, _KEY_MAX };
static const char *const keys[_KEY_MAX] = { [KEY_A] = "a", [KEY_B] = "b", [KEY_LIST] = "list" };

/* Each element as "PATH@LINE", e.g. ".list[1][0]@3", appended to one string. */
struct seen {
        char out[1024];
        unsigned n_known;               /* elements whose path holds only keys of the table */
};

static int on_element(const struct mbus_json_lines_step *path, size_t n_path, unsigned line, void *userdata) {
        struct seen *s = userdata;
        bool known = true;
        size_t n = strlen(s->out);

        for (size_t i = 0; i < n_path; i++) {
                if (path[i].object) {
                        ck_assert_ptr_nonnull(path[i].key_text);
                        n += snprintf(s->out + n, sizeof(s->out) - n, ".%.*s", (int) path[i].key_len,
                                      path[i].key_text);
                        if (path[i].key == KEY_OTHER)
                                known = false;
                        else
                                ck_assert_int_eq(strncmp(keys[path[i].key], path[i].key_text, path[i].key_len), 0);
                } else
                        n += snprintf(s->out + n, sizeof(s->out) - n, "[%zu]", path[i].index);
        }
        (void) snprintf(s->out + n, sizeof(s->out) - n, "@%u ", line);
        if (known)
                s->n_known++;
        return 0;
}

static int scan(const char *text, struct seen *seen, unsigned *ret_top, struct mbus_file_error *err) {
        json_object *o = json_tokener_parse(text);
        const struct mbus_json_lines s = {
                .path = "t.json", .err = err, .keys = keys, .n_keys = _KEY_MAX,
                .on_element = on_element, .userdata = seen,
        };

        ck_assert_msg(o, "not valid JSON: %s", text);
        json_object_put(o);
        return mbus_json_lines_scan(&s, text, strlen(text), ret_top);
}

START_TEST(test_strings_with_quotes_and_brackets_are_skipped) {
        static const char text[] =
                "{\"a\": \"x \\\"[quoted]\\\" {brace} ,\\\\\",\n"          /* 1 */
                " \"list\": [\n"                                            /* 2 */
                "   \"],[\",\n"                                             /* 3 */
                "   {\"k\": \"\\\"]\", \"o\": \"}\"},\n"                    /* 4 */
                "   -3.5e2, \"\\\\\"\n"                                     /* 5 */
                " ]}\n";                                                    /* 6 */
        struct seen seen = {};
        unsigned top = 0;

        ck_assert_int_eq(scan(text, &seen, &top, NULL), 0);
        ck_assert_str_eq(seen.out, ".list[0]@3 .list[1]@4 .list[2]@5 .list[3]@5 ");
        ck_assert_uint_eq(top, 1);
}
END_TEST

START_TEST(test_nested_arrays_report_every_element_with_its_path) {
        static const char text[] =
                "\n"                                                        /* 1 */
                "[\n"                                                       /* 2 */
                " [1,\n"                                                    /* 3 */
                "  2],\n"                                                   /* 4 */
                " [],\n"                                                    /* 5 */
                " [[\n"                                                     /* 6 */
                "   true, null]], {\"list\": [[], {}]}\n"                   /* 7 */
                "]\n";                                                      /* 8 */
        struct seen seen = {};
        unsigned top = 0;

        ck_assert_int_eq(scan(text, &seen, &top, NULL), 0);
        ck_assert_str_eq(seen.out, "[0]@3 [0][0]@3 [0][1]@4 [1]@5 [2]@6 [2][0]@6 [2][0][0]@7 [2][0][1]@7 "
                                   "[3]@7 [3].list[0]@7 [3].list[1]@7 ");
        ck_assert_uint_eq(top, 2);      /* the outermost '[' */
}
END_TEST

START_TEST(test_keys_in_any_order_give_the_same_paths) {
        static const char ab[] = "{\"a\": [\n1],\n \"zz\": [0],\n \"b\": [[\n2]]}";
        static const char ba[] = "{\"b\": [[\n2]],\n \"zz\": [0],\n \"a\": [\n1]}";
        struct seen s1 = {}, s2 = {};

        ck_assert_int_eq(scan(ab, &s1, NULL, NULL), 0);
        ck_assert_int_eq(scan(ba, &s2, NULL, NULL), 0);
        ck_assert_str_eq(s1.out, ".a[0]@2 .zz[0]@3 .b[0]@4 .b[0][0]@5 ");
        ck_assert_str_eq(s2.out, ".b[0]@1 .b[0][0]@2 .zz[0]@3 .a[0]@5 ");
        ck_assert_uint_eq(s1.n_known, 3);       /* "zz" is not in the table: key 0 */
        ck_assert_uint_eq(s2.n_known, 3);
}
END_TEST

START_TEST(test_a_known_key_given_twice_in_one_object_is_refused) {
        struct mbus_file_error err = {};
        struct seen seen = {};
        unsigned top = 7;

        /* Unknown keys may repeat; known keys may repeat in different objects. */
        ck_assert_int_eq(scan("{\"z\": 1, \"z\": 2, \"list\": [{\"a\": 1}, {\"a\": 2}], \"a\": [{\"a\": 3}]}", &seen,
                              NULL, &err), 0);

        ck_assert_int_eq(scan("{\"a\": 1,\n \"b\": {\"b\": \"a\"},\n \"a\": 2}", &seen, &top, &err), -EBADMSG);
        ck_assert_str_eq(err.path, "t.json");
        ck_assert_uint_eq(err.line, 3);
        ck_assert_str_eq(err.message, "duplicate key 'a'");
        ck_assert_uint_eq(top, 7);      /* written only on success */

        /* A key that only looks like a known one with escapes is another key. */
        ck_assert_int_eq(scan("{\"a\": 1, \"\\u0061\": 2}", &seen, NULL, NULL), 0);
}
END_TEST

static int fail_on_second(const struct mbus_json_lines_step *path, size_t n_path, unsigned line, void *userdata) {
        unsigned *n = userdata;

        return ++*n == 2 ? -ENOMEM : 0;
}

START_TEST(test_a_callback_error_ends_the_scan) {
        static const char text[] = "[1, 2, 3]";
        unsigned n = 0;
        const struct mbus_json_lines s = { .on_element = fail_on_second, .userdata = &n };

        ck_assert_int_eq(mbus_json_lines_scan(&s, text, strlen(text), NULL), -ENOMEM);
        ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(test_top_line_of_a_scalar_is_one) {
        struct seen seen = {};
        unsigned top = 0;

        ck_assert_int_eq(scan("\n\n\"[{\"", &seen, &top, NULL), 0);
        ck_assert_uint_eq(top, 1);
        ck_assert_str_eq(seen.out, "");
}
END_TEST

/* A literal, NUL bytes included, as a file of its own. */
#define parse(lit, o, err) mbus_json_lines_parse((o), "t.json", (lit), sizeof(lit) - 1, 4, "the test", (err))

START_TEST(test_parse_places_syntax_errors_on_their_line) {
        struct mbus_file_error err = {};
        json_object *o = NULL;

        ck_assert_int_eq(parse("{\"a\":\n [1, 2]}\n", &o, &err), 0);
        ck_assert(json_object_is_type(o, json_type_object));
        json_object_put(o);
        o = NULL;

        ck_assert_int_eq(parse("{\"a\":\n [1,, 2]}", &o, &err), -EBADMSG);
        ck_assert_uint_eq(err.line, 2);
        ck_assert_ptr_nonnull(strstr(err.message, "JSON syntax error: "));
        ck_assert_int_eq(parse("{}\n\n x", &o, &err), -EBADMSG);     /* after the value */
        ck_assert_ptr_nonnull(strstr(err.message, "JSON syntax error: "));
        ck_assert_uint_eq(err.line, 3);
        ck_assert_int_eq(parse("{\"a\":\n", &o, &err), -EBADMSG);
        ck_assert_str_eq(err.message, "JSON syntax error: unexpected end of file");
        ck_assert_int_eq(parse("[\n\"\0\"]", &o, &err), -EBADMSG);
        ck_assert_str_eq(err.message, "JSON syntax error: NUL byte in the file");
        ck_assert_uint_eq(err.line, 2);
        ck_assert_int_eq(parse("[[[[[1]]]]]", &o, &err), -EBADMSG);
        ck_assert_int_eq(parse("7", &o, &err), 0);
        ck_assert_int_eq(json_object_get_int(o), 7);
        json_object_put(o);
}
END_TEST

static Suite *json_lines_suite(void) {
        Suite *s = suite_create("json-lines");
        TCase *tc = tcase_create("json-lines");

        tcase_add_test(tc, test_strings_with_quotes_and_brackets_are_skipped);
        tcase_add_test(tc, test_nested_arrays_report_every_element_with_its_path);
        tcase_add_test(tc, test_keys_in_any_order_give_the_same_paths);
        tcase_add_test(tc, test_a_known_key_given_twice_in_one_object_is_refused);
        tcase_add_test(tc, test_a_callback_error_ends_the_scan);
        tcase_add_test(tc, test_top_line_of_a_scalar_is_one);
        tcase_add_test(tc, test_parse_places_syntax_errors_on_their_line);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(json_lines_suite)
