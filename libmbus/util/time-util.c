/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every duration in mbus is a usec_t. Clocks that fail (they cannot for the two we use) would
 * be our bug, hence the assert rather than an error return.
 */

#include <assert.h>

#include "util/time-util.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        int r;

        r = clock_gettime(clock, &ts);
        assert(r == 0);
        (void) r;

        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}
