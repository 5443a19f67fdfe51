/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON form of a policy file: {"namespace": ..., "rules": [{"allow": ACTION, ...}, ...]}.
 * json-c keeps no positions, so the text is scanned once more (policy_json_scan(), with
 * json-lines.c as idl-json.c does) for the line of every element of "rules" and for keys given
 * twice, which json-c would silently collapse. A rule's keys become the same (verb, action,
 * member, principal) the XML form gives, and policy_rule_add() compiles both alike; a numeric
 * user or group is turned into its decimal text first, so it is checked as if written so.
 * The @identities file, {"maps": [{CERT-KEY: ..., "user": ..., "group": ...}, ...]}, is read
 * the same way and its mappings compiled by policy_map_add(). A wrong rule is reported and the
 * next one read, so one run reports every rule of the file that is wrong (a rule's first
 * problem each); only a syntax error or running out of memory ends the file early.
 */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "conf/json-lines.h"
#include "conf/policy-internal.h"
#include "util/json-util.h"
#include "util/macro.h"

#define POLICY_JSON_DEPTH_MAX 16
static_assert(POLICY_JSON_DEPTH_MAX <= MBUS_JSON_LINES_DEPTH_MAX, "the line scanner must follow the tokener");

enum policy_json_key {
        POLICY_KEY_OTHER,
        POLICY_KEY_NAMESPACE,
        POLICY_KEY_RULES,
        POLICY_KEY_ALLOW,
        POLICY_KEY_DENY,
        POLICY_KEY_MEMBER,
        POLICY_KEY_USER,
        POLICY_KEY_GROUP,
        POLICY_KEY_CERT_CN,
        POLICY_KEY_CERT_SAN,
        POLICY_KEY_CERT_FINGERPRINT,
        POLICY_KEY_ADDRESS,
        POLICY_KEY_MAPS,
        _POLICY_KEY_MAX,
};

static const char *const policy_json_key_names[_POLICY_KEY_MAX] = {
        [POLICY_KEY_OTHER] = "",
        [POLICY_KEY_NAMESPACE] = "namespace",
        [POLICY_KEY_RULES] = "rules",
        [POLICY_KEY_ALLOW] = "allow",
        [POLICY_KEY_DENY] = "deny",
        [POLICY_KEY_MEMBER] = "member",
        [POLICY_KEY_USER] = "user",
        [POLICY_KEY_GROUP] = "group",
        [POLICY_KEY_CERT_CN] = "cert-cn",
        [POLICY_KEY_CERT_SAN] = "cert-san",
        [POLICY_KEY_CERT_FINGERPRINT] = "cert-fingerprint",
        [POLICY_KEY_ADDRESS] = "address",
        [POLICY_KEY_MAPS] = "maps",
};

static enum policy_json_key policy_json_key_from(const char *s, size_t len) {
        return mbus_json_lines_key(policy_json_key_names, _POLICY_KEY_MAX, s, len);
}

struct policy_json_lines {
        unsigned top;
        unsigned *rules;                /* line of rules[i] */
        size_t n_rules;
};

/* An element of the top-level "rules" (or, in the @identities file, "maps") array begins here. */
static int policy_json_on_element(const struct mbus_json_lines_step *st, size_t depth, unsigned line,
                                  void *userdata) {
        struct policy_json_lines *out = userdata;
        unsigned *a;

        if (depth != 2 || !st[0].object || (st[0].key != POLICY_KEY_RULES && st[0].key != POLICY_KEY_MAPS))
                return 0;
        a = realloc(out->rules, (out->n_rules + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        out->rules = a;
        out->rules[out->n_rules++] = line;
        return 0;
}

/* text is valid JSON (json-c accepted it) nested at most POLICY_JSON_DEPTH_MAX deep. */
static int policy_json_scan(struct policy_load *l, const char *text, size_t len, struct policy_json_lines *out) {
        const struct mbus_json_lines s = {
                .path = l->path,
                .err = l->err,
                .keys = policy_json_key_names,
                .n_keys = _POLICY_KEY_MAX,
                .on_element = policy_json_on_element,
                .userdata = out,
        };

        return mbus_json_lines_scan(&s, text, len, &out->top);
}

static int policy_json_string(struct policy_load *l, unsigned line, json_object *v, const char *key,
                              const char **ret) {
        if (!json_object_is_type(v, json_type_string))
                return policy_fail(l, line, "'%s' must be a string, not %s", key,
                                   json_type_to_name(json_object_get_type(v)));
        if ((size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v)))
                return policy_fail(l, line, "'%s' contains a NUL character", key);
        *ret = json_object_get_string(v);
        return 0;
}

/* user and group: a string, or a JSON integer turned into its decimal text in idbuf. */
static int policy_json_id(struct policy_load *l, unsigned line, json_object *v, const char *key, char idbuf[static 32],
                          const char **ret) {
        int64_t id;

        if (!json_object_is_type(v, json_type_int))
                return policy_json_string(l, line, v, key, ret);
        id = json_object_get_int64(v);
        if (id < 0 || id >= (int64_t) (uid_t) -1)
                return policy_fail(l, line, "'%s' must be a name or an id between 0 and 4294967294", key);
        (void) snprintf(idbuf, 32, "%" PRIi64, id);
        *ret = idbuf;
        return 0;
}

static int policy_json_rule(struct policy_load *l, unsigned line, size_t index, json_object *o) {
        const char *verb = NULL, *action = NULL, *member = NULL, *key = NULL, *value = NULL, *address = NULL;
        char idbuf[32];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return policy_fail(l, line, "rules[%zu] must be an object, not %s", index,
                                   json_type_to_name(json_object_get_type(o)));

        json_object_object_foreach(o, k, v) {
                enum policy_json_key key_id = policy_json_key_from(k, strlen(k));

                switch (key_id) {
                case POLICY_KEY_ALLOW:
                case POLICY_KEY_DENY:
                        if (verb)
                                return policy_fail(l, line, "a rule has both 'allow' and 'deny'");
                        verb = k;
                        r = policy_json_string(l, line, v, k, &action);
                        break;
                case POLICY_KEY_MEMBER:
                        r = policy_json_string(l, line, v, k, &member);
                        break;
                case POLICY_KEY_ADDRESS:
                        /* Given twice, the scanner has already refused it as a duplicate key. */
                        r = policy_json_string(l, line, v, k, &address);
                        break;
                case POLICY_KEY_USER:
                case POLICY_KEY_GROUP:
                case POLICY_KEY_CERT_CN:
                case POLICY_KEY_CERT_SAN:
                case POLICY_KEY_CERT_FINGERPRINT:
                        if (key)
                                return policy_fail(l, line, "a rule has two principals ('%s' and '%s'): write one "
                                                   "rule each", key, k);
                        key = k;
                        if (key_id == POLICY_KEY_USER || key_id == POLICY_KEY_GROUP)
                                r = policy_json_id(l, line, v, k, idbuf, &value);
                        else
                                r = policy_json_string(l, line, v, k, &value);
                        break;
                default:
                        return policy_fail(l, line, "unknown key '%s' in a rule (expected allow or deny, member, "
                                           "and one of user, group, cert-cn, cert-san, cert-fingerprint, "
                                           "address)", k);
                }
                if (r < 0)
                        return r;
        }
        if (!verb)
                return policy_fail(l, line, "a rule needs 'allow' or 'deny' with an action (own, call, subscribe, "
                                   "send or monitor)");
        if (!key && !address)
                return policy_fail(l, line, "a rule needs a principal (user, group, cert-cn, cert-san, "
                                   "cert-fingerprint or address)");
        return policy_rule_add(l, line, strcmp(verb, "allow") == 0, action, member, key, value, address);
}

/* text -> its top-level value in *ret, which must be an object, and the lines of its array's elements. */
static int policy_json_open(struct policy_load *l, const char *text, size_t len, const char *what, json_object **ret,
                            struct policy_json_lines *lines) {
        _cleanup_json_ json_object *o = NULL;
        int r;

        r = mbus_json_lines_parse(&o, l->path, text, len, POLICY_JSON_DEPTH_MAX, what, l->err);
        if (r < 0)
                return r;
        r = policy_json_scan(l, text, len, lines);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return policy_fail(l, lines->top, "%s must be a JSON object, not %s", what,
                                   json_type_to_name(json_object_get_type(o)));
        *ret = TAKE_PTR(o);
        return 0;
}

/* Each element of the top-level array a (key: its name; NULL: left out) to fn, with its line. */
static int policy_json_each(struct policy_load *l, const struct policy_json_lines *lines, json_object *a,
                            const char *key, int (*fn)(struct policy_load *l, unsigned line, size_t index,
                                                       json_object *o)) {
        int r, result = 0;
        size_t n;

        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return policy_fail(l, lines->top, "'%s' must be an array, not %s", key,
                                   json_type_to_name(json_object_get_type(a)));
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                r = fn(l, i < lines->n_rules ? lines->rules[i] : lines->top, i, json_object_array_get_idx(a, i));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
        }
        return result;
}

int policy_parse_json(struct policy_load *l, const char *text, size_t len) {
        _cleanup_json_ json_object *o = NULL;
        struct policy_json_lines lines = { .top = 1 };
        json_object *rules = NULL;
        const char *name = NULL;
        bool bad_name = false;
        int r, result = 0;

        r = policy_json_open(l, text, len, "the policy", &o, &lines);
        if (r < 0)
                goto finish;
        json_object_object_foreach(o, key, v) {
                enum policy_json_key k = policy_json_key_from(key, strlen(key));

                if (k == POLICY_KEY_NAMESPACE) {
                        if (policy_json_string(l, lines.top, v, key, &name) < 0)
                                bad_name = true;
                } else if (k == POLICY_KEY_RULES)
                        rules = v;
                else
                        result = policy_fail(l, lines.top, "unknown key '%s' in the policy object (expected "
                                             "namespace and rules)", key);
        }
        if (bad_name)
                result = -EBADMSG;
        /* Without a namespace the file is broken, but its rules are still checked. */
        if (!name && !bad_name)
                result = policy_fail(l, lines.top, "missing key 'namespace'");
        if (name) {
                r = policy_set_namespace(l, lines.top, name);
                if (r == -ENOMEM)
                        goto finish;
                if (r < 0)
                        result = r;
        }
        r = policy_json_each(l, &lines, rules, "rules", policy_json_rule);
        if (r != -ENOMEM && result < 0)
                r = result;
finish:
        free(lines.rules);
        return r;
}

static int policy_json_map(struct policy_load *l, unsigned line, size_t index, json_object *o) {
        const char *key = NULL, *value = NULL, *user = NULL, *group = NULL;
        char user_id[32], group_id[32];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return policy_fail(l, line, "maps[%zu] must be an object, not %s", index,
                                   json_type_to_name(json_object_get_type(o)));

        json_object_object_foreach(o, k, v) {
                switch (policy_json_key_from(k, strlen(k))) {
                case POLICY_KEY_CERT_CN:
                case POLICY_KEY_CERT_SAN:
                case POLICY_KEY_CERT_FINGERPRINT:
                        if (key)
                                return policy_fail(l, line, "a map has two certificate principals ('%s' and '%s'): "
                                                   "write one map each", key, k);
                        key = k;
                        r = policy_json_string(l, line, v, k, &value);
                        break;
                case POLICY_KEY_USER:
                        r = policy_json_id(l, line, v, k, user_id, &user);
                        break;
                case POLICY_KEY_GROUP:
                        r = policy_json_id(l, line, v, k, group_id, &group);
                        break;
                default:
                        return policy_fail(l, line, "unknown key '%s' in a map (expected one of cert-cn, cert-san, "
                                           "cert-fingerprint, and user, group)", k);
                }
                if (r < 0)
                        return r;
        }
        if (!key)
                return policy_fail(l, line, "a map needs a certificate (cert-cn, cert-san or cert-fingerprint)");
        if (!user)
                return policy_fail(l, line, "a map needs a user");
        return policy_map_add(l, line, key, value, user, group);
}

int policy_parse_identities_json(struct policy_load *l, const char *text, size_t len) {
        _cleanup_json_ json_object *o = NULL;
        struct policy_json_lines lines = { .top = 1 };
        json_object *maps = NULL;
        int r, result = 0;

        r = policy_json_open(l, text, len, "the mappings", &o, &lines);
        if (r < 0)
                goto finish;
        json_object_object_foreach(o, key, v) {
                if (policy_json_key_from(key, strlen(key)) != POLICY_KEY_MAPS)
                        result = policy_fail(l, lines.top, "unknown key '%s' in the mappings object (expected maps)",
                                             key);
                else
                        maps = v;
        }
        r = policy_json_each(l, &lines, maps, "maps", policy_json_map);
        if (r != -ENOMEM && result < 0)
                r = result;
finish:
        free(lines.rules);
        return r;
}
