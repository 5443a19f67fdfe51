/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy files -> compiled rules. Both forms (policy.h, man mbus-policy(5)) end in one place,
 * policy_rule_add(), so XML and JSON give identical rule sets by construction: same checks,
 * same names resolved the same way, same rule text.
 *
 * XML is read with expat as a flat state machine (<policy> holding empty <allow>/<deny>
 * elements); entity declarations are refused. JSON is read with json-c, which keeps no
 * positions, so the text is scanned once more (policy_json_scan(), with proto/json-lines.c
 * as proto/idl-json.c does) for the line of every element of "rules" and for keys given twice, which
 * json-c would silently collapse.
 *
 * User and group names are resolved here, at load time (getpwnam_r/getgrnam_r): a check never
 * does NSS I/O, and an unknown name is an error of the file rather than a rule that silently
 * never matches. Every error is reported as PATH:LINE: what, and nothing is half-loaded: a file
 * is built aside and put into the policy only once whole; a directory set builds a new policy.
 */

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <expat.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "confdir.h"
#include "policy-internal.h"
#include "proto/conf-file.h"
#include "proto/idl.h"
#include "proto/json-lines.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"

#define POLICY_RULES_MAX 4096u
#define POLICY_JSON_DEPTH_MAX 16
static_assert(POLICY_JSON_DEPTH_MAX <= MBUS_JSON_LINES_DEPTH_MAX, "the line scanner must follow the tokener");

struct policy_load {
        const char *path;
        struct mbus_file_error *err;
        struct mbus_policy_namespace *pn;
        size_t allocated;
};

_printf_(3, 4) static int policy_fail(struct policy_load *l, unsigned line, const char *format, ...) {
        va_list ap;

        if (l->err) {
                (void) mbus_file_error_set(l->err, l->path, line, "%s", "");
                va_start(ap, format);
                (void) vsnprintf(l->err->message, sizeof(l->err->message), format, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

/* --- the rule builder both forms share ------------------------------------------------------- */

static const char *const policy_principal_keys[] = {
        "user", "group", "cert-cn", "cert-san", "cert-fingerprint",
};

static bool policy_is_principal_key(const char *key) {
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
 * a size nobody states: it grows on ERANGE, up to 1 MiB.
 */
static int policy_resolve_id(struct policy_load *l, unsigned line, bool group, const char *s, unsigned long *ret) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *pw_result = NULL;
        struct group gr, *gr_result = NULL;
        size_t size = 4096;
        unsigned long id;
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
        if (r != 0 || (group ? !gr_result : !pw_result))
                return policy_fail(l, line, "unknown %s '%s'", group ? "group" : "user", s);
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

static bool policy_text_is_clean(const char *s) {
        if (!s[0] || strlen(s) > MBUS_NAME_MAX || !mbus_utf8_is_valid(s, strlen(s)))
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

/*
 * One rule: verb "allow"/"deny", action name, member (NULL: every member; "*" too), principal
 * key and value as written. Appends it to l->pn or fails with the line.
 */
static int policy_rule_add(struct policy_load *l, unsigned line, bool allow, const char *action_name,
                           const char *member, const char *key, const char *value) {
        struct mbus_policy_rule rule = { .allow = allow, .line = line };
        enum mbus_policy_action action;
        unsigned long id = 0;
        int r;

        action = mbus_policy_action_from_string(action_name);
        if (action < 0)
                return policy_fail(l, line, "unknown action '%s' (expected own, call, subscribe or send)",
                                   action_name);
        rule.action = action;

        if (action == MBUS_POLICY_OWN) {
                if (member)
                        return policy_fail(l, line, "an own rule takes no member");
        } else if (member && strcmp(member, "*") != 0 && !mbus_member_is_valid(member))
                return policy_fail(l, line, "invalid member name '%s' for %s (expected a name like GetState or *)",
                                   member, action_name);

        if (!policy_text_is_clean(value))
                return policy_fail(l, line, "invalid value for %s (empty, too long or control characters)", key);

        if (strcmp(key, "user") == 0) {
                if (strcmp(value, "*") == 0)
                        rule.kind = MBUS_PRINCIPAL_ANY;
                else if (strcmp(value, "@broker") == 0)
                        rule.kind = MBUS_PRINCIPAL_BROKER_USER;
                else {
                        rule.kind = MBUS_PRINCIPAL_USER;
                        r = policy_resolve_id(l, line, /* group= */ false, value, &id);
                        if (r < 0)
                                return r;
                        rule.uid = (uid_t) id;
                }
        } else if (strcmp(key, "group") == 0) {
                if (strcmp(value, "*") == 0)
                        return policy_fail(l, line, "group=\"*\" is not a group: use user=\"*\" for everyone");
                rule.kind = MBUS_PRINCIPAL_GROUP;
                r = policy_resolve_id(l, line, /* group= */ true, value, &id);
                if (r < 0)
                        return r;
                rule.gid = (gid_t) id;
        } else if (strcmp(key, "cert-fingerprint") == 0) {
                rule.kind = MBUS_PRINCIPAL_CERT_FINGERPRINT;
                r = policy_normalize_fingerprint(value, &rule.value);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return policy_fail(l, line, "invalid cert-fingerprint '%s' (expected SHA-256 as 64 hex "
                                           "digits, colons optional)", value);
        } else {
                rule.kind = strcmp(key, "cert-cn") == 0 ? MBUS_PRINCIPAL_CERT_CN : MBUS_PRINCIPAL_CERT_SAN;
                rule.value = strdup(value);
                if (!rule.value)
                        return -ENOMEM;
        }

        if (member && strcmp(member, "*") != 0) {
                rule.member = strdup(member);
                if (!rule.member)
                        goto oom;
        }
        /* The text a person reads in messages: as written, but fingerprints in their normal form. */
        if (asprintf(&rule.text, "%s %s%s%s %s=%s", allow ? "allow" : "deny", action_name,
                     action == MBUS_POLICY_OWN ? "" : " ", action == MBUS_POLICY_OWN ? "" : (member ?: "*"),
                     key, rule.kind == MBUS_PRINCIPAL_CERT_FINGERPRINT ? rule.value : value) < 0) {
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

static int policy_set_namespace(struct policy_load *l, unsigned line, const char *name) {
        if (!mbus_namespace_is_valid(name))
                return policy_fail(l, line, "invalid namespace name '%s'", name);
        l->pn->name = strdup(name);
        return l->pn->name ? 0 : -ENOMEM;
}

/* --- XML -------------------------------------------------------------------------------------- */

struct policy_xml {
        struct policy_load *l;
        XML_Parser parser;
        int error;
        unsigned depth;                 /* 0: document, 1: <policy>, 2: a rule */
        bool seen_policy;
};

static unsigned policy_xml_line(struct policy_xml *x) {
        return (unsigned) XML_GetCurrentLineNumber(x->parser);
}

static void policy_xml_stop(struct policy_xml *x, int r) {
        if (x->error < 0 || r >= 0)
                return;
        x->error = r;
        (void) XML_StopParser(x->parser, /* resumable= */ XML_FALSE);
}

static void policy_xml_rule(struct policy_xml *x, const char *element, const XML_Char **attrs) {
        unsigned line = policy_xml_line(x);
        const char *action = NULL, *member = NULL, *key = NULL, *value = NULL;

        for (size_t i = 0; attrs[i]; i += 2) {
                const char *a = attrs[i], *v = attrs[i + 1];

                if (mbus_policy_action_from_string(a) >= 0) {
                        if (action) {
                                policy_xml_stop(x, policy_fail(x->l, line, "<%s> has two actions (%s and %s): "
                                                               "write one rule each", element, action, a));
                                return;
                        }
                        action = a;
                        if (strcmp(a, "own") == 0) {
                                if (strcmp(v, "true") != 0) {
                                        policy_xml_stop(x, policy_fail(x->l, line,
                                                                       "own must be \"true\", not \"%s\"", v));
                                        return;
                                }
                        } else
                                member = v;
                } else if (policy_is_principal_key(a)) {
                        if (key) {
                                policy_xml_stop(x, policy_fail(x->l, line, "<%s> has two principals (%s and "
                                                               "%s): write one rule each", element, key, a));
                                return;
                        }
                        key = a;
                        value = v;
                } else {
                        policy_xml_stop(x, policy_fail(x->l, line, "unknown attribute '%s' on <%s>", a,
                                                       element));
                        return;
                }
        }
        if (!action) {
                policy_xml_stop(x, policy_fail(x->l, line, "<%s> has no action (own, call, subscribe or send)",
                                               element));
                return;
        }
        if (!key) {
                policy_xml_stop(x, policy_fail(x->l, line, "<%s> has no principal (user, group, cert-cn, "
                                               "cert-san or cert-fingerprint)", element));
                return;
        }
        policy_xml_stop(x, policy_rule_add(x->l, line, strcmp(element, "allow") == 0, action, member, key, value));
}

static void XMLCALL policy_xml_on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        struct policy_xml *x = userdata;
        unsigned line;

        if (x->error < 0)
                return;
        line = policy_xml_line(x);

        if (x->depth == 0) {
                const char *ns = NULL;

                if (strcmp(name, "policy") != 0) {
                        policy_xml_stop(x, policy_fail(x->l, line, "unknown element <%s>: the root element "
                                                       "must be <policy>", name));
                        return;
                }
                for (size_t i = 0; attrs[i]; i += 2) {
                        if (strcmp(attrs[i], "namespace") != 0) {
                                policy_xml_stop(x, policy_fail(x->l, line, "unknown attribute '%s' on <policy>",
                                                               attrs[i]));
                                return;
                        }
                        ns = attrs[i + 1];
                }
                if (!ns) {
                        policy_xml_stop(x, policy_fail(x->l, line, "<policy> has no namespace attribute"));
                        return;
                }
                x->seen_policy = true;
                x->depth = 1;
                policy_xml_stop(x, policy_set_namespace(x->l, line, ns));
                return;
        }
        if (x->depth == 1 && (strcmp(name, "allow") == 0 || strcmp(name, "deny") == 0)) {
                x->depth = 2;
                policy_xml_rule(x, name, attrs);
                return;
        }
        if (x->depth == 1) {
                policy_xml_stop(x, policy_fail(x->l, line, "unknown element <%s> in <policy> (expected "
                                               "<allow> or <deny>)", name));
                return;
        }
        policy_xml_stop(x, policy_fail(x->l, line, "unexpected element <%s> inside a rule (rules are empty "
                                       "elements)", name));
}

static void XMLCALL policy_xml_on_end(void *userdata, const XML_Char *name) {
        struct policy_xml *x = userdata;

        if (x->error < 0)
                return;
        x->depth--;
}

static void XMLCALL policy_xml_on_text(void *userdata, const XML_Char *s, int len) {
        struct policy_xml *x = userdata;

        if (x->error < 0)
                return;
        for (int i = 0; i < len; i++)
                if (!strchr(" \t\r\n", s[i])) {
                        policy_xml_stop(x, policy_fail(x->l, policy_xml_line(x), "unexpected text in <%s>",
                                                       x->depth >= 2 ? "a rule" : "policy"));
                        return;
                }
}

static void XMLCALL policy_xml_on_entity_decl(void *userdata, const XML_Char *name, int is_parameter_entity,
                                              const XML_Char *value, int value_length, const XML_Char *base,
                                              const XML_Char *system_id, const XML_Char *public_id,
                                              const XML_Char *notation_name) {
        struct policy_xml *x = userdata;

        policy_xml_stop(x, policy_fail(x->l, policy_xml_line(x), "entity declarations are not allowed"));
}

static int policy_parse_xml(struct policy_load *l, const char *text, size_t len) {
        struct policy_xml x = { .l = l };
        enum XML_Status status;

        x.parser = XML_ParserCreate(NULL);
        if (!x.parser)
                return -ENOMEM;
        XML_SetUserData(x.parser, &x);
        XML_SetElementHandler(x.parser, policy_xml_on_start, policy_xml_on_end);
        XML_SetCharacterDataHandler(x.parser, policy_xml_on_text);
        XML_SetEntityDeclHandler(x.parser, policy_xml_on_entity_decl);

        status = XML_Parse(x.parser, text ?: "", (int) len, /* isFinal= */ XML_TRUE);
        if (status != XML_STATUS_OK && x.error == 0)
                x.error = policy_fail(l, (unsigned) XML_GetCurrentLineNumber(x.parser), "XML syntax error: %s",
                                      XML_ErrorString(XML_GetErrorCode(x.parser)));
        XML_ParserFree(x.parser);
        if (x.error < 0)
                return x.error;
        if (!x.seen_policy)
                return policy_fail(l, 1, "no <policy> element");
        return 0;
}

/* --- JSON ------------------------------------------------------------------------------------- */

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
};

static enum policy_json_key policy_json_key_from(const char *s, size_t len) {
        return mbus_json_lines_key(policy_json_key_names, _POLICY_KEY_MAX, s, len);
}

struct policy_json_lines {
        unsigned top;
        unsigned *rules;                /* line of rules[i] */
        size_t n_rules;
};

/* An element of the top-level "rules" array begins here. */
static int policy_json_on_element(const struct mbus_json_lines_step *st, size_t depth, unsigned line,
                                  void *userdata) {
        struct policy_json_lines *out = userdata;
        unsigned *a;

        if (depth != 2 || !st[0].object || st[0].key != POLICY_KEY_RULES)
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

static int policy_json_rule(struct policy_load *l, unsigned line, size_t index, json_object *o) {
        const char *verb = NULL, *action = NULL, *member = NULL, *key = NULL, *value = NULL;
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
                case POLICY_KEY_USER:
                case POLICY_KEY_GROUP:
                case POLICY_KEY_CERT_CN:
                case POLICY_KEY_CERT_SAN:
                case POLICY_KEY_CERT_FINGERPRINT:
                        if (key)
                                return policy_fail(l, line, "a rule has two principals ('%s' and '%s'): write one "
                                                   "rule each", key, k);
                        key = k;
                        if ((key_id == POLICY_KEY_USER || key_id == POLICY_KEY_GROUP) &&
                            json_object_is_type(v, json_type_int)) {
                                int64_t id = json_object_get_int64(v);

                                if (id < 0 || id >= (int64_t) (uid_t) -1)
                                        return policy_fail(l, line, "'%s' must be a name or an id between 0 and "
                                                           "4294967294", k);
                                (void) snprintf(idbuf, sizeof(idbuf), "%" PRIi64, id);
                                value = idbuf;
                                r = 0;
                        } else
                                r = policy_json_string(l, line, v, k, &value);
                        break;
                default:
                        return policy_fail(l, line, "unknown key '%s' in a rule (expected allow or deny, member, "
                                           "and one of user, group, cert-cn, cert-san, cert-fingerprint)", k);
                }
                if (r < 0)
                        return r;
        }
        if (!verb)
                return policy_fail(l, line, "a rule needs 'allow' or 'deny' with an action (own, call, subscribe "
                                   "or send)");
        if (!key)
                return policy_fail(l, line, "a rule needs a principal (user, group, cert-cn, cert-san or "
                                   "cert-fingerprint)");
        return policy_rule_add(l, line, strcmp(verb, "allow") == 0, action, member, key, value);
}

static int policy_parse_json(struct policy_load *l, const char *text, size_t len) {
        _cleanup_json_ json_object *o = NULL;
        struct policy_json_lines lines = { .top = 1 };
        json_object *rules = NULL;
        const char *name = NULL;
        int r;

        r = mbus_json_lines_parse(&o, l->path, text, len, POLICY_JSON_DEPTH_MAX, "the policy", l->err);
        if (r < 0)
                return r;
        r = policy_json_scan(l, text, len, &lines);
        if (r < 0)
                goto finish;

        if (!json_object_is_type(o, json_type_object)) {
                r = policy_fail(l, lines.top, "the policy must be a JSON object, not %s",
                                json_type_to_name(json_object_get_type(o)));
                goto finish;
        }
        json_object_object_foreach(o, key, v) {
                enum policy_json_key k = policy_json_key_from(key, strlen(key));

                if (k == POLICY_KEY_NAMESPACE)
                        r = policy_json_string(l, lines.top, v, key, &name);
                else if (k == POLICY_KEY_RULES)
                        rules = v;
                else
                        r = policy_fail(l, lines.top, "unknown key '%s' in the policy object (expected namespace "
                                        "and rules)", key);
                if (r < 0)
                        goto finish;
        }
        if (!name) {
                r = policy_fail(l, lines.top, "missing key 'namespace'");
                goto finish;
        }
        r = policy_set_namespace(l, lines.top, name);
        if (r < 0)
                goto finish;
        if (rules) {
                size_t n;

                if (!json_object_is_type(rules, json_type_array)) {
                        r = policy_fail(l, lines.top, "'rules' must be an array, not %s",
                                        json_type_to_name(json_object_get_type(rules)));
                        goto finish;
                }
                n = json_object_array_length(rules);
                for (size_t i = 0; i < n; i++) {
                        unsigned line = i < lines.n_rules ? lines.rules[i] : lines.top;

                        r = policy_json_rule(l, line, i, json_object_array_get_idx(rules, i));
                        if (r < 0)
                                goto finish;
                }
        }
        r = 0;
finish:
        free(lines.rules);
        return r;
}

/* --- files ------------------------------------------------------------------------------------ */

int mbus_policy_add_text(struct mbus_policy *p, const char *path, const char *text, size_t len,
                         struct mbus_file_error *err) {
        _cleanup_(policy_namespace_freep) struct mbus_policy_namespace *pn = NULL;
        struct policy_load l = { .path = path, .err = err };
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

int mbus_policy_add_file(struct mbus_policy *p, const char *path, struct mbus_file_error *err) {
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
        return mbus_policy_add_text(p, path, text, len, err);
}

int mbus_policy_load(struct mbus_policy **ret, const char *const *dirs, size_t n_dirs,
                     enum mbus_policy_scope scope, uid_t broker_uid, struct mbus_file_error *err) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        int r;

        if (!ret || (!dirs && n_dirs > 0))
                return -EINVAL;

        r = mbus_policy_new(&p, scope, broker_uid);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_dirs; i++) {
                struct mbus_confdir_entry *entries = NULL;
                size_t n = 0;

                r = mbus_confdir_list(dirs[i], &entries, &n, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < n && r >= 0; k++)
                        r = mbus_policy_add_file(p, entries[k].path, err);
                mbus_confdir_entries_free(entries, n);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}
