/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the namespace registry (namespace.c). */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "namespace.h"
#include "util/test-util.h"

START_TEST(test_one_owner_per_namespace) {
        _cleanup_(mbus_namespace_registry_freep) struct mbus_namespace_registry *reg = NULL;
        struct mbus_namespace_list a = {}, b = {};

        ck_assert_int_eq(mbus_namespace_registry_new(&reg), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.example.Echo", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.example.Echo", 2, &b), -EEXIST);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.example.Echo", 1, &a), -EALREADY);
        ck_assert_uint_eq(mbus_namespace_get(reg, "org.example.Echo")->owner, 1);
        ck_assert_uint_eq(a.n, 1);
        ck_assert_uint_eq(b.n, 0);

        ck_assert_int_eq(mbus_namespace_unregister(reg, "org.example.Echo", 2), -EPERM);
        ck_assert_int_eq(mbus_namespace_unregister(reg, "org.example.Nope", 1), -ENOENT);
        ck_assert_int_eq(mbus_namespace_unregister(reg, "org.example.Echo", 1), 0);
        ck_assert_uint_eq(a.n, 0);
        ck_assert_ptr_null(mbus_namespace_get(reg, "org.example.Echo"));
        ck_assert_int_eq(mbus_namespace_register(reg, "org.example.Echo", 2, &b), 0);
}
END_TEST

START_TEST(test_owner_release_pops_each_namespace_once) {
        _cleanup_(mbus_namespace_registry_freep) struct mbus_namespace_registry *reg = NULL;
        struct mbus_namespace_list a = {}, b = {};
        struct mbus_namespace *ns;
        unsigned n = 0;

        ck_assert_int_eq(mbus_namespace_registry_new(&reg), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.mbus.Broker", 0, NULL), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "a.One", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "a.Two", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "b.One", 2, &b), 0);
        ck_assert_int_eq(mbus_namespace_unregister(reg, "a.One", 1), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "a.Three", 1, &a), 0);

        while ((ns = mbus_namespace_pop_owned(reg, &a))) {
                ck_assert_uint_eq(ns->owner, 1);
                ck_assert_ptr_null(mbus_namespace_get(reg, ns->name));
                mbus_namespace_free(ns);
                n++;
        }
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(mbus_namespace_registry_size(reg), 2);
}
END_TEST

START_TEST(test_listing_is_sorted) {
        _cleanup_(mbus_namespace_registry_freep) struct mbus_namespace_registry *reg = NULL;
        struct mbus_namespace_list a = {};
        struct mbus_namespace **all = NULL;
        size_t n;

        ck_assert_int_eq(mbus_namespace_registry_new(&reg), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.c.X", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.a.X", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_register(reg, "org.b.X", 1, &a), 0);
        ck_assert_int_eq(mbus_namespace_registry_list(reg, &all, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(all[0]->name, "org.a.X");
        ck_assert_str_eq(all[1]->name, "org.b.X");
        ck_assert_str_eq(all[2]->name, "org.c.X");
        free(all);
}
END_TEST

static Suite *namespace_suite(void) {
        Suite *s = suite_create("namespace");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_one_owner_per_namespace);
        tcase_add_test(tc, test_owner_release_pops_each_namespace_once);
        tcase_add_test(tc, test_listing_is_sorted);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(namespace_suite)
