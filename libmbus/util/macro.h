/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Small macros every mbus file leans on: scoped cleanup, ownership hand-off, array sizes. */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _unused_ __attribute__((__unused__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _public_ __attribute__((__visibility__("default")))

/* Gives f##p(), usable with _cleanup_(), for a destructor that takes NULL and returns NULL. The
 * struct declaration at the end takes the `;` written after the macro, which ISO C does not allow
 * after a function body. */
#define MBUS_DEFINE_CLEANUP(type, f)                     \
        static inline void f##p(type *p) {               \
                if (*p)                                  \
                        *p = f(*p);                      \
        }                                                \
        struct mbus_define_cleanup_takes_a_semicolon

/* Hands ownership on: returns the value and forgets it locally. */
#define TAKE_PTR(p)                                      \
        ({                                               \
                __typeof__(p) _p_ = (p);                 \
                (p) = NULL;                              \
                _p_;                                     \
        })
#define TAKE_FD(fd)                                      \
        ({                                               \
                int _fd_ = (fd);                         \
                (fd) = -EBADF;                           \
                _fd_;                                    \
        })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Returns -errno, or -EIO should errno be unset: a caller must never see 0 on failure. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
