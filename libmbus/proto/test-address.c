/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address strings and defaults: the three spellings of a UNIX socket, what is refused, and
 * which default a process gets from MBUS_ADDRESS, its uid and XDG_RUNTIME_DIR.
 */

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/address.h"
#include "util/macro.h"
#include "util/test-util.h"

START_TEST(test_unix_spellings) {
        static const char *const forms[] = { "/run/mbus/socket", "unix:/run/mbus/socket",
                                             "unix:path=/run/mbus/socket" };

        for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                struct sockaddr_un sa;
                socklen_t len = 0;

                ck_assert_int_eq(mbus_address_to_sockaddr(forms[i], &sa, &len), 0);
                ck_assert_int_eq(sa.sun_family, AF_UNIX);
                ck_assert_str_eq(sa.sun_path, "/run/mbus/socket");
                ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/mbus/socket") + 1);
        }
}
END_TEST

START_TEST(test_invalid_addresses) {
        struct sockaddr_un sa;
        socklen_t len;
        char longpath[sizeof(sa.sun_path) + 2];

        ck_assert_int_eq(mbus_address_to_sockaddr("", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("relative/socket", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("unix:relative", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("unix:path=", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("tcp:localhost:1234", &sa, &len), -EPROTONOSUPPORT);
        ck_assert_int_eq(mbus_address_to_sockaddr(NULL, &sa, &len), -EINVAL);

        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        ck_assert_int_eq(mbus_address_to_sockaddr(longpath, &sa, &len), -ENAMETOOLONG);
        /* The longest path that still fits, with its NUL. */
        longpath[sizeof(sa.sun_path) - 1] = 0;
        ck_assert_int_eq(mbus_address_to_sockaddr(longpath, &sa, &len), 0);
}
END_TEST

START_TEST(test_mbus_address_overrides_default) {
        _cleanup_free_ char *a = NULL, *l = NULL;

        ck_assert_int_eq(setenv("MBUS_ADDRESS", "/tmp/x/socket", 1), 0);
        ck_assert_int_eq(mbus_address_default(&a), 0);
        ck_assert_str_eq(a, "/tmp/x/socket");
        /* The broker ignores it. */
        ck_assert_int_eq(mbus_address_default_listen(&l), 0);
        ck_assert_str_ne(l, "/tmp/x/socket");
}
END_TEST

START_TEST(test_uid_based_default) {
        _cleanup_free_ char *a = NULL, *b = NULL, *want = NULL;

        ck_assert_int_eq(setenv("MBUS_ADDRESS", "", 1), 0);    /* empty counts as unset */
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
        ck_assert_int_eq(mbus_address_default(&a), 0);
        if (geteuid() == 0)
                ck_assert_str_eq(a, MBUS_ADDRESS_SYSTEM);
        else
                ck_assert_str_eq(a, "/run/user/4242/mbus/socket");

        ck_assert_int_eq(unsetenv("MBUS_ADDRESS"), 0);
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        ck_assert_int_eq(mbus_address_default_listen(&b), 0);
        if (geteuid() == 0)
                ck_assert_str_eq(b, MBUS_ADDRESS_SYSTEM);
        else {
                ck_assert_int_ge(asprintf(&want, "/run/user/%u/mbus/socket", (unsigned) geteuid()), 0);
                ck_assert_str_eq(b, want);
        }
}
END_TEST

static Suite *address_suite(void) {
        Suite *s = suite_create("address");
        TCase *tc = tcase_create("address");

        tcase_add_test(tc, test_unix_spellings);
        tcase_add_test(tc, test_invalid_addresses);
        tcase_add_test(tc, test_mbus_address_overrides_default);
        tcase_add_test(tc, test_uid_based_default);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(address_suite)
