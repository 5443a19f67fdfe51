/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport-independent half of a listener: the io source and the accept loop. Accepted
 * sockets are non-blocking and close-on-exec from accept4(); each wakeup accepts a bounded
 * batch (the source is level-triggered, so what is left comes next iteration, and a storm of
 * connects cannot starve established peers). Credentials are read right here, at accept,
 * and travel with the socket into the broker.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "compat.h"
#include "creds.h"
#include "listener.h"
#include "listener-ws.h"
#include "log-ids.h"
#include "peer.h"
#include "util/fd-util.h"

#define LISTENER_ACCEPT_BATCH 64
#define LISTENER_RETRY_USEC (100 * USEC_PER_MSEC)

static int listener_on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mbus_listener *l = userdata;

        (void) sd_event_source_set_enabled(l->io_source, SD_EVENT_ON);
        return 0;
}

/*
 * Out of file descriptors: the listening socket stays readable, so a level-triggered source
 * would spin. Stop accepting for a moment instead; queued connections wait in the backlog.
 */
static void listener_pause(struct mbus_listener *l) {
        int r;

        (void) sd_event_source_set_enabled(l->io_source, SD_EVENT_OFF);
        if (l->retry_source)
                r = sd_event_source_set_time_relative(l->retry_source, LISTENER_RETRY_USEC);
        else
                r = sd_event_add_time_relative(l->broker->event, &l->retry_source, CLOCK_MONOTONIC,
                                               LISTENER_RETRY_USEC, 10 * USEC_PER_MSEC, listener_on_retry, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->retry_source, SD_EVENT_ONESHOT);
        if (r < 0)      /* no timer: better to spin than to stop accepting for good */
                (void) sd_event_source_set_enabled(l->io_source, SD_EVENT_ON);
}

static int listener_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct mbus_listener *l = userdata;
        struct mbus_broker *b = l->broker;

        for (unsigned i = 0; i < LISTENER_ACCEPT_BATCH; i++) {
                _cleanup_close_ int cfd = -EBADF;
                struct mbus_creds creds = MBUS_CREDS_NULL;
                struct sockaddr_storage sa;
                socklen_t sa_len = sizeof(sa);
                int r;

                cfd = accept4(l->fd, (struct sockaddr *) &sa, &sa_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                                continue;
                        if (mbus_ratelimit_below(&b->drop_log_ratelimit, mbus_broker_now(b)))
                                (void) mbus_log(LOG_WARNING, errno, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_LIMIT),
                                                "Failed to accept a connection: %s", strerror(errno));
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                                listener_pause(l);
                        break;
                }

                r = l->ops->get_creds(cfd, (const struct sockaddr *) &sa, MIN(sa_len, (socklen_t) sizeof(sa)),
                                      &creds);
                if (r < 0) {
                        (void) mbus_log(LOG_WARNING, r, NULL, "Failed to read peer credentials: %s",
                                        strerror(-r));
                        continue;
                }
                if (l->ops->ws)
                        mbus_ws_adopt(b->ws, TAKE_FD(cfd), &creds, l->ops->tls);
                else if (l->ops->compat)
                        mbus_compat_adopt(b->compat, TAKE_FD(cfd), &creds);
                else
                        mbus_broker_accept(b, TAKE_FD(cfd), &creds, l->ops->tls);
                mbus_creds_done(&creds);
        }

        mbus_broker_dispatch_done(b);
        return 0;
}

int mbus_listener_new(struct mbus_listener **ret, struct mbus_broker *b, int fd,
                      const struct mbus_listener_ops *ops, const char *unlink_path) {
        _cleanup_close_ int owned_fd = fd;
        struct mbus_listener *l;
        int r;

        assert(ret && b && ops && fd >= 0);

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->broker = b;
        l->ops = ops;
        l->fd = -EBADF;
        if (unlink_path) {
                l->unlink_path = strdup(unlink_path);
                if (!l->unlink_path) {
                        mbus_listener_free(l);
                        return -ENOMEM;
                }
        }

        r = sd_event_add_io(b->event, &l->io_source, fd, EPOLLIN, listener_on_io, l);
        if (r < 0) {
                mbus_listener_free(l);
                return r;
        }
        (void) sd_event_source_set_description(l->io_source, ops->name);
        l->fd = TAKE_FD(owned_fd);
        *ret = l;
        return 0;
}

struct mbus_listener *mbus_listener_free(struct mbus_listener *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->io_source);
        sd_event_source_disable_unref(l->retry_source);
        safe_close(l->fd);
        if (l->unlink_path)
                (void) unlink(l->unlink_path);
        free(l->unlink_path);
        free(l);
        return NULL;
}
