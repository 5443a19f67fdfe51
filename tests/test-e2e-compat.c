/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The compat listener against hand-built original mBus frames (mbus-compat(7)): the create
 * handshake, every broker command, every server event, calls and events in both directions
 * with native peers, and what must cost only the offending connection: malformed, oversize and
 * zlib-bomb frames; and mbus-bench driving the listener (rpc-seq-compat). The real original
 * client, and mbus-bench against the original broker, run in tests/compat-original.sh.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <check.h>
#include <json-c/json.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "helpers/tool-run.h"
#include "mbus/mbus-errors.h"
#include "util/macro.h"
#include "util/test-util.h"

#define T_TYPE "org.mbus.method.tag.type"
#define T_SOURCE "org.mbus.method.tag.source"
#define T_DEST "org.mbus.method.tag.destination"
#define T_IDENT "org.mbus.method.tag.identifier"
#define T_SEQ "org.mbus.method.tag.sequence"
#define T_PAYLOAD "org.mbus.method.tag.payload"
#define T_STATUS "org.mbus.method.tag.status"
#define TYPE_COMMAND "org.mbus.method.type.command"
#define TYPE_EVENT "org.mbus.method.type.event"
#define TYPE_RESULT "org.mbus.method.type.result"
#define SERVER "org.mbus.server"
#define EV(x) "org.mbus.server.event." x

struct compat_env {
        struct test_broker broker;
        char dir[64];
        char compat[128];       /* the --listen address */
        char path[100];         /* where an original client connects: PATH:0 */
};

static void env_start(struct compat_env *e, const char *extra) {
        const char *args[6] = { "--listen", e->compat, NULL, NULL, NULL };

        snprintf(e->dir, sizeof(e->dir), "/tmp/mbus-compat-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(e->dir));
        snprintf(e->compat, sizeof(e->compat), "compat+unix:%s/compat", e->dir);
        snprintf(e->path, sizeof(e->path), "%s/compat:0", e->dir);
        if (extra) {
                args[2] = "--max-frame-size";
                args[3] = extra;
        }
        ck_assert_int_eq(test_broker_start(&e->broker, args), 0);
}

static void env_stop(struct compat_env *e) {
        ck_assert_broker_stops_cleanly(&e->broker);
        (void) rmdir(e->dir);
}

static int o_connect(const struct compat_env *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* One frame: length, then JSON text, or with zlib the uncompressed length and the stream. */
static void o_send_raw(int fd, const char *text, bool zlib) {
        uint8_t buf[65536];
        uint32_t n;
        size_t len = strlen(text), size;

        if (zlib) {
                uLongf zlen = sizeof(buf) - 8;

                ck_assert_int_eq(compress2(buf + 8, &zlen, (const Bytef *) text, len, Z_DEFAULT_COMPRESSION), Z_OK);
                n = htonl((uint32_t) zlen + 4);
                memcpy(buf, &n, 4);
                n = htonl((uint32_t) len);
                memcpy(buf + 4, &n, 4);
                size = 8 + zlen;
        } else {
                ck_assert_uint_le(len, sizeof(buf) - 4);
                n = htonl((uint32_t) len);
                memcpy(buf, &n, 4);
                memcpy(buf + 4, text, len);
                size = 4 + len;
        }
        ck_assert_int_eq(raw_send(fd, buf, size), 0);
}

static void o_command_z(int fd, const char *dest, const char *ident, int seq, const char *payload, bool zlib) {
        char text[8192];

        snprintf(text, sizeof(text), "{\"" T_TYPE "\":\"" TYPE_COMMAND "\",\"" T_DEST "\":\"%s\",\"" T_IDENT
                 "\":\"%s\",\"" T_SEQ "\":%d,\"org.mbus.method.tag.timeout\":10000,\"" T_PAYLOAD "\":%s}",
                 dest, ident, seq, payload ?: "{}");
        o_send_raw(fd, text, zlib);
}

static void o_command(int fd, const char *dest, const char *ident, int seq, const char *payload) {
        o_command_z(fd, dest, ident, seq, payload, false);
}

static int read_all(int fd, void *buf, size_t len, int timeout_ms) {
        size_t got = 0;

        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, timeout_ms) <= 0)
                        return -ETIMEDOUT;
                n = recv(fd, (char *) buf + got, len - got, 0);
                if (n <= 0)
                        return -ECONNRESET;
                got += (size_t) n;
        }
        return 0;
}

/* The next frame, or NULL on end of file / timeout. */
static json_object *o_recv(int fd, bool zlib) {
        uint32_t n;
        char *buf;
        json_object *o;

        if (read_all(fd, &n, 4, 10000) < 0)
                return NULL;
        n = ntohl(n);
        ck_assert_uint_lt(n, 1u << 24);
        buf = malloc(n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(read_all(fd, buf, n, 10000), 0);
        buf[n] = 0;
        if (zlib) {
                uint32_t u;
                uLongf ulen;
                char *out;

                memcpy(&u, buf, 4);
                ulen = ntohl(u);
                out = malloc(ulen + 1);
                ck_assert_int_eq(uncompress((Bytef *) out, &ulen, (Bytef *) buf + 4, n - 4), Z_OK);
                out[ulen] = 0;
                free(buf);
                buf = out;
        }
        o = json_tokener_parse(buf);
        ck_assert_msg(o != NULL, "not JSON: %s", buf);
        free(buf);
        return o;
}

/* Reads until the result of seq (events before it are checked against want_event if given). */
static json_object *o_result_z(int fd, int seq, bool zlib) {
        for (;;) {
                json_object *o = o_recv(fd, zlib);

                ck_assert_msg(o != NULL, "no result for sequence %d", seq);
                if (strcmp(test_json_str(o, T_TYPE), TYPE_RESULT) == 0 && test_json_int(o, T_SEQ) == seq)
                        return o;
                json_object_put(o);
        }
}

static json_object *o_result(int fd, int seq) {
        return o_result_z(fd, seq, false);
}

static int o_status(int fd, int seq) {
        json_object *o = o_result(fd, seq);
        int s = (int) test_json_int(o, T_STATUS);

        json_object_put(o);
        return s;
}

/* Reads until an event called ident arrives; returns it. */
static json_object *o_event(int fd, const char *ident) {
        for (;;) {
                json_object *o = o_recv(fd, false);

                ck_assert_msg(o != NULL, "no event %s", ident);
                if (strcmp(test_json_str(o, T_TYPE), TYPE_EVENT) == 0 && strcmp(test_json_str(o, T_IDENT), ident) == 0)
                        return o;
                json_object_put(o);
        }
}

static json_object *payload_of(json_object *o) {
        json_object *p = NULL;

        ck_assert(json_object_object_get_ex(o, T_PAYLOAD, &p));
        return p;
}

/* A client: connects and creates with identifier (NULL: none), returns the fd. */
static int o_client(const struct compat_env *e, const char *identifier, char *ret_id, size_t size) {
        char payload[512];
        json_object *o;
        int fd = o_connect(e);

        snprintf(payload, sizeof(payload), "{%s%s%s\"compressions\":[\"none\",\"zlib\"],"
                 "\"ping\":{\"interval\":5000,\"timeout\":2000,\"threshold\":2}}",
                 identifier ? "\"identifier\":\"" : "", identifier ?: "", identifier ? "\"," : "");
        o_command(fd, SERVER, "command.create", 1, payload);
        o = o_result(fd, 1);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert_str_eq(test_json_str(payload_of(o), "compression"), "none");
        if (ret_id)
                snprintf(ret_id, size, "%s", test_json_str(payload_of(o), "identifier"));
        json_object_put(o);
        return fd;
}

static bool closed_within(int fd, int timeout_ms) {
        char c[4096];

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, timeout_ms) <= 0)
                        return false;
                n = recv(fd, c, sizeof(c), 0);
                if (n <= 0)
                        return true;
        }
}

START_TEST(test_create_names_the_client_and_refuses_taken_and_server_names) {
        struct compat_env e;
        char id[128];
        json_object *o, *ping;
        int a, b, c, d;

        env_start(&e, NULL);
        a = o_client(&e, "org.example.orig-a", id, sizeof(id));
        ck_assert_str_eq(id, "org.example.orig-a");

        /* No identifier: one is made up, as the original server did. */
        b = o_connect(&e);
        o_command(b, SERVER, "command.create", 7, "{\"ping\":{\"interval\":3000,\"timeout\":9000,\"threshold\":4}}");
        o = o_result(b, 7);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert(strncmp(test_json_str(payload_of(o), "identifier"), "org.mbus.client.", 16) == 0);
        ck_assert(json_object_object_get_ex(payload_of(o), "ping", &ping));
        ck_assert_int_eq(test_json_int(ping, "interval"), 3000);
        ck_assert_int_eq(test_json_int(ping, "timeout"), 3000);   /* at most the interval */
        ck_assert_int_eq(test_json_int(ping, "threshold"), 4);
        json_object_put(o);

        /* A taken identifier fails and closes; so does the server's own name. */
        c = o_connect(&e);
        o_command(c, SERVER, "command.create", 1, "{\"identifier\":\"org.example.orig-a\"}");
        ck_assert_int_ne(o_status(c, 1), 0);
        ck_assert(closed_within(c, 10000));
        d = o_connect(&e);
        o_command(d, SERVER, "command.create", 1, "{\"identifier\":\"org.mbus.server\"}");
        ck_assert_int_eq(o_status(d, 1), -1);
        ck_assert(closed_within(d, 10000));

        /* The first two still work. */
        o_command(a, SERVER, "command.clients", 2, NULL);
        ck_assert_int_eq(o_status(a, 2), 0);
        close(a);
        close(b);
        close(c);
        close(d);
        env_stop(&e);
}
END_TEST

static bool array_has_string(json_object *a, const char *s) {
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
                        return true;
        return false;
}

START_TEST(test_broker_commands) {
        struct compat_env e;
        json_object *o, *p, *cmds;
        int a, b;
        bool found = false;

        env_start(&e, NULL);
        a = o_client(&e, "org.example.orig-a", NULL, 0);
        b = o_client(&e, "org.example.orig-b", NULL, 0);

        o_command(a, SERVER, "command.register", 2, "{\"command\":\"command.execute\"}");
        ck_assert_int_eq(o_status(a, 2), 0);
        o_command(a, SERVER, "command.register", 3, "{\"command\":\"command.execute\"}");
        ck_assert_int_eq(o_status(a, 3), -1);           /* twice */
        o_command(a, SERVER, "command.register", 4, "{\"command\":\"other\"}");
        ck_assert_int_eq(o_status(a, 4), 0);
        o_command(a, SERVER, "command.unregister", 5, "{\"command\":\"other\"}");
        ck_assert_int_eq(o_status(a, 5), 0);
        o_command(a, SERVER, "command.unregister", 6, "{\"command\":\"other\"}");
        ck_assert_int_eq(o_status(a, 6), -1);           /* not registered */
        o_command(a, SERVER, "command.subscribe", 7, "{\"source\":\"org.example.orig-b\",\"event\":\"tick\"}");
        ck_assert_int_eq(o_status(a, 7), 0);
        o_command(a, SERVER, "command.unsubscribe", 8, "{\"source\":\"org.example.orig-b\",\"event\":\"tock\"}");
        ck_assert_int_eq(o_status(a, 8), -1);           /* never subscribed */
        o_command(a, SERVER, "command.subscribe", 9, "{\"source\":\"org.example.orig-b\"}");
        ck_assert_int_eq(o_status(a, 9), -1);           /* no event */

        o_command(b, SERVER, "command.clients", 2, NULL);
        o = o_result(b, 2);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert(array_has_string(payload_of(o), "org.example.orig-a"));
        ck_assert(array_has_string(payload_of(o), "org.example.orig-b"));
        json_object_put(o);

        o_command(b, SERVER, "command.status", 3, NULL);
        o = o_result(b, 3);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        for (size_t i = 0; i < json_object_array_length(payload_of(o)); i++) {
                p = json_object_array_get_idx(payload_of(o), i);
                if (strcmp(test_json_str(p, "source"), "org.example.orig-a") != 0)
                        continue;
                ck_assert(json_object_object_get_ex(p, "commands", &cmds));
                ck_assert_int_eq(json_object_array_length(cmds), 1);
                ck_assert_str_eq(test_json_str(json_object_array_get_idx(cmds, 0), "identifier"), "command.execute");
                found = true;
        }
        ck_assert(found);
        json_object_put(o);

        o_command(b, SERVER, "command.client", 4, "{\"source\":\"org.example.orig-a\"}");
        o = o_result(b, 4);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert_str_eq(test_json_str(payload_of(o), "source"), "org.example.orig-a");
        ck_assert(json_object_object_get_ex(payload_of(o), "subscriptions", &cmds));
        ck_assert_int_eq(json_object_array_length(cmds), 1);
        json_object_put(o);
        o_command(b, SERVER, "command.client", 5, "{\"source\":\"org.example.nobody\"}");
        ck_assert_int_eq(o_status(b, 5), -1);

        /* Nobody stops the broker. */
        o_command(b, SERVER, "command.close", 6, "{\"source\":\"org.mbus.server\"}");
        ck_assert_int_eq(o_status(b, 6), -1);
        /* Closing another client is DisconnectPeer: root's by the shipped policy. */
        o_command(b, SERVER, "command.close", 7, "{\"source\":\"org.example.orig-a\"}");
        if (geteuid() == 0) {
                ck_assert_int_eq(o_status(b, 7), 0);
                ck_assert(closed_within(a, 10000));
        } else
                ck_assert_int_eq(o_status(b, 7), -EACCES);
        /* Closing oneself: the result, then the end. */
        o_command(b, SERVER, "command.close", 8, "{\"source\":\"org.example.orig-b\"}");
        ck_assert_int_eq(o_status(b, 8), 0);
        ck_assert(closed_within(b, 10000));
        /* An unknown command of the server's. */
        if (geteuid() == 0) {
                close(a);
                a = o_client(&e, "org.example.orig-a", NULL, 0);
        }
        o_command(a, SERVER, "command.bogus", 9, NULL);
        ck_assert_int_eq(o_status(a, 9), -1);
        close(a);
        close(b);
        env_stop(&e);
}
END_TEST

START_TEST(test_server_events) {
        static const struct {
                const char *command, *payload, *event, *identifier, *destination;
        } steps[] = {
                { "command.register", "{\"command\":\"do.it\"}", EV("registered"), "do.it", NULL },
                { "command.unregister", "{\"command\":\"do.it\"}", EV("unregistered"), "do.it", NULL },
                { "command.subscribe", "{\"source\":\"org.example.x\",\"event\":\"y\"}", EV("subscribed"), "y",
                  "org.example.x" },
                { "command.unsubscribe", "{\"source\":\"org.example.x\",\"event\":\"y\"}", EV("unsubscribed"), "y",
                  "org.example.x" },
        };
        struct compat_env e;
        json_object *o;
        int w, b;

        env_start(&e, NULL);
        w = o_client(&e, "org.example.watcher", NULL, 0);
        o_command(w, SERVER, "command.subscribe", 2,
                  "{\"source\":\"org.mbus.server\",\"event\":\"org.mbus.method.event.identifier.all\"}");
        ck_assert_int_eq(o_status(w, 2), 0);
        o = o_event(w, EV("subscribed"));               /* its own subscription, as the original */
        ck_assert_str_eq(test_json_str(payload_of(o), "source"), "org.example.watcher");
        json_object_put(o);

        b = o_client(&e, "org.example.orig-b", NULL, 0);
        o = o_event(w, EV("connected"));
        ck_assert_str_eq(test_json_str(o, T_SOURCE), SERVER);
        ck_assert_str_eq(test_json_str(payload_of(o), "source"), "org.example.orig-b");
        json_object_put(o);

        /* What b does, and the server event the watcher gets about it. */
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                o_command(b, SERVER, steps[i].command, (int) i + 2, steps[i].payload);
                ck_assert_int_eq(o_status(b, (int) i + 2), 0);
                o = o_event(w, steps[i].event);
                ck_assert_str_eq(test_json_str(payload_of(o), "source"), "org.example.orig-b");
                ck_assert_str_eq(test_json_str(payload_of(o), "identifier"), steps[i].identifier);
                if (steps[i].destination)
                        ck_assert_str_eq(test_json_str(payload_of(o), "destination"), steps[i].destination);
                json_object_put(o);
        }

        close(b);
        o = o_event(w, EV("disconnected"));
        ck_assert_str_eq(test_json_str(payload_of(o), "source"), "org.example.orig-b");
        json_object_put(o);

        /* ping: a pong from the server. */
        o_send_raw(w, "{\"" T_TYPE "\":\"" TYPE_EVENT "\",\"" T_DEST "\":\"org.mbus.server\",\"" T_IDENT
                      "\":\"org.mbus.server.event.ping\",\"" T_SEQ "\":9,\"" T_PAYLOAD "\":{}}", false);
        o = o_event(w, EV("pong"));
        ck_assert_str_eq(test_json_str(o, T_SOURCE), SERVER);
        json_object_put(o);
        close(w);
        env_stop(&e);
}
END_TEST

struct native_call_args {
        const char *address;
        const char *member;
        int64_t want_status;    /* 0: RETURN with {"out": 42}; else ERROR Failed with this status */
};

static int native_caller(void *userdata) {
        struct native_call_args *a = userdata;
        struct mbus_conn *conn = NULL;
        struct mbus_error err = MBUS_ERROR_NULL;
        json_object *args = json_tokener_parse("{\"in\": 1}"), *res = NULL;
        int r;

        child_assert(mbus_conn_open(&conn, a->address, "native-caller") >= 0);
        r = mbus_call(conn, "org.example.orig-a", a->member, args, 0, &res, &err);
        if (a->want_status == 0) {
                child_assert(r >= 0);
                child_assert(test_json_int(res, "out") == 42);
        } else if (a->want_status == 1) {
                child_assert(r < 0);
                child_assert(mbus_error_has_name(&err, MBUS_ERROR_UNKNOWN_PROCEDURE));
        } else {
                child_assert(r < 0);
                child_assert(mbus_error_has_name(&err, MBUS_ERROR_FAILED));
        }
        json_object_put(args);
        json_object_put(res);
        mbus_error_free(&err);
        mbus_conn_unref(conn);
        return 0;
}

START_TEST(test_calls_between_original_and_native_clients) {
        struct native_call_args args;
        struct test_service svc;
        struct compat_env e;
        json_object *o;
        char text[512];
        pid_t pid;
        int a;

        env_start(&e, NULL);
        a = o_client(&e, "org.example.orig-a", NULL, 0);
        o_command(a, SERVER, "command.register", 2, "{\"command\":\"command.execute\"}");
        ck_assert_int_eq(o_status(a, 2), 0);

        /* native -> original: the command arrives with the caller as source, its result returns. */
        args = (struct native_call_args) { e.broker.address, "command__2eexecute", 0 };
        pid = test_fork(native_caller, &args);
        o = o_recv(a, false);
        ck_assert_str_eq(test_json_str(o, T_TYPE), TYPE_COMMAND);
        ck_assert_str_eq(test_json_str(o, T_IDENT), "command.execute");
        ck_assert(strncmp(test_json_str(o, T_SOURCE), ":1.", 3) == 0);
        ck_assert_int_eq(test_json_int(payload_of(o), "in"), 1);
        snprintf(text, sizeof(text), "{\"" T_DEST "\":\"%s\",\"" T_IDENT "\":\"command.execute\",\"" T_SEQ
                 "\":%d,\"" T_STATUS "\":0,\"" T_PAYLOAD "\":{\"out\":42}}", test_json_str(o, T_SOURCE),
                 (int) test_json_int(o, T_SEQ));
        json_object_put(o);
        o_command(a, SERVER, "command.result", 3, text);
        ck_assert_int_eq(o_status(a, 3), 0);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        /* A non-zero status is a named error. */
        args.want_status = -5;
        pid = test_fork(native_caller, &args);
        o = o_recv(a, false);
        snprintf(text, sizeof(text), "{\"" T_DEST "\":\"%s\",\"" T_IDENT "\":\"command.execute\",\"" T_SEQ
                 "\":%d,\"" T_STATUS "\":-5,\"" T_PAYLOAD "\":{}}", test_json_str(o, T_SOURCE),
                 (int) test_json_int(o, T_SEQ));
        json_object_put(o);
        o_command(a, SERVER, "command.result", 4, text);
        ck_assert_int_eq(o_status(a, 4), 0);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        /* A command it did not register never reaches it. */
        args = (struct native_call_args) { e.broker.address, "nope", 1 };
        pid = test_fork(native_caller, &args);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        /* original -> native: a command is a CALL, its result the RETURN; errors keep their status. */
        ck_assert_int_eq(test_service_start(&svc, e.broker.address, "org.example.Echo"), 0);
        o_command(a, "org.example.Echo", "Echo", 5, "{\"v\":\"x\"}");
        o = o_result(a, 5);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert_str_eq(test_json_str(payload_of(o), "v"), "x");
        json_object_put(o);
        o_command(a, "org.example.Echo", "Fail", 6, NULL);
        o = o_result(a, 6);
        ck_assert_int_eq(test_json_int(o, T_STATUS), -1);       /* a name mbus does not define */
        ck_assert_str_eq(test_json_str(payload_of(o), "error"), "org.example.Error.Failed");
        json_object_put(o);
        o_command(a, "org.example.Nobody", "Echo", 7, NULL);
        ck_assert_int_eq(o_status(a, 7), -ENXIO);
        /* Original to original: b calls a's command; a's answer with a status reaches b. */
        {
                int b = o_client(&e, "org.example.orig-b", NULL, 0);

                o_command(b, "org.example.orig-a", "command.execute", 2, "{\"k\":1}");
                o = o_recv(a, false);
                ck_assert_str_eq(test_json_str(o, T_SOURCE), "org.example.orig-b");
                snprintf(text, sizeof(text), "{\"" T_DEST "\":\"org.example.orig-b\",\"" T_IDENT
                         "\":\"command.execute\",\"" T_SEQ "\":%d,\"" T_STATUS "\":3,\"" T_PAYLOAD "\":{\"w\":1}}",
                         (int) test_json_int(o, T_SEQ));
                json_object_put(o);
                o_command(a, SERVER, "command.result", 8, text);
                o = o_result(b, 2);
                ck_assert_int_eq(test_json_int(o, T_STATUS), 3);
                json_object_put(o);
                close(b);
        }
        ck_assert_int_eq(test_service_quit(&svc, e.broker.address, "org.example.Echo"), 0);
        close(a);
        env_stop(&e);
}
END_TEST

START_TEST(test_events_between_original_and_native_clients) {
        struct compat_env e;
        struct raw_frame f = {};
        json_object *o;
        int a, b, n;

        env_start(&e, NULL);
        a = o_client(&e, "org.example.orig-a", NULL, 0);
        b = o_client(&e, "org.example.orig-b", NULL, 0);
        n = raw_connect(e.broker.address);
        ck_assert_int_ge(n, 0);
        ck_assert_int_eq(raw_hello(n, "native", NULL), 0);
        ck_assert_int_eq(raw_subscribe(n, 2, "org.example.orig-a.*"), 0);
        ck_assert_int_eq(raw_register(n, 3, "org.example.Native"), 0);

        o_command(b, SERVER, "command.subscribe", 2, "{\"source\":\"org.example.orig-a\",\"event\":\"state.changed\"}");
        ck_assert_int_eq(o_status(b, 2), 0);
        o_command(b, SERVER, "command.subscribe", 3,
                  "{\"source\":\"org.mbus.method.event.source.all\",\"event\":\"Tick\"}");
        ck_assert_int_eq(o_status(b, 3), 0);

        /* QoS at-least-once: acknowledged once routed; both kinds of subscriber get it. */
        o_command(a, SERVER, "command.event", 2,
                  "{\"" T_DEST "\":\"org.mbus.method.event.destination.subscribers\",\"" T_IDENT
                  "\":\"state.changed\",\"" T_PAYLOAD "\":{\"on\":true}}");
        ck_assert_int_eq(o_status(a, 2), 0);
        o = o_event(b, "state.changed");
        ck_assert_str_eq(test_json_str(o, T_SOURCE), "org.example.orig-a");
        json_object_put(o);
        ck_assert_int_eq(raw_recv_type(n, 10000, MBUS_FRAME_EVENT, &f), 0);
        ck_assert_str_eq(f.namespace, "org.example.orig-a");
        ck_assert_str_eq(f.member, "state__2echanged");
        ck_assert_str_eq(f.body, "{\"on\":true}");
        raw_frame_done(&f);

        /* To one identifier: b alone, whatever it subscribed. */
        o_command(a, SERVER, "command.event", 3,
                  "{\"" T_DEST "\":\"org.example.orig-b\",\"" T_IDENT "\":\"just.you\",\"" T_PAYLOAD "\":{}}");
        ck_assert_int_eq(o_status(a, 3), 0);
        o = o_event(b, "just.you");
        json_object_put(o);
        o_command(a, SERVER, "command.event", 4,
                  "{\"" T_DEST "\":\"org.example.nobody\",\"" T_IDENT "\":\"x\",\"" T_PAYLOAD "\":{}}");
        ck_assert_int_eq(o_status(a, 4), -1);

        /* native -> original, matched by event name from any source. */
        ck_assert_int_eq(raw_send_simple(n, MBUS_FRAME_EVENT, 4, 0, "org.example.Native", "Tick", NULL, NULL, NULL,
                                         "{\"n\":7}"), 0);
        o = o_event(b, "Tick");
        ck_assert_str_eq(test_json_str(o, T_SOURCE), "org.example.Native");
        ck_assert_int_eq(test_json_int(payload_of(o), "n"), 7);
        json_object_put(o);

        close(n);
        close(a);
        close(b);
        env_stop(&e);
}
END_TEST

START_TEST(test_bad_frames_cost_only_their_connection) {
        static const char *const bad[] = {
                "not json",
                "[1,2]",
                "{\"" T_TYPE "\":\"" TYPE_COMMAND "\",\"" T_DEST "\":\"org.mbus.server\",\"" T_IDENT "\":\"command.create\"}",
                "{\"" T_TYPE "\":\"" TYPE_COMMAND "\",\"" T_DEST "\":\"org.mbus.server\",\"" T_IDENT
                "\":\"command.create\",\"" T_SEQ "\":1,\"" T_PAYLOAD "\":[]}",
                /* a first frame other than command.create */
                "{\"" T_TYPE "\":\"" TYPE_COMMAND "\",\"" T_DEST "\":\"org.mbus.server\",\"" T_IDENT
                "\":\"command.clients\",\"" T_SEQ "\":1,\"" T_PAYLOAD "\":{}}",
                "{\"" T_TYPE "\":\"bogus\",\"" T_DEST "\":\"x\",\"" T_IDENT "\":\"y\",\"" T_SEQ "\":1}",
        };
        struct compat_env e;
        uint8_t big[12];
        uint32_t n;
        int healthy, fd;

        env_start(&e, "65536");
        healthy = o_client(&e, "org.example.healthy", NULL, 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fd = o_connect(&e);
                o_send_raw(fd, bad[i], false);
                ck_assert_msg(closed_within(fd, 10000), "still open after %s", bad[i]);
                close(fd);
        }
        /* A malformed frame after a good start. */
        fd = o_client(&e, "org.example.bad", NULL, 0);
        o_send_raw(fd, "{\"" T_TYPE "\":1}", false);
        ck_assert(closed_within(fd, 10000));
        close(fd);

        /* Over --max-frame-size: refused from its length alone. */
        fd = o_client(&e, "org.example.big", NULL, 0);
        n = htonl(1u << 20);
        memcpy(big, &n, 4);
        memcpy(big + 4, "{\"a\":1}", 8);
        ck_assert_int_eq(raw_send(fd, big, sizeof(big)), 0);
        ck_assert(closed_within(fd, 10000));
        close(fd);

        o_command(healthy, SERVER, "command.clients", 2, NULL);
        ck_assert_int_eq(o_status(healthy, 2), 0);
        close(healthy);
        env_stop(&e);
}
END_TEST

static void zlib_client(const struct compat_env *e, int *ret_fd) {
        json_object *o;
        int fd = o_connect(e);

        /* Offering zlib alone: the broker speaks it; the create answer stays plain. */
        o_command(fd, SERVER, "command.create", 1, "{\"identifier\":\"org.example.zipped\",\"compressions\":[\"zlib\"]}");
        o = o_result(fd, 1);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert_str_eq(test_json_str(payload_of(o), "compression"), "zlib");
        json_object_put(o);
        *ret_fd = fd;
}

START_TEST(test_zlib_frames_and_bombs) {
        struct compat_env e;
        json_object *o;
        uint8_t *bomb, *z;
        uLongf zlen;
        uint32_t n;
        int fd, healthy;

        env_start(&e, "65536");
        healthy = o_client(&e, "org.example.healthy", NULL, 0);
        zlib_client(&e, &fd);
        o_command_z(fd, SERVER, "command.clients", 2, NULL, true);
        o = o_result_z(fd, 2, true);
        ck_assert_int_eq(test_json_int(o, T_STATUS), 0);
        ck_assert(array_has_string(payload_of(o), "org.example.zipped"));
        json_object_put(o);

        /* A bomb: 16 MiB of zeros stated as 100 bytes. Inflating stops at 100: closed. */
        bomb = calloc(1, 16u << 20);
        zlen = compressBound(16u << 20);
        z = malloc(8 + zlen);
        ck_assert_int_eq(compress2(z + 8, &zlen, bomb, 16u << 20, 9), Z_OK);
        n = htonl((uint32_t) zlen + 4);
        memcpy(z, &n, 4);
        n = htonl(100);
        memcpy(z + 4, &n, 4);
        ck_assert_int_eq(raw_send(fd, z, 8 + zlen), 0);
        ck_assert(closed_within(fd, 10000));
        close(fd);

        /* Stated honestly, but over --max-frame-size once inflated: refused before inflating. */
        zlib_client(&e, &fd);
        n = htonl(16u << 20);
        memcpy(z + 4, &n, 4);
        (void) raw_send(fd, z, 8 + zlen);
        ck_assert(closed_within(fd, 10000));
        close(fd);
        free(z);
        free(bomb);

        o_command(healthy, SERVER, "command.clients", 2, NULL);
        ck_assert_int_eq(o_status(healthy, 2), 0);
        close(healthy);
        env_stop(&e);
}
END_TEST

START_TEST(test_socket_passed_by_systemd_named_compat_unix) {
        struct compat_env e = {};
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fds[2], fd, r;
        pid_t pid;

        snprintf(e.dir, sizeof(e.dir), "/tmp/mbus-compat-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(e.dir));
        snprintf(e.path, sizeof(e.path), "%s/compat:0", e.dir);
        snprintf(e.broker.address, sizeof(e.broker.address), "%s/socket", e.dir);
        for (int i = 0; i < 2; i++) {
                fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(fds[i], 0);
                const char *path = i == 0 ? e.broker.address : e.path;

                ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
                memcpy(sa.sun_path, path, strlen(path) + 1);
                ck_assert_int_eq(bind(fds[i], (struct sockaddr *) &sa, sizeof(sa)), 0);
                ck_assert_int_eq(listen(fds[i], 16), 0);
        }
        /* What systemd does for a unit with two sockets named by FileDescriptorName=. */
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char pidstr[32];

                if (dup2(fds[0], 3) < 0 || dup2(fds[1], 4) < 0)
                        _exit(126);
                snprintf(pidstr, sizeof(pidstr), "%d", (int) getpid());
                setenv("LISTEN_FDS", "2", 1);
                setenv("LISTEN_PID", pidstr, 1);
                setenv("LISTEN_FDNAMES", "unix:compat+unix", 1);
                execl(getenv("MBUS_TEST_BROKER"), "mbus-broker", "--log-target", "console", "--no-broker-config",
                      (char *) NULL);
                _exit(127);
        }
        close(fds[0]);
        close(fds[1]);

        /* The original protocol on the second, mbus frames on the first. */
        fd = o_client(&e, "org.example.activated", NULL, 0);
        o_command(fd, SERVER, "command.clients", 2, NULL);
        ck_assert_int_eq(o_status(fd, 2), 0);
        close(fd);
        fd = raw_connect(e.broker.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "native", NULL), 0);
        close(fd);

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        r = test_wait(pid, 20000);
        ck_assert_int_eq(r, 0);
        unlink(e.path);
        unlink(e.broker.address);
        rmdir(e.dir);
}
END_TEST

START_TEST(test_original_client_that_never_reads_misses_events_and_costs_bounded_memory) {
        struct compat_env e;
        struct mbus_conn *pub, *watch;
        json_object *stats = NULL, *payload;
        char blob[2100];
        long rss_before, rss_after;
        int deaf;

        memset(blob, 'x', sizeof(blob) - 1);
        blob[sizeof(blob) - 1] = 0;
        payload = json_object_new_object();
        json_object_object_add(payload, "blob", json_object_new_string(blob));

        test_asan_small_quarantine();
        env_start(&e, NULL);
        deaf = o_client(&e, "org.example.deaf", NULL, 0);
        o_command(deaf, SERVER, "command.subscribe", 2,
                  "{\"source\":\"org.example.Flood\",\"event\":\"org.mbus.method.event.identifier.all\"}");
        ck_assert_int_eq(o_status(deaf, 2), 0);
        /* From here on it reads nothing. */
        pub = test_connect(e.broker.address, "flood");
        ck_assert_int_eq(mbus_register(pub, "org.example.Flood", NULL, 0, NULL, NULL, NULL), 0);
        rss_before = test_broker_rss_kb(&e.broker);
        for (int i = 0; i < 40000; i++) {
                ck_assert_int_eq(mbus_emit(pub, "org.example.Flood", "Tick", payload), 0);
                if (i % 1000 == 999)
                        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        }
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        rss_after = test_broker_rss_kb(&e.broker);
        /* 80 MB went out; the broker kept at most its queue limits of it (32 MiB default per peer). */
        ck_assert_msg(rss_after - rss_before < 64 * 1024, "broker grew from %ld to %ld KiB", rss_before, rss_after);
        watch = test_connect(e.broker.address, "watch");
        ck_assert_int_eq(mbus_call(watch, "org.mbus.Broker", "GetStats", NULL, 0, &stats, NULL), 0);
        ck_assert_int_gt(test_json_int(stats, "events_dropped"), 0);
        json_object_put(stats);
        json_object_put(payload);
        mbus_conn_unref(watch);
        mbus_conn_unref(pub);
        close(deaf);
        env_stop(&e);
}
END_TEST

START_TEST(test_shipped_policy_keeps_native_peers_off_the_server_name) {
        struct test_broker b;
        char dir[] = "/tmp/mbus-compat-conf-XXXXXX", cmd[1024];
        const char *args[] = { "--config-dir", dir, "--no-broker-config", NULL };
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/policy.d && cp %s/policy/policy.d/org.mbus.server.xml %s/policy.d/", dir,
                 getenv("MBUS_TEST_SRCDIR"), dir);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(test_broker_start(&b, args), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "squatter", NULL), 0);
        ck_assert_int_eq(raw_register(fd, 2, "org.mbus.server"), -EREMOTEIO);  /* even for root */
        if (geteuid() == 0)
                ck_assert_int_eq(raw_register(fd, 3, "org.mbus.serverx"), 0);      /* only that name */
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Runs mbus-bench with argv (after its path) and returns its JSON's results.rpc-seq-compat
 * after checking that every one of the 200 calls was answered; *ret_root keeps the JSON. */
static json_object *bench_compat_figures(const char *const *args, json_object **ret_root) {
        const char *argv[16] = { TOOL("mbus-bench") };
        json_object *tables[3], *answered;
        struct proc p;
        struct run r;
        size_t n = 1;

        for (; *args && n < ELEMENTSOF(argv) - 1; args++)
                argv[n++] = *args;
        proc_start(&p, argv);
        proc_finish(&p, &r, 50 * 1000);
        ck_assert_msg(r.status == 0, "mbus-bench failed (%d): %s", r.status, r.err);
        *ret_root = json_tokener_parse(r.out);
        ck_assert_msg(*ret_root, "mbus-bench printed no JSON: %s", r.out);
        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                json_object *t;

                ck_assert(json_object_object_get_ex(*ret_root, (const char *[]) { "results", "min", "max" }[i], &t));
                ck_assert_msg(json_object_object_get_ex(t, "rpc-seq-compat", &tables[i]), "no rpc-seq-compat: %s", r.out);
                ck_assert(json_object_object_get_ex(tables[i], "answered", &answered));
                ck_assert_int_eq(json_object_get_int64(answered), 200);
        }
        return tables[0];
}

static double figure(json_object *scenario, const char *name) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(scenario, name, &v), "no figure %s", name);
        return json_object_get_double(v);
}

START_TEST(test_mbus_bench_calls_through_the_compat_listener_beside_native) {
        json_object *root, *f;

        f = bench_compat_figures((const char *[]) { "--broker", getenv("MBUS_TEST_BROKER"), "-s", "rpc-seq-compat",
                                                    "--calls", "200", "--json", NULL }, &root);
        ck_assert(figure(f, "calls_per_sec") > 0);
        ck_assert(figure(f, "p50_usec") > 0);
        ck_assert(figure(f, "native_calls_per_sec") > 0);
        ck_assert(figure(f, "native_p50_usec") > 0);
        ck_assert_double_eq_tol(figure(f, "p50_vs_native"), figure(f, "p50_usec") / figure(f, "native_p50_usec"), 0.01);
        ck_assert(figure(f, "broker_cpu_usec_per_call") > 0);
        json_object_put(root);
}
END_TEST

START_TEST(test_mbus_bench_takes_the_compat_listener_of_a_running_broker) {
        struct compat_env e;
        json_object *root, *f;
        struct run r;

        env_start(&e, NULL);
        f = bench_compat_figures((const char *[]) { "--address", e.compat, "--address", e.broker.address, "-s",
                                                    "rpc-seq-compat", "--calls", "200", "--json", NULL }, &root);
        ck_assert(figure(f, "calls_per_sec") > 0);
        ck_assert(figure(f, "native_calls_per_sec") > 0);
        json_object_put(root);

        /* without the compat listener's address it says what is missing */
        run_tool(&r, (const char *[]) { TOOL("mbus-bench"), "--address", e.broker.address, "--transport", "compat",
                                        NULL });
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, "--address compat+unix:PATH"), "%s", r.err);
        env_stop(&e);
}
END_TEST

static Suite *compat_suite(void) {
        Suite *s = suite_create("e2e-compat");
        TCase *tc = tcase_create("compat");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_create_names_the_client_and_refuses_taken_and_server_names);
        tcase_add_test(tc, test_broker_commands);
        tcase_add_test(tc, test_server_events);
        tcase_add_test(tc, test_calls_between_original_and_native_clients);
        tcase_add_test(tc, test_events_between_original_and_native_clients);
        tcase_add_test(tc, test_bad_frames_cost_only_their_connection);
        tcase_add_test(tc, test_zlib_frames_and_bombs);
        tcase_add_test(tc, test_socket_passed_by_systemd_named_compat_unix);
        tcase_add_test(tc, test_shipped_policy_keeps_native_peers_off_the_server_name);
        tcase_add_test(tc, test_original_client_that_never_reads_misses_events_and_costs_bounded_memory);
        tcase_add_test(tc, test_mbus_bench_calls_through_the_compat_listener_beside_native);
        tcase_add_test(tc, test_mbus_bench_takes_the_compat_listener_of_a_running_broker);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(compat_suite)
