/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration files the loader tests (test-policy-load.c) and the broker's in-process
 * tests (daemon/test-enforce.c) read: written into a directory the test made and removed with
 * it. Failures are Check assertions: these helpers only run inside a test.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf/test-files.h"

void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
}

void remove_dir(const char *dir) {
        char cmd[600];

        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}
