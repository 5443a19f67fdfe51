/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What broker.c shares with keepalive.c, another file of struct mbus_broker, and no one else. */

#include "util/time-util.h"

struct mbus_broker;

/* How late the broker's timers (call deadlines, keep-alive sweep) may fire, to batch wake-ups. */
#define BROKER_TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)

/* Adds b->keepalive_timer, the keep-alive sweep (keepalive.c). Returns 0 or negative errno. */
int mbus_broker_add_keepalive_timer(struct mbus_broker *b);
