/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Configuration files for tests: written into a test's own directory, removed with it. */

/* dir/name with text in it. */
void write_file(const char *dir, const char *name, const char *text);
/* rm -rf dir. */
void remove_dir(const char *dir);
