/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver: the peer ":1.0" that owns org.mbus.Broker. Its procedures are a table, each
 * entry a function from (caller, JSON arguments) to a JSON result or a negative errno with a
 * message; mbus_driver_call() turns that into exactly one RETURN or ERROR. It parses only
 * bodies addressed to the broker; the router has already checked the caller's right to call
 * (policy) and, when org.mbus.Broker's interface file is installed, the arguments against it,
 * which therefore must list exactly this table (test-driver.c).
 *
 * Events are built only when somebody subscribed to them: an idle bus with many connects
 * does no JSON work for PeerConnected.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>

#include "activation.h"
#include "broker.h"
#include "conf/file-error.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "conf/policy.h"
#include "config.h"
#include "driver.h"
#include "log-ids.h"
#include "match.h"
#include "monitor.h"
#include "namespace.h"
#include "ns-stats.h"
#include "peer.h"
#include "pending.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "quota.h"
#include "reply.h"
#include "router.h"
#include "user.h"
#include "util/hashmap.h"
#include "util/json-util.h"

/* A page of a list procedure: entries by default, and at most (a larger "limit" is taken as this). */
#define DRIVER_PAGE_DEFAULT 100
#define DRIVER_PAGE_MAX 1000
/* Each listed entry costs this much of the work one dispatch may do (peer.c): about what
 * routing so many frames costs. */
#define DRIVER_ENTRY_WORK 8

/* Room for a RETURN's fixed header and reply_serial field, with a margin. */
#define DRIVER_REPLY_SLACK 256u

struct driver_error {
        char message[256];
        uint64_t serial;        /* the call's: a procedure that answers later (returns 1) needs it */
};

typedef int (*driver_method_fn)(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                json_object **ret, struct driver_error *err);

struct driver_method {
        const char *name;
        driver_method_fn fn;
};

static int driver_fail(struct driver_error *err, int error, const char *format, ...) _printf_(3, 4);
static int driver_fail(struct driver_error *err, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(err->message, sizeof(err->message), format, ap);
        va_end(ap);
        return error;
}

/* json_object_object_add() that reports a failed allocation of the value. */
static int driver_add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *driver_id_json(uint64_t id) {
        char buf[MBUS_PEER_ID_MAX];
        return json_object_new_string(mbus_peer_id_format(buf, id));
}

static json_object *driver_uid_json(uid_t uid) {
        return uid == (uid_t) -1 ? NULL : json_object_new_int64((int64_t) uid);
}

/* Adds a nullable key: NULL is JSON null here, not an allocation failure. */
static int driver_add_nullable(json_object *o, const char *key, json_object *v) {
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static json_object *driver_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* The certificate a TLS peer presented: { cn, san: [...], issuer, fingerprint }. */
static int driver_cert_json(const struct mbus_tls_identity *cert, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *sans = json_object_new_array();
        int r = 0;

        if (!o || !sans)
                return -ENOMEM;
        for (size_t i = 0; i < cert->n_sans; i++)
                if (json_object_array_add(sans, json_object_new_string(cert->sans[i])) < 0)
                        return -ENOMEM;
        r = r ?: driver_add_nullable(o, "cn", driver_string_or_null(cert->cn));
        r = r ?: driver_add(o, "san", TAKE_PTR(sans));
        r = r ?: driver_add_nullable(o, "issuer", driver_string_or_null(cert->issuer));
        r = r ?: driver_add_nullable(o, "fingerprint", driver_string_or_null(cert->fingerprint));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/*
 * Who a peer is, as GetPeer, ListPeers and PeerConnected show it: its transport; uid, gid and
 * pid for a UNIX peer (null for a network peer, which has none); address and certificate for a
 * network peer (null for a UNIX peer or without a certificate).
 */
static int driver_add_identity(json_object *o, const struct mbus_creds *c) {
        json_object *cert = NULL;
        bool unix_peer = !c->remote;
        int r = 0;

        if (c->remote && c->remote->cert.fingerprint) {
                r = driver_cert_json(&c->remote->cert, &cert);
                if (r < 0)
                        return r;
        }
        r = r ?: driver_add(o, "transport", json_object_new_string(c->transport));
        r = r ?: driver_add_nullable(o, "uid", driver_uid_json(c->uid));
        r = r ?: driver_add_nullable(o, "gid", c->gid == (gid_t) -1 ? NULL : json_object_new_int64((int64_t) c->gid));
        r = r ?: driver_add_nullable(o, "pid", unix_peer ? json_object_new_int64((int64_t) c->pid) : NULL);
        r = r ?: driver_add_nullable(o, "address", unix_peer ? NULL : json_object_new_string(c->remote->address));
        if (r < 0) {
                json_object_put(cert);
                return r;
        }
        return driver_add_nullable(o, "cert", cert);
}

/*
 * The systemd unit and control group of a UNIX peer's process, read now (its pid from
 * connect time), for a service manager; null for a network peer, or where the process is gone
 * or not in a unit.
 */
static int driver_add_systemd(json_object *o, const struct mbus_creds *c) {
        _cleanup_free_ char *unit = NULL, *cgroup = NULL;
        int r;

        if (!c->remote && c->pid > 0) {
                (void) sd_pid_get_unit(c->pid, &unit);
                (void) sd_pid_get_cgroup(c->pid, &cgroup);
        }
        r = driver_add_nullable(o, "unit", driver_string_or_null(unit));
        return r ?: driver_add_nullable(o, "cgroup", driver_string_or_null(cgroup));
}

static int driver_peer_json(struct mbus_broker *b, struct mbus_peer *peer, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *nss = json_object_new_array();
        int r = 0;

        if (!o || !nss)
                return -ENOMEM;
        for (struct mbus_namespace *ns = peer->namespaces.first; ns; ns = ns->owner_next)
                if (json_object_array_add(nss, json_object_new_string(ns->name)) < 0)
                        return -ENOMEM;

        r = r ?: driver_add(o, "id", driver_id_json(peer->id));
        r = r ?: driver_add(o, "name", json_object_new_string(peer->name ?: ""));
        r = r ?: driver_add_identity(o, &peer->creds);
        r = r ?: driver_add_systemd(o, &peer->creds);
        r = r ?: driver_add(o, "namespaces", TAKE_PTR(nss));
        r = r ?: driver_add(o, "subscriptions",
                            json_object_new_int64((int64_t) mbus_match_count_owner(b->matches, peer->id)));
        r = r ?: driver_add(o, "connected_usec", json_object_new_int64((int64_t) peer->connected_realtime));
        r = r ?: driver_add(o, "pending_calls", json_object_new_int64((int64_t) peer->calls_out.n));
        r = r ?: driver_add(o, "queued_bytes",
                            json_object_new_int64((int64_t) mbus_stream_queued_bytes(&peer->stream)));
        r = r ?: driver_add(o, "user", json_object_new_string(peer->user ? peer->user->key : ""));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* --- procedures ------------------------------------------------------------------------------- */

static int driver_ping(struct mbus_broker *b, struct mbus_peer *caller, json_object *args, json_object **ret,
                       struct driver_error *err) {
        *ret = json_object_new_object();
        return *ret ? 0 : -ENOMEM;
}

static int driver_version(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                          json_object **ret, struct driver_error *err) {
        _cleanup_json_ json_object *o = json_object_new_object();
        int r = 0;

        if (!o)
                return -ENOMEM;
        r = r ?: driver_add(o, "version", json_object_new_string(MBUS_VERSION));
        r = r ?: driver_add(o, "protocol", json_object_new_int(MBUS_PROTOCOL));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/*
 * A page of a list procedure: at most limit entries, and never more bytes than the reply
 * frame may hold (the caller's --max-frame-size as WELCOME announced it). Arguments
 * {"after": CURSOR, "limit": N}, both optional; the reply {KEY: [...], "next": CURSOR or null}
 * names the last entry given when more follow, to pass as "after" for the next page. Entries
 * that come and go between pages are seen or not: each page reflects the bus at its call.
 */
struct driver_page {
        json_object *list;              /* owned */
        size_t limit;                   /* entries still allowed */
        size_t room;                    /* bytes still allowed */
        bool more;                      /* an entry was left out: "next" is set */
};

/* Room for {"KEY":[],"next":"..."} around the entries; the frame's head has DRIVER_REPLY_SLACK. */
#define DRIVER_PAGE_SLACK 128u

static int driver_page_init(struct driver_page *pg, struct mbus_broker *b, json_object *args, const char *procedure,
                            const char **ret_after, struct driver_error *err) {
        json_object *v;
        int64_t limit = DRIVER_PAGE_DEFAULT;

        *ret_after = NULL;
        if (args && json_object_object_get_ex(args, "after", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return driver_fail(err, -EINVAL, "%s: after must be a string (the \"next\" of a reply)",
                                           procedure);
                *ret_after = json_object_get_string(v);
        }
        if (args && json_object_object_get_ex(args, "limit", &v)) {
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1)
                        return driver_fail(err, -EINVAL, "%s: limit must be an integer of at least 1", procedure);
                limit = MIN(json_object_get_int64(v), (int64_t) DRIVER_PAGE_MAX);
        }
        *pg = (struct driver_page) {
                .list = json_object_new_array(),
                .limit = (size_t) limit,
                .room = b->options->max_frame_size - DRIVER_REPLY_SLACK - DRIVER_PAGE_SLACK,
        };
        return pg->list ? 0 : -ENOMEM;
}

/* Takes what v (NULL: null) adds to the reply beside the list, as "KEY":v, out of the page's room. */
static int driver_page_reserve(struct driver_page *pg, const char *key, json_object *v) {
        size_t len = 0;

        if (!json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len))
                return -ENOMEM;
        len += strlen(key) + 4;         /* the quotes, the colon and the comma */
        pg->room = pg->room > len ? pg->room - len : 0;
        return 0;
}

static void driver_page_done(struct driver_page *pg) {
        json_object_putp(&pg->list);
}

/*
 * Takes room for one entry of len bytes (its JSON text) from the page, the first of the page if
 * first. Returns 1 if taken, 0 if the page is full (the reply names a next page), -ENOBUFS
 * (err set) if the entry alone is larger than a reply may be.
 */
static int driver_page_take(struct mbus_broker *b, struct driver_page *pg, size_t len, bool first,
                            struct driver_error *err) {
        len++;  /* the comma */
        if (len > pg->room) {
                if (first)
                        return driver_fail(err, -ENOBUFS, "One entry is %zu bytes, more than a reply may hold "
                                           "(frame limit %zu)", len, b->options->max_frame_size);
                pg->more = true;
                return 0;
        }
        pg->room -= len;
        pg->limit--;
        return 1;
}

/*
 * Adds e (taken) to the page if it has room. Returns 1 if added, 0 if the page is full (e is
 * dropped and the reply names a next page), -ENOBUFS (err set) if e alone is larger than a
 * reply may be, -ENOMEM.
 */
static int driver_page_add(struct mbus_broker *b, struct driver_page *pg, json_object *e, struct driver_error *err) {
        _cleanup_json_ json_object *entry = e;
        size_t len = 0;
        int r;

        if (!entry)
                return -ENOMEM;
        b->dispatch_work += DRIVER_ENTRY_WORK;
        if (pg->limit == 0) {
                pg->more = true;
                return 0;
        }
        if (!json_object_to_json_string_length(entry, JSON_C_TO_STRING_PLAIN, &len))
                return -ENOMEM;
        r = driver_page_take(b, pg, len, json_object_array_length(pg->list) == 0, err);
        if (r <= 0)
                return r;
        if (json_object_array_add(pg->list, TAKE_PTR(entry)) < 0)
                return -ENOMEM;
        return 1;
}

/* {key: [...], "next": the cursor of the last entry given, or null if nothing was left out}. */
static int driver_page_finish(struct driver_page *pg, const char *key, json_object *next, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *cursor = next;
        int r;

        if (!o || (pg->more && !cursor))
                return -ENOMEM;
        r = driver_add(o, key, TAKE_PTR(pg->list));
        if (r < 0)
                return r;
        r = driver_add_nullable(o, "next", pg->more ? TAKE_PTR(cursor) : NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/*
 * Who an owner is, as quotas and GetPeer's "user" name it (uid:N, cert:FINGERPRINT or addr:HOST):
 * the identity of a network owner, which has no uid. The broker is its own uid.
 */
static json_object *driver_owner_user_json(struct mbus_broker *b, uint64_t id) {
        struct mbus_peer *peer = id == MBUS_BROKER_ID ? NULL : mbus_broker_find_peer(b, id);
        char buf[MBUS_USER_KEY_MAX];

        if (id == MBUS_BROKER_ID)
                return json_object_new_string(mbus_user_key(b->uid, NULL, NULL, buf));
        return peer && peer->user ? json_object_new_string(peer->user->key) : NULL;
}

/* One ListNamespaces entry; owner NULL: a namespace only an interface file declares. */
static json_object *driver_namespace_entry(struct mbus_broker *b, const char *name, const struct mbus_namespace *owner,
                                           bool file) {
        _cleanup_json_ json_object *e = json_object_new_object();

        if (!e)
                return NULL;
        if (driver_add(e, "namespace", json_object_new_string(name)) < 0)
                return NULL;
        /* json_object_object_add() takes NULL as JSON null. */
        if (json_object_object_add(e, "owner", owner ? driver_id_json(owner->owner) : NULL) < 0 ||
            json_object_object_add(e, "uid", owner ? driver_uid_json(mbus_broker_uid_of(b, owner->owner)) : NULL) < 0 ||
            json_object_object_add(e, "user", owner ? driver_owner_user_json(b, owner->owner) : NULL) < 0)
                return NULL;
        if (driver_add(e, "file", json_object_new_boolean(file)) < 0)
                return NULL;
        return TAKE_PTR(e);
}

typedef int (*driver_namespace_fn)(struct mbus_broker *b, const char *name, const struct mbus_namespace *owner,
                                   bool file, void *userdata);

/*
 * Calls fn for every namespace that exists (an owner, an interface file or both), sorted by name,
 * from the first name after `after` (NULL: from the first); owner NULL: a namespace only a file
 * declares. fn returns > 0 to go on, 0 to stop, or a negative errno, which is returned.
 */
static int driver_foreach_namespace(struct mbus_broker *b, const char *after, driver_namespace_fn fn, void *userdata) {
        _cleanup_free_ struct mbus_namespace **all = NULL;
        _cleanup_free_ const struct mbus_idl_namespace **files = NULL;
        size_t n, n_files, i = 0, k = 0;
        int r;

        r = mbus_namespace_registry_list(b->namespaces, &all, &n);
        if (r < 0)
                return r;
        r = mbus_introspection_list(b->interfaces, &files, &n_files);
        if (r < 0)
                return r;

        /* Both lists are sorted by name: merge them, from the first name after the cursor. */
        while (after && i < n && strcmp(all[i]->name, after) <= 0)
                i++;
        while (after && k < n_files && strcmp(files[k]->name, after) <= 0)
                k++;
        while (i < n || k < n_files) {
                int c = i >= n ? 1 : k >= n_files ? -1 : strcmp(all[i]->name, files[k]->name);
                const char *name = c <= 0 ? all[i]->name : files[k]->name;

                r = fn(b, name, c <= 0 ? all[i] : NULL, c >= 0, userdata);
                if (r <= 0)
                        return r;
                if (c <= 0)
                        i++;
                if (c >= 0)
                        k++;
        }
        return 0;
}

struct driver_namespace_page {
        struct driver_page *pg;
        struct driver_error *err;
        const char *last;               /* the last name given: the cursor of the next page */
};

static int driver_namespace_page_add(struct mbus_broker *b, const char *name, const struct mbus_namespace *owner,
                                     bool file, void *userdata) {
        struct driver_namespace_page *p = userdata;
        int r;

        r = driver_page_add(b, p->pg, driver_namespace_entry(b, name, owner, file), p->err);
        if (r > 0)
                p->last = name;
        return r;
}

static int driver_list_namespaces(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                  json_object **ret, struct driver_error *err) {
        _cleanup_(driver_page_done) struct driver_page pg = {};
        struct driver_namespace_page p = { .pg = &pg, .err = err };
        const char *after;
        int r;

        r = driver_page_init(&pg, b, args, "ListNamespaces", &after, err);
        if (r < 0)
                return r;
        r = driver_foreach_namespace(b, after, driver_namespace_page_add, &p);
        if (r < 0)
                return r;
        return driver_page_finish(&pg, "namespaces", pg.more ? json_object_new_string(p.last) : NULL, ret);
}

/* The first running peer after the one with id after (peers are in connect order: by id). */
static struct mbus_peer *driver_peers_after(struct mbus_broker *b, const char *after, struct driver_error *err,
                                            int *ret_error) {
        struct mbus_peer *p;
        uint64_t id;

        *ret_error = 0;
        if (!after)
                return b->peers_first;
        if (mbus_peer_id_parse(after, &id) < 0) {
                *ret_error = driver_fail(err, -EINVAL, "ListPeers: after must be a peer id (\":1.N\")");
                return NULL;
        }
        /* The cursor's own peer, if still there, leads straight to the rest. */
        p = mbus_broker_find_peer(b, id);
        if (p)
                return p->next;
        for (p = b->peers_first; p && p->id <= id; p = p->next)
                ;
        return p;
}

static int driver_list_peers(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                             json_object **ret, struct driver_error *err) {
        _cleanup_(driver_page_done) struct driver_page pg = {};
        const char *after;
        uint64_t last = 0;
        int r;

        r = driver_page_init(&pg, b, args, "ListPeers", &after, err);
        if (r < 0)
                return r;
        for (struct mbus_peer *p = driver_peers_after(b, after, err, &r); p; p = p->next) {
                json_object *e;

                if (!mbus_peer_is_running(p))
                        continue;
                /* Whether the page has room is known before the peer's entry is built. */
                if (pg.limit == 0) {
                        pg.more = true;
                        break;
                }
                r = driver_peer_json(b, p, &e);
                if (r < 0)
                        return r;
                r = driver_page_add(b, &pg, e, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                last = p->id;
        }
        if (r < 0)
                return r;
        return driver_page_finish(&pg, "peers", pg.more ? driver_id_json(last) : NULL, ret);
}

static int driver_get_peer(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                           json_object **ret, struct driver_error *err) {
        struct mbus_peer *peer = NULL;
        const char *id;
        uint64_t n;

        id = args && json_object_is_type(args, json_type_object) ? json_get_string(args, "id") : NULL;
        if (!id)
                return driver_fail(err, -EINVAL, "GetPeer wants {\"id\": \":1.N\"}");
        if (mbus_peer_id_parse(id, &n) >= 0)
                peer = mbus_broker_find_peer(b, n);
        if (!mbus_peer_is_running(peer))
                return driver_fail(err, -ESRCH, "No peer %s", id);
        return driver_peer_json(b, peer, ret);
}

/*
 * GetStats' "per_namespace" is an object, {NAME: {"calls", "errors", "events"}}, paged as the
 * lists are (a page of names in order, "next" the last one given), bounded by the same limit
 * and frame room.
 */
struct driver_stats_page {
        struct driver_page *pg;
        json_object *namespaces;        /* borrowed: the page's per_namespace */
        struct driver_error *err;
        const char *last;               /* the last name given: the cursor of the next page */
};

/* One entry of per_namespace, for a namespace that exists. */
static int driver_namespace_stats(struct mbus_broker *b, const char *name, const struct mbus_namespace *owner,
                                  bool file, void *userdata) {
        struct driver_stats_page *p = userdata;
        const struct mbus_ns_counters *c = owner && owner->counters ? owner->counters :
                                                                    mbus_ns_stats_peek(b->ns_stats, name);
        _cleanup_json_ json_object *e = NULL;
        size_t len = 0;
        int r = 0;

        assert(name);

        e = json_object_new_object();
        if (!e)
                return -ENOMEM;
        b->dispatch_work += DRIVER_ENTRY_WORK;
        if (p->pg->limit == 0) {
                p->pg->more = true;
                return 0;
        }
        r = r ?: driver_add(e, "calls", json_object_new_int64(c ? (int64_t) c->calls : 0));
        r = r ?: driver_add(e, "errors", json_object_new_int64(c ? (int64_t) c->errors : 0));
        r = r ?: driver_add(e, "events", json_object_new_int64(c ? (int64_t) c->events : 0));
        if (r < 0)
                return r;
        if (!json_object_to_json_string_length(e, JSON_C_TO_STRING_PLAIN, &len))
                return -ENOMEM;
        /* "NAME": and the value; names need no escaping. */
        r = driver_page_take(b, p->pg, strlen(name) + 3 + len, !p->last, p->err);
        if (r <= 0)
                return r;
        r = driver_add(p->namespaces, name, TAKE_PTR(e));
        if (r < 0)
                return r;
        p->last = name;
        return 1;
}

static int driver_get_stats(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                            json_object **ret, struct driver_error *err) {
        _cleanup_json_ json_object *o = json_object_new_object(), *namespaces = json_object_new_object();
        _cleanup_(driver_page_done) struct driver_page pg = {};
        struct driver_stats_page p = { .pg = &pg, .namespaces = namespaces, .err = err };
        const struct mbus_stats *s = &b->stats;
        const char *after;
        size_t len = 0;
        int r = 0;

        if (!o || !namespaces)
                return -ENOMEM;
        r = driver_page_init(&pg, b, args, "GetStats", &after, err);
        if (r < 0)
                return r;
#define STAT(key, value) r = r ?: driver_add(o, key, json_object_new_int64((int64_t) (value)))
        STAT("peers", b->n_peers);
        STAT("namespaces", mbus_namespace_registry_size(b->namespaces));
        STAT("subscriptions", mbus_match_size(b->matches));
        STAT("pending_calls", mbus_pending_size(b->pending));
        STAT("calls_routed", s->calls_routed);
        STAT("events_delivered", s->events_delivered);
        STAT("events_dropped", s->events_dropped);
        STAT("bytes_in", s->bytes_in);
        STAT("bytes_out", s->bytes_out);
        STAT("users", mbus_user_registry_size(b->users));
        STAT("queued_bytes", b->queued_bytes);
        STAT("peers_refused", s->peers_refused);
        STAT("quota_refusals", s->quota_refusals);
#undef STAT
        if (r < 0)
                return r;
        /* The counters above, the key, and "next" with a name share the page's room. */
        if (!json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len))
                return -ENOMEM;
        len += sizeof("\"per_namespace\":{},\"next\":\"\"") - 1 + MBUS_NAME_MAX;
        pg.room = pg.room > len ? pg.room - len : 0;

        r = driver_foreach_namespace(b, after, driver_namespace_stats, &p);
        if (r < 0)
                return r;
        r = driver_add(o, "per_namespace", TAKE_PTR(namespaces));
        r = r ?: driver_add_nullable(o, "next", pg.more ? json_object_new_string(p.last) : NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int driver_compare_users(const void *a, const void *b) {
        const struct mbus_user *const *x = a, *const *y = b;

        return strcmp((*x)->key, (*y)->key);
}

/*
 * What every user holds of each quota, and the limits: {"users": [{"user": KEY, "uid": N|null,
 * "privileged": B, "connections": N, ...}], "limits": {"connections": N, ...}, "next": KEY|null},
 * a page at a time as ListPeers gives them, sorted by key ("after" and "next" are keys). A
 * user is made only by connecting, so there are as many as connected identities at most; the
 * hash table has no order that lasts from one page to the next, hence the sort.
 */
static int driver_get_user_stats(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                 json_object **ret, struct driver_error *err) {
        _cleanup_(driver_page_done) struct driver_page pg = {};
        _cleanup_json_ json_object *limits = json_object_new_object(), *o = NULL;
        _cleanup_free_ struct mbus_user **users = NULL;
        size_t n = 0, state = 0;
        const char *after, *last = NULL;
        struct mbus_user *u;
        int r = 0;

        if (!limits)
                return -ENOMEM;
        for (enum mbus_quota q = 0; q < _MBUS_QUOTA_MAX; q++)
                r = r ?: driver_add(limits, mbus_quota_to_string(q),
                                    json_object_new_int64((int64_t) mbus_quota_limit(b, q)));
        r = r ?: driver_page_init(&pg, b, args, "GetUserStats", &after, err);
        r = r ?: driver_page_reserve(&pg, "limits", limits);
        if (r < 0)
                return r;

        users = calloc(MAX(mbus_user_registry_size(b->users), (size_t) 1), sizeof(*users));
        if (!users)
                return -ENOMEM;
        while (mbus_user_registry_iterate(b->users, &state, &u))
                if (!after || strcmp(u->key, after) > 0)
                        users[n++] = u;
        qsort(users, n, sizeof(users[0]), driver_compare_users);

        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *e = json_object_new_object();

                u = users[i];
                if (!e)
                        return -ENOMEM;
                r = r ?: driver_add(e, "user", json_object_new_string(u->key));
                r = r ?: driver_add_nullable(e, "uid", driver_uid_json(u->uid));
                r = r ?: driver_add(e, "privileged", json_object_new_boolean(u->privileged));
                for (enum mbus_quota q = 0; q < _MBUS_QUOTA_MAX; q++)
                        r = r ?: driver_add(e, mbus_quota_to_string(q), json_object_new_int64((int64_t) u->used[q]));
                r = r ?: driver_page_add(b, &pg, TAKE_PTR(e), err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                last = u->key;
                r = 0;
        }
        r = driver_page_finish(&pg, "users", pg.more ? json_object_new_string(last) : NULL, &o);
        r = r ?: driver_add(o, "limits", TAKE_PTR(limits));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int driver_describe_self(struct mbus_idl_namespace **ret);

static int driver_introspect(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                             json_object **ret, struct driver_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *made = NULL;
        _cleanup_json_ json_object *o = NULL;
        const struct mbus_idl_namespace *idl;
        struct mbus_namespace *entry;
        const char *name;
        int r;

        name = args ? json_get_string(args, "namespace") : NULL;
        if (!name)
                return driver_fail(err, -EINVAL, "Introspect wants {\"namespace\": \"NAMESPACE\"}");
        if (!mbus_namespace_is_valid(name))
                return driver_fail(err, -EINVAL, "Invalid namespace name");

        entry = mbus_namespace_get(b->namespaces, name);
        idl = mbus_introspection_get(b->interfaces, name);
        if (!idl && entry) {
                idl = entry->described;
                if (!idl) {
                        r = entry->owner == MBUS_BROKER_ID ? driver_describe_self(&made)
                                                           : mbus_idl_from_declaration(&made, name, NULL, 0);
                        if (r < 0)
                                return r == -ENOMEM ? r : driver_fail(err, -EIO, "Cannot describe %s", name);
                        idl = made;
                }
        }
        if (!idl)
                return driver_fail(err, -ENXIO, "Namespace %s has no owner and no interface file", name);

        r = mbus_idl_to_json(idl, &o);
        if (r < 0)
                return r;
        r = driver_add(o, "source", json_object_new_string(idl->path && !idl->declared ? "file" : "declared"));
        if (r < 0)
                return r;
        if (json_object_object_add(o, "path", idl->path ? json_object_new_string(idl->path) : NULL) < 0 ||
            json_object_object_add(o, "owner", entry ? driver_id_json(entry->owner) : NULL) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int driver_reload_config(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                json_object **ret, struct driver_error *err) {
        _cleanup_json_ json_object *o = json_object_new_object();
        struct mbus_file_error ferr = {};
        size_t n_policy = 0, n_interfaces = 0;
        char text[600];
        int r;

        if (!o)
                return -ENOMEM;
        r = mbus_broker_reload_config(b, &ferr, &n_policy, &n_interfaces);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return driver_fail(err, -EIO, "Configuration rejected, the previous one stays in force: %s",
                                   mbus_file_error_format(&ferr, text, sizeof(text)));
        /*
         * The rest is in force, but the caller (systemctl reload, a package's script) must learn
         * that a file is not: a reply would read as "all loaded".
         */
        if (r > 0)
                return driver_fail(err, -EIO, "Configuration loaded without %d broken file%s (their namespaces keep "
                                   "the rules in force before): %s", r, r == 1 ? "" : "s",
                                   mbus_file_error_format(&ferr, text, sizeof(text)));
        r = driver_add(o, "namespaces_with_policy", json_object_new_int64((int64_t) n_policy));
        r = r ?: driver_add(o, "namespaces_with_interface", json_object_new_int64((int64_t) n_interfaces));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}


/* {"namespace": NAME} of args, validated; NULL with err filled otherwise. */
static const char *driver_namespace_arg(json_object *args, const char *procedure, struct driver_error *err) {
        const char *name = args ? json_get_string(args, "namespace") : NULL;

        if (!name) {
                (void) driver_fail(err, -EINVAL, "%s wants {\"namespace\": \"NAMESPACE\"}", procedure);
                return NULL;
        }
        if (!mbus_namespace_is_valid(name)) {
                (void) driver_fail(err, -EINVAL, "Invalid namespace name");
                return NULL;
        }
        return name;
}

/* The activatable namespaces (an interface file that says how to start the service), a page at
 * a time as ListNamespaces gives them: by name, from the first after the cursor. */
static int driver_list_activatable(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                   json_object **ret, struct driver_error *err) {
        _cleanup_(driver_page_done) struct driver_page pg = {};
        _cleanup_free_ const struct mbus_idl_namespace **files = NULL;
        const char *after, *last = NULL;
        size_t n_files;
        int r;

        r = driver_page_init(&pg, b, args, "ListActivatable", &after, err);
        if (r < 0)
                return r;
        r = mbus_introspection_list(b->interfaces, &files, &n_files);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_json_ json_object *e = NULL;
                struct mbus_namespace *entry;

                if (!files[i]->systemd_service && !files[i]->exec)
                        continue;
                if (after && strcmp(files[i]->name, after) <= 0)
                        continue;
                entry = mbus_namespace_get(b->namespaces, files[i]->name);
                e = json_object_new_object();
                if (!e)
                        return -ENOMEM;
                r = driver_add(e, "namespace", json_object_new_string(files[i]->name));
                r = r ?: driver_add_nullable(e, "systemd_service", driver_string_or_null(files[i]->systemd_service));
                r = r ?: driver_add_nullable(e, "exec", driver_string_or_null(files[i]->exec));
                r = r ?: driver_add_nullable(e, "owner", entry ? driver_id_json(entry->owner) : NULL);
                r = r ?: driver_add(e, "starting", json_object_new_boolean(
                                                 mbus_activation_is_starting(b->activation, files[i]->name)));
                r = r ?: driver_page_add(b, &pg, TAKE_PTR(e), err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                last = files[i]->name;
        }
        return driver_page_finish(&pg, "namespaces", pg.more ? json_object_new_string(last) : NULL, ret);
}

/* Returns 1: the answer comes from activation.c once the namespace registers (or fails). */
static int driver_start_namespace(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                  json_object **ret, struct driver_error *err) {
        struct mbus_namespace *entry;
        const char *name;
        char why[512];
        int r;

        name = driver_namespace_arg(args, "StartNamespace", err);
        if (!name)
                return -EINVAL;
        entry = mbus_namespace_get(b->namespaces, name);
        if (entry)
                return mbus_driver_answer_started(b, caller, err->serial, name) ?: 1;
        if (!mbus_activation_is_activatable(b, name))
                return driver_fail(err, -ENXIO, "Namespace %s has no owner and is not activatable", name);
        r = mbus_activation_queue_start(b->activation, name, caller, err->serial,
                                        usec_add(mbus_broker_now(b), b->options->max_call_timeout), why,
                                        sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return driver_fail(err, r, "%s", why);
        return 1;
}

static int driver_get_namespace_owner(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                      json_object **ret, struct driver_error *err) {
        _cleanup_json_ json_object *o = json_object_new_object();
        struct mbus_namespace *entry;
        const char *name;
        int r;

        if (!o)
                return -ENOMEM;
        name = driver_namespace_arg(args, "GetNamespaceOwner", err);
        if (!name)
                return -EINVAL;
        entry = mbus_namespace_get(b->namespaces, name);
        r = driver_add(o, "namespace", json_object_new_string(name));
        r = r ?: driver_add_nullable(o, "owner", entry ? driver_id_json(entry->owner) : NULL);
        r = r ?: driver_add_nullable(o, "uid", entry ? driver_uid_json(mbus_broker_uid_of(b, entry->owner)) : NULL);
        r = r ?: driver_add(o, "activatable", json_object_new_boolean(mbus_activation_is_activatable(b, name)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* An optional "reason" argument: printable, at most 256 bytes, or "" if absent. */
static int driver_reason_arg(json_object *args, const char *procedure, const char **ret, struct driver_error *err) {
        json_object *v;
        const char *reason = "";

        if (args && json_object_object_get_ex(args, "reason", &v)) {
                if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 256)
                        return driver_fail(err, -EINVAL, "%s: reason must be a string of at most 256 bytes",
                                           procedure);
                reason = json_object_get_string(v);
                for (const char *p = reason; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                return driver_fail(err, -EINVAL, "%s: reason must not contain control characters",
                                                   procedure);
        }
        *ret = reason;
        return 0;
}

static int driver_disconnect_peer(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                  json_object **ret, struct driver_error *err) {
        char who[MBUS_CREDS_DESCRIBE_MAX], text[512];
        struct mbus_peer *peer = NULL;
        const char *id, *reason = "";
        uint64_t n;
        int r;

        id = args ? json_get_string(args, "id") : NULL;
        if (!id)
                return driver_fail(err, -EINVAL, "DisconnectPeer wants {\"id\": \":1.N\", \"reason\": \"...\"}");
        r = driver_reason_arg(args, "DisconnectPeer", &reason, err);
        if (r < 0)
                return r;
        if (mbus_peer_id_parse(id, &n) >= 0 && n == MBUS_BROKER_ID)
                return driver_fail(err, -EPERM, "The broker cannot disconnect itself");
        if (mbus_peer_id_parse(id, &n) >= 0)
                peer = mbus_broker_find_peer(b, n);
        if (!mbus_peer_is_running(peer))
                return driver_fail(err, -ESRCH, "No peer %s", id);

        (void) snprintf(text, sizeof(text), "Disconnected by an administrator (%s)%s%s",
                        mbus_creds_describe(&caller->creds, who, sizeof(who)), reason[0] ? ": " : "", reason);
        free(peer->disconnect_reason);
        peer->disconnect_reason = strdup(reason[0] ? reason : "disconnected by an administrator");
        if (!peer->disconnect_reason)
                return -ENOMEM;
        (void) mbus_log(LOG_NOTICE, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_DISCONNECTED, .peer = peer),
                        "Peer :1.%" PRIu64 " (%s): %s", peer->id, peer->name ?: "", text);
        /* Its last words: an ERROR outside any call, sent before the connection closes. */
        (void) mbus_reply_error(b, peer, /* reply_serial= */ 0, -ENOTCONN, "%s", text);
        mbus_broker_condemn_peer(b, peer, -ECONNABORTED);
        *ret = json_object_new_object();
        return *ret ? 0 : -ENOMEM;
}

/*
 * The caller becomes a monitor (monitor.c), if the policy lets it monitor (the action, on
 * org.mbus.Broker); calling again replaces its filters.
 */
static int driver_become_monitor(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                 json_object **ret, struct driver_error *err) {
        struct mbus_policy_decision d;
        struct mbus_identity who;
        char why[512], reason[256];
        int r;

        mbus_creds_to_identity(&caller->creds, &who);
        if (mbus_policy_check(b->policy, &who, MBUS_POLICY_MONITOR, MBUS_DRIVER_NAMESPACE, NULL, &b->uid, &d) < 0) {
                (void) mbus_policy_decision_describe(&d, why, sizeof(why));
                return driver_fail(err, -EACCES, "Access denied: monitor: %s", why);
        }
        r = mbus_monitor_add(b, caller, args, reason, sizeof(reason));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return driver_fail(err, r, "%s", reason);
        *ret = json_object_new_object();
        return *ret ? 0 : -ENOMEM;
}

static int driver_release_namespace(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                    json_object **ret, struct driver_error *err) {
        char who[MBUS_CREDS_DESCRIBE_MAX], text[512];
        struct mbus_namespace *entry;
        struct mbus_peer *owner;
        const char *name, *reason = "";
        uint64_t owner_id;
        int r;

        name = driver_namespace_arg(args, "ReleaseNamespace", err);
        if (!name)
                return -EINVAL;
        r = driver_reason_arg(args, "ReleaseNamespace", &reason, err);
        if (r < 0)
                return r;
        entry = mbus_namespace_get(b->namespaces, name);
        if (!entry)
                return driver_fail(err, -ENXIO, "Namespace %s has no owner", name);
        if (entry->owner == MBUS_BROKER_ID)
                return driver_fail(err, -EPERM, "Namespace %s belongs to the broker", name);
        owner_id = entry->owner;
        owner = mbus_broker_find_peer(b, owner_id);

        (void) snprintf(text, sizeof(text), "Released by an administrator (%s)%s%s",
                        mbus_creds_describe(&caller->creds, who, sizeof(who)), reason[0] ? ": " : "", reason);
        (void) mbus_log(LOG_NOTICE, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_NAMESPACE_LOST, .peer = owner, .ns = name),
                        "Peer :1.%" PRIu64 " lost %s: %s", owner_id, name, text);
        if (owner)
                mbus_driver_send_namespace_lost(b, owner, name, text);
        if (mbus_namespace_unregister(b->namespaces, name, owner_id) >= 0)
                mbus_driver_emit_owner_changed(b, name, owner_id, /* new_owner= */ 0);
        *ret = json_object_new_object();
        return *ret ? 0 : -ENOMEM;
}

static int driver_set_log_level(struct mbus_broker *b, struct mbus_peer *caller, json_object *args,
                                json_object **ret, struct driver_error *err) {
        _cleanup_json_ json_object *o = json_object_new_object();
        char who[MBUS_CREDS_DESCRIBE_MAX];
        const char *name;
        int level, old = mbus_log_get_max_level(), r;

        if (!o)
                return -ENOMEM;
        name = args ? json_get_string(args, "level") : NULL;
        level = mbus_log_level_from_string(name);
        if (level < 0)
                return driver_fail(err, -EINVAL, "SetLogLevel wants {\"level\": \"err|warning|notice|info|debug\"}");
        mbus_log_set_max_level(level);
        b->options->log_level = level;
        /* Logged at the higher of the two levels, so that the change itself is visible. */
        (void) mbus_log(MIN(LOG_NOTICE, MAX(level, old)), 0, NULL, "Log level set to %s by %s", name,
                        mbus_creds_describe(&caller->creds, who, sizeof(who)));
        r = driver_add(o, "level", json_object_new_string(name));
        r = r ?: driver_add(o, "previous", json_object_new_string(mbus_log_level_to_string(old)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Keep in step with policy/interfaces.d/org.mbus.Broker.xml (test-driver checks it). */
static const struct driver_method driver_methods[] = {
        { "Ping",           driver_ping            },
        { "Version",        driver_version         },
        { "ListNamespaces", driver_list_namespaces },
        { "ListPeers",      driver_list_peers      },
        { "GetPeer",        driver_get_peer        },
        { "GetStats",       driver_get_stats       },
        { "GetUserStats",   driver_get_user_stats  },
        { "Introspect",     driver_introspect      },
        { "ReloadConfig",   driver_reload_config   },
        { "ListActivatable",   driver_list_activatable   },
        { "StartNamespace",    driver_start_namespace    },
        { "GetNamespaceOwner", driver_get_namespace_owner },
        { "DisconnectPeer",    driver_disconnect_peer    },
        { "ReleaseNamespace",  driver_release_namespace  },
        { "SetLogLevel",       driver_set_log_level      },
        { "BecomeMonitor",  driver_become_monitor  },
};

static const char *const driver_events[] = {
        "PeerConnected",
        "PeerDisconnected",
        "NamespaceOwnerChanged",
        "NamespaceLost",
        "Monitor",
        "MonitorLost",
};

const char *mbus_driver_procedure_name(size_t i) {
        return i < ELEMENTSOF(driver_methods) ? driver_methods[i].name : NULL;
}

const char *mbus_driver_event_name(size_t i) {
        return i < ELEMENTSOF(driver_events) ? driver_events[i] : NULL;
}

/* org.mbus.Broker without its interface file: the names of the table, as an owner declares. */
static int driver_describe_self(struct mbus_idl_namespace **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *p = json_object_new_array(),
                                   *e = json_object_new_array();
        const char *text;

        if (!o || !p || !e)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(driver_methods); i++)
                if (json_object_array_add(p, json_object_new_string(driver_methods[i].name)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(driver_events); i++)
                if (json_object_array_add(e, json_object_new_string(driver_events[i])) < 0)
                        return -ENOMEM;
        if (driver_add(o, "procedures", TAKE_PTR(p)) < 0 || driver_add(o, "events", TAKE_PTR(e)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        return mbus_idl_from_declaration(ret, MBUS_DRIVER_NAMESPACE, text, strlen(text));
}

int mbus_driver_call(struct mbus_broker *b, struct mbus_peer *caller, struct mbus_frame *call) {
        _cleanup_json_ json_object *args = NULL, *result = NULL;
        const struct driver_method *m = NULL;
        struct driver_error err = {};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(driver_methods); i++)
                if (strcmp(driver_methods[i].name, call->f.member) == 0) {
                        m = &driver_methods[i];
                        break;
                }
        if (!m)
                return mbus_reply_error(b, caller, call->f.serial, -EOPNOTSUPP,
                                        "Unknown procedure %s.%s", MBUS_DRIVER_NAMESPACE, call->f.member);

        if (call->body_len > MBUS_DRIVER_BODY_MAX)
                return mbus_reply_error(b, caller, call->f.serial, -ENOBUFS,
                                        "Arguments larger than %u bytes", MBUS_DRIVER_BODY_MAX);
        if (call->body_len > 0) {
                r = json_parse_bytes((const char *) call->body, call->body_len, &args);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return mbus_reply_error(b, caller, call->f.serial, -EINVAL,
                                                "Arguments are not valid JSON");
        }
        if (args && !json_object_is_type(args, json_type_object))
                return mbus_reply_error(b, caller, call->f.serial, -EINVAL,
                                        "Arguments must be a JSON object");

        err.serial = call->f.serial;
        r = m->fn(b, caller, args, &result, &err);
        if (r == -ENOMEM)
                return r;
        if (r > 0)
                return 0;       /* answered later (StartNamespace), or already answered */
        if (r < 0)
                return mbus_reply_error(b, caller, call->f.serial, r, "%s",
                                        err.message[0] ? err.message : strerror(-r));

        /*
         * Never a frame larger than WELCOME announced: the caller's library would take it for a
         * protocol error and drop the connection. DRIVER_REPLY_SLACK covers the head.
         */
        if (result) {
                size_t len = 0;

                if (!json_object_to_json_string_length(result, JSON_C_TO_STRING_PLAIN, &len))
                        return -ENOMEM;
                if (len + DRIVER_REPLY_SLACK > b->options->max_frame_size)
                        return mbus_reply_error(b, caller, call->f.serial, -ENOBUFS,
                                                "The answer of %s.%s would be %zu bytes, over the frame limit "
                                                "of %zu", MBUS_DRIVER_NAMESPACE, call->f.member, len,
                                                b->options->max_frame_size);
        }
        return mbus_reply_return(b, caller, call->f.serial, result);
}

/* The HELLO features granted to peer (router_hello_features()), named back in WELCOME. */
static json_object *driver_features_json(const struct mbus_peer *peer) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        if (peer->wants_caller) {
                json_object *s = json_object_new_string(MBUS_FEATURE_CALLER);

                if (!s || json_object_array_add(a, s) < 0) {
                        json_object_put(s);
                        return NULL;
                }
        }
        return TAKE_PTR(a);
}

int mbus_driver_welcome(struct mbus_broker *b, struct mbus_peer *peer, uint64_t hello_serial) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        _cleanup_json_ json_object *o = json_object_new_object(), *ka = json_object_new_object();
        const struct mbus_options *c = b->options;
        const char *text;
        int r = 0;

        if (!o || !ka)
                return -ENOMEM;
        r = r ?: driver_add(ka, "interval_usec", json_object_new_int64((int64_t) c->keepalive_interval));
        r = r ?: driver_add(ka, "timeout_usec", json_object_new_int64((int64_t) c->keepalive_timeout));
        r = r ?: driver_add(ka, "threshold", json_object_new_int64((int64_t) c->keepalive_threshold));
        r = r ?: driver_add(o, "id", driver_id_json(peer->id));
        r = r ?: driver_add(o, "broker", json_object_new_string("mbus-broker " MBUS_VERSION));
        r = r ?: driver_add(o, "protocol", json_object_new_int(MBUS_PROTOCOL));
        r = r ?: driver_add(o, "max_frame_size", json_object_new_int64((int64_t) c->max_frame_size));
        r = r ?: driver_add(o, "keepalive", TAKE_PTR(ka));
        r = r ?: driver_add(o, "features", driver_features_json(peer));
        if (r < 0)
                return r;

        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = mbus_frame_new(&f, MBUS_FRAME_WELCOME,
                           &(const struct mbus_frame_fields) { .reply_serial = hello_serial }, text, strlen(text));
        if (r < 0)
                return r;
        return mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY);
}

int mbus_driver_answer_started(struct mbus_broker *b, struct mbus_peer *caller, uint64_t serial, const char *ns) {
        _cleanup_json_ json_object *o = json_object_new_object();
        struct mbus_namespace *entry = mbus_namespace_get(b->namespaces, ns);
        int r;

        if (!o)
                return -ENOMEM;
        r = driver_add(o, "namespace", json_object_new_string(ns));
        if (r < 0)
                return r;
        if (json_object_object_add(o, "owner", entry ? driver_id_json(entry->owner) : NULL) < 0)
                return -ENOMEM;
        return mbus_reply_return(b, caller, serial, o);
}

/* --- events ----------------------------------------------------------------------------------- */

static bool driver_wanted(struct mbus_broker *b, const char *member) {
        return mbus_match_hits(b->matches, MBUS_DRIVER_NAMESPACE, member);
}

/* Sends an event of the broker (sender ":1.0") to its subscribers. Takes body. */
static void driver_emit(struct mbus_broker *b, const char *member, json_object *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        _cleanup_json_ json_object *o = body;
        const char *text;
        char sender[MBUS_PEER_ID_MAX];

        if (!o)
                return;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (mbus_frame_new(&f, MBUS_FRAME_EVENT,
                           &(const struct mbus_frame_fields) {
                                   .serial = ++b->next_serial,
                                   .namespace = MBUS_DRIVER_NAMESPACE,
                                   .member = member,
                                   .sender = mbus_peer_id_format(sender, MBUS_BROKER_ID),
                           }, text, strlen(text)) < 0)
                return;
        mbus_router_broadcast(b, f, b->uid);
}

void mbus_driver_emit_peer_connected(struct mbus_broker *b, struct mbus_peer *peer) {
        _cleanup_json_ json_object *o = NULL;
        int r = 0;

        if (!driver_wanted(b, "PeerConnected"))
                return;
        o = json_object_new_object();
        if (!o)
                return;
        r = r ?: driver_add(o, "id", driver_id_json(peer->id));
        r = r ?: driver_add(o, "name", json_object_new_string(peer->name ?: ""));
        r = r ?: driver_add_identity(o, &peer->creds);
        if (r >= 0)
                driver_emit(b, "PeerConnected", TAKE_PTR(o));
}

void mbus_driver_emit_peer_disconnected(struct mbus_broker *b, struct mbus_peer *peer) {
        _cleanup_json_ json_object *o = NULL;

        if (!driver_wanted(b, "PeerDisconnected"))
                return;
        o = json_object_new_object();
        if (o && driver_add(o, "id", driver_id_json(peer->id)) >= 0 &&
            driver_add_nullable(o, "reason", driver_string_or_null(peer->disconnect_reason)) >= 0)
                driver_emit(b, "PeerDisconnected", TAKE_PTR(o));
}

void mbus_driver_emit_owner_changed(struct mbus_broker *b, const char *ns, uint64_t old_owner, uint64_t new_owner) {
        _cleanup_json_ json_object *o = NULL;
        int r = 0;

        if (!driver_wanted(b, "NamespaceOwnerChanged"))
                return;
        o = json_object_new_object();
        if (!o)
                return;
        r = r ?: driver_add(o, "namespace", json_object_new_string(ns));
        /* json_object_object_add() takes NULL as JSON null; add it directly. */
        if (r >= 0 && json_object_object_add(o, "old_owner", old_owner ? driver_id_json(old_owner) : NULL) < 0)
                r = -ENOMEM;
        if (r >= 0 && json_object_object_add(o, "new_owner", new_owner ? driver_id_json(new_owner) : NULL) < 0)
                r = -ENOMEM;
        if (r >= 0)
                driver_emit(b, "NamespaceOwnerChanged", TAKE_PTR(o));
}

void mbus_driver_send_namespace_lost(struct mbus_broker *b, struct mbus_peer *peer, const char *ns,
                                     const char *reason) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        _cleanup_json_ json_object *o = json_object_new_object();
        char sender[MBUS_PEER_ID_MAX], dest[MBUS_PEER_ID_MAX];
        const char *text;
        int r = 0;

        if (!o)
                return;
        r = r ?: driver_add(o, "namespace", json_object_new_string(ns));
        r = r ?: driver_add(o, "reason", json_object_new_string(reason ?: ""));
        if (r < 0)
                return;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (mbus_frame_new(&f, MBUS_FRAME_EVENT,
                           &(const struct mbus_frame_fields) {
                                   .serial = ++b->next_serial,
                                   .namespace = MBUS_DRIVER_NAMESPACE,
                                   .member = "NamespaceLost",
                                   .sender = mbus_peer_id_format(sender, MBUS_BROKER_ID),
                                   .destination = mbus_peer_id_format(dest, peer->id),
                           }, text, strlen(text)) < 0)
                return;
        /* REPLY class: never dropped for a full queue (a peer that reads nothing is dropped). */
        if (mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY) >= 0)
                b->stats.events_delivered++;
}

int mbus_driver_init(struct mbus_broker *b) {
        int r;

        r = mbus_namespace_register(b->namespaces, MBUS_DRIVER_NAMESPACE, MBUS_BROKER_ID, /* list= */ NULL);
        return r == -EALREADY ? 0 : r;
}
