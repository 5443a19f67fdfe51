/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Open addressing with linear probing over a power-of-two array of (hash, key, value) slots.
 *
 * Removal leaves a tombstone rather than shifting later entries back: that is what lets a
 * caller remove the entry the iterator just returned without skipping or repeating others
 * (a backward shift would move an unvisited entry behind the cursor). Tombstones are swept
 * out by the rehash that put() performs once live entries plus tombstones pass 3/4 of the
 * slots, so probe chains stay short even under churn.
 *
 * Keys reach us from peers (namespace names, subscription patterns), so string hashing is
 * SipHash-1-3 keyed with a per-process random key: a client cannot pick names that all land
 * in one chain and turn every lookup into a scan.
 */

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/hashmap.h"
#include "util/macro.h"

#define HASHMAP_MIN_CAP 8u

struct hashmap_slot {
        uint64_t hash;
        const void *key;        /* NULL: never used; TOMBSTONE: removed */
        void *value;
};

struct mbus_hashmap {
        const struct mbus_hash_ops *ops;
        struct hashmap_slot *slots;
        size_t cap;             /* 0 or a power of two */
        size_t n_entries;
        size_t n_tombstones;
};

static const char hashmap_tombstone;
#define TOMBSTONE ((const void *) &hashmap_tombstone)

static void *mfree(void *p) {
        free(p);
        return NULL;
}

/* --- keyed hashing ------------------------------------------------------------------------ */

static uint64_t hash_key[2];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void) {
        ssize_t n;

        n = getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK);
        if (n != (ssize_t) sizeof(hash_key)) {
                /* Early boot without entropy: still hash, just predictably. */
                hash_key[0] = 0x736f6d6570736575ULL ^ (uint64_t) (uintptr_t) &n;
                hash_key[1] = 0x646f72616e646f6dULL;
        }
}

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
        do {                                                            \
                v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
                v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
                v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
                v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
        } while (0)

/* SipHash-1-3 of len bytes. */
static uint64_t siphash13(const void *data, size_t len) {
        const uint8_t *p = data, *end = p + (len & ~(size_t) 7);
        uint64_t v0, v1, v2, v3, m, b = (uint64_t) len << 56;

        (void) pthread_once(&hash_key_once, hash_key_init);
        v0 = 0x736f6d6570736575ULL ^ hash_key[0];
        v1 = 0x646f72616e646f6dULL ^ hash_key[1];
        v2 = 0x6c7967656e657261ULL ^ hash_key[0];
        v3 = 0x7465646279746573ULL ^ hash_key[1];

        for (; p < end; p += 8) {
                memcpy(&m, p, 8);       /* host order is fine: the hash never leaves us */
                v3 ^= m;
                SIPROUND;
                v0 ^= m;
        }
        for (size_t i = 0; i < (len & 7); i++)
                b |= (uint64_t) p[i] << (8 * i);
        v3 ^= b;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t string_hash(const void *key) {
        return siphash13(key, strlen(key));
}

static bool string_equal(const void *a, const void *b) {
        return strcmp(a, b) == 0;
}

static uint64_t uint64_hash(const void *key) {
        return siphash13(key, sizeof(uint64_t));
}

static bool uint64_equal(const void *a, const void *b) {
        return *(const uint64_t *) a == *(const uint64_t *) b;
}

const struct mbus_hash_ops mbus_string_hash_ops = { .hash = string_hash, .equal = string_equal };
const struct mbus_hash_ops mbus_uint64_hash_ops = { .hash = uint64_hash, .equal = uint64_equal };

/* --- table -------------------------------------------------------------------------------- */

int mbus_hashmap_new(struct mbus_hashmap **ret, const struct mbus_hash_ops *ops) {
        struct mbus_hashmap *h;

        assert(ret && ops);

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->ops = ops;
        *ret = h;
        return 0;
}

struct mbus_hashmap *mbus_hashmap_free(struct mbus_hashmap *h) {
        if (!h)
                return NULL;
        free(h->slots);
        free(h);
        return NULL;
}

/* Returns the slot holding key, or NULL. */
static struct hashmap_slot *hashmap_find(const struct mbus_hashmap *h, const void *key, uint64_t hash) {
        size_t mask, i;

        if (h->cap == 0)
                return NULL;

        mask = h->cap - 1;
        for (i = hash & mask;; i = (i + 1) & mask) {
                struct hashmap_slot *s = &h->slots[i];

                if (!s->key)
                        return NULL;
                if (s->key != TOMBSTONE && s->hash == hash && h->ops->equal(s->key, key))
                        return s;
        }
}

static int hashmap_resize(struct mbus_hashmap *h, size_t new_cap) {
        struct hashmap_slot *old = h->slots, *slots;
        size_t old_cap = h->cap, mask = new_cap - 1;

        slots = calloc(new_cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;

        for (size_t j = 0; j < old_cap; j++) {
                size_t i;

                if (!old[j].key || old[j].key == TOMBSTONE)
                        continue;
                for (i = old[j].hash & mask; slots[i].key; i = (i + 1) & mask)
                        ;
                slots[i] = old[j];
        }

        free(old);
        h->slots = slots;
        h->cap = new_cap;
        h->n_tombstones = 0;
        return 0;
}

int mbus_hashmap_put(struct mbus_hashmap *h, const void *key, void *value) {
        uint64_t hash;
        size_t mask, i;
        int r;

        assert(h && key);

        hash = h->ops->hash(key);
        if (hashmap_find(h, key, hash))
                return -EEXIST;

        /* Keep used slots (live + tombstones) under 3/4; grow only if live entries need it,
         * otherwise a same-size rehash just sweeps the tombstones. */
        if ((h->n_entries + h->n_tombstones + 1) * 4 > h->cap * 3) {
                size_t new_cap = MAX(h->cap, HASHMAP_MIN_CAP);

                while ((h->n_entries + 1) * 2 > new_cap)
                        new_cap *= 2;
                r = hashmap_resize(h, new_cap);
                if (r < 0)
                        return r;
        }

        mask = h->cap - 1;
        for (i = hash & mask; h->slots[i].key && h->slots[i].key != TOMBSTONE; i = (i + 1) & mask)
                ;
        if (h->slots[i].key == TOMBSTONE)
                h->n_tombstones--;
        h->slots[i] = (struct hashmap_slot) { .hash = hash, .key = key, .value = value };
        h->n_entries++;
        return 0;
}

void *mbus_hashmap_get(const struct mbus_hashmap *h, const void *key) {
        struct hashmap_slot *s;

        assert(h && key);

        s = hashmap_find(h, key, h->ops->hash(key));
        return s ? s->value : NULL;
}

void *mbus_hashmap_remove(struct mbus_hashmap *h, const void *key) {
        struct hashmap_slot *s;
        void *value;

        assert(h && key);

        s = hashmap_find(h, key, h->ops->hash(key));
        if (!s)
                return NULL;

        value = s->value;
        s->key = TOMBSTONE;
        s->value = NULL;
        h->n_entries--;
        h->n_tombstones++;

        /* An emptied table gives its memory back (idle peers own empty tables). Safe during
         * an iteration too: the iterator then finds cap == 0 and ends. */
        if (h->n_entries == 0) {
                h->slots = mfree(h->slots);
                h->cap = 0;
                h->n_tombstones = 0;
        }
        return value;
}

size_t mbus_hashmap_size(const struct mbus_hashmap *h) {
        return h ? h->n_entries : 0;
}

bool mbus_hashmap_iterate(const struct mbus_hashmap *h, size_t *state, void **ret_value,
                          const void **ret_key) {
        assert(state);

        if (!h)
                return false;

        for (; *state < h->cap; (*state)++) {
                const struct hashmap_slot *s = &h->slots[*state];

                if (!s->key || s->key == TOMBSTONE)
                        continue;

                (*state)++;
                if (ret_value)
                        *ret_value = s->value;
                if (ret_key)
                        *ret_key = s->key;
                return true;
        }
        return false;
}
