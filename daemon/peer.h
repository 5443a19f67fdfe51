/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* One connected client: its socket stream, credentials, quotas, keep-alive state. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "creds.h"
#include "namespace.h"
#include "pending.h"
#include "proto/names.h"
#include "proto/stream.h"
#include "util/macro.h"
#include "util/time-util.h"

struct mbus_broker;
struct mbus_frame;
struct mbus_tls_context;

enum mbus_peer_state {
        MBUS_PEER_HANDSHAKE,            /* connected, waiting for HELLO */
        MBUS_PEER_RUNNING,              /* welcomed */
        MBUS_PEER_DEAD,                 /* dropped: out of every registry, freed at a safe point */
        _MBUS_PEER_STATE_MAX,
};

/* How a frame is queued when the peer's outgoing queue is over --max-queue-bytes. */
enum mbus_queue_class {
        MBUS_QUEUE_EVENT,               /* not queued, counted in events_dropped */
        MBUS_QUEUE_CALL,                /* refused: the router answers LimitsExceeded */
        MBUS_QUEUE_REPLY,               /* queued up to 2x the limit; beyond, the peer is dropped */
        _MBUS_QUEUE_CLASS_MAX,
};

/*
 * Kept small on purpose: an idle peer is this struct and its socket (in the broker's one
 * epoll set, dispatch.h); the stream's buffers are allocated only while bytes are in flight
 * (target: a few hundred bytes of heap per idle peer). There are no per-peer timers: the broker's one keep-alive sweep
 * (keepalive.c) reads last_rx/ping_sent.
 */
struct mbus_peer {
        struct mbus_broker *broker;     /* borrowed: the broker outlives every peer */
        uint64_t id;                    /* key in broker->peers */
        char id_string[MBUS_PEER_ID_MAX];       /* ":1.<id>", as on the wire: formatted once, as
                                                   every forwarded frame carries it */
        int fd;                         /* owned */
        uint8_t state;                  /* enum mbus_peer_state */
        uint8_t n_missed_pings;
        bool dirty:1;                   /* on broker->dirty: flush at the end of the dispatch */
        bool condemned:1;               /* on broker->condemned: drop at the end of the dispatch */
        bool handshaking:1;             /* its transport's handshake (TLS) is not done yet */
        bool ready:1;                   /* on broker->ready_first: has more to do than its last
                                           turn allowed (whole frames kept, or input in the socket) */
        bool readable:1;                /* its edge-triggered socket was not read dry since the last
                                           wake-up: epoll will not report it again before then */
        bool hung_up:1;                 /* epoll reported a hang-up: read until end of file */
        bool wants_caller:1;            /* asked for feature "caller" in HELLO: forwarded CALLs
                                           carry the caller_* fields (older clients refuse them) */
        uint8_t io_events;              /* EPOLLIN/EPOLLOUT requested now, as the transport asked */
        int drop_reason;                /* negative errno, set when condemned */
        uint64_t dispatch_handle;       /* its socket in the broker's epoll set (dispatch.h); 0:
                                           none (a message transport, a busy peer), or dropped */
        sd_event_source *io_source;     /* owned: a busy peer's socket as an sd-event source of its
                                           own (peer.c), NULL while it is in the broker's set */
        uint8_t n_solo_wakeups;         /* wake-ups in a row in which its socket was the only one */
        char *name;                     /* from HELLO, owned; NULL before */
        char *disconnect_reason;        /* owned: why an administrator disconnected it (DisconnectPeer) */
        char *caller_groups;            /* creds' groups for the caller_groups field, owned; made
                                           once at HELLO so a forwarded CALL only copies it */

        usec_t connected_realtime;      /* CLOCK_REALTIME, for GetPeer */
        usec_t last_rx;                 /* CLOCK_MONOTONIC of the last whole frame received
                                           (connect time until HELLO) */
        usec_t ping_sent;               /* CLOCK_MONOTONIC of our unanswered PING, 0: none */
        usec_t frame_started;           /* CLOCK_MONOTONIC when the first bytes of a frame not yet
                                           complete arrived, 0: none buffered */

        struct mbus_peer *prev, *next;  /* broker->peers list, or broker->dead once dropped */
        struct mbus_peer *dirty_next;   /* broker->dirty */
        struct mbus_peer *condemned_next;
        struct mbus_peer *ready_prev, *ready_next;      /* broker->ready_first */

        struct mbus_user *user;         /* a reference: whose quotas this peer uses (quota.c) */
        size_t queue_charged;           /* bytes of its queue charged to user */
        size_t input_charged;           /* bytes of its input buffer charged to user, as queued bytes */
        uint64_t n_events_dropped;      /* events not queued to it for a full queue (an SSE reader
                                           is told how many, listener-sse.c) */
        bool hello_charged;             /* holds one of user's HELLO slots */

        struct mbus_creds creds;
        struct mbus_stream stream;
        struct mbus_namespace_list namespaces;     /* namespaces it owns */
        struct mbus_pending_list calls_out;        /* calls it made, awaiting replies */
        struct mbus_pending_list calls_in;         /* calls forwarded to it, to be answered */
};

/* Lifecycle. Takes over creds (moved) on success; the caller keeps fd on failure. */
/*
 * Until WELCOME a peer is unauthenticated: its input limit is this, not --max-frame-size, so a
 * stranger cannot make the broker buffer and parse megabytes of HELLO.
 */
#define MBUS_PEER_HANDSHAKE_FRAME_MAX 4096u

/*
 * fd < 0 makes a peer without a socket of its own: its owner puts a message transport
 * (proto/message.h) into peer->stream and calls mbus_peer_dispatch_io() when input arrived or
 * output may leave again.
 */
int mbus_peer_new(struct mbus_peer **ret, struct mbus_broker *broker, int fd, struct mbus_creds *creds);
struct mbus_peer *mbus_peer_free(struct mbus_peer *peer);

/* Operations. */

/*
 * Queues frame (a new reference) per class, marking the peer for the end-of-dispatch flush.
 * Returns 0 if queued, -ENOBUFS if refused (EVENT: dropped and counted; CALL: the caller is
 * to be answered LimitsExceeded; REPLY beyond 2x: the peer is condemned), -ENOMEM. Frames for
 * a condemned or dead peer are discarded and 0 is returned: its drop answers its calls.
 */
int mbus_peer_queue(struct mbus_peer *peer, struct mbus_frame *frame, enum mbus_queue_class class);

/*
 * Writes what is queued (one writev per call) and requests the poll events the transport
 * needs now (EPOLLOUT while output remains). Returns 0, or a negative errno if the
 * connection is broken.
 */
int mbus_peer_flush(struct mbus_peer *peer);

/*
 * What the peer's io callback does on revents: reads and routes (EPOLLIN), marks it for the
 * flush (EPOLLOUT), condemns it on error, then mbus_broker_dispatch_done(): the peer may be
 * freed on return.
 */
void mbus_peer_dispatch_io(struct mbus_peer *peer, uint32_t revents);

/*
 * The peer's next turn, as the broker's ready list gives it (mbus_broker_mark_ready()): routes
 * the frames it kept and reads on, within a new budget of work, condemns it on error, then
 * mbus_broker_dispatch_done(): the peer may be freed on return.
 */
void mbus_peer_resume(struct mbus_peer *peer);

/* Logs (rate-limited, MBUS_MSGID_TLS_REFUSED) that the peer's TLS handshake failed and why. */
void mbus_peer_log_handshake_failed(struct mbus_peer *peer, int r, const char *reason);
/* The same for a connection with no peer yet (peer NULL): a wss:// handshake libwebsockets runs. */
void mbus_log_tls_refused(struct mbus_broker *b, const struct mbus_peer *peer, const char *address, int r,
                          const char *reason);

/* Starts TLS on the peer's socket with the server context ctx: the handshake comes first. */
int mbus_peer_start_tls(struct mbus_peer *peer, struct mbus_tls_context *ctx);

/*
 * Stops reading and writing; used when the peer is dropped. The socket stays in the broker's
 * epoll set until mbus_peer_free() closes it, but its reports reach nobody (dispatch.h).
 */
void mbus_peer_disconnect(struct mbus_peer *peer);

/* HELLO accepted: the peer is running and takes frames up to --max-frame-size from now on. */
void mbus_peer_set_running(struct mbus_peer *peer);

/* Queries. */
static inline const char *mbus_peer_id_string(const struct mbus_peer *peer) {
        return peer->id_string;
}
static inline bool mbus_peer_is_running(const struct mbus_peer *peer) {
        return peer && peer->state == MBUS_PEER_RUNNING && !peer->condemned;
}

MBUS_DEFINE_CLEANUP(struct mbus_peer *, mbus_peer_free);
