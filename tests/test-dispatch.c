/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon/dispatch.c on a real sd-event loop with socketpairs: every ready socket of a crowd
 * larger than one batch is handed to its handler once per edge, over as many loop iterations
 * as batches; a forgotten handle is never called again, even while its socket is still open
 * and keeps being reported; a reused slot does not inherit the reports of its last holder; a
 * removed socket wakes nobody; a handler is told how many sockets its wake-up reported.
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <check.h>
#include <systemd/sd-event.h>

#include "daemon/dispatch.h"
#include "util/test-util.h"

#define N_SOCKETS (MBUS_DISPATCH_BATCH + 17)       /* two batches, within 1024 files */

struct sock {
        int fds[2];             /* [0] in the set, [1] the other end */
        uint64_t handle;
        unsigned n_called;
        uint32_t revents;
        unsigned batch;         /* mbus_dispatch_batch_size() at its last call */
};

static struct mbus_dispatch *current;  /* for on_ready(): the set it is called from */

static void on_ready(void *userdata, uint32_t revents) {
        struct sock *s = userdata;

        s->n_called++;
        s->revents |= revents;
        s->batch = mbus_dispatch_batch_size(current);
}

/* Runs the loop until an iteration finds nothing to do. Returns the iterations that did. */
static unsigned run_until_idle(sd_event *e) {
        unsigned n = 0;

        while (sd_event_run(e, 0) > 0)
                n++;
        return n;
}

static void sock_open(struct mbus_dispatch *d, struct sock *s) {
        *s = (struct sock) {};
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s->fds), 0);
        ck_assert_int_eq(mbus_dispatch_add(d, s->fds[0], EPOLLIN | EPOLLRDHUP | EPOLLET, on_ready, s, &s->handle),
                         0);
        ck_assert_uint_ne(s->handle, 0);
}

START_TEST(test_every_ready_socket_is_handled_once_per_edge) {
        static struct sock socks[N_SOCKETS];
        struct mbus_dispatch *d = NULL;
        sd_event *e = NULL;
        unsigned iterations;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(mbus_dispatch_new(&d, e), 0);
        current = d;
        for (int i = 0; i < N_SOCKETS; i++)
                sock_open(d, &socks[i]);
        ck_assert_uint_eq(run_until_idle(e), 0);

        /* All hang up at once: each is reported once, in batches. */
        for (int i = 0; i < N_SOCKETS; i++)
                close(socks[i].fds[1]);
        iterations = run_until_idle(e);
        ck_assert_uint_eq(iterations, (N_SOCKETS + MBUS_DISPATCH_BATCH - 1) / MBUS_DISPATCH_BATCH);
        for (int i = 0; i < N_SOCKETS; i++) {
                ck_assert_uint_eq(socks[i].n_called, 1);
                ck_assert(socks[i].revents & EPOLLRDHUP);
                ck_assert_uint_gt(socks[i].batch, 1);
        }
        ck_assert_uint_eq(mbus_dispatch_batch_size(d), 0);
        /* Edge-triggered: nothing new, nothing more. */
        ck_assert_uint_eq(run_until_idle(e), 0);

        for (int i = 0; i < N_SOCKETS; i++) {
                socks[i].handle = mbus_dispatch_forget(d, socks[i].handle);
                close(socks[i].fds[0]);
        }
        mbus_dispatch_free(d);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_forgotten_handle_is_not_called) {
        struct sock a, b;
        struct mbus_dispatch *d = NULL;
        sd_event *e = NULL;
        uint64_t old;
        int dup_fd;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(mbus_dispatch_new(&d, e), 0);
        current = d;
        sock_open(d, &a);

        /* Forgotten while its socket stays open (as a forked child might keep it): data and a
         * hang-up on it reach nobody. */
        old = a.handle;
        a.handle = mbus_dispatch_forget(d, a.handle);
        ck_assert_uint_eq(a.handle, 0);
        dup_fd = dup(a.fds[0]);
        ck_assert_int_ge(dup_fd, 0);
        close(a.fds[0]);        /* the file lives on in dup_fd: still in the set */
        ck_assert_int_eq(write(a.fds[1], "x", 1), 1);

        /* The slot is reused at once, by a new socket, under a new generation. */
        sock_open(d, &b);
        ck_assert_uint_eq((uint32_t) b.handle, (uint32_t) old);
        ck_assert_uint_ne(b.handle, old);
        run_until_idle(e);
        ck_assert_uint_eq(a.n_called, 0);
        ck_assert_uint_eq(b.n_called, 0);

        /* Its own reports do reach the new holder. */
        ck_assert_int_eq(write(b.fds[1], "y", 1), 1);
        run_until_idle(e);
        ck_assert_uint_eq(a.n_called, 0);
        ck_assert_uint_eq(b.n_called, 1);
        ck_assert(b.revents & EPOLLIN);

        /* Forgetting nothing is a no-op. */
        ck_assert_uint_eq(mbus_dispatch_forget(d, 0), 0);

        b.handle = mbus_dispatch_forget(d, b.handle);
        close(b.fds[0]);
        close(b.fds[1]);
        close(dup_fd);
        close(a.fds[1]);
        mbus_dispatch_free(d);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_removed_socket_is_not_reported) {
        struct sock a, b;
        struct mbus_dispatch *d = NULL;
        sd_event *e = NULL;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(mbus_dispatch_new(&d, e), 0);
        current = d;
        sock_open(d, &a);
        sock_open(d, &b);

        /* One socket ready: a batch of one. */
        ck_assert_int_eq(write(a.fds[1], "x", 1), 1);
        run_until_idle(e);
        ck_assert_uint_eq(a.n_called, 1);
        ck_assert_uint_eq(a.batch, 1);

        /* Out of the set: its input wakes nobody, the other socket is still served. */
        ck_assert_int_eq(mbus_dispatch_remove(d, a.fds[0], a.handle), 0);
        ck_assert_int_eq(write(a.fds[1], "y", 1), 1);
        ck_assert_uint_eq(run_until_idle(e), 0);
        ck_assert_uint_eq(a.n_called, 1);
        ck_assert_int_eq(write(b.fds[1], "z", 1), 1);
        run_until_idle(e);
        ck_assert_uint_eq(b.n_called, 1);

        b.handle = mbus_dispatch_forget(d, b.handle);
        for (int i = 0; i < 2; i++) {
                close(a.fds[i]);
                close(b.fds[i]);
        }
        mbus_dispatch_free(d);
        sd_event_unref(e);
}
END_TEST

static Suite *dispatch_suite(void) {
        Suite *s = suite_create("dispatch");
        TCase *tc = tcase_create("dispatch");

        tcase_add_test(tc, test_every_ready_socket_is_handled_once_per_edge);
        tcase_add_test(tc, test_forgotten_handle_is_not_called);
        tcase_add_test(tc, test_removed_socket_is_not_reported);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(dispatch_suite)
