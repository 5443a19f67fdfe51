/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compiled access policy. A policy is a table from namespace to the rules of its one file
 * (policy-load.c builds it); a check is one hash lookup and a pass over that namespace's rules,
 * keeping the best match by (specificity, deny over allow, file order). Nothing here knows a
 * peer, a socket or a log: callers pass an identity and names, and get back a verdict with the
 * deciding rule, so the whole precedence is tested as tables (test-policy.c).
 *
 * Specificity (policy.h): member rank (named 5, "*" 0) + principal rank (cert-* with address
 * 4; user, uid, @broker, cert-* 3; group, address 2; "*" 0). A named member always outranks
 * any principal difference, so
 * "deny call Reboot user=*" beats "allow call * user=alice": the procedure is what the rule
 * author was precise about.
 *
 * A network peer whose certificate the @identities file maps to a user is judged as that
 * user by user and group rules and by the defaults (struct policy_subject): the mapping is
 * looked up once per check, and named in the decision when it made the difference.
 */

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/policy-internal.h"
#include "util/hashmap.h"
#include "util/macro.h"

struct mbus_policy {
        enum mbus_policy_scope scope;
        uid_t broker_uid;
        struct mbus_hashmap *namespaces;        /* name -> struct mbus_policy_namespace, owned */
        struct policy_maps *maps;               /* owned; NULL: no @identities file */
};

static const char *const policy_action_names[_MBUS_POLICY_ACTION_MAX] = {
        [MBUS_POLICY_OWN] = "own",
        [MBUS_POLICY_CALL] = "call",
        [MBUS_POLICY_SUBSCRIBE] = "subscribe",
        [MBUS_POLICY_SEND] = "send",
        [MBUS_POLICY_MONITOR] = "monitor",
};

static const char *const policy_scope_names[_MBUS_POLICY_SCOPE_MAX] = {
        [MBUS_POLICY_SCOPE_SYSTEM] = "system",
        [MBUS_POLICY_SCOPE_USER] = "user",
};

const char *mbus_policy_action_to_string(enum mbus_policy_action a) {
        return a >= 0 && a < _MBUS_POLICY_ACTION_MAX ? policy_action_names[a] : NULL;
}

enum mbus_policy_action mbus_policy_action_from_string(const char *s) {
        for (int a = 0; s && a < _MBUS_POLICY_ACTION_MAX; a++)
                if (strcmp(s, policy_action_names[a]) == 0)
                        return a;
        return _MBUS_POLICY_ACTION_INVALID;
}

const char *mbus_policy_scope_to_string(enum mbus_policy_scope s) {
        return s >= 0 && s < _MBUS_POLICY_SCOPE_MAX ? policy_scope_names[s] : NULL;
}

enum mbus_policy_scope mbus_policy_scope_from_string(const char *s) {
        for (int i = 0; s && i < _MBUS_POLICY_SCOPE_MAX; i++)
                if (strcmp(s, policy_scope_names[i]) == 0)
                        return i;
        return _MBUS_POLICY_SCOPE_INVALID;
}

/* --- lifecycle -------------------------------------------------------------------------------- */

struct mbus_policy_namespace *policy_namespace_free(struct mbus_policy_namespace *pn) {
        if (!pn)
                return NULL;
        for (size_t i = 0; i < pn->n_rules; i++) {
                free(pn->rules[i].member);
                free(pn->rules[i].value);
                free(pn->rules[i].text);
        }
        free(pn->rules);
        free(pn->path);
        free(pn->name);
        free(pn);
        return NULL;
}

struct policy_maps *policy_maps_free(struct policy_maps *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_maps; i++) {
                free(m->maps[i].value);
                free(m->maps[i].groups);
                free(m->maps[i].text);
        }
        free(m->maps);
        free(m->path);
        free(m);
        return NULL;
}

int mbus_policy_new(struct mbus_policy **ret, enum mbus_policy_scope scope, uid_t broker_uid) {
        struct mbus_policy *p;
        int r;

        if (!ret || scope < 0 || scope >= _MBUS_POLICY_SCOPE_MAX)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->scope = scope;
        p->broker_uid = broker_uid;
        r = mbus_hashmap_new(&p->namespaces, &mbus_string_hash_ops);
        if (r < 0) {
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

struct mbus_policy *mbus_policy_free(struct mbus_policy *p) {
        void *v;

        if (!p)
                return NULL;
        if (p->namespaces) {
                size_t state = 0;

                while (mbus_hashmap_iterate(p->namespaces, &state, &v, NULL)) {
                        struct mbus_policy_namespace *pn = v;

                        (void) mbus_hashmap_remove(p->namespaces, pn->name);
                        policy_namespace_free(pn);
                }
        }
        mbus_hashmap_free(p->namespaces);
        policy_maps_free(p->maps);
        free(p);
        return NULL;
}

void policy_put_maps(struct mbus_policy *p, struct policy_maps *m) {
        assert(p && m);
        policy_maps_free(p->maps);
        p->maps = m;
}

void mbus_policy_drop(struct mbus_policy *p, const char *name) {
        assert(p && name);
        if (strcmp(name, MBUS_POLICY_IDENTITIES_NAME) == 0)
                p->maps = policy_maps_free(p->maps);
        else
                policy_namespace_free(mbus_hashmap_remove(p->namespaces, name));
}

int mbus_policy_adopt(struct mbus_policy *p, struct mbus_policy *from, const char *name) {
        struct mbus_policy_namespace *pn;

        assert(p && from && name);
        mbus_policy_drop(p, name);
        if (strcmp(name, MBUS_POLICY_IDENTITIES_NAME) == 0) {
                p->maps = TAKE_PTR(from->maps);
                return 0;
        }
        pn = mbus_hashmap_remove(from->namespaces, name);
        return pn ? policy_put_namespace(p, pn) : 0;
}

int policy_put_namespace(struct mbus_policy *p, struct mbus_policy_namespace *pn) {
        struct mbus_policy_namespace *old;
        int r;

        assert(p && pn && pn->name);

        old = mbus_hashmap_remove(p->namespaces, pn->name);
        policy_namespace_free(old);
        r = mbus_hashmap_put(p->namespaces, pn->name, pn);
        if (r < 0)
                policy_namespace_free(pn);
        return r;
}

/* --- address ranges ------------------------------------------------------------------------ */

static const unsigned char policy_v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int mbus_policy_cidr_parse(const char *s, struct mbus_policy_cidr *ret) {
        struct mbus_policy_cidr c = {};
        char buf[INET6_ADDRSTRLEN];
        const char *slash;
        unsigned max;
        size_t n;

        if (!s || !ret)
                return -EINVAL;
        slash = strchr(s, '/');
        n = slash ? (size_t) (slash - s) : strlen(s);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (inet_pton(AF_INET, buf, c.addr) == 1) {
                c.family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
                c.family = AF_INET6;
                max = 128;
        } else
                return -EINVAL;

        c.prefixlen = max;
        if (slash) {
                const char *p = slash + 1;

                /* Decimal digits only: no sign, no blanks, at most three. */
                if (!p[0] || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3)
                        return -EINVAL;
                c.prefixlen = (unsigned) atoi(p);
                if (c.prefixlen > max)
                        return -ERANGE;
        }
        for (unsigned bit = c.prefixlen; bit < max; bit++)
                if (c.addr[bit / 8] & (0x80u >> (bit % 8)))
                        return -EDOM;

        if (c.family == AF_INET6 && c.prefixlen >= 96 &&
            memcmp(c.addr, policy_v4_mapped_prefix, sizeof(policy_v4_mapped_prefix)) == 0) {
                memmove(c.addr, c.addr + 12, 4);
                memset(c.addr + 4, 0, 12);
                c.family = AF_INET;
                c.prefixlen -= 96;
        }
        *ret = c;
        return 0;
}

bool mbus_policy_cidr_contains(const struct mbus_policy_cidr *c, const struct sockaddr *sa) {
        unsigned char a[16];
        unsigned full, rest;
        int family;

        if (!c || !sa)
                return false;
        /* Copied out by offset: sa may be any sockaddr the caller had, aligned for its own type. */
        if (sa->sa_family == AF_INET) {
                memcpy(a, (const char *) sa + offsetof(struct sockaddr_in, sin_addr), 4);
                family = AF_INET;
        } else if (sa->sa_family == AF_INET6) {
                memcpy(a, (const char *) sa + offsetof(struct sockaddr_in6, sin6_addr), 16);
                family = AF_INET6;
                if (memcmp(a, policy_v4_mapped_prefix, sizeof(policy_v4_mapped_prefix)) == 0) {
                        memmove(a, a + 12, 4);
                        family = AF_INET;
                }
        } else
                return false;
        if (family != c->family)
                return false;

        full = c->prefixlen / 8;
        rest = c->prefixlen % 8;
        if (memcmp(a, c->addr, full) != 0)
                return false;
        return rest == 0 || ((a[full] ^ c->addr[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* --- checks ----------------------------------------------------------------------------------- */

static unsigned policy_principal_rank(const struct mbus_policy_rule *rule) {
        switch (rule->kind) {
        case MBUS_PRINCIPAL_ANY:
                return 0;
        case MBUS_PRINCIPAL_GROUP:
        case MBUS_PRINCIPAL_ADDRESS:
                return 2;
        default:
                /* A certificate from a given range is narrower than the certificate anywhere. */
                return rule->address.family != 0 ? 4 : 3;
        }
}

/* The named member's 5 exceeds every principal rank, so it outweighs any difference of principals. */
static unsigned policy_rule_specificity(const struct mbus_policy_rule *rule) {
        return (rule->member ? 5 : 0) + policy_principal_rank(rule);
}

/*
 * Whom user and group rules and the defaults judge: a UNIX peer's own credentials, or those of
 * the user its certificate is mapped to; a network peer without a mapping has no uid.
 */
struct policy_subject {
        bool has_uid;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
};

static struct policy_subject policy_subject_of(const struct mbus_identity *who, const struct mbus_policy_map *map) {
        if (map)
                return (struct policy_subject) { true, map->uid, map->gid, map->groups, map->n_groups };
        if (who->unix)
                return (struct policy_subject) { true, who->uid, who->gid, who->groups, who->n_groups };
        return (struct policy_subject) { .has_uid = false };
}

static bool policy_subject_in_group(const struct policy_subject *s, gid_t gid) {
        if (!s->has_uid)
                return false;
        if (s->gid == gid)
                return true;
        for (size_t i = 0; i < s->n_groups; i++)
                if (s->groups[i] == gid)
                        return true;
        return false;
}

/* The SAN types, spelled as proto/tls.c (and OpenSSL) print them before the colon. */
static const char *const policy_san_types[] = { "DNS", "URI", "email", "IP" };

const char *policy_san_split(const char *s, const char **ret_value) {
        const char *colon = strchr(s, ':');

        for (size_t i = 0; colon && i < ELEMENTSOF(policy_san_types); i++)
                if (strlen(policy_san_types[i]) == (size_t) (colon - s) &&
                    strncasecmp(s, policy_san_types[i], (size_t) (colon - s)) == 0) {
                        *ret_value = colon + 1;
                        return policy_san_types[i];
                }
        *ret_value = s;
        return NULL;
}

/* DNS names are case-insensitive and IP addresses have many spellings; the rest compares exactly. */
static bool policy_san_values_equal(const char *type, const char *a, const char *b) {
        unsigned char x[16], y[16];

        if (strcmp(type, "DNS") == 0)
                return strcasecmp(a, b) == 0;
        if (strcmp(type, "IP") == 0) {
                if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
                        return memcmp(x, y, 4) == 0;
                if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
                        return memcmp(x, y, 16) == 0;
        }
        return strcmp(a, b) == 0;
}

/* A rule's cert-san (normalized: "DNS:x", or "x" for any type) against one SAN of the peer. */
static bool policy_san_matches(const char *rule_value, const char *san) {
        const char *rv, *sv, *rule_type, *san_type;

        rule_type = policy_san_split(rule_value, &rv);
        san_type = policy_san_split(san, &sv);
        if (!san_type)
                return !rule_type && strcmp(rv, sv) == 0;
        if (rule_type && rule_type != san_type)
                return false;
        return policy_san_values_equal(san_type, rv, sv);
}

bool policy_cert_matches(enum mbus_principal_kind kind, const char *value, const struct mbus_identity *who) {
        switch (kind) {
        case MBUS_PRINCIPAL_CERT_CN:
                return who->cert_cn && strcmp(who->cert_cn, value) == 0;
        case MBUS_PRINCIPAL_CERT_SAN:
                for (size_t i = 0; i < who->n_cert_sans; i++)
                        if (who->cert_sans[i] && policy_san_matches(value, who->cert_sans[i]))
                                return true;
                return false;
        case MBUS_PRINCIPAL_CERT_FINGERPRINT:
                return who->cert_fingerprint && strcasecmp(who->cert_fingerprint, value) == 0;
        default:
                return false;
        }
}

static bool policy_rule_matches_identity(const struct mbus_policy *p, const struct mbus_policy_rule *rule,
                                         const struct mbus_identity *who, const struct policy_subject *s) {
        if (rule->unresolved)
                return false;
        /* UNIX peers have no addr: an address never matches them. */
        if (rule->address.family != 0 && !mbus_policy_cidr_contains(&rule->address, who->addr))
                return false;

        switch (rule->kind) {
        case MBUS_PRINCIPAL_ANY:
        case MBUS_PRINCIPAL_ADDRESS:
                return true;
        case MBUS_PRINCIPAL_USER:
                return s->has_uid && s->uid == rule->uid;
        case MBUS_PRINCIPAL_BROKER_USER:
                return s->has_uid && s->uid == p->broker_uid;
        case MBUS_PRINCIPAL_GROUP:
                return policy_subject_in_group(s, rule->gid);
        default:
                return policy_cert_matches(rule->kind, rule->value, who);
        }
}

/* True if candidate decides over best (which may be NULL). */
static bool policy_rule_beats(const struct mbus_policy_rule *candidate, const struct mbus_policy_rule *best) {
        unsigned a, b;

        if (!best)
                return true;
        a = policy_rule_specificity(candidate);
        b = policy_rule_specificity(best);
        if (a != b)
                return a > b;
        /* Equal specificity: deny over allow; equal verdicts: the earlier rule stays. */
        return !candidate->allow && best->allow;
}

static int policy_default(const struct mbus_policy *p, const struct policy_subject *who,
                          const struct mbus_policy_map *map, enum mbus_policy_action action, const uid_t *owner_uid,
                          struct mbus_policy_decision *ret) {
        bool allow;
        const char *text;

        if (p->scope == MBUS_POLICY_SCOPE_USER) {
                allow = who->has_uid && who->uid == p->broker_uid;
                text = allow ? "no rule matched; the user scope's default allows peers of the broker's uid"
                             : "no rule matched; the user scope's default allows only peers of the broker's uid";
        } else if (action == MBUS_POLICY_OWN || action == MBUS_POLICY_MONITOR) {
                allow = who->has_uid && who->uid == 0;
                text = action == MBUS_POLICY_OWN ? "no rule matched; the system scope's default lets only root own a namespace"
                                                 : "no rule matched; the system scope's default lets only root monitor";
        } else {
                allow = who->has_uid && (who->uid == 0 || (owner_uid && who->uid == *owner_uid));
                text = "no rule matched; the system scope's default allows only root and the namespace owner's uid";
        }
        if (ret)
                *ret = (struct mbus_policy_decision) { .allow = allow, .rule = NULL, .default_text = text, .map = map };
        return allow ? 0 : -EACCES;
}

const struct mbus_policy_namespace *mbus_policy_find(const struct mbus_policy *p, const char *ns) {
        if (!p || !ns)
                return NULL;
        if (mbus_hashmap_size(p->namespaces) == 0)
                return NULL;
        return mbus_hashmap_get(p->namespaces, ns);
}

int mbus_policy_check_namespace(const struct mbus_policy *p, const struct mbus_policy_namespace *pn,
                                const struct mbus_identity *who, enum mbus_policy_action action,
                                const char *member, const uid_t *owner_uid, struct mbus_policy_decision *ret) {
        const struct mbus_policy_map *map = mbus_policy_find_map(p, who);
        const struct policy_subject s = policy_subject_of(who, map);
        const struct mbus_policy_rule *best = NULL;

        assert(p && who);

        for (size_t i = 0; pn && i < pn->n_rules; i++) {
                const struct mbus_policy_rule *rule = &pn->rules[i];

                if (rule->action != action)
                        continue;
                if (rule->member && (!member || strcmp(rule->member, member) != 0))
                        continue;
                if (!policy_rule_matches_identity(p, rule, who, &s))
                        continue;
                if (policy_rule_beats(rule, best))
                        best = rule;
        }
        if (!best)
                return policy_default(p, &s, map, action, owner_uid, ret);
        /* The mapping is named where it made the rule match: a uid or a group. */
        if (best->kind != MBUS_PRINCIPAL_USER && best->kind != MBUS_PRINCIPAL_BROKER_USER &&
            best->kind != MBUS_PRINCIPAL_GROUP)
                map = NULL;
        if (ret)
                *ret = (struct mbus_policy_decision) { .allow = best->allow, .rule = best, .map = map };
        return best->allow ? 0 : -EACCES;
}

int mbus_policy_check(const struct mbus_policy *p, const struct mbus_identity *who,
                      enum mbus_policy_action action, const char *ns, const char *member,
                      const uid_t *owner_uid, struct mbus_policy_decision *ret) {
        assert(p && who && ns);
        assert(action >= 0 && action < _MBUS_POLICY_ACTION_MAX);

        return mbus_policy_check_namespace(p, mbus_policy_find(p, ns), who, action, member, owner_uid, ret);
}

const struct mbus_policy_map *mbus_policy_find_map(const struct mbus_policy *p, const struct mbus_identity *who) {
        /* Higher is more particular: a fingerprint is one certificate, a CN any holder of a name. */
        static const unsigned rank[_MBUS_PRINCIPAL_KIND_MAX] = {
                [MBUS_PRINCIPAL_CERT_CN] = 1,
                [MBUS_PRINCIPAL_CERT_SAN] = 2,
                [MBUS_PRINCIPAL_CERT_FINGERPRINT] = 3,
        };
        const struct mbus_policy_map *best = NULL;

        if (!p || !who || who->unix || !p->maps)
                return NULL;
        for (size_t i = 0; i < p->maps->n_maps; i++) {
                const struct mbus_policy_map *m = &p->maps->maps[i];

                if (policy_cert_matches(m->kind, m->value, who) && (!best || rank[m->kind] > rank[best->kind]))
                        best = m;
        }
        return best;
}

const char *mbus_policy_decision_describe(const struct mbus_policy_decision *d, char *buf, size_t size) {
        int n;

        if (!buf || size == 0)
                return buf;
        if (!d) {
                buf[0] = 0;
                return buf;
        }
        if (d->rule)
                n = snprintf(buf, size, "rule '%s' at %s:%u", d->rule->text ?: "?", d->rule->path ?: "?",
                             d->rule->line);
        else
                n = snprintf(buf, size, "%s", d->default_text ?: "default");
        if (d->map && n >= 0 && (size_t) n < size)
                (void) snprintf(buf + n, size - (size_t) n, " (%s by %s:%u)", d->map->text ?: "?",
                                d->map->path ?: "?", d->map->line);
        return buf;
}

/* --- queries ---------------------------------------------------------------------------------- */

enum mbus_policy_scope mbus_policy_get_scope(const struct mbus_policy *p) {
        assert(p);
        return p->scope;
}

uid_t mbus_policy_get_broker_uid(const struct mbus_policy *p) {
        assert(p);
        return p->broker_uid;
}

bool mbus_policy_has_namespace(const struct mbus_policy *p, const char *ns) {
        return mbus_policy_find(p, ns) != NULL;
}

size_t mbus_policy_n_namespaces(const struct mbus_policy *p) {
        assert(p);
        return mbus_hashmap_size(p->namespaces);
}

const struct mbus_policy_map *mbus_policy_get_maps(const struct mbus_policy *p, size_t *ret_n, const char **ret_path) {
        const struct policy_maps *m = p ? p->maps : NULL;

        if (ret_n)
                *ret_n = m ? m->n_maps : 0;
        if (ret_path)
                *ret_path = m ? m->path : NULL;
        return m ? m->maps : NULL;
}

const struct mbus_policy_rule *mbus_policy_get_rules(const struct mbus_policy *p, const char *ns, size_t *ret_n,
                                                     const char **ret_path) {
        const struct mbus_policy_namespace *pn = mbus_policy_find(p, ns);

        if (ret_n)
                *ret_n = pn ? pn->n_rules : 0;
        if (ret_path)
                *ret_path = pn ? pn->path : NULL;
        return pn ? pn->rules : NULL;
}
