/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy files -> compiled rules. Both forms (policy.h, man mbus-policy(5)) are read by their
 * own parser (policy-xml.c, policy-json.c), which only knows its syntax and ends every rule in
 * one place here, policy_rule_add(), so XML and JSON give identical rule sets by construction:
 * same checks, same names resolved the same way, same rule text.
 *
 * User and group names are resolved here, at load time (getpwnam_r/getgrnam_r): a check never
 * does NSS I/O. An unknown name is an error of a strict load (mbus-introspect --check, which
 * reports every one in the file); the broker loads leniently, where it is a warning and the rule
 * matches nobody, since a group a package creates later must not take the bus down. Every error
 * is reported as PATH:LINE: what, and nothing is half-loaded: a file is built aside and put into
 * the policy only once whole; a directory set builds a new policy, and a lenient one leaves out
 * a file that fails, with what earlier directories said of its namespace.
 */

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf-file.h"
#include "conf/confdir.h"
#include "conf/idl.h"
#include "conf/policy-internal.h"
#include "proto/names.h"
#include "util/macro.h"

#define POLICY_RULES_MAX 4096u
#define POLICY_RULE_UNRESOLVED "the rule matches nobody"
#define POLICY_MAP_UNRESOLVED "the mapping is left out"

int policy_fail(struct policy_load *l, unsigned line, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) mbus_file_error_addv(l->err, l->path, line, format, ap);
        va_end(ap);
        return -EBADMSG;
}

/* --- the rule builder both forms share ------------------------------------------------------- */

static const char *const policy_principal_keys[] = {
        "user", "group", "cert-cn", "cert-san", "cert-fingerprint",
};

bool policy_is_principal_key(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(policy_principal_keys); i++)
                if (strcmp(key, policy_principal_keys[i]) == 0)
                        return true;
        return false;
}

static bool policy_parse_id(const char *s, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!s[0] || !isdigit((unsigned char) s[0]))
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != 0 || v >= (unsigned long) (uid_t) -1)
                return false;
        *ret = v;
        return true;
}

/*
 * A user or group name (or a number) -> its id. getpwnam_r() and getgrnam_r() want a buffer of
 * a size nobody states: it grows on ERANGE, up to 1 MiB. An unknown name is an error, or, when
 * the load reports warnings, a warning (what becomes of the rule: then) and 1.
 */
static int policy_resolve_id(struct policy_load *l, unsigned line, bool group, const char *s, const char *then,
                             unsigned long *ret) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *pw_result = NULL;
        struct group gr, *gr_result = NULL;
        size_t size = 4096;
        unsigned long id = 0;
        int r;

        if (policy_parse_id(s, &id)) {
                *ret = id;
                return 0;
        }
        for (;;) {
                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                if (group)
                        r = getgrnam_r(s, &gr, buf, size, &gr_result);
                else
                        r = getpwnam_r(s, &pw, buf, size, &pw_result);
                if (r != ERANGE || size > 1024 * 1024)
                        break;
                size *= 2;
        }
        if (r != 0 || (group ? !gr_result : !pw_result)) {
                struct mbus_file_error w = {};

                if (!l->report || !l->report->warning)
                        return policy_fail(l, line, "unknown %s '%s'", group ? "group" : "user", s);
                (void) mbus_file_error_set(&w, l->path, line, "unknown %s '%s': %s", group ? "group" : "user", s,
                                           then);
                l->report->warning(&w, l->report->userdata);
                return 1;
        }
        *ret = group ? gr_result->gr_gid : pw_result->pw_uid;
        return 0;
}

/* SHA-256 as 64 hex digits, colons anywhere between them: lowercase, colons dropped. */
static int policy_normalize_fingerprint(const char *s, char **ret) {
        char out[65];
        size_t n = 0;

        for (const char *p = s; *p; p++) {
                if (*p == ':')
                        continue;
                if (!isxdigit((unsigned char) *p) || n >= 64)
                        return -EINVAL;
                out[n++] = (char) tolower((unsigned char) *p);
        }
        if (n != 64)
                return -EINVAL;
        out[n] = 0;
        *ret = strdup(out);
        return *ret ? 0 : -ENOMEM;
}

/*
 * A cert-san value: with a known type ("dns:x", "IP:2001:DB8::1") the type in its one spelling
 * and, for IP, the address in inet_ntop() form ("DNS:x", "IP:2001:db8::1"); without one, as
 * written (it then matches a SAN of any type). -EINVAL for a type with nothing after it.
 */
static int policy_normalize_san(const char *s, char **ret) {
        const char *value, *type = policy_san_split(s, &value);
        unsigned char a[16];
        char ip[INET6_ADDRSTRLEN];

        if (!type)
                *ret = strdup(s);
        else if (!value[0])
                return -EINVAL;
        else if (strcmp(type, "IP") == 0 && inet_pton(AF_INET, value, a) == 1 && inet_ntop(AF_INET, a, ip, sizeof(ip)))
                return asprintf(ret, "IP:%s", ip) < 0 ? -ENOMEM : 0;
        else if (strcmp(type, "IP") == 0 && inet_pton(AF_INET6, value, a) == 1 &&
                 inet_ntop(AF_INET6, a, ip, sizeof(ip)))
                return asprintf(ret, "IP:%s", ip) < 0 ? -ENOMEM : 0;
        else if (asprintf(ret, "%s:%s", type, value) < 0)
                return -ENOMEM;
        return *ret ? 0 : -ENOMEM;
}

static bool policy_text_is_clean(const char *s) {
        if (!s[0] || strlen(s) > MBUS_NAME_MAX || !mbus_utf8_is_valid(s, strlen(s)))
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

bool policy_is_cert_key(const char *key) {
        return strcmp(key, "cert-cn") == 0 || strcmp(key, "cert-san") == 0 || strcmp(key, "cert-fingerprint") == 0;
}

/* A cert-* principal (key is one) as rules and mappings keep it: its kind and normalized value. */
static int policy_cert_value(struct policy_load *l, unsigned line, const char *key, const char *value,
                             enum mbus_principal_kind *ret_kind, char **ret_value) {
        int r;

        if (strcmp(key, "cert-fingerprint") == 0) {
                *ret_kind = MBUS_PRINCIPAL_CERT_FINGERPRINT;
                r = policy_normalize_fingerprint(value, ret_value);
                if (r == -EINVAL)
                        return policy_fail(l, line, "invalid cert-fingerprint '%s' (expected SHA-256 as 64 hex "
                                           "digits, colons optional)", value);
                return r;
        }
        if (strcmp(key, "cert-san") == 0) {
                *ret_kind = MBUS_PRINCIPAL_CERT_SAN;
                r = policy_normalize_san(value, ret_value);
                if (r == -EINVAL)
                        return policy_fail(l, line, "invalid cert-san '%s' (nothing after the type)", value);
                return r;
        }
        *ret_kind = MBUS_PRINCIPAL_CERT_CN;
        *ret_value = strdup(value);
        return *ret_value ? 0 : -ENOMEM;
}

static int policy_parse_address(struct policy_load *l, unsigned line, const char *s, struct mbus_policy_cidr *ret) {
        int r = mbus_policy_cidr_parse(s, ret);

        if (r == -ERANGE)
                return policy_fail(l, line, "invalid address '%s': the prefix length is at most 32 for IPv4 and "
                                   "128 for IPv6", s);
        if (r == -EDOM)
                return policy_fail(l, line, "invalid address '%s': bits are set past the prefix (write the "
                                   "network's first address)", s);
        if (r < 0)
                return policy_fail(l, line, "invalid address '%s' (expected an IPv4 or IPv6 address with an "
                                   "optional /PREFIX, such as 192.0.2.0/24 or 2001:db8::/32)", s);
        return 0;
}

int policy_rule_add(struct policy_load *l, unsigned line, bool allow, const char *action_name,
                    const char *member, const char *key, const char *value, const char *address) {
        struct mbus_policy_rule rule = { .allow = allow, .line = line };
        enum mbus_policy_action action;
        unsigned long id = 0;
        int r;

        action = mbus_policy_action_from_string(action_name);
        if (action < 0)
                return policy_fail(l, line, "unknown action '%s' (expected own, call, subscribe, send or monitor)",
                                   action_name);
        rule.action = action;

        if (action == MBUS_POLICY_OWN) {
                if (member)
                        return policy_fail(l, line, "an own rule takes no member");
        } else if (member && strcmp(member, "*") != 0 && !mbus_member_is_valid(member))
                return policy_fail(l, line, "invalid member name '%s' for %s (expected a name like GetState or *)",
                                   member, action_name);

        assert(key || address);
        if (address) {
                if (key && !policy_is_cert_key(key))
                        return policy_fail(l, line, "address goes alone or with one of cert-cn, cert-san or "
                                           "cert-fingerprint, not with %s", key);
                r = policy_parse_address(l, line, address, &rule.address);
                if (r < 0)
                        return r;
        }
        if (key && !policy_text_is_clean(value))
                return policy_fail(l, line, "invalid value for %s (empty, too long or control characters)", key);

        if (!key)
                rule.kind = MBUS_PRINCIPAL_ADDRESS;
        else if (strcmp(key, "user") == 0) {
                if (strcmp(value, "*") == 0)
                        rule.kind = MBUS_PRINCIPAL_ANY;
                else if (strcmp(value, "@broker") == 0)
                        rule.kind = MBUS_PRINCIPAL_BROKER_USER;
                else {
                        rule.kind = MBUS_PRINCIPAL_USER;
                        r = policy_resolve_id(l, line, /* group= */ false, value, POLICY_RULE_UNRESOLVED, &id);
                        if (r < 0)
                                return r;
                        rule.uid = (uid_t) id;
                        rule.unresolved = r > 0;
                }
        } else if (strcmp(key, "group") == 0) {
                if (strcmp(value, "*") == 0)
                        return policy_fail(l, line, "group=\"*\" is not a group: use user=\"*\" for everyone");
                rule.kind = MBUS_PRINCIPAL_GROUP;
                r = policy_resolve_id(l, line, /* group= */ true, value, POLICY_RULE_UNRESOLVED, &id);
                if (r < 0)
                        return r;
                rule.gid = (gid_t) id;
                rule.unresolved = r > 0;
        } else {
                r = policy_cert_value(l, line, key, value, &rule.kind, &rule.value);
                if (r < 0)
                        return r;
        }

        if (member && strcmp(member, "*") != 0) {
                rule.member = strdup(member);
                if (!rule.member)
                        goto oom;
        }
        /*
         * The text a person reads in messages: as written, but fingerprints and SANs in their
         * normal form, and the address after the certificate whatever the order in the file.
         */
        if (rule.kind == MBUS_PRINCIPAL_CERT_FINGERPRINT || rule.kind == MBUS_PRINCIPAL_CERT_SAN)
                value = rule.value;
        if (asprintf(&rule.text, "%s %s%s%s%s%s%s%s%s%s", allow ? "allow" : "deny", action_name,
                     action == MBUS_POLICY_OWN ? "" : " ", action == MBUS_POLICY_OWN ? "" : (member ?: "*"),
                     key ? " " : "", key ?: "", key ? "=" : "", value ?: "",
                     address ? " address=" : "", address ?: "") < 0) {
                rule.text = NULL;
                goto oom;
        }
        rule.path = l->pn->path;

        if (l->pn->n_rules >= POLICY_RULES_MAX) {
                free(rule.member);
                free(rule.value);
                free(rule.text);
                return policy_fail(l, line, "too many rules (limit %u)", POLICY_RULES_MAX);
        }
        if (l->pn->n_rules == l->allocated) {
                size_t k = l->allocated ? l->allocated * 2 : 8;
                struct mbus_policy_rule *a = realloc(l->pn->rules, k * sizeof(*a));

                if (!a)
                        goto oom;
                l->pn->rules = a;
                l->allocated = k;
        }
        l->pn->rules[l->pn->n_rules++] = rule;
        return 0;

oom:
        free(rule.member);
        free(rule.value);
        free(rule.text);
        return -ENOMEM;
}

int policy_set_namespace(struct policy_load *l, unsigned line, const char *name) {
        if (!mbus_namespace_is_valid(name))
                return policy_fail(l, line, "invalid namespace name '%s'", name);
        l->pn->name = strdup(name);
        return l->pn->name ? 0 : -ENOMEM;
}

/* --- mappings of certificates to users -------------------------------------------------------- */

/* getgrouplist() says how many there are when the array is too small. */
int mbus_policy_user_groups(const char *name, gid_t gid, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        int n = 16;

        for (;;) {
                int k = n;
                gid_t *g = reallocarray(groups, (size_t) n, sizeof(gid_t));

                if (!g)
                        return -ENOMEM;
                groups = g;
                if (getgrouplist(name, gid, groups, &k) >= 0) {
                        *ret = TAKE_PTR(groups);
                        *ret_n = (size_t) k;
                        return 0;
                }
                n = k > n ? k : n * 2;
                if (n > 65536)
                        return -E2BIG;
        }
}

/*
 * uid -> its primary gid and groups (primary gid replaced by group if that is not -1). A uid
 * without a passwd entry (written as a number) has only group, if given, and no others.
 */
static int policy_resolve_user_groups(uid_t uid, gid_t group, gid_t *ret_gid, gid_t **ret_groups, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *result = NULL;
        size_t size = 4096;
        int r;

        for (;;) {
                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                r = getpwuid_r(uid, &pw, buf, size, &result);
                if (r != ERANGE || size > 1024 * 1024)
                        break;
                size *= 2;
        }
        if (r != 0 || !result) {
                *ret_gid = group;
                *ret_groups = NULL;
                *ret_n = 0;
                return 0;
        }
        *ret_gid = group != (gid_t) -1 ? group : result->pw_gid;
        return mbus_policy_user_groups(result->pw_name, *ret_gid, ret_groups, ret_n);
}

int policy_map_add(struct policy_load *l, unsigned line, const char *key, const char *value, const char *user,
                   const char *group) {
        static const char *const kind_words[_MBUS_PRINCIPAL_KIND_MAX] = {
                [MBUS_PRINCIPAL_CERT_CN] = "CN=",
                [MBUS_PRINCIPAL_CERT_SAN] = "SAN ",
                [MBUS_PRINCIPAL_CERT_FINGERPRINT] = "SHA-256 ",
        };
        struct mbus_policy_map map = { .line = line, .gid = (gid_t) -1 };
        struct policy_maps *m = l->maps;
        unsigned long id = 0;
        int r;

        assert(key && policy_is_cert_key(key) && user);

        if (!policy_text_is_clean(value))
                return policy_fail(l, line, "invalid value for %s (empty, too long or control characters)", key);
        if (!policy_text_is_clean(user) || strcmp(user, "*") == 0 || user[0] == '@')
                return policy_fail(l, line, "invalid user '%s' (expected a user name or uid)", user);
        r = policy_resolve_id(l, line, /* group= */ false, user, POLICY_MAP_UNRESOLVED, &id);
        if (r != 0)
                return MIN(r, 0);
        map.uid = (uid_t) id;
        if (group) {
                if (!policy_text_is_clean(group) || strcmp(group, "*") == 0)
                        return policy_fail(l, line, "invalid group '%s' (expected a group name or gid)", group);
                r = policy_resolve_id(l, line, /* group= */ true, group, POLICY_MAP_UNRESOLVED, &id);
                if (r != 0)
                        return MIN(r, 0);
                map.gid = (gid_t) id;
        }

        r = policy_cert_value(l, line, key, value, &map.kind, &map.value);
        if (r < 0)
                return r;
        assert(map.value);      /* set on success */
        for (size_t i = 0; i < m->n_maps; i++)
                if (m->maps[i].kind == map.kind && strcmp(m->maps[i].value, map.value) == 0) {
                        free(map.value);
                        return policy_fail(l, line, "%s=%s is mapped twice (first at line %u)", key, value,
                                           m->maps[i].line);
                }

        r = policy_resolve_user_groups(map.uid, map.gid, &map.gid, &map.groups, &map.n_groups);
        if (r < 0)
                goto fail;
        if (asprintf(&map.text, "certificate %s%s mapped to user %s%s%s", kind_words[map.kind], map.value, user,
                     group ? " and group " : "", group ?: "") < 0) {
                map.text = NULL;
                r = -ENOMEM;
                goto fail;
        }
        map.path = m->path;

        if (m->n_maps >= POLICY_RULES_MAX) {
                r = policy_fail(l, line, "too many mappings (limit %u)", POLICY_RULES_MAX);
                goto fail;
        }
        if (m->n_maps == l->allocated) {
                size_t k = l->allocated ? l->allocated * 2 : 8;
                struct mbus_policy_map *a = realloc(m->maps, k * sizeof(*a));

                if (!a) {
                        r = -ENOMEM;
                        goto fail;
                }
                m->maps = a;
                l->allocated = k;
        }
        m->maps[m->n_maps++] = map;
        return 0;

fail:
        free(map.value);
        free(map.groups);
        free(map.text);
        return r;
}

/* --- files ------------------------------------------------------------------------------------ */

/* The file is DIR/@identities.xml or .json. */
static bool policy_is_identities_file(const char *path, const char *suffix) {
        const char *base = strrchr(path, '/');

        base = base ? base + 1 : path;
        return strlen(base) == strlen(MBUS_POLICY_IDENTITIES_NAME) + strlen(suffix) &&
               strncmp(base, MBUS_POLICY_IDENTITIES_NAME, strlen(MBUS_POLICY_IDENTITIES_NAME)) == 0;
}

static int policy_add_identities(struct mbus_policy *p, struct policy_load *l, const char *suffix, const char *text,
                                 size_t len) {
        _cleanup_(policy_maps_freep) struct policy_maps *maps = NULL;
        int r;

        maps = calloc(1, sizeof(*maps));
        if (!maps)
                return -ENOMEM;
        maps->path = strdup(l->path);
        if (!maps->path)
                return -ENOMEM;
        l->maps = maps;

        r = strcmp(suffix, ".xml") == 0 ? policy_parse_identities_xml(l, text, len)
                                        : policy_parse_identities_json(l, text, len);
        if (r < 0)
                return r;
        policy_put_maps(p, TAKE_PTR(maps));
        return 0;
}

static int policy_add_text(struct mbus_policy *p, const char *path, const char *text, size_t len,
                           const struct mbus_conf_report *report, struct mbus_file_error *err) {
        _cleanup_(policy_namespace_freep) struct mbus_policy_namespace *pn = NULL;
        struct policy_load l = { .path = path, .err = err, .report = report };
        const char *suffix;
        int r;

        if (!p || !path || (!text && len > 0))
                return -EINVAL;
        suffix = mbus_confdir_suffix(path);
        if (!suffix)
                return mbus_file_error_set(err, path, 0, "unknown file type (expected NAMESPACE.xml or "
                                           "NAMESPACE.json)");
        if (len > MBUS_IDL_FILE_SIZE_MAX)
                return mbus_file_error_set(err, path, 0, "file too large (limit %u bytes)", MBUS_IDL_FILE_SIZE_MAX);

        mbus_file_error_begin(err);
        if (policy_is_identities_file(path, suffix))
                return policy_add_identities(p, &l, suffix, text, len);

        pn = calloc(1, sizeof(*pn));
        if (!pn)
                return -ENOMEM;
        pn->path = strdup(path);
        if (!pn->path)
                return -ENOMEM;
        l.pn = pn;

        r = strcmp(suffix, ".xml") == 0 ? policy_parse_xml(&l, text, len) : policy_parse_json(&l, text, len);
        if (r < 0)
                return r;

        r = mbus_conf_file_check_name(path, suffix, pn->name, err);
        if (r < 0)
                return r;

        return policy_put_namespace(p, TAKE_PTR(pn));
}

int mbus_policy_add_text(struct mbus_policy *p, const char *path, const char *text, size_t len,
                         struct mbus_file_error *err) {
        return policy_add_text(p, path, text, len, /* report= */ NULL, err);
}

int mbus_policy_add_file_report(struct mbus_policy *p, const char *path, const struct mbus_conf_report *report,
                                struct mbus_file_error *err) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (!p || !path)
                return -EINVAL;
        if (!mbus_confdir_suffix(path))
                return mbus_file_error_set(err, path, 0, "unknown file type (expected NAMESPACE.xml or "
                                           "NAMESPACE.json)");
        r = mbus_conf_file_read(path, MBUS_IDL_FILE_SIZE_MAX, &text, &len, err);
        if (r < 0)
                return r;
        return policy_add_text(p, path, text, len, report, err);
}

int mbus_policy_add_file(struct mbus_policy *p, const char *path, struct mbus_file_error *err) {
        return mbus_policy_add_file_report(p, path, /* report= */ NULL, err);
}

struct policy_walk {
        struct mbus_policy *policy;
        const struct mbus_conf_report *report;
};

static int policy_load_one(const struct mbus_confdir_entry *entry, void *userdata, struct mbus_file_error *err) {
        struct policy_walk *w = userdata;

        return mbus_policy_add_file_report(w->policy, entry->path, w->report, err);
}

/* A file left out takes what earlier directories said of its namespace with it. */
static int policy_skip_one(const char *name, const struct mbus_file_error *err, void *userdata) {
        struct policy_walk *w = userdata;

        if (name)
                mbus_policy_drop(w->policy, name);
        if (w->report->skipped)
                w->report->skipped(name, err, w->report->userdata);
        return 0;
}

int mbus_policy_load_report(struct mbus_policy **ret, const char *const *dirs, size_t n_dirs,
                            enum mbus_policy_scope scope, uid_t broker_uid, const struct mbus_conf_report *report,
                            struct mbus_file_error *err) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct policy_walk w = { .report = report };
        int r;

        if (!ret || (!dirs && n_dirs > 0))
                return -EINVAL;

        r = mbus_policy_new(&p, scope, broker_uid);
        if (r < 0)
                return r;
        w.policy = p;
        r = mbus_confdir_foreach(dirs, n_dirs, policy_load_one, report ? policy_skip_one : NULL, &w, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int mbus_policy_load(struct mbus_policy **ret, const char *const *dirs, size_t n_dirs,
                     enum mbus_policy_scope scope, uid_t broker_uid, struct mbus_file_error *err) {
        return mbus_policy_load_report(ret, dirs, n_dirs, scope, broker_uid, /* report= */ NULL, err);
}
