/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The per-namespace interface registry (interfaces.d files) and the body checks it enables. */

#include <stddef.h>

#include "conf/file-error.h"
#include "util/macro.h"

struct mbus_idl_namespace;

/*
 * Namespace -> description, from the files of the interfaces.d directories. Built whole and
 * swapped whole on reload, like the policy. Descriptions declared by owners at REGISTER live on
 * their struct mbus_namespace (namespace.h), not here.
 */
struct mbus_introspection;

/* Lifecycle. */
int mbus_introspection_new(struct mbus_introspection **ret);
struct mbus_introspection *mbus_introspection_free(struct mbus_introspection *reg);

/*
 * Builds a new registry from the interfaces.d directories dirs[0..n_dirs) in order (a later
 * file replaces an earlier one of the same namespace; missing directories are fine). Nothing is
 * half-loaded: on error *ret is untouched and *err says file:line: what.
 */
int mbus_introspection_load(struct mbus_introspection **ret, const char *const *dirs, size_t n_dirs,
                            struct mbus_file_error *err);

/*
 * The broker's load: with report (conf/confdir.h), lenient: a file that fails to load is left
 * out, with what earlier directories gave its namespace, and reported to report->skipped(); the
 * load fails only for memory. With report NULL, mbus_introspection_load().
 */
struct mbus_conf_report;
int mbus_introspection_load_report(struct mbus_introspection **ret, const char *const *dirs, size_t n_dirs,
                                   const struct mbus_conf_report *report, struct mbus_file_error *err);

/*
 * Puts from's description of namespace name into reg in place of reg's, moving it out of from;
 * if from has none, reg has none either. How a reload keeps a running namespace's interface
 * file when the file broke. Returns 0 or -ENOMEM (reg then has none for name).
 */
int mbus_introspection_adopt(struct mbus_introspection *reg, struct mbus_introspection *from, const char *name);

/* Queries. */
const struct mbus_idl_namespace *mbus_introspection_get(const struct mbus_introspection *reg, const char *ns);
size_t mbus_introspection_size(const struct mbus_introspection *reg);
/* All descriptions sorted by name, in a new array (borrowed entries). 0 or -ENOMEM. */
int mbus_introspection_list(const struct mbus_introspection *reg, const struct mbus_idl_namespace ***ret,
                            size_t *ret_n);

/*
 * Body checks against a namespace's file, or its owner's declaration (file->declared), of which
 * only the typed members are checked: a member it does not name, or names untyped, passes (the
 * owner answers a procedure it does not serve). Checks run within the file's max-body-size and
 * max-body-depth, or else limits' (NULL: MBUS_IDL_BODY_*_DEFAULT; see mbus_idl_validate()).
 * Each returns 0 if the frame may go on, or:
 *   call:  -EOPNOTSUPP: procedure not declared; -EINVAL: arguments invalid or not JSON (reason
 *          set); -ENOBUFS: over a limit (reason names it)
 *   event: -EINVAL: event not declared or arguments invalid; -ENOBUFS: over a limit
 *   declaration (a REGISTER body, parsed): -EINVAL if it names procedures or events the file
 *          does not declare (reason names them)
 * -ENOMEM on allocation failure. reason gets a message for the ERROR frame.
 */
struct mbus_idl_limits;
int mbus_introspection_check_call(const struct mbus_idl_namespace *file, const char *member, const void *body,
                                  size_t len, const struct mbus_idl_limits *defaults, char *reason,
                                  size_t reason_size);
int mbus_introspection_check_event(const struct mbus_idl_namespace *file, const char *member, const void *body,
                                   size_t len, const struct mbus_idl_limits *defaults, char *reason,
                                   size_t reason_size);
int mbus_introspection_check_declaration(const struct mbus_idl_namespace *file,
                                         const struct mbus_idl_namespace *declared, char *reason,
                                         size_t reason_size);

MBUS_DEFINE_CLEANUP(struct mbus_introspection *, mbus_introspection_free);
