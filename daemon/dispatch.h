/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The broker's own epoll set for peer sockets, polled from one sd-event io source: one
 * wake-up hands every ready socket (up to MBUS_DISPATCH_BATCH) to its handler, so 10,000
 * sockets hanging up together cost a few epoll_wait() calls instead of one loop iteration
 * each, and a socket leaves the set by being closed (no EPOLL_CTL_DEL per peer).
 *
 * A socket is registered under a handle, not a pointer: a slot in a table of the set's, and
 * the slot's generation. mbus_dispatch_forget() frees the slot at once, without a syscall;
 * a report that still comes for the socket (it is closed later, or its file lives on a moment
 * in a forked child between fork() and exec()) names a generation the slot no longer has and
 * is ignored. So a handler is never called for what was forgotten.
 */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

/* Sockets handled per wake-up; the rest are reported by the next epoll_wait(). */
#define MBUS_DISPATCH_BATCH 256

struct mbus_dispatch;

/* A ready socket: userdata as registered, revents as epoll reported them. */
typedef void (*mbus_dispatch_handler_t)(void *userdata, uint32_t revents);

/* A new, empty set watched by an io source on event (priority: the default). */
int mbus_dispatch_new(struct mbus_dispatch **ret, sd_event *event);
struct mbus_dispatch *mbus_dispatch_free(struct mbus_dispatch *d);

/*
 * Adds fd with epoll events (EPOLLET and the like included as given); handler(userdata,
 * revents) is called for each report until the handle is forgotten. Returns 0 and the
 * handle (never 0) in *ret_handle, or a negative errno.
 */
int mbus_dispatch_add(struct mbus_dispatch *d, int fd, uint32_t events, mbus_dispatch_handler_t handler,
                      void *userdata, uint64_t *ret_handle);
/* Changes the events of fd, added under handle. Returns 0 or a negative errno. */
int mbus_dispatch_mod(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t handle);
/*
 * The handler is not called again for handle (0: nothing). The socket stays in the set until
 * it is closed. Returns 0, so "h = mbus_dispatch_forget(d, h);" works.
 */
uint64_t mbus_dispatch_forget(struct mbus_dispatch *d, uint64_t handle);

/* Takes fd out of the set (EPOLL_CTL_DEL) and forgets handle. Returns 0 or a negative errno. */
int mbus_dispatch_remove(struct mbus_dispatch *d, int fd, uint64_t handle);

/* Inside a handler: how many sockets the current wake-up reported (1: it alone); 0 outside. */
unsigned mbus_dispatch_batch_size(const struct mbus_dispatch *d);

MBUS_DEFINE_CLEANUP(struct mbus_dispatch *, mbus_dispatch_free);
