/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Where a configuration file is wrong, for messages of the form PATH:LINE: MESSAGE. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* At most this many errors of one file are kept in a list; the rest are only counted. */
#define MBUS_FILE_ERRORS_MAX 100u

struct mbus_file_errors;

struct mbus_file_error {
        char path[256];
        unsigned line;                  /* 0 if unknown */
        char message[256];
        /*
         * How many errors the loader running now has found; the first is the one above. A loader
         * resets it when it starts (mbus_file_error_begin()), so one struct serves a whole
         * directory walk.
         */
        unsigned n_errors;
        /* Borrowed, may be NULL: set by a caller that wants every error, not only the first. */
        struct mbus_file_errors *all;
};

/* Every error of a file in the order found, for tools that report them all (mbus-introspect --check). */
struct mbus_file_errors {
        struct mbus_file_error *errors; /* their .all is NULL */
        size_t n_errors;
        size_t n_dropped;               /* past MBUS_FILE_ERRORS_MAX, or not stored for want of memory */
};

void mbus_file_errors_done(struct mbus_file_errors *l);
/* Sorts l by file and line (stably: errors of one line keep their order). */
void mbus_file_errors_sort(struct mbus_file_errors *l);

/*
 * Fills e (may be NULL) and returns -EBADMSG, so "return mbus_file_error_set(...);" works. The
 * error is also appended to e->all when set, and counted in e->n_errors.
 */
int mbus_file_error_set(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...)
        __attribute__((__format__(printf, 4, 5)));
/* The same with a va_list, for loaders whose own failure functions take a format. */
int mbus_file_error_setv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) __attribute__((__format__(printf, 4, 0)));

/*
 * For a loader that goes on after an error to find the next one: the first error since
 * mbus_file_error_begin() fills e as mbus_file_error_set() does, a later one leaves e alone;
 * each is counted and appended to e->all. Returns -EBADMSG.
 */
int mbus_file_error_add(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...)
        __attribute__((__format__(printf, 4, 5)));
int mbus_file_error_addv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) __attribute__((__format__(printf, 4, 0)));

/* A loader starts on a new file: no error found yet (e may be NULL; e->all is kept). */
static inline void mbus_file_error_begin(struct mbus_file_error *e) {
        if (e)
                e->n_errors = 0;
}

/* Formats "PATH:LINE: MESSAGE" (or "PATH: MESSAGE" without a line) into buf; returns buf. */
const char *mbus_file_error_format(const struct mbus_file_error *e, char *buf, size_t size);

/* Line number (1-based) of byte offset in text. */
unsigned mbus_text_line_of(const char *text, size_t len, size_t offset);
