/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The XML form of an introspection file, read with expat through the parser set up in
 * xml-util.c, which the policy files share (and with it the refusal of entity declarations).
 *
 * A small state machine over the start/end/text callbacks: each open element is one entry of a
 * fixed stack (the grammar is four levels deep: namespace > procedure|event > arg|doc), so an
 * element the grammar does not allow is an error at once, never a deeper stack. Each problem is
 * reported with the line of the element that caused it (mbus_xml_fail()) and the parse goes on:
 * an element that cannot be taken (unknown, misplaced, a procedure without a name) is skipped
 * with all it holds (mbus_xml_skip()), one that is only partly wrong (an unknown attribute, a
 * bad type) is taken with what is right in it, so its content is checked too. Text runs and
 * <doc>s report once each, however expat splits them.
 */

#include <assert.h>
#include <expat.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "conf/xml-util.h"
#include "util/macro.h"

#define IDL_XML_DOC_MAX (64u * 1024u)

enum idl_xml_element {
        IDL_XML_NONE,
        IDL_XML_NAMESPACE,
        IDL_XML_PROCEDURE,
        IDL_XML_EVENT,
        IDL_XML_ARG,
        IDL_XML_DOC,
};

static const char *const idl_xml_element_names[] = {
        [IDL_XML_NONE] = "(document)",
        [IDL_XML_NAMESPACE] = "namespace",
        [IDL_XML_PROCEDURE] = "procedure",
        [IDL_XML_EVENT] = "event",
        [IDL_XML_ARG] = "arg",
        [IDL_XML_DOC] = "doc",
};

struct idl_xml {
        struct mbus_xml xml;                    /* first: the handlers' userdata is both */

        struct mbus_idl_namespace *ns;
        unsigned ns_line;
        bool seen_namespace;

        enum idl_xml_element stack[5];
        size_t depth;

        size_t member;                          /* index of the open procedure/event */
        bool member_is_event;
        bool member_has_doc;
        bool ns_has_doc;

        char *doc;                              /* text of the open <doc> */
        size_t doc_len;
        bool doc_too_long;                      /* reported for the open <doc> */
        bool text_reported;                     /* for the text run since the last tag */
};
static_assert(offsetof(struct idl_xml, xml) == 0, "expat hands the handlers one pointer for both");

static struct mbus_idl_member *idl_xml_member(struct idl_xml *x) {
        return x->member_is_event ? &x->ns->events[x->member] : &x->ns->procedures[x->member];
}

/* Looks up attributes by name; any other attribute is reported, and the known ones are still taken. */
static void idl_xml_attributes(struct idl_xml *x, const char *element, const XML_Char **attrs,
                               const char *const *names, const char **values, size_t n) {
        for (size_t i = 0; attrs[i]; i += 2) {
                bool found = false;

                for (size_t j = 0; j < n && !found; j++)
                        if (strcmp(attrs[i], names[j]) == 0) {
                                values[j] = attrs[i + 1];
                                found = true;
                        }
                if (!found)
                        mbus_xml_fail(&x->xml, "unknown attribute '%s' on <%s>", attrs[i], element);
        }
}

/* An invalid value is reported and read as false. */
static bool idl_xml_boolean(struct idl_xml *x, const char *attribute, const char *value) {
        if (!value || strcmp(value, "false") == 0)
                return false;
        if (strcmp(value, "true") == 0)
                return true;
        mbus_xml_fail(&x->xml, "invalid boolean '%s' for %s (expected true or false)", value, attribute);
        return false;
}

/* The start functions return whether the element is entered (false: it is skipped whole). */
static bool idl_xml_start_namespace(struct idl_xml *x, const XML_Char **attrs) {
        static const char *const names[] = { "name", "systemd-service", "exec", "max-body-size", "max-body-depth" };
        const char *values[ELEMENTSOF(names)] = {}, *why;

        x->ns_line = mbus_xml_line(&x->xml);
        x->seen_namespace = true;
        idl_xml_attributes(x, "namespace", attrs, names, values, ELEMENTSOF(names));
        /* Without a name the file is broken, but its procedures and events are still checked. */
        if (!values[0])
                mbus_xml_fail(&x->xml, "<namespace> has no name attribute");
        else if (idl_set_string(&x->ns->name, values[0]) < 0) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return false;
        }
        for (size_t i = 3; i <= 4; i++) {
                uint64_t v = 0;

                if (!values[i])
                        continue;
                /* Digits only: no sign, no spaces, no suffix; an overlong string is out of range. */
                for (const char *p = values[i]; *p && v <= UINT32_MAX; p++)
                        v = *p >= '0' && *p <= '9' ? v * 10 + (uint64_t) (*p - '0') : UINT64_MAX;
                if (!values[i][0] || idl_set_limit(&x->ns->limits, /* depth= */ i == 4, v, &why) < 0)
                        mbus_xml_fail(&x->xml, "invalid %s '%s': %s", names[i], values[i],
                                      i == 4 ? "1..1024 levels" : "1..4294967295 bytes");
        }
        if (mbus_idl_check_activation(values[1], values[2], &why) < 0) {
                mbus_xml_fail(&x->xml, "%s", why);
                return true;
        }
        if ((values[1] && idl_set_string(&x->ns->systemd_service, values[1]) < 0) ||
            (values[2] && idl_set_string(&x->ns->exec, values[2]) < 0)) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return false;
        }
        return true;
}

static bool idl_xml_start_member(struct idl_xml *x, bool event, const XML_Char **attrs) {
        static const char *const names[] = { "name" };
        const char *values[ELEMENTSOF(names)] = {};
        struct mbus_idl_member *m;
        int r;

        idl_xml_attributes(x, idl_member_kind(event), attrs, names, values, ELEMENTSOF(names));
        if (!values[0]) {
                mbus_xml_fail(&x->xml, "<%s> has no name attribute", idl_member_kind(event));
                return false;
        }

        r = idl_add_member(x->ns, event, values[0], mbus_xml_line(&x->xml), &m);
        if (r == -E2BIG) {
                mbus_xml_fail(&x->xml, "too many %ss (limit %u)", idl_member_kind(event), MBUS_IDL_MEMBERS_MAX);
                return false;
        }
        if (r < 0) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return false;
        }
        x->member = (size_t) (m - (event ? x->ns->events : x->ns->procedures));
        x->member_is_event = event;
        x->member_has_doc = false;
        return true;
}

static bool idl_xml_start_arg(struct idl_xml *x, const XML_Char **attrs) {
        static const char *const names[] = { "name", "type", "direction", "optional" };
        const char *values[ELEMENTSOF(names)] = {};
        struct mbus_idl_member *m = idl_xml_member(x);
        struct mbus_idl_arg *a;
        bool out = false, optional;
        int r;

        idl_xml_attributes(x, "arg", attrs, names, values, ELEMENTSOF(names));
        if (!values[0]) {
                mbus_xml_fail(&x->xml, "<arg> has no name attribute");
                return false;
        }
        if (!values[1]) {
                mbus_xml_fail(&x->xml, "argument '%s' has no type attribute", values[0]);
                return false;
        }
        if (values[2]) {
                if (x->member_is_event) {
                        mbus_xml_fail(&x->xml, "argument '%s' of event %s: direction is not allowed on event arguments",
                                     values[0], m->name);
                        return false;
                }
                if (strcmp(values[2], "out") == 0)
                        out = true;
                else if (strcmp(values[2], "in") != 0) {
                        mbus_xml_fail(&x->xml, "invalid direction '%s' for argument '%s' (expected in or out)",
                                     values[2], values[0]);
                        return false;
                }
        }
        optional = idl_xml_boolean(x, "optional", values[3]);

        r = idl_add_arg(m, out, values[0], mbus_xml_line(&x->xml), &a);
        if (r == -E2BIG) {
                mbus_xml_fail(&x->xml, "too many arguments in %s %s (limit %u)",
                             idl_member_kind(x->member_is_event), m->name, MBUS_IDL_ARGS_MAX);
                return false;
        }
        if (r < 0) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return false;
        }
        a->optional = optional;
        r = mbus_idl_type_parse(&a->type, values[1]);
        if (r == -ENOMEM) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return false;
        }
        if (r < 0)
                /* The argument stays (as any), so a duplicate of its name is still found. */
                mbus_xml_fail(&x->xml, "invalid type '%s' for argument '%s' (string, int, double, bool, object, "
                             "any, array<T>, ?T; at most %u levels)", values[1], values[0],
                             MBUS_IDL_TYPE_DEPTH_MAX);
        return true;
}

static bool idl_xml_start_doc(struct idl_xml *x, enum idl_xml_element parent, const XML_Char **attrs) {
        bool *seen = parent == IDL_XML_NAMESPACE ? &x->ns_has_doc : &x->member_has_doc;

        idl_xml_attributes(x, "doc", attrs, NULL, NULL, 0);
        if (*seen) {
                mbus_xml_fail(&x->xml, "duplicate <doc> in <%s>", idl_xml_element_names[parent]);
                return false;
        }
        *seen = true;
        x->doc_len = 0;
        x->doc_too_long = false;
        return true;
}

static void XMLCALL idl_xml_on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        struct idl_xml *x = userdata;
        enum idl_xml_element parent = x->stack[x->depth], e;
        bool enter;

        x->text_reported = false;
        if (strcmp(name, "namespace") == 0 && parent == IDL_XML_NONE && !x->seen_namespace)
                e = IDL_XML_NAMESPACE;
        else if (strcmp(name, "procedure") == 0 && parent == IDL_XML_NAMESPACE)
                e = IDL_XML_PROCEDURE;
        else if (strcmp(name, "event") == 0 && parent == IDL_XML_NAMESPACE)
                e = IDL_XML_EVENT;
        else if (strcmp(name, "arg") == 0 && (parent == IDL_XML_PROCEDURE || parent == IDL_XML_EVENT))
                e = IDL_XML_ARG;
        else if (strcmp(name, "doc") == 0 &&
                 (parent == IDL_XML_NAMESPACE || parent == IDL_XML_PROCEDURE || parent == IDL_XML_EVENT))
                e = IDL_XML_DOC;
        else {
                if (parent == IDL_XML_NONE)
                        mbus_xml_fail(&x->xml, "unknown element <%s>: the root element must be <namespace>", name);
                else
                        mbus_xml_fail(&x->xml, "unknown element <%s> in <%s>", name, idl_xml_element_names[parent]);
                mbus_xml_skip(&x->xml);
                return;
        }

        switch (e) {
        case IDL_XML_NAMESPACE:
                enter = idl_xml_start_namespace(x, attrs);
                break;
        case IDL_XML_PROCEDURE:
        case IDL_XML_EVENT:
                enter = idl_xml_start_member(x, e == IDL_XML_EVENT, attrs);
                break;
        case IDL_XML_ARG:
                enter = idl_xml_start_arg(x, attrs);
                break;
        case IDL_XML_DOC:
                enter = idl_xml_start_doc(x, parent, attrs);
                break;
        default:
                assert(false);
                return;
        }
        if (x->xml.stopped)
                return;
        if (!enter) {
                mbus_xml_skip(&x->xml);
                return;
        }
        assert(x->depth + 1 < ELEMENTSOF(x->stack));
        x->stack[++x->depth] = e;
}

static void XMLCALL idl_xml_on_end(void *userdata, const XML_Char *name) {
        struct idl_xml *x = userdata;
        int r;

        assert(x->depth > 0);
        x->text_reported = false;

        if (x->stack[x->depth] == IDL_XML_DOC) {
                char **field = x->stack[x->depth - 1] == IDL_XML_NAMESPACE ? &x->ns->doc : &idl_xml_member(x)->doc;

                r = idl_set_doc(field, x->doc ?: "", x->doc_len);
                if (r < 0) {
                        mbus_xml_stop(&x->xml, -ENOMEM);
                        return;
                }
        }
        x->depth--;
}

static void XMLCALL idl_xml_on_text(void *userdata, const XML_Char *s, int len) {
        struct idl_xml *x = userdata;
        char *p;

        if (len <= 0)
                return;

        if (x->stack[x->depth] != IDL_XML_DOC) {
                if (x->text_reported)
                        return;
                for (int i = 0; i < len; i++)
                        if (!strchr(" \t\r\n", s[i])) {
                                mbus_xml_fail(&x->xml, "unexpected text in <%s>", idl_xml_element_names[x->stack[x->depth]]);
                                x->text_reported = true;
                                return;
                        }
                return;
        }

        if (x->doc_too_long)
                return;
        if (x->doc_len + (size_t) len > IDL_XML_DOC_MAX) {
                mbus_xml_fail(&x->xml, "<doc> too long (limit %u bytes)", IDL_XML_DOC_MAX);
                x->doc_too_long = true;
                return;
        }
        p = realloc(x->doc, x->doc_len + (size_t) len + 1);
        if (!p) {
                mbus_xml_stop(&x->xml, -ENOMEM);
                return;
        }
        x->doc = p;
        memcpy(x->doc + x->doc_len, s, (size_t) len);
        x->doc_len += (size_t) len;
        x->doc[x->doc_len] = 0;
}

int mbus_idl_parse_xml(struct mbus_idl_namespace **ret, const char *path, const char *text, size_t len,
                       struct mbus_file_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        struct idl_xml x = {};
        int r;

        if (!ret || (!text && len > 0))
                return -EINVAL;
        if (len > MBUS_IDL_FILE_SIZE_MAX)
                return mbus_file_error_set(err, path, 0, "file too large (limit %u bytes)", MBUS_IDL_FILE_SIZE_MAX);

        r = idl_namespace_new(&ns, path);
        if (r < 0)
                return r;
        x.ns = ns;

        mbus_file_error_begin(err);
        r = mbus_xml_parse(&x.xml, path, err, text, len, idl_xml_on_start, idl_xml_on_end, idl_xml_on_text);
        free(x.doc);
        if (r < 0 && r != -EBADMSG)
                return r;
        if (r == 0 && !x.seen_namespace)
                return mbus_file_error_set(err, path, 1, "no <namespace> element");
        /* What was read before an error is checked too: its duplicates are errors as well. */
        if (x.seen_namespace) {
                int k = idl_check(ns, x.ns_line, err);

                if (k == -ENOMEM)
                        return k;
                if (r == 0)
                        r = k;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ns);
        return 0;
}
