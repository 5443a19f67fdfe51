/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The per-namespace files of one configuration directory (interfaces.d, policy.d). */

#include <stddef.h>

#include "proto/file-error.h"

/*
 * A directory holds NAMESPACE.xml or NAMESPACE.json files. Other names (no .xml/.json
 * suffix) and dot-files are ignored; both forms for one namespace is an error.
 */
struct mbus_confdir_entry {
        char *name;                     /* NAMESPACE, as the file name says */
        char *path;                     /* DIR/NAMESPACE.xml or .json */
};

/*
 * Lists dir's files sorted by name into a new array. A missing directory is empty (0 entries).
 * Returns 0, -EBADMSG with *err filled ("both NS.xml and NS.json", unreadable directory),
 * -ENOMEM.
 */
int mbus_confdir_list(const char *dir, struct mbus_confdir_entry **ret, size_t *ret_n, struct mbus_file_error *err);
void mbus_confdir_entries_free(struct mbus_confdir_entry *entries, size_t n);

/* The file's form by its name: ".xml", ".json", or NULL for anything else. */
const char *mbus_confdir_suffix(const char *path);
