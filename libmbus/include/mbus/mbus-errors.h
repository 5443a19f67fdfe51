/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus error names and the error object libmbus returns with them. */

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The errors the broker and libmbus produce, each with the negative errno libmbus returns for
 * it. A service may reply with error names of its own (org.example.Error.Busy); libmbus
 * returns -EREMOTEIO for those and passes the name on in struct mbus_error.
 */
#define MBUS_ERROR_FAILED               "org.mbus.Error.Failed"               /* -EIO */
#define MBUS_ERROR_NO_SUCH_NAMESPACE    "org.mbus.Error.NoSuchNamespace"      /* -ENXIO */
#define MBUS_ERROR_UNKNOWN_PROCEDURE    "org.mbus.Error.UnknownProcedure"     /* -EOPNOTSUPP */
#define MBUS_ERROR_TIMEOUT              "org.mbus.Error.Timeout"              /* -ETIMEDOUT */
#define MBUS_ERROR_OWNER_DISCONNECTED   "org.mbus.Error.OwnerDisconnected"    /* -ENOLINK */
#define MBUS_ERROR_INVALID_ARGS         "org.mbus.Error.InvalidArgs"          /* -EINVAL */
#define MBUS_ERROR_ACCESS_DENIED        "org.mbus.Error.AccessDenied"         /* -EACCES */
#define MBUS_ERROR_LIMITS_EXCEEDED      "org.mbus.Error.LimitsExceeded"       /* -ENOBUFS */
#define MBUS_ERROR_NAMESPACE_TAKEN      "org.mbus.Error.NamespaceTaken"       /* -EEXIST */
#define MBUS_ERROR_NOT_OWNER            "org.mbus.Error.NotOwner"             /* -EPERM */
#define MBUS_ERROR_NO_SUCH_PEER         "org.mbus.Error.NoSuchPeer"           /* -ESRCH */
#define MBUS_ERROR_NO_SUCH_SUBSCRIPTION "org.mbus.Error.NoSuchSubscription"   /* -ENOENT */
#define MBUS_ERROR_PROTOCOL             "org.mbus.Error.ProtocolError"        /* -EBADMSG */
#define MBUS_ERROR_DISCONNECTED         "org.mbus.Error.Disconnected"         /* -ENOTCONN */
#define MBUS_ERROR_ACTIVATION_FAILED    "org.mbus.Error.ActivationFailed"     /* -ENOEXEC */
/* libmbus's own: the service answered with a result that is not valid JSON (its bug). */
#define MBUS_ERROR_INVALID_REPLY        "org.mbus.Error.InvalidReply"         /* -EBADE */

/*
 * A named error with a human-readable message. Both strings are owned by the struct; an empty
 * struct (both NULL) means "no error". Initialize with MBUS_ERROR_NULL.
 */
struct mbus_error {
        char *name;
        char *message;
};
#define MBUS_ERROR_NULL ((struct mbus_error) { NULL, NULL })

/* Frees name and message and resets e to MBUS_ERROR_NULL. Takes NULL. */
void mbus_error_free(struct mbus_error *e);

/* True if e holds an error. */
bool mbus_error_is_set(const struct mbus_error *e);

/* True if e holds the error called name. */
bool mbus_error_has_name(const struct mbus_error *e, const char *name);

/*
 * Maps an error name to its negative errno (table above); -EREMOTEIO for a name mbus does not
 * define, -EIO for NULL.
 */
int mbus_error_name_to_errno(const char *name);

/*
 * Maps a negative (or positive) errno to an mbus error name; MBUS_ERROR_FAILED for an errno
 * without a name of its own. The returned string is static.
 */
const char *mbus_errno_to_error_name(int error);

#ifdef __cplusplus
}
#endif
