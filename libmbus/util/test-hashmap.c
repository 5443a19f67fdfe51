/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hash table: put/get/remove semantics, iteration that may remove the entry it just
 * returned, growth to 100k entries, memory given back when empty. Also the json-c helpers,
 * the other util piece with behaviour worth pinning down.
 */

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hashmap.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/test-util.h"
#include "util/time-util.h"

struct item {
        uint64_t id;            /* key for the uint64 table */
        char name[24];          /* key for the string table */
        bool seen;
};

START_TEST(test_put_get_remove) {
        _cleanup_(mbus_hashmap_freep) struct mbus_hashmap *h = NULL;
        struct item a = { .name = "org.example.A" }, b = { .name = "org.example.B" };
        char key[] = "org.example.A";   /* equal content, different pointer */

        ck_assert_int_eq(mbus_hashmap_new(&h, &mbus_string_hash_ops), 0);
        ck_assert_uint_eq(mbus_hashmap_size(h), 0);
        ck_assert_ptr_null(mbus_hashmap_get(h, "x"));
        ck_assert_ptr_null(mbus_hashmap_remove(h, "x"));

        ck_assert_int_eq(mbus_hashmap_put(h, a.name, &a), 0);
        ck_assert_int_eq(mbus_hashmap_put(h, b.name, &b), 0);
        ck_assert_int_eq(mbus_hashmap_put(h, key, &b), -EEXIST);
        ck_assert_uint_eq(mbus_hashmap_size(h), 2);
        ck_assert_ptr_eq(mbus_hashmap_get(h, key), &a);   /* unchanged by the failed put */
        ck_assert_ptr_eq(mbus_hashmap_get(h, "org.example.B"), &b);

        ck_assert_ptr_eq(mbus_hashmap_remove(h, key), &a);
        ck_assert_ptr_null(mbus_hashmap_get(h, key));
        ck_assert_ptr_null(mbus_hashmap_remove(h, key));
        ck_assert_uint_eq(mbus_hashmap_size(h), 1);
        ck_assert_int_eq(mbus_hashmap_put(h, a.name, &a), 0);
        ck_assert_ptr_eq(mbus_hashmap_get(h, key), &a);
        ck_assert_ptr_null(mbus_hashmap_free(NULL));
}
END_TEST

START_TEST(test_iterate_with_removal) {
        _cleanup_(mbus_hashmap_freep) struct mbus_hashmap *h = NULL;
        struct item items[1000] = {};
        const void *key;
        size_t state = 0, n = 0;
        void *v;

        ck_assert_int_eq(mbus_hashmap_new(&h, &mbus_uint64_hash_ops), 0);
        for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                items[i].id = i * 7919;
                ck_assert_int_eq(mbus_hashmap_put(h, &items[i].id, &items[i]), 0);
        }

        /* Remove every other entry while iterating; each entry is seen exactly once. */
        while (mbus_hashmap_iterate(h, &state, &v, &key)) {
                struct item *it = v;

                ck_assert_ptr_eq(key, &it->id);
                ck_assert(!it->seen);
                it->seen = true;
                if (it->id % 2 == 0)
                        ck_assert_ptr_eq(mbus_hashmap_remove(h, key), it);
                n++;
        }
        ck_assert_uint_eq(n, ELEMENTSOF(items));
        ck_assert_uint_eq(mbus_hashmap_size(h), ELEMENTSOF(items) / 2);
        for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                ck_assert(items[i].seen);
                ck_assert_ptr_eq(mbus_hashmap_get(h, &items[i].id), items[i].id % 2 ? &items[i] : NULL);
        }

        /* Removing everything during an iteration ends it cleanly. */
        state = 0;
        n = 0;
        while (mbus_hashmap_iterate(h, &state, &v, &key)) {
                ck_assert_ptr_nonnull(mbus_hashmap_remove(h, key));
                n++;
        }
        ck_assert_uint_eq(n, ELEMENTSOF(items) / 2);
        ck_assert_uint_eq(mbus_hashmap_size(h), 0);
        state = 0;
        ck_assert(!mbus_hashmap_iterate(h, &state, &v, &key));
}
END_TEST

/* Hot loops count failures and assert once: each Check assertion is a write to a pipe. */
START_TEST(test_grows_to_100k_entries) {
        _cleanup_(mbus_hashmap_freep) struct mbus_hashmap *h = NULL;
        const size_t n = 100000;
        struct item *items = calloc(n, sizeof(*items));
        size_t state = 0, n_iter = 0, n_bad = 0;
        void *v;

        ck_assert_ptr_nonnull(items);
        ck_assert_int_eq(mbus_hashmap_new(&h, &mbus_string_hash_ops), 0);
        for (size_t i = 0; i < n; i++) {
                snprintf(items[i].name, sizeof(items[i].name), "org.n%zu", i);
                n_bad += mbus_hashmap_put(h, items[i].name, &items[i]) != 0;
        }
        ck_assert_uint_eq(n_bad, 0);
        ck_assert_uint_eq(mbus_hashmap_size(h), n);
        for (size_t i = 0; i < n; i++)
                n_bad += mbus_hashmap_get(h, items[i].name) != &items[i];
        ck_assert_uint_eq(n_bad, 0);
        while (mbus_hashmap_iterate(h, &state, &v, NULL))
                n_iter++;
        ck_assert_uint_eq(n_iter, n);

        /* Churn: remove and re-add repeatedly; tombstones must not clog the table. */
        for (size_t round = 0; round < 5; round++) {
                for (size_t i = 0; i < n; i += 2)
                        n_bad += mbus_hashmap_remove(h, items[i].name) != &items[i];
                ck_assert_uint_eq(mbus_hashmap_size(h), n / 2);
                for (size_t i = 0; i < n; i += 2)
                        n_bad += mbus_hashmap_put(h, items[i].name, &items[i]) != 0;
        }
        ck_assert_uint_eq(n_bad, 0);
        for (size_t i = 0; i < n; i++)
                n_bad += mbus_hashmap_remove(h, items[i].name) != &items[i];
        ck_assert_uint_eq(n_bad, 0);
        ck_assert_uint_eq(mbus_hashmap_size(h), 0);
        free(items);
}
END_TEST

START_TEST(test_json_parse_bytes) {
        static const struct { const char *text; int r; } t[] = {
                { "{}", 0 },
                { "{\"a\":[1,2,{\"b\":null}]}", 0 },
                { " {\"a\":1} \n", 0 },
                { "42", 0 },
                { "\"s\"", 0 },
                { "null", 0 },
                { "", -EBADMSG },
                { "   ", -EBADMSG },
                { "{", -EBADMSG },
                { "{} x", -EBADMSG },
                { "{}{}", -EBADMSG },
                { "{a:1}", -EBADMSG },
                { "[1,]", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                json_object *o = NULL;

                ck_assert_msg(json_parse_bytes(t[i].text, strlen(t[i].text), &o) == t[i].r, "%s", t[i].text);
                json_object_put(o);
        }
}
END_TEST

START_TEST(test_json_parse_uses_length_not_nul) {
        _cleanup_json_ json_object *o = NULL;
        char deep[200];

        /* Only the first 2 bytes count. */
        ck_assert_int_eq(json_parse_bytes("{}garbage", 2, &o), 0);
        ck_assert(json_object_is_type(o, json_type_object));
        json_object_putp(&o);
        /* An embedded NUL is not JSON. */
        ck_assert_int_eq(json_parse_bytes("{}\0", 3, &o), -EBADMSG);

        /* Nesting beyond 64 levels is refused. */
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        ck_assert_int_eq(json_parse_bytes(deep, sizeof(deep), &o), -EBADMSG);
        ck_assert_int_eq(json_parse_bytes(deep + 40, 120, &o), 0);
}
END_TEST

START_TEST(test_json_get_string) {
        _cleanup_json_ json_object *o = NULL;
        const char *text = "{\"name\":\"x\",\"n\":1}";

        ck_assert_int_eq(json_parse_bytes(text, strlen(text), &o), 0);
        ck_assert_str_eq(json_get_string(o, "name"), "x");
        ck_assert_ptr_null(json_get_string(o, "n"));
        ck_assert_ptr_null(json_get_string(o, "missing"));
        ck_assert_ptr_null(json_get_string(NULL, "name"));
}
END_TEST

/* One tokener for many parses: an error or an unfinished value leaves nothing behind. */
START_TEST(test_json_parse_bytes_reuse) {
        struct json_tokener *tok = NULL;
        json_object *o = NULL;

        ck_assert_int_eq(json_parse_bytes_reuse(&tok, "{\"a\": [1, 2", 11, &o), -EBADMSG);
        ck_assert_ptr_nonnull(tok);
        ck_assert_int_eq(json_parse_bytes_reuse(&tok, "{\"b\": 2}", 8, &o), 0);
        ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{\"b\":2}");
        json_object_put(o);
        ck_assert_int_eq(json_parse_bytes_reuse(&tok, "[1,,2]", 6, &o), -EBADMSG);
        ck_assert_int_eq(json_parse_bytes_reuse(&tok, "17", 2, &o), 0);
        ck_assert_int_eq(json_object_get_int(o), 17);
        json_object_put(o);
        json_tokener_free(tok);
}
END_TEST

START_TEST(test_time) {
        usec_t a = now_usec(CLOCK_MONOTONIC), b = now_usec(CLOCK_MONOTONIC);

        ck_assert_uint_le(a, b);
        ck_assert_uint_gt(now_usec(CLOCK_REALTIME), 1600000000ULL * USEC_PER_SEC);
        ck_assert_uint_eq(usec_add(1, 2), 3);
        ck_assert_uint_eq(usec_add(USEC_INFINITY - 1, 5), USEC_INFINITY);
}
END_TEST

static Suite *util_suite(void) {
        Suite *s = suite_create("util");
        TCase *tc = tcase_create("hashmap");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_put_get_remove);
        tcase_add_test(tc, test_iterate_with_removal);
        tcase_add_test(tc, test_grows_to_100k_entries);
        suite_add_tcase(s, tc);

        tc = tcase_create("json-time");
        tcase_add_test(tc, test_json_parse_bytes);
        tcase_add_test(tc, test_json_parse_bytes_reuse);
        tcase_add_test(tc, test_json_parse_uses_length_not_nul);
        tcase_add_test(tc, test_json_get_string);
        tcase_add_test(tc, test_time);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(util_suite)
