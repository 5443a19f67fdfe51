/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* An open-addressing hash table whose keys live inside the values (like systemd's hashmap). */

/*
 * Keys are borrowed: a key pointer must stay valid while its entry is in the table, so values
 * usually embed their key (a namespace name, a peer id). The table never frees keys or values.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mbus_hash_ops {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
};
extern const struct mbus_hash_ops mbus_string_hash_ops;   /* key: const char *, NUL-terminated */
extern const struct mbus_hash_ops mbus_uint64_hash_ops;   /* key: const uint64_t * */

struct mbus_hashmap;

/* Returns 0 and an empty table in *ret, or -ENOMEM. */
int mbus_hashmap_new(struct mbus_hashmap **ret, const struct mbus_hash_ops *ops);
/* Frees the table, not its keys or values. Takes NULL, returns NULL. */
struct mbus_hashmap *mbus_hashmap_free(struct mbus_hashmap *h);

/* Adds key -> value. Returns 0, -EEXIST if key is present (nothing changes), -ENOMEM. */
int mbus_hashmap_put(struct mbus_hashmap *h, const void *key, void *value);
/* Returns the value for key, or NULL. */
void *mbus_hashmap_get(const struct mbus_hashmap *h, const void *key);
/* Removes key and returns its value, or NULL if absent. */
void *mbus_hashmap_remove(struct mbus_hashmap *h, const void *key);
size_t mbus_hashmap_size(const struct mbus_hashmap *h);

/*
 * Iteration: start with *state = 0; returns true and the next entry while there is one. The
 * table must not change during an iteration except by removing the entry just returned.
 */
bool mbus_hashmap_iterate(const struct mbus_hashmap *h, size_t *state, void **ret_value,
                          const void **ret_key);

static inline void mbus_hashmap_freep(struct mbus_hashmap **p) {
        if (*p)
                *p = mbus_hashmap_free(*p);
}
