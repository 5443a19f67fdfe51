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
 * What a lenient walk calls for a file that failed (fn returned an error other than -ENOMEM),
 * for both files of a namespace written twice in one directory, and for a directory that cannot
 * be listed (name NULL): err says why. A negative return stops the walk with it.
 */
typedef int (*mbus_confdir_skip_fn)(const char *name, const struct mbus_file_error *err, void *userdata);

/*
 * The one loop over the files of a search path: lists dirs[0..n_dirs) in order with
 * mbus_confdir_list() and calls fn on each file, so a later directory's file comes after an
 * earlier one's of the same namespace. Without skip (strict, as mbus-introspect and tests load)
 * the walk stops at the first listing error or negative return of fn and returns it (err filled
 * as they filled it). With skip (lenient, as the broker loads), such a file or directory is
 * left out, skip is told, and the walk goes on; only -ENOMEM or skip's own negative return stop
 * it. Returns how many files fn was given.
 */
int mbus_confdir_foreach(const char *const *dirs, size_t n_dirs, mbus_confdir_file_fn fn, mbus_confdir_skip_fn skip,
                         void *userdata, struct mbus_file_error *err);

/*
 * How a lenient load (mbus_policy_load_report(), mbus_introspection_load_report()) tells its
 * caller what it went past instead of failing. Either function may be NULL.
 *   warning: a problem the file survives: an unknown user or group in a policy rule (the rule
 *            then matches nobody) or mapping (the mapping is left out). w says PATH:LINE: what.
 *   skipped: a file left out because it failed to load; name is the namespace its file name
 *            gives (MBUS_POLICY_IDENTITIES_NAME for the mappings), NULL for a whole directory
 *            that could not be listed; e is the file's error. The loader has already dropped
 *            what earlier directories gave that namespace: the set has nothing for it.
 */
struct mbus_conf_report {
        void (*warning)(const struct mbus_file_error *w, void *userdata);
        void (*skipped)(const char *name, const struct mbus_file_error *e, void *userdata);
        void *userdata;
};

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
