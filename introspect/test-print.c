/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What mbus-introspect prints, byte for byte. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl.h"
#include "introspect/print.h"
#include "util/macro.h"
#include "util/test-util.h"

static const char network_json[] =
        "{\"namespace\": \"org.example.Network\", \"doc\": \"Network\\n   management.\",\n"
        " \"procedures\": [\n"
        "   {\"name\": \"GetState\", \"doc\": \"Returns the state\\nof one interface.\",\n"
        "    \"in\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "           {\"name\": \"verbose\", \"type\": \"bool\", \"optional\": true}],\n"
        "    \"out\": [{\"name\": \"state\", \"type\": \"string\"},\n"
        "            {\"name\": \"addresses\", \"type\": \"array<string>\"}]},\n"
        "   {\"name\": \"Reboot\"}],\n"
        " \"events\": [\n"
        "   {\"name\": \"StateChanged\", \"doc\": \"An interface changed.\",\n"
        "    \"args\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "             {\"name\": \"state\", \"type\": \"?string\"}]}]}\n";

static struct mbus_idl_namespace *parse(const char *path, const char *json) {
        struct mbus_idl_namespace *ns = NULL;
        struct mbus_file_error err = {};

        ck_assert_msg(mbus_idl_parse_json(&ns, path, json, strlen(json), &err) == 0, "%s", err.message);
        return ns;
}

/* Runs print into a memory stream and returns what it wrote. */
#define CAPTURE(call)                                                   \
        ({                                                              \
                char *_buf = NULL;                                      \
                size_t _size = 0;                                       \
                FILE *f = open_memstream(&_buf, &_size);                \
                ck_assert_ptr_nonnull(f);                               \
                ck_assert_int_eq((call), 0);                            \
                ck_assert_int_eq(fclose(f), 0);                         \
                _buf;                                                   \
        })

START_TEST(test_namespace_table_lists_procedures_then_events_with_typed_args) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns =
                parse("/usr/share/mbus/interfaces.d/org.example.Network.json", network_json);
        _cleanup_free_ char *out = CAPTURE(mbus_print_namespace(f, ns, ":1.3"));

        ck_assert_str_eq(out,
                "org.example.Network: owner :1.3, file /usr/share/mbus/interfaces.d/org.example.Network.json\n"
                "Network management.\n"
                "\n"
                "KIND      NAME         IN                                OUT                                     DOC\n"
                "procedure GetState     interface: string, verbose?: bool state: string, addresses: array<string> "
                "Returns the state of one interface.\n"
                "procedure Reboot       -                                 -                                       -\n"
                "event     StateChanged interface: string, state: ?string -                                       "
                "An interface changed.\n");
}
END_TEST

START_TEST(test_declared_namespace_shows_unknown_arguments_and_no_owner_as_dash) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_free_ char *out = NULL;
        static const char body[] = "{\"procedures\": [\"Echo\", \"Ping\"], \"events\": [\"Tick\"]}";

        ck_assert_int_eq(mbus_idl_from_declaration(&ns, "org.example.Echo", body, strlen(body)), 0);
        out = CAPTURE(mbus_print_namespace(f, ns, NULL));
        ck_assert_str_eq(out,
                "org.example.Echo: owner -, declared by its owner (argument types unknown)\n"
                "\n"
                "KIND      NAME IN OUT DOC\n"
                "procedure Echo ?  ?   -\n"
                "procedure Ping ?  ?   -\n"
                "event     Tick ?  -   -\n");
}
END_TEST

START_TEST(test_typed_declaration_shows_its_types_and_only_untyped_members_as_unknown) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL, *all = NULL;
        _cleanup_free_ char *out = NULL, *out_all = NULL;
        static const char body[] =
                "{\"procedures\": [{\"name\": \"Add\", \"in\": [{\"name\": \"a\", \"type\": \"int\"}],"
                " \"out\": [{\"name\": \"sum\", \"type\": \"int\"}]}, \"Echo\"],"
                " \"events\": [{\"name\": \"Added\", \"args\": [{\"name\": \"sum\", \"type\": \"int\"}]}]}";
        static const char typed[] = "{\"procedures\": [{\"name\": \"Ping\"}]}";

        ck_assert_int_eq(mbus_idl_from_declaration(&ns, "org.example.Calc", body, strlen(body)), 0);
        out = CAPTURE(mbus_print_namespace(f, ns, ":1.4"));
        ck_assert_str_eq(out,
                "org.example.Calc: owner :1.4, declared by its owner (argument types unknown where shown as ?)\n"
                "\n"
                "KIND      NAME  IN       OUT      DOC\n"
                "procedure Add   a: int   sum: int -\n"
                "procedure Echo  ?        ?        -\n"
                "event     Added sum: int -        -\n");
        ck_assert_int_eq(mbus_idl_from_declaration(&all, "org.example.Calc", typed, strlen(typed)), 0);
        out_all = CAPTURE(mbus_print_namespace(f, all, ":1.4"));
        ck_assert_ptr_nonnull(strstr(out_all, "declared by its owner with argument types\n"));
        ck_assert_ptr_nonnull(strstr(out_all, "procedure Ping -  -   -"));
}
END_TEST

START_TEST(test_empty_namespace_prints_only_the_header) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns =
                parse("org.example.Empty.json", "{\"namespace\": \"org.example.Empty\"}");
        _cleanup_free_ char *out = CAPTURE(mbus_print_namespace(f, ns, ":1.7"));

        ck_assert_str_eq(out,
                "org.example.Empty: owner :1.7, file org.example.Empty.json\n"
                "\n"
                "KIND NAME IN OUT DOC\n");
}
END_TEST

START_TEST(test_args_render_optional_marks_and_nested_types) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = parse("x.json",
                "{\"namespace\": \"org.example.T\", \"procedures\": [{\"name\": \"P\", \"in\": ["
                "{\"name\": \"a\", \"type\": \"?array<array<?int>>\", \"optional\": true},"
                "{\"name\": \"b\", \"type\": \"object\"}, {\"name\": \"c\", \"type\": \"any\"}]}]}");
        _cleanup_free_ char *s = NULL, *none = NULL;

        ck_assert_int_eq(mbus_print_args(ns->procedures[0].in, ns->procedures[0].n_in, &s), 0);
        ck_assert_str_eq(s, "a?: ?array<array<?int>>, b: object, c: any");
        ck_assert_int_eq(mbus_print_args(NULL, 0, &none), 0);
        ck_assert_str_eq(none, "-");
}
END_TEST

START_TEST(test_namespace_list_pads_columns_and_marks_unknowns) {
        const struct mbus_print_namespace_row rows[] = {
                { "org.mbus.Broker", ":1.0", 0, 1, "mbus-broker", 1 },
                { "org.example.Network", NULL, -1, -1, NULL, 1 },
                { "org.example.Echo", ":1.12", 1000, 4242, "mbus-bench", 0 },
                { "org.example.Old", ":1.13", 1000, -1, NULL, -1 },
        };
        _cleanup_free_ char *out = CAPTURE(mbus_print_namespaces(f, rows, ELEMENTSOF(rows)));

        ck_assert_str_eq(out,
                "NAMESPACE            OWNER  UID   PID   CLIENT       FILE\n"
                "org.mbus.Broker      :1.0   0     1     mbus-broker  yes\n"
                "org.example.Network  -      -     -     -            yes\n"
                "org.example.Echo     :1.12  1000  4242  mbus-bench   no\n"
                "org.example.Old      :1.13  1000  -     -            -\n");
}
END_TEST

START_TEST(test_empty_list_prints_the_header) {
        _cleanup_free_ char *out = CAPTURE(mbus_print_namespaces(f, NULL, 0));

        ck_assert_str_eq(out, "NAMESPACE  OWNER  UID  PID  CLIENT  FILE\n");
}
END_TEST

START_TEST(test_json_output_is_the_canonical_form) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns =
                parse("org.example.T.json",
                      "{\"namespace\": \"org.example.T\", \"events\": [{\"name\": \"E\", \"doc\": \"x/y\"}]}");
        _cleanup_free_ char *out = CAPTURE(mbus_print_json(f, ns, /* pretty= */ false));

        ck_assert_str_eq(out, "{\"namespace\":\"org.example.T\",\"procedures\":[],"
                              "\"events\":[{\"name\":\"E\",\"doc\":\"x/y\",\"args\":[]}]}\n");
}
END_TEST

START_TEST(test_xml_output_round_trips) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns =
                parse("org.example.Network.json", network_json), *again = NULL;
        _cleanup_free_ char *out = CAPTURE(mbus_print_xml(f, ns)), *out2 = NULL;
        struct mbus_file_error err = {};

        ck_assert(strncmp(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<namespace name=\"org.example.Network\">\n",
                          strlen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<namespace name=\"org.example.Network\">\n")) == 0);
        ck_assert_int_eq(mbus_idl_parse_xml(&again, "org.example.Network.xml", out, strlen(out), &err), 0);
        out2 = CAPTURE(mbus_print_xml(f, again));
        ck_assert_str_eq(out, out2);
}
END_TEST

static Suite *print_suite(void) {
        Suite *s = suite_create("print");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_namespace_table_lists_procedures_then_events_with_typed_args);
        tcase_add_test(tc, test_declared_namespace_shows_unknown_arguments_and_no_owner_as_dash);
        tcase_add_test(tc, test_typed_declaration_shows_its_types_and_only_untyped_members_as_unknown);
        tcase_add_test(tc, test_empty_namespace_prints_only_the_header);
        tcase_add_test(tc, test_args_render_optional_marks_and_nested_types);
        tcase_add_test(tc, test_namespace_list_pads_columns_and_marks_unknowns);
        tcase_add_test(tc, test_empty_list_prints_the_header);
        tcase_add_test(tc, test_json_output_is_the_canonical_form);
        tcase_add_test(tc, test_xml_output_round_trips);
        suite_add_tcase(s, tc);
        return s;
}

/* CK_ENV, unlike the other programs: $CK_VERBOSITY chooses how much Check prints. */
int main(void) {
        return mbus_test_run_suite(print_suite(), CK_ENV);
}
