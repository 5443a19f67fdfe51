/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Introspection descriptions: a namespace's procedures and events with typed arguments. */

/*
 * One model, two file forms that map one to one (man mbus-introspection(5)):
 *
 *   <namespace name="org.example.Network">   (optionally systemd-service="netd.service" or
 *                                              exec="/usr/bin/netd --bus": activation;
 *                                              max-body-size="65536" max-body-depth="8":
 *                                              struct mbus_idl_limits)
 *     <doc>Network management.</doc>
 *     <procedure name="GetState">
 *       <doc>Returns the state of one interface.</doc>
 *       <arg name="interface" type="string" direction="in"/>
 *       <arg name="verbose" type="bool" direction="in" optional="true"/>
 *       <arg name="state" type="string" direction="out"/>
 *       <arg name="addresses" type="array&lt;string&gt;" direction="out"/>
 *     </procedure>
 *     <event name="StateChanged">
 *       <doc>...</doc>
 *       <arg name="interface" type="string"/>
 *       <arg name="state" type="?string"/>
 *     </event>
 *   </namespace>
 *
 *   {"namespace": "org.example.Network", "doc": "Network management.",
 *    (optionally "systemd-service": "netd.service" or "exec": "/usr/bin/netd --bus",
 *     "max-body-size": 65536, "max-body-depth": 8),
 *    "procedures": [{"name": "GetState", "doc": "...",
 *                    "in": [{"name": "interface", "type": "string"},
 *                           {"name": "verbose", "type": "bool", "optional": true}],
 *                    "out": [{"name": "state", "type": "string"},
 *                            {"name": "addresses", "type": "array<string>"}]}],
 *    "events": [{"name": "StateChanged", "doc": "...",
 *                "args": [{"name": "interface", "type": "string"},
 *                         {"name": "state", "type": "?string"}]}]}
 *
 * Types: string, int, double (an int is accepted too), bool, object, any, array<T> (T any
 * type, nested arrays allowed), and "?" before a type makes it nullable (JSON null accepted).
 * Arguments travel as one JSON object keyed by argument name. A body is valid for an argument
 * list when it is an object (an absent or empty body counts as {}), every non-optional argument
 * is present, every present key is a declared argument, and each value has its type.
 * Names: procedures/events are member names (names.h), argument names are member names too.
 * Each procedure, event and argument name appears once in its scope. The JSON form given by
 * mbus_idl_to_json() is the canonical form used on the bus (org.mbus.Broker.Introspect).
 *
 * Details both forms share: direction defaults to "in"; event arguments take no direction;
 * optional defaults to false (XML: "true"/"false" only) and output arguments cannot be
 * optional; "in", "out", "args" and "doc" may be left out; a procedure's input and output
 * lists are separate scopes; docs are UTF-8 text (tab and line ends, no other control
 * characters) with surrounding whitespace trimmed. XML entity declarations are refused, and
 * so is any element, attribute or key not shown above. Type strings have no spaces: "?" at
 * most once per level ("array<?int>", "?array<int>").
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "conf/file-error.h"

/* Limits that keep hostile files and bodies cheap (man mbus-introspection(5)). */
#define MBUS_IDL_FILE_SIZE_MAX (1024u * 1024u)   /* bytes of one .xml/.json file */
#define MBUS_IDL_TYPE_DEPTH_MAX 16               /* array<...> nesting, the outer type counts */
#define MBUS_IDL_TYPE_STRING_MAX 256             /* buffer that holds any valid type string */
#define MBUS_IDL_MEMBERS_MAX 4096                /* procedures, and events, of one namespace */
#define MBUS_IDL_ARGS_MAX 256                    /* arguments in one list */

/*
 * What checking one CALL or EVENT body may cost: its size in bytes and how deep its arrays and
 * objects nest (the body's own object is level 1). A file may set both for its namespace
 * (max-body-size, max-body-depth); the broker's --max-body-size and --max-body-depth apply
 * otherwise. A body over either is refused with -ENOBUFS (LimitsExceeded) before it is read,
 * or at the first byte past the depth.
 */
#define MBUS_IDL_BODY_SIZE_DEFAULT (1024u * 1024u)
#define MBUS_IDL_BODY_DEPTH_DEFAULT 64u
#define MBUS_IDL_BODY_SIZE_MAX UINT32_MAX          /* a frame's limit: no larger body exists */
#define MBUS_IDL_BODY_DEPTH_MAX 1024u

struct mbus_idl_limits {
        size_t max_size;                        /* 0: not set */
        unsigned max_depth;                     /* 0: not set */
};

enum mbus_idl_kind {
        MBUS_IDL_STRING,
        MBUS_IDL_INT,
        MBUS_IDL_DOUBLE,
        MBUS_IDL_BOOL,
        MBUS_IDL_OBJECT,
        MBUS_IDL_ARRAY,
        MBUS_IDL_ANY,
        _MBUS_IDL_KIND_MAX,
        _MBUS_IDL_KIND_INVALID = -EINVAL,
};

struct mbus_idl_type {
        enum mbus_idl_kind kind;
        bool nullable;
        struct mbus_idl_type *element;          /* owned, ARRAY only */
};

struct mbus_idl_arg {
        char *name;
        struct mbus_idl_type type;
        bool optional;
        unsigned line;                          /* in the file, 0 if not from a file */
};

/* A procedure (in/out arguments) or an event (its arguments are in "in"). */
struct mbus_idl_member {
        char *name;
        char *doc;                              /* NULL if none */
        /*
         * Declared by its owner by name alone (a string in the REGISTER body): its arguments are
         * unknown, not empty, and nothing checks them. Never set for a member of a file.
         */
        bool untyped;
        struct mbus_idl_arg *in;
        size_t n_in;
        struct mbus_idl_arg *out;               /* procedures only */
        size_t n_out;
        unsigned line;
};

struct mbus_idl_namespace {
        char *name;
        char *doc;
        char *path;                             /* file it came from, NULL if declared on the bus */
        /*
         * true: from the owner's REGISTER, whose members are names (untyped) or carry their
         * argument types as a file's do. The broker checks a declared namespace's typed members
         * as it checks a file's, and nothing else of it (introspection.c).
         */
        bool declared;
        /*
         * How the broker starts the namespace's owner on the first CALL while it has none
         * (daemon/activation.c; man mbus-activation(5)): a systemd unit, or a command line run
         * as the broker's user. At most one is set; both NULL: not activatable. Files only.
         */
        char *systemd_service;                  /* "netd.service" */
        char *exec;                             /* "/usr/bin/netd --bus": absolute path, words */
        struct mbus_idl_limits limits;          /* max-body-size/-depth of the file; 0: the broker's */
        struct mbus_idl_member *procedures;
        size_t n_procedures;
        struct mbus_idl_member *events;
        size_t n_events;
};


/* Types. Parses a type string ("?array<string>") into *ret: 0, or -EINVAL for a malformed
 * string or one nested deeper than MBUS_IDL_TYPE_DEPTH_MAX. mbus_idl_type_done() frees the
 * element chain (the struct itself is embedded). */
int mbus_idl_type_parse(struct mbus_idl_type *ret, const char *s);
void mbus_idl_type_done(struct mbus_idl_type *t);

/*
 * Activation settings of a file (both forms): service must be a unit name ending in
 * ".service", exec an absolute path optionally followed by arguments separated by spaces
 * (no shell, no quoting). Returns 0 or -EINVAL with a reason in why.
 */
int mbus_idl_check_activation(const char *systemd_service, const char *exec, const char **why);

/* Parsing. Each returns 0 and a new namespace in *ret, -EBADMSG with *err filled for a
 * malformed file (syntax, unknown element/key, bad type, duplicate name, invalid name, ...),
 * -ENOMEM; path is used for messages and kept in ns->path. */
int mbus_idl_parse_xml(struct mbus_idl_namespace **ret, const char *path, const char *text, size_t len,
                       struct mbus_file_error *err);
int mbus_idl_parse_json(struct mbus_idl_namespace **ret, const char *path, const char *text, size_t len,
                        struct mbus_file_error *err);
/* Parses the canonical JSON form from a json_object (as returned by Introspect: its extra keys
 * "source", "path" and "owner" are accepted, "source": "declared" sets ns->declared, and then a
 * member without "in", "out" or "args" is untyped). */
int mbus_idl_from_json(struct mbus_idl_namespace **ret, json_object *o, struct mbus_file_error *err);
/* Reads path and parses it by its extension (.xml or .json); -EBADMSG for another extension,
 * -errno if it cannot be read. Also checks that the file name is NAMESPACE.xml/.json for the
 * namespace it declares. */
int mbus_idl_load_file(struct mbus_idl_namespace **ret, const char *path, struct mbus_file_error *err);

/*
 * Builds the description of a namespace from its owner's declaration, a REGISTER body
 * (mbus-protocol(7)): {"doc": TEXT, "procedures": [...], "events": [...]}, every key optional,
 * where each member is its name as a string (untyped: its arguments are unknown) or an object
 * in the canonical JSON form of a file's member ({"name": ..., "doc": ..., "in": [...],
 * "out": [...]} for a procedure, {"name": ..., "doc": ..., "args": [...]} for an event), whose
 * argument types are then checked by the broker as a file's are. body may be NULL/empty.
 * Other keys at the top are ignored (a newer library may declare more). -EINVAL for a body
 * that is not such an object, with what is wrong in err (may be NULL; no path, no line):
 * invalid names or types, a name given twice, unknown keys in a member. The first function is
 * the second without err.
 */
int mbus_idl_from_declaration(struct mbus_idl_namespace **ret, const char *ns, const char *body, size_t len);
int mbus_idl_from_declaration_with_error(struct mbus_idl_namespace **ret, const char *ns, const char *body,
                                         size_t len, struct mbus_file_error *err);

struct mbus_idl_namespace *mbus_idl_namespace_free(struct mbus_idl_namespace *ns);

/* Queries. */
const struct mbus_idl_member *mbus_idl_find_procedure(const struct mbus_idl_namespace *ns, const char *name);
const struct mbus_idl_member *mbus_idl_find_event(const struct mbus_idl_namespace *ns, const char *name);

/*
 * Checks a body (JSON text of len bytes; NULL/0 = {}) against an argument list, within limits
 * (NULL, or a field 0: MBUS_IDL_BODY_*_DEFAULT), in one pass that stops at the first fault and
 * allocates nothing. Returns 0 if valid, -EINVAL with a message naming the argument and the
 * expected type in reason ("argument 'interface': expected string, got int", "missing
 * argument 'interface'", "unknown argument 'foo'", "argument 'foo' given twice", "arguments
 * must be a JSON object"), -EBADMSG if the body is not JSON (RFC 8259, UTF-8) as far as it was
 * read, -ENOBUFS if it is larger or nests deeper than the limits (reason names the limit).
 * An int is a number without fraction or exponent; a double is any number.
 */
int mbus_idl_validate(const struct mbus_idl_arg *args, size_t n_args, const char *body, size_t len,
                      const struct mbus_idl_limits *limits, char *reason, size_t reason_size);

/* The limits in force: file's where set, else defaults' where set, else MBUS_IDL_BODY_*_DEFAULT;
 * the depth at most MBUS_IDL_BODY_DEPTH_MAX. Either may be NULL. */
void mbus_idl_limits_resolve(const struct mbus_idl_limits *file, const struct mbus_idl_limits *defaults,
                             struct mbus_idl_limits *ret);

/* Output. Canonical JSON form (as in the file); XML form (as in the file). Both always list
 * "procedures"/"events"; an untyped member (declared by name) carries no argument lists (its
 * arguments are unknown, not empty), every other member carries them, empty ones too, so the
 * JSON form read back with mbus_idl_from_json() tells the two apart. mbus_idl_to_xml() returns
 * a NUL-terminated string. */
int mbus_idl_to_json(const struct mbus_idl_namespace *ns, json_object **ret);
int mbus_idl_to_xml(const struct mbus_idl_namespace *ns, char **ret);
/* "string", "?array<int>", ... into buf; returns buf. */
const char *mbus_idl_type_to_string(const struct mbus_idl_type *t, char *buf, size_t size);

static inline void mbus_idl_namespace_freep(struct mbus_idl_namespace **p) {
        if (*p)
                *p = mbus_idl_namespace_free(*p);
}
