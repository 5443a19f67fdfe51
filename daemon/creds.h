/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Who a peer is, as the kernel told us at accept time. */

#include <stddef.h>
#include <sys/types.h>

/*
 * Read once at accept and never refreshed: a peer's identity is the one it connected with,
 * which is what policy (a later issue) decides on. groups is NULL when the peer has none.
 */
struct mbus_creds {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        size_t n_groups;
        gid_t *groups;          /* owned */
};

#define MBUS_CREDS_NULL ((struct mbus_creds) { .uid = (uid_t) -1, .gid = (gid_t) -1, .pid = 0 })

/*
 * Fills c from SO_PEERCRED and SO_PEERGROUPS of the connected AF_UNIX socket fd. A kernel
 * without SO_PEERGROUPS leaves the group list empty. Returns 0 or a negative errno; c is
 * untouched on failure.
 */
int mbus_creds_from_socket(struct mbus_creds *c, int fd);

/* Moves src into dst (which must be done or fresh); src is left as MBUS_CREDS_NULL. */
void mbus_creds_move(struct mbus_creds *dst, struct mbus_creds *src);

void mbus_creds_done(struct mbus_creds *c);

/* The identity the policy decides on (policy.h); it borrows c's group list. */
struct mbus_identity;
void mbus_creds_to_identity(const struct mbus_creds *c, struct mbus_identity *ret);
