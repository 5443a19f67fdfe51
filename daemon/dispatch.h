/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The broker's own epoll set for peer sockets, polled from one sd-event io source: one
 * wake-up hands every ready socket (up to MBUS_DISPATCH_BATCH) to the handler, so 10,000
 * sockets hanging up together cost a few epoll_wait() calls instead of one loop iteration
 * each, and a socket leaves the set by being closed (no EPOLL_CTL_DEL per peer).
 *
 * A socket is registered with a key, not a pointer: a closed socket whose file lives on in
 * a forked child (between fork() and exec()) stays in the set and may still be reported,
 * so the handler looks the key up and ignores what it no longer knows. Keys are never
 * reused (peer ids).
 */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

/* Sockets handled per wake-up; the rest are reported by the next epoll_wait(). */
#define MBUS_DISPATCH_BATCH 256

struct mbus_dispatch;

/* One ready socket: key as registered, revents as epoll reported them. */
typedef void (*mbus_dispatch_handler_t)(void *userdata, uint64_t key, uint32_t revents);

/* A new, empty set watched by an io source on event (priority: the default). */
int mbus_dispatch_new(struct mbus_dispatch **ret, sd_event *event, mbus_dispatch_handler_t handler,
                      void *userdata);
struct mbus_dispatch *mbus_dispatch_free(struct mbus_dispatch *d);

/*
 * Adds fd with epoll events (EPOLLET and the like included as given) and key; mod changes
 * both for an fd already added. Return 0 or a negative errno. Closing fd takes it out.
 */
int mbus_dispatch_add(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t key);
int mbus_dispatch_mod(struct mbus_dispatch *d, int fd, uint32_t events, uint64_t key);

MBUS_DEFINE_CLEANUP(struct mbus_dispatch *, mbus_dispatch_free);
