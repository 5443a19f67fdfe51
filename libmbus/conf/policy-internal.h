/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What policy.c shares with policy-load.c: the compiled rule set of one namespace. */

#include "conf/policy.h"

/* The rules of one namespace, from one file. Rules point at path, which this owns. */
struct mbus_policy_namespace {
        char *name;                             /* key in the policy's table */
        char *path;
        struct mbus_policy_rule *rules;
        size_t n_rules;
};

struct mbus_policy_namespace *policy_namespace_free(struct mbus_policy_namespace *pn);
static inline void policy_namespace_freep(struct mbus_policy_namespace **p) {
        if (*p)
                *p = policy_namespace_free(*p);
}

/* Puts pn into p (taken in every case), replacing and freeing what p had for its namespace. */
int policy_put_namespace(struct mbus_policy *p, struct mbus_policy_namespace *pn);
