/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Who a peer is: what the kernel told us at accept time, and what its certificate says. */

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proto/address.h"
#include "proto/tls.h"

/*
 * What only a network peer has: where it connects from and, over TLS, its verified client
 * certificate. Allocated only for network peers, so a UNIX peer pays one pointer.
 */
struct mbus_creds_remote {
        struct sockaddr_storage addr;   /* the peer's address */
        socklen_t addr_len;
        char address[MBUS_SOCKADDR_FORMAT_MAX];         /* "127.0.0.1:43210", "[::1]:43210" */
        struct mbus_tls_identity cert;  /* all NULL until the TLS handshake is done, or without TLS */
};

/*
 * Read once at accept (and, for TLS, once at the end of the handshake) and never refreshed: a
 * peer's identity is the one it connected with, which is what policy decides on. UNIX peers
 * have uid/gid/pid and groups (NULL when none); network peers have uid and gid -1, pid 0 and
 * remote: without a mapping in the policy files they match no user or group rule.
 */
struct mbus_creds {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        size_t n_groups;
        gid_t *groups;          /* owned */
        const char *transport;  /* "unix", "tcp", "tls": a static string */
        struct mbus_creds_remote *remote;       /* owned; NULL for UNIX peers */
};

#define MBUS_CREDS_NULL ((struct mbus_creds) { .uid = (uid_t) -1, .gid = (gid_t) -1, .pid = 0, .transport = "unix" })

/*
 * Fills c from SO_PEERCRED and SO_PEERGROUPS of the connected AF_UNIX socket fd. A kernel
 * without SO_PEERGROUPS leaves the group list empty. Returns 0 or a negative errno; c is
 * untouched on failure.
 */
int mbus_creds_from_socket(struct mbus_creds *c, int fd);

/*
 * Fills c for a network peer connected from sa over transport ("tcp" or "tls"). Returns 0 or
 * -ENOMEM; c is untouched on failure.
 */
int mbus_creds_from_address(struct mbus_creds *c, const char *transport, const struct sockaddr *sa,
                            socklen_t len);

/* Takes over the certificate identity of a finished TLS handshake. Returns 0, -ENODATA, -ENOMEM. */
int mbus_creds_read_certificate(struct mbus_creds *c, const struct mbus_transport *t);

/* Moves src into dst (which must be done or fresh); src is left as MBUS_CREDS_NULL. */
void mbus_creds_move(struct mbus_creds *dst, struct mbus_creds *src);

void mbus_creds_done(struct mbus_creds *c);

/*
 * Who c is, for messages: "uid 1000", "certificate CN=node1 from 192.0.2.7:41234" or
 * "tcp peer 127.0.0.1:41234", into buf. Returns buf.
 */
const char *mbus_creds_describe(const struct mbus_creds *c, char *buf, size_t size);
#define MBUS_CREDS_DESCRIBE_MAX 320

/*
 * The supplementary groups as the caller_groups field wants them ("4,27,1000") in *ret, NULL
 * when there are none or they would not fit a header field. Returns 0 or -ENOMEM.
 */
int mbus_creds_format_groups(const struct mbus_creds *c, char **ret);

/*
 * Fills the caller_* fields of f (frame.h) from c; groups is what mbus_creds_format_groups()
 * made (may be NULL), name the client name (NULL or "" for none). The strings are borrowed.
 */
struct mbus_frame_fields;
void mbus_creds_to_caller_fields(const struct mbus_creds *c, const char *groups, const char *name,
                                 struct mbus_frame_fields *f);

/* The identity the policy decides on (policy.h); it borrows c's group list. */
struct mbus_identity;
void mbus_creds_to_identity(const struct mbus_creds *c, struct mbus_identity *ret);
