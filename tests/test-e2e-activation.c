/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * On-demand activation by command (exec=) end to end: a real broker whose interface file says
 * how to start org.example.Lazy, and callers that find it without an owner. The service the
 * broker starts is this very program run with --service (it connects to $MBUS_ADDRESS, which
 * the broker sets, and appends a line to a file for each start, so a test can count starts).
 * Starting through systemd units is exercised by tests/test-nspawn against a real systemd.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "util/test-util.h"

#define NS "org.example.Lazy"

/* --- the activated service --------------------------------------------------------------------- */

static int service_echo(struct mbus_request *request, json_object *args, void *userdata) {
        return mbus_request_reply(request, args);
}

/* argv: --service COUNT_FILE DELAY_MS. Registers NS after DELAY_MS, serves until the bus goes. */
static int service_main(int argc, char *argv[]) {
        static const struct mbus_procedure procs[] = { { "Echo", service_echo } };
        struct mbus_conn *conn = NULL;
        FILE *f;

        if (argc < 4)
                return 2;
        f = fopen(argv[2], "ae");
        if (!f)
                return 3;
        fprintf(f, "started %s\n", getenv("MBUS_ACTIVATION_NAMESPACE") ?: "?");
        fclose(f);
        /* Slow to come up: the calls that arrive meanwhile must wait, not start it again. */
        usleep((useconds_t) atoi(argv[3]) * 1000);
        if (mbus_conn_open(&conn, /* address= $MBUS_ADDRESS */ NULL, "lazy") < 0)
                return 4;
        if (mbus_register(conn, NS, procs, 1, NULL, NULL, NULL) < 0)
                return 5;
        (void) mbus_conn_run(conn);
        mbus_conn_unref(conn);
        return 0;
}

/* --- the tests --------------------------------------------------------------------------------- */

struct env {
        struct test_config c;
        struct test_broker b;
        char count_path[PATH_MAX];
};

/* The configuration directory, and the file the service counts its starts in. */
static void env_config(struct env *e) {
        memset(e, 0, sizeof(*e));
        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        (void) snprintf(e->count_path, sizeof(e->count_path), "%s/starts", e->c.dir);
}

static void env_start(struct env *e, const char *exec, const char *activation_timeout) {
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "user", "--activation-timeout",
                               activation_timeout, NULL };
        char text[2048];

        (void) snprintf(text, sizeof(text),
                        "<namespace name=\"" NS "\" exec=\"%s\">\n"
                        "  <procedure name=\"Echo\"><arg name=\"i\" type=\"int\" optional=\"true\"/></procedure>\n"
                        "</namespace>\n", exec);
        test_config_write(&e->c, "interfaces.d/" NS ".xml", text);
        test_config_write(&e->c, "policy.d/" NS ".xml",
                          "<policy namespace=\"" NS "\">\n"
                          "  <allow own=\"true\" user=\"*\"/>\n"
                          "  <allow call=\"*\" user=\"*\"/>\n"
                          "</policy>\n");
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, false), 0);
}

static void env_done(struct env *e) {
        test_config_broker_done(&e->c, &e->b);
}

static void self_command(char *buf, size_t size, const char *count_path, int delay_ms) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        ck_assert_int_gt(n, 0);
        self[n] = 0;
        (void) snprintf(buf, size, "%s --service %s %d", self, count_path, delay_ms);
}

static int count_lines(const char *path) {
        FILE *f = fopen(path, "re");
        int n = 0, ch;

        if (!f)
                return 0;
        while ((ch = fgetc(f)) != EOF)
                n += ch == '\n';
        fclose(f);
        return n;
}

struct replies {
        int n, n_ok, n_activation_failed, n_limits, n_timeout, n_other;
        char last_message[512];
};

static int on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error, void *userdata) {
        struct replies *r = userdata;

        r->n++;
        if (!error)
                r->n_ok++;
        else if (mbus_error_has_name(error, MBUS_ERROR_ACTIVATION_FAILED))
                r->n_activation_failed++;
        else if (mbus_error_has_name(error, MBUS_ERROR_LIMITS_EXCEEDED))
                r->n_limits++;
        else if (mbus_error_has_name(error, MBUS_ERROR_TIMEOUT))
                r->n_timeout++;
        else
                r->n_other++;
        if (error)
                (void) snprintf(r->last_message, sizeof(r->last_message), "%s: %s", error->name,
                                error->message ?: "");
        return 0;
}

static void wait_replies(struct mbus_conn *conn, struct replies *r, int n, int timeout_ms) {
        long long end = test_now_ms() + timeout_ms;

        while (r->n < n && test_now_ms() < end) {
                (void) mbus_conn_wait(conn, 100 * 1000);
                ck_assert_int_ge(mbus_conn_process(conn), 0);
        }
        ck_assert_int_eq(r->n, n);
}

START_TEST(test_concurrent_calls_start_the_service_once_and_all_get_answers) {
        struct env e;
        struct replies r = {};
        char exec[PATH_MAX + 64];
        struct mbus_conn *a, *b;
        json_object *result = NULL;

        env_config(&e);
        self_command(exec, sizeof(exec), e.count_path, 300);
        env_start(&e, exec, "20");

        /* Two callers, eight calls, all before the service is up. */
        a = test_connect(e.b.address, "caller-a");
        b = test_connect(e.b.address, "caller-b");
        for (int i = 0; i < 4; i++) {
                json_object *args = json_object_new_object();

                json_object_object_add(args, "i", json_object_new_int(i));
                ck_assert_int_eq(mbus_call_async(a, NS, "Echo", args, 0, on_reply, &r, NULL), 0);
                ck_assert_int_eq(mbus_call_async(b, NS, "Echo", args, 0, on_reply, &r, NULL), 0);
                json_object_put(args);
        }
        ck_assert_int_eq(mbus_ping(a, 0), 0);
        ck_assert_int_eq(mbus_ping(b, 0), 0);
        for (long long end = test_now_ms() + 20000; r.n < 8;) {
                ck_assert(test_now_ms() < end);
                (void) mbus_conn_wait(a, 50 * 1000);
                ck_assert_int_ge(mbus_conn_process(a), 0);
                (void) mbus_conn_wait(b, 50 * 1000);
                ck_assert_int_ge(mbus_conn_process(b), 0);
        }
        ck_assert_msg(r.n_ok == 8, "8 answers expected, %d ok; last: %s", r.n_ok, r.last_message);
        ck_assert_int_eq(count_lines(e.count_path), 1);

        /* Now it has an owner: a call goes straight through, no second start. */
        ck_assert_int_eq(mbus_call(a, NS, "Echo", NULL, 0, &result, NULL), 0);
        json_object_put(result);
        ck_assert_int_eq(count_lines(e.count_path), 1);

        mbus_conn_unref(a);
        mbus_conn_unref(b);
        env_done(&e);
}
END_TEST

START_TEST(test_a_command_that_fails_answers_activation_failed_with_its_status) {
        struct env e;
        struct mbus_error error = MBUS_ERROR_NULL;
        struct mbus_conn *c;

        env_config(&e);
        env_start(&e, "/bin/false --bus", "20");
        c = test_connect(e.b.address, "caller");

        ck_assert_int_eq(mbus_call(c, NS, "Echo", NULL, 0, NULL, &error), -ENOEXEC);
        ck_assert_str_eq(error.name, MBUS_ERROR_ACTIVATION_FAILED);
        ck_assert_msg(strstr(error.message, "exited with status 1"), "message: %s", error.message);
        mbus_error_free(&error);

        /* A missing program: the child cannot exec and exits 127. */
        mbus_conn_unref(c);
        env_done(&e);

        env_config(&e);
        env_start(&e, "/nonexistent/lazyd --bus", "20");
        c = test_connect(e.b.address, "caller");
        ck_assert_int_eq(mbus_call(c, NS, "Echo", NULL, 0, NULL, &error), -ENOEXEC);
        ck_assert_msg(strstr(error.message, "status 127"), "message: %s", error.message);
        mbus_error_free(&error);

        /* Each call after a failure tries again, and fails again: nothing is stuck. */
        ck_assert_int_eq(mbus_call(c, NS, "Echo", NULL, 0, NULL, &error), -ENOEXEC);
        mbus_error_free(&error);
        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_a_service_that_never_registers_times_out) {
        struct env e;
        struct replies r = {};
        struct mbus_conn *c;

        env_config(&e);
        env_start(&e, "/bin/sleep 60", "1.5");
        c = test_connect(e.b.address, "caller");

        /* A call with a shorter deadline of its own times out as any call does ... */
        ck_assert_int_eq(mbus_call_async(c, NS, "Echo", NULL, 300 * 1000, on_reply, &r, NULL), 0);
        wait_replies(c, &r, 1, 10000);
        ck_assert_int_eq(r.n_timeout, 1);

        /* ... and one that would wait longer than the activation gets ActivationFailed, naming it. */
        ck_assert_int_eq(mbus_call_async(c, NS, "Echo", NULL, 30 * 1000 * 1000, on_reply, &r, NULL), 0);
        wait_replies(c, &r, 2, 15000);
        ck_assert_msg(r.n_activation_failed == 1, "last: %s", r.last_message);
        ck_assert_msg(strstr(r.last_message, "did not register within 1.5 s"), "last: %s", r.last_message);

        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_held_calls_are_bounded_per_namespace) {
        struct env e;
        struct replies r = {};
        struct mbus_conn *c;
        const int n = 300;

        env_config(&e);
        env_start(&e, "/bin/sleep 60", "2");
        c = test_connect(e.b.address, "caller");
        for (int i = 0; i < n; i++)
                ck_assert_int_eq(mbus_call_async(c, NS, "Echo", NULL, 0, on_reply, &r, NULL), 0);
        wait_replies(c, &r, n, 20000);
        /* 256 held (then failed when it did not register), the rest refused at once. */
        ck_assert_int_eq(r.n_activation_failed, 256);
        ck_assert_int_eq(r.n_limits, n - 256);
        ck_assert_int_eq(r.n_other + r.n_ok, 0);

        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

START_TEST(test_broker_procedures_list_and_start_activatable_namespaces) {
        struct env e;
        char exec[PATH_MAX + 64];
        json_object *result = NULL, *args, *list, *entry;
        struct mbus_conn *c;

        env_config(&e);
        self_command(exec, sizeof(exec), e.count_path, 0);
        env_start(&e, exec, "20");
        c = test_connect(e.b.address, "admin");

        ck_assert_int_eq(mbus_call(c, MBUS_BROKER_NAMESPACE, "ListActivatable", NULL, 0, &result, NULL), 0);
        ck_assert(json_object_object_get_ex(result, "namespaces", &list));
        ck_assert_int_eq(json_object_array_length(list), 1);
        entry = json_object_array_get_idx(list, 0);
        ck_assert_str_eq(test_json_str(entry, "namespace"), NS);
        ck_assert_str_eq(test_json_str(entry, "exec"), exec);
        ck_assert(!json_object_object_get_ex(entry, "owner", &list) || !list);
        json_object_put(result);

        args = json_tokener_parse("{\"namespace\": \"" NS "\"}");
        ck_assert_int_eq(mbus_call(c, MBUS_BROKER_NAMESPACE, "GetNamespaceOwner", args, 0, &result, NULL), 0);
        ck_assert(json_object_object_get_ex(result, "owner", &entry) && !entry);
        json_object_put(result);

        /* StartNamespace answers once the service registered, with its owner. */
        ck_assert_int_eq(mbus_call(c, MBUS_BROKER_NAMESPACE, "StartNamespace", args, 0, &result, NULL), 0);
        ck_assert_ptr_nonnull(test_json_str(result, "owner"));
        char owner[32];
        (void) snprintf(owner, sizeof(owner), "%s", test_json_str(result, "owner"));
        json_object_put(result);
        ck_assert_int_eq(count_lines(e.count_path), 1);

        ck_assert_int_eq(mbus_call(c, MBUS_BROKER_NAMESPACE, "GetNamespaceOwner", args, 0, &result, NULL), 0);
        ck_assert_str_eq(test_json_str(result, "owner"), owner);
        json_object_put(result);

        /* Starting what runs already starts nothing. */
        ck_assert_int_eq(mbus_call(c, MBUS_BROKER_NAMESPACE, "StartNamespace", args, 0, &result, NULL), 0);
        ck_assert_str_eq(test_json_str(result, "owner"), owner);
        json_object_put(result);
        ck_assert_int_eq(count_lines(e.count_path), 1);
        json_object_put(args);

        mbus_conn_unref(c);
        env_done(&e);
}
END_TEST

static Suite *activation_suite(void) {
        Suite *s = suite_create("activation");
        TCase *tc = tcase_create("exec");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_concurrent_calls_start_the_service_once_and_all_get_answers);
        tcase_add_test(tc, test_a_command_that_fails_answers_activation_failed_with_its_status);
        tcase_add_test(tc, test_a_service_that_never_registers_times_out);
        tcase_add_test(tc, test_held_calls_are_bounded_per_namespace);
        tcase_add_test(tc, test_broker_procedures_list_and_start_activatable_namespaces);
        suite_add_tcase(s, tc);
        return s;
}

int main(int argc, char *argv[]) {
        if (argc >= 2 && strcmp(argv[1], "--service") == 0)
                return service_main(argc, argv);
        return test_config_main(activation_suite);
}
