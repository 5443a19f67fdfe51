/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address strings and default socket paths. Every tool, the library and the broker resolve
 * addresses here, so a new transport (tcp:, tls:) is one more branch in
 * mbus_address_to_sockaddr() rather than a change in each caller.
 */

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/address.h"
#include "util/macro.h"

static int address_default_path(char **ret) {
        const char *runtime_dir;
        char *s;

        if (geteuid() == 0) {
                s = strdup(MBUS_ADDRESS_SYSTEM);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }

        /* A relative $XDG_RUNTIME_DIR is invalid per the basedir spec: ignore it. */
        runtime_dir = secure_getenv("XDG_RUNTIME_DIR");
        if (runtime_dir && runtime_dir[0] == '/') {
                if (asprintf(&s, "%s/mbus/socket", runtime_dir) < 0)
                        return -ENOMEM;
        } else if (asprintf(&s, "/run/user/%u/mbus/socket", (unsigned) geteuid()) < 0)
                return -ENOMEM;

        *ret = s;
        return 0;
}

int mbus_address_default(char **ret) {
        const char *e;
        char *s;

        assert(ret);

        e = secure_getenv("MBUS_ADDRESS");
        if (e && e[0]) {
                s = strdup(e);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        return address_default_path(ret);
}

int mbus_address_default_listen(char **ret) {
        assert(ret);

        return address_default_path(ret);
}

int mbus_address_to_sockaddr(const char *address, struct sockaddr_un *ret, socklen_t *ret_len) {
        const char *path;
        size_t len;

        if (!address || !ret)
                return -EINVAL;

        if (address[0] == '/')
                path = address;
        else if (strncmp(address, "unix:path=", 10) == 0)
                path = address + 10;
        else if (strncmp(address, "unix:", 5) == 0)
                path = address + 5;
        else if (strchr(address, ':'))
                return -EPROTONOSUPPORT;        /* "tcp:...": a transport we do not have */
        else
                return -EINVAL;

        if (path[0] != '/')
                return -EINVAL;
        len = strlen(path);
        if (len >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;

        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        memcpy(ret->sun_path, path, len + 1);
        if (ret_len)
                *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
        return 0;
}
