/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration file errors as "PATH:LINE: MESSAGE". Loaders fill one struct mbus_file_error
 * with the first problem and return -EBADMSG; whoever handles the error (the broker's reload,
 * mbus-introspect --check) formats and logs it once. A loader goes on past an error where its
 * format lets it find the next (another element, another rule), counting each, so a caller that
 * hangs a struct mbus_file_errors on the error gets every one: a package's author fixes a file
 * in one round, not one error per run. Only the first decides nothing more than the message:
 * a file with any error is broken all the same. Paths and messages are truncated to the
 * fixed buffers rather than failing: an error report must never fail itself.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/file-error.h"

static void file_error_fill(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                            va_list ap) {
        (void) snprintf(e->path, sizeof(e->path), "%s", path ?: "");
        e->line = line;
        (void) vsnprintf(e->message, sizeof(e->message), format, ap);
}

static void file_error_append(struct mbus_file_errors *l, const struct mbus_file_error *e) {
        struct mbus_file_error *a;

        if (!l)
                return;
        if (l->n_errors >= MBUS_FILE_ERRORS_MAX) {
                l->n_dropped++;
                return;
        }
        a = realloc(l->errors, (l->n_errors + 1) * sizeof(*a));
        if (!a) {
                l->n_dropped++;
                return;
        }
        l->errors = a;
        a[l->n_errors] = *e;
        a[l->n_errors].all = NULL;
        a[l->n_errors].n_errors = 0;
        l->n_errors++;
}

static int file_error_record(struct mbus_file_error *e, bool overwrite, const char *path, unsigned line,
                             const char *format, va_list ap) {
        struct mbus_file_error one = {};

        if (!e)
                return -EBADMSG;

        file_error_fill(&one, path, line, format, ap);
        if (overwrite || e->n_errors == 0) {
                memcpy(e->path, one.path, sizeof(e->path));
                e->line = one.line;
                memcpy(e->message, one.message, sizeof(e->message));
        }
        if (e->n_errors < UINT_MAX)
                e->n_errors++;
        file_error_append(e->all, &one);
        return -EBADMSG;
}

int mbus_file_error_setv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) {
        return file_error_record(e, /* overwrite= */ true, path, line, format, ap);
}

int mbus_file_error_set(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = mbus_file_error_setv(e, path, line, format, ap);
        va_end(ap);
        return r;
}

int mbus_file_error_addv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) {
        return file_error_record(e, /* overwrite= */ false, path, line, format, ap);
}

int mbus_file_error_add(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = mbus_file_error_addv(e, path, line, format, ap);
        va_end(ap);
        return r;
}

void mbus_file_errors_done(struct mbus_file_errors *l) {
        if (!l)
                return;
        free(l->errors);
        *l = (struct mbus_file_errors) {};
}

void mbus_file_errors_sort(struct mbus_file_errors *l) {
        /* Insertion sort: stable, and a list holds at most MBUS_FILE_ERRORS_MAX entries. */
        for (size_t i = 1; l && i < l->n_errors; i++) {
                struct mbus_file_error e = l->errors[i];
                size_t j = i;

                for (; j > 0; j--) {
                        int c = strcmp(l->errors[j - 1].path, e.path);

                        if (c < 0 || (c == 0 && l->errors[j - 1].line <= e.line))
                                break;
                        l->errors[j] = l->errors[j - 1];
                }
                l->errors[j] = e;
        }
}

const char *mbus_file_error_format(const struct mbus_file_error *e, char *buf, size_t size) {
        if (size == 0)
                return buf;
        if (!e) {
                buf[0] = 0;
                return buf;
        }
        if (e->path[0] && e->line > 0)
                (void) snprintf(buf, size, "%s:%u: %s", e->path, e->line, e->message);
        else if (e->path[0])
                (void) snprintf(buf, size, "%s: %s", e->path, e->message);
        else if (e->line > 0)
                (void) snprintf(buf, size, "line %u: %s", e->line, e->message);
        else
                (void) snprintf(buf, size, "%s", e->message);
        return buf;
}

unsigned mbus_text_line_of(const char *text, size_t len, size_t offset) {
        unsigned line = 1;

        if (!text)
                return 1;
        if (offset > len)
                offset = len;
        for (const char *p = text, *end = text + offset; (p = memchr(p, '\n', (size_t) (end - p))); p++)
                line++;
        return line;
}
