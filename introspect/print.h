/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus-introspect's output: the namespace list, a namespace as a table, XML and JSON. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mbus_idl_namespace;
struct mbus_idl_arg;

/* One line of the namespace list. Unknown numbers are -1, unknown strings NULL. */
struct mbus_print_namespace_row {
        const char *name;
        const char *owner;              /* ":1.N", NULL: no owner */
        int64_t uid;                    /* the owner's */
        int64_t pid;                    /* the owner's */
        const char *client;             /* the owner's client name (HELLO) */
        int file;                       /* 1: an interface file declares it, 0: not, -1: unknown */
};

/*
 * The namespace list, like `busctl list`: a header line and one line per row, in the order
 * given, columns NAMESPACE OWNER UID PID CLIENT FILE padded to their widest cell, "-" for
 * what is unknown or absent. Returns 0 or -errno of the write.
 */
int mbus_print_namespaces(FILE *f, const struct mbus_print_namespace_row *rows, size_t n_rows);

/*
 * "interface: string, verbose?: bool" into *ret (newly allocated): each argument as
 * NAME[?]: TYPE, "?" after the name marking an optional one; "-" for an empty list.
 */
int mbus_print_args(const struct mbus_idl_arg *args, size_t n_args, char **ret);

/*
 * A namespace as a table, like `busctl introspect`: one header line with the namespace, its
 * owner (peer id, "-" for none) and where the description comes from, the namespace's doc if
 * any, a blank line, then the members:
 *
 *   org.example.Network: owner :1.3, file /usr/share/mbus/interfaces.d/org.example.Network.xml
 *   Network management.
 *
 *   KIND      NAME         IN                                OUT            DOC
 *   procedure GetState     interface: string, verbose?: bool state: string  Returns the state.
 *   event     StateChanged interface: string, state: ?string -              -
 *
 * A namespace declared on the bus says "declared by its owner", with "(argument types unknown)"
 * when its owner gave names only, and shows "?" for the argument lists of each member declared
 * by name alone; the members its owner typed show their types as a file's do. Docs are folded onto one line. Procedures first, then
 * events, each in the order of the description; the last column is not padded. Returns 0 or
 * -errno.
 */
int mbus_print_namespace(FILE *f, const struct mbus_idl_namespace *ns, const char *owner);

/* The machine forms: mbus_idl_to_xml(), and the canonical JSON (mbus_idl_to_json()), pretty
 * (indented) or on one line. Both end with a newline. Returns 0 or -errno. */
int mbus_print_xml(FILE *f, const struct mbus_idl_namespace *ns);
int mbus_print_json(FILE *f, const struct mbus_idl_namespace *ns, bool pretty);
