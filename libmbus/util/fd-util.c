/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File descriptor helpers. safe_close() lives inline in the header; what is here needs a
 * syscall round trip and so is not worth inlining.
 */

#include <fcntl.h>

#include "util/fd-util.h"

int fd_nonblock(int fd, int nonblock) {
        int flags, nflags;

        flags = fcntl(fd, F_GETFL, 0);
        if (flags < 0)
                return -errno;

        nflags = nonblock ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
        if (nflags == flags)
                return 0;

        if (fcntl(fd, F_SETFL, nflags) < 0)
                return -errno;
        return 0;
}
