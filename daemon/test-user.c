/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the accounting per user (user.c): the share rule, the reserve, the HELLO cap. */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "namespace.h"
#include "pending.h"
#include "user.h"
#include "util/test-util.h"

#define BROKER_UID 990

/* Charges u one unit of q at a time while the rule allows, with total shared usage *total. */
static size_t take_all(struct mbus_user *u, enum mbus_quota q, size_t *total, size_t limit) {
        size_t n = 0;

        while (mbus_user_check(u, q, 1, *total, limit) == 0) {
                mbus_user_charge(u, q, 1);
                (*total)++;
                n++;
        }
        return n;
}

START_TEST(test_one_user_gets_half_and_the_next_still_finds_room) {
        _cleanup_(mbus_user_registry_freep) struct mbus_user_registry *reg = NULL;
        struct mbus_user *nobody, *other, *root;
        size_t total = 0, limit = 32;   /* reserve 2, pool 30 */

        ck_assert_int_eq(mbus_user_registry_new(&reg, BROKER_UID), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:65534", 65534, &nobody), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:1000", 1000, &other), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:0", 0, &root), 0);
        ck_assert(!nobody->privileged && root->privileged);

        ck_assert_uint_eq(take_all(nobody, MBUS_QUOTA_CONNECTIONS, &total, limit), 15);
        ck_assert_int_eq(mbus_user_check(nobody, MBUS_QUOTA_CONNECTIONS, 1, total, limit), -EDQUOT);
        /* the second user gets half of what the first left */
        ck_assert_uint_eq(take_all(other, MBUS_QUOTA_CONNECTIONS, &total, limit), 8);
        ck_assert_uint_eq(total, 23);
        /* root is held to the whole limit only: the rest, reserve included */
        ck_assert_uint_eq(take_all(root, MBUS_QUOTA_CONNECTIONS, &total, limit), 9);
        ck_assert_int_eq(mbus_user_check(root, MBUS_QUOTA_CONNECTIONS, 1, total, limit), -ENOBUFS);

        /* giving back makes room again */
        mbus_user_uncharge(nobody, MBUS_QUOTA_CONNECTIONS, 15);
        mbus_user_uncharge(other, MBUS_QUOTA_CONNECTIONS, 8);
        mbus_user_uncharge(root, MBUS_QUOTA_CONNECTIONS, 9);
        ck_assert_int_eq(mbus_user_check(nobody, MBUS_QUOTA_CONNECTIONS, 1, 0, limit), 0);

        mbus_user_unref(nobody);
        mbus_user_unref(other);
        mbus_user_unref(root);
        ck_assert_uint_eq(mbus_user_registry_size(reg), 0);
}
END_TEST

START_TEST(test_the_reserve_is_for_root_and_the_broker_only) {
        _cleanup_(mbus_user_registry_freep) struct mbus_user_registry *reg = NULL;
        struct mbus_user *broker, *u[40];
        size_t total = 0, limit = 32;
        char key[MBUS_USER_KEY_MAX];

        ck_assert_int_eq(mbus_user_registry_new(&reg, BROKER_UID), 0);
        /* many unprivileged users together stop at the limit less the reserve */
        for (size_t i = 0; i < ELEMENTSOF(u); i++) {
                ck_assert_int_eq(mbus_user_get(reg, mbus_user_key(2000 + i, NULL, NULL, key), 2000 + i, &u[i]), 0);
                (void) take_all(u[i], MBUS_QUOTA_PENDING_CALLS, &total, limit);
        }
        ck_assert_uint_eq(total, limit - mbus_quota_reserve(limit));
        ck_assert_int_eq(mbus_user_check(u[39], MBUS_QUOTA_PENDING_CALLS, 1, total, limit), -ENOBUFS);

        ck_assert_int_eq(mbus_user_get(reg, "uid:990", BROKER_UID, &broker), 0);
        ck_assert(broker->privileged);
        ck_assert_uint_eq(take_all(broker, MBUS_QUOTA_PENDING_CALLS, &total, limit), mbus_quota_reserve(limit));

        mbus_user_uncharge(broker, MBUS_QUOTA_PENDING_CALLS, broker->used[MBUS_QUOTA_PENDING_CALLS]);
        mbus_user_unref(broker);
        for (size_t i = 0; i < ELEMENTSOF(u); i++) {
                mbus_user_uncharge(u[i], MBUS_QUOTA_PENDING_CALLS, u[i]->used[MBUS_QUOTA_PENDING_CALLS]);
                mbus_user_unref(u[i]);
        }
}
END_TEST

START_TEST(test_hello_is_a_fixed_cap_per_user) {
        _cleanup_(mbus_user_registry_freep) struct mbus_user_registry *reg = NULL;
        struct mbus_user *a, *b;

        ck_assert_int_eq(mbus_user_registry_new(&reg, BROKER_UID), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:1", 1, &a), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:0", 0, &b), 0);
        for (int i = 0; i < 4; i++) {
                ck_assert_int_eq(mbus_user_check(a, MBUS_QUOTA_HELLO, 1, 0, 4), 0);
                mbus_user_charge(a, MBUS_QUOTA_HELLO, 1);
        }
        ck_assert_int_eq(mbus_user_check(a, MBUS_QUOTA_HELLO, 1, 0, 4), -EDQUOT);
        /* another user's pool is its own, and the broker-wide usage does not matter */
        ck_assert_int_eq(mbus_user_check(b, MBUS_QUOTA_HELLO, 1, 1000, 4), 0);
        mbus_user_uncharge(a, MBUS_QUOTA_HELLO, 4);
        mbus_user_unref(a);
        mbus_user_unref(b);
}
END_TEST

START_TEST(test_users_are_shared_by_key_and_freed_with_the_last_reference) {
        _cleanup_(mbus_user_registry_freep) struct mbus_user_registry *reg = NULL;
        struct mbus_user *a, *a2, *c;
        char key[MBUS_USER_KEY_MAX];

        ck_assert_int_eq(mbus_user_registry_new(&reg, BROKER_UID), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:7", 7, &a), 0);
        ck_assert_int_eq(mbus_user_get(reg, "uid:7", 7, &a2), 0);
        ck_assert_ptr_eq(a, a2);
        ck_assert_uint_eq(mbus_user_registry_size(reg), 1);
        mbus_user_unref(a2);
        ck_assert_uint_eq(mbus_user_registry_size(reg), 1);
        mbus_user_unref(a);
        ck_assert_uint_eq(mbus_user_registry_size(reg), 0);

        ck_assert_str_eq(mbus_user_key((uid_t) -1, "ab12", "192.0.2.7:4000", key), "cert:ab12");
        ck_assert_str_eq(mbus_user_key((uid_t) -1, NULL, "192.0.2.7:4000", key), "addr:192.0.2.7");
        ck_assert_str_eq(mbus_user_key((uid_t) -1, NULL, "[::1]:4000", key), "addr:[::1]");
        ck_assert_str_eq(mbus_user_key(0, "ab12", "192.0.2.7:4000", key), "uid:0");
        /* a certificate without a uid is never privileged */
        ck_assert_int_eq(mbus_user_get(reg, "cert:ab12", (uid_t) -1, &c), 0);
        ck_assert(!c->privileged);
        mbus_user_unref(c);
}
END_TEST

START_TEST(test_lists_keep_the_users_counters_in_step) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        _cleanup_(mbus_namespace_registry_freep) struct mbus_namespace_registry *ns = NULL;
        size_t calls = 0, names = 0;
        struct mbus_pending_list out = { .n_also = &calls }, in = {};
        struct mbus_namespace_list owned = { .n_also = &names };
        struct mbus_namespace *n;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 10, 2, 1000, &out, &in), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 11, 2, 2000, &out, &in), 0);
        ck_assert_uint_eq(calls, 2);
        ck_assert_int_eq(mbus_pending_complete(t, 1, 10, 2), 0);
        ck_assert_uint_eq(calls, 1);
        ck_assert_int_eq(mbus_pending_pop_expired(t, 5000, NULL, NULL, NULL), 1);
        ck_assert_uint_eq(calls, 0);

        ck_assert_int_eq(mbus_namespace_registry_new(&ns), 0);
        ck_assert_int_eq(mbus_namespace_register(ns, "org.example.A", 1, &owned), 0);
        ck_assert_int_eq(mbus_namespace_register(ns, "org.example.B", 1, &owned), 0);
        ck_assert_uint_eq(names, 2);
        ck_assert_int_eq(mbus_namespace_unregister(ns, "org.example.A", 1), 0);
        ck_assert_uint_eq(names, 1);
        while ((n = mbus_namespace_pop_owned(ns, &owned)))
                mbus_namespace_free(n);
        ck_assert_uint_eq(names, 0);
}
END_TEST

static Suite *user_suite(void) {
        Suite *s = suite_create("user");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_one_user_gets_half_and_the_next_still_finds_room);
        tcase_add_test(tc, test_the_reserve_is_for_root_and_the_broker_only);
        tcase_add_test(tc, test_hello_is_a_fixed_cap_per_user);
        tcase_add_test(tc, test_users_are_shared_by_key_and_freed_with_the_last_reference);
        tcase_add_test(tc, test_lists_keep_the_users_counters_in_step);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(user_suite)
