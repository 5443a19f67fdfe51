/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration file errors as "PATH:LINE: MESSAGE". Loaders fill one struct mbus_file_error
 * at the first problem and return -EBADMSG; whoever handles the error (the broker's reload,
 * mbus-introspect --check) formats and logs it once. Paths and messages are truncated to the
 * fixed buffers rather than failing: an error report must never fail itself.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf/file-error.h"

int mbus_file_error_setv(struct mbus_file_error *e, const char *path, unsigned line, const char *format,
                         va_list ap) {
        if (!e)
                return -EBADMSG;

        (void) snprintf(e->path, sizeof(e->path), "%s", path ?: "");
        e->line = line;
        (void) vsnprintf(e->message, sizeof(e->message), format, ap);
        return -EBADMSG;
}

int mbus_file_error_set(struct mbus_file_error *e, const char *path, unsigned line, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = mbus_file_error_setv(e, path, line, format, ap);
        va_end(ap);
        return r;
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
