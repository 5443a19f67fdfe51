/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Subscription index.
 *
 * A pattern is one of three kinds, each with its own home:
 *   "ns.Member"   exact:  hash of full event names -> entry
 *   "a.b.*"       prefix: hash of label prefixes ("a.b") -> entry; an event a.b.c.Ev looks up
 *                         "a.b.c", "a.b" and "a", so a wildcard matches whole labels only
 *   "*"           all:    one entry
 * An entry lists its subscriptions; each subscription also sits on its owner's list, so a
 * disconnecting peer leaves in O(own subscriptions). Delivering an event costs at most one
 * lookup per label of its namespace plus the subscriptions that do match.
 *
 * Deduplication: every lookup takes a new generation number; an owner is reported only if its
 * generation stamp is older, so several matching patterns of one owner give one call.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "proto/names.h"
#include "util/hashmap.h"

enum match_kind {
        MATCH_EXACT,
        MATCH_PREFIX,
        MATCH_ALL,
};

struct match_owner {
        uint64_t id;                    /* key in idx->owners */
        void *data;                     /* borrowed, passed to lookups' callbacks */
        uint64_t generation;
        struct match_sub *subs;
        size_t n_subs;
};

struct match_sub {
        struct match_entry *entry;
        struct match_owner *owner;
        struct match_sub *entry_prev, *entry_next;
        struct match_sub *owner_prev, *owner_next;
        unsigned n_ref;
};

struct match_entry {
        enum match_kind kind;
        struct match_sub *subs;
        size_t n_subs;
        char key[];                     /* key in its table; "" for MATCH_ALL */
};

struct mbus_match_index {
        struct mbus_hashmap *exact;
        struct mbus_hashmap *prefix;
        struct mbus_hashmap *owners;
        struct match_entry *all;        /* NULL while nobody subscribed "*" */
        uint64_t generation;
        size_t n_subs;
};

int mbus_match_index_new(struct mbus_match_index **ret) {
        _cleanup_(mbus_match_index_freep) struct mbus_match_index *idx = NULL;
        int r;

        assert(ret);

        idx = calloc(1, sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        r = mbus_hashmap_new(&idx->exact, &mbus_string_hash_ops);
        if (r < 0)
                return r;
        r = mbus_hashmap_new(&idx->prefix, &mbus_string_hash_ops);
        if (r < 0)
                return r;
        r = mbus_hashmap_new(&idx->owners, &mbus_uint64_hash_ops);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(idx);
        return 0;
}

struct mbus_match_index *mbus_match_index_free(struct mbus_match_index *idx) {
        void *v;

        if (!idx)
                return NULL;

        /* Freeing every owner frees every subscription and, with the last one, every entry. */
        if (idx->owners) {
                size_t state = 0;

                while (mbus_hashmap_iterate(idx->owners, &state, &v, NULL))
                        (void) mbus_match_remove_owner(idx, ((struct match_owner *) v)->id);
        }
        mbus_hashmap_free(idx->exact);
        mbus_hashmap_free(idx->prefix);
        mbus_hashmap_free(idx->owners);
        free(idx->all);
        free(idx);
        return NULL;
}

/* Splits a valid pattern into its kind and the length of its key (a prefix of pattern). */
static enum match_kind match_classify(const char *pattern, size_t *ret_len) {
        size_t len = strlen(pattern);

        if (len == 1 && pattern[0] == '*') {
                *ret_len = 0;
                return MATCH_ALL;
        }
        if (len > 2 && pattern[len - 1] == '*' && pattern[len - 2] == '.') {
                *ret_len = len - 2;
                return MATCH_PREFIX;
        }
        *ret_len = len;
        return MATCH_EXACT;
}

static struct mbus_hashmap *match_table(struct mbus_match_index *idx, enum match_kind kind) {
        return kind == MATCH_EXACT ? idx->exact : idx->prefix;
}

static struct match_entry *match_find_entry(struct mbus_match_index *idx, const char *pattern) {
        char key[MBUS_NAME_MAX * 2 + 2];
        enum match_kind kind;
        size_t len;

        kind = match_classify(pattern, &len);
        if (kind == MATCH_ALL)
                return idx->all;
        if (len >= sizeof(key))
                return NULL;
        memcpy(key, pattern, len);
        key[len] = 0;
        return mbus_hashmap_get(match_table(idx, kind), key);
}

static int match_get_entry(struct mbus_match_index *idx, const char *pattern, struct match_entry **ret) {
        struct match_entry *e;
        enum match_kind kind;
        size_t len;
        int r;

        e = match_find_entry(idx, pattern);
        if (e) {
                *ret = e;
                return 0;
        }

        kind = match_classify(pattern, &len);
        if (len > MBUS_NAME_MAX * 2 + 1)
                return -EINVAL;
        e = calloc(1, sizeof(*e) + len + 1);
        if (!e)
                return -ENOMEM;
        e->kind = kind;
        memcpy(e->key, pattern, len);
        e->key[len] = 0;

        if (kind == MATCH_ALL)
                idx->all = e;
        else {
                r = mbus_hashmap_put(match_table(idx, kind), e->key, e);
                if (r < 0) {
                        free(e);
                        return r;
                }
        }
        *ret = e;
        return 0;
}

static void match_entry_release(struct mbus_match_index *idx, struct match_entry *e) {
        if (e->n_subs > 0)
                return;
        if (e->kind == MATCH_ALL)
                idx->all = NULL;
        else
                (void) mbus_hashmap_remove(match_table(idx, e->kind), e->key);
        free(e);
}

static int match_get_owner(struct mbus_match_index *idx, uint64_t id, void *data, struct match_owner **ret) {
        struct match_owner *o;
        int r;

        o = mbus_hashmap_get(idx->owners, &id);
        if (o) {
                assert(o->data == data);
                *ret = o;
                return 0;
        }
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->id = id;
        o->data = data;
        r = mbus_hashmap_put(idx->owners, &o->id, o);
        if (r < 0) {
                free(o);
                return r;
        }
        *ret = o;
        return 0;
}

static void match_owner_release(struct mbus_match_index *idx, struct match_owner *o) {
        if (o->n_subs > 0)
                return;
        (void) mbus_hashmap_remove(idx->owners, &o->id);
        free(o);
}

/* The subscription of o on e, scanning whichever of the two lists is shorter. */
static struct match_sub *match_find_sub(struct match_entry *e, struct match_owner *o) {
        if (e->n_subs <= o->n_subs) {
                for (struct match_sub *s = e->subs; s; s = s->entry_next)
                        if (s->owner == o)
                                return s;
        } else {
                for (struct match_sub *s = o->subs; s; s = s->owner_next)
                        if (s->entry == e)
                                return s;
        }
        return NULL;
}

static void match_sub_free(struct mbus_match_index *idx, struct match_sub *s) {
        struct match_entry *e = s->entry;
        struct match_owner *o = s->owner;

        if (s->entry_prev)
                s->entry_prev->entry_next = s->entry_next;
        else
                e->subs = s->entry_next;
        if (s->entry_next)
                s->entry_next->entry_prev = s->entry_prev;
        e->n_subs--;

        if (s->owner_prev)
                s->owner_prev->owner_next = s->owner_next;
        else
                o->subs = s->owner_next;
        if (s->owner_next)
                s->owner_next->owner_prev = s->owner_prev;
        o->n_subs--;

        idx->n_subs--;
        free(s);
        match_entry_release(idx, e);
}

int mbus_match_add(struct mbus_match_index *idx, const char *pattern, uint64_t owner, void *owner_data) {
        struct match_entry *e;
        struct match_owner *o;
        struct match_sub *s;
        int r;

        assert(idx);

        if (!pattern || !mbus_pattern_is_valid(pattern))
                return -EINVAL;

        r = match_get_entry(idx, pattern, &e);
        if (r < 0)
                return r;
        r = match_get_owner(idx, owner, owner_data, &o);
        if (r < 0) {
                match_entry_release(idx, e);
                return r;
        }

        s = match_find_sub(e, o);
        if (s) {
                s->n_ref++;
                return 0;
        }

        s = calloc(1, sizeof(*s));
        if (!s) {
                match_entry_release(idx, e);
                match_owner_release(idx, o);
                return -ENOMEM;
        }
        *s = (struct match_sub) {
                .entry = e,
                .owner = o,
                .entry_next = e->subs,
                .owner_next = o->subs,
                .n_ref = 1,
        };
        if (e->subs)
                e->subs->entry_prev = s;
        e->subs = s;
        e->n_subs++;
        if (o->subs)
                o->subs->owner_prev = s;
        o->subs = s;
        o->n_subs++;
        idx->n_subs++;
        return 1;
}

int mbus_match_remove(struct mbus_match_index *idx, const char *pattern, uint64_t owner) {
        struct match_entry *e;
        struct match_owner *o;
        struct match_sub *s;

        assert(idx);

        if (!pattern)
                return -ENOENT;
        o = mbus_hashmap_get(idx->owners, &owner);
        if (!o)
                return -ENOENT;
        e = match_find_entry(idx, pattern);
        if (!e)
                return -ENOENT;
        s = match_find_sub(e, o);
        if (!s)
                return -ENOENT;

        if (--s->n_ref == 0) {
                match_sub_free(idx, s);
                match_owner_release(idx, o);
        }
        return 0;
}

size_t mbus_match_remove_owner(struct mbus_match_index *idx, uint64_t owner) {
        struct match_owner *o;
        size_t n = 0;

        assert(idx);

        o = mbus_hashmap_get(idx->owners, &owner);
        if (!o)
                return 0;
        while (o->subs) {
                match_sub_free(idx, o->subs);
                n++;
        }
        match_owner_release(idx, o);
        return n;
}

static size_t match_entry_report(struct mbus_match_index *idx, struct match_entry *e,
                                 mbus_match_func_t fn, void *userdata) {
        size_t n = 0;

        if (!e)
                return 0;
        for (struct match_sub *s = e->subs; s; s = s->entry_next) {
                if (s->owner->generation == idx->generation)
                        continue;
                s->owner->generation = idx->generation;
                if (fn)
                        fn(s->owner->id, s->owner->data, userdata);
                n++;
        }
        return n;
}

size_t mbus_match_lookup(struct mbus_match_index *idx, const char *ns, const char *member,
                         mbus_match_func_t fn, void *userdata) {
        char key[MBUS_NAME_MAX * 2 + 2];
        size_t n = 0, ns_len, m_len;

        assert(idx);
        assert(ns && member);

        if (idx->n_subs == 0)
                return 0;

        ns_len = strlen(ns);
        m_len = strlen(member);
        if (ns_len + 1 + m_len >= sizeof(key))
                return 0;

        idx->generation++;

        memcpy(key, ns, ns_len);
        key[ns_len] = '.';
        memcpy(key + ns_len + 1, member, m_len + 1);
        n += match_entry_report(idx, mbus_hashmap_get(idx->exact, key), fn, userdata);

        if (mbus_hashmap_size(idx->prefix) > 0) {
                /* "a.b.c", then "a.b", then "a": every whole-label prefix of the namespace. */
                key[ns_len] = 0;
                for (;;) {
                        char *dot;

                        n += match_entry_report(idx, mbus_hashmap_get(idx->prefix, key), fn, userdata);
                        dot = strrchr(key, '.');
                        if (!dot)
                                break;
                        *dot = 0;
                }
        }

        n += match_entry_report(idx, idx->all, fn, userdata);
        return n;
}

bool mbus_match_hits(struct mbus_match_index *idx, const char *ns, const char *member) {
        return mbus_match_lookup(idx, ns, member, NULL, NULL) > 0;
}

size_t mbus_match_count_owner(const struct mbus_match_index *idx, uint64_t owner) {
        const struct match_owner *o;

        assert(idx);
        o = mbus_hashmap_get(idx->owners, &owner);
        return o ? o->n_subs : 0;
}

size_t mbus_match_size(const struct mbus_match_index *idx) {
        assert(idx);
        return idx->n_subs;
}
