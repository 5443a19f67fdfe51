/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The per-namespace files of one configuration directory (interfaces.d, policy.d). */

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "conf/file-error.h"

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

/* What mbus_confdir_foreach() calls for each file; a negative return stops the walk. */
typedef int (*mbus_confdir_file_fn)(const struct mbus_confdir_entry *entry, void *userdata,
                                    struct mbus_file_error *err);

/*
 * The one loop over the files of a search path: lists dirs[0..n_dirs) in order with
 * mbus_confdir_list() and calls fn on each file, so a later directory's file comes after an
 * earlier one's of the same namespace. Stops at the first listing error or negative return of
 * fn and returns it (err filled as they filled it); else returns how many files fn was given.
 */
int mbus_confdir_foreach(const char *const *dirs, size_t n_dirs, mbus_confdir_file_fn fn, void *userdata,
                         struct mbus_file_error *err);

/* The file's form by its name: ".xml", ".json", or NULL for anything else. */
const char *mbus_confdir_suffix(const char *path);

/* What a configuration file is, for tools that are handed files (mbus-introspect --check). */
enum mbus_confdir_kind {
        MBUS_CONFDIR_POLICY,            /* policy.d: <policy ...>, <identities> / {"namespace", "rules"}, {"maps"} */
        MBUS_CONFDIR_INTERFACE,         /* interfaces.d: <namespace ...> / {"namespace", "procedures", ...} */
        _MBUS_CONFDIR_KIND_MAX,
        _MBUS_CONFDIR_KIND_INVALID = -EINVAL,
};

/*
 * Tells a policy file from an interface file: by its directory (".../policy.d/" or
 * ".../interfaces.d/"), else by its content (XML: the root element <policy> or <identities>,
 * or <namespace>; JSON: a "rules" or "maps" key means policy). Returns the kind, -EINVAL if
 * neither can be told (the file is then best reported by both loaders), or -errno if it cannot
 * be read.
 */
int mbus_confdir_guess_kind(const char *path);

/*
 * The directories of one kind ("policy.d" or "interfaces.d") in load order, as the broker reads
 * them: config_dir/kind alone if config_dir is set (--config-dir), else the vendor directory
 * (MBUS_VENDOR_CONF_DIR/kind, e.g. /usr/share/mbus/policy.d) then the admin one
 * (MBUS_ADMIN_CONF_DIR/kind, /etc/mbus/policy.d), whose files replace the vendor files of the
 * same namespace; both directories come from config.h. Fills dirs[] (pointing into bufs) and
 * returns how many (1 or 2). kind is only appended, so a help text may pass a pattern.
 */
size_t mbus_confdir_search_path(const char *config_dir, const char *kind, char bufs[2][PATH_MAX],
                                const char *dirs[2]);
