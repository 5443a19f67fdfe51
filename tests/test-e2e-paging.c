/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ListActivatable and GetUserStats a page at a time, as ListPeers and ListNamespaces: with the
 * smallest frame size a broker takes and many more entries than one reply holds, walking the
 * pages from "next" to "next" lists every entry exactly once, in order, and no reply is larger
 * than the frame size WELCOME announced. The users are peers of other uids (agents), so the
 * suite needs root.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>

#include <mbus/mbus.h>
#include <mbus/mbus-errors.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/list-util.h"
#include "helpers/raw-util.h"

#define FRAME 4096u                     /* --max-frame-size's least */
#define FRAME_ARG "4096"

/* Asserts that list holds, in order, the strings of key that expected (n of them) names. */
static void assert_listed_once_in_order(json_object *list, const char *key, char expected[][64], size_t n) {
        ck_assert_uint_eq(json_object_array_length(list), n);
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(test_json_str(json_object_array_get_idx(list, i), key), expected[i]);
}

/* A raw connection past HELLO: its reply frames can be measured before they are read. */
static int lister_connect(const char *address) {
        int fd = raw_connect(address);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "lister", NULL), 0);
        return fd;
}

#define N_ACTIVATABLE 150

START_TEST(test_list_activatable_pages_list_every_namespace_once_within_the_frame_size) {
        static const char *const args[] = { "--max-frame-size", FRAME_ARG, NULL };
        static char names[N_ACTIVATABLE][64];
        json_object *all, *page;
        const char *error;
        uint64_t serial = 2;
        struct test_env e;
        size_t pages;
        int fd;

        /* Names sort as numbers do (zero-padded); the plain namespace between them is no entry. */
        test_env_start(&e, NULL, args);
        for (int i = 0; i < N_ACTIVATABLE; i++) {
                char path[128], text[256];

                snprintf(names[i], sizeof(names[i]), "org.example.Act%04d", i);
                snprintf(path, sizeof(path), "interfaces.d/org.example.Act%04d.xml", i);
                snprintf(text, sizeof(text), "<namespace name=\"org.example.Act%04d\" exec=\"/bin/true --%04d\"/>\n",
                         i, i);
                test_config_write(&e.c, path, text);
        }
        test_config_write(&e.c, "interfaces.d/org.example.Act0050x.xml", "<namespace name=\"org.example.Act0050x\"/>\n");
        fd = lister_connect(e.b.address);
        page = test_raw_broker_call(fd, serial++, "ReloadConfig", NULL, FRAME, &error);
        ck_assert_msg(page, "ReloadConfig: %s", error);
        json_object_put(page);

        /* By the default page size the frame size binds: more pages than 100 entries a page make. */
        all = test_raw_list_all(fd, &serial, "ListActivatable", "namespaces", 0, FRAME, &pages);
        assert_listed_once_in_order(all, "namespace", names, N_ACTIVATABLE);
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(all, 7), "exec"), "/bin/true --0007");
        ck_assert_uint_gt(pages, 2);
        json_object_put(all);

        /* By a small limit, the limit does: exactly ceil(150 / 7) pages. */
        all = test_raw_list_all(fd, &serial, "ListActivatable", "namespaces", 7, FRAME, &pages);
        assert_listed_once_in_order(all, "namespace", names, N_ACTIVATABLE);
        ck_assert_uint_eq(pages, (N_ACTIVATABLE + 6) / 7);
        json_object_put(all);

        /* A cursor that names no activatable namespace leads on to the next one. */
        page = test_raw_broker_call(fd, serial++, "ListActivatable",
                                    "{\"after\": \"org.example.Act0050x\", \"limit\": 1}", FRAME, &error);
        ck_assert_ptr_nonnull(page);
        all = json_object_object_get(page, "namespaces");
        ck_assert_uint_eq(json_object_array_length(all), 1);
        ck_assert_str_eq(test_json_str(json_object_array_get_idx(all, 0), "namespace"), names[51]);
        ck_assert_str_eq(test_json_str(page, "next"), names[51]);
        json_object_put(page);

        /* Bad arguments are InvalidArgs. */
        ck_assert_ptr_null(test_raw_broker_call(fd, serial++, "ListActivatable", "{\"limit\": 0}", FRAME, &error));
        ck_assert_str_eq(error, MBUS_ERROR_INVALID_ARGS);
        ck_assert_ptr_null(test_raw_broker_call(fd, serial++, "ListActivatable", "{\"after\": 3}", FRAME, &error));
        ck_assert_str_eq(error, MBUS_ERROR_INVALID_ARGS);

        close(fd);
        test_env_done(&e);
}
END_TEST

#define N_USERS 60
#define FIRST_UID 70000

START_TEST(test_get_user_stats_pages_list_every_user_once_within_the_frame_size) {
        static const char *const args[] = { "--max-frame-size", FRAME_ARG, NULL };
        static struct test_agent agents[N_USERS];
        static char keys[N_USERS + 1][64];
        json_object *all, *page, *limits;
        const char *error;
        uint64_t serial = 2;
        struct test_env e;
        size_t pages;
        int fd;

        test_env_start(&e, NULL, args);
        /* uid:0 (this lister) sorts first, then uid:70000 ... uid:70059. */
        snprintf(keys[0], sizeof(keys[0]), "uid:0");
        for (int i = 0; i < N_USERS; i++) {
                struct test_who who = { FIRST_UID + i, FIRST_UID + i, NULL, 0 };

                ck_assert_int_eq(test_agent_start(&agents[i], e.b.address, &who), 0);
                snprintf(keys[i + 1], sizeof(keys[i + 1]), "uid:%d", FIRST_UID + i);
        }
        fd = lister_connect(e.b.address);

        all = test_raw_list_all(fd, &serial, "GetUserStats", "users", 0, FRAME, &pages);
        assert_listed_once_in_order(all, "user", keys, N_USERS + 1);
        for (size_t i = 1; i <= N_USERS; i++) {
                json_object *u = json_object_array_get_idx(all, i);

                ck_assert_int_eq(test_json_int(u, "uid"), FIRST_UID + (int) i - 1);
                ck_assert_int_eq(test_json_int(u, "connections"), 1);
        }
        ck_assert_uint_gt(pages, 1);
        json_object_put(all);

        all = test_raw_list_all(fd, &serial, "GetUserStats", "users", 9, FRAME, &pages);
        assert_listed_once_in_order(all, "user", keys, N_USERS + 1);
        ck_assert_uint_eq(pages, (N_USERS + 1 + 8) / 9);
        json_object_put(all);

        /* Every page has the limits beside its users. */
        page = test_raw_broker_call(fd, serial++, "GetUserStats", "{\"after\": \"uid:70010\", \"limit\": 2}", FRAME,
                                    &error);
        ck_assert_ptr_nonnull(page);
        ck_assert(json_object_object_get_ex(page, "limits", &limits));
        ck_assert_int_gt(test_json_int(limits, "connections"), 0);
        ck_assert_str_eq(test_json_str(page, "next"), "uid:70012");
        json_object_put(page);

        ck_assert_ptr_null(test_raw_broker_call(fd, serial++, "GetUserStats", "{\"limit\": -1}", FRAME, &error));
        ck_assert_str_eq(error, MBUS_ERROR_INVALID_ARGS);

        close(fd);
        for (int i = 0; i < N_USERS; i++)
                ck_assert_int_eq(test_agent_stop(&agents[i]), 0);
        test_env_done(&e);
}
END_TEST

static Suite *paging_suite(void) {
        Suite *s = suite_create("e2e-paging");
        TCase *tc = tcase_create("paging");

        tcase_set_timeout(tc, 2 * TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_list_activatable_pages_list_every_namespace_once_within_the_frame_size);
        tcase_add_test(tc, test_get_user_stats_pages_list_every_user_once_within_the_frame_size);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_agent_main(paging_suite, "run clients under other uids (one user each)");
}
