/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-namespace counters (ns-stats.h): a hash of name -> counters, filled by the router as it
 * routes. Whether a name exists is the broker's question (registry, interface files), asked
 * through a callback so that this table stays a plain container; the sweep keeps its size
 * within a constant factor of what exists without hooking every path that releases a namespace.
 * Counters are reference-counted (ns-stats.h): the sweep drops the table's reference only.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ns-stats.h"
#include "util/hashmap.h"

struct mbus_ns_stats {
        struct mbus_hashmap *names;     /* name -> struct mbus_ns_counters, a reference */
};

struct mbus_ns_counters *mbus_ns_counters_ref(struct mbus_ns_counters *c) {
        if (c)
                c->n_ref++;
        return c;
}

struct mbus_ns_counters *mbus_ns_counters_unref(struct mbus_ns_counters *c) {
        if (c && --c->n_ref == 0)
                free(c);
        return NULL;
}

int mbus_ns_stats_new(struct mbus_ns_stats **ret) {
        struct mbus_ns_stats *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = mbus_hashmap_new(&s->names, &mbus_string_hash_ops);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct mbus_ns_stats *mbus_ns_stats_free(struct mbus_ns_stats *s) {
        size_t state = 0;
        void *value;

        if (!s)
                return NULL;
        while (mbus_hashmap_iterate(s->names, &state, &value, NULL))
                mbus_ns_counters_unref(value);
        mbus_hashmap_free(s->names);
        free(s);
        return NULL;
}

static void ns_stats_sweep(struct mbus_ns_stats *s, bool (*exists)(const char *ns, void *userdata), void *userdata) {
        size_t state = 0;
        void *value;

        while (mbus_hashmap_iterate(s->names, &state, &value, NULL)) {
                struct mbus_ns_counters *c = value;

                if (exists(c->name, userdata))
                        continue;
                (void) mbus_hashmap_remove(s->names, c->name);
                mbus_ns_counters_unref(c);
        }
}

struct mbus_ns_counters *mbus_ns_stats_get(struct mbus_ns_stats *s, const char *ns, size_t n_existing,
                                           bool (*exists)(const char *ns, void *userdata), void *userdata) {
        struct mbus_ns_counters *c = mbus_hashmap_get(s->names, ns);
        size_t len;

        if (c)
                return c;
        if (!exists(ns, userdata))
                return NULL;
        if (mbus_hashmap_size(s->names) >= 2 * n_existing + 64)
                ns_stats_sweep(s, exists, userdata);
        len = strlen(ns);
        c = calloc(1, sizeof(*c) + len + 1);
        if (!c)
                return NULL;
        c->n_ref = 1;
        memcpy(c->name, ns, len + 1);
        if (mbus_hashmap_put(s->names, c->name, c) < 0) {
                free(c);
                return NULL;
        }
        return c;
}

const struct mbus_ns_counters *mbus_ns_stats_peek(const struct mbus_ns_stats *s, const char *ns) {
        return mbus_hashmap_get(s->names, ns);
}
