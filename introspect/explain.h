/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus-introspect --explain: who may do what, decided offline by the broker's policy code. */

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf/policy.h"

/* One question: may who do action on ns (member) under the policy found in the search path? */
struct mbus_explain {
        const char *config_dir;                 /* DIR/policy.d only; NULL: vendor, then admin dir */
        enum mbus_policy_scope scope;
        uid_t broker_uid;                       /* whom "@broker" and the user scope mean */
        struct mbus_identity who;               /* arrays borrowed */
        const uid_t *owner_uid;                 /* the namespace owner's uid, NULL: none */
        enum mbus_policy_action action;
        const char *ns;
        const char *member;                     /* NULL for own */
};

/*
 * Loads the policy from the broker's search path (mbus_confdir_search_path()) with mbus_policy_load() and checks the
 * question with mbus_policy_check(). Writes "allow: WHY" or "deny: WHY" (WHY from
 * mbus_policy_decision_describe(): the deciding rule as file:line, or the scope's default) to
 * out. Returns 0 for allow, 1 for deny, -EBADMSG for a broken policy file (printed as
 * "PATH:LINE: message" to stderr), other negative errnos.
 */
int mbus_explain_run(const struct mbus_explain *e, FILE *out);

/* A user name or a decimal uid -> uid, primary gid, and the user's groups (getgrouplist(),
 * the primary one included), *ret_groups allocated. -ESRCH if no such user. */
int mbus_explain_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, gid_t **ret_groups,
                              size_t *ret_n_groups);

/* A decimal uid or gid; -EINVAL for anything else (and for (uid_t) -1). */
int mbus_explain_parse_id(const char *s, uid_t *ret);

/* A group name or gid -> gid; -ESRCH for an unknown name, -EINVAL for an empty one. */
int mbus_explain_resolve_group(const char *s, gid_t *ret);

/* "G1,G2,..." (names or gids) appended to *groups; -ESRCH/-EINVAL as above, with the bad item
 * in *ret_bad (pointing into a static buffer). */
int mbus_explain_parse_groups(const char *list, gid_t **groups, size_t *n_groups, const char **ret_bad);

/* A SHA-256 fingerprint, hex with or without colons, any case -> 64 lowercase hex digits in
 * ret (65 bytes). -EINVAL if it is not 32 bytes of hex. */
int mbus_explain_parse_fingerprint(const char *s, char ret[65]);

/* One IPv4 or IPv6 address (no prefix, no port) -> an AF_INET or AF_INET6 sockaddr with port 0
 * in *ret, as the broker sees a network peer. -EINVAL for anything else. */
int mbus_explain_parse_address(const char *s, struct sockaddr_storage *ret);
