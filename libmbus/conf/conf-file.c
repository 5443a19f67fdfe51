/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bounded reader both kinds of configuration file share (conf/idl.c for interfaces.d,
 * conf/policy-load.c for policy.d). Opened non-blocking, so a FIFO dropped into the
 * directory cannot hang the broker before fstat() refuses it; the limit is checked on the
 * size fstat() reports and again while reading, since the file may grow in between. A file
 * names the namespace it declares, so the directory listing says which file serves which.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf-file.h"
#include "util/fd-util.h"
#include "util/macro.h"

int mbus_conf_file_read(const char *path, size_t max_size, char **ret, size_t *ret_len,
                        struct mbus_file_error *err) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        assert(path && ret && ret_len);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                int r = negative_errno();

                (void) mbus_file_error_set(err, path, 0, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();

                (void) mbus_file_error_set(err, path, 0, "cannot stat: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode))
                return mbus_file_error_set(err, path, 0, "not a regular file");
        if ((uint64_t) st.st_size > max_size)
                return mbus_file_error_set(err, path, 0, "file too large (%llu bytes, limit %zu)",
                                           (unsigned long long) st.st_size, max_size);

        /* One byte more than the limit, to notice a file that grew since fstat(). */
        buf = malloc(max_size + 2);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max_size + 1 - n);

                if (k < 0) {
                        int r;

                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        (void) mbus_file_error_set(err, path, 0, "cannot read: %s", strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max_size)
                        return mbus_file_error_set(err, path, 0, "file too large (limit %zu bytes)", max_size);
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

int mbus_conf_file_check_name(const char *path, const char *suffix, const char *name, struct mbus_file_error *err) {
        const char *base;
        size_t base_len;

        assert(path && suffix && name);

        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        base_len = strlen(base) - strlen(suffix);
        if (strlen(name) != base_len || strncmp(base, name, base_len) != 0)
                return mbus_file_error_set(err, path, 0, "file declares namespace %s, so it must be named %s%s",
                                           name, name, suffix);
        return 0;
}
