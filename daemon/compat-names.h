/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Original mBus identifiers and command names <-> mbus namespaces and members (mbus-compat(7)). */

/*
 * The original accepts any string as a client identifier or command name; mbus names have a
 * grammar (proto/names.h). A name that is already valid travels unchanged; otherwise each byte
 * that cannot stand at its place becomes "__XX" (two underscores, two lowercase hex digits), a
 * '_' followed by another '_' becomes "__5f", and an identifier of one label gets a last label
 * "_" (a last label "_" of its own is escaped). Unescaping reverses it exactly, so every name
 * an original client writes comes back to it as written; a native name passes through
 * unescaping unchanged unless it holds "__" followed by two lowercase hex digits.
 */

#include <stddef.h>

/* Escapes an identifier into a namespace. Returns 0 and a new string, -EINVAL (empty, or too
 * long or too many labels once escaped), -ENOMEM. */
int mbus_compat_escape_namespace(const char *identifier, char **ret);
/* Escapes a command or event name into a member. Errors as mbus_compat_escape_namespace(). */
int mbus_compat_escape_member(const char *name, char **ret);
/* The reverse of both: a namespace or member back to the original's name. Returns 0, -ENOMEM. */
int mbus_compat_unescape_namespace(const char *ns, char **ret);
int mbus_compat_unescape_member(const char *member, char **ret);
