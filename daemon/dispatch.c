/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sd-event dispatches one ready source per loop iteration, and every iteration pays a
 * prepare pass and an epoll_wait() (with a zero timeout while sources are still pending): a
 * crowd of peers ready at once, such as thousands hanging up together, then costs that
 * iteration plus an EPOLL_CTL_DEL per peer. Peer sockets live in this epoll set instead,
 * which sd-event watches as one io source: each wake-up reads up to a batch of ready sockets
 * with one epoll_wait() and hands each to the handler. The set's fd stays readable while
 * sockets are ready, so a batch that did not take them all is followed by another in the
 * next iteration, after whatever else sd-event has pending (timers, signals, listeners).
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "dispatch.h"
#include "util/fd-util.h"

struct mbus_dispatch {
        int epoll_fd;                   /* owned */
        sd_event_source *source;        /* owned: EPOLLIN on epoll_fd */
        mbus_dispatch_handler_t handler;
        void *userdata;
        struct epoll_event events[MBUS_DISPATCH_BATCH];
};

static int dispatch_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct mbus_dispatch *d = userdata;
        int n;

        n = epoll_wait(d->epoll_fd, d->events, MBUS_DISPATCH_BATCH, 0);
        /* EINTR: nothing was taken, the set stays readable and comes again. */
        for (int i = 0; i < n; i++)
                d->handler(d->userdata, d->events[i].data.u64, d->events[i].events);
        return 0;
}

int mbus_dispatch_new(struct mbus_dispatch **ret, sd_event *event, mbus_dispatch_handler_t handler,
                      void *userdata) {
        _cleanup_(mbus_dispatch_freep) struct mbus_dispatch *d = NULL;
        int r;

        assert(ret && event && handler);

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->epoll_fd = -EBADF;   /* a half-built set must free cleanly */
        d->handler = handler;
        d->userdata = userdata;
        d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (d->epoll_fd < 0)
                return -errno;
        r = sd_event_add_io(event, &d->source, d->epoll_fd, EPOLLIN, dispatch_on_io, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->source, "peer-sockets");
        *ret = TAKE_PTR(d);
        return 0;
}

struct mbus_dispatch *mbus_dispatch_free(struct mbus_dispatch *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->source);
        safe_close(d->epoll_fd);
        free(d);
        return NULL;
}

static int dispatch_ctl(struct mbus_dispatch *d, int op, int fd, uint32_t events, uint64_t key) {
        struct epoll_event ev = { .events = events, .data.u64 = key };

        assert(d && fd >= 0);
        return epoll_ctl(d->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

int mbus_dispatch_add(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t key) {
        return dispatch_ctl(d, EPOLL_CTL_ADD, fd, events, key);
}

int mbus_dispatch_mod(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t key) {
        return dispatch_ctl(d, EPOLL_CTL_MOD, fd, events, key);
}
