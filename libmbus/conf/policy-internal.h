/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What policy.c and the loaders (policy-load.c, policy-xml.c, policy-json.c) share. */

#include <stdbool.h>
#include <stddef.h>

#include "conf/file-error.h"
#include "conf/policy.h"
#include "util/macro.h"

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

/* One file being loaded: where errors go, and the namespace its rules are added to. */
struct policy_load {
        const char *path;
        struct mbus_file_error *err;
        struct mbus_policy_namespace *pn;
        size_t allocated;                       /* of pn->rules */
};

/* Fills l->err as PATH:LINE: message and returns -EBADMSG. */
_printf_(3, 4) int policy_fail(struct policy_load *l, unsigned line, const char *format, ...);

/* The rule builder both forms end in (policy-load.c). */
bool policy_is_principal_key(const char *key);
/*
 * One rule: allow or deny, action name, member (NULL: every member; "*" too), principal key
 * and value as written (NULL: none), address= as written (NULL: none); at least one of the
 * two. Checks, resolves and appends it to l->pn; -EBADMSG with the line.
 */
int policy_rule_add(struct policy_load *l, unsigned line, bool allow, const char *action_name,
                    const char *member, const char *key, const char *value, const char *address);
/* The namespace the file declares: checked and stored in l->pn. */
int policy_set_namespace(struct policy_load *l, unsigned line, const char *name);

/*
 * A SAN as "TYPE:VALUE" -> the type's one spelling ("DNS", "URI", "email", "IP"; the prefix is
 * recognized in any case) with *ret_value pointing after the colon, or NULL and *ret_value = s
 * if s starts with no known type.
 */
const char *policy_san_split(const char *s, const char **ret_value);

/* The two forms (policy-xml.c, policy-json.c): text (len bytes) -> rules in l->pn. */
int policy_parse_xml(struct policy_load *l, const char *text, size_t len);
int policy_parse_json(struct policy_load *l, const char *text, size_t len);
