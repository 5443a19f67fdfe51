/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The XML form of a policy file: <policy namespace="..."> holding empty <allow>/<deny>
 * elements, one rule each. The grammar is flat, so a depth counter is the whole state machine;
 * anything else where a rule may stand is an error at its line. The parser is the one both
 * XML loaders share (xml-util.c, which refuses entity declarations), and this file only turns
 * attributes into the (verb, action, member, principal) a rule is made of: policy_rule_add()
 * checks and compiles it exactly as it does for JSON. A wrong rule or element is reported and
 * the next one read (an element that cannot stand where it is is skipped whole), so one run
 * reports every rule that is wrong. The @identities file is the same
 * grammar with other names: <identities> holding empty <map> elements, one mapping each, which
 * policy_map_add() compiles.
 */

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "conf/policy-internal.h"
#include "conf/xml-util.h"

struct policy_xml {
        struct mbus_xml xml;            /* first: the handlers' userdata is both */
        struct policy_load *l;
        unsigned depth;                 /* 0: document, 1: <policy>/<identities>, 2: a rule/<map> */
        bool identities;                /* the @identities file: <identities> holding <map>s */
        bool seen_policy;               /* the root element */
        bool text_reported;             /* for the text run since the last tag */
};
static_assert(offsetof(struct policy_xml, xml) == 0, "expat hands the handlers one pointer for both");

/* The file is broken by an error reported elsewhere (policy_fail()); the parse goes on. */
static void policy_xml_broken(struct policy_xml *x) {
        if (x->xml.error == 0)
                x->xml.error = -EBADMSG;
}

static void policy_xml_rule(struct policy_xml *x, const char *element, const XML_Char **attrs) {
        unsigned line = mbus_xml_line(&x->xml);
        const char *action = NULL, *member = NULL, *key = NULL, *value = NULL, *address = NULL;
        int r;

        for (size_t i = 0; attrs[i]; i += 2) {
                const char *a = attrs[i], *v = attrs[i + 1];

                if (mbus_policy_action_from_string(a) >= 0) {
                        if (action) {
                                mbus_xml_fail(&x->xml, "<%s> has two actions (%s and %s): write one rule each",
                                              element, action, a);
                                return;
                        }
                        action = a;
                        if (strcmp(a, "own") == 0) {
                                if (strcmp(v, "true") != 0) {
                                        mbus_xml_fail(&x->xml, "own must be \"true\", not \"%s\"", v);
                                        return;
                                }
                        } else
                                member = v;
                } else if (strcmp(a, "address") == 0)
                        address = v;    /* expat refuses an attribute given twice */
                else if (policy_is_principal_key(a)) {
                        if (key) {
                                mbus_xml_fail(&x->xml, "<%s> has two principals (%s and %s): write one rule "
                                              "each", element, key, a);
                                return;
                        }
                        key = a;
                        value = v;
                } else {
                        mbus_xml_fail(&x->xml, "unknown attribute '%s' on <%s>", a, element);
                        return;
                }
        }
        if (!action) {
                mbus_xml_fail(&x->xml, "<%s> has no action (own, call, subscribe, send or monitor)", element);
                return;
        }
        if (!key && !address) {
                mbus_xml_fail(&x->xml, "<%s> has no principal (user, group, cert-cn, cert-san, "
                              "cert-fingerprint or address)", element);
                return;
        }
        /* policy_rule_add() has reported what is wrong with the rule; only running out of memory ends the file. */
        r = policy_rule_add(x->l, line, strcmp(element, "allow") == 0, action, member, key, value, address);
        if (r == -EBADMSG)
                policy_xml_broken(x);
        else
                mbus_xml_stop(&x->xml, r);
}

static void policy_xml_map(struct policy_xml *x, const XML_Char **attrs) {
        unsigned line = mbus_xml_line(&x->xml);
        const char *key = NULL, *value = NULL, *user = NULL, *group = NULL;
        int r;

        for (size_t i = 0; attrs[i]; i += 2) {
                const char *a = attrs[i], *v = attrs[i + 1];

                if (policy_is_cert_key(a)) {
                        if (key) {
                                mbus_xml_fail(&x->xml, "<map> has two certificate principals (%s and %s): "
                                              "write one <map> each", key, a);
                                return;
                        }
                        key = a;
                        value = v;
                } else if (strcmp(a, "user") == 0)
                        user = v;
                else if (strcmp(a, "group") == 0)
                        group = v;
                else {
                        mbus_xml_fail(&x->xml, "unknown attribute '%s' on <map> (expected one of cert-cn, "
                                      "cert-san, cert-fingerprint, and user, group)", a);
                        return;
                }
        }
        if (!key) {
                mbus_xml_fail(&x->xml, "<map> has no certificate (cert-cn, cert-san or cert-fingerprint)");
                return;
        }
        if (!user) {
                mbus_xml_fail(&x->xml, "<map> has no user");
                return;
        }
        r = policy_map_add(x->l, line, key, value, user, group);
        if (r == -EBADMSG)
                policy_xml_broken(x);
        else
                mbus_xml_stop(&x->xml, r);
}

static void policy_xml_identities_on_start(struct policy_xml *x, const XML_Char *name, const XML_Char **attrs) {
        if (x->depth == 0) {
                if (strcmp(name, "identities") != 0) {
                        mbus_xml_fail(&x->xml, "unknown element <%s>: the root element of %s.xml must be "
                                      "<identities>", name, MBUS_POLICY_IDENTITIES_NAME);
                        mbus_xml_skip(&x->xml);
                        return;
                }
                if (attrs[0])
                        mbus_xml_fail(&x->xml, "unknown attribute '%s' on <identities>", attrs[0]);
                x->seen_policy = true;
                x->depth = 1;
                return;
        }
        if (x->depth == 1 && strcmp(name, "map") == 0) {
                x->depth = 2;
                policy_xml_map(x, attrs);
                return;
        }
        if (x->depth == 1)
                mbus_xml_fail(&x->xml, "unknown element <%s> in <identities> (expected <map>)", name);
        else
                mbus_xml_fail(&x->xml, "unexpected element <%s> inside <map> (it is an empty element)", name);
        mbus_xml_skip(&x->xml);
}

static void XMLCALL policy_xml_on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        struct policy_xml *x = userdata;
        int r;

        x->text_reported = false;
        if (x->identities) {
                policy_xml_identities_on_start(x, name, attrs);
                return;
        }

        if (x->depth == 0) {
                const char *ns = NULL;

                if (strcmp(name, "identities") == 0) {
                        mbus_xml_fail(&x->xml, "<identities> belongs in a file named %s.xml, not in a "
                                      "namespace's policy", MBUS_POLICY_IDENTITIES_NAME);
                        mbus_xml_skip(&x->xml);
                        return;
                }
                if (strcmp(name, "policy") != 0) {
                        mbus_xml_fail(&x->xml, "unknown element <%s>: the root element must be <policy>",
                                      name);
                        mbus_xml_skip(&x->xml);
                        return;
                }
                for (size_t i = 0; attrs[i]; i += 2) {
                        if (strcmp(attrs[i], "namespace") != 0)
                                mbus_xml_fail(&x->xml, "unknown attribute '%s' on <policy>", attrs[i]);
                        else
                                ns = attrs[i + 1];
                }
                /* Without a namespace the file is broken, but its rules are still checked. */
                x->seen_policy = true;
                x->depth = 1;
                if (!ns) {
                        mbus_xml_fail(&x->xml, "<policy> has no namespace attribute");
                        return;
                }
                r = policy_set_namespace(x->l, mbus_xml_line(&x->xml), ns);
                if (r == -EBADMSG)
                        policy_xml_broken(x);
                else
                        mbus_xml_stop(&x->xml, r);
                return;
        }
        if (x->depth == 1 && (strcmp(name, "allow") == 0 || strcmp(name, "deny") == 0)) {
                x->depth = 2;
                policy_xml_rule(x, name, attrs);
                return;
        }
        if (x->depth == 1)
                mbus_xml_fail(&x->xml, "unknown element <%s> in <policy> (expected <allow> or <deny>)",
                              name);
        else
                mbus_xml_fail(&x->xml, "unexpected element <%s> inside a rule (rules are empty elements)", name);
        mbus_xml_skip(&x->xml);
}

static void XMLCALL policy_xml_on_end(void *userdata, const XML_Char *name) {
        struct policy_xml *x = userdata;

        x->text_reported = false;
        x->depth--;
}

static void XMLCALL policy_xml_on_text(void *userdata, const XML_Char *s, int len) {
        struct policy_xml *x = userdata;

        if (x->text_reported)
                return;
        for (int i = 0; i < len; i++)
                if (!strchr(" \t\r\n", s[i])) {
                        mbus_xml_fail(&x->xml, "unexpected text in <%s>", x->depth >= 2 ?
                                      (x->identities ? "map" : "a rule") : (x->identities ? "identities" : "policy"));
                        x->text_reported = true;
                        return;
                }
}

static int policy_xml_parse(struct policy_load *l, bool identities, const char *text, size_t len) {
        struct policy_xml x = { .l = l, .identities = identities };
        int r;

        r = mbus_xml_parse(&x.xml, l->path, l->err, text, len, policy_xml_on_start, policy_xml_on_end,
                           policy_xml_on_text);
        if (r < 0)
                return r;
        if (!x.seen_policy)
                return policy_fail(l, 1, "no <%s> element", identities ? "identities" : "policy");
        return 0;
}

int policy_parse_xml(struct policy_load *l, const char *text, size_t len) {
        return policy_xml_parse(l, /* identities= */ false, text, len);
}

int policy_parse_identities_xml(struct policy_load *l, const char *text, size_t len) {
        return policy_xml_parse(l, /* identities= */ true, text, len);
}
