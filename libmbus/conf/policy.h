/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Access policy: compiled per-namespace rules and pure check functions. */

/*
 * A policy file names one namespace and lists rules (man mbus-policy(5)):
 *
 *   <policy namespace="org.example.Network">
 *     <allow own="true" user="systemd-network"/>
 *     <allow call="*" group="netdev"/>
 *     <allow call="GetState" user="*"/>
 *     <deny call="Reboot" user="*"/>
 *     <allow subscribe="*" user="*"/>
 *     <allow send="Refresh" user="root"/>
 *     <allow call="*" cert-cn="monitor.example.org"/>
 *   </policy>
 *
 *   {"namespace": "org.example.Network",
 *    "rules": [{"allow": "own", "user": "systemd-network"},
 *              {"allow": "call", "member": "*", "group": "netdev"},
 *              {"deny": "call", "member": "Reboot", "user": "*"}, ...]}
 *
 * XML: the root element <policy namespace=NS> holds empty elements <allow> or <deny>, each with
 * exactly one action attribute (own="true", call=MEMBER|"*", subscribe=EVENT|"*",
 * send=EVENT|"*", monitor=MEMBER|"*") and exactly one principal attribute (or address= with one cert-* principal). Nothing else: no other element,
 * attribute or text; comments are fine; entity declarations are refused.
 * JSON: {"namespace": NS, "rules": [RULE...]} ("rules" may be left out: no rules), each RULE
 * {"allow"|"deny": "own"|"call"|"subscribe"|"send"|"monitor", "member": MEMBER|"*" (optional, "*" when
 * absent, not allowed for own), principal}; user and group may also be JSON integers (ids).
 * No other key; a key twice in one object is an error.
 * Principals: user=NAME|UID|"*" ("*": everyone, certificate peers included), group=NAME|GID
 * (primary or supplementary; group="*" is refused), user="@broker" (peers running as the
 * broker's own uid), address=CIDR (network peers whose remote address is in the range; alone,
 * or with one cert-* principal in the same rule, when both must match), cert-cn= (compared exactly), cert-san= ("DNS:x", "URI:x", "email:x", "IP:x",
 * the type in any case and kept in this spelling: that type only; without a known type: a SAN
 * of any type with that value; DNS values compare case-insensitively, IP by address, the rest
 * exactly), cert-fingerprint= (SHA-256: 64 hex digits, colons optional, case-insensitive;
 * kept lowercase without colons).
 * User and group names are resolved when the file is loaded. An unknown name is an error of a
 * strict load; a lenient load (the broker's) warns and keeps the rule, which then matches nobody
 * (a mapping with an unknown user or group is left out).
 * The file must be named NS.xml or NS.json for the namespace it declares. Each rule keeps its
 * text ("deny call Reboot user=*": verb, action, member or "*" unless own, principal as
 * written) and line (XML: the element's; JSON: where the rule's object begins).
 *
 * Precedence, deterministic and independent of rule order: among the rules that match the
 * identity, action, namespace and member, the most specific wins; specificity = member rank
 * (a named member 5, "*"/absent 0) + principal rank (a cert-* with address= 4; user, uid,
 * @broker, cert-* 3; group, address= alone 2; "*" 0). At equal specificity deny beats allow. Between equal rules of the same verdict the
 * first in the file is named as the deciding rule. Rules bind root like anyone else: a
 * matching deny refuses root too; only the defaults favour uid 0.
 * Limits: a file is at most MBUS_IDL_FILE_SIZE_MAX bytes and 4096 rules.
 * Mappings: policy.d/@identities.xml (<identities><map cert-cn="node1" user="netd"/>...) or
 * .json ({"maps": [{"cert-cn": "node1", "user": "netd"}]}) maps a certificate (one cert-*
 * principal) to a user and optionally group= (the primary group, as systemd's User=/Group=):
 * a network peer with it has that uid and the groups getgrouplist() gives, resolved at load,
 * for user and group rules and the defaults. They apply bus-wide, being about peers, not
 * namespaces; an admin directory's file replaces a vendor one as a whole.
 * No matching rule: the scope's default decides:
 *   system scope (broker runs as root): own, monitor: only uid 0; call, subscribe, send: uid 0 and the
 *     namespace owner's uid.
 *   user scope: everything for peers of the broker's uid, nothing for others.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf/file-error.h"

enum mbus_policy_scope {
        MBUS_POLICY_SCOPE_SYSTEM,
        MBUS_POLICY_SCOPE_USER,
        _MBUS_POLICY_SCOPE_MAX,
        _MBUS_POLICY_SCOPE_INVALID = -EINVAL,
};

enum mbus_policy_action {
        MBUS_POLICY_OWN,
        MBUS_POLICY_CALL,
        MBUS_POLICY_SUBSCRIBE,
        MBUS_POLICY_SEND,
        MBUS_POLICY_MONITOR,            /* watch a namespace's traffic (daemon/monitor.c) */
        _MBUS_POLICY_ACTION_MAX,
        _MBUS_POLICY_ACTION_INVALID = -EINVAL,
};

enum mbus_principal_kind {
        MBUS_PRINCIPAL_ANY,             /* "*" */
        MBUS_PRINCIPAL_USER,            /* uid */
        MBUS_PRINCIPAL_BROKER_USER,     /* "@broker" */
        MBUS_PRINCIPAL_GROUP,           /* gid */
        MBUS_PRINCIPAL_CERT_CN,
        MBUS_PRINCIPAL_CERT_SAN,
        MBUS_PRINCIPAL_CERT_FINGERPRINT,
        MBUS_PRINCIPAL_ADDRESS,         /* address= alone: network peers from a range */
        _MBUS_PRINCIPAL_KIND_MAX,
};

/* GNU C (c_std=gnu11) predefines "unix" as 1; the field below is named unix all the same. */
#undef unix

/*
 * Who asks. UNIX peers have unix set (SO_PEERCRED); network peers have addr (the remote
 * address, AF_INET or AF_INET6) and, over TLS, the cert fields. SANs are written with their
 * type: "DNS:node1.example.org", "URI:spiffe://...", "email:a@b", "IP:192.0.2.7".
 */
struct mbus_identity {
        bool unix;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        const char *cert_cn;
        const char *const *cert_sans;
        size_t n_cert_sans;
        const char *cert_fingerprint;   /* lowercase hex without colons */
        const struct sockaddr *addr;    /* NULL for UNIX peers */
};

/*
 * A range of remote addresses (address=): an IPv4 or IPv6 network with its prefix length; host
 * bits are zero. IPv4-mapped IPv6 ranges (::ffff:0:0/96 and within) are kept as IPv4, and an
 * IPv4-mapped peer address is compared as IPv4, so an IPv4 rule covers peers of a dual-stack
 * listener too.
 */
struct mbus_policy_cidr {
        int family;                     /* AF_INET, AF_INET6; 0: no range */
        unsigned char addr[16];         /* network byte order; 4 bytes used for AF_INET */
        unsigned prefixlen;
};

struct mbus_policy_rule {
        bool allow;
        enum mbus_policy_action action;
        char *member;                   /* NULL: every member */
        enum mbus_principal_kind kind;
        uid_t uid;                      /* USER */
        gid_t gid;                      /* GROUP */
        char *value;                    /* CERT_*: normalized */
        struct mbus_policy_cidr address;        /* ADDRESS, or with a CERT_* kind: both must match */
        char *text;                     /* the rule as a person reads it: "deny call Reboot user=*" */
        const char *path;               /* the file, owned by the policy */
        unsigned line;
        bool unresolved;                /* unknown user or group (a lenient load's warning): matches nobody */
};

/*
 * A certificate mapped to a local user (policy.d/@identities.xml or .json): a network peer
 * with the certificate is judged as the user, with the user's groups, by user and group rules
 * and by the scope's defaults. One certificate principal, normalized as in rules.
 */
struct mbus_policy_map {
        enum mbus_principal_kind kind;          /* CERT_CN, CERT_SAN or CERT_FINGERPRINT */
        char *value;
        uid_t uid;
        gid_t gid;                              /* group= or the user's primary group; -1: none */
        gid_t *groups;                          /* getgrouplist() of the user and gid, gid included */
        size_t n_groups;
        char *text;                             /* "certificate CN=node1 mapped to user netd" */
        const char *path;                       /* the file, owned by the policy */
        unsigned line;
};

/* The file of mappings in a policy.d directory: MBUS_POLICY_IDENTITIES_NAME ".xml" or ".json". */
#define MBUS_POLICY_IDENTITIES_NAME "@identities"

struct mbus_policy_decision {
        bool allow;
        const struct mbus_policy_rule *rule;    /* NULL: the scope's default decided */
        const char *default_text;               /* set when rule is NULL: why, in words */
        const struct mbus_policy_map *map;      /* the decision judged the peer as this mapping's user */
};

struct mbus_policy;
struct mbus_conf_report;        /* conf/confdir.h */

/* Lifecycle. */
int mbus_policy_new(struct mbus_policy **ret, enum mbus_policy_scope scope, uid_t broker_uid);
struct mbus_policy *mbus_policy_free(struct mbus_policy *p);

/*
 * Loads one policy file (XML or JSON by extension) into p, replacing any rules p has for the
 * same namespace (later search directories override earlier ones); a file named
 * MBUS_POLICY_IDENTITIES_NAME.xml/.json holds mappings and replaces p's mappings as a whole. Returns 0, -EBADMSG with
 * *err filled (file:line: what), -errno if unreadable, -ENOMEM.
 */
int mbus_policy_add_file(struct mbus_policy *p, const char *path, struct mbus_file_error *err);

/*
 * Like mbus_policy_add_file(), and with report (may be NULL) a lenient file: an unknown user or
 * group is report->warning()'s (see struct mbus_conf_report), not an error.
 */
int mbus_policy_add_file_report(struct mbus_policy *p, const char *path, const struct mbus_conf_report *report,
                                struct mbus_file_error *err);

/*
 * Builds a whole new policy from the policy.d directories dirs[0..n_dirs) in order (missing
 * directories are fine). Nothing is half-loaded: on any error *ret is untouched.
 */
int mbus_policy_load(struct mbus_policy **ret, const char *const *dirs, size_t n_dirs,
                     enum mbus_policy_scope scope, uid_t broker_uid, struct mbus_file_error *err);

/*
 * The broker's load: like mbus_policy_load() with report NULL; with report, lenient: a file
 * that fails to load is left out with what earlier directories gave its namespace (which the
 * scope's default then decides) and reported, unknown names are warnings, and the load fails
 * only for memory.
 */
int mbus_policy_load_report(struct mbus_policy **ret, const char *const *dirs, size_t n_dirs,
                            enum mbus_policy_scope scope, uid_t broker_uid, const struct mbus_conf_report *report,
                            struct mbus_file_error *err);

/* Forgets the rules of namespace name (the mappings for MBUS_POLICY_IDENTITIES_NAME). */
void mbus_policy_drop(struct mbus_policy *p, const char *name);

/*
 * Puts what from has for namespace name (its rules; the mappings for
 * MBUS_POLICY_IDENTITIES_NAME) into p in place of p's, moving it out of from; if from has none,
 * p has none either. How a reload keeps a running namespace's rules when its file broke.
 * Returns 0 or -ENOMEM (p then has none for name).
 */
int mbus_policy_adopt(struct mbus_policy *p, struct mbus_policy *from, const char *name);

/*
 * Decides whether who may do action on namespace ns (member: the procedure or event, NULL for
 * OWN); owner_uid is the uid of the namespace's current owner or NULL if none/not a UNIX peer.
 * Returns 0 (allow) or -EACCES (deny), with the deciding rule or default in *ret (may be NULL).
 * Pure: no I/O, no logging.
 */
int mbus_policy_check(const struct mbus_policy *p, const struct mbus_identity *who,
                      enum mbus_policy_action action, const char *ns, const char *member,
                      const uid_t *owner_uid, struct mbus_policy_decision *ret);

/* "rule 'deny call Reboot user=*' at /etc/mbus/policy.d/org.example.Network.xml:12" or the
 * default's text, into buf, followed by " (certificate CN=node1 mapped to user netd by
 * PATH:LINE)" if a mapping decided who the peer is; returns buf. */
const char *mbus_policy_decision_describe(const struct mbus_policy_decision *d, char *buf, size_t size);

/*
 * Like mbus_policy_add_file() for text already in memory (len bytes; path names the form by
 * its extension and is used for messages and the file-name check).
 */
int mbus_policy_add_text(struct mbus_policy *p, const char *path, const char *text, size_t len,
                         struct mbus_file_error *err);

/*
 * The rules of one namespace, looked up once: the router checks every subscriber of one event
 * with one hash lookup. NULL: no file names ns (the scope's default decides everything).
 */
struct mbus_policy_namespace;
const struct mbus_policy_namespace *mbus_policy_find(const struct mbus_policy *p, const char *ns);

/* mbus_policy_check() with the namespace already looked up (pn may be NULL). */
int mbus_policy_check_namespace(const struct mbus_policy *p, const struct mbus_policy_namespace *pn,
                                const struct mbus_identity *who, enum mbus_policy_action action,
                                const char *member, const uid_t *owner_uid, struct mbus_policy_decision *ret);

/*
 * "192.0.2.0/24", "2001:db8::/32", or one address ("192.0.2.7": /32, "2001:db8::7": /128) ->
 * *ret. Returns 0, -EINVAL if s is no such text, -ERANGE if the prefix is longer than the
 * address (32, 128), -EDOM if bits are set past the prefix ("192.0.2.1/24"); *ret is written
 * only on success.
 */
int mbus_policy_cidr_parse(const char *s, struct mbus_policy_cidr *ret);
/* Whether sa (AF_INET or AF_INET6; NULL and other families: never) lies in c. */
bool mbus_policy_cidr_contains(const struct mbus_policy_cidr *c, const struct sockaddr *sa);

/*
 * The mapping that applies to who, or NULL: UNIX peers are never mapped; of the mappings that
 * match a network peer's certificate, a fingerprint beats a SAN beats a CN, then the first in
 * the file. Pure.
 */
const struct mbus_policy_map *mbus_policy_find_map(const struct mbus_policy *p, const struct mbus_identity *who);

/*
 * The groups of user name as a process of the user started with primary group gid has them
 * (getgrouplist(), as initgroups() sets them), gid included, into a new array. Returns 0,
 * -ENOMEM, -E2BIG past 65536 groups. How mappings (and mbus-introspect --user) get groups.
 */
int mbus_policy_user_groups(const char *name, gid_t gid, gid_t **ret, size_t *ret_n);

/* Queries. */
enum mbus_policy_scope mbus_policy_get_scope(const struct mbus_policy *p);
uid_t mbus_policy_get_broker_uid(const struct mbus_policy *p);
size_t mbus_policy_n_namespaces(const struct mbus_policy *p);
/* The rules of namespace ns in file order (NULL/0 if none), and the file they came from. */
const struct mbus_policy_rule *mbus_policy_get_rules(const struct mbus_policy *p, const char *ns, size_t *ret_n,
                                                     const char **ret_path);
/* The mappings in file order (NULL/0 if none), and the file they came from. */
const struct mbus_policy_map *mbus_policy_get_maps(const struct mbus_policy *p, size_t *ret_n, const char **ret_path);
const char *mbus_policy_scope_to_string(enum mbus_policy_scope s);
enum mbus_policy_scope mbus_policy_scope_from_string(const char *s);
bool mbus_policy_has_namespace(const struct mbus_policy *p, const char *ns);
const char *mbus_policy_action_to_string(enum mbus_policy_action a);
enum mbus_policy_action mbus_policy_action_from_string(const char *s);

static inline void mbus_policy_freep(struct mbus_policy **p) {
        if (*p)
                *p = mbus_policy_free(*p);
}
