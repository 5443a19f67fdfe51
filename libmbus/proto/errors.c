/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one mapping between negative errnos and org.mbus.Error.* names. The broker turns an
 * errno into an ERROR frame's name here, and libmbus turns a received name back into the
 * errno it returns, so both directions read from the same table and cannot drift apart.
 * Names mbus does not define (a service's own errors) map to -EREMOTEIO; errnos without a
 * name of their own map to org.mbus.Error.Failed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"

static const struct {
        const char *name;
        int error;      /* positive */
} error_table[] = {
        { MBUS_ERROR_FAILED,               EIO        },
        { MBUS_ERROR_NO_SUCH_NAMESPACE,    ENXIO      },
        { MBUS_ERROR_UNKNOWN_PROCEDURE,    EOPNOTSUPP },
        { MBUS_ERROR_TIMEOUT,              ETIMEDOUT  },
        { MBUS_ERROR_OWNER_DISCONNECTED,   ENOLINK    },
        { MBUS_ERROR_INVALID_ARGS,         EINVAL     },
        { MBUS_ERROR_ACCESS_DENIED,        EACCES     },
        { MBUS_ERROR_LIMITS_EXCEEDED,      ENOBUFS    },
        { MBUS_ERROR_NAMESPACE_TAKEN,      EEXIST     },
        { MBUS_ERROR_NOT_OWNER,            EPERM      },
        { MBUS_ERROR_NO_SUCH_PEER,         ESRCH      },
        { MBUS_ERROR_NO_SUCH_SUBSCRIPTION, ENOENT     },
        { MBUS_ERROR_PROTOCOL,             EBADMSG    },
        { MBUS_ERROR_DISCONNECTED,         ENOTCONN   },
        { MBUS_ERROR_ACTIVATION_FAILED,    ENOEXEC    },
        { MBUS_ERROR_INVALID_REPLY,        EBADE      },
};

_public_ void mbus_error_free(struct mbus_error *e) {
        if (!e)
                return;
        free(e->name);
        free(e->message);
        *e = MBUS_ERROR_NULL;
}

_public_ bool mbus_error_is_set(const struct mbus_error *e) {
        return e && e->name;
}

_public_ bool mbus_error_has_name(const struct mbus_error *e, const char *name) {
        return e && e->name && name && strcmp(e->name, name) == 0;
}

_public_ int mbus_error_name_to_errno(const char *name) {
        if (!name)
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (strcmp(error_table[i].name, name) == 0)
                        return -error_table[i].error;
        return -EREMOTEIO;
}

_public_ const char *mbus_errno_to_error_name(int error) {
        if (error < 0)
                error = -error;
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (error_table[i].error == error)
                        return error_table[i].name;
        return MBUS_ERROR_FAILED;
}

int mbus_error_setv(struct mbus_error *e, const char *name, const char *fmt, va_list ap) {
        int r;

        r = mbus_error_name_to_errno(name);
        if (!e)
                return r;

        mbus_error_free(e);
        e->name = strdup(name ? name : MBUS_ERROR_FAILED);
        if (fmt && vasprintf(&e->message, fmt, ap) < 0)
                e->message = NULL;
        return r;
}

int mbus_error_set(struct mbus_error *e, const char *name, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = mbus_error_setv(e, name, fmt, ap);
        va_end(ap);
        return r;
}

int mbus_error_set_errno(struct mbus_error *e, int error, const char *fmt, ...) {
        va_list ap;

        if (error < 0)
                error = -error;
        if (error == 0)
                error = EIO;

        va_start(ap, fmt);
        (void) mbus_error_setv(e, mbus_errno_to_error_name(error), fmt, ap);
        va_end(ap);
        return -error;
}
