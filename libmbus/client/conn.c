/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection handle: connect + HELLO/WELCOME, reference counting, the frame intake and
 * the one-step mbus_conn_process() that every event loop drives.
 *
 * Frames leave through mbus_conn_send(): queued on the stream and written at once as far as
 * the socket takes them (a call's latency is what counts there). EVENTs go through
 * mbus_conn_queue() instead: a publisher emits many in a row, so they are written by the
 * batch, one sendmsg() for MBUS_CONN_WRITE_BATCH_BYTES of them, or by the next flush, which
 * every process(), wait, synchronous call and mbus_conn_flush() does first; a loop that polls
 * for mbus_conn_get_events() wakes for it at once (POLLOUT while anything is queued).
 * Frames come in through conn_read_frame(), which answers broker PINGs on the spot (even while
 * a synchronous call waits, so a slow call never costs the keep-alive) and turns a
 * connection-level ERROR (reply_serial 0) into the reason the connection breaks.
 *
 * Synchronous operations run mbus_conn_wait_reply(): a private poll loop that takes its own
 * reply out of the stream and appends every other frame to rqueue, in arrival order, for
 * mbus_conn_process() to dispatch later. process() therefore always drains rqueue before it
 * reads, so nothing is lost or reordered.
 *
 * A broken connection (I/O error, hang-up, malformed frame) is not torn down at once: state
 * BROKEN lets process() still dispatch what had arrived, then complete each pending call with
 * org.mbus.Error.Disconnected, and only then close the socket and return the error, once, when
 * it also tells the disconnect handler and, if asked, ends the attached sd-event loop: a
 * service must never go on sleeping as if healthy. Every later operation gets -ENOTCONN.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1     /* program_invocation_short_name */
#endif

#include <assert.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "client/conn-internal.h"
#include "proto/address.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "proto/stream.h"
#include "proto/tls.h"
#include "util/fd-util.h"
#include "util/hashmap.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define MBUS_HANDSHAKE_TIMEOUT_USEC (25 * USEC_PER_SEC)

void mbus_conn_log_debug(const char *format, ...) {
        va_list ap;

        /* libmbus logs nothing above debug, and that only on request. */
        if (!getenv("MBUS_DEBUG"))
                return;
        fputs("libmbus: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int mbus_conn_error_set(struct mbus_error *e, const char *name, const char *message) {
        if (e) {
                mbus_error_free(e);
                e->name = strdup(name);
                e->message = message ? strdup(message) : NULL;
        }
        return mbus_error_name_to_errno(name);
}

/* ---- incoming frame queue ---------------------------------------------------------------- */

static int conn_rqueue_push(struct mbus_conn *conn, struct mbus_frame *frame) {
        if (conn->n_rqueue == conn->rqueue_cap) {
                size_t cap = conn->rqueue_cap ? conn->rqueue_cap * 2 : 16;
                struct mbus_frame **q = calloc(cap, sizeof(*q));

                if (!q)
                        return -ENOMEM;
                for (size_t i = 0; i < conn->n_rqueue; i++)
                        q[i] = conn->rqueue[(conn->rqueue_first + i) % conn->rqueue_cap];
                free(conn->rqueue);
                conn->rqueue = q;
                conn->rqueue_cap = cap;
                conn->rqueue_first = 0;
        }
        conn->rqueue[(conn->rqueue_first + conn->n_rqueue) % conn->rqueue_cap] = mbus_frame_ref(frame);
        conn->n_rqueue++;
        return 0;
}

static struct mbus_frame *conn_rqueue_pop(struct mbus_conn *conn) {
        struct mbus_frame *f;

        if (conn->n_rqueue == 0)
                return NULL;
        f = conn->rqueue[conn->rqueue_first];
        conn->rqueue_first = (conn->rqueue_first + 1) % conn->rqueue_cap;
        if (--conn->n_rqueue == 0) {
                /* Give the ring back: an idle connection holds no buffers. */
                conn->rqueue = mbus_mfree(conn->rqueue);
                conn->rqueue_cap = conn->rqueue_first = 0;
        }
        return f;
}

static void conn_rqueue_clear(struct mbus_conn *conn) {
        struct mbus_frame *f;

        while ((f = conn_rqueue_pop(conn)))
                mbus_frame_unref(f);
}

/* ---- state ------------------------------------------------------------------------------- */

int mbus_conn_check_running(const struct mbus_conn *conn) {
        if (!conn)
                return -EINVAL;
        return conn->state == MBUS_CONN_RUNNING ? 0 : -ENOTCONN;
}

void mbus_conn_set_broken(struct mbus_conn *conn, int error) {
        if (conn->state != MBUS_CONN_RUNNING)
                return;
        conn->state = MBUS_CONN_BROKEN;
        conn->error = error < 0 ? error : -ECONNRESET;
        mbus_conn_log_debug("connection %s broken: %s", strna(conn->unique_id), strerror(-conn->error));
}

/* The end of a broken connection: nothing left to dispatch, so the socket goes. */
static void conn_finish(struct mbus_conn *conn) {
        conn->state = MBUS_CONN_CLOSED;
        conn_rqueue_clear(conn);
        mbus_conn_event_release_sources(conn);
        mbus_stream_done(&conn->stream);
        conn->fd = safe_close(conn->fd);
}

/* Closes at once: what is queued goes out if the socket takes it, pending calls complete. */
static void conn_disconnect(struct mbus_conn *conn) {
        if (conn->state == MBUS_CONN_CLOSED)
                return;
        if (conn->state == MBUS_CONN_RUNNING) {
                (void) mbus_stream_flush(&conn->stream);
                mbus_transport_shutdown(&conn->stream.transport);
        }
        mbus_conn_set_broken(conn, -ENOTCONN);
        conn_rqueue_clear(conn);
        while (mbus_conn_fail_one_pending(conn, MBUS_ERROR_DISCONNECTED, "Connection closed") > 0)
                ;
        conn_finish(conn);
}

/* ---- frames out -------------------------------------------------------------------------- */

uint64_t mbus_conn_next_serial(struct mbus_conn *conn) {
        return conn->next_serial++;
}

/* See mbus_conn_queue_raw(): EVENTs are written once this much has been queued since the last try. */
#define MBUS_CONN_WRITE_BATCH_BYTES (32u * 1024u)

static int conn_queue(struct mbus_conn *conn, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                      const char *body, size_t body_len, bool batch) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        int r;

        r = mbus_conn_check_running(conn);
        if (r < 0)
                return r;

        r = mbus_frame_new(&f, type, fields, body, body_len);
        if (r < 0)
                return r;
        if (mbus_frame_size(f) > conn->max_frame_size_out)
                return -EMSGSIZE;

        r = mbus_stream_queue(&conn->stream, f);
        if (r < 0)
                return r;

        /* A batch waits for more, or for the next flush, unless it is big enough (or the socket
         * was full at the last try and this much more has come since). Less queued than at
         * that try means another flush ran since: count from nothing again. */
        if (mbus_stream_queued_bytes(&conn->stream) - mbus_frame_size(f) < conn->queued_at_flush)
                conn->queued_at_flush = 0;
        if (batch && mbus_stream_queued_bytes(&conn->stream) < conn->queued_at_flush + MBUS_CONN_WRITE_BATCH_BYTES)
                return 0;

        /* Write now if the socket takes it. A failure here breaks the connection, but the frame
         * counts as sent: its call (if any) completes with Disconnected through process(). */
        r = mbus_stream_flush(&conn->stream);
        if (r < 0)
                mbus_conn_set_broken(conn, r);
        conn->queued_at_flush = mbus_stream_queued_bytes(&conn->stream);
        return 0;
}

int mbus_conn_send_raw(struct mbus_conn *conn, enum mbus_frame_type type,
                       const struct mbus_frame_fields *fields, const char *body, size_t body_len) {
        return conn_queue(conn, type, fields, body, body_len, /* batch= */ false);
}

int mbus_conn_queue_raw(struct mbus_conn *conn, enum mbus_frame_type type,
                        const struct mbus_frame_fields *fields, const char *body, size_t body_len) {
        return conn_queue(conn, type, fields, body, body_len, /* batch= */ true);
}

static int conn_queue_json(struct mbus_conn *conn, enum mbus_frame_type type,
                           const struct mbus_frame_fields *fields, json_object *body, bool batch) {
        const char *text;
        size_t len;

        if (!body)
                return conn_queue(conn, type, fields, NULL, 0, batch);

        text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!text)
                return -ENOMEM;
        return conn_queue(conn, type, fields, text, len, batch);
}

int mbus_conn_send(struct mbus_conn *conn, enum mbus_frame_type type,
                   const struct mbus_frame_fields *fields, json_object *body) {
        return conn_queue_json(conn, type, fields, body, /* batch= */ false);
}

int mbus_conn_queue(struct mbus_conn *conn, enum mbus_frame_type type,
                    const struct mbus_frame_fields *fields, json_object *body) {
        return conn_queue_json(conn, type, fields, body, /* batch= */ true);
}

/* ---- frames in --------------------------------------------------------------------------- */

int mbus_conn_parse_body(struct mbus_conn *conn, const struct mbus_frame *frame, json_object **ret) {
        if (frame->body_len == 0) {
                *ret = NULL;
                return 0;
        }
        if (!conn)
                return json_parse_bytes((const char *) frame->body, frame->body_len, ret);
        return json_parse_bytes_reuse(&conn->tokener, (const char *) frame->body, frame->body_len, ret);
}

int mbus_conn_frame_to_error(const struct mbus_frame *frame, struct mbus_error *ret_error) {
        _cleanup_json_ json_object *body = NULL;
        const char *name = frame->f.error_name ? frame->f.error_name : MBUS_ERROR_FAILED;

        if (mbus_conn_parse_body(/* conn= */ NULL, frame, &body) < 0)
                body = NULL;
        return mbus_conn_error_set(ret_error, name, body ? json_get_string(body, "message") : NULL);
}

void mbus_conn_set_error_sender(struct mbus_conn *conn, const char *sender) {
        conn->error_sender = mbus_mfree(conn->error_sender);
        if (sender)
                conn->error_sender = strdup(sender);    /* out of memory: unknown, NULL */
}

_public_ const char *mbus_conn_get_error_sender(const struct mbus_conn *conn) {
        return conn ? conn->error_sender : NULL;
}

/* Frames that are dispatched and forgotten: a view of them is enough (see conn_read_frame()). */
static bool frame_may_stay_view(const struct mbus_frame *f) {
        return f->type == MBUS_FRAME_EVENT || f->type == MBUS_FRAME_RETURN ||
                (f->type == MBUS_FRAME_ERROR && f->f.reply_serial != 0);
}

/*
 * Takes the next frame off the socket without blocking (with may_read false, only out of what
 * is already buffered). Returns 1 and the frame, 0 if none has arrived whole, or a negative
 * errno if the connection is broken. PINGs are answered here and never returned.
 *
 * With view set, an EVENT or a call's RETURN or ERROR comes back as *ret == view, decoded in
 * place in the input buffer (mbus_stream_pop_view()): nothing is copied or allocated, and the
 * caller, once done with it, calls mbus_stream_release_view(). Every other frame, and every
 * frame while a view is out already (a callback that runs process() again), is a frame of its
 * own, with one reference for the caller.
 *
 * A read shorter than the buffer's room found the socket empty: the next read would only tell
 * EAGAIN, so none is made until the owner has polled (input_drained, cleared by
 * mbus_conn_process() when it returns 0 and by the waits after their poll).
 */
static int conn_read_frame(struct mbus_conn *conn, bool may_read, struct mbus_frame *view,
                           struct mbus_frame **ret) {
        int r;

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                const char *reason = NULL;
                bool is_view = false;

                if (view && !mbus_stream_has_view(&conn->stream)) {
                        r = mbus_stream_pop_view(&conn->stream, view, &reason);
                        if (r > 0) {
                                is_view = frame_may_stay_view(view);
                                if (!is_view) {
                                        r = mbus_frame_copy(&f, view);
                                        mbus_stream_release_view(&conn->stream);
                                        if (r < 0)
                                                return r;
                                        r = 1;
                                }
                        }
                } else
                        r = mbus_stream_pop(&conn->stream, &f, &reason);
                if (r < 0) {
                        mbus_conn_log_debug("malformed frame from the broker: %s", strna(reason));
                        return r == -ENOMEM ? r : -EBADMSG;
                }
                if (r == 0) {
                        if (!may_read || conn->input_drained)
                                return 0;
                        r = mbus_stream_read(&conn->stream);
                        if (r == -EAGAIN || r == -EINTR) {
                                conn->input_drained = r == -EAGAIN;
                                return 0;
                        }
                        if (r < 0)
                                return r;
                        conn->input_drained = mbus_stream_drained(&conn->stream);
                        continue;
                }
                if (is_view) {
                        *ret = view;
                        return 1;
                }

                if (f->type == MBUS_FRAME_PING) {
                        r = mbus_conn_send_raw(conn, MBUS_FRAME_PONG,
                                               &(const struct mbus_frame_fields) {
                                                       .reply_serial = f->f.serial,
                                               }, NULL, 0);
                        if (r < 0 && r != -ENOTCONN)
                                return r;
                        continue;
                }

                if (f->type == MBUS_FRAME_ERROR && f->f.reply_serial == 0) {
                        /* A connection-level error: the broker drops us after sending it. */
                        _cleanup_(mbus_error_free) struct mbus_error e = MBUS_ERROR_NULL;

                        r = mbus_conn_frame_to_error(f, &e);
                        mbus_conn_log_debug("broker error: %s: %s", strna(e.name), strna(e.message));
                        assert(r < 0);  /* every error name maps to an errno */
                        if (!conn->farewell)
                                conn->farewell = TAKE_PTR(f);   /* for mbus_conn_open_with_error() */
                        return r;
                }

                *ret = TAKE_PTR(f);
                return 1;
        }
}

static bool frame_is_reply_to(const struct mbus_frame *f, uint64_t serial) {
        switch (f->type) {
        case MBUS_FRAME_RETURN:
        case MBUS_FRAME_ERROR:
        case MBUS_FRAME_PONG:
        case MBUS_FRAME_WELCOME:
                return f->f.reply_serial == serial;
        default:
                return false;
        }
}

static int conn_poll(struct mbus_conn *conn, short events, usec_t deadline) {
        struct pollfd p = { .fd = conn->fd, .events = events };
        int timeout_ms = -1;
        int r;

        if (deadline != USEC_INFINITY) {
                usec_t n = now_usec(CLOCK_MONOTONIC);
                usec_t left = deadline > n ? deadline - n : 0;

                /* Round up: waking a hair early would only spin. */
                timeout_ms = (int) MIN((left + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (usec_t) INT32_MAX);
        }

        r = poll(&p, 1, timeout_ms);
        if (r < 0)
                return -errno;
        return r;
}

int mbus_conn_wait_reply(struct mbus_conn *conn, uint64_t serial, usec_t deadline,
                         struct mbus_frame **ret) {
        return mbus_conn_wait_reply_or_error(conn, serial, /* error_serial= */ 0, deadline, ret);
}

int mbus_conn_wait_reply_or_error(struct mbus_conn *conn, uint64_t serial, uint64_t error_serial,
                                  usec_t deadline, struct mbus_frame **ret) {
        /* Just after sending, the answer cannot be there yet: poll before the first read()
         * rather than spend a syscall on EAGAIN. Frames already buffered are looked at first. */
        bool may_read = false;
        int r;

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

                if (conn->state != MBUS_CONN_RUNNING)
                        return -ENOTCONN;

                r = mbus_stream_flush(&conn->stream);
                if (r < 0) {
                        mbus_conn_set_broken(conn, r);
                        return -ENOTCONN;
                }

                r = conn_read_frame(conn, may_read, /* view= */ NULL, &f);
                if (r < 0) {
                        mbus_conn_set_broken(conn, r);
                        return -ENOTCONN;
                }
                if (r > 0) {
                        if (frame_is_reply_to(f, serial) ||
                            (error_serial != 0 && f->type == MBUS_FRAME_ERROR && f->f.reply_serial == error_serial)) {
                                /* More may be buffered behind it: have the next poll skip. */
                                conn->need_process = true;
                                *ret = TAKE_PTR(f);
                                return 0;
                        }
                        r = conn_rqueue_push(conn, f);
                        if (r < 0)
                                return r;
                        conn->need_process = true;
                        continue;
                }

                if (deadline != USEC_INFINITY && now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;

                may_read = true;
                if (mbus_stream_has_pending(&conn->stream)) {
                        conn->input_drained = false;
                        continue;       /* input that poll cannot see */
                }
                r = conn_poll(conn, (short) mbus_stream_events(&conn->stream), deadline);
                if (r < 0 && r != -EINTR)
                        return r;
                conn->input_drained = false;
        }
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static struct mbus_conn *conn_free(struct mbus_conn *conn) {
        if (!conn)
                return NULL;

        conn->freeing = true;
        conn_disconnect(conn);
        (void) mbus_conn_detach_event(conn);
        mbus_conn_disconnect_subscriptions(conn);
        mbus_conn_free_services(conn);
        mbus_hashmap_free(conn->pending);
        mbus_frame_unref(conn->farewell);
        free(conn->error_sender);
        free(conn->unique_id);
        free(conn->name);
        if (conn->tokener)
                json_tokener_free(conn->tokener);
        free(conn);
        return NULL;
}
MBUS_DEFINE_CLEANUP(struct mbus_conn *, conn_free);

/* Fills reterr (if given and empty) with a message on why the connection could not be made. */
_printf_(3, 4)
static int conn_open_error(struct mbus_error *reterr, int r, const char *format, ...) {
        va_list ap;

        if (!reterr || mbus_error_is_set(reterr))
                return r;
        va_start(ap, format);
        if (vasprintf(&reterr->message, format, ap) < 0)
                reterr->message = NULL;
        va_end(ap);
        reterr->name = strdup(MBUS_ERROR_DISCONNECTED);
        return r;
}

/*
 * The client's TLS context, shared by every connection of the process that uses the same files,
 * so that a reconnect resumes the last session instead of negotiating a new one.
 */
static pthread_mutex_t conn_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mbus_tls_context *conn_tls_cache;
static char *conn_tls_cache_key;

static int conn_tls_context(const struct mbus_tls_files *files, struct mbus_tls_context **ret,
                            char reason[static MBUS_TLS_REASON_MAX]) {
        _cleanup_free_ char *key = NULL;
        struct mbus_tls_context *ctx = NULL;
        int r = 0;

        if (asprintf(&key, "%s\n%s\n%s", files->cert ?: "", files->key ?: "", files->ca ?: "") < 0)
                return -ENOMEM;

        pthread_mutex_lock(&conn_tls_lock);
        if (conn_tls_cache && strcmp(conn_tls_cache_key, key) == 0)
                ctx = mbus_tls_context_ref(conn_tls_cache);
        else {
                r = mbus_tls_context_new(&ctx, files, /* server= */ false, /* optional_client_cert= */ false,
                                         reason);
                if (r >= 0) {
                        mbus_tls_context_unref(conn_tls_cache);
                        free(conn_tls_cache_key);
                        conn_tls_cache = mbus_tls_context_ref(ctx);
                        conn_tls_cache_key = TAKE_PTR(key);
                }
        }
        pthread_mutex_unlock(&conn_tls_lock);
        if (r < 0)
                return r;
        *ret = ctx;
        return 0;
}

/* $name, with an empty value meaning unset as for $MBUS_ADDRESS. */
static const char *conn_env(const char *name) {
        const char *v = secure_getenv(name);

        return v && v[0] ? v : NULL;
}

/* The TLS handshake, blocking up to the handshake timeout. */
static int conn_start_tls(struct mbus_conn *conn, const struct mbus_address *a, struct mbus_error *reterr) {
        _cleanup_(mbus_tls_context_unrefp) struct mbus_tls_context *ctx = NULL;
        const struct mbus_tls_files files = {
                .cert = a->tls_cert ?: conn_env("MBUS_TLS_CERT"),
                .key = a->tls_key ?: conn_env("MBUS_TLS_KEY"),
                .ca = a->tls_ca ?: conn_env("MBUS_TLS_CA"),
        };
        usec_t deadline = conn->open_deadline;
        char reason[MBUS_TLS_REASON_MAX];
        int r;

        r = conn_tls_context(&files, &ctx, reason);
        if (r < 0)
                return conn_open_error(reterr, r, "Cannot set up TLS: %s", reason);
        r = mbus_transport_init_tls(&conn->stream.transport, ctx, conn->fd, a->tls_name ?: a->host);
        if (r < 0)
                return r;

        for (;;) {
                r = mbus_transport_handshake(&conn->stream.transport);
                if (r != -EAGAIN)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return conn_open_error(reterr, -ETIMEDOUT, "TLS handshake with %s:%s timed out",
                                               a->host, a->port);
                r = conn_poll(conn, (short) mbus_stream_events(&conn->stream), deadline);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        if (r < 0)
                return conn_open_error(reterr, r, "TLS handshake with %s:%s failed: %s", a->host, a->port,
                                       mbus_tls_reason(&conn->stream.transport));
        return 0;
}

static int conn_connect(struct mbus_conn *conn, const char *address, struct mbus_error *reterr) {
        _cleanup_(mbus_address_done) struct mbus_address a = {};
        int r;

        r = mbus_address_parse(address, &a);
        if (r < 0)
                return conn_open_error(reterr, r, "invalid address");

        r = mbus_address_connect(&a, &conn->fd);
        if (r < 0)
                return conn_open_error(reterr, r, "%s", strerror(-r));
        mbus_stream_init(&conn->stream, conn->fd, MBUS_FRAME_SIZE_MAX_DEFAULT);
        /* One connection, read all the time: its input buffer is reused, not freed and taken
         * again for every read (64 KiB per connection while it is open); so is the ring of
         * frames to send, rather than taken again for every call. */
        conn->stream.keep_input = true;
        conn->stream.keep_output = true;

        if (a.kind == MBUS_ADDRESS_TLS)
                return conn_start_tls(conn, &a, reterr);
        return 0;
}

/*
 * A broker that refuses a connection (it is full, or the user is over a quota) sends one ERROR
 * without a reply serial and closes; our HELLO may meet the closed socket before we read it.
 * What it sent is still buffered: find that ERROR, so the caller learns its name and message
 * (LimitsExceeded, "The broker is full: ...") rather than a broken pipe. Returns its errno
 * with *reterr filled, or 0 if there is none.
 */
static int conn_read_farewell(struct mbus_conn *conn, struct mbus_error *reterr) {
        /* Bounded: the broker says one frame before it closes, and the buffer holds a few. */
        for (unsigned i = 0; i < 16 && !conn->farewell; i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                const char *reason;
                int r;

                r = mbus_stream_pop(&conn->stream, &f, &reason);
                if (r < 0)
                        return 0;
                if (r == 0) {
                        if (mbus_stream_read(&conn->stream) <= 0)
                                return 0;       /* hang-up, nothing more, or broken */
                        continue;
                }
                if (f->type == MBUS_FRAME_ERROR && f->f.reply_serial == 0)
                        conn->farewell = TAKE_PTR(f);
        }
        return conn->farewell ? mbus_conn_frame_to_error(conn->farewell, reterr) : 0;
}

static int conn_hello(struct mbus_conn *conn, struct mbus_error *reterr) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *welcome = NULL;
        _cleanup_json_ json_object *hello = NULL, *body = NULL;
        json_object *v, *features;
        uint64_t serial;
        const char *id;
        int r;

        hello = json_object_new_object();
        if (!hello)
                return -ENOMEM;
        if (json_object_object_add(hello, "name", json_object_new_string(conn->name)) < 0)
                return -ENOMEM;
        /* The caller_* fields of forwarded CALLs (mbus_request_get_caller()) are opt-in: a
         * broker writes them only to clients that can parse them. */
        features = json_object_new_array();
        if (!features || json_object_array_add(features, json_object_new_string(MBUS_FEATURE_CALLER)) < 0 ||
            json_object_object_add(hello, "features", features) < 0) {
                json_object_put(features);
                return -ENOMEM;
        }

        serial = mbus_conn_next_serial(conn);
        r = mbus_conn_send(conn, MBUS_FRAME_HELLO, &(const struct mbus_frame_fields) { .serial = serial },
                           hello);
        if (r < 0)
                return r;

        r = mbus_conn_wait_reply(conn, serial, conn->open_deadline, &welcome);
        if (r == -ETIMEDOUT)
                return conn_open_error(reterr, r, "No answer to HELLO in time: a silent or busy peer, "
                                       "or not an mbus broker");
        if (r == -ENOTCONN)
                /* The reason it broke: -ECONNRESET, -EBADMSG for another protocol, ... */
                return conn->error == -EPROTONOSUPPORT ? -EBADMSG : conn->error;
        if (r < 0)
                return r;

        if (welcome->type == MBUS_FRAME_ERROR)
                return mbus_conn_frame_to_error(welcome, reterr);
        if (welcome->type != MBUS_FRAME_WELCOME)
                return -EBADMSG;

        if (mbus_conn_parse_body(conn, welcome, &body) < 0 || !json_object_is_type(body, json_type_object))
                return -EBADMSG;
        id = json_get_string(body, "id");
        if (!id || !mbus_peer_id_is_valid(id))
                return -EBADMSG;
        if (json_object_object_get_ex(body, "protocol", &v) &&
            (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != MBUS_PROTOCOL_VERSION))
                return -EBADMSG;
        if (json_object_object_get_ex(body, "max_frame_size", &v) && json_object_is_type(v, json_type_int)) {
                int64_t max = json_object_get_int64(v);

                if (max >= MBUS_FRAME_HEADER_SIZE) {
                        /* The broker forwards nothing bigger than it accepts, and accepts no
                         * more than this from us. */
                        conn->max_frame_size_out = (size_t) max;
                        conn->stream.max_frame_size = MAX((size_t) max, (size_t) MBUS_FRAME_SIZE_MAX_DEFAULT);
                }
        }

        conn->unique_id = strdup(id);
        if (!conn->unique_id)
                return -ENOMEM;
        return 0;
}

/* One of the two buses, whatever $MBUS_ADDRESS says. */
static int conn_open_bus(struct mbus_conn **ret, int (*address_of)(char **), const char *client_name,
                         struct mbus_error *error) {
        _cleanup_free_ char *address = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = address_of(&address);
        if (r < 0)
                return r;
        return mbus_conn_open_with_error(ret, address, client_name, error);
}

_public_ int mbus_conn_open_system(struct mbus_conn **ret, const char *client_name, struct mbus_error *error) {
        return conn_open_bus(ret, mbus_address_system, client_name, error);
}

_public_ int mbus_conn_open_user(struct mbus_conn **ret, const char *client_name, struct mbus_error *error) {
        return conn_open_bus(ret, mbus_address_user, client_name, error);
}

_public_ int mbus_conn_open(struct mbus_conn **ret, const char *address, const char *client_name) {
        return mbus_conn_open_with_error(ret, address, client_name, NULL);
}

_public_ int mbus_conn_open_with_error(struct mbus_conn **ret, const char *address, const char *client_name,
                                       struct mbus_error *reterr) {
        return mbus_conn_open_with_timeout(ret, address, client_name, 0, reterr);
}

/* A handle that is not connected yet: the state every way of opening starts from. */
static int conn_new(struct mbus_conn **ret, const char *client_name, uint64_t timeout_usec) {
        _cleanup_(conn_freep) struct mbus_conn *conn = NULL;
        int r;

        conn = calloc(1, sizeof(*conn));
        if (!conn)
                return -ENOMEM;
        conn->n_ref = 1;
        conn->fd = -EBADF;
        conn->state = MBUS_CONN_RUNNING;
        conn->next_serial = 1;
        conn->open_deadline = usec_add(now_usec(CLOCK_MONOTONIC),
                                       timeout_usec > 0 ? timeout_usec : MBUS_HANDSHAKE_TIMEOUT_USEC);
        conn->max_frame_size_out = MBUS_FRAME_SIZE_MAX_DEFAULT;
        mbus_stream_init(&conn->stream, -EBADF, MBUS_FRAME_SIZE_MAX_DEFAULT);

        conn->name = strdup(client_name ? client_name : program_invocation_short_name);
        if (!conn->name)
                return -ENOMEM;

        r = mbus_hashmap_new(&conn->pending, &mbus_uint64_hash_ops);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(conn);
        return 0;
}

/* HELLO on a connected socket (and TLS, if any), then the handle is the caller's. */
static int conn_greet(struct mbus_conn *conn, struct mbus_error *reterr) {
        int r;

        r = conn_hello(conn, reterr);
        if (r < 0 && conn->stream.transport.tls) {
                /* With TLS 1.3 the broker judges our certificate after our side of the handshake
                 * is done: its refusal is an alert that arrives instead of WELCOME (or after our
                 * HELLO met a closed socket). Read it, to say why. */
                (void) mbus_stream_read(&conn->stream);
                if (mbus_tls_reason(&conn->stream.transport)[0])
                        return conn_open_error(reterr, -EPROTO, "The broker refused the TLS connection: %s",
                                               mbus_tls_reason(&conn->stream.transport));
        }
        if (r < 0 && conn->state != MBUS_CONN_RUNNING) {
                /* Broken before WELCOME: the broker may have said why first. */
                int k = conn_read_farewell(conn, reterr);

                return k < 0 ? k : r;
        }
        return r;
}

_public_ int mbus_conn_open_with_timeout(struct mbus_conn **ret, const char *address, const char *client_name,
                                         uint64_t timeout_usec, struct mbus_error *reterr) {
        _cleanup_(conn_freep) struct mbus_conn *conn = NULL;
        _cleanup_free_ char *default_address = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        if (!address) {
                r = mbus_address_default(&default_address);
                if (r < 0)
                        return r;
                address = default_address;
        }

        r = conn_new(&conn, client_name, timeout_usec);
        if (r < 0)
                return r;

        r = conn_connect(conn, address, reterr);
        if (r < 0)
                return r;

        r = conn_greet(conn, reterr);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(conn);
        return 0;
}

int mbus_conn_open_fd(struct mbus_conn **ret, int fd, const char *client_name, uint64_t timeout_usec,
                      struct mbus_error *reterr) {
        _cleanup_(conn_freep) struct mbus_conn *conn = NULL;
        int r;

        if (fd < 0)
                return -EINVAL;
        if (!ret) {
                safe_close(fd);
                return -EINVAL;
        }

        r = conn_new(&conn, client_name, timeout_usec);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        conn->fd = fd;
        mbus_stream_init(&conn->stream, conn->fd, MBUS_FRAME_SIZE_MAX_DEFAULT);

        r = conn_greet(conn, reterr);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(conn);
        return 0;
}

_public_ struct mbus_conn *mbus_conn_ref(struct mbus_conn *conn) {
        if (!conn || conn->freeing)
                return conn;
        assert(conn->n_ref > 0);
        conn->n_ref++;
        return conn;
}

_public_ struct mbus_conn *mbus_conn_unref(struct mbus_conn *conn) {
        if (!conn || conn->freeing)
                return NULL;
        assert(conn->n_ref > 0);
        if (--conn->n_ref > 0)
                return NULL;
        return conn_free(conn);
}

_public_ void mbus_conn_close(struct mbus_conn *conn) {
        if (!conn)
                return;
        mbus_conn_ref(conn);            /* a callback run from here may drop the caller's ref */
        conn_disconnect(conn);
        mbus_conn_unref(conn);
}

_public_ const char *mbus_conn_get_unique_id(const struct mbus_conn *conn) {
        return conn ? conn->unique_id : NULL;
}

_public_ bool mbus_conn_is_open(const struct mbus_conn *conn) {
        return conn && conn->state == MBUS_CONN_RUNNING;
}

/* ---- event loop integration -------------------------------------------------------------- */

_public_ int mbus_conn_get_fd(const struct mbus_conn *conn) {
        if (!conn)
                return -EINVAL;
        if (conn->state == MBUS_CONN_CLOSED)
                return -ENOTCONN;
        return conn->fd;
}

_public_ int mbus_conn_get_events(const struct mbus_conn *conn) {
        if (!conn)
                return -EINVAL;
        if (conn->state == MBUS_CONN_CLOSED)
                return -ENOTCONN;
        if (conn->state != MBUS_CONN_RUNNING)
                return 0;       /* nothing to wait for: the timeout is already due */
        /* EPOLLIN == POLLIN, EPOLLOUT == POLLOUT */
        return (int) mbus_stream_events(&conn->stream);
}

int mbus_conn_next_timeout(const struct mbus_conn *conn, usec_t *ret) {
        if (conn->state == MBUS_CONN_CLOSED)
                return -ENOTCONN;
        if (conn->state != MBUS_CONN_RUNNING || conn->n_rqueue > 0 || conn->need_process ||
            mbus_stream_has_pending(&conn->stream))
                *ret = 0;
        else
                *ret = mbus_conn_first_deadline(conn);
        return 0;
}

_public_ int mbus_conn_get_timeout(const struct mbus_conn *conn, uint64_t *ret_usec) {
        if (!conn || !ret_usec)
                return -EINVAL;
        return mbus_conn_next_timeout(conn, ret_usec);
}

static int conn_dispatch(struct mbus_conn *conn, struct mbus_frame *f) {
        switch (f->type) {
        case MBUS_FRAME_RETURN:
        case MBUS_FRAME_ERROR:
                return mbus_conn_dispatch_reply(conn, f);
        case MBUS_FRAME_EVENT:
                return mbus_conn_dispatch_event(conn, f);
        case MBUS_FRAME_CALL:
                if (conn->state != MBUS_CONN_RUNNING)
                        return 0;       /* no way to answer it any more */
                return mbus_conn_dispatch_call(conn, f);
        case MBUS_FRAME_PONG:
                mbus_conn_log_debug("ignoring PONG %" PRIu64 " nobody waits for", f->f.reply_serial);
                return 0;
        default:
                mbus_conn_log_debug("broker sent a %s frame", strna(mbus_frame_type_to_string(f->type)));
                mbus_conn_set_broken(conn, -EBADMSG);
                return 0;
        }
}

static int conn_process_one(struct mbus_conn *conn) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        struct mbus_frame view, *g = NULL;
        int r;

        if (conn->state == MBUS_CONN_BROKEN) {
                f = conn_rqueue_pop(conn);
                if (f) {
                        (void) conn_dispatch(conn, f);
                        return 1;
                }
                if (mbus_conn_fail_one_pending(conn, MBUS_ERROR_DISCONNECTED, strerror(-conn->error)) > 0)
                        return 1;
                conn_finish(conn);
                mbus_conn_event_on_disconnect(conn);
                return conn->error;
        }

        r = mbus_stream_flush(&conn->stream);
        if (r < 0) {
                mbus_conn_set_broken(conn, r);
                return 1;
        }

        f = conn_rqueue_pop(conn);
        if (f) {
                (void) conn_dispatch(conn, f);
                return 1;
        }

        r = conn_read_frame(conn, /* may_read= */ true, &view, &g);
        if (r < 0) {
                mbus_conn_set_broken(conn, r);
                return 1;
        }
        if (r > 0) {
                (void) conn_dispatch(conn, g);
                if (g == &view)
                        mbus_stream_release_view(&conn->stream);
                else
                        mbus_frame_unref(g);
                return 1;
        }

        if (mbus_conn_expire_one_pending(conn, now_usec(CLOCK_MONOTONIC)) > 0)
                return 1;

        return 0;
}

_public_ int mbus_conn_process(struct mbus_conn *conn) {
        int r;

        if (!conn)
                return -EINVAL;
        if (conn->state == MBUS_CONN_CLOSED)
                return -ENOTCONN;

        /* A callback may drop the last reference the caller had. */
        mbus_conn_ref(conn);
        r = conn_process_one(conn);
        conn->need_process = r > 0;
        if (r == 0)
                conn->input_drained = false;    /* the caller polls next: then read again */
        mbus_conn_unref(conn);
        return r;
}

_public_ int mbus_conn_wait(struct mbus_conn *conn, uint64_t timeout_usec) {
        usec_t deadline, n, until;
        int events, r;

        if (!conn)
                return -EINVAL;
        r = mbus_conn_next_timeout(conn, &deadline);
        if (r < 0)
                return r;
        events = mbus_conn_get_events(conn);
        if (events < 0)
                return events;

        n = now_usec(CLOCK_MONOTONIC);
        if (deadline <= n)
                return 1;

        until = MIN(deadline, usec_add(n, timeout_usec));
        r = conn_poll(conn, (short) events, until);
        if (r < 0)
                return r;
        if (r > 0)
                return 1;
        return deadline <= now_usec(CLOCK_MONOTONIC) ? 1 : 0;
}

_public_ int mbus_conn_flush(struct mbus_conn *conn) {
        int r;

        r = mbus_conn_check_running(conn);
        if (r < 0)
                return r;

        for (;;) {
                r = mbus_stream_flush(&conn->stream);
                if (r < 0) {
                        mbus_conn_set_broken(conn, r);
                        return r;
                }
                if (r == 0)
                        return 0;
                r = conn_poll(conn, (short) mbus_stream_events(&conn->stream), USEC_INFINITY);
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

_public_ int mbus_conn_run(struct mbus_conn *conn) {
        int r;

        if (!conn)
                return -EINVAL;

        mbus_conn_ref(conn);
        for (;;) {
                r = mbus_conn_process(conn);
                if (conn->exit_requested) {
                        conn->exit_requested = false;
                        r = conn->exit_code;
                        /* Let the last replies leave, without blocking. */
                        if (conn->state == MBUS_CONN_RUNNING)
                                (void) mbus_stream_flush(&conn->stream);
                        break;
                }
                if (r < 0)
                        break;
                if (r > 0)
                        continue;

                r = mbus_conn_wait(conn, USEC_INFINITY);
                if (r < 0 && r != -EINTR)
                        break;
        }
        mbus_conn_unref(conn);
        return r;
}

_public_ void mbus_conn_exit(struct mbus_conn *conn, int code) {
        if (!conn)
                return;
        conn->exit_requested = true;
        conn->exit_code = code;
}

/* ---- slots ------------------------------------------------------------------------------- */

int mbus_slot_new(struct mbus_slot **ret, struct mbus_conn *conn, enum mbus_slot_type type, void *userdata) {
        struct mbus_slot *slot;

        slot = calloc(1, sizeof(*slot));
        if (!slot)
                return -ENOMEM;
        slot->n_ref = 1;                /* the connection's, while linked */
        slot->type = type;
        slot->conn = conn;
        slot->floating = true;
        slot->userdata = userdata;
        *ret = slot;
        return 0;
}

struct mbus_slot *mbus_slot_ref(struct mbus_slot *slot) {
        if (slot)
                slot->n_ref++;
        return slot;
}

struct mbus_slot *mbus_slot_unref(struct mbus_slot *slot) {
        if (!slot)
                return NULL;
        assert(slot->n_ref > 0);
        if (--slot->n_ref > 0)
                return NULL;
        assert(!slot->conn);
        if (slot->type == MBUS_SLOT_SUBSCRIPTION)
                free(slot->sub.pattern);
        else
                free(slot->call.what);
        free(slot);
        return NULL;
}

_public_ struct mbus_slot *mbus_slot_free(struct mbus_slot *slot) {
        if (!slot)
                return NULL;

        if (slot->conn) {
                if (slot->type == MBUS_SLOT_CALL)
                        mbus_slot_unlink_call(slot);
                else
                        mbus_slot_unlink_subscription(slot, /* send_unsubscribe= */ true);
        }
        /* Drop the user's reference; a callback running on this slot still holds its own. */
        if (!slot->floating) {
                slot->floating = true;
                mbus_slot_unref(slot);
        }
        return NULL;
}
