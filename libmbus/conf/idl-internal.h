/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What idl.c shares with its parsers, body checks and writers: building a namespace, the checks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/file-error.h"
#include "conf/idl.h"

/* A new empty namespace; path (may be NULL) is copied. */
int idl_namespace_new(struct mbus_idl_namespace **ret, const char *path);
int idl_set_string(char **field, const char *value);
/* Trims surrounding whitespace of doc and stores it (NULL if nothing is left). */
int idl_set_doc(char **field, const char *doc, size_t len);

/*
 * Appends an empty member (name copied) to the procedures or events; the pointer in *ret is
 * valid until the next append to the same list. -E2BIG over MBUS_IDL_MEMBERS_MAX, -ENOMEM.
 */
int idl_add_member(struct mbus_idl_namespace *ns, bool event, const char *name, unsigned line,
                   struct mbus_idl_member **ret);
/* Appends an argument to m's in or out list (type unset: MBUS_IDL_ANY); -E2BIG over MBUS_IDL_ARGS_MAX. */
int idl_add_arg(struct mbus_idl_member *m, bool out, const char *name, unsigned line, struct mbus_idl_arg **ret);

/* Sets l's max-body-depth (depth) or max-body-size to value; -EINVAL with why out of range. */
int idl_set_limit(struct mbus_idl_limits *l, bool depth, uint64_t value, const char **why);

/*
 * One member of an owner's declaration given as an object (idl-json.c): the canonical JSON
 * form of a file's member, index-th of its list, appended to ns with its arguments typed.
 * Reports to err as mbus_file_error_add() (no path, no line) and returns -EBADMSG, or -ENOMEM.
 */
struct json_object;
int idl_json_declared_member(struct mbus_idl_namespace *ns, bool event, size_t index, struct json_object *o,
                             struct mbus_file_error *err);

/*
 * The checks both forms share, run once the whole file is read: names valid, each name once
 * in its scope, no optional output arguments, docs valid UTF-8 without control characters.
 * ns_line is where the namespace is declared. Returns 0 or -EBADMSG with err filled.
 */
int idl_check(const struct mbus_idl_namespace *ns, unsigned ns_line, struct mbus_file_error *err);

/* White space as the formats know it (JSON's, and XML's after line-end normalisation). */
static inline bool idl_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* An empty or all-white-space body means "no arguments" (a CALL body, a REGISTER declaration). */
static inline bool idl_text_is_blank(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!idl_is_space(s[i]))
                        return false;
        return true;
}

/* "procedure" or "event", for messages. */
static inline const char *idl_member_kind(bool event) {
        return event ? "event" : "procedure";
}
