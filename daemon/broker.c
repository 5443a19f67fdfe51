/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker owns everything: the sd-event loop reference, listeners, the peer table and the
 * three registries (namespaces, subscriptions, pending calls), two timers (the earliest call
 * deadline; the keep-alive sweep, keepalive.c), the policy and interface files (swapped by
 * reload.c) and the counters.
 *
 * Reentrancy: routing one frame can make other peers misbehave (a reply that overflows a
 * caller's queue condemns that caller). Nothing is dropped or freed in the middle of that.
 * Every callback ends in mbus_broker_dispatch_done(), which, until nothing is left:
 *   1. drops condemned peers: out of the peer table, registries released (their
 *      NamespaceOwnerChanged and PeerDisconnected events sent, calls owed by them answered
 *      OwnerDisconnected, their own calls forgotten), socket closed after one last
 *      non-blocking flush (so a ProtocolError reaches the culprit);
 *   2. flushes every peer that got output during the callback: one writev per peer, however
 *      many frames were queued for it;
 * and then frees the dropped peers. A dropped peer is out of every lookup structure at once,
 * so later frames in the same batch cannot reach it.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "broker-internal.h"
#include "activation.h"
#include "broker.h"
#include "compat.h"
#include "dispatch.h"
#include "conf/file-error.h"
#include "conf/introspection.h"
#include "conf/policy.h"
#include "driver.h"
#include "listener.h"
#include "listener-ws.h"
#include "log-ids.h"
#include "match.h"
#include "monitor.h"
#include "namespace.h"
#include "ns-stats.h"
#include "peer.h"
#include "pending.h"
#include "proto/address.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "proto/stream.h"
#include "proto/message.h"
#include "proto/tls.h"
#include "quota.h"
#include "reply.h"
#include "router.h"
#include "util/fd-util.h"
#include "user.h"
#include "util/hashmap.h"

bool mbus_broker_log_ratelimit(struct mbus_broker *b, struct mbus_ratelimit *rl, int level, int err,
                               const char *msgid, const char *what) {
        unsigned suppressed = rl->n_suppressed;

        if (!mbus_ratelimit_below(rl, mbus_broker_now(b)))
                return false;
        if (suppressed > 0) {
                rl->n_suppressed = 0;
                (void) mbus_log(level, err, MBUS_FIELDS(.msgid = msgid),
                                "%u more %s were not logged (rate limit)", suppressed, what);
        }
        return true;
}

usec_t mbus_broker_now(struct mbus_broker *b) {
        usec_t now;

        if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

/* --- timers ----------------------------------------------------------------------------------- */

static int broker_on_call_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mbus_broker *b = userdata;

        b->call_timer_armed = USEC_INFINITY;
        mbus_router_expire_calls(b, mbus_broker_now(b));
        mbus_broker_arm_call_timer(b, mbus_pending_next_deadline(b->pending));
        mbus_broker_dispatch_done(b);
        return 0;
}

void mbus_broker_arm_call_timer(struct mbus_broker *b, usec_t deadline) {
        /*
         * Only ever moved earlier here: when calls complete the timer stays where it was and
         * fires once for nothing, which is cheaper than re-arming on every reply.
         */
        if (deadline == USEC_INFINITY || deadline >= b->call_timer_armed)
                return;
        if (sd_event_source_set_time(b->call_timer, deadline) < 0 ||
            sd_event_source_set_enabled(b->call_timer, SD_EVENT_ONESHOT) < 0) {
                (void) mbus_log(LOG_ERR, -EIO, NULL, "Failed to arm the call timer");
                return;
        }
        b->call_timer_armed = deadline;
}

void mbus_broker_notify_status(struct mbus_broker *b) {
        char line[sizeof(b->status_line)];

        mbus_stats_format_status(b, line, sizeof(line));
        if (strcmp(line, b->status_line) == 0)
                return;
        memcpy(b->status_line, line, sizeof(line));
        (void) sd_notifyf(false, "STATUS=%s", line);
}

/* --- the ready list: peers with more to do than one turn allowed (peer.c) -------------------- */

static void broker_unmark_ready(struct mbus_broker *b, struct mbus_peer *peer) {
        if (!peer->ready)
                return;
        if (peer->ready_prev)
                peer->ready_prev->ready_next = peer->ready_next;
        else
                b->ready_first = peer->ready_next;
        if (peer->ready_next)
                peer->ready_next->ready_prev = peer->ready_prev;
        else
                b->ready_last = peer->ready_prev;
        peer->ready_prev = peer->ready_next = NULL;
        peer->ready = false;
        b->n_ready--;
}

void mbus_broker_mark_ready(struct mbus_broker *b, struct mbus_peer *peer) {
        if (peer->ready || peer->condemned || peer->state == MBUS_PEER_DEAD)
                return;
        peer->ready = true;
        peer->ready_prev = b->ready_last;
        if (b->ready_last)
                b->ready_last->ready_next = peer;
        else
                b->ready_first = peer;
        b->ready_last = peer;
        if (b->n_ready++ == 0)
                (void) sd_event_source_set_enabled(b->ready_source, SD_EVENT_ON);
}

void mbus_broker_ready_one(struct mbus_broker *b) {
        struct mbus_peer *p = b->ready_first;

        if (!p)
                return;
        broker_unmark_ready(b, p);
        if (b->n_ready == 0)
                (void) sd_event_source_set_enabled(b->ready_source, SD_EVENT_OFF);
        mbus_peer_resume(p);    /* may free p, drop others off the list, or list p again */
}

/* One turn per callback: sd-event looks at the sockets again before the next. */
static int broker_on_ready(sd_event_source *s, void *userdata) {
        mbus_broker_ready_one(userdata);
        return 0;
}

/* --- lifecycle -------------------------------------------------------------------------------- */

static enum mbus_policy_scope broker_scope(const struct mbus_options *c, uid_t uid) {
        if (c->scope >= 0 && c->scope < _MBUS_POLICY_SCOPE_MAX)
                return c->scope;
        return uid == 0 ? MBUS_POLICY_SCOPE_SYSTEM : MBUS_POLICY_SCOPE_USER;
}

int mbus_broker_new(struct mbus_broker **ret, sd_event *event, struct mbus_options *options) {
        _cleanup_(mbus_broker_freep) struct mbus_broker *b = NULL;
        int r;

        assert(ret && event && options);

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(event);
        b->options = options;
        b->next_peer_id = 1;
        b->call_timer_armed = USEC_INFINITY;
        b->drop_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 5);
        b->denied_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 10);
        b->protocol_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 10);
        b->disconnect_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 10);
        b->tls_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 10);
        b->quota_log_ratelimit = MBUS_RATELIMIT_INIT(5 * USEC_PER_SEC, 10);
        b->uid = geteuid();

        /* Empty until mbus_broker_reload_config(): the scope's defaults decide everything. */
        r = mbus_policy_new(&b->policy, broker_scope(options, b->uid), b->uid);
        if (r < 0)
                return r;
        r = mbus_introspection_new(&b->interfaces);
        if (r < 0)
                return r;

        r = mbus_dispatch_new(&b->dispatch, event);
        if (r < 0)
                return r;
        r = mbus_hashmap_new(&b->peers, &mbus_uint64_hash_ops);
        if (r < 0)
                return r;
        r = mbus_namespace_registry_new(&b->namespaces);
        if (r < 0)
                return r;
        r = mbus_match_index_new(&b->matches);
        if (r < 0)
                return r;
        r = mbus_pending_table_new(&b->pending);
        if (r < 0)
                return r;
        r = mbus_ns_stats_new(&b->ns_stats);
        if (r < 0)
                return r;
        r = mbus_activation_table_new(&b->activation, b);
        if (r < 0)
                return r;
        r = mbus_user_registry_new(&b->users, b->uid);
        if (r < 0)
                return r;
        r = mbus_driver_init(b);
        if (r < 0)
                return r;

        r = sd_event_add_time(event, &b->call_timer, CLOCK_MONOTONIC, USEC_INFINITY,
                              BROKER_TIMER_ACCURACY_USEC, broker_on_call_timer, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->call_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->call_timer, "call-deadlines");

        r = mbus_broker_add_keepalive_timer(b);
        if (r < 0)
                return r;

        b->read_scratch = malloc(MBUS_STREAM_READ_SIZE);
        if (!b->read_scratch)
                return -ENOMEM;

        /*
         * Peers on the ready list get a turn when the loop is idle (this source's priority),
         * and one after each turn of another peer that its own input started (peer.c):
         * whatever a peer sends waits behind at most one budget of another's pile, never
         * behind the pile, and a pile still shrinks however busy the bus is. sd-event alone
         * would not do: it serves pending sources oldest first, and a defer source stays
         * pending from the turn it was enabled in, ahead of everything that came later.
         */
        r = sd_event_add_defer(event, &b->ready_source, broker_on_ready, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->ready_source, SD_EVENT_OFF);
        r = sd_event_source_set_priority(b->ready_source, SD_EVENT_PRIORITY_IDLE);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(b->ready_source, "peers-ready");

        *ret = TAKE_PTR(b);
        return 0;
}

static void broker_unlink_peer(struct mbus_broker *b, struct mbus_peer *peer) {
        (void) mbus_hashmap_remove(b->peers, &peer->id);
        broker_unmark_ready(b, peer);
        if (peer->prev)
                peer->prev->next = peer->next;
        else
                b->peers_first = peer->next;
        if (peer->next)
                peer->next->prev = peer->prev;
        else
                b->peers_last = peer->prev;
        peer->prev = peer->next = NULL;
        b->n_peers--;
}

static void broker_remove_subscriptions(struct mbus_broker *b, struct mbus_peer *peer) {
        size_t n = mbus_match_remove_owner(b->matches, peer->id);     /* how many it held */

        if (peer->user)
                mbus_user_uncharge(peer->user, MBUS_QUOTA_SUBSCRIPTIONS, n);
}

/* Takes peer out of everything, answering what it owed; no events, no flush: for shutdown. */
static void broker_release_peer(struct mbus_broker *b, struct mbus_peer *peer) {
        struct mbus_namespace *ns;

        broker_remove_subscriptions(b, peer);
        while ((ns = mbus_namespace_pop_owned(b->namespaces, &peer->namespaces)))
                mbus_namespace_free(ns);
        (void) mbus_pending_drop_caller(b->pending, &peer->calls_out);
        while (mbus_pending_pop_callee(b->pending, &peer->calls_in, NULL, NULL, NULL) > 0)
                ;
}

struct mbus_broker *mbus_broker_free(struct mbus_broker *b) {
        if (!b)
                return NULL;

        /* Shutdown: no events, no answers; just free. Dead peers first, then live ones. */
        while (b->dead) {
                struct mbus_peer *p = b->dead;

                b->dead = p->next;
                mbus_peer_free(p);
        }
        while (b->peers_first) {
                struct mbus_peer *p = b->peers_first;

                broker_unlink_peer(b, p);
                broker_release_peer(b, p);
                mbus_peer_free(p);
        }
        for (size_t i = 0; i < b->n_listeners; i++)
                mbus_listener_free(b->listeners[i]);
        free(b->listeners);
        mbus_ws_free(b->ws);
        mbus_compat_hub_free(b->compat);       /* after the peers: their links are let go */
        mbus_dispatch_free(b->dispatch);        /* after the peers, whose sockets it polled */

        mbus_activation_table_free(b->activation);
        sd_event_source_disable_unref(b->call_timer);
        sd_event_source_disable_unref(b->keepalive_timer);
        sd_event_source_disable_unref(b->ready_source);
        free(b->read_scratch);          /* after every peer: their streams borrow it */
        mbus_pending_table_free(b->pending);
        mbus_ns_stats_free(b->ns_stats);
        mbus_user_registry_free(b->users);
        mbus_monitor_free_all(b);
        mbus_match_index_free(b->matches);
        mbus_namespace_registry_free(b->namespaces);
        mbus_hashmap_free(b->peers);
        mbus_introspection_free(b->interfaces);
        mbus_policy_free(b->policy);
        mbus_tls_context_unref(b->tls_server);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

/* --- listening -------------------------------------------------------------------------------- */

static int broker_add_listener(struct mbus_broker *b, int fd, const struct mbus_listener_ops *ops,
                               const char *unlink_path, const char *desc) {
        struct mbus_listener **array, *l;
        size_t n;
        int r;

        if (ops->tls && !b->tls_server) {
                safe_close(fd);
                return mbus_log(LOG_ERR, -ENOKEY, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Cannot listen on %s: TLS needs --tls-cert, --tls-key and --tls-ca", desc);
        }

        if (ops->ws && !b->ws) {
                r = mbus_ws_new(&b->ws, b);
                if (r < 0) {
                        safe_close(fd);
                        return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                        "Cannot listen on %s: WebSocket setup failed", desc);
                }
        }

        if (ops->compat && !b->compat) {
                r = mbus_compat_hub_new(&b->compat, b);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }
        }

        array = realloc(b->listeners, (b->n_listeners + 1) * sizeof(*array));
        if (!array) {
                safe_close(fd);
                return -ENOMEM;
        }
        b->listeners = array;

        r = mbus_listener_new(&l, b, fd, ops, unlink_path);
        if (r < 0)
                return r;
        b->listeners[b->n_listeners++] = l;

        n = strlen(b->listen_desc);
        (void) snprintf(b->listen_desc + n, sizeof(b->listen_desc) - n, "%s%s", n > 0 ? " " : "", desc);
        return 0;
}

/* A passed socket's transport: its FileDescriptorName, or else its family (TCP: TLS). */
static const struct mbus_listener_ops *broker_passed_ops(int fd, const char *name) {
        if (name && strcmp(name, "compat+unix") == 0)
                return mbus_listener_uds_check(fd) >= 0 ? &mbus_listener_compat_uds_ops : NULL;
        if (name && strcmp(name, "compat+tcp") == 0)
                return mbus_listener_tcp_check(fd) >= 0 ? &mbus_listener_compat_tcp_ops : NULL;
        if (name && strcmp(name, "unix") == 0)
                return mbus_listener_uds_check(fd) >= 0 ? &mbus_listener_uds_ops : NULL;
        if (name && (strcmp(name, "ws") == 0 || strcmp(name, "wss") == 0)) {
                if (mbus_listener_tcp_check(fd) < 0)
                        return NULL;
                return name[2] == 's' ? &mbus_listener_wss_ops : &mbus_listener_ws_ops;
        }
        if (name && (strcmp(name, "tcp") == 0 || strcmp(name, "tls") == 0)) {
                if (mbus_listener_tcp_check(fd) < 0)
                        return NULL;
                return name[2] == 's' ? &mbus_listener_tls_ops : &mbus_listener_tcp_ops;
        }
        if (mbus_listener_uds_check(fd) >= 0)
                return &mbus_listener_uds_ops;
        if (mbus_listener_tcp_check(fd) >= 0)
                return &mbus_listener_tls_ops;
        return NULL;
}

int mbus_broker_listen_fds(struct mbus_broker *b, const int *fds, char **names, size_t n_fds) {
        int r = 0;

        for (size_t i = 0; i < n_fds; i++) {
                const char *name = names ? names[i] : NULL;
                const struct mbus_listener_ops *ops;
                char desc[64];
                int k;

                if (r < 0) {
                        safe_close(fds[i]);
                        continue;
                }
                /* systemd names a socket without FileDescriptorName= "unknown". */
                if (name && strcmp(name, "unknown") == 0)
                        name = NULL;
                ops = broker_passed_ops(fds[i], name);
                if (!ops) {
                        r = mbus_log(LOG_ERR, -EINVAL, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                     "Passed fd %i%s%s%s is not a listening socket of a transport mbus knows "
                                     "(FileDescriptorName= unix, tcp, tls, ws, wss, compat+unix or compat+tcp)", fds[i], name ? " (" : "",
                                     name ?: "", name ? ")" : "");
                        safe_close(fds[i]);
                        continue;
                }
                (void) snprintf(desc, sizeof(desc), "passed %s fd %i", ops->name, fds[i]);
                k = broker_add_listener(b, fds[i], ops, NULL, desc);
                /* A TLS socket without certificates (logged as such) costs only that socket: an
                 * enabled mbus-tls.socket must not take the local bus down with it. */
                if (k < 0 && k != -ENOKEY)
                        r = mbus_log(LOG_ERR, k, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                     "Failed to listen on passed fd %i: %s", fds[i], strerror(-k));
        }
        if (r >= 0 && b->n_listeners == 0)
                r = mbus_log(LOG_ERR, -ENOKEY, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                             "None of the passed sockets can be served");
        return r;
}

int mbus_broker_listen_address(struct mbus_broker *b, const char *address) {
        _cleanup_(mbus_address_done) struct mbus_address a = {};
        _cleanup_free_ char *def = NULL, *path = NULL;
        const struct mbus_listener_ops *ops;
        int fd, r;

        if (!address) {
                r = mbus_address_default_listen(&def);
                if (r < 0)
                        return mbus_log(LOG_ERR, r, NULL, "Failed to determine the default socket: %s",
                                        strerror(-r));
                address = def;
        }

        r = mbus_address_parse(address, &a);
        if (r < 0)
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Invalid address to listen on: %s", address);
        if (a.tls_cert || a.tls_key || a.tls_ca || a.tls_name)
                return mbus_log(LOG_ERR, -EINVAL, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "%s: the broker takes its certificates from --tls-cert, --tls-key and "
                                "--tls-ca, not from the address", address);

        switch (a.kind) {
        case MBUS_ADDRESS_UNIX:
                ops = &mbus_listener_uds_ops;
                r = mbus_listener_uds_bind(address, &fd, &path);
                break;
        case MBUS_ADDRESS_TCP:
        case MBUS_ADDRESS_TLS:
                ops = a.kind == MBUS_ADDRESS_TLS ? &mbus_listener_tls_ops : &mbus_listener_tcp_ops;
                r = mbus_listener_tcp_bind(&a, b->options->tcp_allow_remote, &fd);
                break;
        case MBUS_ADDRESS_WS:
        case MBUS_ADDRESS_WSS:
                ops = a.kind == MBUS_ADDRESS_WSS ? &mbus_listener_wss_ops : &mbus_listener_ws_ops;
                r = mbus_listener_tcp_bind(&a, b->options->tcp_allow_remote, &fd);
                break;
        case MBUS_ADDRESS_COMPAT_UNIX:
                ops = &mbus_listener_compat_uds_ops;
                r = mbus_listener_uds_bind(a.path, &fd, &path);
                break;
        case MBUS_ADDRESS_COMPAT_TCP:
                ops = &mbus_listener_compat_tcp_ops;
                r = mbus_listener_tcp_bind(&a, b->options->tcp_allow_remote, &fd);
                break;
        default:
                assert(!"unknown address kind");
                return -EINVAL;
        }
        if (r == -EADDRINUSE)
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Another broker is listening on %s", address);
        if (r == -EPERM)
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Refusing plain TCP on %s, which is not a loopback address: plain TCP "
                                "carries no identity. Use tls:// or wss://, or --tcp-allow-remote to force it", address);
        if (r < 0)
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Failed to listen on %s: %s", address, strerror(-r));

        r = broker_add_listener(b, fd, ops, path, path ?: address);
        if (r < 0) {
                if (path)
                        (void) unlink(path);
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Failed to listen on %s: %s", address, strerror(-r));
        }
        if (a.kind == MBUS_ADDRESS_TCP || a.kind == MBUS_ADDRESS_WS || a.kind == MBUS_ADDRESS_COMPAT_TCP)
                (void) mbus_log(LOG_WARNING, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_LISTEN_FAILED),
                                "Listening on plain TCP %s: its peers are identified by address only, "
                                "and nothing they send is encrypted", address);
        return 0;
}

static bool broker_has_tls_listener(const struct mbus_broker *b) {
        for (size_t i = 0; i < b->n_listeners; i++)
                if (b->listeners[i]->ops->tls)
                        return true;
        return false;
}

int mbus_broker_make_tls(struct mbus_broker *b, const struct mbus_options *o, struct mbus_tls_context **ret,
                         struct mbus_file_error *err) {
        char reason[MBUS_TLS_REASON_MAX];
        int r;

        assert(b && o && ret);

        if (!o->tls_cert && !o->tls_key && !o->tls_ca && !o->tls_crl) {
                if (broker_has_tls_listener(b))
                        return mbus_file_error_set(err, NULL, 0,
                                                   "the TLS listeners need a certificate, key and CA");
                *ret = NULL;
                return 0;
        }
        r = mbus_tls_context_new(ret,
                                 &(const struct mbus_tls_files) {
                                         .cert = o->tls_cert,
                                         .key = o->tls_key,
                                         .ca = o->tls_ca,
                                         .crl = o->tls_crl,
                                 },
                                 /* server= */ true, /* optional_client_cert= */ false, reason);
        if (r < 0)
                (void) mbus_file_error_set(err, NULL, 0, "cannot load the TLS certificates: %s", reason);
        return r;
}

int mbus_broker_load_tls(struct mbus_broker *b) {
        struct mbus_tls_context *ctx = NULL;
        struct mbus_file_error err = {};
        char text[600];
        int r;

        r = mbus_broker_make_tls(b, b->options, &ctx, &err);
        if (r < 0)
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_INVALID), "%s",
                                mbus_file_error_format(&err, text, sizeof(text)));
        mbus_tls_context_unref(b->tls_server);
        b->tls_server = ctx;
        return 0;
}

/* --- peers ------------------------------------------------------------------------------------ */

/*
 * Over --max-peers or a user's quota: one ERROR frame (LimitsExceeded, message), best effort,
 * then close. No peer object is made. A TLS peer gets no frame: it could not read one before a
 * handshake.
 */
static void broker_refuse(struct mbus_broker *b, int fd, bool tls, const char *message) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

        b->stats.peers_refused++;
        if (!tls && mbus_reply_new_error_frame(&f, /* reply_serial= */ 0, -ENOBUFS, message) >= 0) {
                struct iovec iov[2] = {
                        { .iov_base = (void *) f->head, .iov_len = f->head_len },
                        { .iov_base = (void *) f->body, .iov_len = f->body_len },
                };
                (void) writev(fd, iov, 2);
        }
        safe_close(fd);
}

static int broker_add_peer(struct mbus_broker *b, struct mbus_peer *peer);

/*
 * Whether one more connection of creds may come in: the broker-wide limit, then its user's
 * share of it and of the HELLO pool. Returns 0 and the user to charge, or -ENOBUFS with the
 * reason for the peer in msg (or another negative errno, logged).
 */
static int broker_admit(struct mbus_broker *b, const struct mbus_creds *creds, struct mbus_user **ret_user,
                        char *msg, size_t msg_size) {
        _cleanup_(mbus_user_unrefp) struct mbus_user *user = NULL;
        int r;

        r = mbus_quota_user_of(b, creds, &user);
        if (r < 0)
                return mbus_log(LOG_WARNING, r, NULL, "Failed to set up a peer: %s", strerror(-r));
        /* The broker-wide limit first: it is the one an administrator sets and looks for. */
        if (b->n_peers >= b->options->max_peers) {
                if (mbus_ratelimit_below(&b->drop_log_ratelimit, mbus_broker_now(b)))
                        (void) mbus_log(LOG_WARNING, -ENOBUFS, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_LIMIT),
                                        "Refusing a connection: %zu peers connected (limit %zu)", b->n_peers,
                                        b->options->max_peers);
                (void) snprintf(msg, msg_size, "The broker is full: %zu peers connected (limit %zu)",
                                b->n_peers, b->options->max_peers);
                return -ENOBUFS;
        }
        if (mbus_quota_check(b, user, MBUS_QUOTA_CONNECTIONS, 1, msg, msg_size) < 0 ||
            mbus_quota_check(b, user, MBUS_QUOTA_HELLO, 1, msg, msg_size) < 0)
                return -ENOBUFS;
        *ret_user = TAKE_PTR(user);
        return 0;
}

void mbus_broker_accept(struct mbus_broker *b, int fd, struct mbus_creds *creds, bool tls) {
        struct mbus_user *user = NULL;
        struct mbus_peer *peer;
        char msg[256];
        int r;

        r = broker_admit(b, creds, &user, msg, sizeof(msg));
        if (r == -ENOBUFS)
                return broker_refuse(b, fd, tls, msg);
        if (r < 0) {
                safe_close(fd);
                return;
        }

        r = mbus_peer_new(&peer, b, fd, creds);
        if (r < 0) {
                (void) mbus_log(LOG_WARNING, r, NULL, "Failed to set up a peer: %s", strerror(-r));
                mbus_user_unref(user);
                safe_close(fd);
                return;
        }
        mbus_quota_attach(peer, user);
        if (tls)
                r = mbus_peer_start_tls(peer, b->tls_server);
        if (r >= 0)
                r = broker_add_peer(b, peer);
        if (r < 0) {
                (void) mbus_log(LOG_WARNING, r, NULL, "Failed to set up a peer: %s", strerror(-r));
                mbus_peer_free(peer);
        }
}

int mbus_broker_accept_message(struct mbus_broker *b, struct mbus_message_link *link, struct mbus_creds *creds,
                               struct mbus_peer **ret) {
        struct mbus_user *user = NULL;
        struct mbus_peer *peer;
        char msg[256];
        int r;

        /* No socket of its own to write an ERROR to: the caller closes the connection. */
        r = broker_admit(b, creds, &user, msg, sizeof(msg));
        if (r == -ENOBUFS)
                b->stats.peers_refused++;
        if (r < 0)
                return r;
        r = mbus_peer_new(&peer, b, -EBADF, creds);
        if (r < 0) {
                mbus_user_unref(user);
                return r;
        }
        mbus_quota_attach(peer, user);
        mbus_transport_done(&peer->stream.transport);
        mbus_transport_init_message(&peer->stream.transport, link);
        r = broker_add_peer(b, peer);
        if (r < 0) {
                mbus_peer_free(peer);
                return r;
        }
        *ret = peer;
        return 0;
}

static int broker_add_peer(struct mbus_broker *b, struct mbus_peer *peer) {
        int r;

        r = mbus_hashmap_put(b->peers, &peer->id, peer);
        if (r < 0)
                return r;
        peer->prev = b->peers_last;
        if (b->peers_last)
                b->peers_last->next = peer;
        else
                b->peers_first = peer;
        b->peers_last = peer;
        b->n_peers++;
        b->stats.peers_accepted++;
        return 0;
}

struct mbus_peer *mbus_broker_find_peer(struct mbus_broker *b, uint64_t id) {
        return mbus_hashmap_get(b->peers, &id);
}

uid_t mbus_broker_peer_uid(struct mbus_broker *b, const struct mbus_peer *peer) {
        const struct mbus_policy_map *map;
        struct mbus_identity who;

        if (!peer->creds.remote)
                return peer->creds.uid;
        /* A network peer has the uid a certificate mapping gives it, or none. */
        mbus_creds_to_identity(&peer->creds, &who);
        map = mbus_policy_find_map(b->policy, &who);
        return map ? map->uid : (uid_t) -1;
}

uid_t mbus_broker_uid_of(struct mbus_broker *b, uint64_t id) {
        struct mbus_peer *peer;

        if (id == MBUS_BROKER_ID)
                return b->uid;
        peer = mbus_broker_find_peer(b, id);
        return peer ? mbus_broker_peer_uid(b, peer) : (uid_t) -1;
}

void mbus_broker_condemn_peer(struct mbus_broker *b, struct mbus_peer *peer, int reason) {
        if (peer->condemned || peer->state == MBUS_PEER_DEAD)
                return;
        peer->condemned = true;
        peer->drop_reason = reason;
        peer->condemned_next = b->condemned;
        b->condemned = peer;
}

void mbus_broker_mark_dirty(struct mbus_broker *b, struct mbus_peer *peer) {
        if (peer->dirty)
                return;
        peer->dirty = true;
        peer->dirty_next = b->dirty;
        b->dirty = peer;
}

static void broker_log_drop(struct mbus_broker *b, struct mbus_peer *peer, int reason) {
        switch (reason) {
        case -ECONNRESET:
        case -EPIPE:
                (void) mbus_log(LOG_DEBUG, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_DISCONNECTED, .peer = peer),
                                "Peer :1.%" PRIu64 " (%s) disconnected", peer->id, peer->name ?: "");
                break;
        default:
                if (!mbus_broker_log_ratelimit(b, &b->disconnect_log_ratelimit, LOG_INFO, reason,
                                               MBUS_MSGID_PEER_DISCONNECTED, "peer drops"))
                        break;
                (void) mbus_log(LOG_INFO, reason, MBUS_FIELDS(.msgid = MBUS_MSGID_PEER_DISCONNECTED, .peer = peer),
                                "Dropped peer :1.%" PRIu64 " (%s): %s", peer->id, peer->name ?: "",
                                strerror(-reason));
        }
}

static void broker_drop_peer(struct mbus_broker *b, struct mbus_peer *peer) {
        struct mbus_frame *context = NULL;
        struct mbus_namespace *ns;
        uint64_t caller_id, serial;
        bool was_running = peer->state == MBUS_PEER_RUNNING;
        int reason = peer->drop_reason;

        if (!peer->handshaking)         /* a failed TLS handshake was logged as such */
                broker_log_drop(b, peer, reason);

        /* Out of every lookup first: nothing below can route to it any more. */
        broker_unlink_peer(b, peer);
        peer->state = MBUS_PEER_DEAD;

        broker_remove_subscriptions(b, peer);
        mbus_monitor_remove(b, peer->id);
        (void) mbus_pending_drop_caller(b->pending, &peer->calls_out);
        while (mbus_pending_pop_callee(b->pending, &peer->calls_in, &caller_id, &serial, &context) > 0) {
                struct mbus_peer *caller = mbus_broker_find_peer(b, caller_id);
                mbus_router_count_error(b, context);
                context = mbus_frame_unref(context);
                if (caller)
                        (void) mbus_reply_error(b, caller, serial, -ENOLINK,
                                                "The owner %s disconnected before replying",
                                                mbus_peer_id_string(peer));
        }
        while ((ns = mbus_namespace_pop_owned(b->namespaces, &peer->namespaces))) {
                mbus_driver_emit_owner_changed(b, ns->name, peer->id, /* new_owner= */ 0);
                mbus_namespace_free(ns);
        }
        if (was_running)
                mbus_driver_emit_peer_disconnected(b, peer);

        /* Last words (a ProtocolError) get one non-blocking try unless the socket is broken. */
        if (reason != -ECONNRESET && reason != -EPIPE) {
                if (mbus_stream_has_output(&peer->stream))
                        (void) mbus_peer_flush(peer);
                mbus_transport_shutdown(&peer->stream.transport);
        }
        mbus_peer_disconnect(peer);

        peer->next = b->dead;
        b->dead = peer;
}

void mbus_broker_dispatch_done(struct mbus_broker *b) {
        for (;;) {
                while (b->condemned) {
                        struct mbus_peer *p = b->condemned;

                        b->condemned = p->condemned_next;
                        p->condemned_next = NULL;
                        broker_drop_peer(b, p);
                }
                if (!b->dirty)
                        break;
                while (b->dirty) {
                        struct mbus_peer *p = b->dirty;
                        int r;

                        b->dirty = p->dirty_next;
                        p->dirty_next = NULL;
                        p->dirty = false;
                        if (p->condemned || p->state == MBUS_PEER_DEAD)
                                continue;
                        r = mbus_peer_flush(p);
                        if (r < 0)
                                mbus_broker_condemn_peer(b, p, r);
                }
        }

        while (b->dead) {
                struct mbus_peer *p = b->dead;

                b->dead = p->next;
                mbus_peer_free(p);
        }
}
