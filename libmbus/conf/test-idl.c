/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Introspection descriptions: one description written in XML and in JSON must give the same
 * model (compared field by field and through the canonical JSON), every malformed file is
 * reported with its file, line and what is wrong, the output forms parse back to the same
 * model, and bodies are validated with messages naming the argument and the expected type.
 */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/file-error.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/test-util.h"

/* Both forms of one description, laid out so that each member and argument starts on the same
 * line in both: the line numbers are part of the comparison. */
static const char full_xml[] =
        "<?xml version=\"1.0\"?>\n"                                                     /* 1 */
        "<namespace name=\"org.example.Network\">\n"                                    /* 2 */
        "  <doc>\n    Network management &amp; state.\n  </doc>\n"                      /* 3-5 */
        "  <procedure name=\"GetState\">\n"                                             /* 6 */
        "    <doc>Returns the state of one interface.</doc>\n"                          /* 7 */
        "    <arg name=\"interface\" type=\"string\" direction=\"in\"/>\n"              /* 8 */
        "    <arg name=\"verbose\" type=\"bool\" direction=\"in\" optional=\"true\"/>\n" /* 9 */
        "    <arg name=\"state\" type=\"string\" direction=\"out\"/>\n"                 /* 10 */
        "    <arg name=\"addresses\" type=\"array&lt;string&gt;\" direction=\"out\"/>\n" /* 11 */
        "  </procedure>\n"                                                              /* 12 */
        "  <procedure name=\"Reboot\"/>\n"                                              /* 13 */
        "  <procedure name=\"Configure\">\n"                                            /* 14 */
        "    <arg name=\"settings\" type=\"object\"/>\n"                                /* 15 */
        "    <arg name=\"matrix\" type=\"?array&lt;array&lt;?double&gt;&gt;\" optional=\"false\"/>\n" /* 16 */
        "    <arg name=\"extra\" type=\"any\" optional=\"true\"/>\n"                    /* 17 */
        "    <arg name=\"count\" type=\"int\" direction=\"out\"/>\n"                    /* 18 */
        "  </procedure>\n"                                                              /* 19 */
        "  <event name=\"StateChanged\">\n"                                             /* 20 */
        "    <doc>The <![CDATA[state]]> of an interface changed.</doc>\n"               /* 21 */
        "    <arg name=\"interface\" type=\"string\"/>\n"                               /* 22 */
        "    <arg name=\"state\" type=\"?string\"/>\n"                                  /* 23 */
        "  </event>\n"                                                                  /* 24 */
        "  <event name=\"Reset\"></event>\n"                                            /* 25 */
        "</namespace>\n";

static const char full_json[] =
        "{\n"                                                                           /* 1 */
        "  \"namespace\": \"org.example.Network\",\n"                                   /* 2 */
        "  \"doc\": \"Network management & state.\",\n"                                 /* 3 */
        "  \"procedures\": [\n"                                                         /* 4 */
        "\n"                                                                            /* 5 */
        "    { \"name\": \"GetState\",\n"                                               /* 6 */
        "      \"doc\": \"  Returns the state of one interface.\\n\",\n"                /* 7 */
        "      \"in\": [{\"name\": \"interface\", \"type\": \"string\"},\n"             /* 8 */
        "             {\"name\": \"verbose\", \"type\": \"bool\", \"optional\": true}],\n" /* 9 */
        "      \"out\": [{\"name\": \"state\", \"type\": \"string\"},\n"                /* 10 */
        "              {\"name\": \"addresses\", \"type\": \"array<string>\"}]\n"       /* 11 */
        "    },\n"                                                                      /* 12 */
        "    {\"name\": \"Reboot\", \"in\": [], \"out\": []},\n"                        /* 13 */
        "    {\"out\": [\n"                                                             /* 14 */
        "\n"                                                                            /* 15 */
        "\n"                                                                            /* 16 */
        "\n"                                                                            /* 17 */
        "       {\"type\": \"int\", \"name\": \"count\"}], \"name\": \"Configure\", \"in\": [\n" /* 18 */
        "       {\"name\": \"settings\", \"type\": \"object\"},\n"                      /* 19: see fixup */
        "       {\"name\": \"matrix\", \"type\": \"?array<array<?double>>\", \"optional\": false},\n"
        "       {\"name\": \"extra\", \"type\": \"any\", \"optional\": true}]}\n"
        "  ],\n"
        "  \"events\": [{\"name\": \"StateChanged\",\n"                                 /* 23 */
        "              \"doc\": \"The state of an interface changed.\",\n"
        "              \"args\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "                       {\"name\": \"state\", \"type\": \"?string\"}]},\n"
        "             {\"name\": \"Reset\"}]\n"
        "}\n";

static void assert_types_equal(const struct mbus_idl_type *a, const struct mbus_idl_type *b) {
        for (; a || b; a = a->element, b = b->element) {
                ck_assert_ptr_nonnull(a);
                ck_assert_ptr_nonnull(b);
                ck_assert_int_eq(a->kind, b->kind);
                ck_assert_int_eq(a->nullable, b->nullable);
                ck_assert_int_eq(!!a->element, !!b->element);
        }
}

static void assert_docs_equal(const char *a, const char *b) {
        ck_assert_int_eq(!!a, !!b);
        if (a)
                ck_assert_str_eq(a, b);
}

static void assert_args_equal(const struct mbus_idl_arg *a, size_t na, const struct mbus_idl_arg *b, size_t nb) {
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
                ck_assert_str_eq(a[i].name, b[i].name);
                ck_assert_int_eq(a[i].optional, b[i].optional);
                assert_types_equal(&a[i].type, &b[i].type);
        }
}

static void assert_members_equal(const struct mbus_idl_member *a, size_t na, const struct mbus_idl_member *b,
                                 size_t nb) {
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
                ck_assert_str_eq(a[i].name, b[i].name);
                assert_docs_equal(a[i].doc, b[i].doc);
                assert_args_equal(a[i].in, a[i].n_in, b[i].in, b[i].n_in);
                assert_args_equal(a[i].out, a[i].n_out, b[i].out, b[i].n_out);
        }
}

static void assert_ns_equal(const struct mbus_idl_namespace *a, const struct mbus_idl_namespace *b) {
        _cleanup_json_ json_object *ja = NULL, *jb = NULL;

        ck_assert_str_eq(a->name, b->name);
        assert_docs_equal(a->doc, b->doc);
        ck_assert_int_eq(a->declared, b->declared);
        assert_members_equal(a->procedures, a->n_procedures, b->procedures, b->n_procedures);
        assert_members_equal(a->events, a->n_events, b->events, b->n_events);

        ck_assert_int_eq(mbus_idl_to_json(a, &ja), 0);
        ck_assert_int_eq(mbus_idl_to_json(b, &jb), 0);
        ck_assert_str_eq(json_object_to_json_string_ext(ja, JSON_C_TO_STRING_PLAIN),
                         json_object_to_json_string_ext(jb, JSON_C_TO_STRING_PLAIN));
}

static struct mbus_idl_namespace *parse_ok(bool xml, const char *text) {
        struct mbus_idl_namespace *ns = NULL;
        struct mbus_file_error err = {};
        char buf[600];
        int r;

        r = xml ? mbus_idl_parse_xml(&ns, xml ? "t.xml" : "t.json", text, strlen(text), &err)
                : mbus_idl_parse_json(&ns, "t.json", text, strlen(text), &err);
        ck_assert_msg(r == 0, "%s: %s", text, mbus_file_error_format(&err, buf, sizeof(buf)));
        ck_assert_ptr_nonnull(ns);
        return ns;
}

START_TEST(test_xml_and_json_give_the_same_model) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *x = parse_ok(true, full_xml);
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *j = parse_ok(false, full_json);
        const struct mbus_idl_member *m;
        char type[64];

        assert_ns_equal(x, j);

        ck_assert_str_eq(x->name, "org.example.Network");
        ck_assert_str_eq(x->doc, "Network management & state.");
        ck_assert_str_eq(x->path, "t.xml");
        ck_assert_str_eq(j->path, "t.json");
        ck_assert(!x->declared);
        ck_assert_uint_eq(x->n_procedures, 3);
        ck_assert_uint_eq(x->n_events, 2);

        m = mbus_idl_find_procedure(x, "GetState");
        ck_assert_ptr_eq(m, &x->procedures[0]);
        ck_assert_str_eq(m->doc, "Returns the state of one interface.");
        ck_assert_uint_eq(m->n_in, 2);
        ck_assert_uint_eq(m->n_out, 2);
        ck_assert(!m->in[0].optional);
        ck_assert(m->in[1].optional);
        ck_assert_int_eq(m->in[1].type.kind, MBUS_IDL_BOOL);
        ck_assert_int_eq(m->out[1].type.kind, MBUS_IDL_ARRAY);
        ck_assert_int_eq(m->out[1].type.element->kind, MBUS_IDL_STRING);
        ck_assert_str_eq(mbus_idl_type_to_string(&m->out[1].type, type, sizeof(type)), "array<string>");

        m = mbus_idl_find_procedure(x, "Reboot");
        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_null(m->doc);
        ck_assert_uint_eq(m->n_in + m->n_out, 0);

        m = mbus_idl_find_procedure(j, "Configure");
        ck_assert_str_eq(mbus_idl_type_to_string(&m->in[1].type, type, sizeof(type)), "?array<array<?double>>");
        ck_assert(!m->in[1].optional);
        ck_assert_int_eq(m->in[2].type.kind, MBUS_IDL_ANY);

        m = mbus_idl_find_event(x, "StateChanged");
        ck_assert_str_eq(m->doc, "The state of an interface changed.");
        ck_assert_uint_eq(m->n_in, 2);
        ck_assert_uint_eq(m->n_out, 0);
        ck_assert(m->in[1].type.nullable);

        ck_assert_ptr_null(mbus_idl_find_procedure(x, "StateChanged"));
        ck_assert_ptr_null(mbus_idl_find_event(x, "GetState"));
        ck_assert_ptr_null(mbus_idl_find_procedure(x, "getstate"));
        ck_assert_ptr_null(mbus_idl_find_procedure(NULL, "GetState"));
        ck_assert_ptr_null(mbus_idl_find_procedure(x, NULL));
}
END_TEST

START_TEST(test_line_numbers_of_members_and_arguments) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *x = parse_ok(true, full_xml);
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *j = parse_ok(false, full_json);

        ck_assert_uint_eq(x->procedures[0].line, 6);
        ck_assert_uint_eq(x->procedures[0].in[0].line, 8);
        ck_assert_uint_eq(x->procedures[0].in[1].line, 9);
        ck_assert_uint_eq(x->procedures[0].out[0].line, 10);
        ck_assert_uint_eq(x->procedures[0].out[1].line, 11);
        ck_assert_uint_eq(x->procedures[1].line, 13);
        ck_assert_uint_eq(x->procedures[2].out[0].line, 18);
        ck_assert_uint_eq(x->events[0].line, 20);
        ck_assert_uint_eq(x->events[0].in[1].line, 23);

        /* JSON: the scanner finds the same lines, whatever the order of keys. */
        ck_assert_uint_eq(j->procedures[0].line, 6);
        ck_assert_uint_eq(j->procedures[0].in[0].line, 8);
        ck_assert_uint_eq(j->procedures[0].in[1].line, 9);
        ck_assert_uint_eq(j->procedures[0].out[0].line, 10);
        ck_assert_uint_eq(j->procedures[0].out[1].line, 11);
        ck_assert_uint_eq(j->procedures[1].line, 13);
        ck_assert_uint_eq(j->procedures[2].line, 14);
        ck_assert_uint_eq(j->procedures[2].out[0].line, 18);
        ck_assert_uint_eq(j->procedures[2].in[0].line, 19);
        ck_assert_uint_eq(j->procedures[2].in[2].line, 21);
        ck_assert_uint_eq(j->events[0].line, 23);
        ck_assert_uint_eq(j->events[0].in[1].line, 26);
        ck_assert_uint_eq(j->events[1].line, 27);
}
END_TEST

START_TEST(test_output_forms_parse_back_to_the_same_model) {
        static const char tricky[] =
                "<namespace name=\"org.example.Quote\">"
                "<doc>a &lt;b&gt; &amp; \"c\" 'd'&#13;\n\tend</doc>"
                "<procedure name=\"P\"><doc>x&gt;y</doc>"
                "<arg name=\"a\" type=\"array&lt;?array&lt;object&gt;&gt;\" optional=\"true\"/>"
                "<arg name=\"b\" type=\"int\" direction=\"out\"/></procedure>"
                "<event name=\"E\"><arg name=\"n\" type=\"?any\" optional=\"true\"/></event>"
                "</namespace>";
        const char *inputs[] = { full_xml, tricky };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *a = parse_ok(true, inputs[i]);
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *b = NULL, *c = NULL, *d = NULL;
                _cleanup_json_ json_object *o = NULL;
                _cleanup_free_ char *xml = NULL;
                struct mbus_file_error err = {};
                const char *json;

                /* XML out, XML in. */
                ck_assert_int_eq(mbus_idl_to_xml(a, &xml), 0);
                b = parse_ok(true, xml);
                assert_ns_equal(a, b);

                /* Canonical JSON as text (a file) and as an object (the bus). */
                ck_assert_int_eq(mbus_idl_to_json(a, &o), 0);
                json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
                c = parse_ok(false, json);
                assert_ns_equal(a, c);
                ck_assert_int_eq(mbus_idl_from_json(&d, o, &err), 0);
                assert_ns_equal(a, d);
        }

        {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *a = parse_ok(true, tricky);

                ck_assert_str_eq(a->doc, "a <b> & \"c\" 'd'\r\n\tend");
                ck_assert_str_eq(a->procedures[0].doc, "x>y");
        }
}
END_TEST

START_TEST(test_from_json_accepts_the_introspect_reply) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL, *decl = NULL, *back = NULL;
        _cleanup_json_ json_object *o = NULL, *bad = NULL;
        struct mbus_file_error err = {};

        /* Introspect adds source, path and owner to the canonical form. */
        o = json_tokener_parse("{\"namespace\": \"org.example.Echo\", \"procedures\": [{\"name\": \"Echo\"}],"
                               " \"events\": [], \"source\": \"declared\", \"path\": null, \"owner\": \":1.4\"}");
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(mbus_idl_from_json(&ns, o, &err), 0);
        ck_assert(ns->declared);
        ck_assert_ptr_null(ns->path);
        ck_assert_uint_eq(ns->n_procedures, 1);
        ck_assert_uint_eq(ns->procedures[0].line, 0);

        ck_assert_int_eq(mbus_idl_from_declaration(&decl, "org.example.Echo", "{\"procedures\": [\"Echo\"]}", 24), 0);
        assert_ns_equal(ns, decl);

        /* The bus form has no lines: the message says what, without a position. */
        bad = json_tokener_parse("{\"namespace\": \"org.example.Echo\", \"procedures\": [{\"name\": 7}]}");
        ck_assert_int_eq(mbus_idl_from_json(&back, bad, &err), -EBADMSG);
        ck_assert_uint_eq(err.line, 0);
        ck_assert_str_eq(err.path, "");
        ck_assert_ptr_nonnull(strstr(err.message, "'name'"));
}
END_TEST

START_TEST(test_type_strings) {
        static const char *const valid[] = {
                "string", "int", "double", "bool", "object", "any", "array<string>", "?string", "?any",
                "array<?int>", "?array<array<bool>>", "array<array<array<object>>>",
        };
        static const char *const invalid[] = {
                "", "?", "??string", "strin", "String", "string ", " string", "array", "array<>",
                "array<string", "array<string>>", "array<?>", "array[string]", "stringx", "array<strin>",
                "?array<", "int?", "array <int>", "array<int,int>",
        };
        struct mbus_idl_type t;
        char buf[512], s[512] = "";

        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                ck_assert_msg(mbus_idl_type_parse(&t, valid[i]) == 0, "%s", valid[i]);
                ck_assert_str_eq(mbus_idl_type_to_string(&t, buf, sizeof(buf)), valid[i]);
                mbus_idl_type_done(&t);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                ck_assert_msg(mbus_idl_type_parse(&t, invalid[i]) == -EINVAL, "%s", invalid[i]);

        /* Nesting: 16 levels in all are fine, 17 are not. */
        for (unsigned i = 0; i < MBUS_IDL_TYPE_DEPTH_MAX - 1; i++)
                strcat(s, "array<");
        strcat(s, "int");
        for (unsigned i = 0; i < MBUS_IDL_TYPE_DEPTH_MAX - 1; i++)
                strcat(s, ">");
        ck_assert_int_eq(mbus_idl_type_parse(&t, s), 0);
        ck_assert_str_eq(mbus_idl_type_to_string(&t, buf, sizeof(buf)), s);
        mbus_idl_type_done(&t);
        memmove(s + 6, s, strlen(s) + 1);
        memcpy(s, "array<", 6);
        strcat(s, ">");
        ck_assert_int_eq(mbus_idl_type_parse(&t, s), -EINVAL);

        /* The longest type string there is fits MBUS_IDL_TYPE_STRING_MAX and survives both forms. */
        s[0] = 0;
        for (unsigned i = 0; i < MBUS_IDL_TYPE_DEPTH_MAX - 1; i++)
                strcat(s, "?array<");
        strcat(s, "?string");
        for (unsigned i = 0; i < MBUS_IDL_TYPE_DEPTH_MAX - 1; i++)
                strcat(s, ">");
        ck_assert_int_eq(mbus_idl_type_parse(&t, s), 0);
        mbus_idl_type_done(&t);
        {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *a = NULL, *b = NULL;
                _cleanup_free_ char *json = NULL, *xml = NULL;
                char reason[MBUS_IDL_TYPE_STRING_MAX + 64];

                ck_assert_int_ge(asprintf(&json, "{\"namespace\": \"org.a.b\", \"events\": [{\"name\": \"E\", "
                                          "\"args\": [{\"name\": \"deep\", \"type\": \"%s\"}]}]}", s), 0);
                a = parse_ok(false, json);
                ck_assert_int_eq(mbus_idl_to_xml(a, &xml), 0);
                b = parse_ok(true, xml);
                assert_ns_equal(a, b);
                ck_assert_str_eq(mbus_idl_type_to_string(&b->events[0].in[0].type, buf, sizeof(buf)), s);
                ck_assert_int_eq(mbus_idl_validate(b->events[0].in, 1, "{\"deep\": 1}", 11, NULL, reason, sizeof(reason)),
                                 -EINVAL);
                ck_assert_ptr_nonnull(strstr(reason, s));
                ck_assert_ptr_nonnull(strstr(reason, ", got int"));
        }

        /* A short buffer truncates, never overflows. */
        ck_assert_int_eq(mbus_idl_type_parse(&t, "?array<string>"), 0);
        ck_assert_str_eq(mbus_idl_type_to_string(&t, buf, 5), "?arr");
        mbus_idl_type_done(&t);
}
END_TEST

struct bad_file {
        const char *text;
        unsigned line;
        const char *message;            /* a substring of the message */
};

static void check_bad_files(bool xml, const struct bad_file *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
                struct mbus_file_error err = {};
                char buf[600];
                int r;

                r = xml ? mbus_idl_parse_xml(&ns, "/etc/mbus/interfaces.d/x.xml", t[i].text, strlen(t[i].text), &err)
                        : mbus_idl_parse_json(&ns, "/etc/mbus/interfaces.d/x.json", t[i].text, strlen(t[i].text), &err);
                ck_assert_msg(r == -EBADMSG, "accepted: %s", t[i].text);
                ck_assert_ptr_null(ns);
                ck_assert_str_eq(err.path, xml ? "/etc/mbus/interfaces.d/x.xml" : "/etc/mbus/interfaces.d/x.json");
                ck_assert_msg(err.line == t[i].line && strstr(err.message, t[i].message),
                              "%s\n -> %s (want line %u, '%s')", t[i].text,
                              mbus_file_error_format(&err, buf, sizeof(buf)), t[i].line, t[i].message);
        }
}

#define NS_OPEN "<namespace name=\"org.example.Net\">\n"

START_TEST(test_xml_errors_name_file_line_and_problem) {
        static const struct bad_file t[] = {
                { "", 1, "XML syntax error" },
                { NS_OPEN "<procedure name=\"A\">\n</namespace>", 3, "XML syntax error: mismatched tag" },
                { NS_OPEN "<procedure name=\"A\" name=\"B\"/></namespace>", 2, "XML syntax error: duplicate attribute" },
                { NS_OPEN "\n<procedure name=\"A\"/>", 3, "XML syntax error" },
                { "<interface name=\"org.example.Net\"/>", 1, "unknown element <interface>" },
                { NS_OPEN "\n<method name=\"A\"/></namespace>", 3, "unknown element <method> in <namespace>" },
                { NS_OPEN "<procedure name=\"A\"><procedure name=\"B\"/></procedure></namespace>", 2,
                  "unknown element <procedure> in <procedure>" },
                { NS_OPEN "<arg name=\"a\" type=\"int\"/></namespace>", 2, "unknown element <arg> in <namespace>" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"int\"><doc/></arg></procedure></namespace>", 2,
                  "unknown element <doc> in <arg>" },
                { NS_OPEN "<doc>a <b>bold</b></doc></namespace>", 2, "unknown element <b> in <doc>" },
                { NS_OPEN "</namespace><namespace name=\"org.a.b\"/>", 2, "XML syntax error" },
                { NS_OPEN "<procedure name=\"A\" id=\"1\"/></namespace>", 2, "unknown attribute 'id' on <procedure>" },
                { "<namespace name=\"org.a.b\" version=\"1\"/>", 1, "unknown attribute 'version' on <namespace>" },
                { NS_OPEN "<procedure name=\"A\">\n<arg name=\"a\" type=\"int\" access=\"read\"/></procedure></namespace>", 3,
                  "unknown attribute 'access' on <arg>" },
                { NS_OPEN "<doc lang=\"en\">x</doc></namespace>", 2, "unknown attribute 'lang' on <doc>" },
                { "<namespace/>", 1, "<namespace> has no name" },
                { NS_OPEN "<procedure/></namespace>", 2, "<procedure> has no name" },
                { NS_OPEN "<event/></namespace>", 2, "<event> has no name" },
                { NS_OPEN "<procedure name=\"A\"><arg type=\"int\"/></procedure></namespace>", 2, "<arg> has no name" },
                { NS_OPEN "<procedure name=\"A\">\n\n<arg name=\"a\"/></procedure></namespace>", 4,
                  "argument 'a' has no type" },
                { "<namespace name=\"example\"/>", 1, "invalid namespace name 'example'" },
                { "\n<namespace name=\"org..x\"></namespace>", 2, "invalid namespace name 'org..x'" },
                { NS_OPEN "\n<procedure name=\"Get-State\"/></namespace>", 3, "invalid procedure name 'Get-State'" },
                { NS_OPEN "<event name=\"9Lives\"/></namespace>", 2, "invalid event name '9Lives'" },
                { NS_OPEN "<procedure name=\"A\">\n<arg name=\"a b\" type=\"int\"/></procedure></namespace>", 3,
                  "invalid argument name 'a b' in procedure A" },
                { NS_OPEN "<procedure name=\"A\"/>\n<procedure name=\"A\"/></namespace>", 3,
                  "duplicate procedure 'A' (first at line 2)" },
                { NS_OPEN "<event name=\"E\"/>\n\n<event name=\"E\"/></namespace>", 4, "duplicate event 'E' (first at line 2)" },
                { NS_OPEN "<procedure name=\"A\">\n<arg name=\"a\" type=\"int\"/>\n<arg name=\"a\" type=\"string\"/>"
                  "</procedure></namespace>", 4, "duplicate input argument 'a' in procedure A (first at line 3)" },
                { NS_OPEN "<event name=\"E\"><arg name=\"a\" type=\"int\"/>\n<arg name=\"a\" type=\"int\"/></event></namespace>",
                  3, "duplicate argument 'a' in event E" },
                { NS_OPEN "<procedure name=\"A\">\n<arg name=\"a\" type=\"array&lt;&gt;\"/></procedure></namespace>", 3,
                  "invalid type 'array<>' for argument 'a'" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"?\"/></procedure></namespace>", 2, "invalid type '?'" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"strin\"/></procedure></namespace>", 2,
                  "invalid type 'strin'" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"array&lt;string\"/></procedure></namespace>", 2,
                  "invalid type 'array<string'" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"int\" direction=\"inout\"/></procedure></namespace>", 2,
                  "invalid direction 'inout' for argument 'a' (expected in or out)" },
                { NS_OPEN "<event name=\"E\">\n<arg name=\"a\" type=\"int\" direction=\"out\"/></event></namespace>", 3,
                  "argument 'a' of event E: direction is not allowed on event arguments" },
                { NS_OPEN "<procedure name=\"A\">\n<arg name=\"a\" type=\"int\" direction=\"out\" optional=\"true\"/>"
                  "</procedure></namespace>", 3, "output argument 'a' of procedure A cannot be optional" },
                { NS_OPEN "<procedure name=\"A\"><arg name=\"a\" type=\"int\" optional=\"yes\"/></procedure></namespace>", 2,
                  "invalid boolean 'yes' for optional (expected true or false)" },
                { NS_OPEN "<doc>a</doc>\n<doc>b</doc></namespace>", 3, "duplicate <doc> in <namespace>" },
                { NS_OPEN "<procedure name=\"A\">\nhello</procedure></namespace>", 3, "unexpected text in <procedure>" },
                { "<!DOCTYPE x [<!ENTITY e \"boom\">]>\n<namespace name=\"org.a.b\">&e;</namespace>", 1,
                  "entity declarations are not allowed" },
                { "<namespace name=\"org.a.b\"><doc>\x01</doc></namespace>", 1, "XML syntax error" },
                { NS_OPEN "<procedure name=\"A\">\n<?mbus x?></procedure></namespace>", 3,
                  "processing instructions are not allowed (<?mbus ...?>)" },
                { "<?xml version=\"1.0\"?>\n<namespace name=\"org.a.b\"/>\n<?trailing?>\n", 3,
                  "processing instructions are not allowed" },
                { "<namespace name=\"org.a.b\"><doc>\xc3\x28</doc></namespace>", 1, "XML syntax error" },
                { "<?xml version=\"1.0\"?>\n<!-- nothing -->\n", 3, "XML syntax error: no element found" },
        };

        check_bad_files(/* xml= */ true, t, ELEMENTSOF(t));
}
END_TEST

#define JNS "{\"namespace\": \"org.example.Net\",\n"

START_TEST(test_json_errors_name_file_line_and_problem) {
        static const struct bad_file t[] = {
                { "", 1, "JSON syntax error: unexpected end of file" },
                { "{\n\"namespace\": \"org.a.b\",\n\"procedures\": [\n", 4, "JSON syntax error: unexpected end" },
                { "{\n\"namespace\": \"org.a.b\",\n\n\"doc\": 'x'}", 4, "JSON syntax error" },
                { "{\"namespace\": \"org.a.b\",}", 1, "JSON syntax error" },
                { "{\"namespace\": \"org.a.b\"}\n\n{}", 3, "JSON syntax error" },
                { "{\"namespace\": \"org.a.b\"}\n\n  x", 3, "JSON syntax error" },
                { "[\n]", 1, "the description must be a JSON object, not array" },
                { "\n\n{\"doc\": \"x\"}", 3, "missing key 'namespace'" },
                { "{\"namespace\": 7}", 1, "'namespace' must be a string, not int" },
                { "{\"namespace\": \"org.a.b\",\n \"version\": 1}", 1, "unknown key 'version' in the namespace object" },
                { "{\"namespace\": \"org.a.b\", \"source\": \"file\"}", 1, "unknown key 'source'" },
                { "{\"namespace\": \"org.a.b\", \"doc\": [\"x\"]}", 1, "'doc' of the namespace must be a string, not array" },
                { JNS "\"procedures\": {}}", 1, "'procedures' must be an array, not object" },
                { JNS "\"procedures\": [\n\"GetState\"]}", 3, "procedures[0] must be an object, not string" },
                { JNS "\"events\": [{\"name\": \"A\"},\n {\"doc\": \"x\"}]}", 3, "event 1 has no 'name'" },
                { JNS "\"procedures\": [\n{\"name\": null}]}", 3, "'name' of a procedure must be a string, not null" },
                { JNS "\"events\": [\n{\"name\": \"E\", \"doc\": 1}]}", 3, "'doc' of an event must be a string, not int" },
                { JNS "\"procedures\": [\n{\"name\": \"A\", \"args\": []}]}", 3,
                  "unknown key 'args' in procedure A (procedures have 'in' and 'out')" },
                { JNS "\"events\": [\n\n{\"name\": \"E\", \"in\": []}]}", 4, "unknown key 'in' in event E (events have 'args')" },
                { JNS "\"procedures\": [{\"name\": \"A\",\n \"in\": {}}]}", 2, "'in' of procedure A must be an array, not object" },
                { JNS "\"procedures\": [{\"name\": \"A\",\n \"in\": [\n\n 5]}]}", 5, "in[0] of procedure A must be an object" },
                { JNS "\"procedures\": [{\"name\": \"A\",\n \"in\": [{\"type\": \"int\"}]}]}", 3, "argument 0 of procedure A has no 'name'" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [\n{\"name\": \"a\"}]}]}", 3, "argument 'a' has no 'type'" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [\n{\"name\": \"a\", \"type\": 1}]}]}", 3,
                  "'type' of an argument must be a string, not int" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [{\"name\": \"a\", \"type\": \"int\",\n"
                  " \"direction\": \"in\"}]}]}", 2, "unknown key 'direction' in an argument of procedure A" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [\n{\"name\": \"a\", \"type\": \"int\", \"optional\": \"true\"}]}]}", 3,
                  "invalid boolean for 'optional' (expected true or false, not string)" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [\n{\"name\": \"a\", \"type\": \"array<>\"}]}]}", 3,
                  "invalid type 'array<>' for argument 'a'" },
                { JNS "\"events\": [{\"name\": \"E\", \"args\": [{\"name\": \"a\", \"type\": \"string\"},\n"
                  "{\"name\": \"b\", \"type\": \"array<string\"}]}]}", 3, "invalid type 'array<string'" },
                { "{\"namespace\": \"example\"}", 1, "invalid namespace name 'example'" },
                { JNS "\"procedures\": [{\"name\": \"A\"},\n{\"name\": \"B\"},\n {\"name\": \"A\"}]}", 4,
                  "duplicate procedure 'A' (first at line 2)" },
                { JNS "\"events\": [\n{\"name\": \"a.b\"}]}", 3, "invalid event name 'a.b'" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"out\": [\n{\"name\": \"x\", \"type\": \"int\"},\n"
                  "{\"name\": \"x\", \"type\": \"int\"}]}]}", 4, "duplicate output argument 'x' in procedure A (first at line 3)" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"out\": [\n{\"name\": \"x\", \"type\": \"int\", \"optional\": true}]}]}", 3,
                  "output argument 'x' of procedure A cannot be optional" },
                { JNS "\"procedures\": [{\"name\": \"A\", \"in\": [\n{\"name\": \"\", \"type\": \"int\"}]}]}", 3,
                  "invalid argument name ''" },
                { JNS "\"procedures\": [{\"name\": \"A\",\n \"name\": \"B\"}]}", 3, "duplicate key 'name'" },
                { JNS "\"procedures\": [\n{\"name\": \"A\\u0000B\"}]}", 3, "'name' of a procedure contains a NUL character" },
                { JNS "\"doc\": \"bell\\u0007\"}", 1, "documentation of namespace org.example.Net is not valid UTF-8 text" },
                { "{\"namespace\": \"org.a.b\", \"doc\": \"\xc3\x28\"}", 1, "not valid UTF-8" },
        };

        check_bad_files(/* xml= */ false, t, ELEMENTSOF(t));
}
END_TEST

START_TEST(test_limits_on_hostile_files) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_free_ char *big = NULL, *many = NULL;
        struct mbus_file_error err = {};
        char name[300];
        size_t n = 0;
        FILE *f;

        /* Over 1 MiB: refused before parsing. */
        big = malloc(MBUS_IDL_FILE_SIZE_MAX + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, ' ', MBUS_IDL_FILE_SIZE_MAX + 1);
        ck_assert_int_eq(mbus_idl_parse_xml(&ns, "big.xml", big, MBUS_IDL_FILE_SIZE_MAX + 1, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.message, "too large"));
        ck_assert_int_eq(mbus_idl_parse_json(&ns, "big.json", big, MBUS_IDL_FILE_SIZE_MAX + 1, &err), -EBADMSG);

        /* Names over 255 bytes. */
        memset(name, 'a', 256);
        name[256] = 0;
        f = open_memstream(&many, &n);
        fprintf(f, "<namespace name=\"org.a.b\"><procedure name=\"%s\"/></namespace>", name);
        fclose(f);
        ck_assert_int_eq(mbus_idl_parse_xml(&ns, "n.xml", many, n, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.message, "invalid procedure name"));
        free(TAKE_PTR(many));

        /* More members than the limit. */
        f = open_memstream(&many, &n);
        fprintf(f, "<namespace name=\"org.a.b\">");
        for (unsigned i = 0; i <= MBUS_IDL_MEMBERS_MAX; i++)
                fprintf(f, "<event name=\"E%u\"/>\n", i);
        fprintf(f, "</namespace>");
        fclose(f);
        ck_assert_int_eq(mbus_idl_parse_xml(&ns, "n.xml", many, n, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.message, "too many events"));
        ck_assert_uint_eq(err.line, MBUS_IDL_MEMBERS_MAX + 1);
        free(TAKE_PTR(many));

        /* The largest allowed namespace in JSON: line lookups stay fast and right. */
        f = open_memstream(&many, &n);
        fprintf(f, "{\"namespace\": \"org.a.b\", \"procedures\": [\n");
        for (unsigned i = 0; i < MBUS_IDL_MEMBERS_MAX; i++) {
                fprintf(f, "%s{\"name\": \"P%u\", \"in\": [\n", i ? ",\n" : "", i);
                for (unsigned k = 0; k < 4; k++)
                        fprintf(f, "%s{\"name\": \"a%u\", \"type\": \"array<int>\"}\n", k ? "," : "", k);
                fprintf(f, "]}");
        }
        fprintf(f, "]}");
        fclose(f);
        ck_assert_int_eq(mbus_idl_parse_json(&ns, "n.json", many, n, &err), 0);
        ck_assert_uint_eq(ns->n_procedures, MBUS_IDL_MEMBERS_MAX);
        ck_assert_uint_le(n, MBUS_IDL_FILE_SIZE_MAX);
        ck_assert_uint_eq(ns->procedures[MBUS_IDL_MEMBERS_MAX - 1].line, 2 + 6 * (MBUS_IDL_MEMBERS_MAX - 1));
        ck_assert_uint_eq(ns->procedures[MBUS_IDL_MEMBERS_MAX - 1].in[3].line, 2 + 6 * (MBUS_IDL_MEMBERS_MAX - 1) + 4);
        ns = mbus_idl_namespace_free(ns);
        free(TAKE_PTR(many));

        /* A body with many unknown keys is rejected without comparing each to each argument. */
        f = open_memstream(&many, &n);
        fprintf(f, "{\"a0\": [1]");
        for (unsigned i = 0; i < 100000; i++)
                fprintf(f, ", \"k%u\": 1", i);
        fprintf(f, "}");
        fclose(f);
        {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *x = NULL;
                char reason[128];

                ck_assert_int_eq(mbus_idl_parse_xml(&x, "x.xml", "<namespace name=\"org.a.b\"><procedure name=\"P\">"
                                                    "<arg name=\"a0\" type=\"array&lt;int&gt;\"/></procedure></namespace>",
                                                    110, &err), 0);
                ck_assert_int_eq(mbus_idl_validate(x->procedures[0].in, 1, many, n,
                                                   &(const struct mbus_idl_limits) { .max_size = n }, reason,
                                                   sizeof(reason)), -EINVAL);
                ck_assert_str_eq(reason, "unknown argument 'k0'");
        }
        free(TAKE_PTR(many));

        /* A NUL byte is not JSON text (json-c would stop reading there). */
        ck_assert_int_eq(mbus_idl_parse_json(&ns, "n.json", "{\"namespace\":\n \"org.a.b\"\0}", 26, &err), -EBADMSG);
        ck_assert_uint_eq(err.line, 2);
        ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));

        /* Deep JSON nesting is a syntax error, not a stack overflow. */
        f = open_memstream(&many, &n);
        fprintf(f, "{\"namespace\": \"org.a.b\", \"doc\": ");
        for (unsigned i = 0; i < 10000; i++)
                fputc('[', f);
        fclose(f);
        ck_assert_int_eq(mbus_idl_parse_json(&ns, "n.json", many, n, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.message, "JSON syntax error"));
        ck_assert_ptr_null(ns);
}
END_TEST

struct validate_case {
        const char *body;
        int r;
        const char *reason;
};

static void check_validate_limits(const char *xml, const char *member, bool event, const struct validate_case *t,
                                  size_t n, const struct mbus_idl_limits *limits) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = parse_ok(true, xml);
        const struct mbus_idl_member *m = event ? mbus_idl_find_event(ns, member) : mbus_idl_find_procedure(ns, member);

        ck_assert_ptr_nonnull(m);
        for (size_t i = 0; i < n; i++) {
                char reason[256] = "unset";
                int r;

                r = mbus_idl_validate(m->in, m->n_in, t[i].body, t[i].body ? strlen(t[i].body) : 0, limits,
                                      reason, sizeof(reason));
                ck_assert_msg(r == t[i].r, "%s: %d (%s)", t[i].body, r, reason);
                if (t[i].reason)
                        ck_assert_msg(strcmp(reason, t[i].reason) == 0, "%s: '%s'", t[i].body, reason);
        }
}

static void check_validate(const char *xml, const char *member, bool event, const struct validate_case *t, size_t n) {
        check_validate_limits(xml, member, event, t, n, /* limits= */ NULL);
}

START_TEST(test_validate_names_the_argument_and_the_expected_type) {
        static const char xml[] =
                "<namespace name=\"org.example.V\"><procedure name=\"P\">"
                "<arg name=\"s\" type=\"string\"/>"
                "<arg name=\"i\" type=\"int\" optional=\"true\"/>"
                "<arg name=\"d\" type=\"double\" optional=\"true\"/>"
                "<arg name=\"b\" type=\"bool\" optional=\"true\"/>"
                "<arg name=\"o\" type=\"object\" optional=\"true\"/>"
                "<arg name=\"addrs\" type=\"array&lt;string&gt;\" optional=\"true\"/>"
                "<arg name=\"m\" type=\"array&lt;array&lt;?int&gt;&gt;\" optional=\"true\"/>"
                "<arg name=\"ns\" type=\"?string\" optional=\"true\"/>"
                "<arg name=\"x\" type=\"any\" optional=\"true\"/>"
                "<arg name=\"out\" type=\"int\" direction=\"out\"/>"
                "</procedure>"
                "<procedure name=\"Empty\"/>"
                "<event name=\"E\"><arg name=\"state\" type=\"?string\"/></event></namespace>";
        static const struct validate_case t[] = {
                { "{\"s\": \"x\"}", 0, "" },
                { " {\"s\": \"x\", \"i\": -3, \"d\": 2, \"b\": false, \"o\": {}, \"addrs\": [], \"m\": [[1, null], []],"
                  " \"ns\": null, \"x\": null}\n", 0, "" },
                { "{\"s\": \"x\", \"d\": 2.5, \"x\": [1, \"a\"]}", 0, "" },
                { "{\"s\": 5}", -EINVAL, "argument 's': expected string, got int" },
                { "{\"s\": null}", -EINVAL, "argument 's': expected string, got null" },
                { "{\"s\": \"x\", \"i\": 1.5}", -EINVAL, "argument 'i': expected int, got double" },
                { "{\"s\": \"x\", \"i\": \"1\"}", -EINVAL, "argument 'i': expected int, got string" },
                { "{\"s\": \"x\", \"i\": null}", -EINVAL, "argument 'i': expected int, got null" },
                { "{\"s\": \"x\", \"d\": true}", -EINVAL, "argument 'd': expected double, got bool" },
                { "{\"s\": \"x\", \"b\": 0}", -EINVAL, "argument 'b': expected bool, got int" },
                { "{\"s\": \"x\", \"o\": []}", -EINVAL, "argument 'o': expected object, got array" },
                { "{\"s\": \"x\", \"addrs\": \"a\"}", -EINVAL, "argument 'addrs': expected array<string>, got string" },
                { "{\"s\": \"x\", \"addrs\": [\"a\", \"b\", 3]}", -EINVAL, "argument 'addrs'[2]: expected string, got int" },
                { "{\"s\": \"x\", \"addrs\": [null]}", -EINVAL, "argument 'addrs'[0]: expected string, got null" },
                { "{\"s\": \"x\", \"m\": [[1], [2, \"z\"]]}", -EINVAL, "argument 'm'[1][1]: expected ?int, got string" },
                { "{\"s\": \"x\", \"m\": [[1], 2]}", -EINVAL, "argument 'm'[1]: expected array<?int>, got int" },
                { "{\"s\": \"x\", \"ns\": 1}", -EINVAL, "argument 'ns': expected ?string, got int" },
                { "{}", -EINVAL, "missing argument 's'" },
                { "", -EINVAL, "missing argument 's'" },
                { NULL, -EINVAL, "missing argument 's'" },
                { "{\"s\": \"x\", \"foo\": 1}", -EINVAL, "unknown argument 'foo'" },
                { "{\"s\": \"x\", \"out\": 1}", -EINVAL, "unknown argument 'out'" },
                { "[]", -EINVAL, "arguments must be a JSON object" },
                { "null", -EINVAL, "arguments must be a JSON object" },
                { "\"s\"", -EINVAL, "arguments must be a JSON object" },
                { "{\"s\": ", -EBADMSG, NULL },
                { "{\"s\": \"x\"} x", -EBADMSG, NULL },
        };
        static const struct validate_case empty[] = {
                { NULL, 0, "" },
                { "", 0, "" },
                { "  \n", 0, "" },
                { "{}", 0, "" },
                { "{\"a\": 1}", -EINVAL, "unknown argument 'a'" },
                { "7", -EINVAL, "arguments must be a JSON object" },
        };
        static const struct validate_case event[] = {
                { "{\"state\": null}", 0, "" },
                { "{\"state\": \"up\"}", 0, "" },
                { "{}", -EINVAL, "missing argument 'state'" },
                { "{\"state\": false}", -EINVAL, "argument 'state': expected ?string, got bool" },
        };

        check_validate(xml, "P", false, t, ELEMENTSOF(t));
        check_validate(xml, "Empty", false, empty, ELEMENTSOF(empty));
        check_validate(xml, "E", true, event, ELEMENTSOF(event));

        /* A deeply nested body stays an ordinary error. */
        {
                _cleanup_free_ char *deep = malloc(100020);
                char reason[128];
                struct mbus_idl_arg arg = { .name = (char *) "a", .type.kind = MBUS_IDL_ANY };

                strcpy(deep, "{\"a\": ");
                memset(deep + 6, '[', 100000);
                deep[100006] = 0;
                ck_assert_int_eq(mbus_idl_validate(&arg, 1, deep, strlen(deep), NULL, reason, sizeof(reason)), -ENOBUFS);
                ck_assert_str_eq(reason, "arguments nest deeper than 64 levels (max-body-depth)");
                ck_assert_int_eq(mbus_idl_validate(&arg, 1, "{\"a\": 1}", 8, NULL, NULL, 0), 0);
        }
}
END_TEST

/* The body checker reads JSON as RFC 8259 writes it, whatever the declared types. */
START_TEST(test_validate_reads_strict_json) {
        static const char xml[] =
                "<namespace name=\"org.example.V\"><procedure name=\"P\">"
                "<arg name=\"x\" type=\"any\" optional=\"true\"/>"
                "<arg name=\"s\" type=\"string\" optional=\"true\"/>"
                "<arg name=\"i\" type=\"int\" optional=\"true\"/>"
                "<arg name=\"d\" type=\"double\" optional=\"true\"/>"
                "</procedure></namespace>";
        static const struct validate_case t[] = {
                { "{\"x\": {\"a\": [1, -0, 0.5, 1e5, 1E+5, -2.5e-3, true, false, null, \"\", {}]}}", 0, "" },
                { "{\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", 0, "" },
                { "\t{ \"i\" : -12 , \"d\" : 3 }\r\n", 0, "" },
                { "{\"i\": 1e5}", -EINVAL, "argument 'i': expected int, got double" },
                { "{\"i\": 1.0}", -EINVAL, "argument 'i': expected int, got double" },
                { "{\"i\": -0}", 0, "" },
                { "{\"d\": -7}", 0, "" },
                /* the key is decoded before it is compared */
                { "{\"\\u0073\": \"x\"}", 0, "" },
                { "{\"\\u0073\\u0000\": \"x\"}", -EINVAL, "unknown argument 's...'" },
                /* grammar faults */
                { "{\"x\": [1,]}", -EBADMSG, NULL },
                { "{\"x\": 1,}", -EBADMSG, NULL },
                { "{'x': 1}", -EBADMSG, NULL },
                { "{x: 1}", -EBADMSG, NULL },
                { "{\"x\" 1}", -EBADMSG, NULL },
                { "{\"x\": 01}", -EBADMSG, NULL },
                { "{\"x\": 1.}", -EBADMSG, NULL },
                { "{\"x\": .5}", -EBADMSG, NULL },
                { "{\"x\": +1}", -EBADMSG, NULL },
                { "{\"x\": 1e}", -EBADMSG, NULL },
                { "{\"x\": -}", -EBADMSG, NULL },
                { "{\"x\": NaN}", -EBADMSG, NULL },
                { "{\"x\": tru}", -EBADMSG, NULL },
                { "{\"x\": truex}", -EBADMSG, NULL },
                { "{\"x\": nul}", -EBADMSG, NULL },
                { "{\"x\": [1 2]}", -EBADMSG, NULL },
                { "{\"x\": {\"a\" 1}}", -EBADMSG, NULL },
                { "{\"x\": {1: 1}}", -EBADMSG, NULL },
                { "{\"x\": [}", -EBADMSG, NULL },
                { "{\"x\": /* c */ 1}", -EBADMSG, NULL },
                { "{\"s\": \"a\\x\"}", -EBADMSG, NULL },
                { "{\"s\": \"a\\u12\"}", -EBADMSG, NULL },
                { "{\"s\": \"a\\u12G4\"}", -EBADMSG, NULL },
                { "{\"s\": \"tab\there\"}", -EBADMSG, NULL },
                { "{\"s\": \"unterminated}", -EBADMSG, NULL },
                { "{\"s\": \"\xff\"}", -EBADMSG, NULL },                /* not UTF-8 */
                { "{\"s\": \"\xc0\xaf\"}", -EBADMSG, NULL },            /* overlong */
                { "{\"s\": \"\xed\xa0\x80\"}", -EBADMSG, NULL },        /* a surrogate */
                { "{\"s\": \"\xf4\x90\x80\x80\"}", -EBADMSG, NULL },    /* past U+10FFFF */
                { "{\"s\": \"\xe2\x82\"}", -EBADMSG, NULL },            /* cut short */
                { "{\"x\": 1}}", -EBADMSG, NULL },
                { "{\"x\": 1} {}", -EBADMSG, NULL },
                { "x", -EBADMSG, "arguments are not valid JSON (at byte 0)" },
                { "{\"x\": 1, \"s\": 5", -EINVAL, "argument 's': expected string, got int" },
        };

        check_validate(xml, "P", false, t, ELEMENTSOF(t));

        /* A NUL byte ends nothing: it is a fault where it stands. */
        {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = parse_ok(true, xml);
                char reason[128];

                ck_assert_int_eq(mbus_idl_validate(ns->procedures[0].in, ns->procedures[0].n_in, "{\"x\": 1}\0", 9,
                                                   NULL, reason, sizeof(reason)), -EBADMSG);
                ck_assert_str_eq(reason, "arguments are not valid JSON (at byte 8)");
                ck_assert_int_eq(mbus_idl_validate(ns->procedures[0].in, ns->procedures[0].n_in, "{\"s\": \"a\0\"}", 10,
                                                   NULL, reason, sizeof(reason)), -EBADMSG);
        }
}
END_TEST

/* The first fault is the answer: nothing after it is read, however large or broken. */
START_TEST(test_validate_stops_at_the_first_fault) {
        static const char xml[] =
                "<namespace name=\"org.example.V\"><procedure name=\"P\">"
                "<arg name=\"s\" type=\"string\"/>"
                "<arg name=\"a\" type=\"array&lt;int&gt;\" optional=\"true\"/>"
                "</procedure></namespace>";
        static const struct validate_case t[] = {
                { "{\"s\": 1, \"a\": [[[[[[[[[[[[[[[[", -EINVAL, "argument 's': expected string, got int" },
                { "{\"zz\": garbage", -EINVAL, "unknown argument 'zz'" },
                { "{\"a\": [1, 2, \"x\", 4, garbage", -EINVAL, "argument 'a'[2]: expected int, got string" },
                { "{\"s\": \"x\", \"s\": \"y\"}", -EINVAL, "argument 's' given twice" },
                { "{\"a\": [1], \"a\": [1]}", -EINVAL, "argument 'a' given twice" },
                /* an unknown key is reported as far as it is shown, cut between characters */
                { "{\"" "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\": 1}", -EINVAL,
                  "unknown argument '" "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...'" },
        };
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = parse_ok(true, xml);
        _cleanup_free_ char *big = NULL;
        size_t n = 900 * 1024;
        char reason[256];

        check_validate(xml, "P", false, t, ELEMENTSOF(t));

        /* 900 KiB of broken text after a wrong first value: the type fault is the answer, where a
         * parser that reads everything first would call it not JSON. */
        big = malloc(n);
        ck_assert_ptr_nonnull(big);
        memset(big, '[', n);
        memcpy(big, "{\"a\": [1, null", 14);
        ck_assert_int_eq(mbus_idl_validate(ns->procedures[0].in, ns->procedures[0].n_in, big, n, NULL, reason,
                                           sizeof(reason)), -EINVAL);
        ck_assert_str_eq(reason, "argument 'a'[1]: expected int, got null");
}
END_TEST

/* Size and depth are limits: LimitsExceeded (-ENOBUFS) naming them, before or as they are passed. */
START_TEST(test_validate_limits_size_and_depth) {
        static const char xml[] =
                "<namespace name=\"org.example.V\"><procedure name=\"P\">"
                "<arg name=\"x\" type=\"any\" optional=\"true\"/>"
                "<arg name=\"m\" type=\"array&lt;array&lt;int&gt;&gt;\" optional=\"true\"/>"
                "<arg name=\"o\" type=\"object\" optional=\"true\"/>"
                "</procedure></namespace>";
        static const struct mbus_idl_limits three = { .max_size = 40, .max_depth = 3 };
        static const struct validate_case t[] = {
                { "{\"x\": [[1]]}", 0, "" },
                { "{\"x\": [[[1]]]}", -ENOBUFS, "arguments nest deeper than 3 levels (max-body-depth)" },
                { "{\"x\": [{\"a\": 1}]}", 0, "" },
                { "{\"x\": [{\"a\": {}}]}", -ENOBUFS, "arguments nest deeper than 3 levels (max-body-depth)" },
                { "{\"m\": [[1], [2, 3]]}", 0, "" },
                { "{\"o\": {\"a\": [1]}}", 0, "" },
                { "{\"o\": {\"a\": [[1]]}}", -ENOBUFS, "arguments nest deeper than 3 levels (max-body-depth)" },
                /* 40 bytes pass, 41 do not, whatever they hold */
                { "{\"x\": \"0123456789012345678901234567890\"}", 0, "" },
                { "{\"x\": \"01234567890123456789012345678901\"}", -ENOBUFS,
                  "arguments are 41 bytes, more than 40 (max-body-size)" },
                { "                                         ", -ENOBUFS,
                  "arguments are 41 bytes, more than 40 (max-body-size)" },
        };
        struct mbus_idl_limits l;

        check_validate_limits(xml, "P", false, t, ELEMENTSOF(t), &three);

        /* A file's limits win over the broker's, which win over the built-in ones. */
        mbus_idl_limits_resolve(NULL, NULL, &l);
        ck_assert_uint_eq(l.max_size, MBUS_IDL_BODY_SIZE_DEFAULT);
        ck_assert_uint_eq(l.max_depth, MBUS_IDL_BODY_DEPTH_DEFAULT);
        mbus_idl_limits_resolve(&(const struct mbus_idl_limits) { .max_depth = 5 },
                                &(const struct mbus_idl_limits) { .max_size = 77, .max_depth = 9 }, &l);
        ck_assert_uint_eq(l.max_size, 77);
        ck_assert_uint_eq(l.max_depth, 5);
        mbus_idl_limits_resolve(&(const struct mbus_idl_limits) { .max_depth = 100000 }, NULL, &l);
        ck_assert_uint_eq(l.max_depth, MBUS_IDL_BODY_DEPTH_MAX);

        /* The 16 MiB "[0,0,0,...]" of a hostile caller: refused unread under the default size. */
        {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = parse_ok(true, xml);
                size_t n = 16u * 1024u * 1024u;
                _cleanup_free_ char *big = malloc(n);
                char reason[128];

                ck_assert_ptr_nonnull(big);
                big[0] = '[';
                for (size_t i = 1; i + 1 < n; i += 2)
                        memcpy(big + i, "0,", 2);
                big[n - 1] = ']';
                ck_assert_int_eq(mbus_idl_validate(ns->procedures[0].in, ns->procedures[0].n_in, big, n, NULL, reason,
                                                   sizeof(reason)), -ENOBUFS);
                ck_assert_str_eq(reason, "arguments are 16777216 bytes, more than 1048576 (max-body-size)");
                /* With room for it, it is read to its end and found not to be an object. */
                ck_assert_int_eq(mbus_idl_validate(ns->procedures[0].in, ns->procedures[0].n_in, big, n,
                                                   &(const struct mbus_idl_limits) { .max_size = n }, reason,
                                                   sizeof(reason)), -EINVAL);
                ck_assert_str_eq(reason, "arguments must be a JSON object");
        }
}
END_TEST

/* Both file forms declare the limits of their namespace; out of range is a file error. */
START_TEST(test_files_declare_body_limits) {
        static const char *const bad_xml[] = {
                "<namespace name=\"org.a.b\" max-body-size=\"0\"/>",
                "<namespace name=\"org.a.b\" max-body-size=\"1K\"/>",
                "<namespace name=\"org.a.b\" max-body-size=\"-1\"/>",
                "<namespace name=\"org.a.b\" max-body-size=\"\"/>",
                "<namespace name=\"org.a.b\" max-body-size=\"4294967296\"/>",
                "<namespace name=\"org.a.b\" max-body-size=\"99999999999999999999999\"/>",
                "<namespace name=\"org.a.b\" max-body-depth=\"1025\"/>",
                "<namespace name=\"org.a.b\" max-body-depth=\"0\"/>",
        };
        static const char *const bad_json[] = {
                "{\"namespace\": \"org.a.b\", \"max-body-size\": 0}",
                "{\"namespace\": \"org.a.b\", \"max-body-size\": \"1024\"}",
                "{\"namespace\": \"org.a.b\", \"max-body-size\": 1.5}",
                "{\"namespace\": \"org.a.b\", \"max-body-size\": 4294967296}",
                "{\"namespace\": \"org.a.b\", \"max-body-depth\": -3}",
                "{\"namespace\": \"org.a.b\", \"max-body-depth\": 1025}",
        };
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *x = NULL, *j = NULL, *none = NULL;
        struct mbus_file_error err = {};

        x = parse_ok(true, "<namespace name=\"org.a.b\" max-body-size=\"4096\" max-body-depth=\"8\"/>");
        ck_assert_uint_eq(x->limits.max_size, 4096);
        ck_assert_uint_eq(x->limits.max_depth, 8);
        j = parse_ok(false, "{\"namespace\": \"org.a.b\", \"max-body-size\": 4294967295, \"max-body-depth\": 1024}");
        ck_assert_uint_eq(j->limits.max_size, 4294967295u);
        ck_assert_uint_eq(j->limits.max_depth, 1024);
        none = parse_ok(true, "<namespace name=\"org.a.b\"/>");
        ck_assert_uint_eq(none->limits.max_size, 0);
        ck_assert_uint_eq(none->limits.max_depth, 0);

        for (size_t i = 0; i < ELEMENTSOF(bad_xml); i++) {
                struct mbus_idl_namespace *ns = NULL;

                ck_assert_msg(mbus_idl_parse_xml(&ns, "t.xml", bad_xml[i], strlen(bad_xml[i]), &err) == -EBADMSG,
                              "%s", bad_xml[i]);
                ck_assert_ptr_nonnull(strstr(err.message, "invalid max-body-"));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_json); i++) {
                struct mbus_idl_namespace *ns = NULL;

                ck_assert_msg(mbus_idl_parse_json(&ns, "t.json", bad_json[i], strlen(bad_json[i]), &err) == -EBADMSG,
                              "%s", bad_json[i]);
                ck_assert_msg(strstr(err.message, "max-body-"), "%s", err.message);
        }
}
END_TEST

START_TEST(test_declaration_from_register_body) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL, *empty = NULL, *bad = NULL;
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *xml = NULL;
        const char *body = "{\"procedures\": [\"GetState\", \"Reboot\"], \"events\": [\"StateChanged\"], \"future\": 1}";
        static const char *const invalid[] = {
                "[]", "{\"procedures\": \"GetState\"}", "{\"procedures\": [1]}", "{\"procedures\": [\"a.b\"]}",
                "{\"events\": [\"E\", \"E\"]}", "{", "null", "{\"procedures\": [\"Get\\u0000State\"]}",
        };

        ck_assert_int_eq(mbus_idl_from_declaration(&ns, "org.example.Network", body, strlen(body)), 0);
        ck_assert(ns->declared);
        ck_assert_ptr_null(ns->path);
        ck_assert_uint_eq(ns->n_procedures, 2);
        ck_assert_uint_eq(ns->n_events, 1);
        ck_assert_ptr_nonnull(mbus_idl_find_procedure(ns, "Reboot"));
        ck_assert_ptr_nonnull(mbus_idl_find_event(ns, "StateChanged"));

        /* The canonical form of a declaration lists names only: its arguments are unknown. */
        ck_assert_int_eq(mbus_idl_to_json(ns, &o), 0);
        ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                         "{\"namespace\":\"org.example.Network\",\"procedures\":[{\"name\":\"GetState\"},"
                         "{\"name\":\"Reboot\"}],\"events\":[{\"name\":\"StateChanged\"}]}");
        ck_assert_int_eq(mbus_idl_to_xml(ns, &xml), 0);
        ck_assert_ptr_nonnull(strstr(xml, "<procedure name=\"GetState\"/>"));

        ck_assert_int_eq(mbus_idl_from_declaration(&empty, "org.example.Quiet", NULL, 0), 0);
        ck_assert_uint_eq(empty->n_procedures + empty->n_events, 0);

        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                ck_assert_msg(mbus_idl_from_declaration(&bad, "org.example.Network", invalid[i], strlen(invalid[i])) == -EINVAL,
                              "%s", invalid[i]);
        ck_assert_int_eq(mbus_idl_from_declaration(&bad, "Network", NULL, 0), -EINVAL);
        ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_typed_declaration_is_checked_and_survives_introspect) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL, *back = NULL, *bad = NULL;
        _cleanup_json_ json_object *o = NULL;
        struct mbus_file_error err = {};
        char reason[256];
        /* Typed members in the canonical member form, next to one declared by name alone. */
        static const char body[] =
                "{\"doc\": \"Adds.\", \"procedures\": [\"Echo\", "
                "{\"name\": \"Add\", \"doc\": \"Sums two numbers.\", "
                " \"in\": [{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"b\", \"type\": \"int\", \"optional\": true}],"
                " \"out\": [{\"name\": \"sum\", \"type\": \"int\"}]}, {\"name\": \"Ping\"}],"
                " \"events\": [{\"name\": \"Added\", \"args\": [{\"name\": \"sum\", \"type\": \"int\"}]}, \"Tick\"]}";
        static const char *const invalid[] = {
                "{\"procedures\": [{\"name\": \"Add\", \"in\": [{\"name\": \"a\", \"type\": \"integer\"}]}]}",
                "{\"procedures\": [{\"in\": []}]}",
                "{\"procedures\": [{\"name\": \"Add\", \"args\": []}]}",
                "{\"events\": [{\"name\": \"E\", \"args\": [{\"name\": \"x\"}]}]}",
                "{\"procedures\": [\"Add\", {\"name\": \"Add\"}]}",
                "{\"doc\": 1}",
        };

        ck_assert_int_eq(mbus_idl_from_declaration(&ns, "org.example.Calc", body, strlen(body)), 0);
        ck_assert(ns->declared);
        ck_assert_str_eq(ns->doc, "Adds.");
        ck_assert(mbus_idl_find_procedure(ns, "Echo")->untyped);
        ck_assert(!mbus_idl_find_procedure(ns, "Add")->untyped);
        ck_assert(!mbus_idl_find_procedure(ns, "Ping")->untyped);      /* an object: typed, no arguments */
        ck_assert(mbus_idl_find_event(ns, "Tick")->untyped);

        /* Checked as a file is, for what it typed; the rest is the owner's to answer. */
        ck_assert_int_eq(mbus_introspection_check_call(ns, "Add", "{\"a\": 1, \"b\": 2}", 16, NULL, reason, sizeof(reason)), 0);
        ck_assert_int_eq(mbus_introspection_check_call(ns, "Add", "{\"a\": \"1\"}", 10, NULL, reason, sizeof(reason)),
                         -EINVAL);
        ck_assert_msg(strstr(reason, "argument 'a': expected int"), "%s", reason);
        ck_assert_int_eq(mbus_introspection_check_call(ns, "Ping", "{\"x\": 1}", 8, NULL, reason, sizeof(reason)), -EINVAL);
        ck_assert_int_eq(mbus_introspection_check_call(ns, "Echo", "{\"x\": 1}", 8, NULL, reason, sizeof(reason)), 0);
        ck_assert_int_eq(mbus_introspection_check_call(ns, "Other", "{\"x\": 1}", 8, NULL, reason, sizeof(reason)), 0);
        ck_assert_int_eq(mbus_introspection_check_event(ns, "Added", "{}", 2, NULL, reason, sizeof(reason)), -EINVAL);
        ck_assert_int_eq(mbus_introspection_check_event(ns, "Tick", "{\"n\": 1}", 8, NULL, reason, sizeof(reason)), 0);

        /* Introspect's form keeps typed (lists, empty ones too) apart from untyped (none). */
        ck_assert_int_eq(mbus_idl_to_json(ns, &o), 0);
        ck_assert_int_eq(json_object_object_add(o, "source", json_object_new_string("declared")), 0);
        ck_assert_int_eq(mbus_idl_from_json(&back, o, NULL), 0);
        ck_assert(back->declared);
        ck_assert(mbus_idl_find_procedure(back, "Echo")->untyped);
        ck_assert(!mbus_idl_find_procedure(back, "Ping")->untyped);
        ck_assert_uint_eq(mbus_idl_find_procedure(back, "Add")->n_in, 2);
        ck_assert(mbus_idl_find_procedure(back, "Add")->in[1].optional);
        ck_assert(mbus_idl_find_event(back, "Tick")->untyped);
        ck_assert_uint_eq(mbus_idl_find_event(back, "Added")->n_in, 1);

        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                ck_assert_msg(mbus_idl_from_declaration_with_error(&bad, "org.example.Calc", invalid[i],
                                                                   strlen(invalid[i]), &err) == -EINVAL,
                              "%s", invalid[i]);
                ck_assert_msg(err.message[0], "no reason for %s", invalid[i]);
                ck_assert_ptr_null(bad);
        }
        /* The reason names what is wrong. */
        ck_assert_int_eq(mbus_idl_from_declaration_with_error(&bad, "org.example.Calc", invalid[0], strlen(invalid[0]),
                                                              &err), -EINVAL);
        ck_assert_msg(strstr(err.message, "invalid type 'integer' for argument 'a'"), "%s", err.message);
        /* A declaration has no lines to point at. */
        ck_assert_int_eq(mbus_idl_from_declaration_with_error(&bad, "org.example.Calc", invalid[4], strlen(invalid[4]),
                                                              &err), -EINVAL);
        ck_assert_str_eq(err.message, "duplicate procedure 'Add'");
}
END_TEST

static char *write_file(const char *dir, const char *name, const char *text) {
        char *path;
        FILE *f;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        return path;
}

START_TEST(test_load_file_checks_name_and_extension) {
        char dir[] = "/tmp/test-idl-XXXXXX", buf[600];
        _cleanup_free_ char *xml = NULL, *json = NULL, *wrong = NULL, *ext = NULL, *missing = NULL;
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *a = NULL, *b = NULL, *c = NULL;
        struct mbus_file_error err = {};

        ck_assert_ptr_nonnull(mkdtemp(dir));
        xml = write_file(dir, "org.example.Network.xml", full_xml);
        json = write_file(dir, "org.example.Network.json", full_json);
        wrong = write_file(dir, "org.example.Other.xml", full_xml);
        ext = write_file(dir, "org.example.Network.txt", full_xml);
        ck_assert_int_ge(asprintf(&missing, "%s/org.example.Gone.json", dir), 0);

        ck_assert_int_eq(mbus_idl_load_file(&a, xml, &err), 0);
        ck_assert_str_eq(a->path, xml);
        ck_assert_int_eq(mbus_idl_load_file(&b, json, &err), 0);
        assert_ns_equal(a, b);

        ck_assert_int_eq(mbus_idl_load_file(&c, wrong, &err), -EBADMSG);
        ck_assert_str_eq(mbus_file_error_format(&err, buf, sizeof(buf)) + strlen(dir),
                         "/org.example.Other.xml: file declares namespace org.example.Network, "
                         "so it must be named org.example.Network.xml");
        ck_assert_int_eq(mbus_idl_load_file(&c, ext, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.message, "unknown file type"));
        ck_assert_int_eq(mbus_idl_load_file(&c, missing, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
        ck_assert_int_eq(mbus_idl_load_file(&c, dir, &err), -EBADMSG);
        ck_assert_ptr_null(c);

        /* A broken file on disk reports the path given and the line. */
        free(wrong);
        wrong = write_file(dir, "org.example.Broken.json", "{\n\"namespace\": \"org.example.Broken\",\n\"procedures\": 1}");
        ck_assert_int_eq(mbus_idl_load_file(&c, wrong, &err), -EBADMSG);
        ck_assert_str_eq(err.path, wrong);
        ck_assert_uint_eq(err.line, 1);

        (void) unlink(xml);
        (void) unlink(json);
        (void) unlink(wrong);
        (void) unlink(ext);
        {
                char other[600];

                snprintf(other, sizeof(other), "%s/org.example.Other.xml", dir);
                (void) unlink(other);
        }
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_file_error_format_and_lines) {
        struct mbus_file_error e = {};
        char buf[128];
        const char text[] = "a\nb\n\nc";

        ck_assert_int_eq(mbus_file_error_set(&e, "/x/y.xml", 7, "bad %s", "thing"), -EBADMSG);
        ck_assert_str_eq(mbus_file_error_format(&e, buf, sizeof(buf)), "/x/y.xml:7: bad thing");
        mbus_file_error_set(&e, "/x/y.xml", 0, "unreadable");
        ck_assert_str_eq(mbus_file_error_format(&e, buf, sizeof(buf)), "/x/y.xml: unreadable");
        mbus_file_error_set(&e, NULL, 0, "plain");
        ck_assert_str_eq(mbus_file_error_format(&e, buf, sizeof(buf)), "plain");
        ck_assert_int_eq(mbus_file_error_set(NULL, "p", 1, "x"), -EBADMSG);
        ck_assert_str_eq(mbus_file_error_format(&e, buf, 3), "pl");

        ck_assert_uint_eq(mbus_text_line_of(text, strlen(text), 0), 1);
        ck_assert_uint_eq(mbus_text_line_of(text, strlen(text), 1), 1);
        ck_assert_uint_eq(mbus_text_line_of(text, strlen(text), 2), 2);
        ck_assert_uint_eq(mbus_text_line_of(text, strlen(text), 5), 4);
        ck_assert_uint_eq(mbus_text_line_of(text, strlen(text), 100), 4);
}
END_TEST

/* Every "PATH:LINE: text" of list in order; fails naming what differs. */
static void assert_errors(const struct mbus_file_errors *all, const char *path, const unsigned *lines,
                          const char *const *texts, size_t n) {
        char buf[600];

        for (size_t i = 0; i < all->n_errors; i++)
                fprintf(stderr, "  %s\n", mbus_file_error_format(&all->errors[i], buf, sizeof(buf)));
        ck_assert_uint_eq(all->n_errors, n);
        for (size_t i = 0; i < n; i++) {
                const struct mbus_file_error *e = &all->errors[i];

                ck_assert_str_eq(e->path, path);
                ck_assert_msg(e->line == lines[i] && strstr(e->message, texts[i]),
                              "error %zu: want line %u '%s', got %s", i, lines[i], texts[i],
                              mbus_file_error_format(e, buf, sizeof(buf)));
        }
}

/* Parses text, which must fail, and asserts its errors; returns the error as a caller without a list sees it. */
static struct mbus_file_error assert_all_errors(bool xml, const char *path, const char *text, const unsigned *lines,
                                                const char *const *texts, size_t n) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        struct mbus_file_errors all = {};
        struct mbus_file_error err = { .all = &all };

        ck_assert_int_eq(xml ? mbus_idl_parse_xml(&ns, path, text, strlen(text), &err)
                             : mbus_idl_parse_json(&ns, path, text, strlen(text), &err), -EBADMSG);
        ck_assert_ptr_null(ns);
        mbus_file_errors_sort(&all);
        assert_errors(&all, path, lines, texts, n);
        mbus_file_errors_done(&all);
        err.all = NULL;
        return err;
}

START_TEST(test_every_error_of_a_file_is_reported) {
        static const char xml[] =
                "<namespace name=\"org.example.Net\" colour=\"red\">\n"         /* 1 */
                "  <procedure name=\"A\">\n"                                    /* 2 */
                "    <arg name=\"x\" type=\"strin\"/>\n"                         /* 3 */
                "    <arg name=\"x\" type=\"int\"/>\n"                           /* 4 */
                "  </procedure>\n"                                               /* 5 */
                "  <procedure><arg name=\"lost\" type=\"nope\"/></procedure>\n"   /* 6 */
                "  <method name=\"B\"><arg name=\"y\" type=\"nope\"/></method>\n"  /* 7 */
                "  <procedure name=\"A\"/>\n"                                    /* 8 */
                "  <event name=\"E\">text<arg name=\"z\" type=\"int\" direction=\"out\"/></event>\n" /* 9 */
                "  <procedure name=\"9bad\"/>\n"                                 /* 10 */
                "</namespace>\n";
        static const unsigned xml_lines[] = { 1, 3, 4, 6, 7, 8, 9, 9, 10 };
        static const char *const xml_texts[] = {
                "unknown attribute 'colour' on <namespace>", "invalid type 'strin' for argument 'x'",
                "duplicate input argument 'x' in procedure A (first at line 3)", "<procedure> has no name attribute",
                "unknown element <method> in <namespace>", "duplicate procedure 'A' (first at line 2)",
                "unexpected text in <event>", "direction is not allowed on event arguments",
                "invalid procedure name '9bad'",
        };
        static const char json[] =
                "{\"namespace\": \"org.example.Net\", \"colour\": 1,\n"         /* 1 */
                " \"procedures\": [\n"                                          /* 2 */
                "  {\"name\": \"A\", \"in\": [{\"name\": \"x\", \"type\": \"strin\"}]},\n" /* 3 */
                "  {\"in\": [{\"name\": \"lost\", \"type\": \"nope\"}]},\n"       /* 4 */
                "  {\"name\": \"A\"},\n"                                         /* 5 */
                "  {\"name\": \"B\", \"in\": [{\"name\": \"y\"},\n"                /* 6 */
                "                     {\"name\": \"z\", \"type\": \"int\", \"x\": 1}]}]}\n"; /* 7 */
        static const unsigned json_lines[] = { 1, 3, 4, 5, 6, 7 };
        static const char *const json_texts[] = {
                "unknown key 'colour' in the namespace object", "invalid type 'strin' for argument 'x'",
                "procedure 1 has no 'name'", "duplicate procedure 'A' (first at line 3)",
                "argument 'y' has no 'type'", "unknown key 'x' in an argument of procedure B",
        };
        /* A syntax error ends the file, after the errors before it. */
        static const char syntax[] =
                "<namespace name=\"org.example.Net\">\n"
                "  <procedure name=\"A\" x=\"1\"/>\n"
                "  <procedure name=\"B\"><foo/></procedure>\n"
                "  <procedure name=\"C\">\n"
                "</namespace>\n"
                "<procedure name=\"A\"/>\n";
        static const unsigned syntax_lines[] = { 2, 3, 5 };
        static const char *const syntax_texts[] = {
                "unknown attribute 'x' on <procedure>", "unknown element <foo> in <procedure>",
                "XML syntax error: mismatched tag",
        };
        const char *px = "/etc/mbus/interfaces.d/org.example.Net.xml", *pj = "/etc/mbus/interfaces.d/org.example.Net.json";
        struct mbus_file_error first = {};

        /* The first error is the one a caller without a list sees, and the count is whole. */
        first = assert_all_errors(true, px, xml, xml_lines, xml_texts, ELEMENTSOF(xml_lines));
        ck_assert_uint_eq(first.line, 1);
        ck_assert_uint_eq(first.n_errors, ELEMENTSOF(xml_lines));
        (void) assert_all_errors(false, pj, json, json_lines, json_texts, ELEMENTSOF(json_lines));
        (void) assert_all_errors(true, px, syntax, syntax_lines, syntax_texts, ELEMENTSOF(syntax_lines));
}
END_TEST

START_TEST(test_error_list_is_bounded) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        struct mbus_file_errors all = {};
        struct mbus_file_error err = { .all = &all };
        size_t n = 0, size = 64 + 40 * (MBUS_FILE_ERRORS_MAX + 50);

        text = malloc(size);
        ck_assert_ptr_nonnull(text);
        n += (size_t) snprintf(text + n, size - n, "<namespace name=\"org.example.Net\">\n");
        for (unsigned i = 0; i < MBUS_FILE_ERRORS_MAX + 50; i++)
                n += (size_t) snprintf(text + n, size - n, "<procedure name=\"P%u\" x=\"1\"/>\n", i);
        n += (size_t) snprintf(text + n, size - n, "</namespace>\n");
        ck_assert_int_eq(mbus_idl_parse_xml(&ns, "/x/org.example.Net.xml", text, n, &err), -EBADMSG);
        ck_assert_uint_eq(all.n_errors, MBUS_FILE_ERRORS_MAX);
        ck_assert_uint_eq(all.n_dropped, 50);
        ck_assert_uint_eq(err.n_errors, MBUS_FILE_ERRORS_MAX + 50);
        mbus_file_errors_done(&all);
}
END_TEST

static Suite *idl_suite(void) {
        Suite *s = suite_create("idl");
        TCase *tc = tcase_create("idl");

        tcase_add_test(tc, test_xml_and_json_give_the_same_model);
        tcase_add_test(tc, test_line_numbers_of_members_and_arguments);
        tcase_add_test(tc, test_output_forms_parse_back_to_the_same_model);
        tcase_add_test(tc, test_from_json_accepts_the_introspect_reply);
        tcase_add_test(tc, test_type_strings);
        tcase_add_test(tc, test_xml_errors_name_file_line_and_problem);
        tcase_add_test(tc, test_json_errors_name_file_line_and_problem);
        tcase_add_test(tc, test_limits_on_hostile_files);
        tcase_add_test(tc, test_validate_names_the_argument_and_the_expected_type);
        tcase_add_test(tc, test_validate_reads_strict_json);
        tcase_add_test(tc, test_validate_stops_at_the_first_fault);
        tcase_add_test(tc, test_validate_limits_size_and_depth);
        tcase_add_test(tc, test_files_declare_body_limits);
        tcase_add_test(tc, test_declaration_from_register_body);
        tcase_add_test(tc, test_typed_declaration_is_checked_and_survives_introspect);
        tcase_add_test(tc, test_load_file_checks_name_and_extension);
        tcase_add_test(tc, test_file_error_format_and_lines);
        tcase_add_test(tc, test_every_error_of_a_file_is_reported);
        tcase_add_test(tc, test_error_list_is_bounded);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(idl_suite)
