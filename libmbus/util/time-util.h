/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Time in microseconds of CLOCK_MONOTONIC: the one unit mbus uses for every duration. */

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

/* Now on clock (CLOCK_MONOTONIC or CLOCK_REALTIME), in microseconds. */
usec_t now_usec(clockid_t clock);

/* a + b, saturating at USEC_INFINITY. */
static inline usec_t usec_add(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}
