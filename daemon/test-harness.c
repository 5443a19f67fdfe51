/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The harness the in-process broker tests share (test-broker.c, test-enforce.c): a real struct
 * mbus_broker on its own sd-event loop, peers on socketpairs, frames built and read with the
 * proto code, the loop stepped by hand so that every path runs deterministically under ASan.
 * Failures are Check assertions: these helpers only run inside a test.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "creds.h"
#include "test-harness.h"
#include "util/fd-util.h"
#include "util/json-util.h"

void t_setup(struct tctx *t, int max_level) {
        mbus_log_set_target(MBUS_LOG_TARGET_CONSOLE);
        mbus_log_set_max_level(max_level);
        mbus_options_init(&t->options);
}

void t_start(struct tctx *t) {
        ck_assert_int_ge(sd_event_new(&t->event), 0);
        ck_assert_int_eq(mbus_broker_new(&t->broker, t->event, &t->options), 0);
}

void t_done(struct tctx *t) {
        t->broker = mbus_broker_free(t->broker);
        t->event = sd_event_unref(t->event);
        mbus_options_done(&t->options);
        if (t->dir[0])
                remove_dir(t->dir);
}

void t_run(struct tctx *t) {
        for (unsigned i = 0; i < 64; i++)
                if (sd_event_run(t->event, 0) <= 0)
                        break;
}

static void tp_connect_creds(struct tctx *t, struct tpeer *p, bool set, uid_t uid, gid_t gid) {
        struct mbus_creds creds = MBUS_CREDS_NULL;
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(mbus_creds_from_socket(&creds, sv[1]), 0);
        if (set) {
                creds.uid = uid;
                creds.gid = gid;
                free(creds.groups);
                creds.groups = NULL;
                creds.n_groups = 0;
        }
        mbus_broker_accept(t->broker, sv[1], &creds, /* tls= */ false);
        mbus_creds_done(&creds);
        *p = (struct tpeer) { .fd = sv[0] };
        mbus_stream_init(&p->s, sv[0], 0);
}

void tp_connect(struct tctx *t, struct tpeer *p) {
        tp_connect_creds(t, p, /* set= */ false, 0, 0);
}

void tp_connect_as(struct tctx *t, struct tpeer *p, uid_t uid, gid_t gid) {
        tp_connect_creds(t, p, /* set= */ true, uid, gid);
}

void tp_close(struct tpeer *p) {
        mbus_stream_done(&p->s);
        p->fd = safe_close(p->fd);
}

uint64_t tp_send(struct tpeer *p, enum mbus_frame_type type, struct mbus_frame_fields f, const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;

        if (f.serial == 0 && type != MBUS_FRAME_RETURN && type != MBUS_FRAME_ERROR && type != MBUS_FRAME_PONG)
                f.serial = ++p->serial;
        ck_assert_int_eq(mbus_frame_new(&frame, type, &f, body, body ? strlen(body) : 0), 0);
        ck_assert_int_eq(mbus_stream_queue(&p->s, frame), 0);
        ck_assert_int_eq(mbus_stream_flush(&p->s), 0);
        return f.serial;
}

struct mbus_frame *tp_recv(struct tctx *t, struct tpeer *p) {
        for (unsigned i = 0; i < 100; i++) {
                struct mbus_frame *f = NULL;
                int r;

                r = mbus_stream_pop(&p->s, &f, NULL);
                ck_assert_int_ge(r, 0);
                if (r > 0)
                        return f;
                t_run(t);
                r = mbus_stream_read(&p->s);
                if (r == -ECONNRESET)
                        return NULL;
        }
        return NULL;
}

void tp_hello(struct tctx *t, struct tpeer *p, const char *name) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *w = NULL;
        _cleanup_json_ json_object *o = NULL;
        char body[128];

        snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
        tp_send(p, MBUS_FRAME_HELLO, (struct mbus_frame_fields) {}, body);
        w = tp_recv(t, p);
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(w->type, MBUS_FRAME_WELCOME);
        ck_assert_int_eq(json_parse_bytes((const char *) w->body, w->body_len, &o), 0);
        snprintf(p->id, sizeof(p->id), "%s", json_get_string(o, "id"));
}
