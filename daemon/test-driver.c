/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The driver's table (driver.c) and the shipped org.mbus.Broker interface file agree. */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl.h"
#include "driver.h"
#include "util/macro.h"
#include "util/test-util.h"

START_TEST(test_driver_table_matches_the_interface_file) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        struct mbus_file_error err = {};
        size_t n;

        if (mbus_idl_load_file(&ns, MBUS_POLICY_SOURCE_DIR "/interfaces.d/org.mbus.Broker.xml", &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        ck_assert_str_eq(ns->name, MBUS_DRIVER_NAMESPACE);

        for (n = 0; mbus_driver_procedure_name(n); n++)
                ck_assert_msg(mbus_idl_find_procedure(ns, mbus_driver_procedure_name(n)),
                              "procedure %s is missing from the interface file", mbus_driver_procedure_name(n));
        ck_assert_uint_eq(n, ns->n_procedures);
        for (size_t i = 0; i < ns->n_procedures; i++) {
                bool found = false;

                for (size_t k = 0; mbus_driver_procedure_name(k); k++)
                        found = found || strcmp(mbus_driver_procedure_name(k), ns->procedures[i].name) == 0;
                ck_assert_msg(found, "the interface file declares %s, the driver has no such procedure",
                              ns->procedures[i].name);
                ck_assert_msg(ns->procedures[i].doc, "procedure %s is not documented", ns->procedures[i].name);
        }

        for (n = 0; mbus_driver_event_name(n); n++)
                ck_assert_msg(mbus_idl_find_event(ns, mbus_driver_event_name(n)),
                              "event %s is missing from the interface file", mbus_driver_event_name(n));
        ck_assert_uint_eq(n, ns->n_events);
        for (size_t i = 0; i < ns->n_events; i++)
                ck_assert_msg(ns->events[i].doc, "event %s is not documented", ns->events[i].name);
}
END_TEST

static Suite *driver_suite(void) {
        Suite *s = suite_create("driver");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_driver_table_matches_the_interface_file);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(driver_suite)
