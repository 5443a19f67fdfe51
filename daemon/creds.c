/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Peer credentials. SO_PEERCRED gives uid/gid/pid as of connect(); SO_PEERGROUPS the
 * supplementary groups. The group list is sized by asking the kernel (ERANGE tells the size),
 * so a peer with no supplementary groups costs no allocation: idle peers stay small.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/policy.h"
#include "creds.h"
#include "proto/frame.h"
#include "proto/names.h"
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
                .transport = "unix",
        };
        return 0;
}

int mbus_creds_from_address(struct mbus_creds *c, const char *transport, const struct sockaddr *sa,
                            socklen_t len) {
        struct mbus_creds_remote *remote;

        assert(c && transport && sa);
        assert(len <= sizeof(remote->addr));

        remote = calloc(1, sizeof(*remote));
        if (!remote)
                return -ENOMEM;
        memcpy(&remote->addr, sa, len);
        remote->addr_len = len;
        (void) mbus_sockaddr_format(sa, len, remote->address, sizeof(remote->address));

        *c = MBUS_CREDS_NULL;
        c->transport = transport;
        c->remote = remote;
        return 0;
}

int mbus_creds_read_certificate(struct mbus_creds *c, const struct mbus_transport *t) {
        assert(c && c->remote && t);

        mbus_tls_identity_done(&c->remote->cert);
        return mbus_tls_get_identity(t, &c->remote->cert);
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
        if (c->remote)
                mbus_tls_identity_done(&c->remote->cert);
        free(c->remote);
        *c = MBUS_CREDS_NULL;
}

const char *mbus_creds_describe(const struct mbus_creds *c, char *buf, size_t size) {
        assert(c && buf && size > 0);

        if (!c->remote)
                (void) snprintf(buf, size, "uid %u", (unsigned) c->uid);
        else if (c->remote->cert.fingerprint)
                (void) snprintf(buf, size, "certificate CN=%s from %s", c->remote->cert.cn ?: "(none)",
                                c->remote->address);
        else
                (void) snprintf(buf, size, "%s peer %s", c->transport, c->remote->address);
        return buf;
}

int mbus_creds_format_groups(const struct mbus_creds *c, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0;

        assert(c && ret);

        /* 11 bytes per gid ("4294967295,") at most; a list that cannot fit is left out whole. */
        if (c->n_groups == 0 || c->n_groups > (MBUS_FIELD_STRING_MAX - 1) / 11) {
                *ret = NULL;
                return 0;
        }
        s = malloc(c->n_groups * 11 + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_groups; i++)
                len += (size_t) sprintf(s + len, "%s%u", i > 0 ? "," : "", (unsigned) c->groups[i]);
        *ret = TAKE_PTR(s);
        return 0;
}

void mbus_creds_to_caller_fields(const struct mbus_creds *c, const char *groups, const char *name,
                                 struct mbus_frame_fields *f) {
        assert(c && f);

        if (c->uid != (uid_t) -1) {
                f->has_caller_ids = true;
                f->caller_uid = c->uid;
                f->caller_gid = c->gid;
        }
        f->caller_pid = c->pid > 0 ? (uint64_t) c->pid : 0;
        f->caller_groups = groups;
        f->caller_name = name && name[0] ? name : NULL;
        if (c->remote) {
                f->caller_address = c->remote->address[0] ? c->remote->address : NULL;
                /* A CN the field cannot carry is left out rather than break the callee's parser. */
                if (c->remote->cert.cn && mbus_text_is_printable(c->remote->cert.cn) &&
                    strlen(c->remote->cert.cn) < MBUS_FIELD_STRING_MAX)
                        f->caller_cert_cn = c->remote->cert.cn;
                f->caller_cert_fingerprint = c->remote->cert.fingerprint;
        }
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
        if (c->remote) {
                ret->cert_cn = c->remote->cert.cn;
                ret->cert_sans = (const char *const *) c->remote->cert.sans;
                ret->n_cert_sans = c->remote->cert.n_sans;
                ret->cert_fingerprint = c->remote->cert.fingerprint;
                ret->addr = (const struct sockaddr *) &c->remote->addr;
        }
}
