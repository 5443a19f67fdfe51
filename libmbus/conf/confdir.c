/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One directory of per-namespace files, read in a fixed order (sorted by name, so a load is
 * reproducible) and checked for the one ambiguity the search path cannot resolve: the same
 * namespace twice in one directory. Overriding across directories (vendor, then admin) is the
 * loader's business: it loads the lists in order and a later file replaces an earlier one.
 * Both loaders (interfaces and policy) and mbus-introspect --check walk a search path with the
 * one loop here, mbus_confdir_foreach(), and differ only in what they do with each file.
 *
 * The search path itself is built here alone, from the two directories config.h names, so the
 * broker, its --help and mbus-introspect --explain cannot disagree on where files are read.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/confdir.h"
#include "config.h"
#include "util/macro.h"

size_t mbus_confdir_search_path(const char *config_dir, const char *kind, char bufs[2][PATH_MAX],
                                const char *dirs[2]) {
        if (config_dir) {
                (void) snprintf(bufs[0], PATH_MAX, "%s/%s", config_dir, kind);
                dirs[0] = bufs[0];
                return 1;
        }
        (void) snprintf(bufs[0], PATH_MAX, "%s/%s", MBUS_VENDOR_CONF_DIR, kind);
        (void) snprintf(bufs[1], PATH_MAX, "%s/%s", MBUS_ADMIN_CONF_DIR, kind);
        dirs[0] = bufs[0];
        dirs[1] = bufs[1];
        return 2;
}

const char *mbus_confdir_suffix(const char *path) {
        size_t l;

        if (!path)
                return NULL;
        l = strlen(path);
        if (l > 4 && strcmp(path + l - 4, ".xml") == 0)
                return ".xml";
        if (l > 5 && strcmp(path + l - 5, ".json") == 0)
                return ".json";
        return NULL;
}

void mbus_confdir_entries_free(struct mbus_confdir_entry *entries, size_t n) {
        for (size_t i = 0; entries && i < n; i++) {
                free(entries[i].name);
                free(entries[i].path);
        }
        free(entries);
}

static int confdir_compare(const void *a, const void *b) {
        const struct mbus_confdir_entry *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c != 0 ? c : strcmp(x->path, y->path);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static bool confdir_is_twice(const struct mbus_confdir_entry *entries, size_t n, size_t i);
static int confdir_twice_error(const struct mbus_confdir_entry *entries, size_t i, const char *dir,
                               struct mbus_file_error *err);

/* The directory's files sorted; a namespace written twice is an error only if strict. */
static int confdir_list(const char *dir, bool strict, struct mbus_confdir_entry **ret, size_t *ret_n,
                        struct mbus_file_error *err) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct mbus_confdir_entry *entries = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int r = 0;

        if (!dir || !ret || !ret_n)
                return -EINVAL;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return mbus_file_error_set(err, dir, 0, "cannot read directory: %s", strerror(errno));
        }

        for (;;) {
                const char *suffix;
                size_t len;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = mbus_file_error_set(err, dir, 0, "cannot read directory: %s", strerror(errno));
                        break;
                }
                if (de->d_name[0] == '.')
                        continue;
                suffix = mbus_confdir_suffix(de->d_name);
                if (!suffix)
                        continue;
                if (n == allocated) {
                        struct mbus_confdir_entry *a;

                        allocated = allocated ? allocated * 2 : 16;
                        a = realloc(entries, allocated * sizeof(*a));
                        if (!a) {
                                r = -ENOMEM;
                                break;
                        }
                        entries = a;
                }
                len = strlen(de->d_name) - strlen(suffix);
                entries[n] = (struct mbus_confdir_entry) { .name = strndup(de->d_name, len) };
                if (entries[n].name && asprintf(&entries[n].path, "%s/%s", dir, de->d_name) < 0)
                        entries[n].path = NULL;
                n++;
                if (!entries[n - 1].name || !entries[n - 1].path) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                mbus_confdir_entries_free(entries, n);
                return r;
        }

        if (n > 1)
                qsort(entries, n, sizeof(*entries), confdir_compare);
        for (size_t i = 1; strict && i < n; i++)
                if (confdir_is_twice(entries, n, i)) {
                        r = confdir_twice_error(entries, i, dir, err);
                        mbus_confdir_entries_free(entries, n);
                        return r;
                }

        *ret = entries;
        *ret_n = n;
        return 0;
}

int mbus_confdir_list(const char *dir, struct mbus_confdir_entry **ret, size_t *ret_n, struct mbus_file_error *err) {
        return confdir_list(dir, /* strict= */ true, ret, ret_n, err);
}

/* Whether sorted entries[i] names a namespace that another entry of the directory names too. */
static bool confdir_is_twice(const struct mbus_confdir_entry *entries, size_t n, size_t i) {
        return (i > 0 && strcmp(entries[i - 1].name, entries[i].name) == 0) ||
               (i + 1 < n && strcmp(entries[i + 1].name, entries[i].name) == 0);
}

static int confdir_twice_error(const struct mbus_confdir_entry *entries, size_t i, const char *dir,
                               struct mbus_file_error *err) {
        return mbus_file_error_set(err, entries[i].path, 0, "both %s.json and %s.xml exist in %s: keep one of them",
                                   entries[i].name, entries[i].name, dir);
}

/* A lenient walk goes past what failed: skip is told, and err is clean for the next file. */
static int confdir_skip(mbus_confdir_skip_fn skip, const char *name, int r, void *userdata,
                        struct mbus_file_error *err) {
        if (r == -ENOMEM)
                return r;
        if (!err->message[0])
                (void) mbus_file_error_set(err, NULL, 0, "%s", strerror(-r));
        r = skip(name, err, userdata);
        *err = (struct mbus_file_error) { .all = err->all };
        return r;
}

int mbus_confdir_foreach(const char *const *dirs, size_t n_dirs, mbus_confdir_file_fn fn, mbus_confdir_skip_fn skip,
                         void *userdata, struct mbus_file_error *err) {
        struct mbus_file_error local = {};
        size_t n_files = 0;
        int r;

        assert(fn && (dirs || n_dirs == 0));

        if (!err)
                err = &local;
        for (size_t i = 0; i < n_dirs; i++) {
                struct mbus_confdir_entry *entries = NULL;
                size_t n = 0;

                r = confdir_list(dirs[i], /* strict= */ !skip, &entries, &n, err);
                if (r < 0 && skip) {
                        r = confdir_skip(skip, /* name= */ NULL, r, userdata, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;
                for (size_t k = 0; k < n && r >= 0; k++) {
                        if (skip && confdir_is_twice(entries, n, k)) {
                                /* Both files are left out, and the namespace is reported once. */
                                if (k > 0 && strcmp(entries[k - 1].name, entries[k].name) == 0)
                                        continue;
                                r = confdir_twice_error(entries, k, dirs[i], err);
                                r = confdir_skip(skip, entries[k].name, r, userdata, err);
                                continue;
                        }
                        r = fn(&entries[k], userdata, err);
                        if (r < 0 && skip)
                                r = confdir_skip(skip, entries[k].name, r, userdata, err);
                }
                mbus_confdir_entries_free(entries, n);
                if (r < 0)
                        return r;
                n_files += n;
        }
        return (int) MIN(n_files, (size_t) INT_MAX);
}

static bool confdir_in_dir(const char *path, const char *dir) {
        size_t l = strlen(dir);
        const char *slash = strrchr(path, '/');

        /* The file's own directory is named dir: ".../dir/FILE" or "dir/FILE". */
        if (!slash || (size_t) (slash - path) < l)
                return false;
        return memcmp(slash - l, dir, l) == 0 && (slash - l == path || slash[-(ptrdiff_t) l - 1] == '/');
}

int mbus_confdir_guess_kind(const char *path) {
        char buf[65536];
        const char *suffix = mbus_confdir_suffix(path), *p;
        ssize_t n;
        int fd;

        if (!path)
                return -EINVAL;
        if (confdir_in_dir(path, "policy.d"))
                return MBUS_CONFDIR_POLICY;
        if (confdir_in_dir(path, "interfaces.d"))
                return MBUS_CONFDIR_INTERFACE;
        if (!suffix)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0) {
                int r = -errno;

                (void) close(fd);
                return r;
        }
        (void) close(fd);
        buf[n] = 0;

        if (strcmp(suffix, ".json") == 0)
                return strstr(buf, "\"rules\"") || strstr(buf, "\"maps\"") ? MBUS_CONFDIR_POLICY : MBUS_CONFDIR_INTERFACE;

        /* XML: the first element that is not <?xml ...?>, a comment or a DOCTYPE. */
        for (p = buf; (p = strchr(p, '<')); p++) {
                if (strncmp(p, "<!--", 4) == 0) {
                        p = strstr(p + 4, "-->");
                        if (!p)
                                return -EINVAL;
                        continue;
                }
                if (p[1] == '?' || p[1] == '!')
                        continue;
                if ((strncmp(p + 1, "policy", 6) == 0 && strchr(" \t\r\n/>", p[7])) ||
                    (strncmp(p + 1, "identities", 10) == 0 && strchr(" \t\r\n/>", p[11])))
                        return MBUS_CONFDIR_POLICY;
                if (strncmp(p + 1, "namespace", 9) == 0 && strchr(" \t\r\n/>", p[10]))
                        return MBUS_CONFDIR_INTERFACE;
                return -EINVAL;
        }
        return -EINVAL;
}
