/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Namespace registry: a hash from name to entry, the entry embedding its name (the key), its
 * owner and its place on the owner's list. Registration by the owner it already has is
 * idempotent, so a client may re-send REGISTER to update its declaration (the router keeps the
 * parsed one in the entry; the text itself is not kept).
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl.h"
#include "namespace.h"
#include "ns-stats.h"
#include "util/hashmap.h"

struct mbus_namespace_registry {
        struct mbus_hashmap *names;
        /* The entry found last: calls come in runs to one namespace, and comparing its name
         * costs a fraction of hashing it. Cleared when that entry leaves. */
        struct mbus_namespace *last;
};

int mbus_namespace_registry_new(struct mbus_namespace_registry **ret) {
        struct mbus_namespace_registry *reg;
        int r;

        assert(ret);

        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return -ENOMEM;
        r = mbus_hashmap_new(&reg->names, &mbus_string_hash_ops);
        if (r < 0) {
                free(reg);
                return r;
        }
        *ret = reg;
        return 0;
}

static void namespace_unlink(struct mbus_namespace_registry *reg, struct mbus_namespace *ns) {
        assert(ns);

        (void) mbus_hashmap_remove(reg->names, ns->name);
        if (reg->last == ns)
                reg->last = NULL;
        if (!ns->owner_list)
                return;
        if (ns->owner_prev)
                ns->owner_prev->owner_next = ns->owner_next;
        else
                ns->owner_list->first = ns->owner_next;
        if (ns->owner_next)
                ns->owner_next->owner_prev = ns->owner_prev;
        ns->owner_list->n--;
        if (ns->owner_list->n_also)
                (*ns->owner_list->n_also)--;
        ns->owner_list = NULL;
        ns->owner_prev = ns->owner_next = NULL;
}

struct mbus_namespace_registry *mbus_namespace_registry_free(struct mbus_namespace_registry *reg) {
        void *v;

        if (!reg)
                return NULL;
        if (reg->names) {
                size_t state = 0;

                while (mbus_hashmap_iterate(reg->names, &state, &v, NULL)) {
                        namespace_unlink(reg, v);
                        mbus_namespace_free(v);
                }
        }
        mbus_hashmap_free(reg->names);
        free(reg);
        return NULL;
}

struct mbus_namespace *mbus_namespace_free(struct mbus_namespace *ns) {
        if (!ns)
                return NULL;
        assert(!ns->owner_list);
        mbus_idl_namespace_free(ns->described);
        mbus_ns_counters_unref(ns->counters);
        free(ns);
        return NULL;
}

int mbus_namespace_register(struct mbus_namespace_registry *reg, const char *name, uint64_t owner,
                            struct mbus_namespace_list *list) {
        struct mbus_namespace *ns;
        size_t len;
        int r;

        assert(reg && name);

        ns = mbus_hashmap_get(reg->names, name);
        if (ns) {
                return ns->owner == owner ? -EALREADY : -EEXIST;
        }

        len = strlen(name);
        ns = calloc(1, sizeof(*ns) + len + 1);
        if (!ns)
                return -ENOMEM;
        memcpy(ns->name, name, len + 1);
        ns->owner = owner;
        r = mbus_hashmap_put(reg->names, ns->name, ns);
        if (r < 0) {
                mbus_namespace_free(ns);
                return r;
        }

        if (list) {
                ns->owner_list = list;
                ns->owner_next = list->first;
                if (list->first)
                        list->first->owner_prev = ns;
                list->first = ns;
                list->n++;
                if (list->n_also)
                        (*list->n_also)++;
        }
        return 0;
}

int mbus_namespace_unregister(struct mbus_namespace_registry *reg, const char *name, uint64_t owner) {
        struct mbus_namespace *ns;

        assert(reg && name);

        ns = mbus_hashmap_get(reg->names, name);
        if (!ns)
                return -ENOENT;
        if (ns->owner != owner)
                return -EPERM;
        namespace_unlink(reg, ns);
        mbus_namespace_free(ns);
        return 0;
}

struct mbus_namespace *mbus_namespace_pop_owned(struct mbus_namespace_registry *reg,
                                                struct mbus_namespace_list *list) {
        struct mbus_namespace *ns;

        assert(reg && list);

        ns = list->first;
        if (!ns)
                return NULL;
        namespace_unlink(reg, ns);
        return ns;
}

struct mbus_namespace *mbus_namespace_get(struct mbus_namespace_registry *reg, const char *name) {
        struct mbus_namespace *ns;

        assert(reg);

        if (!name)
                return NULL;
        if (reg->last && strcmp(reg->last->name, name) == 0)
                return reg->last;
        ns = mbus_hashmap_get(reg->names, name);
        if (ns)
                reg->last = ns;
        return ns;
}

size_t mbus_namespace_registry_size(const struct mbus_namespace_registry *reg) {
        assert(reg);
        return mbus_hashmap_size(reg->names);
}

static int namespace_cmp(const void *a, const void *b) {
        const struct mbus_namespace *x = *(struct mbus_namespace *const *) a;
        const struct mbus_namespace *y = *(struct mbus_namespace *const *) b;
        return strcmp(x->name, y->name);
}

int mbus_namespace_registry_list(const struct mbus_namespace_registry *reg,
                                 struct mbus_namespace ***ret, size_t *ret_n) {
        struct mbus_namespace **array;
        size_t n = 0, state = 0;
        void *v;

        assert(reg && ret && ret_n);

        array = calloc(mbus_hashmap_size(reg->names) + 1, sizeof(*array));
        if (!array)
                return -ENOMEM;
        while (mbus_hashmap_iterate(reg->names, &state, &v, NULL))
                array[n++] = v;
        qsort(array, n, sizeof(*array), namespace_cmp);
        *ret = array;
        *ret_n = n;
        return 0;
}
