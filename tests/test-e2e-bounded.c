/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded work per message, end to end: a real broker, attackers in forked children (as uid
 * nobody when the test runs as root), and a well-behaved peer that measures its round trips.
 *
 * Latency bounds are ratios against the same broker idle, measured in the same run, plus a
 * generous floor for a loaded machine: the p99 of PING round trips during an attack must stay
 * under LATENCY_RATIO x an idle p99 + LATENCY_FLOOR_USEC. The idle baseline is the PING itself
 * for the large bodies, and one ListPeers page for the ListPeers spam: another peer may wait
 * behind a request or two of the attacker's, never behind its pile. What the bounds guard
 * against is a broker stalled for seconds (a 16 MiB body parsed whole, a pile of pipelined
 * ListPeers answered in one go), which no floor hides. Each test prints its figures.
 */

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>

#include <mbus/mbus.h>
#include <mbus/mbus-errors.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/list-util.h"
#include "helpers/raw-util.h"

#define NS "org.example.Bounded"
#define LATENCY_RATIO 10u
#define LATENCY_FLOOR_USEC (250u * 1000u)

/* The test service's procedures (test_service_start()), with an argument to validate. */
static const char bounded_interface[] =
        "<namespace name=\"" NS "\">\n"
        "  <procedure name=\"Echo\"><arg name=\"values\" type=\"array&lt;int&gt;\" optional=\"true\"/>"
        "</procedure>\n"
        "  <procedure name=\"Fail\"/>\n"
        "  <procedure name=\"Hang\"/>\n"
        "  <procedure name=\"Quit\"/>\n"
        "  <procedure name=\"Disconnect\"/>\n"
        "</namespace>\n";

static const char bounded_policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow call=\"*\" user=\"*\"/>\n"
        "</policy>\n";

/* The interface and policy of NS, in every broker these tests start. */
static const char *const bounded_files[] = {
        "interfaces.d/" NS ".xml", bounded_interface,
        "policy.d/" NS ".xml", bounded_policy,
        NULL
};

/* In a child: an attacker is unprivileged where the test can make it so. */
static void become_nobody(void) {
        if (geteuid() != 0)
                return;
        child_assert(setgroups(0, NULL) == 0);
        child_assert(setgid(TEST_GID_NOGROUP) == 0);
        child_assert(setuid(TEST_UID_NOBODY) == 0);
}

/* ---- latency ---------------------------------------------------------------------------- */

struct samples {
        uint64_t usec[8192];
        size_t n;
};

static void sample_ping(struct mbus_conn *conn, struct samples *s) {
        uint64_t t0 = test_now_usec();

        ck_assert_int_eq(mbus_ping(conn, 30 * 1000000ULL), 0);
        if (s->n < sizeof(s->usec) / sizeof(s->usec[0]))
                s->usec[s->n++] = test_now_usec() - t0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static uint64_t samples_p99(struct samples *s) {
        ck_assert_uint_gt(s->n, 0);
        qsort(s->usec, s->n, sizeof(s->usec[0]), compare_u64);
        return s->usec[(s->n * 99 + 99) / 100 - 1];
}

static void idle_samples(struct mbus_conn *conn, struct samples *s) {
        for (int i = 0; i < 300; i++)
                sample_ping(conn, s);
}

/* idle: the baseline, round trips of what the attacker sends, measured on the idle broker. */
static void assert_latency_bounded(const char *what, struct samples *idle, struct samples *busy) {
        uint64_t p_idle = samples_p99(idle), p_busy = samples_p99(busy);
        uint64_t bound = LATENCY_RATIO * p_idle + LATENCY_FLOOR_USEC;

        fprintf(stderr, "%s: p99 %" PRIu64 " us idle, PING p99 %" PRIu64 " us under attack (%zu samples, max %" PRIu64
                " us); bound %" PRIu64 " us\n", what, p_idle, p_busy, busy->n, busy->usec[busy->n - 1], bound);
        ck_assert_msg(p_busy <= bound, "%s: p99 %" PRIu64 " us under attack, over %u x %" PRIu64 " us idle + %u us",
                      what, p_busy, LATENCY_RATIO, p_idle, LATENCY_FLOOR_USEC);
}

/* Round trips of one ListPeers page on the idle broker: the most one request may cost. */
static void idle_page_samples(struct mbus_conn *conn, struct samples *s) {
        for (int i = 0; i < 30; i++) {
                uint64_t t0 = test_now_usec();
                json_object *o = NULL;

                ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "ListPeers", NULL, 0, &o, NULL), 0);
                s->usec[s->n++] = test_now_usec() - t0;
                json_object_put(o);
        }
}

/* The parent keeps only the reading end: a child that fails ends the pipe instead of a line. */
static void close_writer(struct test_pipe *p) {
        close(p->fd[1]);
        p->fd[1] = -1;
}

/* Pings until every one of n lines has come on done (one per attacker), at least min times. */
static void busy_samples(struct mbus_conn *conn, struct test_pipe *done, int n, struct samples *s, size_t min) {
        char line[128];

        while (n > 0 || s->n < min) {
                struct pollfd p = { .fd = done->fd[0], .events = POLLIN };

                sample_ping(conn, s);
                if (n > 0 && poll(&p, 1, 0) > 0) {
                        ck_assert_msg(test_pipe_read_line(done, line, sizeof(line), 1000) == 0,
                                      "an attacker failed (see its message above)");
                        ck_assert_msg(strncmp(line, "ok", 2) == 0, "attacker: %s", line);
                        n--;
                }
        }
}

/* The size of the frame waiting on fd, from its fixed header, without consuming it. */
/* ---- (a) a 16 MiB body to a validated namespace ------------------------------------------ */

#define BIG_BODY (16u * 1024u * 1024u)
#define BIG_CALLS 4

struct big_attacker {
        const char *address;
        struct test_pipe *done;
};

/* A CALL of ns.member with body, as a raw frame in f. */
static void raw_call_frame(struct raw_buf *f, uint64_t serial, const char *ns, const char *member, const char *body) {
        *f = (struct raw_buf) {};
        raw_frame_begin(f, MBUS_FRAME_CALL);
        raw_field_u64(f, MBUS_FIELD_SERIAL, serial);
        raw_field_str(f, MBUS_FIELD_NAMESPACE, ns);
        raw_field_str(f, MBUS_FIELD_MEMBER, member);
        raw_frame_finish(f, body);
}

/* "[0,0,...,0]", BIG_BODY bytes. */
static char *zeros_array(void) {
        char *body = malloc(BIG_BODY + 1);

        if (!body)
                return NULL;
        body[0] = '[';
        for (size_t i = 1; i + 1 < BIG_BODY; i += 2)
                memcpy(body + i, "0,", 2);
        body[BIG_BODY - 1] = ']';
        body[BIG_BODY] = 0;
        return body;
}

/*
 * Sends BIG_CALLS calls of NS.Echo with a 16 MiB body, one after the other, each answered by
 * exactly one ERROR LimitsExceeded naming max-body-size; then a Ping call whose RETURN is the
 * next frame, so no answer came twice.
 */
static int big_attacker_run(void *userdata) {
        struct big_attacker *a = userdata;
        struct raw_frame r = {};
        char *body;
        int fd;

        become_nobody();
        fd = raw_connect(a->address);
        child_assert(fd >= 0);
        child_assert(raw_hello(fd, "big-body", NULL) == 0);
        body = zeros_array();
        child_assert(body);

        for (uint64_t serial = 2; serial < 2 + BIG_CALLS; serial++) {
                struct raw_buf f;

                raw_call_frame(&f, serial, NS, "Echo", body);
                child_assert(raw_send_buf(fd, &f) == 0);
                raw_buf_done(&f);
                child_assert(raw_recv(fd, 30000, &r) == 0);
                if (!r.error_name || strcmp(r.error_name, MBUS_ERROR_LIMITS_EXCEEDED) != 0)
                        fprintf(stderr, "big-body answer: %s %s\n", r.error_name ?: "(none)", r.body ?: "");
                child_assert(r.type == MBUS_FRAME_ERROR);
                child_assert(r.reply_serial == serial);
                child_assert(r.error_name && strcmp(r.error_name, MBUS_ERROR_LIMITS_EXCEEDED) == 0);
                child_assert(r.body && strstr(r.body, "max-body-size"));
                raw_frame_done(&r);
        }
        free(body);

        child_assert(raw_send_simple(fd, MBUS_FRAME_CALL, 100, 0, MBUS_BROKER_NAMESPACE, "Ping", NULL, NULL, NULL,
                                     NULL) == 0);
        child_assert(raw_recv(fd, 30000, &r) == 0);
        child_assert(r.type == MBUS_FRAME_RETURN && r.reply_serial == 100);
        raw_frame_done(&r);
        close(fd);
        test_pipe_write(a->done, "ok");
        return 0;
}

START_TEST(test_huge_body_to_a_validated_namespace_costs_the_others_little) {
        static const char *const args[] = { "--max-frame-size", "17M", NULL };
        enum { N_ATTACKERS = 3 };
        static struct samples idle, busy;
        struct test_service svc;
        struct test_pipe done;
        struct big_attacker a;
        struct mbus_conn *conn;
        json_object *o = NULL, *args_ok;
        pid_t pids[N_ATTACKERS];
        long rss_base, rss_after;
        struct test_env e;

        test_asan_small_quarantine();
        test_env_start(&e, bounded_files, args);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);
        conn = test_connect(e.b.address, "prober");

        /* A well-formed body goes through the same check to the service. */
        args_ok = json_tokener_parse("{\"values\": [1, 2, 3]}");
        ck_assert_int_eq(mbus_call(conn, NS, "Echo", args_ok, 0, &o, NULL), 0);
        ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "values")), 3);
        json_object_put(o);
        json_object_put(args_ok);

        rss_base = test_broker_rss_kb(&e.b);
        idle = (struct samples) {};
        busy = (struct samples) {};
        idle_samples(conn, &idle);

        test_pipe_init(&done);
        a = (struct big_attacker) { .address = e.b.address, .done = &done };
        for (int i = 0; i < N_ATTACKERS; i++)
                pids[i] = test_fork(big_attacker_run, &a);
        close_writer(&done);
        busy_samples(conn, &done, N_ATTACKERS, &busy, 50);
        for (int i = 0; i < N_ATTACKERS; i++)
                ck_assert_int_eq(test_wait(pids[i], 60000), 0);
        test_pipe_close(&done);

        assert_latency_bounded("16 MiB bodies", &idle, &busy);

        /* The bodies were never parsed into anything, and their buffers went back. */
        ck_assert_int_eq(mbus_ping(conn, 5000000), 0);
        rss_after = test_broker_rss_kb(&e.b);
        fprintf(stderr, "16 MiB bodies: broker RSS %ld KiB before, %ld KiB after\n", rss_base, rss_after);
        ck_assert_msg(rss_after - rss_base < 32 * 1024, "RSS %ld KiB after, %ld before", rss_after, rss_base);

        mbus_conn_unref(conn);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        test_env_done(&e);
}
END_TEST

/* ---- (b) ListPeers spam with many peers ------------------------------------------------- */

#define SPAM_BATCH 20

struct spammer {
        const char *address;
        struct test_pipe *done, *stop;
};

/*
 * Pipelines SPAM_BATCH ListPeers calls at once, reads their answers (each a full page naming
 * the next), and again, until stop says so.
 */
static int spammer_run(void *userdata) {
        struct spammer *s = userdata;
        struct raw_buf batch = {};
        uint64_t serial = 2, rounds = 0;
        int fd;

        become_nobody();
        fd = raw_connect(s->address);
        child_assert(fd >= 0);
        child_assert(raw_hello(fd, "spammer", NULL) == 0);

        for (;;) {
                struct pollfd p = { .fd = s->stop->fd[0], .events = POLLIN };

                if (poll(&p, 1, 0) > 0)
                        break;
                batch.len = 0;
                for (int i = 0; i < SPAM_BATCH; i++) {
                        struct raw_buf f;

                        raw_call_frame(&f, serial + i, MBUS_BROKER_NAMESPACE, "ListPeers", NULL);
                        if (batch.len + f.len > batch.cap) {
                                batch.cap = (batch.len + f.len) * 2;
                                batch.data = realloc(batch.data, batch.cap);
                                child_assert(batch.data);
                        }
                        memcpy(batch.data + batch.len, f.data, f.len);
                        batch.len += f.len;
                        raw_buf_done(&f);
                }
                child_assert(raw_send_buf(fd, &batch) == 0);
                for (int i = 0; i < SPAM_BATCH; i++) {
                        struct raw_frame r = {};
                        json_object *o, *peers;

                        child_assert(raw_recv(fd, 120000, &r) == 0);
                        child_assert(r.type == MBUS_FRAME_RETURN && r.reply_serial == serial + i);
                        o = json_tokener_parse(r.body);
                        child_assert(o && json_object_object_get_ex(o, "peers", &peers));
                        if (json_object_array_length(peers) != 100)
                                fprintf(stderr, "ListPeers page: %zu peers, %.300s\n",
                                        json_object_array_length(peers), r.body);
                        child_assert(json_object_array_length(peers) == 100);
                        child_assert(test_json_str(o, "next"));
                        json_object_put(o);
                        raw_frame_done(&r);
                }
                serial += SPAM_BATCH;
                rounds++;
        }
        raw_buf_done(&batch);
        close(fd);
        child_assert(rounds > 0);
        test_pipe_write(s->done, "ok");
        return 0;
}

START_TEST(test_list_peers_spam_leaves_other_peers_latency_bounded) {
        enum { N_IDLE = 300, N_SPAMMERS = 4 };
        static struct samples idle, busy;
        static int fds[N_IDLE];
        struct test_pipe done, stop;
        struct spammer sp;
        struct mbus_conn *conn;
        pid_t pids[N_SPAMMERS];
        struct test_env e;

        test_raise_nofile(N_IDLE + 64);
        test_env_start(&e, bounded_files, NULL);
        for (int i = 0; i < N_IDLE; i++) {
                fds[i] = raw_connect(e.b.address);
                ck_assert_int_ge(fds[i], 0);
                ck_assert_int_eq(raw_hello(fds[i], "idle-peer-with-a-longer-name-as-real-clients-have", NULL), 0);
        }
        conn = test_connect(e.b.address, "prober");
        idle = (struct samples) {};
        busy = (struct samples) {};
        idle_page_samples(conn, &idle);

        test_pipe_init(&done);
        test_pipe_init(&stop);
        sp = (struct spammer) { .address = e.b.address, .done = &done, .stop = &stop };
        for (int i = 0; i < N_SPAMMERS; i++)
                pids[i] = test_fork(spammer_run, &sp);
        close_writer(&done);
        /* 300 round trips of the prober while the spam goes on, then stop it. */
        busy_samples(conn, &done, 0, &busy, 300);
        test_pipe_write(&stop, "stop");
        busy_samples(conn, &done, N_SPAMMERS, &busy, 0);
        for (int i = 0; i < N_SPAMMERS; i++)
                ck_assert_int_eq(test_wait(pids[i], 60000), 0);
        test_pipe_close(&done);
        test_pipe_close(&stop);

        assert_latency_bounded("ListPeers spam", &idle, &busy);

        mbus_conn_unref(conn);
        for (int i = 0; i < N_IDLE; i++)
                close(fds[i]);
        test_env_done(&e);
}
END_TEST

/* ---- (c) pages that fit the announced frame size ------------------------------------------ */

START_TEST(test_list_pages_fit_the_announced_frame_size_and_walk_everything) {
        static const char *const args[] = { "--max-frame-size", "8192", NULL };
        enum { N = 40 };
        char name[200], buf[128], gone[32] = "";
        int fds[N], lister, seen[N + 8] = {}, pages = 0;
        const char *err;
        uint64_t serial = 2;
        char *after = NULL;
        json_object *o, *list;
        struct test_env e;

        test_env_start(&e, bounded_files, args);
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        for (int i = 0; i < N; i++) {
                char *id = NULL;

                fds[i] = raw_connect(e.b.address);
                ck_assert_int_ge(fds[i], 0);
                snprintf(name, 12, "peer%04d", i);
                name[strlen(name)] = 'n';       /* long names: a page holds a few of them only */
                ck_assert_int_eq(raw_hello(fds[i], name, &id), 0);
                if (i == 10)
                        snprintf(gone, sizeof(gone), "%s", id);
                free(id);
        }
        lister = raw_connect(e.b.address);
        ck_assert_int_ge(lister, 0);
        ck_assert_int_eq(raw_hello(lister, "lister", NULL), 0);

        /* Page by page from {}: every peer exactly once, in connect order, each page a frame of at
         * most 8192 bytes. */
        for (;;) {
                size_t n;

                if (after)
                        snprintf(buf, sizeof(buf), "{\"after\": \"%s\"}", after);
                o = test_raw_broker_call(lister, serial++, "ListPeers", after ? buf : NULL, 8192, &err);
                ck_assert_ptr_null(err);
                ck_assert(json_object_object_get_ex(o, "peers", &list));
                n = json_object_array_length(list);
                pages++;
                for (size_t i = 0; i < n; i++) {
                        const char *pname = test_json_str(json_object_array_get_idx(list, i), "name");
                        int k;

                        ck_assert_ptr_nonnull(pname);
                        if (strcmp(pname, "lister") == 0)
                                k = N;
                        else
                                ck_assert_int_eq(sscanf(pname, "peer%4d", &k), 1);
                        ck_assert_int_eq(seen[k]++, 0);
                }
                free(after);
                after = test_json_str(o, "next") ? strdup(test_json_str(o, "next")) : NULL;
                json_object_put(o);
                if (!after)
                        break;
                ck_assert_uint_gt(n, 0);
                ck_assert_int_lt(pages, 100);
        }
        for (int k = 0; k <= N; k++)
                ck_assert_msg(seen[k] == 1, "peer %d seen %d times", k, seen[k]);
        ck_assert_int_gt(pages, 2);

        /* "limit" makes smaller pages; "next" is the last one given. */
        o = test_raw_broker_call(lister, serial++, "ListPeers", "{\"limit\": 3}", 8192, &err);
        ck_assert(json_object_object_get_ex(o, "peers", &list));
        ck_assert_uint_eq(json_object_array_length(list), 3);
        ck_assert_str_eq(test_json_str(o, "next"), test_json_str(json_object_array_get_idx(list, 2), "id"));
        json_object_put(o);

        /* A cursor whose peer has left still leads on, to the peer after it. */
        close(fds[10]);
        fds[10] = -1;
        snprintf(buf, sizeof(buf), "{\"id\": \"%s\"}", gone);
        for (int i = 0; i < 100; i++) {
                o = test_raw_broker_call(lister, serial++, "GetPeer", buf, 8192, &err);
                if (!o)
                        break;
                json_object_put(o);
                usleep(20 * 1000);
        }
        ck_assert_str_eq(err, MBUS_ERROR_NO_SUCH_PEER);
        snprintf(buf, sizeof(buf), "{\"after\": \"%s\", \"limit\": 1}", gone);
        o = test_raw_broker_call(lister, serial++, "ListPeers", buf, 8192, &err);
        ck_assert(json_object_object_get_ex(o, "peers", &list));
        ck_assert_uint_eq(json_object_array_length(list), 1);
        ck_assert_ptr_nonnull(strstr(test_json_str(json_object_array_get_idx(list, 0), "name"), "peer0011"));
        json_object_put(o);

        /* Bad arguments are InvalidArgs, by the interface file or the broker itself. */
        ck_assert_ptr_null(test_raw_broker_call(lister, serial++, "ListPeers", "{\"limit\": 0}", 8192, &err));
        ck_assert_str_eq(err, MBUS_ERROR_INVALID_ARGS);
        ck_assert_ptr_null(test_raw_broker_call(lister, serial++, "ListPeers", "{\"limit\": \"3\"}", 8192, &err));
        ck_assert_str_eq(err, MBUS_ERROR_INVALID_ARGS);
        ck_assert_ptr_null(test_raw_broker_call(lister, serial++, "ListPeers", "{\"after\": \"me\"}", 8192, &err));
        ck_assert_str_eq(err, MBUS_ERROR_INVALID_ARGS);

        /* ListNamespaces pages the same way, by name. */
        ck_assert_int_eq(raw_register(lister, serial++, "org.example.B"), 0);
        ck_assert_int_eq(raw_register(lister, serial++, "org.example.A"), 0);
        {
                const char *expected[] = { "org.example.A", "org.example.B", NS, MBUS_BROKER_NAMESPACE };
                size_t k = 0;

                free(after);
                after = NULL;
                for (;;) {
                        if (after)
                                snprintf(buf, sizeof(buf), "{\"after\": \"%s\", \"limit\": 1}", after);
                        o = test_raw_broker_call(lister, serial++, "ListNamespaces", after ? buf : "{\"limit\": 1}", 8192, &err);
                        ck_assert(json_object_object_get_ex(o, "namespaces", &list));
                        if (json_object_array_length(list) == 1) {
                                ck_assert_uint_lt(k, 4);
                                ck_assert_str_eq(test_json_str(json_object_array_get_idx(list, 0), "namespace"),
                                                 expected[k++]);
                        }
                        free(after);
                        after = test_json_str(o, "next") ? strdup(test_json_str(o, "next")) : NULL;
                        json_object_put(o);
                        if (!after)
                                break;
                }
                ck_assert_uint_eq(k, 4);
        }

        free(after);
        close(lister);
        for (int i = 0; i < N; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        test_env_done(&e);
}
END_TEST

/* ---- input buffers in the memory budget --------------------------------------------------- */

/*
 * With a small budget, a large frame from an unprivileged user is refused while it arrives:
 * ERROR LimitsExceeded outside any call, naming the frame, then the close; a frame within the
 * share passes, root's larger one too (the reserve is root's), and the budget is all given
 * back afterwards.
 */
struct sender {
        const char *address;
        size_t body;
        bool refused;
};

static int sender_run(void *userdata) {
        struct sender *s = userdata;
        struct raw_frame r = {};
        struct raw_buf f;
        char *body;
        int fd;

        (void) signal(SIGPIPE, SIG_IGN);
        become_nobody();
        fd = raw_connect(s->address);
        child_assert(fd >= 0);
        child_assert(raw_hello(fd, "sender", NULL) == 0);
        body = malloc(s->body + 1);
        child_assert(body);
        memset(body, ' ', s->body);
        body[s->body] = 0;
        raw_call_frame(&f, 2, "org.example.Nowhere", "Take", body);
        free(body);
        /* A refused frame is not read to its end: the send may break off. */
        (void) raw_send_buf(fd, &f);
        raw_buf_done(&f);
        child_assert(raw_recv(fd, 20000, &r) == 0);
        child_assert(r.type == MBUS_FRAME_ERROR);
        if (s->refused) {
                child_assert(r.reply_serial == 0);
                child_assert(strcmp(r.error_name, MBUS_ERROR_LIMITS_EXCEEDED) == 0);
                child_assert(strstr(r.body, "Frame of ") && strstr(r.body, "bytes refused"));
                child_assert(strstr(r.body, "queued_bytes"));
                child_assert(raw_wait_eof(fd, 20000) == 0);
        } else {
                /* it arrived whole and was routed: nobody owns the namespace */
                child_assert(r.reply_serial == 2);
                child_assert(strcmp(r.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE) == 0);
        }
        raw_frame_done(&r);
        close(fd);
        return 0;
}

START_TEST(test_large_input_frames_count_in_the_memory_budget) {
        static const char *const args[] = { "--max-queue-bytes-total", "8M", NULL };
        struct sender s;
        struct mbus_conn *root;
        json_object *o = NULL;
        struct test_env e;
        int fd;

        test_env_start(&e, bounded_files, args);
        root = test_connect(e.b.address, "admin");

        /* 1 MiB fits an unprivileged user's share of 8 MiB; 12 MiB does not. */
        s = (struct sender) { .address = e.b.address, .body = 1024 * 1024, .refused = false };
        ck_assert_int_eq(test_wait(test_fork(sender_run, &s), 30000), 0);
        s = (struct sender) { .address = e.b.address, .body = 12 * 1024 * 1024, .refused = true };
        ck_assert_int_eq(test_wait(test_fork(sender_run, &s), 30000), 0);

        /* Root may use the whole budget, beyond an unprivileged share. */
        if (geteuid() == 0) {
                struct raw_frame r = {};
                struct raw_buf f;
                char *body = malloc(5 * 1024 * 1024 + 1);

                ck_assert_ptr_nonnull(body);
                memset(body, ' ', 5 * 1024 * 1024);
                body[5 * 1024 * 1024] = 0;
                fd = raw_connect(e.b.address);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(raw_hello(fd, "root-sender", NULL), 0);
                raw_call_frame(&f, 2, "org.example.Nowhere", "Take", body);
                free(body);
                ck_assert_int_eq(raw_send_buf(fd, &f), 0);
                raw_buf_done(&f);
                ck_assert_int_eq(raw_recv(fd, 20000, &r), 0);
                ck_assert_str_eq(r.error_name, MBUS_ERROR_NO_SUCH_NAMESPACE);
                ck_assert_uint_eq(r.reply_serial, 2);
                raw_frame_done(&r);
                close(fd);
        }

        /* The broker answers, and holds no input any more. */
        ck_assert_int_eq(mbus_call(root, MBUS_BROKER_NAMESPACE, "GetStats", NULL, 0, &o, NULL), 0);
        /* (but for the read buffer of this very call) */
        ck_assert_int_le(test_json_int(o, "queued_bytes"), 64 * 1024);
        json_object_put(o);
        ck_assert(test_file_wait_for(e.c.log, "queued_bytes", 5000));
        mbus_conn_unref(root);
        test_env_done(&e);
}
END_TEST

static Suite *bounded_suite(void) {
        Suite *s = suite_create("e2e-bounded");
        TCase *tc = tcase_create("bounded");

        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_list_pages_fit_the_announced_frame_size_and_walk_everything);
        tcase_add_test(tc, test_large_input_frames_count_in_the_memory_budget);
        tcase_add_test(tc, test_huge_body_to_a_validated_namespace_costs_the_others_little);
        tcase_add_test(tc, test_list_peers_spam_leaves_other_peers_latency_bounded);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_config_main(bounded_suite);
}
