/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker as a process: its command line, socket activation the way systemd does it
 * (LISTEN_FDS/LISTEN_PID, fd 3), the socket file it binds and removes, and a caller that never
 * reads its replies.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "config.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

/* Runs the broker with argv[1..] to completion; returns its exit code, output in out. */
static int run_broker(const char *const *args, char *out, size_t size) {
        const char *broker = getenv("MBUS_TEST_BROKER");
        const char *argv[16] = { broker };
        int p[2];
        size_t n = 0;

        ck_assert_ptr_nonnull(broker);
        for (size_t i = 0; args[i] && i < 14; i++)
                argv[i + 1] = args[i];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                dup2(p[1], STDERR_FILENO);
                execv(broker, (char *const *) argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                ssize_t k = read(p[0], out + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        out[n] = 0;
        close(p[0]);
        return test_wait(pid, 20000);
}

START_TEST(test_command_line_help_version_and_errors) {
        char out[8192];

        ck_assert_int_eq(run_broker((const char *[]) { "--version", NULL }, out, sizeof(out)), 0);
        ck_assert_ptr_nonnull(strstr(out, MBUS_VERSION));
        ck_assert_int_eq(run_broker((const char *[]) { "--help", NULL }, out, sizeof(out)), 0);
        ck_assert_ptr_nonnull(strstr(out, "--max-queue-bytes"));
        ck_assert_ptr_nonnull(strstr(out, "--keepalive-interval"));
        ck_assert_int_eq(run_broker((const char *[]) { "--no-such-option", NULL }, out, sizeof(out)), 1);
        ck_assert_int_eq(run_broker((const char *[]) { "--max-peers", "lots", NULL }, out, sizeof(out)), 1);
        ck_assert_int_eq(run_broker((const char *[]) { "--keepalive-interval", "-1", NULL }, out, sizeof(out)), 1);
        ck_assert_int_eq(run_broker((const char *[]) { "--address", "relative/socket", NULL }, out, sizeof(out)), 1);
        ck_assert_int_eq(run_broker((const char *[]) { "--log-level", "chatty", NULL }, out, sizeof(out)), 1);
}
END_TEST

START_TEST(test_broker_binds_a_fresh_socket_and_removes_it) {
        struct test_broker b, second;
        struct stat st;
        char path[300];

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(stat(b.address, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_eq(st.st_mode & 0777, 0666);
        snprintf(path, sizeof(path), "%s", b.address);

        /* a second broker on the same socket refuses to start and leaves it alone */
        char out[4096];
        ck_assert_int_eq(run_broker((const char *[]) { "--address", path, "--log-target", "console", NULL }, out,
                                    sizeof(out)), 1);
        struct mbus_conn *conn = test_connect(b.address, "still-there");
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "Ping", NULL, 0, NULL, NULL), 0);
        mbus_conn_unref(conn);

        /* a clean exit removes the socket file */
        pid_t pid = b.pid;
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(test_wait(pid, 20000), 0);
        b.pid = -1;
        ck_assert_int_eq(stat(path, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
        test_broker_stop(&b);

        /* a stale socket file (nobody listening) is replaced; a missing directory is made */
        ck_assert_int_eq(test_broker_start(&second, NULL), 0);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char stale[300], nested[300];
        snprintf(stale, sizeof(stale), "%s/stale", second.dir);
        ck_assert_int_lt(strlen(stale), sizeof(sa.sun_path));
        memcpy(sa.sun_path, stale, strlen(stale) + 1);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(fd);
        snprintf(nested, sizeof(nested), "%s/sub/dir/socket", second.dir);
        for (int i = 0; i < 2; i++) {
                const char *where = i == 0 ? stale : nested;
                fflush(NULL);
                pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        execl(getenv("MBUS_TEST_BROKER"), "mbus-broker", "--address", where, "--log-target",
                              "console", (char *) NULL);
                        _exit(127);
                }
                int r = -1;
                for (long long deadline = test_now_ms() + 20000; r < 0 && test_now_ms() < deadline;) {
                        fd = raw_connect(where);
                        if (fd >= 0) {
                                r = raw_hello(fd, "probe", NULL);
                                close(fd);
                        }
                        if (r < 0)
                                usleep(20 * 1000);
                }
                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(kill(pid, SIGTERM), 0);
                ck_assert_int_eq(test_wait(pid, 20000), 0);
        }
        snprintf(path, sizeof(path), "%s/sub/dir", second.dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/sub", second.dir);
        rmdir(path);
        ck_assert_broker_stops_cleanly(&second);
}
END_TEST

START_TEST(test_broker_serves_a_socket_passed_by_systemd) {
        char tmpl[] = "/tmp/mbus-test-activation.XXXXXX", path[300];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        json_object *o = NULL;
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(tmpl));
        snprintf(path, sizeof(path), "%s/socket", tmpl);
        ck_assert_int_lt(strlen(path), sizeof(sa.sun_path));
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 16), 0);

        /* what systemd (or systemd-socket-activate) does: the socket as fd 3, LISTEN_FDS=1,
         * LISTEN_PID=the broker's pid, and no --address */
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char pidstr[32];
                if (dup2(fd, 3) < 0)
                        _exit(126);
                snprintf(pidstr, sizeof(pidstr), "%d", (int) getpid());
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_PID", pidstr, 1);
                execl(getenv("MBUS_TEST_BROKER"), "mbus-broker", "--log-target", "console", (char *) NULL);
                _exit(127);
        }
        close(fd);

        struct mbus_conn *conn = NULL;
        int r = -1;
        for (long long deadline = test_now_ms() + 20000; r < 0 && test_now_ms() < deadline;) {
                r = mbus_conn_open(&conn, path, "activated");
                if (r < 0)
                        usleep(20 * 1000);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "Version", NULL, 0, &o, NULL), 0);
        ck_assert_str_eq(test_json_str(o, "version"), MBUS_VERSION);
        json_object_put(o);
        mbus_conn_unref(conn);

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(test_wait(pid, 20000), 0);
        /* the socket belongs to systemd: the broker leaves the file alone */
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        unlink(path);
        rmdir(tmpl);
}
END_TEST

START_TEST(test_caller_that_never_reads_replies_is_disconnected) {
        static const char *const args[] = { "--max-queue-bytes", "65536", NULL };
        struct test_broker b;
        struct test_service svc;
        struct raw_buf buf = {};
        char *body, id[64];
        char *raw_id = NULL;
        int fd, small = 4096;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, "org.example.Echo"), 0);

        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(raw_hello(fd, "deaf-caller", &raw_id), 0);
        snprintf(id, sizeof(id), "{\"id\": \"%s\"}", raw_id);
        free(raw_id);

        /* 200 calls of 16 KiB: 3 MiB of replies for a caller that reads none of them */
        body = malloc(16 * 1024 + 3);
        ck_assert_ptr_nonnull(body);
        memset(body, 'x', 16 * 1024 + 2);
        body[0] = '"';
        body[16 * 1024 + 1] = '"';
        body[16 * 1024 + 2] = 0;
        for (uint64_t serial = 2; serial < 202; serial++) {
                raw_frame_begin(&buf, MBUS_FRAME_CALL);
                raw_field_u64(&buf, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&buf, MBUS_FIELD_NAMESPACE, "org.example.Echo");
                raw_field_str(&buf, MBUS_FIELD_MEMBER, "Echo");
                raw_frame_finish(&buf, body);
                if (raw_send_buf(fd, &buf) < 0)
                        break;           /* already disconnected: fine */
        }
        raw_buf_done(&buf);
        free(body);

        /* the broker gives up on it (LimitsExceeded, logged) rather than growing or dropping
         * replies silently: GetPeer soon says it is gone */
        struct mbus_conn *conn = test_connect(b.address, "observer");
        json_object *a = json_tokener_parse(id);
        struct mbus_error error = MBUS_ERROR_NULL;
        int r = 0;
        for (long long deadline = test_now_ms() + 20000; test_now_ms() < deadline;) {
                r = mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetPeer", a, 0, NULL, &error);
                mbus_error_free(&error);
                if (r == -ESRCH)
                        break;
                usleep(20 * 1000);
        }
        ck_assert_int_eq(r, -ESRCH);
        json_object_put(a);

        /* everyone else is fine */
        ck_assert_int_eq(mbus_call(conn, "org.example.Echo", "Echo", NULL, 0, NULL, NULL), 0);
        close(fd);
        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, "org.example.Echo"), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *daemon_suite(void) {
        Suite *s = suite_create("e2e-daemon");
        TCase *tc = tcase_create("daemon");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_command_line_help_version_and_errors);
        tcase_add_test(tc, test_broker_binds_a_fresh_socket_and_removes_it);
        tcase_add_test(tc, test_broker_serves_a_socket_passed_by_systemd);
        tcase_add_test(tc, test_caller_that_never_reads_replies_is_disconnected);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(daemon_suite)
