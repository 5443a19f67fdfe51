/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The libmbus connection handle and the objects hanging off it, shared by the client files. */

/*
 * Ownership in one picture:
 *
 *   struct mbus_conn          n_ref: the user's references, plus one per live mbus_request,
 *    |                        plus a temporary one around every dispatch
 *    |- stream                input buffer + output queue (proto/stream.h); fd owned here
 *    |- rqueue                frames read while a synchronous call waited, in arrival order
 *    |- pending (hashmap)     serial -> CALL slot, plus a list sorted by deadline
 *    |- subscriptions         list of SUBSCRIBE slots
 *    |- services              list of registered namespaces and their handler tables
 *    `- event sources         io + time, only while attached to an sd-event loop
 *
 * Slots never hold a reference on their connection: freeing the last reference of a
 * connection disconnects every slot (slot->conn = NULL), and mbus_slot_free() then only frees
 * the memory. A slot has references of its own: one held by the user (unless floating), one
 * by the connection while it is linked, and one taken around each callback, so a callback may
 * free its own slot, or any other, and dispatch stays safe.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "proto/frame.h"
#include "proto/stream.h"
#include "util/macro.h"
#include "util/time-util.h"

/* The sender id of the broker's own events; no peer can send under it. */
#define MBUS_BROKER_PEER_ID ":1.0"

struct mbus_hashmap;
typedef struct sd_event_source sd_event_source;

enum mbus_conn_state {
        MBUS_CONN_RUNNING,      /* usable */
        MBUS_CONN_BROKEN,       /* I/O failed: queued frames and pending calls still to finish */
        MBUS_CONN_CLOSED,       /* everything finished, fd closed: -ENOTCONN from here on */
        _MBUS_CONN_STATE_MAX,
};

enum mbus_slot_type {
        MBUS_SLOT_CALL,
        MBUS_SLOT_SUBSCRIPTION,
        _MBUS_SLOT_TYPE_MAX,
};

struct mbus_slot {
        unsigned n_ref;
        enum mbus_slot_type type;
        struct mbus_conn *conn;         /* borrowed; NULL once disconnected */
        bool floating;                  /* no user reference (async call without ret_slot) */
        void *userdata;

        union {
                struct {
                        uint64_t serial;                /* key in conn->pending */
                        usec_t deadline;                /* CLOCK_MONOTONIC, USEC_INFINITY: none */
                        mbus_reply_handler_t handler;
                        char *what;                     /* "NS.PROCEDURE", for messages */
                        struct mbus_slot *prev, *next;  /* conn->pending_first, by deadline */
                } call;
                struct {
                        char *pattern;
                        mbus_event_handler_t handler;           /* one of the two is set */
                        mbus_event_raw_handler_t raw_handler;
                        struct mbus_slot *prev, *next;  /* conn->subscriptions */
                } sub;
        };
};

struct mbus_service {
        char *ns;
        const struct mbus_procedure *procedures;        /* borrowed: the caller's table */
        size_t n_procedures;
        void *userdata;
        struct mbus_service *next;
};

struct mbus_request {
        unsigned n_ref;
        struct mbus_conn *conn;         /* owned reference */
        struct mbus_frame *call;        /* owned; ns, member and sender point into it */
        bool replied;
        struct mbus_caller caller;      /* strings point into call */
        gid_t *groups;                  /* owned: caller.groups */
};

struct mbus_conn {
        unsigned n_ref;
        bool freeing;                   /* in the last unref: ref/unref are no-ops */
        enum mbus_conn_state state;
        int error;                      /* why the connection broke (negative errno) */
        struct mbus_frame *farewell;    /* the broker's connection-level ERROR (reply serial 0)
                                           that broke it, if one did: owned */

        int fd;                         /* owned */
        struct mbus_stream stream;      /* embedded: mbus_stream_done() */
        struct json_tokener *tokener;   /* owned: reused by every body parsed (one per event) */
        size_t max_frame_size_out;      /* the broker's limit on what we send */
        uint64_t next_serial;
        char *unique_id;
        usec_t open_deadline;           /* while opening: when connect + handshake give up */
        char *name;

        struct mbus_frame **rqueue;     /* ring of frames kept for the next process() */
        size_t rqueue_first, n_rqueue, rqueue_cap;
        bool need_process;              /* the last process() did work: call it again */
        size_t queued_at_flush;         /* output queued after the last flush from conn_queue() */
        bool input_drained;             /* the last read found the socket empty: read again only
                                           after a poll (conn_read_frame()) */

        struct mbus_hashmap *pending;   /* uint64 serial -> struct mbus_slot (CALL) */
        struct mbus_slot *pending_first, *pending_last;
        struct mbus_slot *subscriptions;
        struct mbus_service *services;
        uint64_t n_unparsed_events;     /* events dropped: payload not JSON */
        char *error_sender;             /* who sent the last call error; NULL: the broker or us */

        bool exit_requested;
        int exit_code;

        mbus_disconnect_handler_t disconnect_handler;   /* told once when the connection breaks */
        void *disconnect_userdata;
        bool exit_on_disconnect;        /* a break also ends the attached sd-event loop */

        sd_event *event;                /* owned reference while attached */
        sd_event_source *io_source, *time_source;
        int64_t priority;
};

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

static inline void *mbus_mfree(void *p) {
        free(p);
        return NULL;
}

/*
 * conn.c: opens a connection over fd, a connected non-blocking stream socket (taken, closed on
 * failure too), with HELLO as mbus_conn_open_with_timeout() does: not public, for code that has
 * its socket already, such as the fuzz target that plays the broker over a socketpair.
 */
int mbus_conn_open_fd(struct mbus_conn **ret, int fd, const char *client_name, uint64_t timeout_usec,
                      struct mbus_error *reterr);

/* conn.c: frames out and in */
uint64_t mbus_conn_next_serial(struct mbus_conn *conn);
int mbus_conn_send(struct mbus_conn *conn, enum mbus_frame_type type,
                   const struct mbus_frame_fields *fields, json_object *body);
int mbus_conn_send_raw(struct mbus_conn *conn, enum mbus_frame_type type,
                       const struct mbus_frame_fields *fields, const char *body, size_t body_len);
/* Like mbus_conn_send() and mbus_conn_send_raw(), but the frame may wait for more to be written
 * with it (conn.c): for EVENTs, which nothing waits for. */
int mbus_conn_queue(struct mbus_conn *conn, enum mbus_frame_type type,
                    const struct mbus_frame_fields *fields, json_object *body);
int mbus_conn_queue_raw(struct mbus_conn *conn, enum mbus_frame_type type,
                        const struct mbus_frame_fields *fields, const char *body, size_t body_len);
int mbus_conn_wait_reply(struct mbus_conn *conn, uint64_t serial, usec_t deadline,
                         struct mbus_frame **ret);
/* Also returns an ERROR whose reply_serial is error_serial (0: none), such as the broker's
 * refusal of an EVENT, which has no reply of its own to wait for. */
int mbus_conn_wait_reply_or_error(struct mbus_conn *conn, uint64_t serial, uint64_t error_serial,
                                  usec_t deadline, struct mbus_frame **ret);
void mbus_conn_set_broken(struct mbus_conn *conn, int error);
int mbus_conn_check_running(const struct mbus_conn *conn);
int mbus_conn_frame_to_error(const struct mbus_frame *frame, struct mbus_error *ret_error);
/* Remembers who sent the error a call is about to complete with (NULL: not a service). */
void mbus_conn_set_error_sender(struct mbus_conn *conn, const char *sender);
int mbus_conn_error_set(struct mbus_error *e, const char *name, const char *message);
/* Parses frame's body as JSON (NULL for no body) with conn's tokener (conn may be NULL). */
int mbus_conn_parse_body(struct mbus_conn *conn, const struct mbus_frame *frame, json_object **ret);
void mbus_conn_log_debug(const char *format, ...) _printf_(1, 2);
int mbus_conn_next_timeout(const struct mbus_conn *conn, usec_t *ret);

/* call.c: pending calls */
int mbus_conn_wait_answer(struct mbus_conn *conn, uint64_t serial, uint64_t error_serial, usec_t deadline,
                          struct mbus_frame **ret, struct mbus_error *ret_error);
int mbus_conn_call_control(struct mbus_conn *conn, enum mbus_frame_type type,
                           struct mbus_frame_fields *fields, json_object *body,
                           struct mbus_error *ret_error);
int mbus_conn_dispatch_reply(struct mbus_conn *conn, struct mbus_frame *frame);
int mbus_conn_fail_one_pending(struct mbus_conn *conn, const char *error_name, const char *message);
int mbus_conn_expire_one_pending(struct mbus_conn *conn, usec_t now);
usec_t mbus_conn_first_deadline(const struct mbus_conn *conn);
void mbus_slot_unlink_call(struct mbus_slot *slot);
usec_t mbus_call_deadline(usec_t now, uint64_t timeout_usec, uint64_t *ret_wire_timeout);

/* service.c */
int mbus_conn_dispatch_call(struct mbus_conn *conn, struct mbus_frame *frame);
bool mbus_conn_drop_service(struct mbus_conn *conn, const char *ns);
void mbus_conn_free_services(struct mbus_conn *conn);

/* subscribe.c */
int mbus_conn_dispatch_event(struct mbus_conn *conn, struct mbus_frame *frame);
void mbus_slot_unlink_subscription(struct mbus_slot *slot, bool send_unsubscribe);
void mbus_conn_disconnect_subscriptions(struct mbus_conn *conn);

/* slots */
int mbus_slot_new(struct mbus_slot **ret, struct mbus_conn *conn, enum mbus_slot_type type, void *userdata);
struct mbus_slot *mbus_slot_ref(struct mbus_slot *slot);
struct mbus_slot *mbus_slot_unref(struct mbus_slot *slot);
MBUS_DEFINE_CLEANUP(struct mbus_slot *, mbus_slot_unref);

/* conn-event.c */
void mbus_conn_event_release_sources(struct mbus_conn *conn);
/* The connection broke and is finished: tells the handler, then ends the loop if asked to. */
void mbus_conn_event_on_disconnect(struct mbus_conn *conn);
