/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* broker.conf and its drop-ins (systemd-style INI) -> struct mbus_options, no side effects. */

#include <stdbool.h>
#include <stddef.h>

#include "conf/file-error.h"
#include "options.h"

/* Told about what the files hold but the broker ignores (unknown sections and keys). */
typedef void (*mbus_broker_conf_warn_fn)(const char *path, unsigned line, const char *message, void *userdata);

/*
 * Parses one file's text (path names it in messages) into c, each known key through
 * mbus_options_set(), so later assignments override earlier ones and "Listen=" empties the list.
 * Unknown sections and keys go to warn (may be NULL) and are ignored. Returns 0, -EBADMSG with
 * *err set to path:line and why (an invalid value, a line that is no assignment), or -ENOMEM.
 */
int mbus_broker_conf_parse(struct mbus_options *c, const char *path, const char *text, size_t len,
                           mbus_broker_conf_warn_fn warn, void *userdata, struct mbus_file_error *err);

/*
 * Reads path, then every path.d/NAME.conf in lexical order of NAME, into c. A missing
 * path is an empty file unless required (a file named on the command line); a missing path.d
 * has no drop-ins. Returns 0, -EBADMSG with *err set, or -ENOMEM.
 */
int mbus_broker_conf_load(struct mbus_options *c, const char *path, bool required, mbus_broker_conf_warn_fn warn,
                          void *userdata, struct mbus_file_error *err);

/* The key of setting o in broker.conf, as "Section.Key" ("Limits.MaxPeers"), for messages. */
const char *mbus_broker_conf_key_of(enum mbus_option o, char *buf, size_t size);

/*
 * The settings the broker runs with: the defaults, then the broker.conf that cmdline names
 * (mbus_options_broker_config_path(); required if named by --broker-config) with its drop-ins,
 * then every setting cmdline gives, then mbus_options_verify(). Fills *ret (to be released with
 * mbus_options_done()) and returns 0; on failure *ret is empty and -EBADMSG with *err set (a
 * verification error names the file but no line), or -ENOMEM, is returned.
 */
int mbus_broker_conf_read(struct mbus_options *ret, const struct mbus_options *cmdline, mbus_broker_conf_warn_fn warn,
                          void *userdata, struct mbus_file_error *err);
