/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One directory of per-namespace files, read in a fixed order (sorted by name, so a load is
 * reproducible) and checked for the one ambiguity the search path cannot resolve: the same
 * namespace twice in one directory. Overriding across directories (vendor, then admin) is the
 * loader's business: it loads the lists in order and a later file replaces an earlier one.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confdir.h"
#include "util/macro.h"

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

int mbus_confdir_list(const char *dir, struct mbus_confdir_entry **ret, size_t *ret_n, struct mbus_file_error *err) {
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
        for (size_t i = 1; i < n; i++)
                if (strcmp(entries[i - 1].name, entries[i].name) == 0) {
                        r = mbus_file_error_set(err, entries[i].path, 0,
                                                "both %s.json and %s.xml exist in %s: keep one of them",
                                                entries[i].name, entries[i].name, dir);
                        mbus_confdir_entries_free(entries, n);
                        return r;
                }

        *ret = entries;
        *ret_n = n;
        return 0;
}
