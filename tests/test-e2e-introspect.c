/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Introspection end to end: org.mbus.Broker.Introspect and ListNamespaces of a real broker
 * with interface files (XML and JSON) and of namespaces whose owner only declared its members,
 * and the mbus-introspect tool ($MBUS_TEST_INTROSPECT) in all its modes: list, table, --xml,
 * --json, --check and --explain, the last checked against what the broker itself decides.
 * Runs as root (clients of other uids); skipped (77) otherwise.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "util/macro.h"

#define NS "org.example.Net"
#define OUT_MAX (256 * 1024)

static const struct test_who ROOT = { 0, 0, NULL, 0 };
static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };

static const char *const net_interface[2] = {
        "<namespace name=\"org.example.Net\">\n"
        "  <doc>A test service.</doc>\n"
        "  <procedure name=\"SetState\">\n"
        "    <arg name=\"interface\" type=\"string\" direction=\"in\"/>\n"
        "    <arg name=\"up\" type=\"bool\" direction=\"in\"/>\n"
        "    <arg name=\"mtu\" type=\"int\" direction=\"in\" optional=\"true\"/>\n"
        "  </procedure>\n"
        "  <procedure name=\"GetState\">\n"
        "    <doc>Returns the state of one interface.</doc>\n"
        "    <arg name=\"interface\" type=\"string\" direction=\"in\"/>\n"
        "    <arg name=\"state\" type=\"string\" direction=\"out\"/>\n"
        "    <arg name=\"addresses\" type=\"array&lt;string&gt;\" direction=\"out\"/>\n"
        "  </procedure>\n"
        "  <event name=\"Changed\">\n"
        "    <arg name=\"interface\" type=\"string\"/>\n"
        "    <arg name=\"state\" type=\"?string\"/>\n"
        "  </event>\n"
        "</namespace>\n",
        "{\"namespace\": \"org.example.Net\", \"doc\": \"A test service.\",\n"
        " \"procedures\": [\n"
        "  {\"name\": \"SetState\", \"in\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "                                 {\"name\": \"up\", \"type\": \"bool\"},\n"
        "                                 {\"name\": \"mtu\", \"type\": \"int\", \"optional\": true}]},\n"
        "  {\"name\": \"GetState\", \"doc\": \"Returns the state of one interface.\",\n"
        "   \"in\": [{\"name\": \"interface\", \"type\": \"string\"}],\n"
        "   \"out\": [{\"name\": \"state\", \"type\": \"string\"},\n"
        "            {\"name\": \"addresses\", \"type\": \"array<string>\"}]}],\n"
        " \"events\": [\n"
        "  {\"name\": \"Changed\", \"args\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "                                {\"name\": \"state\", \"type\": \"?string\"}]}]}\n",
};

static const char *const net_policy =
        "<policy namespace=\"org.example.Net\">\n"
        "  <allow call=\"*\" user=\"nobody\"/>\n"
        "  <deny call=\"Reboot\" user=\"nobody\"/>\n"
        "  <allow call=\"GetState\" group=\"users\"/>\n"
        "</policy>\n";

struct env {
        struct test_config c;
        struct test_broker b;
};

static void env_start(struct env *e, int form) {
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "system", NULL };
        char rel[128];

        ck_assert_int_eq(test_config_new(&e->c, true), 0);
        if (form < 2) {         /* 2: no interface file */
                snprintf(rel, sizeof(rel), "interfaces.d/%s.%s", NS, form == 0 ? "xml" : "json");
                test_config_write(&e->c, rel, net_interface[form]);
        }
        test_config_write(&e->c, "policy.d/" NS ".xml", net_policy);
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_done(struct env *e) {
        int st = test_broker_stop(&e->b);

        test_config_remove(&e->c);
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: status %d", st);
}

static void agent(struct test_agent *a, struct env *e, const struct test_who *who) {
        ck_assert_int_eq(test_agent_start(a, e->b.address, who), 0);
}

static void agent_done(struct test_agent *a) {
        ck_assert_int_eq(test_agent_stop(a), 0);
}

/* Introspect ns through agent a; returns the parsed reply, or NULL with the error in a->reply. */
static json_object *introspect(struct test_agent *a, const char *ns) {
        if (test_agent_do(a, "call org.mbus.Broker Introspect {\"namespace\": \"%s\"}", ns) < 0)
                return NULL;
        return json_tokener_parse(a->reply);
}

static json_object *member(json_object *desc, const char *list, const char *name) {
        json_object *arr, *m;

        if (!json_object_object_get_ex(desc, list, &arr) || !json_object_is_type(arr, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                m = json_object_array_get_idx(arr, i);
                const char *n = test_json_str(m, "name");
                if (n && strcmp(n, name) == 0)
                        return m;
        }
        return NULL;
}

static size_t n_members(json_object *desc, const char *list) {
        json_object *arr;

        if (!json_object_object_get_ex(desc, list, &arr) || !json_object_is_type(arr, json_type_array))
                return (size_t) -1;
        return json_object_array_length(arr);
}

static const char *tool(void) {
        const char *t = getenv("MBUS_TEST_INTROSPECT");

        ck_assert_msg(t, "MBUS_TEST_INTROSPECT is not set");
        return t;
}

/* The line of out that starts with prefix and a blank, in buf; NULL if none. */
static const char *line_of(const char *out, const char *prefix, char *buf, size_t size) {
        size_t n = strlen(prefix);

        for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, n) == 0 && (p[n] == ' ' || p[n] == '\t')) {
                        size_t len = strcspn(p, "\n");
                        snprintf(buf, size, "%.*s", (int) len, p);
                        return buf;
                }
        return NULL;
}

/* ---- on the bus -------------------------------------------------------------------------- */

START_TEST(test_introspect_returns_the_file_description) {
        struct env e;
        struct test_agent nobody, svc;
        json_object *d, *m, *args;
        char path[512];

        env_start(&e, _i);
        agent(&nobody, &e, &NOBODY);
        agent(&svc, &e, &ROOT);

        /* declared by a file, served by nobody: still described */
        d = introspect(&nobody, NS);
        ck_assert_msg(d, "Introspect: %s", nobody.reply);
        ck_assert_str_eq(test_json_str(d, "namespace"), NS);
        ck_assert_str_eq(test_json_str(d, "source"), "file");
        snprintf(path, sizeof(path), "%s/interfaces.d/%s.%s", e.c.dir, NS, _i == 0 ? "xml" : "json");
        ck_assert_str_eq(test_json_str(d, "path"), path);
        ck_assert(json_object_object_get_ex(d, "owner", &m) && m == NULL);
        ck_assert_str_eq(test_json_str(d, "doc"), "A test service.");
        ck_assert_int_eq(n_members(d, "procedures"), 2);
        ck_assert_int_eq(n_members(d, "events"), 1);
        m = member(d, "procedures", "GetState");
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(test_json_str(m, "doc"), "Returns the state of one interface.");
        ck_assert(json_object_object_get_ex(m, "out", &args));
        ck_assert_int_eq(json_object_array_length(args), 2);
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(args, 1), "type"), "array<string>");
        m = member(d, "procedures", "SetState");
        ck_assert(json_object_object_get_ex(m, "in", &args));
        ck_assert_int_eq(json_object_array_length(args), 3);
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(args, 0), "name"), "interface");
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(args, 0), "type"), "string");
        json_object *opt;
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(args, 2), "optional", &opt));
        ck_assert(json_object_get_boolean(opt));
        m = member(d, "events", "Changed");
        ck_assert(json_object_object_get_ex(m, "args", &args));
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(args, 1), "type"), "?string");
        json_object_put(d);

        /* once served, the owner is named; the description is still the file's */
        ck_assert_int_eq(test_agent_do(&svc, "rawregister %s", NS), 0);
        ck_assert_int_eq(test_agent_do(&svc, "rawid"), 0);
        d = introspect(&nobody, NS);
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(test_json_str(d, "owner"), svc.reply);
        ck_assert_str_eq(test_json_str(d, "source"), "file");
        json_object_put(d);

        agent_done(&nobody);
        agent_done(&svc);
        env_done(&e);
}
END_TEST

START_TEST(test_xml_and_json_files_describe_the_same_namespace) {
        json_object *d[2];

        for (int form = 0; form < 2; form++) {
                struct env e;
                struct test_agent a;

                env_start(&e, form);
                agent(&a, &e, &NOBODY);
                d[form] = introspect(&a, NS);
                ck_assert_msg(d[form], "Introspect: %s", a.reply);
                json_object_object_del(d[form], "path");
                agent_done(&a);
                env_done(&e);
        }
        ck_assert_msg(json_object_equal(d[0], d[1]), "XML gave %s\nJSON gave %s",
                      json_object_to_json_string(d[0]), json_object_to_json_string(d[1]));
        json_object_put(d[0]);
        json_object_put(d[1]);
}
END_TEST

START_TEST(test_introspect_of_a_namespace_without_file_returns_the_owner_declaration) {
        struct env e;
        struct test_agent owner, nobody;
        json_object *d, *m;

        env_start(&e, 0);
        agent(&owner, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);

        d = introspect(&nobody, "org.example.Decl");
        ck_assert_ptr_null(d);
        ck_assert_str_eq(test_agent_error_name(&nobody), MBUS_ERROR_NO_SUCH_NAMESPACE);

        /* libmbus declares its handler table and the events given at mbus_register() */
        ck_assert_int_eq(test_agent_do(&owner, "register org.example.Decl Alpha,Beta Gamma"), 0);
        d = introspect(&nobody, "org.example.Decl");
        ck_assert_msg(d, "Introspect: %s", nobody.reply);
        ck_assert_str_eq(test_json_str(d, "source"), "declared");
        ck_assert_str_eq(test_json_str(d, "owner"), owner.id);
        ck_assert_int_eq(n_members(d, "procedures"), 2);
        ck_assert_ptr_nonnull(member(d, "procedures", "Alpha"));
        ck_assert_ptr_nonnull(member(d, "procedures", "Beta"));
        ck_assert_int_eq(n_members(d, "events"), 1);
        m = member(d, "events", "Gamma");
        ck_assert_ptr_nonnull(m);
        /* arguments unknown, not empty */
        ck_assert(!json_object_object_get_ex(m, "args", NULL));
        json_object_put(d);

        /* gone with its owner */
        ck_assert_int_eq(test_agent_do(&owner, "unregister org.example.Decl"), 0);
        d = introspect(&nobody, "org.example.Decl");
        ck_assert_ptr_null(d);
        ck_assert_str_eq(test_agent_error_name(&nobody), MBUS_ERROR_NO_SUCH_NAMESPACE);

        agent_done(&owner);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

START_TEST(test_list_namespaces_names_files_owners_and_uids) {
        struct env e;
        struct test_agent owner, nobody;
        json_object *o, *arr;
        bool seen_net = false, seen_decl = false;

        env_start(&e, 1);
        agent(&owner, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        ck_assert_int_eq(test_agent_do(&owner, "register org.example.Decl Alpha -"), 0);

        ck_assert_int_eq(test_agent_do(&nobody, "call org.mbus.Broker ListNamespaces {}"), 0);
        o = json_tokener_parse(nobody.reply);
        ck_assert(json_object_object_get_ex(o, "namespaces", &arr));
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *n = json_object_array_get_idx(arr, i), *v;
                const char *name = test_json_str(n, "namespace");
                ck_assert_ptr_nonnull(name);
                if (strcmp(name, NS) == 0) {
                        seen_net = true;
                        ck_assert(json_object_object_get_ex(n, "owner", &v) && v == NULL);
                        ck_assert(json_object_object_get_ex(n, "file", &v) && json_object_get_boolean(v));
                } else if (strcmp(name, "org.example.Decl") == 0) {
                        seen_decl = true;
                        ck_assert_str_eq(test_json_str(n, "owner"), owner.id);
                        ck_assert_int_eq(test_json_int(n, "uid"), 0);
                        ck_assert(json_object_object_get_ex(n, "file", &v) && !json_object_get_boolean(v));
                }
        }
        ck_assert(seen_net && seen_decl);
        json_object_put(o);

        agent_done(&owner);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

/* ---- mbus-introspect --------------------------------------------------------------------- */

START_TEST(test_tool_lists_namespaces_with_owner_and_file_flag) {
        struct env e;
        struct test_agent owner;
        static char out[OUT_MAX], err[OUT_MAX];
        char line[1024];

        env_start(&e, 0);
        agent(&owner, &e, &NOBODY);
        ck_assert_int_eq(test_agent_do(&owner, "register org.example.Decl Alpha -"), -EREMOTEIO);  /* nobody may not own it */
        agent_done(&owner);
        agent(&owner, &e, &ROOT);
        ck_assert_int_eq(test_agent_do(&owner, "register org.example.Decl Alpha -"), 0);

        const char *argv[] = { tool(), "--address", e.b.address, NULL };
        ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err), 20000), 0);
        ck_assert_msg(line_of(out, "org.example.Decl", line, sizeof(line)), "no line for org.example.Decl in:\n%s", out);
        ck_assert_msg(strstr(line, owner.id), "owner %s not in '%s'", owner.id, line);
        ck_assert_msg(strstr(line, "test-agent"), "client name not in '%s'", line);
        ck_assert_msg(strstr(line, " no"), "file flag not 'no' in '%s'", line);
        ck_assert_msg(line_of(out, NS, line, sizeof(line)), "no line for %s in:\n%s", NS, out);
        ck_assert_msg(strstr(line, " yes"), "file flag not 'yes' in '%s'", line);
        ck_assert_msg(line_of(out, "org.mbus.Broker", line, sizeof(line)), "no broker line in:\n%s", out);
        ck_assert_msg(strstr(line, ":1.0"), "broker owner not in '%s'", line);

        /* a namespace without a file: what its owner declared, arguments unknown */
        const char *argv_decl[] = { tool(), "--address", e.b.address, "org.example.Decl", NULL };
        ck_assert_int_eq(test_run(argv_decl, out, sizeof(out), err, sizeof(err), 20000), 0);
        ck_assert_msg(strstr(out, "declared by its owner"), "%s", out);
        ck_assert_msg(strstr(out, owner.id), "owner not shown:\n%s", out);
        ck_assert_msg(line_of(out, "procedure", line, sizeof(line)) && strstr(line, "Alpha") && strstr(line, "?"),
                      "no row for Alpha with unknown arguments:\n%s", out);

        /* --json: the ListNamespaces reply */
        const char *argv_json[] = { tool(), "--address", e.b.address, "--json", NULL };
        ck_assert_int_eq(test_run(argv_json, out, sizeof(out), err, sizeof(err), 20000), 0);
        json_object *o = json_tokener_parse(out), *arr;
        ck_assert_msg(o, "not JSON: %s", out);
        ck_assert(json_object_object_get_ex(o, "namespaces", &arr));
        ck_assert_int_ge(json_object_array_length(arr), 3);
        json_object_put(o);

        agent_done(&owner);
        env_done(&e);
}
END_TEST

START_TEST(test_tool_shows_a_served_namespace_as_table_json_and_xml) {
        struct env e;
        struct test_agent svc, a;
        static char out[OUT_MAX], err[OUT_MAX];
        char line[1024];

        env_start(&e, 1);
        agent(&svc, &e, &ROOT);
        agent(&a, &e, &NOBODY);
        ck_assert_int_eq(test_agent_do(&svc, "register %s GetState,SetState Changed", NS), 0);

        const char *argv[] = { tool(), "--address", e.b.address, NS, NULL };
        ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err), 20000), 0);
        ck_assert_msg(strstr(out, NS), "%s", out);
        ck_assert_msg(strstr(out, e.c.dir), "the file's path is not shown:\n%s", out);
        ck_assert_msg(line_of(out, "procedure", line, sizeof(line)), "no procedure row:\n%s", out);
        const char *p = strstr(out, "SetState");
        ck_assert_msg(p, "%s", out);
        snprintf(line, sizeof(line), "%.*s", (int) strcspn(p, "\n"), p);
        ck_assert_msg(strstr(line, "interface: string") && strstr(line, "up: bool") && strstr(line, "mtu?: int"),
                      "SetState's arguments are not in '%s'", line);
        p = strstr(out, "GetState");
        ck_assert_ptr_nonnull(p);
        snprintf(line, sizeof(line), "%.*s", (int) strcspn(p, "\n"), p);
        ck_assert_msg(strstr(line, "state: string") && strstr(line, "addresses: array<string>") &&
                      strstr(line, "Returns the state of one interface."), "GetState row: '%s'", line);
        p = strstr(out, "Changed");
        ck_assert_ptr_nonnull(p);
        snprintf(line, sizeof(line), "%.*s", (int) strcspn(p, "\n"), p);
        ck_assert_msg(strstr(line, "state: ?string"), "Changed row: '%s'", line);
        ck_assert_msg(line_of(out, "event", line, sizeof(line)), "no event row:\n%s", out);

        /* --json is what Introspect returns, in the canonical form of a file (without the
         * bus's "source", "path" and "owner") */
        const char *argv_json[] = { tool(), "--address", e.b.address, "--json", NS, NULL };
        ck_assert_int_eq(test_run(argv_json, out, sizeof(out), err, sizeof(err), 20000), 0);
        json_object *tool_d = json_tokener_parse(out), *bus_d = introspect(&a, NS);
        ck_assert_msg(tool_d, "not JSON: %s", out);
        ck_assert_ptr_nonnull(bus_d);
        ck_assert_str_eq(test_json_str(bus_d, "source"), "file");
        json_object_object_del(bus_d, "source");
        json_object_object_del(bus_d, "path");
        json_object_object_del(bus_d, "owner");
        ck_assert_msg(json_object_equal(tool_d, bus_d), "tool: %s\nbus: %s", out, a.reply);
        json_object_put(tool_d);
        json_object_put(bus_d);

        /* --xml can be saved as an interface file: --check accepts it */
        const char *argv_xml[] = { tool(), "--address", e.b.address, "--xml", NS, NULL };
        ck_assert_int_eq(test_run(argv_xml, out, sizeof(out), err, sizeof(err), 20000), 0);
        ck_assert_msg(strstr(out, "<procedure name=\"SetState\""), "%s", out);
        ck_assert_msg(strstr(out, "<event name=\"Changed\""), "%s", out);
        struct test_config c;
        char path[512];
        ck_assert_int_eq(test_config_new(&c, false), 0);
        test_config_write(&c, "interfaces.d/" NS ".xml", out);
        test_config_path(&c, "interfaces.d/" NS ".xml", path, sizeof(path));
        const char *argv_check[] = { tool(), "--check", path, NULL };
        ck_assert_int_eq(test_run(argv_check, out, sizeof(out), err, sizeof(err), 20000), 0);
        test_config_remove(&c);

        /* a namespace nobody serves and no file declares */
        const char *argv_none[] = { tool(), "--address", e.b.address, "org.example.Nothing", NULL };
        int r = test_run(argv_none, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_int_ne(r, 0);
        ck_assert_msg(strstr(err, "NoSuchNamespace"), "stderr: %s", err);

        agent_done(&svc);
        agent_done(&a);
        env_done(&e);
}
END_TEST

START_TEST(test_tool_check_reports_file_and_line) {
        struct test_config c;
        static char out[OUT_MAX], err[OUT_MAX];
        char good_xml[512], good_json[512], policy[512], bad[512], bad_json[512], want[600];

        ck_assert_int_eq(test_config_new(&c, false), 0);
        test_config_write(&c, "interfaces.d/" NS ".xml", net_interface[0]);
        test_config_write(&c, "interfaces.d/org.example.Other.json",
                          "{\"namespace\": \"org.example.Other\",\n"
                          " \"procedures\": [{\"name\": \"Get\"}]}\n");
        test_config_write(&c, "policy.d/" NS ".xml", net_policy);
        test_config_path(&c, "interfaces.d/" NS ".xml", good_xml, sizeof(good_xml));
        test_config_path(&c, "interfaces.d/org.example.Other.json", good_json, sizeof(good_json));
        test_config_path(&c, "policy.d/" NS ".xml", policy, sizeof(policy));

        const char *argv_good[] = { tool(), "--check", good_xml, good_json, policy, NULL };
        ck_assert_msg(test_run(argv_good, out, sizeof(out), err, sizeof(err), 20000) == 0, "%s%s", out, err);
        snprintf(want, sizeof(want), "%s: ok", policy);
        ck_assert_msg(strstr(out, want), "'%s' not in:\n%s", want, out);
        snprintf(want, sizeof(want), "%s: ok", good_json);
        ck_assert_msg(strstr(out, want), "'%s' not in:\n%s", want, out);

        /* an unknown type on line 5; a JSON syntax error on line 2 */
        test_config_write(&c, "interfaces.d/org.example.Bad.xml",
                          "<namespace name=\"org.example.Bad\">\n"
                          "  <procedure name=\"Get\">\n"
                          "    <arg name=\"a\" type=\"string\"/>\n"
                          "    <arg name=\"b\" type=\"int\"/>\n"
                          "    <arg name=\"c\" type=\"strnig\"/>\n"
                          "  </procedure>\n"
                          "</namespace>\n");
        test_config_write(&c, "policy.d/org.example.Bad.json",
                          "{\"namespace\": \"org.example.Bad\", \"rules\": [\n"
                          "  {\"allow\": \"own\" \"user\": \"root\"}]}\n");
        test_config_path(&c, "interfaces.d/org.example.Bad.xml", bad, sizeof(bad));
        test_config_path(&c, "policy.d/org.example.Bad.json", bad_json, sizeof(bad_json));
        const char *argv_bad[] = { tool(), "--check", good_xml, bad, bad_json, NULL };
        ck_assert_int_eq(test_run(argv_bad, out, sizeof(out), err, sizeof(err), 20000), 1);
        snprintf(want, sizeof(want), "%s:5:", bad);
        ck_assert_msg(strstr(err, want), "'%s' not in:\n%s", want, err);
        ck_assert_msg(strstr(err, "strnig"), "the bad type is not named:\n%s", err);
        snprintf(want, sizeof(want), "%s:2:", bad_json);
        ck_assert_msg(strstr(err, want), "'%s' not in:\n%s", want, err);
        snprintf(want, sizeof(want), "%s: ok", good_xml);
        ck_assert_msg(strstr(out, want), "the good file among bad ones: '%s' not in:\n%s", want, out);

        /* a policy naming a user that does not exist */
        test_config_write(&c, "policy.d/org.example.Bad.json",
                          "{\"namespace\": \"org.example.Bad\", \"rules\": [\n"
                          "  {\"allow\": \"own\", \"user\": \"root\"},\n"
                          "  {\"allow\": \"own\", \"user\": \"no-such-user-mbus\"},\n"
                          "  {\"allow\": \"call\", \"group\": \"no-such-group-mbus\"}]}\n");
        const char *argv_user[] = { tool(), "--check", bad_json, NULL };
        ck_assert_int_eq(test_run(argv_user, out, sizeof(out), err, sizeof(err), 20000), 1);
        snprintf(want, sizeof(want), "%s:3:", bad_json);
        ck_assert_msg(strstr(err, want) && strstr(err, "no-such-user-mbus"), "'%s' not in:\n%s", want, err);
        /* the broker only warns about these, but --check reports every one in the file as an error */
        snprintf(want, sizeof(want), "%s:4: unknown group 'no-such-group-mbus'", bad_json);
        ck_assert_msg(strstr(err, want), "'%s' not in:\n%s", want, err);
        ck_assert_msg(!strstr(out, ": ok"), "a file with unknown names passed:\n%s", out);

        /* the mappings file, told by its name and root element */
        test_config_write(&c, "policy.d/@identities.xml",
                          "<identities>\n  <map cert-cn=\"node1\" user=\"root\"/>\n</identities>\n");
        test_config_path(&c, "policy.d/@identities.xml", bad, sizeof(bad));
        const char *argv_map[] = { tool(), "--check", bad, NULL };
        ck_assert_msg(test_run(argv_map, out, sizeof(out), err, sizeof(err), 20000) == 0, "%s%s", out, err);
        snprintf(want, sizeof(want), "%s: ok", bad);
        ck_assert_msg(strstr(out, want), "'%s' not in:\n%s", want, out);
        test_config_write(&c, "policy.d/@identities.xml",
                          "<identities>\n  <map cert-cn=\"node1\" user=\"root\"/>\n  <map cert-cn=\"node2\"/>\n"
                          "</identities>\n");
        ck_assert_int_eq(test_run(argv_map, out, sizeof(out), err, sizeof(err), 20000), 1);
        snprintf(want, sizeof(want), "%s:3: <map> has no user", bad);
        ck_assert_msg(strstr(err, want), "'%s' not in:\n%s", want, err);

        test_config_remove(&c);
}
END_TEST

/* --check reports every error of a file, each at its line, in line order, and exits 1 */
START_TEST(test_tool_check_reports_every_error_of_a_file) {
        static const struct {
                const char *name, *text;
                const char *errors[5];          /* ":LINE: text" after the path, in this order */
        } t[] = {
                { "interfaces.d/org.example.Many.xml",
                  "<namespace name=\"org.example.Many\" colour=\"red\">\n"
                  "  <procedure name=\"A\"><arg name=\"x\" type=\"strin\"/></procedure>\n"
                  "  <method name=\"B\"/>\n"
                  "  <procedure name=\"A\"/>\n"
                  "</namespace>\n",
                  { ":1: unknown attribute 'colour' on <namespace>", ":2: invalid type 'strin' for argument 'x'",
                    ":3: unknown element <method> in <namespace>", ":4: duplicate procedure 'A' (first at line 2)" } },
                { "interfaces.d/org.example.ManyJ.json",
                  "{\"namespace\": \"org.example.ManyJ\",\n"
                  " \"procedures\": [{\"name\": \"A\", \"in\": [{\"name\": \"x\"}]},\n"
                  "                {\"in\": []},\n"
                  "                {\"name\": \"A\", \"bogus\": 1}]}\n",
                  { ":2: argument 'x' has no 'type'", ":3: procedure 1 has no 'name'",
                    ":4: unknown key 'bogus' in procedure A", ":4: duplicate procedure 'A' (first at line 2)" } },
                { "policy.d/org.example.Many.xml",
                  "<policy namespace=\"org.example.Many\">\n"
                  "  <allow call=\"*\"/>\n"
                  "  <allow cal=\"*\" user=\"root\"/>\n"
                  "  <allow call=\"*\" group=\"no-such-group-mbus\"/>\n"
                  "  <deny own=\"yes\" user=\"root\"/>\n"
                  "</policy>\n",
                  { ":2: <allow> has no principal", ":3: unknown attribute 'cal' on <allow>",
                    ":4: unknown group 'no-such-group-mbus'", ":5: own must be \"true\"" } },
                { "policy.d/org.example.ManyJ.json",
                  "{\"namespace\": \"org.example.ManyJ\", \"rules\": [\n"
                  "  {\"allow\": \"fly\", \"user\": \"root\"},\n"
                  "  {\"allow\": \"call\", \"user\": \"root\"},\n"
                  "  {\"deny\": \"call\"}]}\n",
                  { ":2: unknown action 'fly'", ":4: a rule needs a principal" } },
        };
        struct test_config c;
        static char out[OUT_MAX], err[OUT_MAX];
        char path[512], want[700];

        ck_assert_int_eq(test_config_new(&c, false), 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                const char *prev = err;

                test_config_write(&c, t[i].name, t[i].text);
                test_config_path(&c, t[i].name, path, sizeof(path));
                const char *argv[] = { tool(), "--check", path, NULL };
                ck_assert_int_eq(test_run(argv, out, sizeof(out), err, sizeof(err), 20000), 1);
                ck_assert_msg(!strstr(out, ": ok"), "a broken file passed:\n%s", out);
                for (size_t k = 0; k < ELEMENTSOF(t[i].errors) && t[i].errors[k]; k++) {
                        const char *at;

                        snprintf(want, sizeof(want), "%s%s", path, t[i].errors[k]);
                        at = strstr(prev, want);
                        ck_assert_msg(at, "'%s' not (in order) in:\n%s", want, err);
                        prev = at + 1;
                }
        }
        test_config_remove(&c);
}
END_TEST

/* mbus-introspect --explain and the broker agree, rule and line */
START_TEST(test_tool_explain_names_the_deciding_rule_as_the_broker_does) {
        struct env e;
        struct test_agent svc, nobody;
        static char out[OUT_MAX], err[OUT_MAX];
        char want[600];
        int r;

        env_start(&e, 2);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        ck_assert_int_eq(test_agent_do(&svc, "register %s GetState,SetState,Reboot -", NS), 0);

        /* allow by line 2 */
        const char *argv_allow[] = { tool(), "--explain", "--config-dir", e.c.dir, "--scope", "system",
                                     "--user", "nobody", "call", NS, "SetState", NULL };
        r = test_run(argv_allow, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 0, "exit %d: %s%s", r, out, err);
        snprintf(want, sizeof(want), "%s/policy.d/%s.xml:2", e.c.dir, NS);
        ck_assert_msg(strncmp(out, "allow:", 6) == 0 && strstr(out, want), "'%s' not in: %s", want, out);
        ck_assert_int_eq(test_agent_do(&nobody, "call %s SetState {\"interface\":\"x\",\"up\":true}", NS), 0);

        /* deny by line 3, exactly what the broker answers */
        const char *argv_deny[] = { tool(), "--explain", "--config-dir", e.c.dir, "--scope", "system",
                                    "--uid", "65534", "call", NS, "Reboot", NULL };
        r = test_run(argv_deny, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 1, "exit %d: %s%s", r, out, err);
        snprintf(want, sizeof(want), "%s/policy.d/%s.xml:3", e.c.dir, NS);
        ck_assert_msg(strncmp(out, "deny:", 5) == 0 && strstr(out, want), "'%s' not in: %s", want, out);
        ck_assert_msg(strstr(out, "deny call Reboot"), "rule text not in: %s", out);
        /* the broker says the same */
        r = test_agent_do(&nobody, "call %s Reboot", NS);
        ck_assert_int_eq(r, -EREMOTEIO);
        ck_assert_str_eq(test_agent_error_name(&nobody), MBUS_ERROR_ACCESS_DENIED);
        ck_assert_msg(strstr(nobody.reply, want), "broker: %s", nobody.reply);

        /* a supplementary group by name: line 4 */
        const char *argv_group[] = { tool(), "--explain", "--config-dir", e.c.dir, "--scope", "system",
                                     "--uid", "4242", "--gid", "4242", "--groups", "users",
                                     "call", NS, "GetState", NULL };
        r = test_run(argv_group, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 0, "exit %d: %s%s", r, out, err);
        snprintf(want, sizeof(want), "%s/policy.d/%s.xml:4", e.c.dir, NS);
        ck_assert_msg(strstr(out, want), "'%s' not in: %s", want, out);

        /* no rule: the system default decides, and says so */
        const char *argv_default[] = { tool(), "--explain", "--config-dir", e.c.dir, "--scope", "system",
                                       "--uid", "4244", "--gid", "4244", "call", NS, "GetState", NULL };
        r = test_run(argv_default, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 1, "exit %d: %s%s", r, out, err);
        ck_assert_msg(strncmp(out, "deny:", 5) == 0 && !strstr(out, "policy.d"), "%s", out);
        const char *argv_root[] = { tool(), "--explain", "--config-dir", e.c.dir, "--scope", "system",
                                    "--uid", "0", "own", NS, NULL };
        r = test_run(argv_root, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 0 && strncmp(out, "allow:", 6) == 0, "exit %d: %s%s", r, out, err);

        /* a certificate from an address, mapped to a user: judged as the user, and said so */
        test_config_write(&e.c, "policy.d/org.example.Remote.xml",
                          "<policy namespace=\"org.example.Remote\">\n"
                          "  <allow call=\"*\" user=\"daemon\"/>\n"
                          "  <deny call=\"Reboot\" cert-cn=\"node1\" address=\"10.66.0.0/16\"/>\n"
                          "</policy>\n");
        test_config_write(&e.c, "policy.d/@identities.json",
                          "{\"maps\": [\n  {\"cert-cn\": \"node1\", \"user\": \"daemon\"}\n]}\n");
        const char *argv_mapped[] = { tool(), "--explain", "--config-dir", e.c.dir, "--cert-cn", "node1",
                                      "--from", "10.1.2.3", "call", "org.example.Remote", "Reboot", NULL };
        r = test_run(argv_mapped, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 0, "exit %d: %s%s", r, out, err);
        snprintf(want, sizeof(want), "(certificate CN=node1 mapped to user daemon by %s/policy.d/@identities.json:2)",
                 e.c.dir);
        ck_assert_msg(strncmp(out, "allow: rule 'allow call * user=daemon'", 38) == 0 && strstr(out, want),
                      "'%s' not in: %s", want, out);
        const char *argv_from[] = { tool(), "--explain", "--config-dir", e.c.dir, "--cert-cn", "node1",
                                    "--from", "::ffff:10.66.1.1", "call", "org.example.Remote", "Reboot", NULL };
        r = test_run(argv_from, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 1, "exit %d: %s%s", r, out, err);
        snprintf(want, sizeof(want), "%s/policy.d/org.example.Remote.xml:3", e.c.dir);
        ck_assert_msg(strncmp(out, "deny:", 5) == 0 && strstr(out, want), "'%s' not in: %s", want, out);
        const char *argv_bad_from[] = { tool(), "--explain", "--config-dir", e.c.dir, "--from", "10.0.0.0/8",
                                        "call", "org.example.Remote", "Reboot", NULL };
        r = test_run(argv_bad_from, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 2 && strstr(err, "invalid --from"), "exit %d: %s%s", r, out, err);
        test_config_unlink(&e.c, "policy.d/org.example.Remote.xml");
        test_config_unlink(&e.c, "policy.d/@identities.json");

        /* a broken policy set: exit 2, naming the file */
        test_config_write(&e.c, "policy.d/org.example.Bad.xml", "<policy namespace=\"org.example.Bad\">\n<allow\n");
        r = test_run(argv_allow, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 2, "exit %d: %s%s", r, out, err);
        ck_assert_msg(strstr(err, "org.example.Bad.xml:"), "%s", err);
        test_config_unlink(&e.c, "policy.d/org.example.Bad.xml");

        agent_done(&svc);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

/* ---- types declared from C ---------------------------------------------------------------- */

/* Starts mbus-test-sd-service (tests/helpers/sd-service.c) for ns and waits until it serves. */
static pid_t sd_service_start(const char *address, const char *ns) {
        const char *path = getenv("MBUS_TEST_SD_SERVICE");
        struct mbus_conn *conn;
        pid_t pid;
        int r = -ENXIO;

        ck_assert_msg(path, "MBUS_TEST_SD_SERVICE is not set");
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                execl(path, path, "--address", address, ns, (char *) NULL);
                _exit(127);
        }
        conn = test_connect(address, "typed-probe");
        for (int i = 0; i < 200 && r < 0; i++) {
                r = mbus_call(conn, ns, "Echo", NULL, 0, NULL, NULL);
                if (r < 0)
                        usleep(25 * 1000);
        }
        mbus_conn_unref(conn);
        ck_assert_msg(r == 0, "%s does not answer: %s", ns, strerror(-r));
        return pid;
}

static void sd_service_stop(pid_t pid) {
        int st = 0;

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the service did not exit cleanly: status %d", st);
}

/*
 * A C service declares its types (mbus_register_with_interface()): Introspect and mbus-introspect
 * show them, the broker answers a call whose arguments do not fit with InvalidArgs, and an
 * interface file for the namespace wins over the declaration.
 */
START_TEST(test_types_declared_from_c_are_shown_and_enforced) {
        const char *args[] = { "--config-dir", NULL, "--scope", "system", NULL };
        struct test_config c;
        struct test_broker b;
        static char out[OUT_MAX], err[OUT_MAX];
        char line[1024], call_tool[512];
        json_object *d, *m, *list;
        struct test_agent probe;
        pid_t typed, filed;
        int st;

        ck_assert_int_eq(test_config_new(&c, true), 0);
        /* org.example.Filed has a file that types Add's arguments as strings: the file wins. */
        test_config_write(&c, "interfaces.d/org.example.Filed.xml",
                          "<namespace name=\"org.example.Filed\">\n"
                          "  <procedure name=\"Echo\"/>\n"
                          "  <procedure name=\"Add\">\n"
                          "    <arg name=\"a\" type=\"string\"/>\n"
                          "    <arg name=\"b\" type=\"string\"/>\n"
                          "  </procedure>\n"
                          "  <event name=\"Added\"><arg name=\"sum\" type=\"int\"/></event>\n"
                          "</namespace>\n");
        args[1] = c.dir;
        ck_assert_int_eq(test_broker_start_full(&b, args, c.log, true), 0);
        typed = sd_service_start(b.address, "org.example.Typed");
        filed = sd_service_start(b.address, "org.example.Filed");

        /* Introspect gives the declared types, and names the untyped member without lists */
        ck_assert_int_eq(test_agent_start(&probe, b.address, &ROOT), 0);
        d = introspect(&probe, "org.example.Typed");
        ck_assert_msg(d, "Introspect: %s", probe.reply);
        ck_assert_str_eq(test_json_str(d, "source"), "declared");
        ck_assert_str_eq(test_json_str(d, "doc"), "A test service on an sd-event loop.");
        m = member(d, "procedures", "Add");
        ck_assert_msg(m && json_object_object_get_ex(m, "in", &list) && json_object_array_length(list) == 2,
                      "Add has no typed inputs: %s", json_object_to_json_string(d));
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(list, 1), "type"), "int");
        ck_assert(json_object_object_get_ex(m, "out", &list) && json_object_array_length(list) == 1);
        m = member(d, "procedures", "Echo");
        ck_assert(m && !json_object_object_get_ex(m, "in", NULL));
        m = member(d, "events", "Added");
        ck_assert(m && json_object_object_get_ex(m, "args", &list) && json_object_array_length(list) == 1);
        json_object_put(d);

        /* mbus-introspect shows the types instead of "?" (and "?" for Echo, declared by name) */
        const char *argv_show[] = { tool(), "--address", b.address, "org.example.Typed", NULL };
        ck_assert_msg(test_run(argv_show, out, sizeof(out), err, sizeof(err), 20000) == 0, "%s%s", out, err);
        ck_assert_msg(strstr(out, "declared by its owner (argument types unknown where shown as ?)"), "%s", out);
        ck_assert_msg(line_of(out, "procedure Add", line, sizeof(line)) || strstr(out, "procedure Add "),
                      "no Add line in:\n%s", out);
        ck_assert_msg(strstr(out, "a: int, b: int") && strstr(out, "sum: int") && strstr(out, "Adds two integers."),
                      "the declared types are not shown:\n%s", out);
        ck_assert_msg(strstr(out, "procedure Echo  ?"), "Echo is not shown untyped:\n%s", out);

        /* the broker checks the arguments: a wrong type never reaches the service (--no-check: past
         * mbus-call's own check of the same types) */
        test_tool_path("mbus-call", call_tool, sizeof(call_tool));
        const char *argv_good[] = { call_tool, "--address", b.address, "org.example.Typed", "Add",
                                    "{\"a\": 1, \"b\": 2}", NULL };
        st = test_run(argv_good, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(st == 0 && strstr(out, "\"sum\"") && strstr(out, "3"), "Add: %d %s%s", st, out, err);
        const char *argv_bad[] = { call_tool, "--no-check", "--address", b.address, "org.example.Typed", "Add",
                                   "{\"a\": \"1\", \"b\": 2}", NULL };
        st = test_run(argv_bad, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(st == 1 && strstr(err, "org.mbus.Error.InvalidArgs") && strstr(err, "argument 'a': expected int"),
                      "a string for an int: %d %s%s", st, out, err);
        const char *argv_missing[] = { call_tool, "--no-check", "--address", b.address, "org.example.Typed", "Add",
                                       "{\"a\": 1}", NULL };
        st = test_run(argv_missing, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(st == 1 && strstr(err, "org.mbus.Error.InvalidArgs") && strstr(err, "missing argument 'b'"),
                      "a missing argument: %d %s%s", st, out, err);
        /* Echo, declared by name alone, takes anything */
        const char *argv_echo[] = { call_tool, "--address", b.address, "org.example.Typed", "Echo",
                                    "{\"anything\": [1]}", NULL };
        ck_assert_int_eq(test_run(argv_echo, out, sizeof(out), err, sizeof(err), 20000), 0);

        /* the interface file wins: strings, as it says, pass the broker; the declared ints do not */
        d = introspect(&probe, "org.example.Filed");
        ck_assert_msg(d, "Introspect: %s", probe.reply);
        ck_assert_str_eq(test_json_str(d, "source"), "file");
        json_object_put(d);
        const char *argv_file_bad[] = { call_tool, "--no-check", "--address", b.address, "org.example.Filed", "Add",
                                        "{\"a\": 1, \"b\": 2}", NULL };
        st = test_run(argv_file_bad, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(st == 1 && strstr(err, "argument 'a': expected string"), "ints against the file: %d %s%s",
                      st, out, err);
        const char *argv_file_good[] = { call_tool, "--address", b.address, "org.example.Filed", "Add",
                                         "{\"a\": \"1\", \"b\": \"2\"}", NULL };
        st = test_run(argv_file_good, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(st == 0 && strstr(out, "\"sum\""), "strings against the file: %d %s%s", st, out, err);

        ck_assert_int_eq(test_agent_stop(&probe), 0);
        sd_service_stop(typed);
        sd_service_stop(filed);
        st = test_broker_stop(&b);
        test_config_remove(&c);
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: status %d", st);
}
END_TEST

static Suite *introspect_suite(void) {
        Suite *s = suite_create("e2e-introspect");
        TCase *tc = tcase_create("introspect");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_loop_test(tc, test_introspect_returns_the_file_description, 0, 2);
        tcase_add_test(tc, test_xml_and_json_files_describe_the_same_namespace);
        tcase_add_test(tc, test_introspect_of_a_namespace_without_file_returns_the_owner_declaration);
        tcase_add_test(tc, test_list_namespaces_names_files_owners_and_uids);
        tcase_add_test(tc, test_tool_lists_namespaces_with_owner_and_file_flag);
        tcase_add_test(tc, test_tool_shows_a_served_namespace_as_table_json_and_xml);
        tcase_add_test(tc, test_tool_check_reports_file_and_line);
        tcase_add_test(tc, test_tool_check_reports_every_error_of_a_file);
        tcase_add_test(tc, test_tool_explain_names_the_deciding_rule_as_the_broker_does);
        tcase_add_test(tc, test_types_declared_from_c_are_shown_and_enforced);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_agent_main(introspect_suite, "run clients under other uids");
}
