/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What policy.c and the loaders (policy-load.c, policy-xml.c, policy-json.c) share. */

#include <stdbool.h>
#include <stddef.h>

#include "conf/confdir.h"
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

/* The mappings of one @identities file. Maps point at path, which this owns. */
struct policy_maps {
        char *path;
        struct mbus_policy_map *maps;
        size_t n_maps;
};

struct policy_maps *policy_maps_free(struct policy_maps *m);
static inline void policy_maps_freep(struct policy_maps **p) {
        if (*p)
                *p = policy_maps_free(*p);
}

/* Puts m into p (taken in every case), replacing and freeing the mappings p had. */
void policy_put_maps(struct mbus_policy *p, struct policy_maps *m);

/* One file being loaded: where errors go, and the namespace its rules (or the mappings) are added to. */
struct policy_load {
        const char *path;
        struct mbus_file_error *err;
        struct mbus_policy_namespace *pn;       /* a namespace's file */
        struct policy_maps *maps;               /* the @identities file */
        size_t allocated;                       /* of pn->rules or maps->maps */
        const struct mbus_conf_report *report;  /* with a warning function: unknown names are warnings */
};

/*
 * Reports PATH:LINE: message to l->err (mbus_file_error_add(): the first error of the file
 * fills it, every one is counted and listed) and returns -EBADMSG; the loaders go on after it
 * with the next rule, so one run reports all of a file's errors.
 */
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
bool policy_is_cert_key(const char *key);
/*
 * One mapping: the certificate principal key and value, user (name or uid) and group (NULL:
 * the user's primary group) as written. Checks, resolves and appends it to l->maps.
 */
int policy_map_add(struct policy_load *l, unsigned line, const char *key, const char *value, const char *user,
                   const char *group);
/* Whether a cert-* principal of kind with the normalized value matches who's certificate. */
bool policy_cert_matches(enum mbus_principal_kind kind, const char *value, const struct mbus_identity *who);
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
/* The @identities file in both forms: text -> mappings in l->maps. */
int policy_parse_identities_xml(struct policy_load *l, const char *text, size_t len);
int policy_parse_identities_json(struct policy_load *l, const char *text, size_t len);
