/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Limits under load: a subscriber that never reads cannot grow the broker while others keep
 * receiving every event; a full broker refuses new peers by name; 200 clients at once all get
 * their answers.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"

/* A body of len bytes: a JSON object with one long string, so only its size is wrong. */
static char *big_object(size_t len) {
        char *s = malloc(len + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, 'x', len);
        memcpy(s, "{\"pad\": \"", 9);
        memcpy(s + len - 2, "\"}", 2);
        s[len] = 0;
        return s;
}

/* Sends frame type with a body of body_len bytes and returns the ERROR answering serial. */
static void expect_limits_exceeded(int fd, enum mbus_frame_type type, uint64_t serial, const char *ns,
                                   const char *member, size_t body_len) {
        struct raw_frame f;
        char *body = big_object(body_len);

        ck_assert_int_eq(raw_send_simple(fd, type, serial, 0, ns, member, NULL, NULL, NULL, body), 0);
        free(body);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, serial);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        raw_frame_done(&f);
}

struct counter {
        int n;
        int next_seq;
        bool out_of_order;
};

static int on_event(struct mbus_conn *conn, const struct mbus_event *e, void *userdata) {
        struct counter *c = userdata;
        json_object *seq;

        if (strcmp(e->ns, "org.example.Flood") != 0)
                return 0;
        if (!e->payload || !json_object_object_get_ex(e->payload, "seq", &seq) ||
            json_object_get_int(seq) != c->next_seq)
                c->out_of_order = true;
        c->next_seq++;
        c->n++;
        return 0;
}

static json_object *stats(struct mbus_conn *conn) {
        json_object *o = NULL;

        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        return o;
}

START_TEST(test_subscriber_that_never_reads_cannot_grow_the_broker) {
        static const char *const args[] = { "--max-queue-bytes", "65536", NULL };
        static const struct mbus_procedure none[] = { { "X", NULL } };
        enum { N_EVENTS = 40000, BATCH = 50 };
        struct test_broker b;
        struct counter c1 = {}, c2 = {};
        struct mbus_slot *s1 = NULL, *s2 = NULL;
        char payload[600], *sluggish_id = NULL, args_json[64];
        long rss_start = 0, rss_end;
        int fd, small = 4096;

        test_asan_small_quarantine();
        ck_assert_int_eq(test_broker_start(&b, args), 0);

        /* the sluggish one: subscribed to everything, small socket buffer, never reads */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        close(fd);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(raw_hello(fd, "sluggish", &sluggish_id), 0);
        ck_assert_int_eq(raw_subscribe(fd, 2, "*"), 0);

        /* two subscribers that keep up, driven in lockstep with the publisher below */
        struct mbus_conn *sub1 = test_connect(b.address, "reader-1");
        struct mbus_conn *sub2 = test_connect(b.address, "reader-2");
        ck_assert_int_eq(mbus_subscribe(sub1, "org.example.*", on_event, &c1, &s1, NULL), 0);
        ck_assert_int_eq(mbus_subscribe(sub2, "*", on_event, &c2, &s2, NULL), 0);

        struct mbus_conn *pub = test_connect(b.address, "flooder");
        ck_assert_int_eq(mbus_register(pub, "org.example.Flood", none, 0, NULL, NULL, NULL), 0);

        memset(payload, 'x', sizeof(payload));
        for (int i = 0; i < N_EVENTS; i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "seq", json_object_new_int(i));
                json_object_object_add(p, "data", json_object_new_string_len(payload, 500));
                ck_assert_int_eq(mbus_emit(pub, "org.example.Flood", "Tick", p), 0);
                json_object_put(p);
                if ((i + 1) % BATCH != 0)
                        continue;
                ck_assert_int_eq(mbus_ping(pub, 0), 0);
                long long deadline = test_now_ms() + 20000;
                while ((c1.n < i + 1 || c2.n < i + 1) && test_now_ms() < deadline) {
                        ck_assert_int_ge(test_pump(sub1, -1, 0), 0);
                        ck_assert_int_ge(test_pump(sub2, -1, 0), 0);
                }
                ck_assert_int_eq(c1.n, i + 1);
                ck_assert_int_eq(c2.n, i + 1);
                if (i + 1 == 2000)
                        rss_start = test_broker_rss_kb(&b);
        }
        rss_end = test_broker_rss_kb(&b);
        fprintf(stderr, "broker RSS: %ld KiB after 2000 events, %ld KiB after %d\n", rss_start, rss_end, N_EVENTS);

        /* every event reached the readers, in order */
        ck_assert_int_eq(c1.n, N_EVENTS);
        ck_assert_int_eq(c2.n, N_EVENTS);
        ck_assert(!c1.out_of_order && !c2.out_of_order);

        /* about 20 MiB went to a peer that read nothing: the broker kept at most its limit */
        ck_assert_int_gt(rss_start, 0);
        ck_assert_msg(rss_end - rss_start < 8 * 1024, "broker RSS grew from %ld to %ld KiB", rss_start, rss_end);
        json_object *st = stats(pub);
        ck_assert_int_ge(test_json_int(st, "events_dropped"), N_EVENTS / 2);
        ck_assert_int_ge(test_json_int(st, "events_delivered"), 2 * N_EVENTS);
        json_object_put(st);

        /* the sluggish peer is still there, its queue within the limit */
        json_object *peer = NULL;
        snprintf(args_json, sizeof(args_json), "{\"id\": \"%s\"}", sluggish_id);
        json_object *a = json_tokener_parse(args_json);
        ck_assert_int_eq(mbus_call(pub, MBUS_BROKER_NAMESPACE, "GetPeer", a, 0, &peer, NULL), 0);
        ck_assert_int_le(test_json_int(peer, "queued_bytes"), 65536 + 1024);
        json_object_put(peer);
        json_object_put(a);
        free(sluggish_id);

        close(fd);
        mbus_slot_free(s1);
        mbus_slot_free(s2);
        mbus_conn_unref(sub1);
        mbus_conn_unref(sub2);
        mbus_conn_unref(pub);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/* With a small frame limit, ListPeers over many peers answers a page that fits, and names the next. */
START_TEST(test_broker_answer_is_never_larger_than_the_announced_frame_size) {
        static const char *const args[] = { "--max-frame-size", "8192", NULL };
        char name[200];
        struct mbus_error e = MBUS_ERROR_NULL;
        json_object *o = NULL;
        struct mbus_conn *conn;
        struct test_broker b;
        int fds[40];

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                fds[i] = raw_connect(b.address);
                ck_assert_int_ge(fds[i], 0);
                ck_assert_int_eq(raw_hello(fds[i], name, NULL), 0);
        }
        conn = test_connect(b.address, "lister");
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "ListPeers", NULL, 0, &o, &e), 0);
        {
                json_object *peers = NULL;

                ck_assert(json_object_object_get_ex(o, "peers", &peers));
                ck_assert_uint_gt(json_object_array_length(peers), 0);
                ck_assert_uint_lt(json_object_array_length(peers), sizeof(fds) / sizeof(fds[0]));
                ck_assert_ptr_nonnull(test_json_str(o, "next"));
        }
        json_object_put(o);
        /* the connection is fine, and other answers still come */
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        json_object_put(o);
        mbus_conn_unref(conn);
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                close(fds[i]);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_peer_over_max_peers_is_refused_by_name) {
        static const char *const args[] = { "--max-peers", "2", NULL };
        struct test_broker b;
        struct raw_frame f;
        int fd1, fd2, fd3;

        ck_assert_int_eq(test_broker_start(&b, args), 0);
        fd1 = raw_connect(b.address);
        ck_assert_int_ge(fd1, 0);
        ck_assert_int_eq(raw_hello(fd1, "one", NULL), 0);
        fd2 = raw_connect(b.address);
        ck_assert_int_ge(fd2, 0);
        ck_assert_int_eq(raw_hello(fd2, "two", NULL), 0);

        fd3 = raw_connect(b.address);
        ck_assert_int_ge(fd3, 0);
        ck_assert_int_eq(raw_recv(fd3, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_int_eq(f.reply_serial, 0);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd3, 10000), 0);
        close(fd3);

        /* room again once one leaves */
        close(fd2);
        long long deadline = test_now_ms() + 10000;
        int r = -1;
        while (r != 0 && test_now_ms() < deadline) {
                fd3 = raw_connect(b.address);
                ck_assert_int_ge(fd3, 0);
                r = raw_hello(fd3, "three", NULL);
                close(fd3);
        }
        ck_assert_int_eq(r, 0);
        close(fd1);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST


START_TEST(test_calls_to_an_owner_that_never_reads_are_refused_not_lost) {
        static const char *const args[] = { "--max-queue-bytes", "65536", NULL };
        enum { N_CALLS = 100 };
        struct test_broker b;
        struct raw_buf buf = {};
        struct raw_frame f;
        char *body;
        int svc, caller, small = 4096;
        int n_limits = 0, n_gone = 0;
        uint8_t answered[N_CALLS + 2] = {};

        ck_assert_int_eq(test_broker_start(&b, args), 0);

        /* an owner that registers and then reads nothing more */
        svc = raw_connect(b.address);
        ck_assert_int_ge(svc, 0);
        ck_assert_int_eq(setsockopt(svc, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        ck_assert_int_eq(raw_hello(svc, "deaf-service", NULL), 0);
        ck_assert_int_eq(raw_register(svc, 2, "org.example.Deaf"), 0);

        caller = raw_connect(b.address);
        ck_assert_int_ge(caller, 0);
        ck_assert_int_eq(raw_hello(caller, "caller", NULL), 0);

        /* 100 calls of 8 KiB: far more than the owner's queue may hold */
        body = malloc(8 * 1024 + 3);
        ck_assert_ptr_nonnull(body);
        memset(body, 'y', 8 * 1024 + 2);
        body[0] = '"';
        body[8 * 1024 + 1] = '"';
        body[8 * 1024 + 2] = 0;
        for (uint64_t serial = 2; serial < N_CALLS + 2; serial++) {
                raw_frame_begin(&buf, MBUS_FRAME_CALL);
                raw_field_u64(&buf, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&buf, MBUS_FIELD_NAMESPACE, "org.example.Deaf");
                raw_field_str(&buf, MBUS_FIELD_MEMBER, "Take");
                raw_frame_finish(&buf, body);
                ck_assert_int_eq(raw_send_buf(caller, &buf), 0);
        }
        raw_buf_done(&buf);
        free(body);

        /* those the queue could not take are refused at once, by name */
        ck_assert_int_eq(raw_send_simple(caller, MBUS_FRAME_PING, 500, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        for (;;) {
                ck_assert_int_eq(raw_recv(caller, 10000, &f), 0);
                if (f.type == MBUS_FRAME_PONG) {
                        raw_frame_done(&f);
                        break;
                }
                ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
                ck_assert_str_eq(f.error_name, MBUS_ERROR_LIMITS_EXCEEDED);
                ck_assert(f.reply_serial >= 2 && f.reply_serial < N_CALLS + 2);
                ck_assert_int_eq(answered[f.reply_serial], 0);
                answered[f.reply_serial] = 1;
                n_limits++;
                raw_frame_done(&f);
        }
        ck_assert_int_gt(n_limits, 0);
        ck_assert_int_lt(n_limits, N_CALLS);

        /* the rest were queued for the owner: when it goes, each gets OwnerDisconnected */
        close(svc);
        while (n_limits + n_gone < N_CALLS) {
                ck_assert_int_eq(raw_recv_type(caller, 10000, MBUS_FRAME_ERROR, &f), 0);
                ck_assert_str_eq(f.error_name, MBUS_ERROR_OWNER_DISCONNECTED);
                ck_assert(f.reply_serial >= 2 && f.reply_serial < N_CALLS + 2);
                ck_assert_int_eq(answered[f.reply_serial], 0);
                answered[f.reply_serial] = 1;
                n_gone++;
                raw_frame_done(&f);
        }
        close(caller);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

/*
 * 200 clients connect, then all call at once. Under ASan on a machine loaded far beyond its
 * cores, each of the 1000 calls may wait long behind the others (one echo service answers them
 * all), and connecting 200 processes takes long too: nothing here is bounded by a wall-clock
 * figure of its own. The test waits on events (a byte from each connected client, each client's
 * exit); time limits are only the Check case's timeout and, so that no call or connection
 * fails for a slow machine, generous ones no healthy run gets near (CLIENT_PATIENCE_USEC). The
 * broker gives up on silent peers (keep-alive, HELLO) only after as long: clients waiting for
 * the go are silent. What is asserted stays: all 202 peers connected at once, every call
 * answered with its own arguments, none left pending.
 */
#define N_CLIENTS 200
#define CLIENT_PATIENCE_USEC (600ULL * 1000 * 1000)

struct client_args {
        const char *address;
        int index;
        int go_fd, ready_fd;
};

static int client_main(void *userdata) {
        struct client_args *a = userdata;
        struct mbus_conn *conn = NULL;
        char c = 1;

        child_assert(mbus_conn_open_with_timeout(&conn, a->address, "many", CLIENT_PATIENCE_USEC, NULL) >= 0);
        child_assert(write(a->ready_fd, &c, 1) == 1);
        /* all connected first, then all call at once */
        child_assert(read(a->go_fd, &c, 1) == 0);
        for (int i = 0; i < 5; i++) {
                json_object *args = json_object_new_object(), *result = NULL;
                json_object_object_add(args, "client", json_object_new_int(a->index));
                json_object_object_add(args, "i", json_object_new_int(i));
                child_assert(mbus_call(conn, NS, "Echo", args, CLIENT_PATIENCE_USEC, &result, NULL) >= 0);
                child_assert(json_object_equal(args, result));
                json_object_put(result);
                json_object_put(args);
        }
        mbus_conn_unref(conn);
        return 0;
}

/* Reads a byte from each of the n clients as it connects; one that exits first (it could not
 * connect) fails the test at once. */
static void wait_clients_connected(int ready_fd, const pid_t *pids, int n) {
        for (int got = 0; got < n;) {
                struct pollfd p = { .fd = ready_fd, .events = POLLIN };
                char buf[N_CLIENTS];
                ssize_t k;

                if (poll(&p, 1, 1000) == 0) {
                        for (int i = 0; i < n; i++) {
                                int st;

                                ck_assert_msg(waitpid(pids[i], &st, WNOHANG) == 0,
                                              "client %d exited (status %d) before it connected", i, st);
                        }
                        continue;
                }
                k = read(ready_fd, buf, (size_t) (n - got));
                ck_assert_int_gt(k, 0);
                got += (int) k;
        }
}

START_TEST(test_200_concurrent_clients_all_get_answers) {
        static const char *const args[] = { "--keepalive-interval", "3600", "--hello-timeout", "600", NULL };
        struct test_broker b;
        struct test_service svc;
        struct test_pipe go, ready;
        pid_t pids[N_CLIENTS];
        struct mbus_conn *conn;
        json_object *o = NULL;
        int ok = 0;

        ck_assert_int_ge(test_raise_nofile(4 * N_CLIENTS), N_CLIENTS + 64);
        ck_assert_int_eq(test_broker_start(&b, args), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        /* the counter connects before the crowd does */
        conn = test_connect(b.address, "counter");

        test_pipe_init(&go);
        test_pipe_init(&ready);
        for (int i = 0; i < N_CLIENTS; i++) {
                struct client_args a = { b.address, i, go.fd[0], ready.fd[1] };
                /* the child must not hold the write end, or it would never see end of file */
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        close(go.fd[1]);
                        close(ready.fd[0]);
                        exit(client_main(&a));
                }
                pids[i] = pid;
        }

        /* all connected: each said so, and the broker counts them all at once */
        wait_clients_connected(ready.fd[0], pids, N_CLIENTS);
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, CLIENT_PATIENCE_USEC, &o, NULL), 0);
        ck_assert_int_eq(test_json_int(o, "peers"), N_CLIENTS + 2);
        json_object_put(o);
        test_pipe_close(&go);

        /* each client exits once its five answers came: the Check case's timeout is the bound */
        for (int i = 0; i < N_CLIENTS; i++)
                ok += test_wait(pids[i], (int) (CLIENT_PATIENCE_USEC / 1000)) == 0;
        ck_assert_int_eq(ok, N_CLIENTS);
        test_pipe_close(&ready);

        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "GetStats", NULL, CLIENT_PATIENCE_USEC, &o, NULL), 0);
        ck_assert_int_ge(test_json_int(o, "calls_routed"), 5 * N_CLIENTS);
        ck_assert_int_eq(test_json_int(o, "pending_calls"), 0);
        json_object_put(o);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_hello_over_4096_bytes_is_refused_before_its_body_arrives) {
        struct test_broker b;
        struct raw_buf buf = {};
        struct raw_frame f;
        char *body = big_object(1024 * 1024);
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);

        /* only the head of a 1 MiB HELLO: the broker answers without waiting for the rest */
        raw_frame_begin(&buf, MBUS_FRAME_HELLO);
        raw_field_u64(&buf, MBUS_FIELD_SERIAL, 1);
        raw_frame_finish(&buf, body);
        free(body);
        ck_assert_int_eq(raw_send(fd, buf.data, 64), 0);
        raw_buf_done(&buf);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
        ck_assert_ptr_nonnull(strstr(f.body, "HELLO larger than 4096 bytes"));
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);

        /* a whole HELLO just over the limit, too */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        body = big_object(4096);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL, body), 0);
        free(body);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);

        /* after WELCOME the configured limit applies */
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "welcomed", NULL), 0);
        body = big_object(100 * 1024);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 2, 0, NS, "Echo", NULL, NULL, NULL, body), 0);
        free(body);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 2);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        raw_frame_done(&f);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_broker_procedure_arguments_over_64k_are_refused) {
        struct test_broker b;
        struct raw_frame f;
        char *body;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "big-args", NULL), 0);

        expect_limits_exceeded(fd, MBUS_FRAME_CALL, 2, MBUS_BROKER_NAMESPACE, "GetPeer", 64 * 1024 + 1);
        expect_limits_exceeded(fd, MBUS_FRAME_CALL, 3, MBUS_BROKER_NAMESPACE, "Ping", 1024 * 1024);

        /* 64 KiB exactly is parsed and answered */
        body = big_object(64 * 1024);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 4, 0, MBUS_BROKER_NAMESPACE, "Ping", NULL, NULL, NULL,
                                         body), 0);
        free(body);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, 4);
        raw_frame_done(&f);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_register_body_over_256k_is_refused) {
        struct test_broker b;
        struct raw_frame f;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "big-decl", NULL), 0);

        expect_limits_exceeded(fd, MBUS_FRAME_REGISTER, 2, NS, NULL, 256 * 1024 + 1);

        /* not registered: a call finds no owner */
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 3, 0, NS, "Echo", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_int_eq(f.reply_serial, 3);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        raw_frame_done(&f);

        /* a small declaration still registers */
        ck_assert_int_eq(raw_register(fd, 4, NS), 0);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

START_TEST(test_owner_at_the_namespace_limit_may_register_its_own_again) {
        struct test_broker b;
        struct raw_frame f;
        char name[64];
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "many", NULL), 0);

        /* 1024 namespaces, the per-peer limit: pipelined, then every answer */
        for (int i = 0; i < 1024; i++) {
                snprintf(name, sizeof(name), "org.example.N%d", i);
                ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_REGISTER, 10 + i, 0, name, NULL, NULL, NULL, NULL,
                                                 NULL), 0);
        }
        for (int i = 0; i < 1024; i++) {
                ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
                raw_frame_done(&f);
        }

        /* a new one is over the limit ... */
        ck_assert_int_eq(raw_register(fd, 2000, "org.example.More"), -EREMOTEIO);
        /* ... its own one again is not: it adds nothing */
        ck_assert_int_eq(raw_register(fd, 2001, "org.example.N7"), 0);
        close(fd);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static int64_t calls_routed(int fd, uint64_t serial) {
        struct raw_frame f;
        json_object *o;
        int64_t n;

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, serial, 0, MBUS_BROKER_NAMESPACE, "GetStats", NULL,
                                         NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        ck_assert_int_eq(f.reply_serial, serial);
        o = json_tokener_parse(f.body);
        ck_assert_ptr_nonnull(o);
        n = test_json_int(o, "calls_routed");
        json_object_put(o);
        raw_frame_done(&f);
        return n;
}

START_TEST(test_refused_calls_are_not_counted_as_routed) {
        struct test_broker b;
        struct test_service svc;
        struct raw_frame f;
        int64_t n0, n1, n2;
        int fd;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, NS), 0);
        fd = raw_connect(b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, "counter", NULL), 0);

        n0 = calls_routed(fd, 2);
        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 3, 0, "org.example.Nobody", "X", NULL, NULL, NULL,
                                         NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_ERROR, &f), 0);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE);
        raw_frame_done(&f);
        n1 = calls_routed(fd, 4);
        ck_assert_int_eq(n1, n0 + 1);  /* GetStats only */

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, 5, 0, NS, "Echo", NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(fd, 10000, MBUS_FRAME_RETURN, &f), 0);
        raw_frame_done(&f);
        n2 = calls_routed(fd, 6);
        ck_assert_int_eq(n2, n1 + 2);  /* the forwarded call and GetStats */
        close(fd);
        ck_assert_int_eq(test_service_quit(&svc, b.address, NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *limits_suite(void) {
        Suite *s = suite_create("e2e-limits");
        TCase *tc = tcase_create("limits");

        tcase_set_timeout(tc, 4 * TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_subscriber_that_never_reads_cannot_grow_the_broker);
        tcase_add_test(tc, test_peer_over_max_peers_is_refused_by_name);
        tcase_add_test(tc, test_broker_answer_is_never_larger_than_the_announced_frame_size);
        tcase_add_test(tc, test_calls_to_an_owner_that_never_reads_are_refused_not_lost);
        tcase_add_test(tc, test_hello_over_4096_bytes_is_refused_before_its_body_arrives);
        tcase_add_test(tc, test_broker_procedure_arguments_over_64k_are_refused);
        tcase_add_test(tc, test_register_body_over_256k_is_refused);
        tcase_add_test(tc, test_owner_at_the_namespace_limit_may_register_its_own_again);
        tcase_add_test(tc, test_refused_calls_are_not_counted_as_routed);
        suite_add_tcase(s, tc);

        /* a case of its own: its one bound is this timeout, as long as the rest together */
        tc = tcase_create("many-clients");
        tcase_set_timeout(tc, 8 * TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_200_concurrent_clients_all_get_answers);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(limits_suite)
