/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Agents: forked clients under other credentials, driven line by line over pipes. Plus config
 * directories and captured tool runs. Nothing here is mocked: the agents are libmbus clients
 * (and one raw connection each) of the real broker.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define AGENT_REPLY_TIMEOUT_MS 20000
#define AGENT_MAX_PROCS 32
#define AGENT_LINE_MAX 65536

/* ---- the agent (child side) -------------------------------------------------------------- */

struct agent {
        struct mbus_conn *conn;
        bool broken;
        int raw;
        uint64_t raw_serial;
        char raw_id[32];
        struct mbus_procedure procs[AGENT_MAX_PROCS];
        char names[AGENT_MAX_PROCS][64];
        char *event_names[AGENT_MAX_PROCS + 1];
        char event_store[AGENT_MAX_PROCS][64];
        struct mbus_slot *slots[32];
        size_t n_slots;
        unsigned handled;
        char events[AGENT_LINE_MAX / 2];
        int reply_fd;
};

static void agent_reply(struct agent *a, const char *status, const char *fmt, ...) {
        char buf[AGENT_LINE_MAX];
        int n = snprintf(buf, sizeof(buf), "%s ", status);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf + n, sizeof(buf) - (size_t) n - 1, fmt, ap);
        va_end(ap);
        for (char *p = buf; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        n = (int) strlen(buf);
        buf[n++] = '\n';
        for (int off = 0; off < n;) {
                ssize_t k = write(a->reply_fd, buf + off, (size_t) (n - off));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        _exit(3);
                off += (int) k;
        }
}

static void agent_reply_error(struct agent *a, int r, const struct mbus_error *e) {
        if (e && e->name)
                agent_reply(a, "err", "%s %s", e->name, e->message ?: "");
        else
                agent_reply(a, "err", "errno %s", strerror(-r));
}

static int agent_handler(struct mbus_request *req, json_object *args, void *userdata) {
        struct agent *a = userdata;

        a->handled++;
        return mbus_request_reply(req, args);
}

static int agent_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct agent *a = userdata;
        size_t n = strlen(a->events);

        snprintf(a->events + n, sizeof(a->events) - n, "%s%s.%s%s", n ? " " : "", ev->ns, ev->event,
                 ev->direct ? ":direct" : "");
        return 0;
}

static void agent_raw_dispatch(struct agent *a, struct raw_frame *f) {
        if (f->type == MBUS_FRAME_PING)
                (void) raw_send_simple(a->raw, MBUS_FRAME_PONG, 0, f->serial, NULL, NULL, NULL, NULL, NULL, NULL);
        else if (f->type == MBUS_FRAME_CALL) {
                a->handled++;
                (void) raw_send_simple(a->raw, MBUS_FRAME_RETURN, 0, f->serial, NULL, NULL, f->sender, NULL,
                                       NULL, f->body ?: "{}");
        } else if (f->type == MBUS_FRAME_EVENT) {
                size_t n = strlen(a->events);
                snprintf(a->events + n, sizeof(a->events) - n, "%s%s.%s%s", n ? " " : "", f->namespace,
                         f->member, f->destination ? ":direct" : "");
        }
}

/* Waits for the answer to serial on the raw connection, serving whatever else comes. Returns 0
 * (RETURN or PONG), -EREMOTEIO with *ret_error set (ERROR), or a negative errno. */
static int agent_raw_wait(struct agent *a, uint64_t serial, struct raw_frame *ret_error) {
        for (;;) {
                struct raw_frame f;
                int r = raw_recv(a->raw, AGENT_REPLY_TIMEOUT_MS, &f);
                if (r < 0)
                        return r;
                if (f.reply_serial == serial &&
                    (f.type == MBUS_FRAME_RETURN || f.type == MBUS_FRAME_PONG || f.type == MBUS_FRAME_ERROR)) {
                        if (f.type == MBUS_FRAME_ERROR) {
                                *ret_error = f;
                                return -EREMOTEIO;
                        }
                        raw_frame_done(&f);
                        return 0;
                }
                agent_raw_dispatch(a, &f);
                raw_frame_done(&f);
        }
}

static void agent_reply_raw_error(struct agent *a, struct raw_frame *f) {
        json_object *o = f->body ? json_tokener_parse(f->body) : NULL;
        const char *m = test_json_str(o, "message");

        agent_reply(a, "err", "%s %s", f->error_name ?: "?", m ?: "");
        json_object_put(o);
        raw_frame_done(f);
}

static int agent_raw_open(struct agent *a, const char *address) {
        char *id = NULL;
        int r;

        if (a->raw >= 0)
                return 0;
        a->raw = raw_connect(address);
        if (a->raw < 0)
                return a->raw;
        r = raw_hello(a->raw, "test-agent-raw", &id);
        if (r < 0)
                return r;
        snprintf(a->raw_id, sizeof(a->raw_id), "%s", id);
        free(id);
        a->raw_serial = 100;
        return 0;
}

static void split_list(char *list, char out[][64], size_t *n) {
        *n = 0;
        if (!list || strcmp(list, "-") == 0)
                return;
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && *n < AGENT_MAX_PROCS;
             t = strtok_r(NULL, ",", &save))
                snprintf(out[(*n)++], 64, "%s", t);
}

static void agent_command(struct agent *a, const char *address, char *line) {
        struct mbus_error error = MBUS_ERROR_NULL;
        char *save = NULL, *cmd = strtok_r(line, " ", &save);
        int r;

        if (!cmd) {
                agent_reply(a, "err", "errno empty command");
                return;
        }
        if (strcmp(cmd, "quit") == 0) {
                agent_reply(a, "ok", "bye");
                for (size_t i = 0; i < a->n_slots; i++)
                        mbus_slot_free(a->slots[i]);
                mbus_conn_unref(a->conn);
                if (a->raw >= 0)
                        close(a->raw);
                _exit(0);
        }
        if (strcmp(cmd, "id") == 0) {
                agent_reply(a, "ok", "%s", mbus_conn_get_unique_id(a->conn));
                return;
        }
        if (strcmp(cmd, "count") == 0) {
                agent_reply(a, "ok", "%u", a->handled);
                return;
        }
        if (strncmp(cmd, "raw", 3) == 0) {
                r = agent_raw_open(a, address);
                if (r < 0) {
                        agent_reply_error(a, r, NULL);
                        return;
                }
        } else if (a->broken) {
                agent_reply(a, "err", "errno connection broken");
                return;
        }

        if (strcmp(cmd, "call") == 0) {
                char *ns = strtok_r(NULL, " ", &save), *member = strtok_r(NULL, " ", &save);
                char *rest = strtok_r(NULL, "", &save);
                json_object *args = rest ? json_tokener_parse(rest) : NULL, *result = NULL;

                if (!ns || !member || (rest && !args)) {
                        agent_reply(a, "err", "errno bad call command");
                        return;
                }
                r = mbus_call(a->conn, ns, member, args, 10 * 1000 * 1000, &result, &error);
                if (r < 0)
                        agent_reply_error(a, r, &error);
                else
                        agent_reply(a, "ok", "%s",
                                    result ? json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN) : "null");
                json_object_put(args);
                json_object_put(result);
        } else if (strcmp(cmd, "register") == 0) {
                char *ns = strtok_r(NULL, " ", &save), *procs = strtok_r(NULL, " ", &save);
                char *evs = strtok_r(NULL, " ", &save);
                size_t n_procs, n_events;

                split_list(procs, a->names, &n_procs);
                for (size_t i = 0; i < n_procs; i++)
                        a->procs[i] = (struct mbus_procedure) { a->names[i], agent_handler };
                split_list(evs, a->event_store, &n_events);
                for (size_t i = 0; i < n_events; i++)
                        a->event_names[i] = a->event_store[i];
                a->event_names[n_events] = NULL;
                r = mbus_register(a->conn, ns, a->procs, n_procs, (const char *const *) a->event_names, a,
                                  &error);
                if (r < 0)
                        agent_reply_error(a, r, &error);
                else
                        agent_reply(a, "ok", "registered");
        } else if (strcmp(cmd, "unregister") == 0) {
                r = mbus_unregister(a->conn, strtok_r(NULL, " ", &save), &error);
                if (r < 0)
                        agent_reply_error(a, r, &error);
                else
                        agent_reply(a, "ok", "unregistered");
        } else if (strcmp(cmd, "subscribe") == 0) {
                if (a->n_slots >= sizeof(a->slots) / sizeof(a->slots[0])) {
                        agent_reply(a, "err", "errno too many subscriptions");
                        return;
                }
                r = mbus_subscribe(a->conn, strtok_r(NULL, " ", &save), agent_on_event, a, &a->slots[a->n_slots],
                                   &error);
                if (r < 0) {
                        agent_reply_error(a, r, &error);
                } else {
                        a->n_slots++;
                        agent_reply(a, "ok", "subscribed");
                }
        } else if (strcmp(cmd, "events") == 0) {
                struct raw_frame f;
                if (a->raw >= 0) {
                        uint64_t s = ++a->raw_serial;
                        r = raw_send_simple(a->raw, MBUS_FRAME_PING, s, 0, NULL, NULL, NULL, NULL, NULL, NULL);
                        if (r >= 0)
                                r = agent_raw_wait(a, s, &f);
                        if (r == -EREMOTEIO)
                                raw_frame_done(&f);
                }
                r = mbus_ping(a->conn, 10 * 1000 * 1000);
                while (r >= 0 && (r = mbus_conn_process(a->conn)) > 0)
                        ;
                if (r < 0)
                        agent_reply_error(a, r, NULL);
                else
                        agent_reply(a, "ok", "%s", a->events);
                a->events[0] = 0;
        } else if (strcmp(cmd, "rawid") == 0) {
                agent_reply(a, "ok", "%s", a->raw_id);
        } else if (strcmp(cmd, "rawregister") == 0) {
                char *ns = strtok_r(NULL, " ", &save), *body = strtok_r(NULL, "", &save);
                struct raw_frame f;
                uint64_t s = ++a->raw_serial;

                r = raw_send_simple(a->raw, MBUS_FRAME_REGISTER, s, 0, ns, NULL, NULL, NULL, NULL, body);
                if (r >= 0)
                        r = agent_raw_wait(a, s, &f);
                if (r == -EREMOTEIO)
                        agent_reply_raw_error(a, &f);
                else if (r < 0)
                        agent_reply_error(a, r, NULL);
                else
                        agent_reply(a, "ok", "registered");
        } else if (strcmp(cmd, "rawsubscribe") == 0 || strcmp(cmd, "rawcall") == 0) {
                bool call = strcmp(cmd, "rawcall") == 0;
                char *x = strtok_r(NULL, " ", &save), *member = call ? strtok_r(NULL, " ", &save) : NULL;
                char *body = call ? strtok_r(NULL, "", &save) : NULL;
                struct raw_frame f;
                uint64_t s = ++a->raw_serial;

                if (call)
                        r = raw_send_simple(a->raw, MBUS_FRAME_CALL, s, 0, x, member, NULL, NULL, NULL, body);
                else
                        r = raw_send_simple(a->raw, MBUS_FRAME_SUBSCRIBE, s, 0, NULL, NULL, NULL, NULL, x, NULL);
                if (r >= 0)
                        r = agent_raw_wait(a, s, &f);
                if (r == -EREMOTEIO)
                        agent_reply_raw_error(a, &f);
                else if (r < 0)
                        agent_reply_error(a, r, NULL);
                else
                        agent_reply(a, "ok", "done");
        } else if (strcmp(cmd, "rawemit") == 0) {
                char *ns = strtok_r(NULL, " ", &save), *ev = strtok_r(NULL, " ", &save);
                char *dest = strtok_r(NULL, " ", &save), *body = strtok_r(NULL, "", &save);
                struct raw_frame f;
                uint64_t s = ++a->raw_serial, ping = ++a->raw_serial;

                if (dest && strcmp(dest, "-") == 0)
                        dest = NULL;
                r = raw_send_simple(a->raw, MBUS_FRAME_EVENT, s, 0, ns, ev, dest, NULL, NULL, body);
                if (r >= 0)
                        r = raw_send_simple(a->raw, MBUS_FRAME_PING, ping, 0, NULL, NULL, NULL, NULL, NULL, NULL);
                /* an ERROR for the event comes before the PONG, if at all */
                for (;;) {
                        if (r < 0)
                                break;
                        r = raw_recv(a->raw, AGENT_REPLY_TIMEOUT_MS, &f);
                        if (r < 0)
                                break;
                        if (f.type == MBUS_FRAME_ERROR && f.reply_serial == s) {
                                agent_reply_raw_error(a, &f);
                                (void) agent_raw_wait(a, ping, &f);
                                return;
                        }
                        if (f.type == MBUS_FRAME_PONG && f.reply_serial == ping) {
                                raw_frame_done(&f);
                                break;
                        }
                        agent_raw_dispatch(a, &f);
                        raw_frame_done(&f);
                }
                if (r < 0)
                        agent_reply_error(a, r, NULL);
                else
                        agent_reply(a, "ok", "emitted");
        } else
                agent_reply(a, "err", "errno unknown command %s", cmd);
        mbus_error_free(&error);
}

/* Reads one line from fd while serving the connections. Returns 0, or -EPIPE at end of file. */
static int agent_read_line(struct agent *a, int fd, char *buf, size_t size) {
        size_t n = 0;

        for (;;) {
                struct pollfd pfd[3] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = a->raw, .events = POLLIN },
                        { .fd = -1 },
                };
                if (!a->broken) {
                        pfd[2].fd = mbus_conn_get_fd(a->conn);
                        pfd[2].events = (short) mbus_conn_get_events(a->conn);
                }
                int r = 0;
                while (!a->broken && (r = mbus_conn_process(a->conn)) > 0)
                        ;
                if (!a->broken && r < 0) {
                        a->broken = true;
                        pfd[2].fd = -1;
                }
                if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
                        return -errno;
                if (pfd[1].revents) {
                        struct raw_frame f;
                        if (raw_recv(a->raw, 1000, &f) >= 0) {
                                agent_raw_dispatch(a, &f);
                                raw_frame_done(&f);
                        } else {
                                close(a->raw);
                                a->raw = -1;
                        }
                }
                if (!pfd[0].revents)
                        continue;
                char c;
                ssize_t k = read(fd, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EPIPE;
                if (c == '\n')
                        break;
                if (n + 1 < size)
                        buf[n++] = c;
        }
        buf[n] = 0;
        return 0;
}

static int drop_privileges(const struct test_who *who) {
        if (setgroups(who->n_groups, who->groups) < 0 || setresgid(who->gid, who->gid, who->gid) < 0 ||
            setresuid(who->uid, who->uid, who->uid) < 0)
                return -errno;
        if (getuid() != who->uid || geteuid() != who->uid || getgid() != who->gid)
                return -EPERM;
        return 0;
}

static _Noreturn void agent_main(const char *address, const struct test_who *who, int cmd_fd, int reply_fd) {
        static struct agent a;
        static char line[AGENT_LINE_MAX];
        int r;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        a.raw = -1;
        a.reply_fd = reply_fd;
        r = drop_privileges(who);
        if (r < 0) {
                fprintf(stderr, "agent: cannot become uid %u: %s\n", (unsigned) who->uid, strerror(-r));
                _exit(4);
        }
        r = mbus_conn_open(&a.conn, address, "test-agent");
        if (r < 0) {
                fprintf(stderr, "agent uid %u: connecting: %s\n", (unsigned) who->uid, strerror(-r));
                _exit(5);
        }
        agent_reply(&a, "ok", "%s", mbus_conn_get_unique_id(a.conn));
        for (;;) {
                if (agent_read_line(&a, cmd_fd, line, sizeof(line)) < 0)
                        _exit(6);
                agent_command(&a, address, line);
        }
}

/* ---- the agent (parent side) ------------------------------------------------------------- */

static int read_reply(struct test_agent *a) {
        long long deadline = test_now_ms() + AGENT_REPLY_TIMEOUT_MS;
        char line[sizeof(a->reply)];
        size_t n = 0;

        for (;;) {
                struct pollfd pfd = { .fd = a->reply_fd, .events = POLLIN };
                long long left = deadline - test_now_ms();
                char buf[4096];

                if (left <= 0)
                        return -ETIMEDOUT;
                int r = poll(&pfd, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -ETIMEDOUT;
                /* replies are whole lines and the agent writes nothing unasked: read freely */
                ssize_t k = read(a->reply_fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EPIPE;
                for (ssize_t i = 0; i < k; i++) {
                        if (buf[i] == '\n') {
                                line[n] = 0;
                                if (strncmp(line, "ok ", 3) == 0) {
                                        snprintf(a->reply, sizeof(a->reply), "%s", line + 3);
                                        return 0;
                                }
                                if (strncmp(line, "err ", 4) == 0) {
                                        snprintf(a->reply, sizeof(a->reply), "%s", line + 4);
                                        return -EREMOTEIO;
                                }
                                snprintf(a->reply, sizeof(a->reply), "%s", line);
                                return -EBADMSG;
                        }
                        if (n + 1 < sizeof(line))
                                line[n++] = buf[i];
                }
        }
}

int test_agent_start(struct test_agent *a, const char *address, const struct test_who *who) {
        int cmd[2], reply[2];
        int r;

        *a = (struct test_agent) { .pid = -1, .cmd_fd = -1, .reply_fd = -1 };
        if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(reply, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        a->pid = fork();
        if (a->pid < 0)
                return -errno;
        if (a->pid == 0) {
                close(cmd[1]);
                close(reply[0]);
                agent_main(address, who, cmd[0], reply[1]);
        }
        close(cmd[0]);
        close(reply[1]);
        a->cmd_fd = cmd[1];
        a->reply_fd = reply[0];
        r = read_reply(a);
        if (r < 0) {
                fprintf(stderr, "agent uid %u did not start: %d (%s)\n", (unsigned) who->uid, r, a->reply);
                (void) test_agent_stop(a);
                return r;
        }
        snprintf(a->id, sizeof(a->id), "%.31s", a->reply);
        return 0;
}

int test_agent_do(struct test_agent *a, const char *format, ...) {
        char buf[AGENT_LINE_MAX];
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(buf, sizeof(buf) - 1, format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(buf) - 1)
                return -E2BIG;
        buf[n++] = '\n';
        a->reply[0] = 0;
        for (int off = 0; off < n;) {
                ssize_t k = write(a->cmd_fd, buf + off, (size_t) (n - off));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EPIPE;
                off += (int) k;
        }
        return read_reply(a);
}

const char *test_agent_error_name(const struct test_agent *a) {
        static char name[256];
        size_t n = strcspn(a->reply, " ");

        snprintf(name, sizeof(name), "%.*s", (int) n, a->reply);
        return name;
}

int test_agent_stop(struct test_agent *a) {
        int r;

        if (a->pid <= 0)
                return -ECHILD;
        (void) test_agent_do(a, "quit");
        if (a->cmd_fd >= 0)
                close(a->cmd_fd);
        if (a->reply_fd >= 0)
                close(a->reply_fd);
        a->cmd_fd = a->reply_fd = -1;
        r = test_wait(a->pid, 20000);
        a->pid = -1;
        return r;
}

/* ---- config directories ------------------------------------------------------------------ */

static int copy_file(const char *from, const char *to) {
        char buf[65536];
        int in, out, r = 0;

        in = open(from, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        for (;;) {
                ssize_t k = read(in, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        r = -errno;
                if (k <= 0)
                        break;
                if (write(out, buf, (size_t) k) != k) {
                        r = -EIO;
                        break;
                }
        }
        close(in);
        close(out);
        return r;
}

/* A failed assertion ends a test's process (Check forks one per test) before it can clean up:
 * the tests' directories live in one directory per test program that main() removes. */
static char config_root[200];

int test_config_root_init(void) {
        char tmpl[] = "/tmp/mbus-conf.XXXXXX";

        if (!mkdtemp(tmpl))
                return -errno;
        snprintf(config_root, sizeof(config_root), "%s", tmpl);
        return chmod(config_root, 0755) < 0 ? -errno : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);

void test_config_root_done(void) {
        if (config_root[0])
                (void) nftw(config_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        config_root[0] = 0;
}

int test_config_new(struct test_config *c, bool with_shipped) {
        char tmpl[256], a[512], b[512];
        const char *src = getenv("MBUS_TEST_SRCDIR");

        *c = (struct test_config) {};
        snprintf(tmpl, sizeof(tmpl), "%s/conf.XXXXXX", config_root[0] ? config_root : "/tmp");
        if (!mkdtemp(tmpl))
                return -errno;
        snprintf(c->dir, sizeof(c->dir), "%s", tmpl);
        snprintf(c->log, sizeof(c->log), "%s/broker.log", c->dir);
        if (chmod(c->dir, 0755) < 0)
                return -errno;
        snprintf(a, sizeof(a), "%s/interfaces.d", c->dir);
        snprintf(b, sizeof(b), "%s/policy.d", c->dir);
        if (mkdir(a, 0755) < 0 || mkdir(b, 0755) < 0)
                return -errno;
        if (!with_shipped)
                return 0;
        if (!src)
                return -ENOENT;
        static const char *const kinds[] = { "interfaces.d", "policy.d" };
        for (size_t i = 0; i < 2; i++) {
                snprintf(a, sizeof(a), "%s/policy/%s/org.mbus.Broker.xml", src, kinds[i]);
                snprintf(b, sizeof(b), "%s/%s/org.mbus.Broker.xml", c->dir, kinds[i]);
                int r = copy_file(a, b);
                if (r < 0) {
                        fprintf(stderr, "copying %s: %s\n", a, strerror(-r));
                        return r;
                }
        }
        return 0;
}

const char *test_config_path(const struct test_config *c, const char *relpath, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s", c->dir, relpath);
        return buf;
}

void test_config_write(const struct test_config *c, const char *relpath, const char *text) {
        char path[512], tmp[600];
        FILE *f;

        test_config_path(c, relpath, path, sizeof(path));
        /* a dot-file while being written: the broker ignores those */
        char *slash = strrchr(path, '/');
        snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp", (int) (slash - path), path, slash + 1);
        f = fopen(tmp, "we");
        ck_assert_msg(f, "creating %s: %s", tmp, strerror(errno));
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(rename(tmp, path), 0);
}

void test_config_unlink(const struct test_config *c, const char *relpath) {
        char path[512];

        ck_assert_int_eq(unlink(test_config_path(c, relpath, path, sizeof(path))), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

void test_config_remove(struct test_config *c) {
        if (c->dir[0])
                (void) nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        c->dir[0] = 0;
}

bool test_file_wait_for(const char *path, const char *needle, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;

        for (;;) {
                static char buf[1 << 20];
                FILE *f = fopen(path, "re");
                if (f) {
                        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                        buf[n] = 0;
                        fclose(f);
                        if (strstr(buf, needle))
                                return true;
                }
                if (test_now_ms() >= deadline)
                        return false;
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

/* ---- running tools ----------------------------------------------------------------------- */

int test_run(const char *const *argv, char *out, size_t out_size, char *err, size_t err_size, int timeout_ms) {
        int po[2], pe[2];
        size_t no = 0, ne = 0;
        long long deadline = test_now_ms() + timeout_ms;
        pid_t pid;

        if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
                        _exit(127);
                execv(argv[0], (char *const *) argv);
                fprintf(stderr, "exec %s: %m\n", argv[0]);
                _exit(127);
        }
        close(po[1]);
        close(pe[1]);
        struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
        while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
                long long left = deadline - test_now_ms();
                if (left <= 0)
                        break;
                int r = poll(pfd, 2, (int) left);
                if (r < 0 && errno != EINTR)
                        break;
                for (int i = 0; i < 2; i++) {
                        char buf[4096];
                        if (pfd[i].fd < 0 || !pfd[i].revents)
                                continue;
                        ssize_t k = read(pfd[i].fd, buf, sizeof(buf));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) {
                                close(pfd[i].fd);
                                pfd[i].fd = -1;
                                continue;
                        }
                        char *dst = i == 0 ? out : err;
                        size_t size = i == 0 ? out_size : err_size, *n = i == 0 ? &no : &ne;
                        if (dst && size > 0) {
                                size_t take = (size_t) k < size - 1 - *n ? (size_t) k : size - 1 - *n;
                                memcpy(dst + *n, buf, take);
                                *n += take;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);
        if (out && out_size)
                out[no] = 0;
        if (err && err_size)
                err[ne] = 0;
        return test_wait(pid, (int) (deadline - test_now_ms() > 0 ? deadline - test_now_ms() : 1));
}

bool test_can_switch_uid(void) {
        return geteuid() == 0;
}

int test_agent_main(Suite *(*make_suite)(void), const char *why_root) {
        if (!test_can_switch_uid()) {
                fprintf(stderr, "not root: cannot %s, skipping\n", why_root);
                return 77;
        }
        return test_config_main(make_suite);
}

int test_config_main(Suite *(*make_suite)(void)) {
        int r;

        if (test_config_root_init() < 0) {
                fprintf(stderr, "cannot create a temporary directory\n");
                return 1;
        }
        r = mbus_test_run_suite(make_suite(), CK_NORMAL);
        test_config_root_done();
        return r;
}

void test_config_broker_done(struct test_config *c, struct test_broker *b) {
        int st = test_broker_stop(b);

        if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "cat %s >&2", c->log);
                (void) !system(cmd);
        }
        test_config_remove(c);
        ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "broker did not exit cleanly: status %d", st);
}

void test_env_start(struct test_env *e, const char *const *files, const char *const *more_args) {
        const char *args[24] = { "--config-dir", NULL, "--scope", "system" };
        size_t n = 4;

        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        for (size_t i = 0; files && files[i]; i += 2)
                test_config_write(&e->c, files[i], files[i + 1]);
        args[1] = e->c.dir;
        for (size_t i = 0; more_args && more_args[i]; i++) {
                ck_assert_uint_lt(n, sizeof(args) / sizeof(args[0]) - 1);
                args[n++] = more_args[i];
        }
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, /* open_to_all= */ true), 0);
}

void test_env_done(struct test_env *e) {
        test_config_broker_done(&e->c, &e->b);
}
