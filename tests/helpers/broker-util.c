/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Spawning and stopping a real broker, forking clients, and a small echo service. Everything
 * here talks to the broker the way users do: sockets and libmbus, nothing mocked.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"

long long test_now_ms(void) {
        return (long long) (test_now_usec() / 1000u);
}

uint64_t test_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static bool socket_accepts(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;
        bool ok;

        if (strlen(path) >= sizeof(sa.sun_path))
                return false;           /* a cut path would name another socket */
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        ok = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

int test_broker_start(struct test_broker *b, const char *const *extra_args) {
        return test_broker_start_full(b, extra_args, NULL, false);
}

/* Runs the broker with argv[] and waits until b->address accepts connections. */
static int broker_spawn(struct test_broker *b, const char *const *args, const char *log_path) {
        const char *broker = getenv("MBUS_TEST_BROKER");
        const char *level = getenv("MBUS_TEST_LOG_LEVEL");
        const char *argv[64];
        size_t n = 0;

        if (!broker) {
                fprintf(stderr, "MBUS_TEST_BROKER is not set\n");
                return -ENOENT;
        }
        argv[n++] = broker;
        argv[n++] = "--log-target";
        argv[n++] = "console";
        argv[n++] = "--log-level";
        argv[n++] = level ?: "notice";
        for (size_t i = 0; args && args[i] && n < 62; i++)
                argv[n++] = args[i];
        argv[n] = NULL;

        fflush(NULL);
        b->pid = fork();
        if (b->pid < 0)
                return -errno;
        if (b->pid == 0) {
                /* stays in the test's process group: should the test fail before stopping
                 * it, Check's kill of the group takes the broker along */
                if (log_path) {
                        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                                _exit(127);
                }
                execv(broker, (char *const *) argv);
                fprintf(stderr, "exec %s: %m\n", broker);
                _exit(127);
        }

        for (long long deadline = test_now_ms() + 20000; test_now_ms() < deadline;) {
                int st;

                if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
                        fprintf(stderr, "broker exited early (status %d)\n", st);
                        b->pid = -1;
                        return -ECHILD;
                }
                if (socket_accepts(b->address))
                        return 0;
                sleep_ms(10);
        }
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = -1;
        return -ETIMEDOUT;
}

int test_broker_start_full(struct test_broker *b, const char *const *extra_args, const char *log_path,
                           bool open_to_all) {
        const char *args[64];
        size_t n = 0;
        char tmpl[] = "/tmp/mbus-test.XXXXXX";

        *b = (struct test_broker) { .pid = -1 };
        if (!mkdtemp(tmpl))
                return -errno;
        snprintf(b->dir, sizeof(b->dir), "%s", tmpl);
        /* peers of other uids must reach the socket (mode 0666) through the directory */
        if (open_to_all && chmod(b->dir, 0755) < 0)
                return -errno;
        snprintf(b->address, sizeof(b->address), "%s/socket", b->dir);

        args[n++] = "--address";
        args[n++] = b->address;
        for (size_t i = 0; extra_args && extra_args[i] && n < 58; i++)
                args[n++] = extra_args[i];
        args[n] = NULL;
        return broker_spawn(b, args, log_path);
}

int test_broker_start_listening(struct test_broker *b, const char *address, const char *const *args,
                                const char *log_path) {
        *b = (struct test_broker) { .pid = -1 };
        snprintf(b->address, sizeof(b->address), "%s", address);
        return broker_spawn(b, args, log_path);
}

int test_broker_stop(struct test_broker *b) {
        int r = -ECHILD;

        if (b->pid > 0) {
                (void) kill(b->pid, SIGTERM);
                r = test_wait(b->pid, 20000);
                if (r >= 0) {
                        /* rebuild a wait status for the caller's WIFEXITED/WEXITSTATUS */
                        r = r < 128 ? (r << 8) : (r - 128);
                }
                b->pid = -1;
        }
        if (b->dir[0]) {
                unlink(b->address);
                rmdir(b->dir);
                b->dir[0] = 0;
        }
        return r;
}

void test_asan_small_quarantine(void) {
        const char *asan = getenv("ASAN_OPTIONS");
        char small[512];

        if (asan && strstr(asan, "quarantine_size_mb=1"))
                return;
        snprintf(small, sizeof(small), "%s%squarantine_size_mb=1", asan ?: "", asan && *asan ? ":" : "");
        ck_assert_int_eq(setenv("ASAN_OPTIONS", small, 1), 0);
}

long test_broker_rss_kb(const struct test_broker *b) {
        char path[64], line[256];
        long kb = -ENOENT;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) b->pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

pid_t test_fork(int (*fn)(void *userdata), void *userdata) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                exit(fn(userdata));
        return pid;
}

int test_wait(pid_t pid, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;
        int st;

        for (;;) {
                pid_t p = waitpid(pid, &st, WNOHANG);
                if (p == pid)
                        break;
                if (p < 0 && errno != EINTR)
                        return -errno;
                if (test_now_ms() >= deadline) {
                        fprintf(stderr, "process %d did not exit in time, killing it\n", (int) pid);
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        return -ETIMEDOUT;
                }
                sleep_ms(5);
        }
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        return 128 + WTERMSIG(st);
}

void test_pipe_init(struct test_pipe *p) {
        ck_assert_int_eq(pipe2(p->fd, O_CLOEXEC), 0);
}

void test_pipe_close(struct test_pipe *p) {
        for (int i = 0; i < 2; i++)
                if (p->fd[i] >= 0) {
                        close(p->fd[i]);
                        p->fd[i] = -1;
                }
}

void test_pipe_write(struct test_pipe *p, const char *line) {
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "%s\n", line);

        child_assert(write(p->fd[1], buf, (size_t) n) == n);
}

int test_pipe_read_line(struct test_pipe *p, char *buf, size_t size, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd pfd = { .fd = p->fd[0], .events = POLLIN };
                long long left = deadline - test_now_ms();
                char c;

                if (left <= 0)
                        return -ETIMEDOUT;
                int r = poll(&pfd, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -ETIMEDOUT;
                ssize_t k = read(p->fd[0], &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EPIPE;
                if (c == '\n')
                        break;
                buf[n++] = c;
        }
        buf[n] = 0;
        return 0;
}

/* ---- the echo service -------------------------------------------------------------------- */

struct service_state {
        struct mbus_request *held[256];
        size_t n_held;
        bool disconnect;
};

static int svc_echo(struct mbus_request *req, json_object *args, void *userdata) {
        return mbus_request_reply(req, args);
}

static int svc_fail(struct mbus_request *req, json_object *args, void *userdata) {
        return mbus_request_reply_error(req, "org.example.Error.Failed", "asked to fail");
}

static int svc_hang(struct mbus_request *req, json_object *args, void *userdata) {
        struct service_state *st = userdata;

        child_assert(st->n_held < sizeof(st->held) / sizeof(st->held[0]));
        st->held[st->n_held++] = mbus_request_ref(req);
        return 0;
}

static int svc_quit(struct mbus_request *req, json_object *args, void *userdata) {
        int r = mbus_request_reply(req, NULL);
        mbus_conn_exit(mbus_request_get_conn(req), 0);
        return r;
}

static int svc_disconnect(struct mbus_request *req, json_object *args, void *userdata) {
        struct service_state *st = userdata;

        st->disconnect = true;
        (void) svc_hang(req, args, userdata);
        mbus_conn_exit(mbus_request_get_conn(req), 0);
        return 0;
}

static const struct mbus_procedure service_procedures[] = {
        { "Echo", svc_echo },
        { "Fail", svc_fail },
        { "Hang", svc_hang },
        { "Quit", svc_quit },
        { "Disconnect", svc_disconnect },
};

struct service_args {
        const char *address, *ns;
        struct test_pipe *ready;
};

static int service_main(void *userdata) {
        struct service_args *a = userdata;
        struct service_state st = {};
        struct mbus_error error = MBUS_ERROR_NULL;
        struct mbus_conn *conn = NULL;
        int r;

        close(a->ready->fd[0]);
        r = mbus_conn_open(&conn, a->address, "test-service");
        child_assert(r >= 0);
        r = mbus_register(conn, a->ns, service_procedures, sizeof(service_procedures) / sizeof(service_procedures[0]),
                          NULL, &st, &error);
        if (r < 0)
                fprintf(stderr, "service: register %s: %d %s\n", a->ns, r, error.name ?: "");
        child_assert(r >= 0);
        test_pipe_write(a->ready, mbus_conn_get_unique_id(conn));

        r = mbus_conn_run(conn);
        if (r < 0)
                fprintf(stderr, "service %s: connection broke: %s\n", a->ns, strerror(-r));
        /* Quit's answer leaves; held requests stay unanswered: the connection is closed before
         * they are dropped, so their callers see the broker's OwnerDisconnected */
        if (!st.disconnect)
                (void) mbus_conn_flush(conn);
        mbus_conn_close(conn);
        for (size_t i = 0; i < st.n_held; i++)
                mbus_request_unref(st.held[i]);
        mbus_conn_unref(conn);
        mbus_error_free(&error);
        return r < 0 ? 2 : 0;
}

int test_service_start(struct test_service *s, const char *address, const char *ns) {
        struct test_pipe ready;
        struct service_args a = { address, ns, &ready };
        int r;

        test_pipe_init(&ready);
        s->pid = test_fork(service_main, &a);
        close(ready.fd[1]);
        ready.fd[1] = -1;
        r = test_pipe_read_line(&ready, s->id, sizeof(s->id), 20000);
        test_pipe_close(&ready);
        return r;
}

int test_service_quit(struct test_service *s, const char *address, const char *ns) {
        struct mbus_conn *conn = NULL;
        int r;

        r = mbus_conn_open(&conn, address, "test-quit");
        if (r >= 0) {
                r = mbus_call(conn, ns, "Quit", NULL, 0, NULL, NULL);
                mbus_conn_unref(conn);
        }
        if (r < 0)
                fprintf(stderr, "calling %s.Quit: %s\n", ns, strerror(-r));
        r = test_wait(s->pid, 20000);
        s->pid = -1;
        return r;
}

struct mbus_conn *test_connect(const char *address, const char *name) {
        struct mbus_conn *conn = NULL;
        int r;

        r = mbus_conn_open(&conn, address, name);
        ck_assert_msg(r >= 0, "connecting to %s: %s", address, strerror(-r));
        return conn;
}

int test_pump(struct mbus_conn *conn, int stop_fd, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;

        for (;;) {
                int r;

                while ((r = mbus_conn_process(conn)) > 0)
                        deadline = test_now_ms() + timeout_ms;
                if (r < 0)
                        return r;

                long long left = deadline - test_now_ms();
                if (left <= 0)
                        return 0;
                uint64_t t = UINT64_MAX;
                (void) mbus_conn_get_timeout(conn, &t);
                struct pollfd pfd[2] = {
                        { .fd = mbus_conn_get_fd(conn), .events = (short) mbus_conn_get_events(conn) },
                        { .fd = stop_fd, .events = POLLIN },
                };
                uint64_t now = test_now_usec();
                if (t != UINT64_MAX) {
                        long long lib_ms = t <= now ? 0 : (long long) ((t - now + 999) / 1000);
                        if (lib_ms < left)
                                left = lib_ms;
                }
                r = poll(pfd, stop_fd >= 0 ? 2 : 1, (int) left);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (stop_fd >= 0 && pfd[1].revents)
                        return 0;
        }
}

const char *test_json_str(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int64_t test_json_int(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return INT64_MIN;
        return json_object_get_int64(v);
}

const char *test_tool_path(const char *name, char *buf, size_t size) {
        const char *dir = getenv("MBUS_TEST_BINDIR");

        snprintf(buf, size, "%s/%s", dir ?: "tools", name);
        return buf;
}

long test_raise_nofile(long n) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if ((long) rl.rlim_cur < n) {
                rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long) rl.rlim_max > n ? (rlim_t) n : rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
                (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        return (long) rl.rlim_cur;
}

unsigned test_free_tcp_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unsigned port = 0;

        if (fd < 0)
                return 0;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
                port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

int test_make_certs(char *dir, size_t size) {
        const char *src = getenv("MBUS_TEST_SRCDIR");
        char cmd[1024];

        if (!src)
                return -ENOENT;
        (void) snprintf(dir, size, "%s/mbus-test-certs.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(dir))
                return -errno;
        (void) snprintf(cmd, sizeof(cmd), "%s/tests/helpers/make-test-certs %s", src, dir);
        return system(cmd) == 0 ? 0 : -EIO;
}

void test_remove_certs(const char *dir) {
        char cmd[600];

        if (!dir[0])
                return;
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}
