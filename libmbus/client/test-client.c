/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmbus against a real mbus-broker ($MBUS_TEST_BROKER) on a socket in a mkdtemp()
 * directory, started and stopped by tests/helpers/broker-util: services run in forked children,
 * callers in the test process. Each test stops its broker with SIGTERM and asserts it exited 0,
 * so the broker's sanitizer findings count.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>
#include <mbus/mbus.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.test.Svc"
#define PUB_NS "org.test.Pub"

/* Under LeakSanitizer, a child checks itself for leaks before _exit() (exit code 23 if any). */
extern void __lsan_do_leak_check(void) __attribute__((__weak__));

static void child_exit(int code) {
        if (code == 0 && __lsan_do_leak_check)
                __lsan_do_leak_check();
        _exit(code);
}

/* Runs the connection until cond becomes true (or 10 s pass). */
static void run_until(struct mbus_conn *conn, const int *counter, int target) {
        time_t end = time(NULL) + 10;

        while (*counter < target) {
                int r = mbus_conn_process(conn);

                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;
                ck_assert_int_lt(time(NULL), end);
                ck_assert_int_ge(mbus_conn_wait(conn, 100 * 1000), 0);
        }
}

/* Processes everything already received, without waiting. */
static void drain(struct mbus_conn *conn) {
        int r;

        while ((r = mbus_conn_process(conn)) > 0)
                ;
        ck_assert_int_eq(r, 0);
}

/* ---- the service, run in a child ------------------------------------------------------------ */

struct svc {
        struct mbus_request *held[16];
        size_t n_held;
        bool drop;                      /* the next held request is dropped without a reply */
        bool drop_flags[16];
};

static int svc_echo(struct mbus_request *req, json_object *args, void *userdata) {
        return mbus_request_reply(req, args);
}

static int svc_empty(struct mbus_request *req, json_object *args, void *userdata) {
        return 0;
}

static int svc_fail(struct mbus_request *req, json_object *args, void *userdata) {
        return -EACCES;
}

static int svc_reply_then_fail(struct mbus_request *req, json_object *args, void *userdata) {
        json_object *o = json_object_new_object();
        int r;

        json_object_object_add(o, "ok", json_object_new_boolean(true));
        r = mbus_request_reply(req, o);
        json_object_put(o);
        if (r < 0)
                return r;
        /* A second answer is refused, and the failure returned below changes nothing. */
        if (mbus_request_reply(req, NULL) != -EALREADY)
                return -EPROTO;
        return -EINVAL;
}

static int svc_custom_error(struct mbus_request *req, json_object *args, void *userdata) {
        if (mbus_request_reply_error(req, "not a valid name", "x") != -EINVAL)
                return -EPROTO;
        return mbus_request_reply_error(req, "org.example.Error.Busy", "busy %d", 42);
}

static int svc_hold(struct mbus_request *req, json_object *args, void *userdata) {
        struct svc *s = userdata;

        if (s->n_held >= 16)
                return -ENOBUFS;
        s->drop_flags[s->n_held] = false;
        s->held[s->n_held++] = mbus_request_ref(req);
        return 0;       /* holds a reference: no automatic reply */
}

static int svc_hold_drop(struct mbus_request *req, json_object *args, void *userdata) {
        struct svc *s = userdata;
        int r = svc_hold(req, args, userdata);

        if (r >= 0)
                s->drop_flags[s->n_held - 1] = true;
        return r;
}

static int svc_release(struct mbus_request *req, json_object *args, void *userdata) {
        struct svc *s = userdata;

        for (size_t i = 0; i < s->n_held; i++) {
                if (!s->drop_flags[i]) {
                        json_object *o = json_object_new_object();

                        json_object_object_add(o, "deferred", json_object_new_boolean(true));
                        (void) mbus_request_reply(s->held[i], o);
                        json_object_put(o);
                }
                mbus_request_unref(s->held[i]);
        }
        s->n_held = 0;
        return 0;
}

static int svc_whoami(struct mbus_request *req, json_object *args, void *userdata) {
        json_object *o = json_object_new_object();
        int r;

        json_object_object_add(o, "ns", json_object_new_string(mbus_request_get_namespace(req)));
        json_object_object_add(o, "procedure", json_object_new_string(mbus_request_get_procedure(req)));
        json_object_object_add(o, "sender", json_object_new_string(mbus_request_get_sender(req)));
        r = mbus_request_reply(req, o);
        json_object_put(o);
        return r;
}

static int svc_quit(struct mbus_request *req, json_object *args, void *userdata) {
        mbus_conn_exit(mbus_request_get_conn(req), 0);
        return 0;
}

static const struct mbus_procedure svc_procedures[] = {
        { "Echo", svc_echo },
        { "Empty", svc_empty },
        { "Fail", svc_fail },
        { "ReplyThenFail", svc_reply_then_fail },
        { "CustomError", svc_custom_error },
        { "Hold", svc_hold },
        { "HoldDrop", svc_hold_drop },
        { "Release", svc_release },
        { "WhoAmI", svc_whoami },
        { "Quit", svc_quit },
};

static pid_t service_spawn(const char *address) {
        int p[2];
        pid_t pid;
        char c;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static const char *const events[] = { "Changed", NULL };
                struct mbus_conn *conn = NULL;
                struct svc s = {};
                int r;

                close(p[0]);
                if (mbus_conn_open(&conn, address, "test-service") < 0)
                        _exit(10);
                if (mbus_register(conn, NS, svc_procedures, sizeof(svc_procedures) / sizeof(svc_procedures[0]),
                                  events, &s, NULL) < 0)
                        _exit(11);
                if (write(p[1], "x", 1) != 1)
                        _exit(12);
                close(p[1]);
                r = mbus_conn_run(conn);
                for (size_t i = 0; i < s.n_held; i++)
                        mbus_request_unref(s.held[i]);
                mbus_conn_unref(conn);
                child_exit(r == 0 ? 0 : 13);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void service_quit(struct mbus_conn *conn, pid_t pid) {
        ck_assert_int_eq(mbus_call(conn, NS, "Quit", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(test_wait(pid, 20000), 0);
}

static json_object *json_int_object(const char *key, int v) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, key, json_object_new_int(v));
        return o;
}

static int json_int_member(json_object *o, const char *key) {
        json_object *v;

        ck_assert(json_object_object_get_ex(o, key, &v));
        return json_object_get_int(v);
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_sync_call_round_trip) {
        struct mbus_error e = MBUS_ERROR_NULL;
        struct mbus_conn *conn = NULL;
        json_object *args, *result = NULL;
        struct test_broker b;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_spawn(b.address);

        ck_assert_int_eq(mbus_conn_open(&conn, b.address, "test-client"), 0);
        ck_assert(mbus_conn_is_open(conn));
        ck_assert_int_eq(strncmp(mbus_conn_get_unique_id(conn), ":1.", 3), 0);

        args = json_int_object("x", 7);
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", args, 0, &result, &e), 0);
        ck_assert(!mbus_error_is_set(&e));
        ck_assert_int_eq(json_int_member(result, "x"), 7);
        json_object_put(result);
        json_object_put(args);

        ck_assert_int_eq(mbus_call(conn, NS, "WhoAmI", NULL, 0, &result, &e), 0);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(result, "sender")),
                         mbus_conn_get_unique_id(conn));
        ck_assert_str_eq(json_object_get_string(json_object_object_get(result, "procedure")), "WhoAmI");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(result, "ns")), NS);
        json_object_put(result);

        ck_assert_int_eq(mbus_call(conn, NS, "NoSuchThing", NULL, 0, NULL, &e), -EOPNOTSUPP);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_UNKNOWN_PROCEDURE));
        mbus_error_free(&e);

        ck_assert_int_eq(mbus_call(conn, "org.test.Nobody", "Echo", NULL, 0, NULL, &e), -ENXIO);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_NO_SUCH_NAMESPACE));
        mbus_error_free(&e);

        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "Ping", NULL, 0, NULL, &e), 0);
        ck_assert_int_eq(mbus_ping(conn, 0), 0);

        /* Bad arguments never reach the wire. */
        ck_assert_int_eq(mbus_call(conn, "notanamespace", "Echo", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(mbus_call(conn, NS, "Not-A-Member", NULL, 0, NULL, NULL), -EINVAL);
        ck_assert_int_eq(mbus_call(NULL, NS, "Echo", NULL, 0, NULL, NULL), -EINVAL);

        /* A second owner is refused. */
        ck_assert_int_eq(mbus_register(conn, NS, svc_procedures, 1, NULL, NULL, &e), -EEXIST);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_NAMESPACE_TAKEN));
        mbus_error_free(&e);

        service_quit(conn, svc);
        conn = mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

struct order {
        int next;
        int done;
        int errors;
        int cancelled_ran;
};

static int on_ordered_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                            void *userdata) {
        struct order *o = userdata;

        ck_assert_ptr_null(error);
        ck_assert_int_eq(json_int_member(result, "seq"), o->next);
        o->next++;
        o->done++;
        return 0;
}

static int on_cancelled_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                              void *userdata) {
        struct order *o = userdata;

        o->cancelled_ran++;
        return 0;
}

struct outcome {
        int n;
        int error;
        char name[128];
        json_object *result;
};

static int on_outcome(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                      void *userdata) {
        struct outcome *out = userdata;

        out->n++;
        if (error) {
                ck_assert_ptr_null(result);
                out->error = mbus_error_name_to_errno(error->name);
                snprintf(out->name, sizeof(out->name), "%s", error->name);
        } else
                out->result = result ? json_object_get(result) : NULL;
        return 0;
}

START_TEST(test_async_calls_complete_in_order) {
        struct mbus_conn *conn = NULL, *other = NULL;
        struct mbus_slot *cancel = NULL;
        struct outcome timeout = {}, disc = {}, deferred = {};
        struct order o = {};
        struct test_broker b;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_spawn(b.address);
        ck_assert_int_eq(mbus_conn_open(&conn, b.address, NULL), 0);

        for (int i = 0; i < 50; i++) {
                json_object *args = json_int_object("seq", i);

                if (i == 25) {
                        /* Cancelled before its reply: its handler never runs. */
                        ck_assert_int_eq(mbus_call_async(conn, NS, "Echo", args, 0, on_cancelled_reply, &o,
                                                         &cancel), 0);
                        cancel = mbus_slot_free(cancel);
                }
                ck_assert_int_eq(mbus_call_async(conn, NS, "Echo", args, 0, on_ordered_reply, &o, NULL), 0);
                json_object_put(args);
        }
        run_until(conn, &o.done, 50);
        ck_assert_int_eq(o.cancelled_ran, 0);

        /* A call nobody answers completes once, with Timeout, by the local deadline. */
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hold", NULL, 200 * 1000, on_outcome, &timeout, NULL), 0);
        run_until(conn, &timeout.n, 1);
        ck_assert_int_eq(timeout.error, -ETIMEDOUT);
        ck_assert_str_eq(timeout.name, MBUS_ERROR_TIMEOUT);

        /* A synchronous call keeps the frames that arrive meanwhile for process(). */
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hold", NULL, 0, on_outcome, &deferred, NULL), 0);
        ck_assert_int_eq(mbus_call(conn, NS, "Release", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(deferred.n, 0);
        drain(conn);
        ck_assert_int_eq(deferred.n, 1);
        ck_assert(json_object_get_boolean(json_object_object_get(deferred.result, "deferred")));
        json_object_put(deferred.result);

        /* The last unref completes what is pending with Disconnected. */
        ck_assert_int_eq(mbus_conn_open(&other, b.address, NULL), 0);
        ck_assert_int_eq(mbus_call_async(other, NS, "Hold", NULL, 0, on_outcome, &disc, NULL), 0);
        ck_assert_int_eq(mbus_conn_flush(other), 0);
        other = mbus_conn_unref(other);
        ck_assert_int_eq(disc.n, 1);
        ck_assert_int_eq(disc.error, -ENOTCONN);
        ck_assert_str_eq(disc.name, MBUS_ERROR_DISCONNECTED);

        ck_assert_int_eq(mbus_call(conn, NS, "Release", NULL, 0, NULL, NULL), 0);
        service_quit(conn, svc);
        conn = mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

struct hits {
        int n;
        int direct;
        char sender[32];
        int payload_n;
        struct mbus_slot **self;        /* freed by the handler, if set */
        struct mbus_slot **other;       /* freed by the handler, if set */
};

static int on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct hits *h = userdata;
        json_object *v;

        h->n++;
        h->direct += ev->direct;
        snprintf(h->sender, sizeof(h->sender), "%s", ev->sender ? ev->sender : "");
        if (ev->payload && json_object_object_get_ex(ev->payload, "n", &v))
                h->payload_n = json_object_get_int(v);
        if (h->self)
                *h->self = mbus_slot_free(*h->self);
        if (h->other)
                *h->other = mbus_slot_free(*h->other);
        return 0;
}

static void publisher_open(struct test_broker *b, struct mbus_conn **ret) {
        static const char *const events[] = { "Changed", "Other", NULL };

        ck_assert_int_eq(mbus_conn_open(ret, b->address, "test-publisher"), 0);
        ck_assert_int_eq(mbus_register(*ret, PUB_NS, NULL, 0, events, NULL, NULL), 0);
}

static void emit_n(struct mbus_conn *pub, const char *event, int n) {
        json_object *p = json_int_object("n", n);

        ck_assert_int_eq(mbus_emit(pub, PUB_NS, event, p), 0);
        json_object_put(p);
}

struct raw_hits {
        int n;
        char body[64];
        size_t body_len;
        int order;                      /* value of *clock when the handler ran */
        int *clock;
};

static int on_raw_event(struct mbus_conn *conn, const struct mbus_event_raw *ev, void *userdata) {
        struct raw_hits *h = userdata;

        h->n++;
        h->body_len = ev->body_len;
        snprintf(h->body, sizeof(h->body), "%s", ev->body);
        h->order = ++*h->clock;
        return 0;
}

static int on_event_ordered(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct raw_hits *h = userdata;

        h->n++;
        h->order = ++*h->clock;
        return 0;
}

/* Raw handlers get the payload's bytes as sent, also bytes that are not JSON, which
 * json_object handlers never see; both kinds run in subscription order. */
START_TEST(test_raw_subscription_gets_payload_bytes) {
        struct mbus_conn *sub = NULL;
        struct mbus_slot *s_raw = NULL, *s_json = NULL;
        int clock = 0, fd;
        struct raw_hits raw = { .clock = &clock }, json = { .clock = &clock };
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "raw-publisher", NULL), 0);
        ck_assert_int_eq(raw_register(fd, 2, PUB_NS), 0);

        ck_assert_int_eq(mbus_conn_open(&sub, b.address, "test-subscriber"), 0);
        ck_assert_int_eq(mbus_subscribe_raw(sub, PUB_NS ".*", NULL, NULL, &s_raw, NULL), -EINVAL);
        ck_assert_int_eq(mbus_subscribe_raw(sub, PUB_NS ".*", on_raw_event, &raw, &s_raw, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".Changed", on_event_ordered, &json, &s_json, NULL), 0);

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 3, 0, PUB_NS, "Changed", NULL, NULL, NULL,
                                         "{\"n\": 5}"), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 4, 0, PUB_NS, "Changed", NULL, NULL, NULL,
                                         "not JSON"), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 5, 0, PUB_NS, "Empty", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 6, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        {
                struct raw_frame f = {};

                ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_PONG, &f), 0);     /* all routed */
                raw_frame_done(&f);
        }
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);

        ck_assert_int_eq(raw.n, 3);
        ck_assert_int_eq(json.n, 1);                    /* "not JSON" is not for it */
        ck_assert_str_eq(raw.body, "");                 /* the last one had no payload */
        ck_assert_uint_eq(raw.body_len, 0);
        mbus_slot_free(s_json);
        s_json = NULL;

        /* The first event, again, to see the bytes and the order of the two handlers. */
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".Changed", on_event_ordered, &json, &s_json, NULL), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_EVENT, 7, 0, PUB_NS, "Changed", NULL, NULL, NULL,
                                         "{\"n\": 5}"), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_PING, 8, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        {
                struct raw_frame f = {};

                ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_PONG, &f), 0);
                raw_frame_done(&f);
        }
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);
        ck_assert_int_eq(raw.n, 4);
        ck_assert_int_eq(json.n, 2);
        ck_assert_str_eq(raw.body, "{\"n\": 5}");
        ck_assert_uint_eq(raw.body_len, strlen("{\"n\": 5}"));
        ck_assert_int_lt(raw.order, json.order);        /* subscribed first, runs first */

        mbus_slot_free(s_raw);
        mbus_slot_free(s_json);
        mbus_conn_unref(sub);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_subscription_dispatch_two_patterns) {
        struct mbus_conn *pub = NULL, *sub = NULL;
        struct mbus_slot *s_wild = NULL, *s_exact = NULL, *s_none = NULL, *s_dup = NULL;
        struct hits wild = {}, exact = {}, none = {}, dup = {};
        struct mbus_error e = MBUS_ERROR_NULL;
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        publisher_open(&b, &pub);
        ck_assert_int_eq(mbus_conn_open(&sub, b.address, "test-subscriber"), 0);

        ck_assert_int_eq(mbus_subscribe(sub, "org.test.*", on_event, &wild, &s_wild, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".Changed", on_event, &exact, &s_exact, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub, "org.other.*", on_event, &none, &s_none, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub, "org.*x", on_event, &none, &s_dup, NULL), -EINVAL);

        emit_n(pub, "Changed", 1);
        emit_n(pub, "Other", 2);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);         /* the broker has routed both */
        ck_assert_int_eq(mbus_ping(sub, 0), 0);         /* and sub has read them */
        drain(sub);

        ck_assert_int_eq(wild.n, 2);
        ck_assert_int_eq(exact.n, 1);
        ck_assert_int_eq(none.n, 0);
        ck_assert_int_eq(exact.payload_n, 1);
        ck_assert_int_eq(wild.payload_n, 2);
        ck_assert_str_eq(exact.sender, mbus_conn_get_unique_id(pub));
        ck_assert_int_eq(wild.direct + exact.direct, 0);

        /* A direct event reaches every handler whose pattern matches it. */
        ck_assert_int_eq(mbus_emit_to(pub, mbus_conn_get_unique_id(sub), PUB_NS, "Changed", NULL), 0);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);
        ck_assert_int_eq(wild.n, 3);
        ck_assert_int_eq(exact.n, 2);
        ck_assert_int_eq(wild.direct, 1);
        ck_assert_int_eq(exact.direct, 1);

        /* Two slots on one pattern: each runs; freeing one keeps the other subscribed. */
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".Changed", on_event, &dup, &s_dup, NULL), 0);
        s_exact = mbus_slot_free(s_exact);
        emit_n(pub, "Changed", 3);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);
        ck_assert_int_eq(dup.n, 1);
        ck_assert_int_eq(exact.n, 2);
        ck_assert_int_eq(wild.n, 4);

        /* Unsubscribed for good: nothing more arrives. */
        s_dup = mbus_slot_free(s_dup);
        s_wild = mbus_slot_free(s_wild);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);         /* the UNSUBSCRIBEs are through */
        emit_n(pub, "Changed", 4);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);
        ck_assert_int_eq(dup.n, 1);
        ck_assert_int_eq(wild.n, 4);

        /* Emitting under a namespace we do not own is refused by the broker, quietly. */
        ck_assert_int_eq(mbus_emit(sub, "org.test.NotMine", "Changed", NULL), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);
        ck_assert(mbus_conn_is_open(sub));

        /* Only the owner may give a namespace up; after that calls find nobody. */
        ck_assert_int_eq(mbus_unregister(sub, PUB_NS, &e), -EPERM);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_NOT_OWNER));
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_unregister(pub, PUB_NS, NULL), 0);
        ck_assert_int_eq(mbus_call(sub, PUB_NS, "Anything", NULL, 0, NULL, NULL), -ENXIO);

        s_none = mbus_slot_free(s_none);
        sub = mbus_conn_unref(sub);
        pub = mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static int on_reply_free_self(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                              void *userdata) {
        struct mbus_slot **slot = userdata;

        ck_assert_ptr_null(error);
        *slot = mbus_slot_free(*slot);
        return 0;
}

/* mbus_emit_wait() hears what mbus_emit() cannot: the broker's refusal of the event. */
START_TEST(test_emit_wait_reports_the_brokers_refusal) {
        struct mbus_conn *pub = NULL, *sub = NULL;
        struct mbus_slot *slot = NULL;
        struct mbus_error e = MBUS_ERROR_NULL;
        struct hits h = {};
        json_object *p = json_int_object("n", 7);
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        publisher_open(&b, &pub);
        ck_assert_int_eq(mbus_conn_open(&sub, b.address, "test-subscriber"), 0);
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".*", on_event, &h, &slot, NULL), 0);

        /* Routed: 0, the error untouched, and the subscriber has it queued. */
        ck_assert_int_eq(mbus_emit_wait(pub, NULL, PUB_NS, "Changed", p, 0, &e), 0);
        ck_assert(!mbus_error_is_set(&e));
        ck_assert_int_eq(mbus_emit_wait(pub, mbus_conn_get_unique_id(sub), PUB_NS, "Other", NULL,
                                        MBUS_TIMEOUT_INFINITY, &e), 0);
        ck_assert(!mbus_error_is_set(&e));

        /* Refused: not the owner. The events that arrived while sub waited are kept for it. */
        ck_assert_int_eq(mbus_emit_wait(sub, NULL, "org.test.NotMine", "Changed", NULL, 0, &e), -EPERM);
        ck_assert_str_eq(e.name, MBUS_ERROR_NOT_OWNER);
        ck_assert_ptr_nonnull(e.message);
        ck_assert_ptr_nonnull(strstr(e.message, "org.test.NotMine"));
        mbus_error_free(&e);
        ck_assert_int_eq(h.n, 0);
        drain(sub);
        ck_assert_int_eq(h.n, 2);
        ck_assert_int_eq(h.payload_n, 7);
        ck_assert_int_eq(h.direct, 1);
        ck_assert(mbus_conn_is_open(sub));

        /* Refused: a direct event to nobody. */
        ck_assert_int_eq(mbus_emit_wait(pub, ":1.4242", PUB_NS, "Changed", NULL, 0, &e), -ESRCH);
        ck_assert_str_eq(e.name, MBUS_ERROR_NO_SUCH_PEER);
        mbus_error_free(&e);

        /* Bad arguments: nothing sent, no error filled in. */
        ck_assert_int_eq(mbus_emit_wait(pub, NULL, "not a namespace", "Changed", NULL, 0, &e), -EINVAL);
        ck_assert_int_eq(mbus_emit_wait(pub, "nobody", PUB_NS, "Changed", NULL, 0, &e), -EINVAL);
        ck_assert_int_eq(mbus_emit_wait(NULL, NULL, PUB_NS, "Changed", NULL, 0, &e), -EINVAL);
        ck_assert(!mbus_error_is_set(&e));

        /* Only the broker takes a namespace away: a peer's look-alike event changes nothing. */
        json_object *lost = json_object_new_object();
        json_object_object_add(lost, "namespace", json_object_new_string(PUB_NS));
        ck_assert_int_eq(mbus_emit_wait(pub, mbus_conn_get_unique_id(pub), PUB_NS, "NamespaceLost",
                                        lost, 0, NULL), 0);
        json_object_put(lost);
        drain(pub);
        ck_assert_int_eq(mbus_register(pub, PUB_NS, NULL, 0, NULL, NULL, &e), -EEXIST);
        ck_assert_str_eq(e.name, MBUS_ERROR_NAMESPACE_TAKEN);
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_emit_wait(pub, NULL, PUB_NS, "Changed", NULL, 0, NULL), 0);

        json_object_put(p);
        slot = mbus_slot_free(slot);
        sub = mbus_conn_unref(sub);
        pub = mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_register_with_interface_checks_what_it_declares) {
        static const struct mbus_procedure procs[] = { { "Add", svc_echo }, { "Echo", svc_echo } };
        static const struct mbus_arg_decl ints[] = { { "a", "int", false }, { "b", "int", true }, { NULL, NULL, false } };
        static const struct mbus_arg_decl no_type[] = { { "a", NULL, false }, { NULL, NULL, false } };
        static const struct mbus_arg_decl bad_type[] = { { "a", "integer", false }, { NULL, NULL, false } };
        static const struct mbus_arg_decl sum[] = { { "sum", "int", false }, { NULL, NULL, false } };
        static const struct mbus_member_decl add[] = { { "Add", NULL, ints, NULL }, { NULL, NULL, NULL, NULL } };
        static const struct mbus_member_decl unserved[] = { { "Sub", NULL, ints, NULL }, { NULL, NULL, NULL, NULL } };
        static const struct mbus_member_decl twice[] = {
                { "Add", NULL, ints, NULL }, { "Add", NULL, NULL, NULL }, { NULL, NULL, NULL, NULL } };
        static const struct mbus_member_decl untyped_arg[] = { { "Add", NULL, no_type, NULL }, { NULL, NULL, NULL, NULL } };
        static const struct mbus_member_decl badly_typed[] = { { "Add", NULL, bad_type, NULL }, { NULL, NULL, NULL, NULL } };
        static const struct mbus_member_decl added[] = { { "Added", NULL, sum, NULL }, { NULL, NULL, NULL, NULL } };
        const struct mbus_interface refused[] = {
                { .procedures = unserved }, { .procedures = twice }, { .procedures = untyped_arg },
                { .events = (const struct mbus_member_decl[]) { { "Bad", NULL, NULL, sum }, { NULL, NULL, NULL, NULL } } },
        };
        const struct mbus_interface good = { .doc = "Sums.", .procedures = add, .events = added };
        const struct mbus_interface bad = { .procedures = badly_typed };
        struct mbus_conn *svc = NULL, *caller = NULL;
        struct mbus_error e = MBUS_ERROR_NULL;
        json_object *args = json_int_object("a", 1);
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(mbus_conn_open(&svc, b.address, "test-typed"), 0);
        ck_assert_int_eq(mbus_conn_open(&caller, b.address, "test-caller"), 0);

        /* Refused before anything is sent: nothing registered, no error filled. */
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                ck_assert_msg(mbus_register_with_interface(svc, PUB_NS, procs, 2, &refused[i], NULL, &e) == -EINVAL,
                              "declaration %zu accepted", i);
        ck_assert(!mbus_error_is_set(&e));

        /* The type grammar is the broker's: it names what it refuses. */
        ck_assert_int_eq(mbus_register_with_interface(svc, PUB_NS, procs, 2, &bad, NULL, &e), -EINVAL);
        ck_assert_str_eq(e.name, MBUS_ERROR_INVALID_ARGS);
        ck_assert_msg(strstr(e.message, "invalid type 'integer' for argument 'a'"), "%s", e.message);
        mbus_error_free(&e);

        ck_assert_int_eq(mbus_register_with_interface(svc, PUB_NS, procs, 2, &good, NULL, &e), 0);
        /* A call that does not fit is answered by the broker (the service is not even dispatched). */
        json_object_object_add(args, "a", json_object_new_string("one"));
        ck_assert_int_eq(mbus_call(caller, PUB_NS, "Add", args, 0, NULL, &e), -EINVAL);
        ck_assert_str_eq(e.name, MBUS_ERROR_INVALID_ARGS);
        ck_assert_msg(strstr(e.message, "argument 'a': expected int, got string"), "%s", e.message);
        mbus_error_free(&e);
        /* So is an event of a declared type, emitted by the owner itself. */
        ck_assert_int_eq(mbus_emit_wait(svc, NULL, PUB_NS, "Added", args, 0, &e), -EINVAL);
        ck_assert_str_eq(e.name, MBUS_ERROR_INVALID_ARGS);
        mbus_error_free(&e);
        json_object_put(args);
        args = json_int_object("sum", 3);
        ck_assert_int_eq(mbus_emit_wait(svc, NULL, PUB_NS, "Added", args, 0, &e), 0);

        json_object_put(args);
        caller = mbus_conn_unref(caller);
        svc = mbus_conn_unref(svc);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_slot_free_inside_callback) {
        struct mbus_conn *pub = NULL, *sub = NULL;
        struct mbus_slot *s1 = NULL, *s2 = NULL, *s3 = NULL, *call = NULL;
        struct hits h1 = {}, h2 = {}, h3 = {};
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        publisher_open(&b, &pub);
        ck_assert_int_eq(mbus_conn_open(&sub, b.address, NULL), 0);

        /* h1 frees its own slot and h2's, before h2's turn in the same dispatch. */
        h1.self = &s1;
        h1.other = &s2;
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".*", on_event, &h1, &s1, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub, "*", on_event, &h2, &s2, NULL), 0);
        /* h3 frees only its own slot. */
        h3.self = &s3;
        ck_assert_int_eq(mbus_subscribe(sub, PUB_NS ".Changed", on_event, &h3, &s3, NULL), 0);

        emit_n(pub, "Changed", 1);
        emit_n(pub, "Changed", 2);
        ck_assert_int_eq(mbus_ping(pub, 0), 0);
        ck_assert_int_eq(mbus_ping(sub, 0), 0);
        drain(sub);

        ck_assert_int_eq(h1.n, 1);
        ck_assert_int_eq(h2.n, 0);
        ck_assert_int_eq(h3.n, 1);
        ck_assert_ptr_null(s1);
        ck_assert_ptr_null(s2);
        ck_assert_ptr_null(s3);

        /* An async call's handler frees its own slot. */
        ck_assert_int_eq(mbus_call_async(sub, MBUS_BROKER_NAMESPACE, "Ping", NULL, 0, on_reply_free_self, &call,
                                         &call), 0);
        ck_assert_ptr_nonnull(call);
        {
                time_t end = time(NULL) + 10;

                while (call) {
                        ck_assert_int_ge(mbus_conn_process(sub), 0);
                        ck_assert_int_ge(mbus_conn_wait(sub, 100 * 1000), 0);
                        ck_assert_int_lt(time(NULL), end);
                }
        }

        sub = mbus_conn_unref(sub);
        pub = mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_auto_reply_rules) {
        struct mbus_error e = MBUS_ERROR_NULL;
        struct mbus_conn *conn = NULL;
        struct outcome held = {}, dropped = {};
        json_object *result = NULL;
        struct test_broker b;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_spawn(b.address);
        ck_assert_int_eq(mbus_conn_open(&conn, b.address, NULL), 0);

        /* Returned >= 0 without replying or holding a reference: {}. */
        ck_assert_int_eq(mbus_call(conn, NS, "Empty", NULL, 0, &result, &e), 0);
        ck_assert(json_object_is_type(result, json_type_object));
        ck_assert_int_eq(json_object_object_length(result), 0);
        json_object_put(result);

        /* Returned a negative errno without replying: its error name. */
        ck_assert_int_eq(mbus_call(conn, NS, "Fail", NULL, 0, NULL, &e), -EACCES);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_ACCESS_DENIED));
        mbus_error_free(&e);

        /* Replied, then failed: the reply stands. */
        ck_assert_int_eq(mbus_call(conn, NS, "ReplyThenFail", NULL, 0, &result, &e), 0);
        ck_assert(json_object_get_boolean(json_object_object_get(result, "ok")));
        json_object_put(result);

        /* A service's own error name: -EREMOTEIO, name and message passed on. */
        ck_assert_int_eq(mbus_call(conn, NS, "CustomError", NULL, 0, NULL, &e), -EREMOTEIO);
        ck_assert(mbus_error_has_name(&e, "org.example.Error.Busy"));
        ck_assert_str_eq(e.message, "busy 42");
        mbus_error_free(&e);

        /* Nobody answers in time: -ETIMEDOUT. */
        ck_assert_int_eq(mbus_call(conn, NS, "Hold", NULL, 100 * 1000, NULL, &e), -ETIMEDOUT);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_TIMEOUT));
        mbus_error_free(&e);
        ck_assert_int_eq(mbus_call(conn, NS, "Release", NULL, 0, NULL, NULL), 0);

        /* Holding a reference defers the reply; dropping it unanswered gives Failed. */
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hold", NULL, 0, on_outcome, &held, NULL), 0);
        ck_assert_int_eq(mbus_call_async(conn, NS, "HoldDrop", NULL, 0, on_outcome, &dropped, NULL), 0);
        ck_assert_int_eq(mbus_call(conn, NS, "Release", NULL, 0, NULL, NULL), 0);
        drain(conn);
        ck_assert_int_eq(held.n, 1);
        ck_assert_int_eq(held.error, 0);
        ck_assert(json_object_get_boolean(json_object_object_get(held.result, "deferred")));
        json_object_put(held.result);
        ck_assert_int_eq(dropped.n, 1);
        ck_assert_int_eq(dropped.error, -EIO);
        ck_assert_str_eq(dropped.name, MBUS_ERROR_FAILED);

        service_quit(conn, svc);
        conn = mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_poll_integration) {
        struct mbus_conn *conn = NULL;
        struct order o = {};
        struct test_broker b;
        uint64_t t;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_spawn(b.address);
        ck_assert_int_eq(mbus_conn_open(&conn, b.address, NULL), 0);

        ck_assert_int_ge(mbus_conn_get_fd(conn), 0);
        drain(conn);
        ck_assert_int_eq(mbus_conn_get_timeout(conn, &t), 0);
        ck_assert_uint_eq(t, UINT64_MAX);

        for (int i = 0; i < 20; i++) {
                json_object *args = json_int_object("seq", i);

                ck_assert_int_eq(mbus_call_async(conn, NS, "Echo", args, 5 * 1000 * 1000, on_ordered_reply, &o,
                                                 NULL), 0);
                json_object_put(args);
        }
        /* The earliest call deadline is the timeout. */
        ck_assert_int_eq(mbus_conn_get_timeout(conn, &t), 0);
        ck_assert_uint_ne(t, UINT64_MAX);

        for (time_t end = time(NULL) + 10; o.done < 20;) {
                struct pollfd p = { .fd = mbus_conn_get_fd(conn), .events = (short) mbus_conn_get_events(conn) };
                uint64_t now;
                int timeout_ms = -1, r;

                ck_assert_int_lt(time(NULL), end);
                r = mbus_conn_process(conn);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        continue;

                ck_assert_int_eq(mbus_conn_get_timeout(conn, &t), 0);
                now = test_now_usec();
                if (t != UINT64_MAX)
                        timeout_ms = t <= now ? 0 : (int) ((t - now + 999) / 1000);
                ck_assert_int_ge(poll(&p, 1, timeout_ms), 0);
        }
        ck_assert_int_eq(mbus_conn_get_timeout(conn, &t), 0);

        service_quit(conn, svc);

        /* After close every operation says -ENOTCONN. */
        mbus_conn_close(conn);
        ck_assert(!mbus_conn_is_open(conn));
        ck_assert_int_eq(mbus_conn_get_fd(conn), -ENOTCONN);
        ck_assert_int_eq(mbus_conn_process(conn), -ENOTCONN);
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", NULL, 0, NULL, NULL), -ENOTCONN);
        conn = mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_broker_hangup_completes_pending_calls) {
        struct mbus_conn *conn = NULL;
        struct outcome out = {};
        struct test_broker b;
        pid_t svc;
        int r;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = service_spawn(b.address);
        ck_assert_int_eq(mbus_conn_open(&conn, b.address, NULL), 0);
        ck_assert_int_eq(mbus_call_async(conn, NS, "Hold", NULL, 0, on_outcome, &out, NULL), 0);
        ck_assert_int_eq(mbus_conn_flush(conn), 0);

        /* The owner vanishes with the call pending: OwnerDisconnected. */
        ck_assert_int_eq(kill(svc, SIGKILL), 0);
        ck_assert_int_eq(waitpid(svc, NULL, 0), svc);
        run_until(conn, &out.n, 1);
        ck_assert_int_eq(out.error, -ENOLINK);
        ck_assert_str_eq(out.name, MBUS_ERROR_OWNER_DISCONNECTED);

        /* The broker goes away: pending calls complete with Disconnected, then the error. */
        memset(&out, 0, sizeof(out));
        ck_assert_int_eq(mbus_call_async(conn, MBUS_BROKER_NAMESPACE, "NoSuchProcedureHere", NULL, 0, on_outcome,
                                         &out, NULL), 0);
        ck_assert_broker_stops_cleanly(&b);
        for (time_t end = time(NULL) + 10;;) {
                ck_assert_int_lt(time(NULL), end);
                r = mbus_conn_process(conn);
                if (r < 0)
                        break;
                if (r == 0)
                        ck_assert_int_ge(mbus_conn_wait(conn, 100 * 1000), 0);
        }
        ck_assert_int_eq(out.n, 1);
        /* Either the broker answered before it went, or the library completed the call. */
        ck_assert(out.error == -ENOTCONN || out.error == -EOPNOTSUPP);
        ck_assert_int_eq(r, -ECONNRESET);
        ck_assert_int_eq(mbus_conn_process(conn), -ENOTCONN);
        ck_assert_int_eq(mbus_ping(conn, 0), -ENOTCONN);
        conn = mbus_conn_unref(conn);
}
END_TEST

START_TEST(test_sync_wait_answers_keepalive_pings) {
        static const char *const fast_keepalive[] = {
                "--keepalive-interval", "0.05", "--keepalive-timeout", "0.05", "--keepalive-threshold", "2",
                NULL,
        };
        struct mbus_error e = MBUS_ERROR_NULL;
        struct mbus_conn *conn = NULL;
        struct test_broker b;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, fast_keepalive), 0);
        svc = service_spawn(b.address);
        ck_assert_int_eq(mbus_conn_open(&conn, b.address, NULL), 0);

        /* A second in a synchronous call is many keep-alive rounds: the wait answers them. */
        ck_assert_int_eq(mbus_call(conn, NS, "Hold", NULL, 1000 * 1000, NULL, &e), -ETIMEDOUT);
        ck_assert(mbus_error_has_name(&e, MBUS_ERROR_TIMEOUT));
        mbus_error_free(&e);
        ck_assert(mbus_conn_is_open(conn));
        ck_assert_int_eq(mbus_call(conn, NS, "Release", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(mbus_ping(conn, 0), 0);

        service_quit(conn, svc);
        conn = mbus_conn_unref(conn);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

struct loop_state {
        sd_event *event;
        int replies;
        int events;
        int timeouts;
};

static int loop_echo(struct mbus_request *req, json_object *args, void *userdata) {
        return mbus_request_reply(req, args);
}

static int loop_hold(struct mbus_request *req, json_object *args, void *userdata) {
        struct mbus_request **held = userdata;

        *held = mbus_request_ref(req);
        return 0;
}

static void loop_maybe_exit(struct loop_state *s) {
        if (s->replies == 1 && s->events == 2 && s->timeouts == 1)
                sd_event_exit(s->event, 0);
}

static int loop_on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                         void *userdata) {
        struct loop_state *s = userdata;

        if (error) {
                ck_assert_str_eq(error->name, MBUS_ERROR_TIMEOUT);
                s->timeouts++;
        } else {
                ck_assert_int_eq(json_int_member(result, "v"), 5);
                s->replies++;
        }
        loop_maybe_exit(s);
        return 0;
}

static int loop_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct loop_state *s = userdata;

        /* A synchronous call from a callback reads past its reply: what it buffered (the
         * second event) must still be dispatched, though the socket may never wake up again. */
        if (++s->events == 1)
                ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "Ping", NULL, 0, NULL, NULL), 0);
        loop_maybe_exit(s);
        return 0;
}

START_TEST(test_sd_event_attach) {
        static const struct mbus_procedure procs[] = { { "Echo", loop_echo }, { "Hold", loop_hold } };
        struct mbus_conn *svc = NULL, *cli = NULL;
        struct mbus_request *held = NULL;
        struct mbus_slot *sub = NULL;
        struct loop_state s = {};
        json_object *args;
        struct test_broker b;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_ge(sd_event_new(&s.event), 0);

        /* Service and caller in one process, one loop: only the loop can make this work. */
        ck_assert_int_eq(mbus_conn_open(&svc, b.address, "loop-service"), 0);
        ck_assert_int_eq(mbus_register(svc, PUB_NS, procs, 2, NULL, &held, NULL), 0);
        ck_assert_int_eq(mbus_conn_open(&cli, b.address, "loop-client"), 0);
        ck_assert_int_eq(mbus_subscribe(cli, PUB_NS ".Changed", loop_on_event, &s, &sub, NULL), 0);

        ck_assert_int_eq(mbus_conn_attach_event(svc, s.event, 0), 0);
        ck_assert_int_eq(mbus_conn_attach_event(svc, s.event, 0), -EBUSY);
        ck_assert_int_eq(mbus_conn_attach_event(cli, s.event, 0), 0);

        args = json_int_object("v", 5);
        ck_assert_int_eq(mbus_call_async(cli, PUB_NS, "Echo", args, 0, loop_on_reply, &s, NULL), 0);
        json_object_put(args);
        ck_assert_int_eq(mbus_call_async(cli, PUB_NS, "Hold", NULL, 300 * 1000, loop_on_reply, &s, NULL), 0);
        ck_assert_int_eq(mbus_emit(svc, PUB_NS, "Changed", NULL), 0);
        ck_assert_int_eq(mbus_emit(svc, PUB_NS, "Changed", NULL), 0);

        ck_assert_int_eq(sd_event_loop(s.event), 0);
        ck_assert_int_eq(s.replies, 1);
        ck_assert_int_eq(s.events, 2);
        ck_assert_int_eq(s.timeouts, 1);

        ck_assert_ptr_nonnull(held);
        ck_assert_int_eq(mbus_request_reply(held, NULL), 0);    /* late: dropped on the way */
        held = mbus_request_unref(held);

        ck_assert_int_eq(mbus_conn_detach_event(cli), 0);
        ck_assert_int_eq(mbus_conn_detach_event(cli), 0);
        sub = mbus_slot_free(sub);
        cli = mbus_conn_unref(cli);
        svc = mbus_conn_unref(svc);         /* still attached: the unref detaches */
        s.event = sd_event_unref(s.event);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* ---- disconnects ---------------------------------------------------------------------------- */

struct gone_state {
        int handler_calls;
        int handler_error;
        int pending_completed;          /* 1 once the held call failed, before the handler */
        const char *pending_error;
        bool order_ok;
};

static void gone_on_disconnect(struct mbus_conn *conn, int error, void *userdata) {
        struct gone_state *g = userdata;

        g->handler_calls++;
        g->handler_error = error;
        g->order_ok = g->pending_completed == 1;
        ck_assert(!mbus_conn_is_open(conn));
}

static int gone_on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                         void *userdata) {
        struct gone_state *g = userdata;

        g->pending_completed++;
        g->pending_error = error && error->name && strcmp(error->name, MBUS_ERROR_DISCONNECTED) == 0
                                   ? MBUS_ERROR_DISCONNECTED : "other";
        return 0;
}

/*
 * A service attached to sd-event (or in mbus_conn_run()) with a call pending on itself: the
 * broker stops, the call fails with Disconnected, the handler is told, and the loop ends with
 * the error. Exit codes: 0 right; 20+ what went wrong.
 */
static pid_t gone_service_spawn(const char *address, bool with_event) {
        int p[2];
        pid_t pid;
        char c;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static const struct mbus_procedure procs[] = { { "Hold", loop_hold } };
                struct mbus_request *held = NULL;
                struct mbus_conn *conn = NULL;
                struct gone_state g = {};
                sd_event *event = NULL;
                int r;

                close(p[0]);
                if (mbus_conn_open(&conn, address, "gone-service") < 0 ||
                    mbus_register(conn, PUB_NS, procs, 1, NULL, &held, NULL) < 0 ||
                    mbus_conn_set_disconnect_handler(conn, gone_on_disconnect, &g) < 0 ||
                    mbus_call_async(conn, PUB_NS, "Hold", NULL, MBUS_TIMEOUT_INFINITY, gone_on_reply, &g, NULL) < 0)
                        _exit(20);
                if (with_event) {
                        if (sd_event_new(&event) < 0 || mbus_conn_attach_event(conn, event, 0) < 0 ||
                            mbus_conn_set_exit_on_disconnect(conn, true) < 0)
                                _exit(21);
                }
                /* Ready once the held call has reached the service side. */
                while (!held)
                        if (mbus_conn_process(conn) == 0 && mbus_conn_wait(conn, 100 * 1000) < 0)
                                _exit(22);
                if (write(p[1], "x", 1) != 1)
                        _exit(24);
                close(p[1]);

                r = with_event ? sd_event_loop(event) : mbus_conn_run(conn);
                if (r != -ECONNRESET)
                        _exit(25);
                if (g.handler_calls != 1 || g.handler_error != -ECONNRESET)
                        _exit(26);
                if (g.pending_completed != 1 || strcmp(g.pending_error, MBUS_ERROR_DISCONNECTED) != 0 || !g.order_ok)
                        _exit(27);
                mbus_request_unref(held);
                mbus_conn_unref(conn);
                sd_event_unref(event);
                child_exit(0);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

START_TEST(test_broker_gone_ends_the_service_loop_with_the_error) {
        struct test_broker b;
        pid_t svc;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        svc = gone_service_spawn(b.address, /* with_event= */ _i == 0);
        ck_assert_broker_stops_cleanly(&b);
        /* Exits on its own: a generous bound, only to not hang forever if it does not. */
        ck_assert_int_eq(test_wait(svc, 20000), 0);
}
END_TEST

START_TEST(test_disconnect_setters_take_null) {
        ck_assert_int_eq(mbus_conn_set_disconnect_handler(NULL, gone_on_disconnect, NULL), -EINVAL);
        ck_assert_int_eq(mbus_conn_set_exit_on_disconnect(NULL, true), -EINVAL);
}
END_TEST

START_TEST(test_open_fails_cleanly) {
        struct mbus_conn *conn = NULL;
        char dir[] = "/tmp/mbus-test-client-XXXXXX", path[128];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/socket", dir);
        ck_assert_int_eq(mbus_conn_open(&conn, path, NULL), -ENOENT);
        ck_assert_ptr_null(conn);
        ck_assert_int_eq(mbus_conn_open(&conn, "relative/path", NULL), -EINVAL);
        ck_assert_int_eq(mbus_conn_open(NULL, path, NULL), -EINVAL);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- a fake broker that misbehaves --------------------------------------------------------- */

enum fake_script {
        FAKE_OTHER_VERSION,     /* answers HELLO with a version 2 frame */
        FAKE_LIMITS,            /* answers HELLO with a connection-level LimitsExceeded */
        FAKE_GARBAGE,           /* WELCOME, then a frame of an unknown type */
};

static size_t raw_frame(uint8_t *buf, uint8_t version, uint8_t type, uint64_t reply_serial,
                        const char *error_name, const char *body) {
        size_t fields = 12, blen = body ? strlen(body) : 0, p = 12;
        uint32_t v;

        if (error_name)
                fields += 4 + strlen(error_name) + 1;
        buf[0] = version;
        buf[1] = type;
        buf[2] = buf[3] = 0;
        v = (uint32_t) fields;
        memcpy(buf + 4, &v, 4);
        v = (uint32_t) blen;
        memcpy(buf + 8, &v, 4);
        buf[p++] = 2;                   /* reply_serial, UINT64 */
        buf[p++] = 1;
        buf[p++] = 8;
        buf[p++] = 0;
        memcpy(buf + p, &reply_serial, 8);
        p += 8;
        if (error_name) {
                uint16_t l = (uint16_t) (strlen(error_name) + 1);

                buf[p++] = 7;           /* error_name, STRING */
                buf[p++] = 2;
                memcpy(buf + p, &l, 2);
                p += 2;
                memcpy(buf + p, error_name, l);
                p += l;
        }
        if (blen > 0)
                memcpy(buf + p, body, blen);
        return p + blen;
}

static pid_t fake_broker_spawn(const char *address, enum fake_script script) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pid_t pid;
        int fd;

        /* Listening before the fork: the client may connect at once. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        strcpy(sa.sun_path, address);
        (void) unlink(address);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 4), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                uint8_t in[4096], out[512];
                size_t n = 0;
                int c_fd;

                c_fd = accept(fd, NULL, NULL);
                if (c_fd < 0 || read(c_fd, in, sizeof(in)) <= 0)       /* the HELLO, serial 1 */
                        _exit(1);
                switch (script) {
                case FAKE_OTHER_VERSION:
                        n = raw_frame(out, 2, 2, 1, NULL, "{}");
                        break;
                case FAKE_LIMITS:
                        n = raw_frame(out, 1, 7, 0, MBUS_ERROR_LIMITS_EXCEEDED, "{\"message\":\"full\"}");
                        break;
                case FAKE_GARBAGE:
                        n = raw_frame(out, 1, 2, 1, NULL, "{\"id\":\":1.7\",\"protocol\":1}");
                        if (write(c_fd, out, n) != (ssize_t) n)
                                _exit(2);
                        /* Wait for the client's CALL, then send nonsense. */
                        if (read(c_fd, in, sizeof(in)) <= 0)
                                _exit(3);
                        n = raw_frame(out, 1, 99, 1, NULL, NULL);
                        break;
                }
                if (write(c_fd, out, n) != (ssize_t) n)
                        _exit(4);
                /* Keep the socket open until the client has seen it all. */
                (void) read(c_fd, in, sizeof(in));
                _exit(0);
        }
        close(fd);
        return pid;
}

START_TEST(test_misbehaving_broker) {
        char dir[] = "/tmp/mbus-test-client-XXXXXX", path[128];
        struct mbus_conn *conn = NULL;
        struct outcome out = {};
        pid_t pid;
        int r;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/socket", dir);

        pid = fake_broker_spawn(path, FAKE_OTHER_VERSION);
        ck_assert_int_eq(mbus_conn_open(&conn, path, NULL), -EBADMSG);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        pid = fake_broker_spawn(path, FAKE_LIMITS);
        ck_assert_int_eq(mbus_conn_open(&conn, path, NULL), -ENOBUFS);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        /* A malformed frame later: pending calls complete with Disconnected, then -EBADMSG. */
        pid = fake_broker_spawn(path, FAKE_GARBAGE);
        ck_assert_int_eq(mbus_conn_open(&conn, path, NULL), 0);
        ck_assert_str_eq(mbus_conn_get_unique_id(conn), ":1.7");
        ck_assert_int_eq(mbus_call_async(conn, NS, "Echo", NULL, 0, on_outcome, &out, NULL), 0);
        for (time_t end = time(NULL) + 10;;) {
                ck_assert_int_lt(time(NULL), end);
                r = mbus_conn_process(conn);
                if (r < 0)
                        break;
                if (r == 0)
                        ck_assert_int_ge(mbus_conn_wait(conn, 100 * 1000), 0);
        }
        ck_assert_int_eq(r, -EBADMSG);
        ck_assert_int_eq(out.n, 1);
        ck_assert_str_eq(out.name, MBUS_ERROR_DISCONNECTED);
        ck_assert(!mbus_conn_is_open(conn));
        conn = mbus_conn_unref(conn);
        ck_assert_int_eq(test_wait(pid, 20000), 0);

        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *client_suite(void) {
        Suite *s = suite_create("client");
        TCase *tc = tcase_create("e2e");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_open_fails_cleanly);
        tcase_add_test(tc, test_sync_call_round_trip);
        tcase_add_test(tc, test_register_with_interface_checks_what_it_declares);
        tcase_add_test(tc, test_async_calls_complete_in_order);
        tcase_add_test(tc, test_subscription_dispatch_two_patterns);
        tcase_add_test(tc, test_raw_subscription_gets_payload_bytes);
        tcase_add_test(tc, test_emit_wait_reports_the_brokers_refusal);
        tcase_add_test(tc, test_slot_free_inside_callback);
        tcase_add_test(tc, test_auto_reply_rules);
        tcase_add_test(tc, test_poll_integration);
        tcase_add_test(tc, test_broker_hangup_completes_pending_calls);
        tcase_add_test(tc, test_sd_event_attach);
        tcase_add_loop_test(tc, test_broker_gone_ends_the_service_loop_with_the_error, 0, 2);
        tcase_add_test(tc, test_disconnect_setters_take_null);
        tcase_add_test(tc, test_misbehaving_broker);
        tcase_add_test(tc, test_sync_wait_answers_keepalive_pings);
        suite_add_tcase(s, tc);
        return s;
}

/* Run by hand without a broker to test against, the program skips (77) instead of failing. */
int main(void) {
        const char *broker = getenv("MBUS_TEST_BROKER");

        if (!broker || access(broker, X_OK) < 0) {
                fprintf(stderr, "MBUS_TEST_BROKER not set or not executable: skipping\n");
                return 77;
        }
        return mbus_test_run_suite(client_suite(), CK_NORMAL);
}
