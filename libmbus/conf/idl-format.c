/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A description written out in the canonical forms: JSON (what org.mbus.Broker hands out and
 * mbus-introspect prints) and XML (an interfaces.d file). Each form is the one its parser reads
 * back to the same model, so a description can be fetched from the bus and dropped into
 * interfaces.d as it is. Keys and elements come in one fixed order and optional parts (docs,
 * optional="true") appear only when set, so equal models give equal text. A member an owner
 * declared by name alone (untyped) carries no argument lists; every other member carries them,
 * empty ones too, which is how a reader of the JSON form tells "no arguments" from "unknown".
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "util/json-util.h"
#include "util/macro.h"

static int idl_json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int idl_json_append(json_object *a, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int idl_args_to_json(const struct mbus_idl_arg *args, size_t n, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *o = json_object_new_object();
                char type[MBUS_IDL_TYPE_STRING_MAX];
                int r;

                if (!o)
                        return -ENOMEM;
                r = idl_json_add(o, "name", json_object_new_string(args[i].name));
                if (r < 0)
                        return r;
                r = idl_json_add(o, "type", json_object_new_string(
                                         mbus_idl_type_to_string(&args[i].type, type, sizeof(type))));
                if (r < 0)
                        return r;
                if (args[i].optional) {
                        r = idl_json_add(o, "optional", json_object_new_boolean(true));
                        if (r < 0)
                                return r;
                }
                r = idl_json_append(a, TAKE_PTR(o));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int idl_members_to_json(const struct mbus_idl_namespace *ns, bool event, json_object **ret) {
        const struct mbus_idl_member *list = event ? ns->events : ns->procedures;
        size_t n = event ? ns->n_events : ns->n_procedures;
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *o = json_object_new_object(), *in = NULL, *out = NULL;

                if (!o)
                        return -ENOMEM;
                r = idl_json_add(o, "name", json_object_new_string(list[i].name));
                if (r < 0)
                        return r;
                if (list[i].doc) {
                        r = idl_json_add(o, "doc", json_object_new_string(list[i].doc));
                        if (r < 0)
                                return r;
                }
                if (!list[i].untyped) {
                        r = idl_args_to_json(list[i].in, list[i].n_in, &in);
                        if (r < 0)
                                return r;
                        r = idl_json_add(o, event ? "args" : "in", TAKE_PTR(in));
                        if (r < 0)
                                return r;
                        if (!event) {
                                r = idl_args_to_json(list[i].out, list[i].n_out, &out);
                                if (r < 0)
                                        return r;
                                r = idl_json_add(o, "out", TAKE_PTR(out));
                                if (r < 0)
                                        return r;
                        }
                }
                r = idl_json_append(a, TAKE_PTR(o));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int mbus_idl_to_json(const struct mbus_idl_namespace *ns, json_object **ret) {
        _cleanup_json_ json_object *o = NULL, *procedures = NULL, *events = NULL;
        int r;

        if (!ns || !ns->name || !ret)
                return -EINVAL;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = idl_json_add(o, "namespace", json_object_new_string(ns->name));
        if (r < 0)
                return r;
        if (ns->doc) {
                r = idl_json_add(o, "doc", json_object_new_string(ns->doc));
                if (r < 0)
                        return r;
        }
        r = idl_members_to_json(ns, /* event= */ false, &procedures);
        if (r < 0)
                return r;
        r = idl_json_add(o, "procedures", TAKE_PTR(procedures));
        if (r < 0)
                return r;
        r = idl_members_to_json(ns, /* event= */ true, &events);
        if (r < 0)
                return r;
        r = idl_json_add(o, "events", TAKE_PTR(events));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* XML text and attribute values: the five markup characters, and \r as a character reference
 * so it survives the parser's line-end normalisation. Docs hold no other control characters
 * (idl_check), names hold none at all. */
static void idl_xml_escape(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                case '\r':
                        fputs("&#13;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static void idl_xml_doc(FILE *f, const char *doc, const char *indent) {
        if (!doc)
                return;
        fprintf(f, "%s<doc>", indent);
        idl_xml_escape(f, doc);
        fputs("</doc>\n", f);
}

static void idl_xml_args(FILE *f, const struct mbus_idl_arg *args, size_t n, const char *direction) {
        char type[MBUS_IDL_TYPE_STRING_MAX];

        for (size_t i = 0; i < n; i++) {
                fputs("    <arg name=\"", f);
                idl_xml_escape(f, args[i].name);
                fputs("\" type=\"", f);
                idl_xml_escape(f, mbus_idl_type_to_string(&args[i].type, type, sizeof(type)));
                fputc('"', f);
                if (direction)
                        fprintf(f, " direction=\"%s\"", direction);
                if (args[i].optional)
                        fputs(" optional=\"true\"", f);
                fputs("/>\n", f);
        }
}

static void idl_xml_members(FILE *f, const struct mbus_idl_member *list, size_t n, bool event) {
        for (size_t i = 0; i < n; i++) {
                const struct mbus_idl_member *m = &list[i];

                fprintf(f, "  <%s name=\"", idl_member_kind(event));
                idl_xml_escape(f, m->name);
                if (!m->doc && m->n_in == 0 && m->n_out == 0) {
                        fputs("\"/>\n", f);
                        continue;
                }
                fputs("\">\n", f);
                idl_xml_doc(f, m->doc, "    ");
                idl_xml_args(f, m->in, m->n_in, event ? NULL : "in");
                idl_xml_args(f, m->out, m->n_out, "out");
                fprintf(f, "  </%s>\n", idl_member_kind(event));
        }
}

int mbus_idl_to_xml(const struct mbus_idl_namespace *ns, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!ns || !ns->name || !ret)
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<namespace name=\"", f);
        idl_xml_escape(f, ns->name);
        fputs("\">\n", f);
        idl_xml_doc(f, ns->doc, "  ");
        idl_xml_members(f, ns->procedures, ns->n_procedures, /* event= */ false);
        idl_xml_members(f, ns->events, ns->n_events, /* event= */ true);
        fputs("</namespace>\n", f);
        if (ferror(f)) {
                (void) fclose(f);
                return -ENOMEM;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
