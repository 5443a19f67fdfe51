/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sd-event dispatches one ready source per loop iteration, and every iteration pays a
 * prepare pass and an epoll_wait() (with a zero timeout while sources are still pending): a
 * crowd of peers ready at once, such as thousands hanging up together, then costs that
 * iteration plus an EPOLL_CTL_DEL per peer. Peer sockets live in this epoll set instead,
 * which sd-event watches as one io source: each wake-up reads up to a batch of ready sockets
 * with one epoll_wait() and hands each to its handler. The set's fd stays readable while
 * sockets are ready, so a batch that did not take them all is followed by another in the
 * next iteration, after whatever else sd-event has pending (timers, signals, listeners).
 *
 * The price: a wake-up for a single socket costs that second epoll_wait() too, which is why
 * a peer that keeps waking the broker alone moves to an sd-event source of its own (peer.c,
 * mbus_dispatch_remove(), mbus_dispatch_batch_size()).
 *
 * Handles are (generation << 32 | slot): the table of slots grows, never shrinks, and a
 * freed slot is reused with its generation one higher. Handlers may add and forget sockets
 * while a batch runs: every report is looked up afresh.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "dispatch.h"
#include "util/fd-util.h"

#define SLOT_NONE UINT32_MAX

struct dispatch_slot {
        mbus_dispatch_handler_t handler;        /* NULL: free */
        void *userdata;
        uint32_t generation;
        uint32_t next_free;                     /* while free: the next free slot, or SLOT_NONE */
};

struct mbus_dispatch {
        int epoll_fd;                   /* owned */
        sd_event_source *source;        /* owned: EPOLLIN on epoll_fd */
        struct dispatch_slot *slots;
        uint32_t n_slots, free_first;
        unsigned n_batch;               /* reports of the wake-up being handled, 0: none */
        struct epoll_event events[MBUS_DISPATCH_BATCH];
};

static int dispatch_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct mbus_dispatch *d = userdata;
        int n;

        /* On failure (EINTR) nothing was taken: the set stays readable and comes again. */
        n = epoll_wait(d->epoll_fd, d->events, MBUS_DISPATCH_BATCH, 0);
        d->n_batch = n > 0 ? (unsigned) n : 0;
        for (int i = 0; i < n; i++) {
                uint64_t h = d->events[i].data.u64;
                uint32_t slot = (uint32_t) h;
                struct dispatch_slot *e;

                if (slot >= d->n_slots)
                        continue;
                e = &d->slots[slot];
                if (!e->handler || e->generation != (uint32_t) (h >> 32))
                        continue;       /* forgotten: its socket is closed or about to be */
                e->handler(e->userdata, d->events[i].events);
        }
        d->n_batch = 0;
        return 0;
}

int mbus_dispatch_new(struct mbus_dispatch **ret, sd_event *event) {
        _cleanup_(mbus_dispatch_freep) struct mbus_dispatch *d = NULL;
        int r;

        assert(ret && event);

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->free_first = SLOT_NONE;
        d->epoll_fd = -EBADF;   /* a half-built set must free cleanly */
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
        free(d->slots);
        free(d);
        return NULL;
}

/* A free slot, the table grown by half if none is left. Returns its index or SLOT_NONE. */
static uint32_t dispatch_take_slot(struct mbus_dispatch *d) {
        struct dispatch_slot *slots;
        uint32_t i, n;

        if (d->free_first == SLOT_NONE) {
                n = d->n_slots < 64 ? 64 : d->n_slots + d->n_slots / 2;
                if (n <= d->n_slots || n == SLOT_NONE)
                        return SLOT_NONE;
                slots = reallocarray(d->slots, n, sizeof(*slots));
                if (!slots)
                        return SLOT_NONE;
                for (i = n; i > d->n_slots; i--) {
                        slots[i - 1] = (struct dispatch_slot) { .generation = 1, .next_free = d->free_first };
                        d->free_first = i - 1;
                }
                d->slots = slots;
                d->n_slots = n;
        }
        i = d->free_first;
        d->free_first = d->slots[i].next_free;
        return i;
}

int mbus_dispatch_add(struct mbus_dispatch *d, int fd, uint32_t events, mbus_dispatch_handler_t handler,
                      void *userdata, uint64_t *ret_handle) {
        uint32_t slot;
        uint64_t h;
        int r;

        assert(d && fd >= 0 && handler && ret_handle);

        slot = dispatch_take_slot(d);
        if (slot == SLOT_NONE)
                return -ENOMEM;
        h = (uint64_t) d->slots[slot].generation << 32 | slot;
        r = epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &(struct epoll_event) { .events = events, .data.u64 = h });
        if (r < 0) {
                r = -errno;
                d->slots[slot].next_free = d->free_first;
                d->free_first = slot;
                return r;
        }
        d->slots[slot].handler = handler;
        d->slots[slot].userdata = userdata;
        *ret_handle = h;
        return 0;
}

int mbus_dispatch_mod(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t handle) {
        assert(d && fd >= 0 && handle != 0);

        if (epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, fd, &(struct epoll_event) { .events = events, .data.u64 = handle }) < 0)
                return -errno;
        return 0;
}

uint64_t mbus_dispatch_forget(struct mbus_dispatch *d, uint64_t handle) {
        uint32_t slot = (uint32_t) handle;
        struct dispatch_slot *e;

        if (handle == 0)
                return 0;
        assert(d && slot < d->n_slots);
        e = &d->slots[slot];
        assert(e->handler && e->generation == (uint32_t) (handle >> 32));
        e->handler = NULL;
        e->userdata = NULL;
        /* Never 0, so that no handle is 0; a wrap after 2^32 reuses of one slot is harmless
         * unless a report waited that long. */
        e->generation = e->generation == UINT32_MAX ? 1 : e->generation + 1;
        e->next_free = d->free_first;
        d->free_first = slot;
        return 0;
}

int mbus_dispatch_remove(struct mbus_dispatch *d, int fd, uint64_t handle) {
        int r = 0;

        assert(d && fd >= 0 && handle != 0);

        if (epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, fd, NULL) < 0)
                r = -errno;
        (void) mbus_dispatch_forget(d, handle);
        return r;
}

unsigned mbus_dispatch_batch_size(const struct mbus_dispatch *d) {
        return d->n_batch;
}
