/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The errno <-> error name table maps both ways consistently, and the struct mbus_error
 * helpers own and release their strings.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "util/macro.h"
#include "util/test-util.h"

static const struct { const char *name; int error; } table[] = {
        { MBUS_ERROR_FAILED, -EIO },
        { MBUS_ERROR_NO_SUCH_NAMESPACE, -ENXIO },
        { MBUS_ERROR_UNKNOWN_PROCEDURE, -EOPNOTSUPP },
        { MBUS_ERROR_TIMEOUT, -ETIMEDOUT },
        { MBUS_ERROR_OWNER_DISCONNECTED, -ENOLINK },
        { MBUS_ERROR_INVALID_ARGS, -EINVAL },
        { MBUS_ERROR_ACCESS_DENIED, -EACCES },
        { MBUS_ERROR_LIMITS_EXCEEDED, -ENOBUFS },
        { MBUS_ERROR_NAMESPACE_TAKEN, -EEXIST },
        { MBUS_ERROR_NOT_OWNER, -EPERM },
        { MBUS_ERROR_NO_SUCH_PEER, -ESRCH },
        { MBUS_ERROR_NO_SUCH_SUBSCRIPTION, -ENOENT },
        { MBUS_ERROR_PROTOCOL, -EBADMSG },
        { MBUS_ERROR_DISCONNECTED, -ENOTCONN },
        { MBUS_ERROR_ACTIVATION_FAILED, -ENOEXEC },
};

START_TEST(test_table_maps_both_ways) {
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                ck_assert_int_eq(mbus_error_name_to_errno(table[i].name), table[i].error);
                ck_assert_str_eq(mbus_errno_to_error_name(table[i].error), table[i].name);
                ck_assert_str_eq(mbus_errno_to_error_name(-table[i].error), table[i].name);
        }
        ck_assert_int_eq(mbus_error_name_to_errno("org.example.Error.Busy"), -EREMOTEIO);
        ck_assert_int_eq(mbus_error_name_to_errno(NULL), -EIO);
        ck_assert_str_eq(mbus_errno_to_error_name(-EXDEV), MBUS_ERROR_FAILED);
        ck_assert_str_eq(mbus_errno_to_error_name(0), MBUS_ERROR_FAILED);
}
END_TEST

START_TEST(test_error_set_and_free) {
        struct mbus_error e = MBUS_ERROR_NULL;

        ck_assert(!mbus_error_is_set(&e));
        ck_assert(!mbus_error_is_set(NULL));
        ck_assert_int_eq(mbus_error_set(&e, MBUS_ERROR_TIMEOUT, "after %d s", 25), -ETIMEDOUT);
        ck_assert(mbus_error_is_set(&e));
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_TIMEOUT));
        ck_assert(!mbus_error_has_name(&e, MBUS_ERROR_FAILED));
        ck_assert_str_eq(e.message, "after 25 s");

        /* Setting again replaces (and frees) what was there. */
        ck_assert_int_eq(mbus_error_set(&e, "org.example.Error.Busy", "busy"), -EREMOTEIO);
        ck_assert_str_eq(e.name, "org.example.Error.Busy");

        ck_assert_int_eq(mbus_error_set_errno(&e, EACCES, "rule %s", "x"), -EACCES);
        ck_assert_str_eq(e.name, MBUS_ERROR_ACCESS_DENIED);
        ck_assert_str_eq(e.message, "rule x");
        ck_assert_int_eq(mbus_error_set_errno(&e, -EXDEV, "odd"), -EXDEV);
        ck_assert_str_eq(e.name, MBUS_ERROR_FAILED);

        mbus_error_free(&e);
        ck_assert_ptr_null(e.name);
        ck_assert_ptr_null(e.message);
        mbus_error_free(&e);
        mbus_error_free(NULL);

        /* A NULL error object still yields the errno. */
        ck_assert_int_eq(mbus_error_set(NULL, MBUS_ERROR_NOT_OWNER, "x"), -EPERM);
        ck_assert_int_eq(mbus_error_set_errno(NULL, -ENOBUFS, "x"), -ENOBUFS);
}
END_TEST

static Suite *errors_suite(void) {
        Suite *s = suite_create("errors");
        TCase *tc = tcase_create("errors");

        tcase_add_test(tc, test_table_maps_both_ways);
        tcase_add_test(tc, test_error_set_and_free);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(errors_suite)
