/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* struct mbus_broker: the event loop, listeners, registries and every peer. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "options.h"
#include "stats.h"
#include "util/macro.h"
#include "util/time-util.h"

struct mbus_activation_table;
struct mbus_creds;
struct mbus_dispatch;
struct mbus_file_error;
struct mbus_introspection;
struct mbus_policy;
struct mbus_frame;
struct mbus_hashmap;
struct mbus_listener;
struct mbus_ns_stats;
struct mbus_tls_context;
struct mbus_match_index;
struct mbus_message_link;
struct mbus_ws;
struct mbus_compat_hub;
struct mbus_namespace_registry;
struct mbus_peer;
struct mbus_pending_table;
struct mbus_user_registry;

#define MBUS_BROKER_ID 0                        /* ":1.0", the sender of the broker's events */
#define MBUS_BROKER_MAX_NAMESPACES_PER_PEER 1024u
#define MBUS_BROKER_MAX_SUBSCRIPTIONS_PER_PEER 4096u

struct mbus_broker {
        sd_event *event;                        /* owned (a reference) */
        struct mbus_options *options;           /* borrowed: main() keeps it; a reload updates the
                                                   settings it may change at runtime */
        const struct mbus_options *cmdline;     /* borrowed: the command line, which a reload puts
                                                   over broker.conf again; NULL: no broker.conf */

        struct mbus_listener **listeners;       /* owned */
        size_t n_listeners;
        char listen_desc[256];                  /* where we listen, for messages: "/run/mbus/socket tls://..." */
        struct mbus_tls_context *tls_server;    /* owned (a reference); NULL without --tls-cert.
                                                   Peers hold their own: a reload swaps it. */
        struct mbus_ratelimit tls_log_ratelimit;        /* "Refused TLS connection ..." */
        struct mbus_ws *ws;                     /* owned: libwebsockets, with the first ws/wss listener */
        struct mbus_compat_hub *compat;         /* owned: original mBus clients, with the first compat listener */

        struct mbus_dispatch *dispatch;         /* owned: the epoll set of peer sockets (dispatch.h) */
        struct mbus_hashmap *peers;             /* id -> struct mbus_peer, live peers only */
        struct mbus_peer *peers_first, *peers_last;   /* the same peers, in connect order */
        size_t n_peers;
        uint64_t next_peer_id;
        uint64_t next_serial;                   /* serials of frames the broker originates */

        /*
         * Deferred work, done by mbus_broker_dispatch_done() at the end of every callback:
         * peers to flush (one writev each), peers to drop, dropped peers to free. Nothing is
         * freed while a callback may still hold a pointer to it.
         */
        struct mbus_peer *dirty;
        struct mbus_peer *condemned;
        struct mbus_peer *dead;

        /*
         * Peers work in bounded turns (peer.c): dispatch_work is what the current turn has
         * cost, in frames routed (an entry of a broker list procedure counts as several, a read
         * as a share of the budget). The ready list holds the peers with more to do than their
         * last turn allowed (whole frames kept at the budget, or an edge-triggered socket not
         * yet read dry); each gets its next turn oldest first, one after each turn another
         * peer's input started and one whenever the loop is idle (ready_source), so that one
         * peer's flood or pile of expensive requests waits behind everybody else's input
         * instead of holding it up.
         */
        size_t dispatch_work;
        struct mbus_peer *ready_first, *ready_last;
        size_t n_ready;
        sd_event_source *ready_source;          /* a defer source, on while the list is not empty */
        uint8_t *read_scratch;                  /* owned, MBUS_STREAM_READ_SIZE: every peer reads
                                                   into it while it keeps no input (peer.c) */

        struct mbus_namespace_registry *namespaces;
        struct mbus_match_index *matches;
        struct mbus_pending_table *pending;
        struct mbus_activation_table *activation;       /* calls held for services being started */
        struct mbus_user_registry *users;       /* accounting per user (user.h, quota.c) */
        size_t queued_bytes;                    /* queued for all peers, as charged to users */
        struct mbus_ratelimit quota_log_ratelimit;
        struct mbus_monitor *monitors;          /* owned list (monitor.c); NULL: nobody watches */

        sd_event_source *call_timer;            /* armed at the earliest call deadline */
        usec_t call_timer_armed;                /* USEC_INFINITY: off */
        sd_event_source *keepalive_timer;       /* the one keep-alive sweep (keepalive.c) */

        /*
         * Access policy and interface files: built whole from the configuration directories
         * and swapped whole by mbus_broker_reload_config() (reload.c); never half-loaded.
         */
        struct mbus_policy *policy;             /* owned */
        struct mbus_introspection *interfaces;  /* owned */
        uid_t uid;                              /* the broker's own (effective) uid */
        bool config_loaded;                     /* a first set was put in force */
        struct mbus_ratelimit denied_log_ratelimit;
        struct mbus_ratelimit protocol_log_ratelimit;   /* "Protocol error from ..." */
        struct mbus_ratelimit disconnect_log_ratelimit; /* "Dropped peer ..." (not hang-ups) */

        struct mbus_stats stats;
        struct mbus_ns_stats *ns_stats;         /* owned: per-namespace counters (ns-stats.h) */
        struct mbus_ratelimit drop_log_ratelimit;
        uint64_t events_dropped_logged;
        char status_line[512];
        char config_problem[256];               /* what the last load left out, for STATUS=; "" if nothing */
};

/* Lifecycle. */
int mbus_broker_new(struct mbus_broker **ret, sd_event *event, struct mbus_options *options);
struct mbus_broker *mbus_broker_free(struct mbus_broker *b);

/*
 * Listening: on fds passed by systemd (taken over, also on failure), told apart by their
 * FileDescriptorName ("unix", "tcp", "tls"; names may be NULL: then by socket family, a TCP
 * socket being TLS), or on an address (NULL: the default path); a UNIX socket the broker
 * binds itself is unlinked at exit. The transport follows the address's scheme.
 */
int mbus_broker_listen_fds(struct mbus_broker *b, const int *fds, char **names, size_t n_fds);
int mbus_broker_listen_address(struct mbus_broker *b, const char *address);

/*
 * Builds a TLS server context from the certificate, key, CA and CRL that o names into *ret
 * (NULL if o names none). Refuses to leave TLS listeners without a context. Returns 0, or a
 * negative errno with *err saying which file and why (OpenSSL's reason); logs nothing.
 */
int mbus_broker_make_tls(struct mbus_broker *b, const struct mbus_options *o, struct mbus_tls_context **ret,
                         struct mbus_file_error *err);

/*
 * (Re)builds the TLS server context from b->options' files and puts it in force. On failure
 * the old context stays. Returns 0 or a negative errno, logged.
 */
int mbus_broker_load_tls(struct mbus_broker *b);

/* Peers. */

/*
 * Takes a connected socket from a listener (fd is consumed in every case) with the
 * credentials read at accept (moved into the new peer); tls: the peer's first step is a TLS
 * handshake with the broker's server context.
 */
void mbus_broker_accept(struct mbus_broker *b, int fd, struct mbus_creds *creds, bool tls);
/*
 * A peer over a message link (a WebSocket connection, daemon/listener-ws.c) with the
 * credentials of its connection (moved). Returns 0 and the peer in *ret (the broker owns it),
 * -ENOBUFS over --max-peers (counted and logged), or -ENOMEM.
 */
int mbus_broker_accept_message(struct mbus_broker *b, struct mbus_message_link *link, struct mbus_creds *creds,
                               struct mbus_peer **ret);
struct mbus_peer *mbus_broker_find_peer(struct mbus_broker *b, uint64_t id);   /* live ones */

/*
 * Schedules the drop of peer with reason (negative errno): it is taken out of every registry,
 * its calls are answered, and it is freed by mbus_broker_dispatch_done(). Never frees now, so
 * it is safe anywhere. Idempotent.
 */
void mbus_broker_condemn_peer(struct mbus_broker *b, struct mbus_peer *peer, int reason);

/* Puts peer at the end of the ready list: its next turn (mbus_peer_resume()) comes in a later round. */
void mbus_broker_mark_ready(struct mbus_broker *b, struct mbus_peer *peer);

/* Adds peer to the end-of-dispatch flush list. */
void mbus_broker_mark_dirty(struct mbus_broker *b, struct mbus_peer *peer);
/* Gives the peer that has waited longest on the ready list its next turn, if any. */
void mbus_broker_ready_one(struct mbus_broker *b);

/* Called at the end of every event callback: drops, flushes, frees. */
void mbus_broker_dispatch_done(struct mbus_broker *b);

/* Makes sure the call timer fires no later than deadline. */
void mbus_broker_arm_call_timer(struct mbus_broker *b, usec_t deadline);

/* Time of the current event loop iteration (cached by sd-event). */
usec_t mbus_broker_now(struct mbus_broker *b);

/*
 * For log lines any peer can trigger at will: true if one more may be written now. When it is
 * the first after some were suppressed, first logs (level, err, msgid) how many "<what>" were
 * not logged.
 */
bool mbus_broker_log_ratelimit(struct mbus_broker *b, struct mbus_ratelimit *rl, int level, int err,
                               const char *msgid, const char *what);

/* Configuration (reload.c). */

/*
 * Reads every policy and interface file of the configuration directories (--config-dir, or the
 * vendor then admin search path) into a new set and, once the broker runs (b->cmdline set and
 * a first set loaded), broker.conf with the TLS files it names. A policy or interface file that
 * fails to load is left out (an error entry, MBUS_MSGID_CONFIG_FILE_SKIPPED, names file:line):
 * at the first load its namespace has no file (the scope's default decides, no interface
 * checks), at a reload it keeps what the running set had for it; an unknown user or group is a
 * warning (MBUS_MSGID_CONFIG_WARNING) and its rule matches nobody. broker.conf and the TLS files
 * are all or nothing: on success the set and the new TLS context are swapped in, the settings a
 * reload may change are updated (a notice names those it leaves for the next start), every
 * owner is checked again (one that may no longer own its namespace gets NamespaceLost and loses
 * it) and the counts are given; returns 0, or how many files were left out (> 0, *err names the
 * first, and b->config_problem says so for STATUS=). On failure (broker.conf, TLS, memory)
 * nothing changes, *err says file:line: what, and -EBADMSG (or -errno/-ENOMEM) is returned.
 * Logs every outcome.
 */
int mbus_broker_reload_config(struct mbus_broker *b, struct mbus_file_error *err, size_t *ret_n_policy,
                              size_t *ret_n_interfaces);

/*
 * The uid of peer id (the broker's for MBUS_BROKER_ID), for the policy's owner checks: a UNIX
 * peer's own, a network peer's by the certificate mappings of the policy in force, or -1.
 */
uid_t mbus_broker_uid_of(struct mbus_broker *b, uint64_t id);
uid_t mbus_broker_peer_uid(struct mbus_broker *b, const struct mbus_peer *peer);

/* Updates sd_notify STATUS= if it changed. */
void mbus_broker_notify_status(struct mbus_broker *b);

MBUS_DEFINE_CLEANUP(struct mbus_broker *, mbus_broker_free);
