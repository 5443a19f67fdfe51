/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The main() of a Check test program. Included by test programs only, never by libmbus. */

#include <stdlib.h>
#include <check.h>

/* Runs suite in Check's default fork mode, each test in its own process, printing as
 * print_mode says (CK_NORMAL: failures and a summary; CK_ENV: $CK_VERBOSITY decides). Returns
 * the exit code for main(): EXIT_SUCCESS if no test failed, EXIT_FAILURE otherwise. */
static inline int mbus_test_run_suite(Suite *suite, enum print_output print_mode) {
        SRunner *sr = srunner_create(suite);
        int n_failed;

        srunner_run_all(sr, print_mode);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* main() of a test program that runs the one suite make_suite() returns, printed CK_NORMAL. */
#define MBUS_TEST_MAIN(make_suite)                                              \
        int main(void) {                                                        \
                return mbus_test_run_suite(make_suite(), CK_NORMAL);            \
        }
