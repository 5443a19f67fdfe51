/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pending-call table.
 *
 * Three views of one set of entries:
 *   - a hash on (caller id, serial): a reply finds its call in O(1). Its own open addressing
 *     with linear probing and backward-shift removal: every call adds and removes a key, and
 *     tombstones would pile up and force a rehash every few dozen calls;
 *   - a binary min-heap on deadline: the broker arms ONE timer at the earliest deadline, and
 *     expiry pops in O(log n), instead of a timer per call;
 *   - two intrusive lists per peer (calls made, calls owed): a disconnect finds its entries
 *     without scanning the table.
 * Every removal goes through pending_unlink(), which unlinks from all three, so an entry can
 * never be completed twice.
 *
 * What the call leaves for its answer (where to count it, what monitors see it answer) lives in
 * the entry's one allocation: a counters reference and the namespace and member names, copied
 * inline. Nothing per call beyond the entry itself is allocated, and entries whose names are
 * short come from a free list: a pipelined caller keeps dozens in flight, more than malloc's
 * per-size cache holds, and would pay its slower path on each.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ns-stats.h"
#include "pending.h"
#include "proto/frame.h"

/* Names (both, with their NULs) up to this long fit the one entry size the free list keeps. */
#define PENDING_NAMES_SMALL 96u
/*
 * Entries kept for reuse at most (linked through caller_next): about two pipelined callers'
 * windows, 128 * ~250 bytes that a broker keeps once it had that many calls pending at once.
 * The list is not drained when the table empties: with a fast callee it does, between bursts.
 */
#define PENDING_FREE_MAX 128u

/* Hash slots at first; the table keeps at most half of its slots used. */
#define PENDING_SLOTS_MIN 16u

struct mbus_pending_table {
        struct mbus_pending **slots;    /* the hash: n_slots (a power of two, or 0), NULL: free */
        size_t n_slots;
        struct mbus_pending **heap;
        size_t n_heap, heap_cap;
        struct mbus_pending *free;      /* owned: entries of the small size, for reuse */
        size_t n_free;
};

static void pending_drain_free(struct mbus_pending_table *t) {
        while (t->free) {
                struct mbus_pending *p = t->free;

                t->free = p->caller_next;
                free(p);
        }
        t->n_free = 0;
}

static uint64_t pending_key_hash(const struct mbus_pending_key *k) {
        uint64_t h = k->caller * UINT64_C(0x9e3779b97f4a7c15) ^ k->serial;

        /* splitmix64 finalizer: serials are sequential, spread them over all bits. */
        h ^= h >> 30;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 27;
        h *= UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
        return h;
}

static size_t pending_home(const struct mbus_pending_table *t, const struct mbus_pending_key *k) {
        return (size_t) pending_key_hash(k) & (t->n_slots - 1);
}

/* The slot of the entry with key k, or NULL. */
static struct mbus_pending **pending_find(const struct mbus_pending_table *t, const struct mbus_pending_key *k) {
        if (!t->slots)
                return NULL;
        for (size_t i = pending_home(t, k);; i = (i + 1) & (t->n_slots - 1)) {
                struct mbus_pending *p = t->slots[i];

                if (!p)
                        return NULL;
                if (p->key.caller == k->caller && p->key.serial == k->serial)
                        return &t->slots[i];
        }
}

static void pending_place(struct mbus_pending_table *t, struct mbus_pending *p) {
        size_t i = pending_home(t, &p->key);

        while (t->slots[i])
                i = (i + 1) & (t->n_slots - 1);
        t->slots[i] = p;
}

/* Makes room for one more entry (t->n_heap are in). Returns 0 or -ENOMEM. */
static int pending_reserve(struct mbus_pending_table *t) {
        struct mbus_pending **old = t->slots;
        size_t n_old = t->n_slots, n = MAX(n_old, (size_t) PENDING_SLOTS_MIN);

        while ((t->n_heap + 1) * 2 > n)
                n *= 2;
        if (n == n_old)
                return 0;
        t->slots = calloc(n, sizeof(*t->slots));
        if (!t->slots) {
                t->slots = old;
                return -ENOMEM;
        }
        t->n_slots = n;
        for (size_t j = 0; j < n_old; j++)
                if (old[j])
                        pending_place(t, old[j]);
        free(old);
        return 0;
}

/* Empties slot i, moving back the entries after it that would no longer be found. */
static void pending_remove_slot(struct mbus_pending_table *t, size_t i) {
        size_t mask = t->n_slots - 1;

        for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
                size_t home = pending_home(t, &t->slots[j]->key);

                /* The entry at j stays if its home lies cyclically in (i, j]. */
                if (i < j ? home > i && home <= j : home > i || home <= j)
                        continue;
                t->slots[i] = t->slots[j];
                i = j;
        }
        t->slots[i] = NULL;
}

int mbus_pending_table_new(struct mbus_pending_table **ret) {
        struct mbus_pending_table *t;

        assert(ret);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

struct mbus_pending_table *mbus_pending_table_free(struct mbus_pending_table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_heap; i++)
                mbus_pending_free(t->heap[i]);
        pending_drain_free(t);
        free(t->heap);
        free(t->slots);
        free(t);
        return NULL;
}

/* --- heap ----------------------------------------------------------------------------------- */

static void heap_set(struct mbus_pending_table *t, size_t i, struct mbus_pending *p) {
        t->heap[i] = p;
        p->heap_idx = i;
}

static void heap_up(struct mbus_pending_table *t, size_t i) {
        struct mbus_pending *p = t->heap[i];

        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (t->heap[parent]->deadline <= p->deadline)
                        break;
                heap_set(t, i, t->heap[parent]);
                i = parent;
        }
        heap_set(t, i, p);
}

static void heap_down(struct mbus_pending_table *t, size_t i) {
        struct mbus_pending *p = t->heap[i];

        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, min = i;
                usec_t min_deadline = p->deadline;

                if (l < t->n_heap && t->heap[l]->deadline < min_deadline) {
                        min = l;
                        min_deadline = t->heap[l]->deadline;
                }
                if (r < t->n_heap && t->heap[r]->deadline < min_deadline)
                        min = r;
                if (min == i)
                        break;
                heap_set(t, i, t->heap[min]);
                i = min;
        }
        heap_set(t, i, p);
}

static int heap_push(struct mbus_pending_table *t, struct mbus_pending *p) {
        if (t->n_heap == t->heap_cap) {
                size_t cap = t->heap_cap ? t->heap_cap * 2 : 16;
                struct mbus_pending **h = realloc(t->heap, cap * sizeof(*h));

                if (!h)
                        return -ENOMEM;
                t->heap = h;
                t->heap_cap = cap;
        }
        heap_set(t, t->n_heap++, p);
        heap_up(t, p->heap_idx);
        return 0;
}

static void heap_remove(struct mbus_pending_table *t, struct mbus_pending *p) {
        size_t i = p->heap_idx;
        struct mbus_pending *last;

        assert(i < t->n_heap && t->heap[i] == p);

        last = t->heap[--t->n_heap];
        if (last != p) {
                heap_set(t, i, last);
                if (i > 0 && t->heap[(i - 1) / 2]->deadline > last->deadline)
                        heap_up(t, i);
                else
                        heap_down(t, i);
        }
        if (t->n_heap == 0 && t->heap_cap > 256) {
                /* Give large arrays back when the table drains: idle brokers stay small. */
                t->heap = (free(t->heap), NULL);
                t->heap_cap = 0;
                t->slots = (free(t->slots), NULL);
                t->n_slots = 0;
        }
}

/* --- entries -------------------------------------------------------------------------------- */

static void pending_unlink(struct mbus_pending_table *t, struct mbus_pending *p) {
        struct mbus_pending **slot = pending_find(t, &p->key);

        assert(slot && *slot == p);
        pending_remove_slot(t, (size_t) (slot - t->slots));
        heap_remove(t, p);

        if (p->caller_prev)
                p->caller_prev->caller_next = p->caller_next;
        else
                p->caller_list->first = p->caller_next;
        if (p->caller_next)
                p->caller_next->caller_prev = p->caller_prev;
        p->caller_list->n--;
        if (p->caller_list->n_also)
                (*p->caller_list->n_also)--;

        if (p->callee_prev)
                p->callee_prev->callee_next = p->callee_next;
        else
                p->callee_list->first = p->callee_next;
        if (p->callee_next)
                p->callee_next->callee_prev = p->callee_prev;
        p->callee_list->n--;
        /* The lists stay readable (mbus_pending_caller_list()); the links do not. */
        p->caller_prev = p->caller_next = p->callee_prev = p->callee_next = NULL;
}

struct mbus_pending *mbus_pending_free(struct mbus_pending *p) {
        struct mbus_pending_table *t;

        if (!p)
                return NULL;
        mbus_ns_counters_unref(p->counters);
        t = p->table;
        if (t && t->n_free < PENDING_FREE_MAX) {
                p->caller_next = t->free;
                t->free = p;
                t->n_free++;
                return NULL;
        }
        free(p);
        return NULL;
}

static void pending_free(struct mbus_pending_table *t, struct mbus_pending *p) {
        pending_unlink(t, p);
        mbus_pending_free(p);
}

int mbus_pending_add_call(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                          usec_t deadline, struct mbus_pending_list *caller_list,
                          struct mbus_pending_list *callee_list, const char *ns, const char *member,
                          struct mbus_ns_counters *counters) {
        size_t ns_len = ns ? strlen(ns) + 1 : 0, member_len = member ? strlen(member) + 1 : 0;
        struct mbus_pending *p;
        int r;

        assert(t && caller_list && callee_list);

        if (ns_len + member_len <= PENDING_NAMES_SMALL && t->free) {
                p = t->free;
                t->free = p->caller_next;
                t->n_free--;
        } else
                p = malloc(sizeof(*p) + MAX(ns_len + member_len, (size_t) PENDING_NAMES_SMALL));
        if (!p)
                return -ENOMEM;
        *p = (struct mbus_pending) {
                /* Only entries of the small size go back to the free list. */
                .table = ns_len + member_len <= PENDING_NAMES_SMALL ? t : NULL,
        };
        if (ns)
                p->namespace = memcpy(p->names, ns, ns_len);
        if (member)
                p->member = memcpy(p->names + ns_len, member, member_len);
        p->key = (struct mbus_pending_key) { caller, serial };
        p->callee = callee;
        p->deadline = deadline;

        if (pending_find(t, &p->key)) {
                free(p);
                return -EEXIST;
        }
        r = pending_reserve(t);
        if (r < 0) {
                free(p);
                return r;
        }
        r = heap_push(t, p);
        if (r < 0) {
                free(p);
                return r;
        }
        pending_place(t, p);

        p->caller_list = caller_list;
        p->caller_next = caller_list->first;
        if (caller_list->first)
                caller_list->first->caller_prev = p;
        caller_list->first = p;
        caller_list->n++;
        if (caller_list->n_also)
                (*caller_list->n_also)++;

        p->callee_list = callee_list;
        p->callee_next = callee_list->first;
        if (callee_list->first)
                callee_list->first->callee_prev = p;
        callee_list->first = p;
        callee_list->n++;
        p->counters = mbus_ns_counters_ref(counters);
        return 0;
}

int mbus_pending_add(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                     usec_t deadline, struct mbus_pending_list *caller_list,
                     struct mbus_pending_list *callee_list) {
        return mbus_pending_add_call(t, caller, serial, callee, deadline, caller_list, callee_list,
                                     /* ns= */ NULL, /* member= */ NULL, /* counters= */ NULL);
}

int mbus_pending_take(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee,
                      struct mbus_pending **ret) {
        struct mbus_pending_key key = { caller, serial };
        struct mbus_pending **slot, *p;

        assert(t);

        slot = pending_find(t, &key);
        if (!slot)
                return -ENOENT;
        p = *slot;
        if (p->callee != callee)
                return -EPERM;
        pending_unlink(t, p);
        if (ret)
                *ret = p;
        else
                mbus_pending_free(p);
        return 0;
}

int mbus_pending_complete(struct mbus_pending_table *t, uint64_t caller, uint64_t serial, uint64_t callee) {
        return mbus_pending_take(t, caller, serial, callee, /* ret= */ NULL);
}

struct mbus_pending *mbus_pending_take_expired(struct mbus_pending_table *t, usec_t now) {
        struct mbus_pending *p;

        assert(t);

        if (t->n_heap == 0 || t->heap[0]->deadline > now)
                return NULL;
        p = t->heap[0];
        pending_unlink(t, p);
        return p;
}

/* The header-only CALL an entry stands for, for the callers that want a frame; NULL without memory. */
static struct mbus_frame *pending_context_frame(const struct mbus_pending *p) {
        struct mbus_frame *frame = NULL;

        if (!p->namespace)
                return NULL;
        (void) mbus_frame_new(&frame, MBUS_FRAME_CALL,
                              &(const struct mbus_frame_fields) {
                                      .serial = p->key.serial,
                                      .namespace = p->namespace,
                                      .member = p->member,
                              }, NULL, 0);
        return frame;
}

/* Hands p's caller, serial and (on demand) context frame out, and frees p. */
static int pending_pop(struct mbus_pending *p, uint64_t *ret_caller, uint64_t *ret_serial,
                       struct mbus_frame **ret_context) {
        if (ret_caller)
                *ret_caller = p->key.caller;
        if (ret_serial)
                *ret_serial = p->key.serial;
        if (ret_context)
                *ret_context = pending_context_frame(p);
        mbus_pending_free(p);
        return 1;
}

int mbus_pending_pop_expired(struct mbus_pending_table *t, usec_t now, uint64_t *ret_caller,
                             uint64_t *ret_serial,
                             struct mbus_frame **ret_context) {
        struct mbus_pending *p = mbus_pending_take_expired(t, now);

        return p ? pending_pop(p, ret_caller, ret_serial, ret_context) : 0;
}

int mbus_pending_pop_callee(struct mbus_pending_table *t, struct mbus_pending_list *callee_list,
                            uint64_t *ret_caller, uint64_t *ret_serial,
                            struct mbus_frame **ret_context) {
        struct mbus_pending *p;

        assert(t && callee_list);

        p = callee_list->first;
        if (!p)
                return 0;
        pending_unlink(t, p);
        return pending_pop(p, ret_caller, ret_serial, ret_context);
}

size_t mbus_pending_drop_caller(struct mbus_pending_table *t, struct mbus_pending_list *caller_list) {
        size_t n = 0;

        assert(t && caller_list);

        while (caller_list->first) {
                pending_free(t, caller_list->first);
                n++;
        }
        return n;
}

usec_t mbus_pending_next_deadline(const struct mbus_pending_table *t) {
        assert(t);
        return t->n_heap > 0 ? t->heap[0]->deadline : USEC_INFINITY;
}

size_t mbus_pending_size(const struct mbus_pending_table *t) {
        assert(t);
        return t->n_heap;
}
