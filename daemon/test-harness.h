/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* In-process broker tests: a real broker on its own sd-event loop, peers on socketpairs. */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "broker.h"
#include "conf/test-files.h"
#include "options.h"
#include "proto/frame.h"
#include "proto/stream.h"

/* One test client: our end of a socketpair whose other end the broker accepted. */
struct tpeer {
        int fd;
        struct mbus_stream s;
        uint64_t serial;                /* last serial sent */
        char id[32];                    /* ":1.N" from WELCOME */
};

struct tctx {
        sd_event *event;
        struct mbus_options options;
        struct mbus_broker *broker;
        char dir[64];                   /* a configuration directory the test made, or empty */
};

/* Console logging up to max_level and default t->options; set more of it, then t_start(). */
void t_setup(struct tctx *t, int max_level);
/* The event loop and the broker, from t->options. */
void t_start(struct tctx *t);
/* Frees the broker, the loop and the options, and removes t->dir if set. */
void t_done(struct tctx *t);
/* Dispatches what is ready, up to 64 events, without waiting. */
void t_run(struct tctx *t);

/* Connects p with the credentials of this process, or with uid/gid and no groups. */
void tp_connect(struct tctx *t, struct tpeer *p);
void tp_connect_as(struct tctx *t, struct tpeer *p, uid_t uid, gid_t gid);
void tp_close(struct tpeer *p);
/* Sends one frame (a fresh serial unless f has one or it is a reply) and returns its serial. */
uint64_t tp_send(struct tpeer *p, enum mbus_frame_type type, struct mbus_frame_fields f, const char *body);
/* The next frame for p, running the broker as needed; NULL on EOF or after nothing came. */
struct mbus_frame *tp_recv(struct tctx *t, struct tpeer *p);
/* HELLO, expects WELCOME and keeps the id. */
void tp_hello(struct tctx *t, struct tpeer *p, const char *name);

