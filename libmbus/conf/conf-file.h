/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Reading one configuration file (introspection or policy) whole, with a size limit. */

#include <stddef.h>

#include "conf/file-error.h"

/*
 * Reads the regular file at path into a new NUL-terminated buffer: *ret (free()) and its
 * length without the NUL, *ret_len, both written only on success. A file larger than max_size
 * bytes, or not a regular file, is -EBADMSG; open/stat/read failures return their errno. Each
 * failure but -ENOMEM fills err (may be NULL) as "PATH: what".
 */
int mbus_conf_file_read(const char *path, size_t max_size, char **ret, size_t *ret_len,
                        struct mbus_file_error *err);

/*
 * A file named NAMESPACE.xml or NAMESPACE.json must declare that namespace: 0 if the base name
 * of path, less suffix (the file's, ".xml" or ".json"), is name; else -EBADMSG with err filled
 * ("file declares namespace N, so it must be named N.json").
 */
int mbus_conf_file_check_name(const char *path, const char *suffix, const char *name, struct mbus_file_error *err);
