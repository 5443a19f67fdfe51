/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Accounting per user: the share rule of user.h, over a table of users keyed by identity. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user.h"
#include "util/hashmap.h"

struct mbus_user_registry {
        struct mbus_hashmap *users;     /* key -> struct mbus_user; a user leaves with its last ref */
        uid_t privileged_uid;
};

static const char *const quota_names[_MBUS_QUOTA_MAX] = {
        [MBUS_QUOTA_CONNECTIONS] = "connections",
        [MBUS_QUOTA_HELLO] = "hello",
        [MBUS_QUOTA_PENDING_CALLS] = "pending_calls",
        [MBUS_QUOTA_SUBSCRIPTIONS] = "subscriptions",
        [MBUS_QUOTA_NAMESPACES] = "namespaces",
        [MBUS_QUOTA_QUEUED_BYTES] = "queued_bytes",
};

const char *mbus_quota_to_string(enum mbus_quota q) {
        return q >= 0 && q < _MBUS_QUOTA_MAX ? quota_names[q] : NULL;
}

int mbus_user_registry_new(struct mbus_user_registry **ret, uid_t privileged_uid) {
        struct mbus_user_registry *reg;
        int r;

        assert(ret);
        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return -ENOMEM;
        r = mbus_hashmap_new(&reg->users, &mbus_string_hash_ops);
        if (r < 0) {
                free(reg);
                return r;
        }
        reg->privileged_uid = privileged_uid;
        *ret = reg;
        return 0;
}

struct mbus_user_registry *mbus_user_registry_free(struct mbus_user_registry *reg) {
        if (!reg)
                return NULL;
        /* Every peer holds a reference: the broker frees its peers first. */
        assert(mbus_hashmap_size(reg->users) == 0);
        mbus_hashmap_free(reg->users);
        free(reg);
        return NULL;
}

size_t mbus_user_registry_size(const struct mbus_user_registry *reg) {
        return mbus_hashmap_size(reg->users);
}

bool mbus_user_registry_iterate(const struct mbus_user_registry *reg, size_t *state, struct mbus_user **ret) {
        void *v;

        if (!mbus_hashmap_iterate(reg->users, state, &v, NULL))
                return false;
        *ret = v;
        return true;
}

int mbus_user_get(struct mbus_user_registry *reg, const char *key, uid_t uid, struct mbus_user **ret) {
        struct mbus_user *u;
        size_t len;
        int r;

        assert(reg && key && ret);

        u = mbus_hashmap_get(reg->users, key);
        if (u) {
                *ret = mbus_user_ref(u);
                return 0;
        }

        len = strlen(key);
        u = calloc(1, sizeof(*u) + len + 1);
        if (!u)
                return -ENOMEM;
        memcpy(u->key, key, len + 1);
        u->registry = reg;
        u->n_ref = 1;
        u->uid = uid;
        u->privileged = uid == 0 || (uid != (uid_t) -1 && uid == reg->privileged_uid);
        r = mbus_hashmap_put(reg->users, u->key, u);
        if (r < 0) {
                free(u);
                return r;
        }
        *ret = u;
        return 0;
}

struct mbus_user *mbus_user_ref(struct mbus_user *u) {
        if (u)
                u->n_ref++;
        return u;
}

struct mbus_user *mbus_user_unref(struct mbus_user *u) {
        if (!u)
                return NULL;
        assert(u->n_ref > 0);
        if (--u->n_ref > 0)
                return NULL;
        for (size_t q = 0; q < _MBUS_QUOTA_MAX; q++)
                assert(u->used[q] == 0);
        (void) mbus_hashmap_remove(u->registry->users, u->key);
        free(u);
        return NULL;
}

size_t mbus_quota_reserve(size_t limit) {
        if (limit == 0)
                return 0;
        return MAX(limit / 16, (size_t) 1);
}

size_t mbus_user_share(const struct mbus_user *u, enum mbus_quota q, size_t used_total, size_t limit) {
        size_t pool, others, free_now;

        assert(u && q >= 0 && q < _MBUS_QUOTA_MAX);

        if (q == MBUS_QUOTA_HELLO || u->privileged)
                return limit;

        /*
         * Holding x leaves pool - others - x free; the rule x <= pool - others - x gives
         * x <= (pool - others) / 2, where others is what everybody else holds. Rounded up, so
         * that the last free unit of a small limit can still be used by somebody.
         */
        pool = limit - mbus_quota_reserve(limit);
        others = used_total > u->used[q] ? used_total - u->used[q] : 0;
        free_now = pool > others ? pool - others : 0;
        return free_now / 2 + free_now % 2;
}

int mbus_user_check(const struct mbus_user *u, enum mbus_quota q, size_t n, size_t used_total, size_t limit) {
        assert(u && q >= 0 && q < _MBUS_QUOTA_MAX);

        if (q == MBUS_QUOTA_HELLO)
                return u->used[q] + n <= limit ? 0 : -EDQUOT;
        if (used_total + n > limit)
                return -ENOBUFS;
        if (u->privileged)
                return 0;
        if (used_total + n > limit - mbus_quota_reserve(limit))
                return -ENOBUFS;
        return u->used[q] + n <= mbus_user_share(u, q, used_total, limit) ? 0 : -EDQUOT;
}

void mbus_user_charge(struct mbus_user *u, enum mbus_quota q, size_t n) {
        assert(u && q >= 0 && q < _MBUS_QUOTA_MAX);
        u->used[q] += n;
}

void mbus_user_uncharge(struct mbus_user *u, enum mbus_quota q, size_t n) {
        assert(u && q >= 0 && q < _MBUS_QUOTA_MAX);
        assert(u->used[q] >= n);
        u->used[q] -= n;
}

const char *mbus_user_key(uid_t uid, const char *fingerprint, const char *address, char buf[static MBUS_USER_KEY_MAX]) {
        if (uid != (uid_t) -1)
                (void) snprintf(buf, MBUS_USER_KEY_MAX, "uid:%" PRIu32, (uint32_t) uid);
        else if (fingerprint)
                (void) snprintf(buf, MBUS_USER_KEY_MAX, "cert:%s", fingerprint);
        else {
                const char *colon = address ? strrchr(address, ':') : NULL;
                int len = colon ? (int) (colon - address) : (int) strlen(address ?: "");

                (void) snprintf(buf, MBUS_USER_KEY_MAX, "addr:%.*s", len, address ?: "");
        }
        return buf;
}
