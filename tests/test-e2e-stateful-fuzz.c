/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stateful fuzzer against a live broker, bounded to a few seconds. Several raw connections
 * send random sequences of frames from a seeded generator: valid ones (HELLO, REGISTER, CALL,
 * RETURN, ERROR, SUBSCRIBE, EVENT, PING) with names and serials from small pools so that they
 * meet (calls reach owners, owners answer real calls, twice, late, or to the wrong peer), and
 * invalid ones (garbage, truncated frames, frames that announce more than the maximum size,
 * serial 0, a second HELLO, a forged sender, bodies that are not JSON); a connection that the
 * broker drops is opened again. Meanwhile a well-behaved libmbus client keeps a few calls in
 * flight to a well-behaved service the whole time.
 *
 * What must hold: every call of the good client gets exactly one answer, and it is the right
 * one (the echo of its own arguments); at the end the broker is alive (a new client connects,
 * PING gets PONG, org.mbus.Broker.Ping answers) and, stopped with SIGTERM, exits 0 (so under
 * AddressSanitizer nothing leaked or was misused on the way).
 *
 * The seed is printed; MBUS_FUZZ_SEED=N repeats a run's sequence of frames (the interleaving
 * with the broker's answers is the scheduler's). MBUS_FUZZ_STEPS=N changes the number of
 * frames (default 6000).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "util/macro.h"
#include "util/test-util.h"

#define STABLE_NS "org.test.Stable"
#define N_CHAOS 6
#define GOOD_IN_FLIGHT 4
#define CHAOS_STEPS_DEFAULT 6000

/* --- the generator ------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void) {
        /* xorshift64*: small, fast, and the same sequence everywhere for a seed */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ull;
}

static unsigned pick(unsigned n) {
        return (unsigned) (rng() % n);
}

static const char *pick_of(const char *const *a, size_t n) {
        return a[pick((unsigned) n)];
}

static const char *const namespaces[] = {
        "org.fuzz.A", "org.fuzz.B", "org.fuzz.C", STABLE_NS, MBUS_BROKER_NAMESPACE, "org.fuzz.Nobody",
};
static const char *const members[] = { "Echo", "Get", "Set", "Changed", "Ping", "GetStats", "ListPeers" };
static const char *const patterns[] = { "*", "org.fuzz.*", "org.fuzz.A.*", "org.fuzz.B.Changed", STABLE_NS ".*" };
static const char *const bodies[] = {
        NULL, "{}", "{\"a\": 1}", "[1, 2, 3]", "\"text\"", "{\"nested\": [[[[[[[[1]]]]]]]]}", "{broken",
        "null", "{\"message\": \"chaos\"}", "\xff\xfe not utf-8",
};
static const char *const error_names[] = {
        "org.fuzz.Error.Oops", MBUS_ERROR_ACCESS_DENIED, MBUS_ERROR_TIMEOUT, MBUS_ERROR_FAILED,
};

/* --- one chaos connection --------------------------------------------------------------------- */

struct chaos {
        int fd;                         /* non-blocking; -1 while closed */
        uint64_t serial;                /* next serial */
        uint8_t in[65536];              /* what arrived, for the CALLs to answer */
        size_t n_in;
        uint8_t *out;                   /* what the socket did not take yet */
        size_t n_out;
        bool reads;                     /* some connections never read: the broker's queue limits */
        bool hello;                     /* HELLO sent: another one is rarely sent (it is fatal) */
        uint64_t call_serial;           /* the last CALL that arrived, to answer (0: none) */
        char call_sender[32];
};

struct chaos_stats {
        unsigned frames, garbage, reconnects;
};

static void chaos_close(struct chaos *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        free(c->out);
        c->out = NULL;
        c->n_out = c->n_in = 0;
        c->call_serial = 0;
}

static int chaos_open(struct chaos *c, const char *address) {
        c->fd = raw_connect(address);
        if (c->fd < 0)
                return c->fd;
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        c->serial = 1;
        c->reads = pick(4) != 0;
        c->hello = false;
        return 0;
}

/* Queues bytes and writes what the socket takes; a hang-up closes the connection. */
static void chaos_write(struct chaos *c, const void *data, size_t len) {
        uint8_t *o;

        if (c->fd < 0)
                return;
        if (c->n_out > 1024 * 1024)
                return;         /* the broker stopped reading us: drop what we would add */
        o = realloc(c->out, c->n_out + len);
        ck_assert_ptr_nonnull(o);
        memcpy(o + c->n_out, data, len);
        c->out = o;
        c->n_out += len;
        while (c->n_out > 0) {
                ssize_t n = send(c->fd, c->out, c->n_out, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno != EAGAIN)
                                chaos_close(c);
                        return;
                }
                memmove(c->out, c->out + n, c->n_out - (size_t) n);
                c->n_out -= (size_t) n;
        }
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Remembers the serial and sender of a CALL frame, so that a later RETURN or ERROR can answer it. */
static void chaos_note_call(struct chaos *c, const uint8_t *f, size_t fields_len) {
        for (size_t i = 0; i + 4 <= fields_len;) {
                uint8_t code = f[i];
                size_t len = f[i + 2] | (size_t) f[i + 3] << 8;

                if (i + 4 + len > fields_len)
                        return;
                if (code == MBUS_FIELD_SERIAL && len == 8)
                        memcpy(&c->call_serial, f + i + 4, 8);          /* little-endian hosts */
                else if (code == MBUS_FIELD_SENDER && len < sizeof(c->call_sender))
                        memcpy(c->call_sender, f + i + 4, len);         /* with its NUL */
                i += 4 + len;
        }
}

/* Reads what arrived; frames are skipped except CALLs, noted. EOF closes the connection. */
static void chaos_read(struct chaos *c) {
        if (c->fd < 0 || !c->reads)
                return;
        for (;;) {
                ssize_t n = recv(c->fd, c->in + c->n_in, sizeof(c->in) - c->n_in, MSG_DONTWAIT);

                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                        chaos_close(c);
                        return;
                }
                if (n < 0)
                        return;
                c->n_in += (size_t) n;
                for (;;) {
                        size_t size;

                        if (c->n_in < MBUS_FRAME_HEADER_SIZE)
                                break;
                        size = MBUS_FRAME_HEADER_SIZE + (size_t) le32(c->in + 4) + le32(c->in + 8);
                        if (size > sizeof(c->in)) {     /* big: forget this connection's input */
                                chaos_close(c);
                                return;
                        }
                        if (c->n_in < size)
                                break;
                        if (c->in[1] == MBUS_FRAME_CALL)
                                chaos_note_call(c, c->in + MBUS_FRAME_HEADER_SIZE, le32(c->in + 4));
                        memmove(c->in, c->in + size, c->n_in - size);
                        c->n_in -= size;
                }
        }
}

static void chaos_send_frame(struct chaos *c, struct raw_buf *b, bool truncate) {
        size_t len = b->len;

        if (truncate && len > 1)
                len = 1 + pick((unsigned) len - 1);
        chaos_write(c, b->data, len);
        raw_buf_done(b);
}

/* One random step of one connection. */
static void chaos_step(struct chaos *c, const char *address, struct chaos_stats *st) {
        struct raw_buf b = {};
        unsigned what = pick(1000);       /* per mille: mostly valid frames, so states grow deep */
        uint64_t serial = pick(100) == 0 ? (pick(2) ? 0 : c->serial - 1) : c->serial++;  /* 0 or reused */
        char dest[32];

        if (c->fd < 0) {
                if (chaos_open(c, address) < 0)
                        return;
                st->reconnects++;
                what = 0;       /* a new connection mostly starts right */
        }
        snprintf(dest, sizeof(dest), ":1.%u", pick(40));
        st->frames++;

        if (what < 60 && c->hello && pick(10))
                what = 140 + pick(280);                         /* a CALL instead */
        if (what < 60) {                                         /* HELLO, sometimes twice */
                c->hello = true;
                raw_frame_begin(&b, MBUS_FRAME_HELLO);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_frame_finish(&b, pick(8) ? "{\"name\": \"chaos\"}" : pick_of(bodies, ELEMENTSOF(bodies)));
        } else if (what < 140) {                                 /* REGISTER */
                raw_frame_begin(&b, MBUS_FRAME_REGISTER);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, pick_of(namespaces, ELEMENTSOF(namespaces)));
                raw_frame_finish(&b, pick(3) ? NULL : "{\"procedures\": [\"Get\", \"Set\"], \"events\": [\"Changed\"]}");
        } else if (what < 420) {                                 /* CALL */
                raw_frame_begin(&b, MBUS_FRAME_CALL);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, pick_of(namespaces, ELEMENTSOF(namespaces)));
                raw_field_str(&b, MBUS_FIELD_MEMBER, pick_of(members, ELEMENTSOF(members)));
                if (pick(3) == 0)
                        raw_field_u64(&b, MBUS_FIELD_TIMEOUT, 1000 * (1 + pick(500)));
                if (pick(100) == 0)
                        raw_field_str(&b, MBUS_FIELD_SENDER, ":1.1");   /* forged: a protocol error */
                raw_frame_finish(&b, pick_of(bodies, ELEMENTSOF(bodies)));
        } else if (what < 580) {                                 /* RETURN or ERROR */
                bool error = pick(2);
                bool real = c->call_serial && pick(4);          /* to a call that arrived */

                raw_frame_begin(&b, error ? MBUS_FRAME_ERROR : MBUS_FRAME_RETURN);
                raw_field_u64(&b, MBUS_FIELD_REPLY_SERIAL, real ? c->call_serial : pick(50));
                if (pick(10))
                        raw_field_str(&b, MBUS_FIELD_DESTINATION, real && pick(5) ? c->call_sender : dest);
                if (error)
                        raw_field_str(&b, MBUS_FIELD_ERROR_NAME, pick_of(error_names, ELEMENTSOF(error_names)));
                raw_frame_finish(&b, pick_of(bodies, ELEMENTSOF(bodies)));
                if (real && pick(3))
                        c->call_serial = 0;     /* else: it may be answered twice */
        } else if (what < 680) {                                 /* SUBSCRIBE / UNSUBSCRIBE */
                raw_frame_begin(&b, pick(4) ? MBUS_FRAME_SUBSCRIBE : MBUS_FRAME_UNSUBSCRIBE);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&b, MBUS_FIELD_PATTERN, pick(30) ? pick_of(patterns, ELEMENTSOF(patterns)) : "org..bad");
                raw_frame_finish(&b, NULL);
        } else if (what < 860) {                                 /* EVENT */
                raw_frame_begin(&b, MBUS_FRAME_EVENT);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, pick_of(namespaces, ELEMENTSOF(namespaces)));
                raw_field_str(&b, MBUS_FIELD_MEMBER, pick(2) ? "Changed" : pick_of(members, ELEMENTSOF(members)));
                if (pick(4) == 0)
                        raw_field_str(&b, MBUS_FIELD_DESTINATION, dest);
                raw_frame_finish(&b, pick_of(bodies, ELEMENTSOF(bodies)));
        } else if (what < 960) {                                 /* PING */
                raw_frame_begin(&b, MBUS_FRAME_PING);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_frame_finish(&b, NULL);
        } else if (what < 972) {                                 /* a frame cut short */
                raw_frame_begin(&b, MBUS_FRAME_CALL);
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, STABLE_NS);
                raw_field_str(&b, MBUS_FIELD_MEMBER, "Echo");
                raw_frame_finish(&b, "{\"cut\": true}");
                chaos_send_frame(c, &b, /* truncate= */ true);
                st->garbage++;
                return;
        } else if (what < 982) {                                 /* announces more than any limit */
                raw_frame_begin(&b, MBUS_FRAME_EVENT);
                raw_frame_finish(&b, NULL);
                b.data[8] = 0xff;                               /* body_len: ~4 GiB */
                b.data[9] = 0xff;
                b.data[10] = 0xff;
                b.data[11] = 0x7f;
                st->garbage++;
        } else if (what < 994) {                                 /* garbage */
                uint8_t junk[64];

                for (size_t i = 0; i < sizeof(junk); i++)
                        junk[i] = (uint8_t) rng();
                if (pick(2))
                        junk[0] = MBUS_PROTOCOL_VERSION;        /* gets past the first check */
                chaos_write(c, junk, 1 + pick(sizeof(junk)));
                st->garbage++;
                return;
        } else {                                                /* hang up */
                chaos_close(c);
                return;
        }
        chaos_send_frame(c, &b, /* truncate= */ false);
}

/* --- the well-behaved client -------------------------------------------------------------------- */

struct good {
        unsigned *answers;              /* per call: how many answers it got */
        unsigned n_calls, n_max, n_done, n_wrong, n_errors;
        struct mbus_conn *conn;
        bool stop;
        char last_error[256];
};

static int good_call(struct good *g);

static int good_on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                         void *userdata) {
        struct good *g = *(struct good **) userdata;
        unsigned idx = (unsigned) (uintptr_t) ((struct good **) userdata)[1];

        free(userdata);
        g->answers[idx]++;
        g->n_done++;
        if (error) {
                g->n_errors++;
                snprintf(g->last_error, sizeof(g->last_error), "call %u: %s: %s", idx, error->name,
                         error->message ?: "");
        } else if (test_json_int(result, "i") != idx)
                g->n_wrong++;
        if (!g->stop && g->n_calls < g->n_max)
                (void) good_call(g);
        return 0;
}

static int good_call(struct good *g) {
        json_object *args = json_object_new_object();
        void **ud = malloc(2 * sizeof(void *));
        int r;

        child_assert(args && ud);
        ud[0] = g;
        ud[1] = (void *) (uintptr_t) g->n_calls;
        json_object_object_add(args, "i", json_object_new_int64(g->n_calls));
        r = mbus_call_async(g->conn, STABLE_NS, "Echo", args, 20 * 1000 * 1000, good_on_reply, ud, NULL);
        json_object_put(args);
        if (r < 0) {
                free(ud);
                return r;
        }
        g->n_calls++;
        return 0;
}

struct good_args {
        const char *address;
        struct test_pipe ready, report;
        int stop_fd;                    /* readable: stop starting calls */
};

/* Keeps GOOD_IN_FLIGHT calls in flight until told to stop, then reports "calls ok wrong errors
 * duplicates missing" once every call has its answer. */
static int good_main(void *userdata) {
        struct good_args *a = userdata;
        struct good g = { .n_max = 1000000 };
        unsigned dup = 0, missing = 0;
        char line[512];

        g.answers = calloc(g.n_max, sizeof(unsigned));
        child_assert(g.answers);
        child_assert(mbus_conn_open(&g.conn, a->address, "good-client") == 0);
        for (unsigned i = 0; i < GOOD_IN_FLIGHT; i++)
                child_assert(good_call(&g) == 0);
        test_pipe_write(&a->ready, "ready");

        while (g.n_done < g.n_calls) {
                struct pollfd p = { .fd = a->stop_fd, .events = POLLIN };
                int r;

                r = mbus_conn_process(g.conn);
                child_assert(r >= 0);
                if (r > 0)
                        continue;
                if (!g.stop && poll(&p, 1, 0) > 0)
                        g.stop = true;
                child_assert(mbus_conn_wait(g.conn, 50 * 1000) >= 0);
        }
        for (unsigned i = 0; i < g.n_calls; i++) {
                dup += g.answers[i] > 1;
                missing += g.answers[i] == 0;
        }
        snprintf(line, sizeof(line), "%u %u %u %u %u %u %s", g.n_calls, g.n_done - g.n_errors - g.n_wrong,
                 g.n_wrong, g.n_errors, dup, missing, g.last_error[0] ? g.last_error : "-");
        test_pipe_write(&a->report, line);
        mbus_conn_unref(g.conn);
        free(g.answers);
        return 0;
}

/* --- the test ------------------------------------------------------------------------------------ */

static uint64_t seed_from_env(void) {
        const char *s = getenv("MBUS_FUZZ_SEED");
        struct timespec ts;

        if (s && s[0])
                return strtoull(s, NULL, 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000003u ^ (uint64_t) ts.tv_nsec ^ (uint64_t) getpid() << 32;
}

START_TEST(test_random_frames_from_many_peers_cost_a_good_client_nothing) {
        struct chaos chaos[N_CHAOS];
        struct chaos_stats st = {};
        struct good_args ga = {};
        struct test_service svc;
        struct test_broker b;
        struct mbus_conn *conn;
        json_object *result = NULL;
        unsigned calls, ok, wrong, errors, dup, missing, steps = CHAOS_STEPS_DEFAULT;
        char line[512], last[256] = "";
        int stop[2];
        uint64_t seed;
        pid_t good;

        seed = seed_from_env();
        if (getenv("MBUS_FUZZ_STEPS"))
                steps = (unsigned) strtoul(getenv("MBUS_FUZZ_STEPS"), NULL, 10);
        fprintf(stderr, "stateful fuzz: seed %" PRIu64 " (MBUS_FUZZ_SEED=%" PRIu64 " repeats it), %u steps\n",
                seed, seed, steps);
        rng_state = seed ?: 1;

        ck_assert_int_eq(test_broker_start(&b, NULL), 0);
        ck_assert_int_eq(test_service_start(&svc, b.address, STABLE_NS), 0);

        ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
        ga.address = b.address;
        ga.stop_fd = stop[0];
        test_pipe_init(&ga.ready);
        test_pipe_init(&ga.report);
        good = test_fork(good_main, &ga);
        ck_assert_int_eq(test_pipe_read_line(&ga.ready, line, sizeof(line), 10000), 0);

        for (unsigned i = 0; i < N_CHAOS; i++)
                chaos[i] = (struct chaos) { .fd = -1 };
        for (unsigned n = 0; n < steps; n++) {
                struct chaos *c = &chaos[pick(N_CHAOS)];

                chaos_step(c, b.address, &st);
                for (unsigned i = 0; i < N_CHAOS; i++)
                        chaos_read(&chaos[i]);
                if (n % 64 == 0)
                        usleep(1000);   /* let the broker and the good client breathe */
        }
        for (unsigned i = 0; i < N_CHAOS; i++)
                chaos_close(&chaos[i]);
        fprintf(stderr, "stateful fuzz: %u frames (%u garbage or cut), %u reconnects\n", st.frames, st.garbage,
                st.reconnects);

        /* The good client: every call answered once, rightly. */
        ck_assert_int_eq(write(stop[1], "x", 1), 1);
        ck_assert_int_eq(test_pipe_read_line(&ga.report, line, sizeof(line), 30000), 0);
        ck_assert_int_eq(sscanf(line, "%u %u %u %u %u %u %255[^\n]", &calls, &ok, &wrong, &errors, &dup, &missing,
                                last), 7);
        fprintf(stderr, "stateful fuzz: good client: %u calls, %u answered right\n", calls, ok);
        ck_assert_msg(dup == 0 && missing == 0, "calls answered twice: %u, never: %u", dup, missing);
        ck_assert_msg(wrong == 0 && errors == 0, "%u wrong results, %u errors (last: %s)", wrong, errors, last);
        ck_assert_uint_ge(calls, GOOD_IN_FLIGHT);
        ck_assert_uint_eq(ok, calls);
        ck_assert_int_eq(test_wait(good, 20000), 0);
        close(stop[0]);
        close(stop[1]);
        test_pipe_close(&ga.ready);
        test_pipe_close(&ga.report);

        /* The broker is alive and answers. */
        conn = test_connect(b.address, "after");
        ck_assert_int_eq(mbus_ping(conn, 5 * 1000 * 1000), 0);
        ck_assert_int_eq(mbus_call(conn, MBUS_BROKER_NAMESPACE, "Ping", NULL, 0, &result, NULL), 0);
        json_object_put(result);
        mbus_conn_unref(conn);

        ck_assert_int_eq(test_service_quit(&svc, b.address, STABLE_NS), 0);
        ck_assert_broker_stops_cleanly(&b);
}
END_TEST

static Suite *stateful_fuzz_suite(void) {
        Suite *s = suite_create("stateful-fuzz");
        TCase *tc = tcase_create("e2e");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_random_frames_from_many_peers_cost_a_good_client_nothing);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(stateful_fuzz_suite)
