/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AF_UNIX listeners: a socket we bind ourselves (directory created 0755, stale socket from a
 * dead broker removed, socket mode 0666 so access is decided by policy rather than by file
 * mode), or one inherited from systemd. A peer's identity is SO_PEERCRED + SO_PEERGROUPS,
 * read at accept (creds.c).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "creds.h"
#include "listener.h"
#include "proto/address.h"
#include "util/fd-util.h"
#include "util/macro.h"

static int uds_get_creds(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret) {
        return mbus_creds_from_socket(ret, fd);
}

const struct mbus_listener_ops mbus_listener_uds_ops = {
        .name = "unix",
        .get_creds = uds_get_creds,
};

/* The original mBus protocol on a UNIX socket (compat.c): SO_PEERCRED, as a native peer. */
const struct mbus_listener_ops mbus_listener_compat_uds_ops = {
        .name = "compat+unix",
        .get_creds = uds_get_creds,
        .compat = true,
};

/* mkdir -p of the directory holding path; the last component is not created. */
static int uds_mkdir_parents(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        char *p;

        if (!copy)
                return -ENOMEM;
        for (p = strchr(copy + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = 0;
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = '/';
        }
        return 0;
}

/* True if something accepts connections at sa: a live broker we must not steal from. */
static bool uds_is_alive(const struct sockaddr_un *sa, socklen_t len) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return false;
        return connect(fd, (const struct sockaddr *) sa, len) >= 0;
}

int mbus_listener_uds_bind(const char *address, int *ret_fd, char **ret_path) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        r = mbus_address_to_sockaddr(address, &sa, &len);
        if (r < 0)
                return r;
        if (sa.sun_path[0] == 0)
                return -EINVAL;        /* abstract sockets: not for a system bus */
        path = strdup(sa.sun_path);
        if (!path)
                return -ENOMEM;

        r = uds_mkdir_parents(path);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();

        if (bind(fd, (const struct sockaddr *) &sa, len) < 0) {
                if (errno != EADDRINUSE)
                        return negative_errno();
                if (uds_is_alive(&sa, len))
                        return -EADDRINUSE;
                /* A socket file nobody listens on: left by a broker that died. */
                if (unlink(path) < 0 && errno != ENOENT)
                        return negative_errno();
                if (bind(fd, (const struct sockaddr *) &sa, len) < 0)
                        return negative_errno();
        }
        if (chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = negative_errno();
                (void) unlink(path);
                return r;
        }

        *ret_fd = TAKE_FD(fd);
        *ret_path = TAKE_PTR(path);
        return 0;
}

int mbus_listener_uds_check(int fd) {
        int v = 0;
        socklen_t len = sizeof(v);
        struct sockaddr_storage ss = {};
        socklen_t sslen = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0 || ss.ss_family != AF_UNIX)
                return -EINVAL;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM)
                return -EINVAL;
        len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
                return -EINVAL;
        return fd_nonblock(fd, true);
}
