/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peer credentials. SO_PEERCRED gives uid/gid/pid as of connect(); SO_PEERGROUPS the
 * supplementary groups. The group list is sized by asking the kernel (ERANGE tells the size),
 * so a peer with no supplementary groups costs no allocation: idle peers stay small.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/policy.h"
#include "creds.h"
#include "util/macro.h"

static int creds_read_groups(int fd, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 0;

        /* A first call with no room tells the size (ERANGE), or succeeds for zero groups. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) >= 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (errno == ENOPROTOOPT || errno == EINVAL) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (errno != ERANGE)
                return negative_errno();

        for (unsigned attempt = 0; attempt < 4; attempt++) {
                free(groups);
                groups = malloc(len ? len : sizeof(gid_t));
                if (!groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0) {
                        *ret_n = len / sizeof(gid_t);
                        *ret = *ret_n > 0 ? TAKE_PTR(groups) : NULL;
                        return 0;
                }
                if (errno != ERANGE)
                        return negative_errno();
        }
        return -EAGAIN;
}

int mbus_creds_from_socket(struct mbus_creds *c, int fd) {
        struct ucred uc = {};
        socklen_t len = sizeof(uc);
        gid_t *groups = NULL;
        size_t n_groups = 0;
        int r;

        assert(c);
        assert(fd >= 0);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return negative_errno();
        if (len != sizeof(uc))
                return -EIO;

        r = creds_read_groups(fd, &groups, &n_groups);
        if (r < 0)
                return r;

        *c = (struct mbus_creds) {
                .uid = uc.uid,
                .gid = uc.gid,
                .pid = uc.pid,
                .n_groups = n_groups,
                .groups = groups,
        };
        return 0;
}

void mbus_creds_move(struct mbus_creds *dst, struct mbus_creds *src) {
        assert(dst && src);
        *dst = *src;
        *src = MBUS_CREDS_NULL;
}

void mbus_creds_done(struct mbus_creds *c) {
        if (!c)
                return;
        free(c->groups);
        *c = MBUS_CREDS_NULL;
}

void mbus_creds_to_identity(const struct mbus_creds *c, struct mbus_identity *ret) {
        assert(c && ret);
        *ret = (struct mbus_identity) {
                .unix = c->uid != (uid_t) -1,
                .uid = c->uid,
                .gid = c->gid,
                .groups = c->groups,
                .n_groups = c->n_groups,
        };
}
