/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* File descriptor helpers. */

#include <errno.h>
#include <unistd.h>

/* Closes fd if it is valid, keeping errno; returns -EBADF so "fd = safe_close(fd);" works. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void safe_closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ __attribute__((__cleanup__(safe_closep)))

/* Sets or clears O_NONBLOCK. Returns 0 or negative errno. */
int fd_nonblock(int fd, int nonblock);
