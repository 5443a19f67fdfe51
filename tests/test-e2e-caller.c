/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Caller identity end to end: a service registered with libmbus answers "Who" with what
 * mbus_request_get_caller() tells it, and callers of other uids (root, nobody, a user with a
 * supplementary group) call it through a real broker. What the handler sees must be the
 * caller's uid, gid, groups, pid and client name, as the kernel told the broker. Needs root to
 * switch uids; skipped (77) otherwise.
 */

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"

#define NS "org.example.Who"

static const gid_t alice_groups[] = { 100, 4300 };
static const struct test_who ROOT = { 0, 0, NULL, 0 };
static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };
static const struct test_who ALICE = { 4242, 4242, alice_groups, 2 };

static int who_handler(struct mbus_request *request, json_object *args, void *userdata) {
        const struct mbus_caller *c = mbus_request_get_caller(request);
        json_object *o = json_object_new_object(), *groups = json_object_new_array();

        (void) args;
        (void) userdata;
        json_object_object_add(o, "id", json_object_new_string(c->id));
        json_object_object_add(o, "name", c->name ? json_object_new_string(c->name) : NULL);
        json_object_object_add(o, "unix", json_object_new_boolean(c->has_unix_ids));
        json_object_object_add(o, "uid", json_object_new_int64(c->uid));
        json_object_object_add(o, "gid", json_object_new_int64(c->gid));
        json_object_object_add(o, "pid", json_object_new_int64(c->pid));
        for (size_t i = 0; i < c->n_groups; i++)
                json_object_array_add(groups, json_object_new_int64(c->groups[i]));
        json_object_object_add(o, "groups", groups);
        json_object_object_add(o, "in4300", json_object_new_boolean(mbus_caller_in_group(c, 4300)));
        json_object_object_add(o, "address", c->address ? json_object_new_string(c->address) : NULL);
        (void) mbus_request_reply(request, o);
        json_object_put(o);
        return 0;
}

static int quit_handler(struct mbus_request *request, json_object *args, void *userdata) {
        (void) args;
        (void) userdata;
        mbus_conn_exit(mbus_request_get_conn(request), 0);
        return 0;
}

struct service_args {
        const char *address;
        struct test_pipe ready;
};

static int service_main(void *userdata) {
        struct service_args *sa = userdata;
        static const struct mbus_procedure procs[] = {
                { "Who", who_handler },
                { "Quit", quit_handler },
        };
        struct mbus_conn *conn = NULL;
        int r;

        child_assert(mbus_conn_open(&conn, sa->address, "who-service") == 0);
        child_assert(mbus_register(conn, NS, procs, 2, NULL, NULL, NULL) == 0);
        test_pipe_write(&sa->ready, "ready");
        r = mbus_conn_run(conn);
        mbus_conn_unref(conn);
        return r == 0 ? 0 : 1;
}

/* The JSON the agent's last call returned, parsed. */
static json_object *reply_json(const struct test_agent *a) {
        json_object *o = json_tokener_parse(a->reply);

        ck_assert_msg(o, "not JSON: %s", a->reply);
        return o;
}

static int64_t get_int(json_object *o, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
        return json_object_get_int64(v);
}

static void assert_sees(struct test_agent *a, const struct test_who *who) {
        json_object *o, *v;
        int r;

        r = test_agent_do(a, "call %s Who", NS);
        ck_assert_msg(r == 0, "call failed: %s", a->reply);
        o = reply_json(a);
        ck_assert_int_eq(get_int(o, "uid"), who->uid);
        ck_assert_int_eq(get_int(o, "gid"), who->gid);
        ck_assert_int_eq(get_int(o, "pid"), a->pid);    /* the agent's own process */
        ck_assert(json_object_object_get_ex(o, "unix", &v) && json_object_get_boolean(v));
        ck_assert(json_object_object_get_ex(o, "id", &v));
        ck_assert_str_eq(json_object_get_string(v), a->id);
        ck_assert(json_object_object_get_ex(o, "name", &v));
        ck_assert_str_eq(json_object_get_string(v), "test-agent");
        ck_assert(json_object_object_get_ex(o, "address", &v) && !v);
        ck_assert(json_object_object_get_ex(o, "groups", &v));
        ck_assert_uint_eq(json_object_array_length(v), who->n_groups);
        for (size_t i = 0; i < who->n_groups; i++)
                ck_assert_int_eq(json_object_get_int64(json_object_array_get_idx(v, i)), who->groups[i]);
        ck_assert(json_object_object_get_ex(o, "in4300", &v));
        ck_assert_int_eq(json_object_get_boolean(v), who == &ALICE);
        json_object_put(o);
}

START_TEST(test_handler_sees_uid_gid_groups_pid_and_name_of_each_caller) {
        struct test_config c;
        struct test_broker b;
        struct service_args sa;
        struct test_agent root, nobody, alice;
        char line[64];
        pid_t svc;
        int st;

        ck_assert_int_eq(test_config_new(&c, true), 0);
        test_config_write(&c, "policy.d/" NS ".xml",
                          "<policy namespace=\"" NS "\">\n"
                          "  <allow call=\"*\" user=\"*\"/>\n"
                          "</policy>\n");
        ck_assert_int_eq(test_broker_start_full(&b, (const char *const[]) { "--config-dir", c.dir, "--scope",
                                                                            "system", NULL },
                                                c.log, true), 0);

        sa.address = b.address;
        test_pipe_init(&sa.ready);
        svc = test_fork(service_main, &sa);
        ck_assert_int_eq(test_pipe_read_line(&sa.ready, line, sizeof(line), 10000), 0);

        ck_assert_int_eq(test_agent_start(&root, b.address, &ROOT), 0);
        ck_assert_int_eq(test_agent_start(&nobody, b.address, &NOBODY), 0);
        ck_assert_int_eq(test_agent_start(&alice, b.address, &ALICE), 0);
        ck_assert_int_eq(test_agent_do(&root, "id"), 0);
        ck_assert_int_eq(test_agent_do(&nobody, "id"), 0);
        ck_assert_int_eq(test_agent_do(&alice, "id"), 0);
        assert_sees(&root, &ROOT);
        assert_sees(&nobody, &NOBODY);
        assert_sees(&alice, &ALICE);

        ck_assert_int_eq(test_agent_do(&root, "call %s Quit", NS), 0);
        ck_assert_int_eq(test_wait(svc, 10000), 0);
        ck_assert_int_eq(test_agent_stop(&root), 0);
        ck_assert_int_eq(test_agent_stop(&nobody), 0);
        ck_assert_int_eq(test_agent_stop(&alice), 0);
        test_pipe_close(&sa.ready);
        st = test_broker_stop(&b);
        test_config_remove(&c);
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: %d", st);
}
END_TEST

static Suite *caller_suite(void) {
        Suite *s = suite_create("e2e-caller");
        TCase *tc = tcase_create("caller");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_handler_sees_uid_gid_groups_pid_and_name_of_each_caller);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_agent_main(caller_suite, "run callers under other uids");
}
