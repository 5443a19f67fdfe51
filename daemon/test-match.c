/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the subscription index (match.c). */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "match.h"
#include "util/test-util.h"

#define MAX_OWNERS 64

struct collected {
        size_t n;
        uint64_t owners[MAX_OWNERS];
        void *data[MAX_OWNERS];
};

static void collect(uint64_t owner, void *owner_data, void *userdata) {
        struct collected *c = userdata;

        ck_assert_uint_lt(c->n, MAX_OWNERS);
        c->data[c->n] = owner_data;
        c->owners[c->n++] = owner;
}

static struct collected lookup(struct mbus_match_index *idx, const char *ns, const char *member) {
        struct collected c = {};
        size_t n = mbus_match_lookup(idx, ns, member, collect, &c);

        ck_assert_uint_eq(n, c.n);
        return c;
}

static bool has(const struct collected *c, uint64_t owner) {
        for (size_t i = 0; i < c->n; i++)
                if (c->owners[i] == owner)
                        return true;
        return false;
}

START_TEST(test_exact_pattern_matches_only_that_event) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.Network.StateChanged", 1, NULL), 1);
        ck_assert(mbus_match_hits(idx, "org.example.Network", "StateChanged"));
        ck_assert(!mbus_match_hits(idx, "org.example.Network", "StateChanged2"));
        ck_assert(!mbus_match_hits(idx, "org.example.Net", "StateChanged"));
        ck_assert(!mbus_match_hits(idx, "org.example.Network.Sub", "StateChanged"));
}
END_TEST

START_TEST(test_wildcard_matches_whole_labels_only) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 7, NULL), 1);
        ck_assert(mbus_match_hits(idx, "org.example.Network", "StateChanged"));
        ck_assert(mbus_match_hits(idx, "org.example", "Anything"));
        ck_assert(mbus_match_hits(idx, "org.example.a.b.c", "Deep"));
        ck_assert(!mbus_match_hits(idx, "org.examplex.Net", "StateChanged"));
        ck_assert(!mbus_match_hits(idx, "org.exampl", "StateChanged"));
        ck_assert(!mbus_match_hits(idx, "com.example.Network", "StateChanged"));
}
END_TEST

START_TEST(test_namespace_wildcard_covers_its_events) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.Network.*", 3, NULL), 1);
        ck_assert(mbus_match_hits(idx, "org.example.Network", "StateChanged"));
        ck_assert(mbus_match_hits(idx, "org.example.Network", "Other"));
        ck_assert(!mbus_match_hits(idx, "org.example.Other", "StateChanged"));
}
END_TEST

START_TEST(test_star_matches_everything) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert(!mbus_match_hits(idx, "a.b", "C"));
        ck_assert_int_eq(mbus_match_add(idx, "*", 9, NULL), 1);
        ck_assert(mbus_match_hits(idx, "a.b", "C"));
        ck_assert(mbus_match_hits(idx, "org.mbus.Broker", "PeerConnected"));
}
END_TEST

START_TEST(test_one_delivery_per_owner_however_many_patterns_match) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;
        struct collected c;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "*", 1, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.*", 1, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 1, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.Net.Ev", 1, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.Net.Ev", 2, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.other.*", 3, NULL), 1);

        c = lookup(idx, "org.example.Net", "Ev");
        ck_assert_uint_eq(c.n, 2);
        ck_assert(has(&c, 1));
        ck_assert(has(&c, 2));
        ck_assert(!has(&c, 3));

        /* A second lookup reports the same owners again. */
        c = lookup(idx, "org.example.Net", "Ev");
        ck_assert_uint_eq(c.n, 2);
}
END_TEST

START_TEST(test_subscribing_twice_needs_two_unsubscribes) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 5, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 5, NULL), 0);
        ck_assert_uint_eq(mbus_match_size(idx), 1);
        ck_assert_uint_eq(lookup(idx, "org.example.X", "E").n, 1);
        ck_assert_int_eq(mbus_match_remove(idx, "org.example.*", 5), 0);
        ck_assert(mbus_match_hits(idx, "org.example.X", "E"));
        ck_assert_int_eq(mbus_match_remove(idx, "org.example.*", 5), 0);
        ck_assert(!mbus_match_hits(idx, "org.example.X", "E"));
        ck_assert_int_eq(mbus_match_remove(idx, "org.example.*", 5), -ENOENT);
        ck_assert_uint_eq(mbus_match_size(idx), 0);
}
END_TEST

START_TEST(test_removal_touches_only_its_owner_and_pattern) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;
        struct collected c;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 1, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 2, NULL), 1);
        ck_assert_int_eq(mbus_match_add(idx, "*", 2, NULL), 1);
        ck_assert_int_eq(mbus_match_remove(idx, "org.example.*", 3), -ENOENT);
        ck_assert_int_eq(mbus_match_remove(idx, "org.other.*", 1), -ENOENT);
        ck_assert_int_eq(mbus_match_remove(idx, "org.example.*", 1), 0);

        c = lookup(idx, "org.example.A", "B");
        ck_assert_uint_eq(c.n, 1);
        ck_assert(has(&c, 2));

        ck_assert_uint_eq(mbus_match_count_owner(idx, 2), 2);
        ck_assert_uint_eq(mbus_match_remove_owner(idx, 2), 2);
        ck_assert_uint_eq(mbus_match_count_owner(idx, 2), 0);
        ck_assert(!mbus_match_hits(idx, "org.example.A", "B"));
        ck_assert_uint_eq(mbus_match_size(idx), 0);
        ck_assert_uint_eq(mbus_match_remove_owner(idx, 2), 0);
}
END_TEST

START_TEST(test_invalid_patterns_are_refused) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.ex*", 1, NULL), -EINVAL);
        ck_assert_int_eq(mbus_match_add(idx, "", 1, NULL), -EINVAL);
        ck_assert_int_eq(mbus_match_add(idx, "org..x", 1, NULL), -EINVAL);
        ck_assert_uint_eq(mbus_match_size(idx), 0);
}
END_TEST

START_TEST(test_many_subscriptions_stay_exact) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;
        char pattern[128];

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        /* 2000 owners x 5 patterns each, on 100 namespaces. */
        for (uint64_t owner = 1; owner <= 2000; owner++)
                for (unsigned k = 0; k < 5; k++) {
                        snprintf(pattern, sizeof(pattern), "org.n%u.Svc.Ev%u", (unsigned) ((owner + k) % 100), k);
                        ck_assert_int_ge(mbus_match_add(idx, pattern, owner, NULL), 0);
                }
        ck_assert_int_eq(mbus_match_add(idx, "org.n7.*", 4242, NULL), 1);
        ck_assert_uint_eq(mbus_match_size(idx), 2000 * 5 + 1);

        /* Ev0 of org.n7.Svc: owners with owner % 100 == 7, i.e. 20 of them, plus 4242. */
        ck_assert_uint_eq(mbus_match_lookup(idx, "org.n7.Svc", "Ev0", NULL, NULL), 21);
        for (uint64_t owner = 1; owner <= 2000; owner += 2)
                ck_assert_uint_eq(mbus_match_remove_owner(idx, owner), 5);
        ck_assert_uint_eq(mbus_match_lookup(idx, "org.n7.Svc", "Ev0", NULL, NULL), 1);
        ck_assert_uint_eq(mbus_match_lookup(idx, "org.n8.Svc", "Ev0", NULL, NULL), 20);
}
END_TEST

START_TEST(test_lookup_hands_back_each_owners_pointer) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;
        int peer1, peer2;
        struct collected c;

        ck_assert_int_eq(mbus_match_index_new(&idx), 0);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.*", 1, &peer1), 1);
        ck_assert_int_eq(mbus_match_add(idx, "*", 1, &peer1), 1);
        ck_assert_int_eq(mbus_match_add(idx, "org.example.Net.Ev", 2, &peer2), 1);
        c = lookup(idx, "org.example.Net", "Ev");
        ck_assert_uint_eq(c.n, 2);
        for (size_t i = 0; i < c.n; i++)
                ck_assert_ptr_eq(c.data[i], c.owners[i] == 1 ? (void *) &peer1 : (void *) &peer2);
}
END_TEST

static Suite *match_suite(void) {
        Suite *s = suite_create("match");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_exact_pattern_matches_only_that_event);
        tcase_add_test(tc, test_wildcard_matches_whole_labels_only);
        tcase_add_test(tc, test_namespace_wildcard_covers_its_events);
        tcase_add_test(tc, test_star_matches_everything);
        tcase_add_test(tc, test_one_delivery_per_owner_however_many_patterns_match);
        tcase_add_test(tc, test_subscribing_twice_needs_two_unsubscribes);
        tcase_add_test(tc, test_removal_touches_only_its_owner_and_pattern);
        tcase_add_test(tc, test_invalid_patterns_are_refused);
        tcase_add_test(tc, test_many_subscriptions_stay_exact);
        tcase_add_test(tc, test_lookup_hands_back_each_owners_pointer);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(match_suite)
