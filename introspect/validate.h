/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus-introspect --check: introspection and policy files validated offline. */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

enum mbus_validate_kind {
        MBUS_VALIDATE_INTERFACE,
        MBUS_VALIDATE_POLICY,
        _MBUS_VALIDATE_KIND_MAX,
        _MBUS_VALIDATE_KIND_INVALID = -EINVAL,
};

/*
 * Which kind of file path holding text (len bytes) is: by content first (XML root element
 * <namespace>, or <policy>/<identities>; a JSON object with "procedures"/"events", or
 * "rules"/"maps"), then by the
 * name of the directory it is in (interfaces.d, policy.d). _MBUS_VALIDATE_KIND_INVALID if
 * neither tells.
 */
enum mbus_validate_kind mbus_validate_kind_of(const char *path, const char *text, size_t len);

/*
 * Validates each path with the code the broker loads files with (mbus_idl_load_file(),
 * mbus_policy_add_file()). A directory stands for its NAMESPACE.xml/.json files (the broker's
 * rules for a directory apply: both forms of one namespace is an error). Writes "PATH: ok" to
 * out for each good file and "PATH:LINE: message" to err for each bad one. Returns 0 if all
 * were good, 1 if any was not, or a negative errno (-ENOMEM).
 */
int mbus_validate_paths(char *const *paths, size_t n_paths, FILE *out, FILE *err);
