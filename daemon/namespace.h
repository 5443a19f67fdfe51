/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The namespace registry: one owner per namespace. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/*
 * Owners are peer ids; 0 is the broker itself (org.mbus.Broker). Each peer embeds a
 * struct mbus_namespace_list of what it owns, so releasing on disconnect needs no scan.
 * Emitting NamespaceOwnerChanged is the caller's business: the registry does no I/O.
 */

struct mbus_namespace {
        uint64_t owner;
        struct mbus_idl_namespace *described;   /* the REGISTER declaration, parsed once, owned */
        bool typed;                     /* described has typed members: calls and events are checked */
        struct mbus_ns_counters *counters;      /* a reference, set by the router at its first count
                                                   (ns-stats.h); NULL before */
        struct mbus_namespace_list *owner_list;
        struct mbus_namespace *owner_prev, *owner_next;
        char name[];                    /* key in the registry */
};

struct mbus_namespace_list {
        struct mbus_namespace *first;
        size_t n;
        size_t *n_also;         /* a second counter kept in step with n (the owner's user's, for
                                   quotas); NULL: none */
};

struct mbus_namespace_registry;
struct mbus_idl_namespace;
struct mbus_ns_counters;

/* Lifecycle. */
int mbus_namespace_registry_new(struct mbus_namespace_registry **ret);
struct mbus_namespace_registry *mbus_namespace_registry_free(struct mbus_namespace_registry *reg);
struct mbus_namespace *mbus_namespace_free(struct mbus_namespace *ns);   /* an unlinked entry */

/* Operations. */

/*
 * Gives name to owner, recording it on list (may be NULL for the broker's own namespaces).
 * Returns 0 if registered, -EALREADY if owner already owns it, -EEXIST if another owner has
 * it, -ENOMEM.
 */
int mbus_namespace_register(struct mbus_namespace_registry *reg, const char *name, uint64_t owner,
                            struct mbus_namespace_list *list);

/* Releases name held by owner. Returns 0, -ENOENT if nobody owns it, -EPERM if another does. */
int mbus_namespace_unregister(struct mbus_namespace_registry *reg, const char *name, uint64_t owner);

/*
 * Takes the first namespace off an owner's list and out of the registry, and returns it (the
 * caller frees it with mbus_namespace_free() after announcing the change), or NULL if the list
 * is empty.
 */
struct mbus_namespace *mbus_namespace_pop_owned(struct mbus_namespace_registry *reg,
                                                struct mbus_namespace_list *list);

/* Queries. */
struct mbus_namespace *mbus_namespace_get(struct mbus_namespace_registry *reg, const char *name);
size_t mbus_namespace_registry_size(const struct mbus_namespace_registry *reg);

/*
 * All entries sorted by name, in a new array of mbus_namespace_registry_size() pointers
 * (borrowed entries; free the array). Returns 0 or -ENOMEM.
 */
int mbus_namespace_registry_list(const struct mbus_namespace_registry *reg,
                                 struct mbus_namespace ***ret, size_t *ret_n);

MBUS_DEFINE_CLEANUP(struct mbus_namespace_registry *, mbus_namespace_registry_free);
