/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Where a configuration file is wrong, for messages of the form PATH:LINE: MESSAGE. */

#include <stdarg.h>
#include <stddef.h>

struct mbus_file_error {
        char path[256];
        unsigned line;                  /* 0 if unknown */
        char message[256];
};

/* Fills e (may be NULL) and returns -EBADMSG, so "return mbus_file_error_set(...);" works. */
int mbus_file_error_set(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...)
        __attribute__((__format__(printf, 4, 5)));
/* The same with a va_list, for loaders whose own failure functions take a format. */
int mbus_file_error_setv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) __attribute__((__format__(printf, 4, 0)));

/* Formats "PATH:LINE: MESSAGE" (or "PATH: MESSAGE" without a line) into buf; returns buf. */
const char *mbus_file_error_format(const struct mbus_file_error *e, char *buf, size_t size);

/* Line number (1-based) of byte offset in text. */
unsigned mbus_text_line_of(const char *text, size_t len, size_t offset);
