/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the pending-call table (pending.c): exactly one completion per call. */

#include <check.h>
#include <stdlib.h>

#include "ns-stats.h"
#include "pending.h"
#include "proto/frame.h"
#include "util/test-util.h"

static bool always_exists(const char *ns, void *userdata) {
        return true;
}

START_TEST(test_reply_completes_a_call_once) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out = {}, in = {};

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 10, 2, 1000, &out, &in), 0);
        ck_assert_uint_eq(out.n, 1);
        ck_assert_uint_eq(in.n, 1);

        ck_assert_int_eq(mbus_pending_complete(t, 1, 10, 3), -EPERM);   /* not its callee */
        ck_assert_int_eq(mbus_pending_complete(t, 1, 11, 2), -ENOENT);  /* other serial */
        ck_assert_int_eq(mbus_pending_complete(t, 1, 10, 2), 0);
        ck_assert_int_eq(mbus_pending_complete(t, 1, 10, 2), -ENOENT);  /* a second reply */
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(in.n, 0);
        ck_assert_ptr_null(out.first);
        ck_assert_int_eq(mbus_pending_pop_expired(t, 5000, NULL, NULL, NULL), 0);  /* no timeout after */
        ck_assert_uint_eq(mbus_pending_size(t), 0);
}
END_TEST

START_TEST(test_duplicate_serial_is_refused) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out = {}, in = {}, out2 = {};

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 10, 2, 1000, &out, &in), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 10, 2, 1000, &out, &in), -EEXIST);
        ck_assert_int_eq(mbus_pending_add(t, 3, 10, 2, 1000, &out2, &in), 0);   /* other caller */
        ck_assert_uint_eq(in.n, 2);
        ck_assert_uint_eq(mbus_pending_size(t), 2);
}
END_TEST

START_TEST(test_timeouts_come_in_deadline_order_once_each) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out = {}, in = {};
        static const usec_t deadlines[] = { 500, 100, 900, 300, 700, 200, 800, 600, 400, 1000 };
        uint64_t caller, serial;
        usec_t last = 0;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        for (unsigned i = 0; i < 10; i++)
                ck_assert_int_eq(mbus_pending_add(t, 1, i + 1, 2, deadlines[i], &out, &in), 0);
        ck_assert_uint_eq(mbus_pending_next_deadline(t), 100);

        /* Reply to the one due at 300 (serial 4) before it times out. */
        ck_assert_int_eq(mbus_pending_complete(t, 1, 4, 2), 0);

        ck_assert_int_eq(mbus_pending_pop_expired(t, 50, &caller, &serial, NULL), 0);
        for (unsigned n = 0; n < 9; n++) {
                ck_assert_int_eq(mbus_pending_pop_expired(t, 10000, &caller, &serial, NULL), 1);
                ck_assert_uint_eq(caller, 1);
                ck_assert_uint_ne(serial, 4);
                ck_assert_uint_ge(deadlines[serial - 1], last);
                last = deadlines[serial - 1];
                ck_assert_int_eq(mbus_pending_complete(t, 1, serial, 2), -ENOENT);  /* late reply */
        }
        ck_assert_int_eq(mbus_pending_pop_expired(t, 10000, &caller, &serial, NULL), 0);
        ck_assert_uint_eq(mbus_pending_next_deadline(t), USEC_INFINITY);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(in.n, 0);
}
END_TEST

START_TEST(test_owner_gone_answers_each_of_its_calls_once) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out_a = {}, out_b = {}, in_c = {}, in_d = {};
        unsigned seen[2] = {};
        uint64_t caller, serial;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 1, 3, 100, &out_a, &in_c), 0);
        ck_assert_int_eq(mbus_pending_add(t, 2, 1, 3, 100, &out_b, &in_c), 0);
        ck_assert_int_eq(mbus_pending_add(t, 1, 2, 4, 100, &out_a, &in_d), 0);

        while (mbus_pending_pop_callee(t, &in_c, &caller, &serial, NULL) > 0) {
                ck_assert_uint_eq(serial, 1);
                ck_assert(caller == 1 || caller == 2);
                seen[caller - 1]++;
        }
        ck_assert_uint_eq(seen[0], 1);
        ck_assert_uint_eq(seen[1], 1);
        ck_assert_uint_eq(out_a.n, 1);
        ck_assert_uint_eq(out_b.n, 0);

        /* Nothing of the gone owner times out or completes later. */
        ck_assert_int_eq(mbus_pending_complete(t, 2, 1, 3), -ENOENT);
        ck_assert_int_eq(mbus_pending_pop_expired(t, 1000, &caller, &serial, NULL), 1);
        ck_assert_uint_eq(caller, 1);
        ck_assert_uint_eq(serial, 2);
        ck_assert_int_eq(mbus_pending_pop_expired(t, 1000, &caller, &serial, NULL), 0);
}
END_TEST

START_TEST(test_caller_gone_forgets_its_calls) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out_a = {}, out_b = {}, in_c = {};
        uint64_t caller, serial;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        for (uint64_t s = 1; s <= 100; s++)
                ck_assert_int_eq(mbus_pending_add(t, 1, s, 3, 100 + s, &out_a, &in_c), 0);
        ck_assert_int_eq(mbus_pending_add(t, 2, 1, 3, 50, &out_b, &in_c), 0);

        ck_assert_uint_eq(mbus_pending_drop_caller(t, &out_a), 100);
        ck_assert_uint_eq(out_a.n, 0);
        ck_assert_uint_eq(in_c.n, 1);
        ck_assert_int_eq(mbus_pending_complete(t, 1, 7, 3), -ENOENT);

        /* The owner going away now owes an answer to the other caller only. */
        ck_assert_int_eq(mbus_pending_pop_callee(t, &in_c, &caller, &serial, NULL), 1);
        ck_assert_uint_eq(caller, 2);
        ck_assert_int_eq(mbus_pending_pop_callee(t, &in_c, &caller, &serial, NULL), 0);
        ck_assert_uint_eq(mbus_pending_size(t), 0);
}
END_TEST

START_TEST(test_many_calls_interleaved) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out = {}, in = {};
        unsigned completed = 0, expired = 0;
        uint64_t caller, serial;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        for (uint64_t s = 1; s <= 5000; s++)
                ck_assert_int_eq(mbus_pending_add(t, 9, s, 8, (s * 7919) % 5003, &out, &in), 0);
        for (uint64_t s = 1; s <= 5000; s += 3)
                if (mbus_pending_complete(t, 9, s, 8) == 0)
                        completed++;
        while (mbus_pending_pop_expired(t, USEC_INFINITY - 1, &caller, &serial, NULL) > 0)
                expired++;
        ck_assert_uint_eq(completed + expired, 5000);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(in.n, 0);
}
END_TEST

START_TEST(test_a_call_keeps_its_names_and_counters_until_it_is_answered) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        _cleanup_(mbus_ns_stats_freep) struct mbus_ns_stats *stats = NULL;
        _cleanup_(mbus_pending_freep) struct mbus_pending *p = NULL;
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *context = NULL;
        struct mbus_pending_list out = {}, in = {};
        struct mbus_ns_counters *c;
        uint64_t caller, serial;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        ck_assert_int_eq(mbus_ns_stats_new(&stats), 0);
        c = mbus_ns_stats_get(stats, "org.example.A", 1, always_exists, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(mbus_pending_add_call(t, 1, 10, 2, 1000, &out, &in, "org.example.A", "Get", c), 0);
        ck_assert_int_eq(mbus_pending_add_call(t, 1, 11, 2, 2000, &out, &in, "org.example.A", "Set", c), 0);
        ck_assert_uint_eq(c->n_ref, 3);

        /* The answer finds what the call left; the entry is out of the table, not yet freed. */
        ck_assert_int_eq(mbus_pending_take(t, 1, 10, 2, &p), 0);
        ck_assert_str_eq(p->namespace, "org.example.A");
        ck_assert_str_eq(p->member, "Get");
        ck_assert_ptr_eq(p->counters, c);
        ck_assert_ptr_eq(p->caller_list, &out);
        ck_assert_uint_eq(out.n, 1);
        ck_assert_int_eq(mbus_pending_complete(t, 1, 10, 2), -ENOENT);
        p = mbus_pending_free(p);
        ck_assert_uint_eq(c->n_ref, 2);

        /* A timeout hands out the call as a header-only CALL. */
        ck_assert_int_eq(mbus_pending_pop_expired(t, 5000, &caller, &serial, &context), 1);
        ck_assert_uint_eq(serial, 11);
        ck_assert_int_eq(context->type, MBUS_FRAME_CALL);
        ck_assert_str_eq(context->f.namespace, "org.example.A");
        ck_assert_str_eq(context->f.member, "Set");
        ck_assert_uint_eq(context->body_len, 0);
        ck_assert_uint_eq(c->n_ref, 1);
}
END_TEST

START_TEST(test_every_call_is_found_whatever_the_order_of_removals) {
        _cleanup_(mbus_pending_table_freep) struct mbus_pending_table *t = NULL;
        struct mbus_pending_list out[7] = {}, in = {};
        enum { N = 3000 };
        static bool done[N];
        unsigned seed = 12345;

        ck_assert_int_eq(mbus_pending_table_new(&t), 0);
        /* Seven callers with overlapping serials: keys that collide in the hash's low bits. */
        for (unsigned i = 0; i < N; i++)
                ck_assert_int_eq(mbus_pending_add(t, i % 7, i / 7, 2, 1000 + i, &out[i % 7], &in), 0);
        for (unsigned k = 0; k < 4 * N; k++) {
                unsigned i;

                seed = seed * 1103515245u + 12345u;
                i = (seed >> 8) % N;
                ck_assert_int_eq(mbus_pending_complete(t, i % 7, i / 7, 2), done[i] ? -ENOENT : 0);
                done[i] = true;
                /* Now and then a new call in a freed place. */
                if (k % 5 == 0 && done[(i + 1) % N]) {
                        unsigned j = (i + 1) % N;

                        ck_assert_int_eq(mbus_pending_add(t, j % 7, j / 7, 2, 1000 + j, &out[j % 7], &in), 0);
                        done[j] = false;
                }
        }
        for (unsigned i = 0; i < N; i++)
                ck_assert_int_eq(mbus_pending_complete(t, i % 7, i / 7, 2), done[i] ? -ENOENT : 0);
        ck_assert_uint_eq(mbus_pending_size(t), 0);
        ck_assert_uint_eq(in.n, 0);
}
END_TEST

static Suite *pending_suite(void) {
        Suite *s = suite_create("pending");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_reply_completes_a_call_once);
        tcase_add_test(tc, test_duplicate_serial_is_refused);
        tcase_add_test(tc, test_timeouts_come_in_deadline_order_once_each);
        tcase_add_test(tc, test_owner_gone_answers_each_of_its_calls_once);
        tcase_add_test(tc, test_caller_gone_forgets_its_calls);
        tcase_add_test(tc, test_many_calls_interleaved);
        tcase_add_test(tc, test_a_call_keeps_its_names_and_counters_until_it_is_answered);
        tcase_add_test(tc, test_every_call_is_found_whatever_the_order_of_removals);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(pending_suite)
