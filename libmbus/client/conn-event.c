/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Attaching a connection to an sd-event loop, the way sd-varlink does it: one io source on
 * the socket and one time source, both recomputed in the io source's prepare callback just
 * before each poll, from mbus_conn_get_events() and mbus_conn_get_timeout(). So the loop asks
 * for EPOLLOUT only while output is queued, and the one timer stands for the earliest call
 * deadline, or for "now" while there is still work without I/O (frames kept by a synchronous
 * call, a broken connection still completing its calls).
 *
 * Each wakeup runs up to MBUS_CONN_EVENT_BATCH mbus_conn_process() steps, then the loop goes
 * round again: other sources get their turn between batches, and a burst of frames (a
 * subscriber's events, read many at a time) costs one poll per batch, not one per frame. A
 * batch ends early once the loop is asked to exit or the connection is detached from it, so a
 * handler that ends the loop is the last to run. The sources go when the connection ends (conn_finish()
 * calls mbus_conn_event_release_sources()); the reference on the loop stays until detached.
 * A loop whose only connection broke would otherwise sleep forever looking healthy, so the end
 * is reported (the disconnect handler) and may end the loop (exit on disconnect).
 */

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include "client/conn-internal.h"

static int conn_event_prepare(sd_event_source *s, void *userdata) {
        struct mbus_conn *conn = userdata;
        uint32_t events = 0;
        usec_t until;
        int r;

        r = mbus_conn_get_events(conn);
        if (r > 0) {
                if (r & POLLIN)
                        events |= EPOLLIN;
                if (r & POLLOUT)
                        events |= EPOLLOUT;
        }
        r = sd_event_source_set_io_events(conn->io_source, events);
        if (r < 0)
                return r;

        if (mbus_conn_next_timeout(conn, &until) < 0 || until == USEC_INFINITY)
                return sd_event_source_set_enabled(conn->time_source, SD_EVENT_OFF);

        r = sd_event_source_set_time(conn->time_source, until);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(conn->time_source, SD_EVENT_ONESHOT);
}

#define MBUS_CONN_EVENT_BATCH 64u

static void conn_event_dispatch(struct mbus_conn *conn) {
        sd_event *e = conn->event;
        int code;

        /* The result needs no handling here: a broken connection finishes itself (and drops
         * these sources) within process(). */
        mbus_conn_ref(conn);
        for (unsigned i = 0; i < MBUS_CONN_EVENT_BATCH; i++) {
                if (mbus_conn_process(conn) <= 0)
                        break;
                if (!conn->io_source || conn->event != e || sd_event_get_exit_code(e, &code) >= 0)
                        break;
        }
        mbus_conn_unref(conn);
}

static int conn_event_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        conn_event_dispatch(userdata);
        return 0;
}

static int conn_event_on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        conn_event_dispatch(userdata);
        return 0;
}

void mbus_conn_event_release_sources(struct mbus_conn *conn) {
        conn->io_source = sd_event_source_disable_unref(conn->io_source);
        conn->time_source = sd_event_source_disable_unref(conn->time_source);
}

void mbus_conn_event_on_disconnect(struct mbus_conn *conn) {
        /* The handler may drop the caller's last reference or detach. */
        mbus_conn_ref(conn);
        if (conn->disconnect_handler)
                conn->disconnect_handler(conn, conn->error, conn->disconnect_userdata);
        if (conn->exit_on_disconnect && conn->event)
                (void) sd_event_exit(conn->event, conn->error);
        mbus_conn_unref(conn);
}

_public_ int mbus_conn_set_disconnect_handler(struct mbus_conn *conn, mbus_disconnect_handler_t handler,
                                              void *userdata) {
        if (!conn)
                return -EINVAL;
        conn->disconnect_handler = handler;
        conn->disconnect_userdata = userdata;
        return 0;
}

_public_ int mbus_conn_set_exit_on_disconnect(struct mbus_conn *conn, bool b) {
        if (!conn)
                return -EINVAL;
        conn->exit_on_disconnect = b;
        return 0;
}

_public_ int mbus_conn_attach_event(struct mbus_conn *conn, sd_event *event, int64_t priority) {
        sd_event *e = NULL;
        int r;

        if (!conn)
                return -EINVAL;
        if (conn->event)
                return -EBUSY;
        if (conn->state == MBUS_CONN_CLOSED)
                return -ENOTCONN;

        if (event)
                e = sd_event_ref(event);
        else {
                r = sd_event_default(&e);
                if (r < 0)
                        return r;
        }
        conn->event = e;
        conn->priority = priority;

        r = sd_event_add_io(e, &conn->io_source, conn->fd, EPOLLIN, conn_event_on_io, conn);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_priority(conn->io_source, priority);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_prepare(conn->io_source, conn_event_prepare);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(conn->io_source, "mbus-io");

        r = sd_event_add_time(e, &conn->time_source, CLOCK_MONOTONIC, 0, 0, conn_event_on_time, conn);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_priority(conn->time_source, priority);
        if (r < 0)
                goto fail;
        r = sd_event_source_set_enabled(conn->time_source, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(conn->time_source, "mbus-time");
        return 0;

fail:
        (void) mbus_conn_detach_event(conn);
        return r;
}

_public_ int mbus_conn_detach_event(struct mbus_conn *conn) {
        if (!conn)
                return -EINVAL;
        mbus_conn_event_release_sources(conn);
        conn->event = sd_event_unref(conn->event);
        return 0;
}
