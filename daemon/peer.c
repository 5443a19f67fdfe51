/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer is a socket with a frame stream. Its io source is edge-triggered: epoll reports a
 * socket once per change, not again on every wait while it stays readable, so 10,000 sockets
 * hanging up together cost 10,000 reports rather than one per socket per loop iteration (a
 * level-triggered source made that teardown quadratic: sd-event dispatches one source per
 * iteration and each epoll_wait listed every hung-up socket again). The price is that a wake-up
 * must be read until the socket is drained: the io callback reads and routes up to
 * PEER_READS_PER_DISPATCH times, each read (into the broker's scratch buffer while no partial
 * frame is buffered: an idle peer holds no input memory, a busy one only a frame's start)
 * followed by every whole frame it completed going to the router; a peer with more to read after that waits on the broker's ready list
 * (mbus_broker_mark_ready()) behind the others, so a flooding peer cannot starve them. Output
 * produced meanwhile, for this peer or any other, is only queued and leaves at the end of the
 * dispatch with one writev per touched peer (mbus_broker_dispatch_done()). EPOLLOUT is
 * requested only while output stays queued.
 *
 * A peer is never freed inside its own callback: errors condemn it, and the broker drops and
 * frees it once the callback's work is done, so no code below ever holds a dangling pointer.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/tls.h"
#include "quota.h"
#include "reply.h"
#include "router.h"
#include "util/fd-util.h"

_Static_assert(MBUS_PEER_HANDSHAKE_FRAME_MAX == 4096, "the HELLO size message names the limit");

/* Reads (of up to 64 KiB each) per wake-up before a peer yields to the others. */
#define PEER_READS_PER_DISPATCH 4
/* Edge-triggered; a half-close is reported as such so that its end of file is read. */
#define PEER_EPOLL_FLAGS (EPOLLET | EPOLLRDHUP)

/* Errors of mbus_stream_read() that mean "the buffered bytes are malformed": pop() names them. */
static bool peer_is_frame_error(int r) {
        return r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT || r == -ENOBUFS;
}

/* Asks the transport which events to wait for; a syscall only when that changes. */
static int peer_update_events(struct mbus_peer *peer) {
        uint32_t events = mbus_stream_events(&peer->stream);
        int r;

        if (!peer->io_source)   /* a message transport: its owner does the socket I/O */
                return 0;
        if (events == peer->io_events)
                return 0;
        r = sd_event_source_set_io_events(peer->io_source, events | PEER_EPOLL_FLAGS);
        if (r < 0)
                return r;
        peer->io_events = (uint8_t) events;
        return 0;
}

void mbus_log_tls_refused(struct mbus_broker *b, const struct mbus_peer *peer, const char *address, int r,
                          const char *reason) {
        if (!mbus_broker_log_ratelimit(b, &b->tls_log_ratelimit, LOG_WARNING, r, MBUS_MSGID_TLS_REFUSED,
                                       "TLS refusals"))
                return;
        (void) mbus_log(LOG_WARNING, r, MBUS_FIELDS(.msgid = MBUS_MSGID_TLS_REFUSED, .peer = peer),
                        "Refused TLS connection from %s: %s", address ?: "?",
                        reason && reason[0] ? reason : strerror(-r));
}

void mbus_peer_log_handshake_failed(struct mbus_peer *peer, int r, const char *reason) {
        mbus_log_tls_refused(peer->broker, peer, peer->creds.remote ? peer->creds.remote->address : NULL, r,
                             reason);
}

/* One step of the transport's handshake; once done, the certificate becomes the identity. */
static int peer_handshake(struct mbus_peer *peer) {
        char msg[256];
        int r;

        r = mbus_transport_handshake(&peer->stream.transport);
        if (r == -EAGAIN)
                return peer_update_events(peer);
        if (r < 0) {
                if (r != -ECONNRESET)
                        mbus_peer_log_handshake_failed(peer, r, mbus_tls_reason(&peer->stream.transport));
                return r;
        }

        peer->handshaking = false;
        r = mbus_creds_read_certificate(&peer->creds, &peer->stream.transport);
        if (r < 0 && r != -ENODATA)
                return r;

        /* From now on the certificate's user pays for this connection, if it has room. */
        r = mbus_quota_rebind(peer->broker, peer, msg, sizeof(msg));
        if (r == -ENOBUFS || r == -EDQUOT) {
                r = mbus_reply_error(peer->broker, peer, /* reply_serial= */ 0, -ENOBUFS, "%s", msg);
                return r < 0 ? r : -ENOBUFS;
        }
        if (r < 0)
                return r;
        return peer_update_events(peer);
}

static int peer_read_and_route_frames(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        bool popped = false, read_some = false;
        int r;

        r = mbus_stream_read(&peer->stream);
        if (r == -EAGAIN)
                return 0;
        read_some = r > 0 || r == -ENOBUFS;     /* -ENOBUFS: not read yet, frames first */
        if (r > 0) {
                b->stats.bytes_in += (uint64_t) r;
                if (peer->frame_started == 0)
                        peer->frame_started = mbus_broker_now(b);
        } else if (!peer_is_frame_error(r))
                return r;       /* hang-up or socket error */

        /* Route every frame now buffered; a malformed one ends the peer. */
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                const char *reason = NULL;

                r = mbus_stream_pop(&peer->stream, &frame, &reason);
                if (r == 0) {
                        /* What is left (if anything) is a frame that began in this read. */
                        if (!mbus_stream_has_input(&peer->stream))
                                peer->frame_started = 0;
                        else if (popped)
                                peer->frame_started = mbus_broker_now(b);
                        return read_some;
                }
                if (r > 0) {
                        popped = true;
                        /*
                         * Only whole frames prove a welcomed peer alive, so a peer that trickles
                         * one byte now and then is not (mbus-protocol(7)). Before HELLO, last_rx
                         * stays the connect time: nothing holds a connection open without a
                         * handshake.
                         */
                        if (peer->state == MBUS_PEER_RUNNING) {
                                peer->last_rx = mbus_broker_now(b);
                                peer->ping_sent = 0;
                                peer->n_missed_pings = 0;
                        }
                }
                if (r == -EMSGSIZE && peer->state == MBUS_PEER_HANDSHAKE)
                        reason = "HELLO larger than 4096 bytes";
                if (r < 0)
                        return mbus_reply_protocol_error(b, peer, reason ?: strerror(-r));

                r = mbus_router_dispatch(b, peer, frame);
                if (r < 0)
                        return r;
                if (peer->condemned)
                        return 0;
        }
}

/*
 * One read, then every whole frame it completed to the router. The read goes into the broker's
 * scratch buffer unless a partial frame is buffered; what is left of it afterwards (the start
 * of a frame) moves to the peer's own buffer, so the scratch is free for the next peer and a
 * read of whole frames allocates nothing. Returns 1 if the socket may hold more, 0 if it had
 * nothing (-EAGAIN), or a negative errno.
 */
static int peer_read_and_route(struct mbus_peer *peer) {
        int r, k;

        r = peer_read_and_route_frames(peer);
        k = mbus_stream_own_input(&peer->stream);
        return r < 0 ? r : k < 0 ? k : r;
}

static int peer_dispatch(struct mbus_peer *peer, uint32_t revents) {
        int r;

        /* The hang-up was reported once: from now on only end of file ends the reading. */
        if (revents & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
                peer->hung_up = true;
        if (revents & EPOLLOUT)
                mbus_broker_mark_dirty(peer->broker, peer);

        if (peer->handshaking) {
                r = peer_handshake(peer);
                if (r < 0 || peer->handshaking)
                        return r;
                /* The last flight of the handshake may carry the first frames: read on. */
        } else if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !peer->stream.transport.tls)
                return 0;       /* TLS may have waited for EPOLLOUT to go on reading */

        /*
         * Until the socket is drained: the edge-triggered source reports nothing more before new
         * bytes arrive. A TLS record may be decrypted only partly into a nearly full buffer: its
         * rest is input that poll cannot report either. After a hang-up a short read is not the
         * end: the end of file that follows the last bytes will not be reported again. A peer
         * of a message transport is driven by its owner, one read per call.
         */
        for (unsigned i = 0;; i++) {
                r = peer_read_and_route(peer);
                if (r < 0 || peer->condemned)
                        return MIN(r, 0);
                if (mbus_stream_has_pending(&peer->stream))
                        continue;
                if (!peer->io_source || r == 0 || (!peer->hung_up && mbus_stream_drained(&peer->stream)))
                        return 0;
                if (i + 1 >= PEER_READS_PER_DISPATCH) {
                        mbus_broker_mark_ready(peer->broker, peer);
                        return 0;
                }
        }
}

void mbus_peer_dispatch_io(struct mbus_peer *peer, uint32_t revents) {
        struct mbus_broker *b = peer->broker;
        int r;

        r = peer_dispatch(peer, revents);
        if (r < 0)
                mbus_broker_condemn_peer(b, peer, r);
        mbus_broker_dispatch_done(b);   /* @peer may be freed here: touch nothing after */
}

static int peer_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        mbus_peer_dispatch_io(userdata, revents);
        return 0;
}

int mbus_peer_new(struct mbus_peer **ret, struct mbus_broker *broker, int fd, struct mbus_creds *creds) {
        _cleanup_(mbus_peer_freep) struct mbus_peer *peer = NULL;
        usec_t now;
        int r;

        assert(ret && broker && creds);

        peer = calloc(1, sizeof(*peer));
        if (!peer)
                return -ENOMEM;
        peer->broker = broker;
        peer->fd = -EBADF;      /* a half-built peer must free cleanly */
        peer->creds = MBUS_CREDS_NULL;
        mbus_stream_init(&peer->stream, -EBADF, MIN(broker->options->max_frame_size,
                                                    (size_t) MBUS_PEER_HANDSHAKE_FRAME_MAX));
        mbus_stream_set_scratch(&peer->stream, broker->read_scratch);

        if (fd >= 0) {
                r = sd_event_add_io(broker->event, &peer->io_source, fd, EPOLLIN | PEER_EPOLL_FLAGS, peer_on_io,
                                    peer);
                if (r < 0)
                        return r;
        }

        /* Nothing can fail from here on: the fd becomes ours. */
        peer->fd = fd;
        peer->io_events = EPOLLIN;
        mbus_transport_init_socket(&peer->stream.transport, fd);
        mbus_creds_move(&peer->creds, creds);
        peer->id = broker->next_peer_id++;
        (void) snprintf(peer->id_string, sizeof(peer->id_string), ":1.%" PRIu64, peer->id);
        now = mbus_broker_now(broker);
        peer->last_rx = now;
        if (sd_event_now(broker->event, CLOCK_REALTIME, &peer->connected_realtime) < 0)
                peer->connected_realtime = now_usec(CLOCK_REALTIME);
        *ret = TAKE_PTR(peer);
        return 0;
}

struct mbus_peer *mbus_peer_free(struct mbus_peer *peer) {
        if (!peer)
                return NULL;
        /* The broker unlinked it from every registry when it dropped it. */
        assert(!peer->namespaces.first && !peer->calls_in.first && !peer->calls_out.first);
        mbus_quota_detach(peer);
        sd_event_source_disable_unref(peer->io_source);
        mbus_stream_done(&peer->stream);
        mbus_creds_done(&peer->creds);
        safe_close(peer->fd);
        free(peer->name);
        free(peer->disconnect_reason);
        free(peer->caller_groups);
        free(peer);
        return NULL;
}

static void peer_log_event_dropped(struct mbus_peer *peer, const struct mbus_frame *frame) {
        struct mbus_broker *b = peer->broker;
        struct mbus_ratelimit *rl = &b->drop_log_ratelimit;
        unsigned suppressed = rl->n_suppressed;

        if (!mbus_ratelimit_below(rl, mbus_broker_now(b)))
                return;
        rl->n_suppressed = 0;
        (void) mbus_log(LOG_WARNING, -ENOBUFS,
                        MBUS_FIELDS(.msgid = MBUS_MSGID_EVENTS_DROPPED, .peer = peer,
                                    .ns = frame->f.namespace, .member = frame->f.member),
                        "Dropped event %s.%s for :1.%" PRIu64 ": its queue holds %zu bytes "
                        "(limit %zu); %" PRIu64 " events dropped in total%s",
                        frame->f.namespace ?: "?", frame->f.member ?: "?", peer->id,
                        mbus_stream_queued_bytes(&peer->stream), b->options->max_queue_bytes,
                        b->stats.events_dropped, suppressed > 0 ? " (some messages suppressed)" : "");
}

int mbus_peer_queue(struct mbus_peer *peer, struct mbus_frame *frame, enum mbus_queue_class class) {
        struct mbus_broker *b = peer->broker;
        size_t queued, size, max;
        bool over_budget;
        int r;

        assert(frame);

        if (peer->state == MBUS_PEER_DEAD || peer->condemned)
                return 0;

        queued = mbus_stream_queued_bytes(&peer->stream);
        size = mbus_frame_size(frame);
        max = b->options->max_queue_bytes;

        /*
         * The user's share of the broker-wide budget (--max-queue-bytes-total) binds events and
         * calls; a reply always goes (it is owed), bounded by the peer's own limit below.
         */
        over_budget = class != MBUS_QUEUE_REPLY &&
                mbus_user_check(peer->user, MBUS_QUOTA_QUEUED_BYTES, size, b->queued_bytes,
                                b->options->max_queue_bytes_total) < 0;

        /* An empty queue takes any one frame, so a frame larger than the limit still passes. */
        if (over_budget || (queued > 0 && queued + size > max))
                switch (class) {
                case MBUS_QUEUE_EVENT:
                        b->stats.events_dropped++;
                        peer_log_event_dropped(peer, frame);
                        return -ENOBUFS;
                case MBUS_QUEUE_CALL:
                        return -ENOBUFS;
                case MBUS_QUEUE_REPLY:
                        if (queued + size <= 2 * max)
                                break;
                        (void) mbus_log(LOG_WARNING, -ENOBUFS,
                                        MBUS_FIELDS(.msgid = MBUS_MSGID_QUEUE_OVERFLOW, .peer = peer),
                                        "Peer :1.%" PRIu64 " does not read its replies (%zu bytes queued, "
                                        "limit %zu): disconnecting it",
                                        peer->id, queued, max);
                        mbus_broker_condemn_peer(b, peer, -ENOBUFS);
                        return -ENOBUFS;
                default:
                        assert(!"bad queue class");
                }

        r = mbus_stream_queue(&peer->stream, frame);
        if (r < 0)
                return r;
        mbus_user_charge(peer->user, MBUS_QUOTA_QUEUED_BYTES, size);
        peer->queue_charged += size;
        b->queued_bytes += size;
        mbus_broker_mark_dirty(b, peer);
        return 0;
}

int mbus_peer_flush(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        uint64_t before = peer->stream.bytes_out;
        size_t left;
        int r;

        r = mbus_stream_flush(&peer->stream);
        b->stats.bytes_out += peer->stream.bytes_out - before;

        /* What was written is no longer the user's to pay for. */
        left = mbus_stream_queued_bytes(&peer->stream);
        if (left < peer->queue_charged) {
                mbus_user_uncharge(peer->user, MBUS_QUOTA_QUEUED_BYTES, peer->queue_charged - left);
                b->queued_bytes -= peer->queue_charged - left;
                peer->queue_charged = left;
        }
        if (r < 0)
                return r;

        return peer_update_events(peer);
}

int mbus_peer_start_tls(struct mbus_peer *peer, struct mbus_tls_context *ctx) {
        int r;

        r = mbus_transport_init_tls(&peer->stream.transport, ctx, peer->fd, /* verify_name= */ NULL);
        if (r < 0)
                return r;
        peer->handshaking = true;
        return 0;
}

void mbus_peer_set_running(struct mbus_peer *peer) {
        peer->state = MBUS_PEER_RUNNING;
        mbus_quota_welcomed(peer);
        peer->last_rx = mbus_broker_now(peer->broker);
        peer->stream.max_frame_size = peer->broker->options->max_frame_size;
}

void mbus_peer_disconnect(struct mbus_peer *peer) {
        peer->io_source = sd_event_source_disable_unref(peer->io_source);
}
