/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer is a socket with a frame stream. Its socket is in the broker's own epoll set
 * (dispatch.c: one wake-up hands over every ready socket, and a dropped peer's socket leaves
 * the set by being closed), edge-triggered: epoll reports a socket once per change, not again
 * on every wait while it stays readable, so 10,000 sockets hanging up together cost 10,000
 * reports in a few batches (a level-triggered sd-event source per peer made that teardown
 * quadratic: sd-event dispatches one source per iteration and each epoll_wait listed every
 * hung-up socket again). The price of edge triggering is that a
 * wake-up must be read until the socket is drained, and that must not let one peer hold the
 * loop: so a peer works in turns (peer_run()). A turn routes the whole frames the peer kept
 * from its last turn, then reads and routes, each read (into the broker's scratch buffer
 * while no partial frame is buffered: an idle peer holds no input memory, a busy one only what
 * it keeps) followed by every whole frame it completed going to the router, until the socket
 * is dry or the turn's budget of work (PEER_DISPATCH_WORK_MAX: frames routed and reads done)
 * is spent. A peer with more to do then (whole frames left, or a socket not drained) waits at
 * the end of the broker's ready list (mbus_broker_mark_ready()) for its next turn, behind
 * every other peer's input. Output produced meanwhile, for this peer or any other, is only
 * queued and leaves at the end of the turn with one writev per touched peer
 * (mbus_broker_dispatch_done()). EPOLLOUT is requested only while output stays queued.
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
#include "dispatch.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/tls.h"
#include "quota.h"
#include "reply.h"
#include "router.h"
#include "util/fd-util.h"

_Static_assert(MBUS_PEER_HANDSHAKE_FRAME_MAX == 4096, "the HELLO size message names the limit");

/*
 * One turn's budget of work for one peer, in frames routed (an entry of a broker list costs
 * several, driver.c): about a millisecond of routing, far more than a well-behaved peer sends
 * at once, so only a peer that piles up requests ever waits for its turn. Reads are paid from
 * the same budget, PEER_READ_WORK each, because a read of large frames costs copying but
 * routes few of them: a turn reads at most PEER_DISPATCH_WORK_MAX / PEER_READ_WORK = 4 times
 * (256 KiB) when it routes nothing, and fewer the more frames those reads bring. With a single
 * budget a peer yields at whichever comes first, so neither many small frames nor a stream of
 * large ones keeps the others waiting longer than about one turn each.
 */
#define PEER_DISPATCH_WORK_MAX 256u
#define PEER_READ_WORK (PEER_DISPATCH_WORK_MAX / 4)
_Static_assert(MBUS_STREAM_READ_SIZE == 64 * 1024, "the read share above assumes 64 KiB reads");

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

        if (events == peer->io_events)
                return 0;
        if (peer->io_source)
                r = sd_event_source_set_io_events(peer->io_source, events | PEER_EPOLL_FLAGS);
        else if (peer->dispatch_handle != 0)
                r = mbus_dispatch_mod(peer->broker->dispatch, peer->fd, events | PEER_EPOLL_FLAGS,
                                      peer->dispatch_handle);
        else    /* a message transport: its owner does the socket I/O */
                return 0;
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

/*
 * Every whole frame now buffered to the router, until the turn's budget of work is spent: the
 * rest then waits for the peer's next turn (peer_run()). Returns 0 or a negative errno.
 */
static int peer_route_buffered(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        bool popped = false;
        int r;

        /* Route every frame now buffered; a malformed one ends the peer. */
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                const char *reason = NULL;

                if (b->dispatch_work >= PEER_DISPATCH_WORK_MAX)
                        return 0;

                r = mbus_stream_pop(&peer->stream, &frame, &reason);
                if (r == 0) {
                        /* What is left (if anything) is a frame that began in this read. */
                        if (!mbus_stream_has_input(&peer->stream))
                                peer->frame_started = 0;
                        else if (popped)
                                peer->frame_started = mbus_broker_now(b);
                        return 0;
                }
                if (r > 0) {
                        popped = true;
                        b->dispatch_work++;
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

/* Books the input buffer at n bytes, in the user's and the broker's queued bytes. */
static void peer_input_charge(struct mbus_peer *peer, size_t n) {
        struct mbus_broker *b = peer->broker;

        if (!peer->user)
                return;
        if (n > peer->input_charged) {
                mbus_user_charge(peer->user, MBUS_QUOTA_QUEUED_BYTES, n - peer->input_charged);
                b->queued_bytes += n - peer->input_charged;
        } else {
                mbus_user_uncharge(peer->user, MBUS_QUOTA_QUEUED_BYTES, peer->input_charged - n);
                b->queued_bytes -= peer->input_charged - n;
        }
        peer->input_charged = n;
}

/*
 * Input memory a peer keeps is in the same budget as output (--max-queue-bytes-total, shared
 * by users as quota.c does): the buffer holding a partial frame or the whole frames left at
 * the end of a turn, and the growing buffer of a large frame. A read into the broker's scratch
 * buffer costs the peer nothing: the scratch is the broker's and is free again before the next
 * peer reads. A large frame's buffer grows only if the user's share and the broker's budget
 * have room; otherwise the frame is refused, LimitsExceeded outside any call, and the peer is
 * dropped (a stream cannot skip a frame it does not read). Returns 0, -ENOBUFS (answered) or
 * another negative errno.
 */
static int peer_input_reserve(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        size_t want = mbus_stream_read_capacity(&peer->stream);
        char msg[256];
        int r;

        if (want <= peer->input_charged)
                return 0;
        if (want > MBUS_STREAM_READ_SIZE && peer->user) {
                r = mbus_quota_check(b, peer->user, MBUS_QUOTA_QUEUED_BYTES, want - peer->input_charged, msg,
                                     sizeof(msg));
                if (r < 0) {
                        r = mbus_reply_error(b, peer, /* reply_serial= */ 0, -ENOBUFS,
                                             "Frame of %zu bytes refused: %s",
                                             mbus_stream_partial_frame_size(&peer->stream), msg);
                        return r < 0 ? r : -ENOBUFS;
                }
        }
        peer_input_charge(peer, want);
        return 0;
}

/*
 * One read, then every whole frame it completed to the router, within the turn's budget. The
 * read goes into the broker's scratch buffer unless the peer keeps input of its own; what is
 * left of the scratch afterwards (the start of a frame, or whole frames past the budget) moves
 * to the peer's own buffer, so the scratch is free for the next peer and a read of whole
 * frames allocates nothing. Clears peer->readable once the socket is known to be dry.
 * Returns 0 or a negative errno.
 */
static int peer_read_and_route(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        int r, k;

        r = peer_input_reserve(peer);
        if (r < 0)
                return r;
        r = mbus_stream_read(&peer->stream);
        b->dispatch_work += PEER_READ_WORK;
        /* After a hang-up a short read is not the end: the end of file that follows the last
         * bytes will not be reported again, so only reading it ends the reading. */
        if (r == -EAGAIN || (r > 0 && !peer->hung_up && mbus_stream_drained(&peer->stream)))
                peer->readable = false;
        if (r == -EAGAIN)
                return 0;
        if (r > 0) {
                b->stats.bytes_in += (uint64_t) r;
                if (peer->frame_started == 0)
                        peer->frame_started = mbus_broker_now(b);
        } else if (!peer_is_frame_error(r))
                return r;       /* hang-up or socket error */

        r = peer_route_buffered(peer);
        k = mbus_stream_own_input(&peer->stream);
        peer_input_charge(peer, peer->stream.in_cap);   /* what the peer keeps */
        return r < 0 ? r : k;
}

/*
 * True if a read may bring more now: the edge-triggered socket was not read dry since its
 * last wake-up, or TLS or a message link holds input that poll cannot report (a TLS record
 * decrypted only partly into a nearly full buffer, frames an owner pushed).
 */
static bool peer_may_read(const struct mbus_peer *peer) {
        return peer->readable || mbus_stream_has_pending(&peer->stream);
}

/*
 * One turn: the whole frames kept from the last turn first (they came before anything still
 * in the socket), then reads until the socket is dry, all within one budget of work. A peer
 * with more to do after that goes to the end of the ready list. Returns 0 or a negative errno.
 */
static int peer_run(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        int r;

        r = peer_route_buffered(peer);
        peer_input_charge(peer, peer->stream.in_cap);
        while (r >= 0 && !peer->condemned) {
                bool more_frames = mbus_stream_has_frame(&peer->stream);

                if (!more_frames && !peer_may_read(peer))
                        return 0;
                if (more_frames || b->dispatch_work >= PEER_DISPATCH_WORK_MAX) {
                        mbus_broker_mark_ready(b, peer);
                        return 0;
                }
                r = peer_read_and_route(peer);
        }
        return r;
}

static int peer_dispatch(struct mbus_peer *peer, uint32_t revents) {
        int r;

        /* The hang-up was reported once: from now on only end of file ends the reading. */
        if (revents & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
                peer->hung_up = true;
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
                peer->readable = true;
        if (revents & EPOLLOUT)
                mbus_broker_mark_dirty(peer->broker, peer);

        /* Waiting for its turn: what the wake-up said is noted, the turn comes in its order. */
        if (peer->ready)
                return 0;

        if (peer->handshaking) {
                r = peer_handshake(peer);
                if (r < 0 || peer->handshaking)
                        return r;
                /* The last flight of the handshake may carry the first frames: read on. */
                peer->readable = true;
        } else if (peer->stream.transport.tls)
                peer->readable = true;  /* TLS may have waited for EPOLLOUT to go on reading */

        return peer_run(peer);
}

void mbus_peer_dispatch_io(struct mbus_peer *peer, uint32_t revents) {
        struct mbus_broker *b = peer->broker;
        bool resume;
        int r;

        b->dispatch_work = 0;
        r = peer_dispatch(peer, revents);
        if (r < 0)
                mbus_broker_condemn_peer(b, peer, r);
        resume = b->ready_first && b->ready_first != peer;
        mbus_broker_dispatch_done(b);   /* @peer may be freed here: touch nothing after */

        /* A peer that waits on the ready list gets its turn too, once this one's answers are
         * out (broker.h); not for its own wake-ups, which only note what they say. */
        if (resume)
                mbus_broker_ready_one(b);
}

void mbus_peer_resume(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;
        int r;

        b->dispatch_work = 0;
        r = peer_run(peer);
        if (r < 0)
                mbus_broker_condemn_peer(b, peer, r);
        mbus_broker_dispatch_done(b);   /* @peer may be freed here: touch nothing after */
}

static int peer_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        mbus_peer_dispatch_io(userdata, revents);
        return 0;
}

/*
 * A peer whose socket wakes the broker alone, again and again (a caller or a service in a
 * conversation), costs a second epoll_wait() per wake-up in the broker's set (dispatch.c)
 * that an sd-event source of its own does not: after PEER_SOLO_WAKEUPS such wake-ups in a row
 * it gets one, for good. Crowds (connect bursts, mass hang-ups) come in batches and stay in
 * the set. Best effort: on failure the peer stays where it is.
 */
#define PEER_SOLO_WAKEUPS 4

static void peer_take_own_source(struct mbus_peer *peer) {
        struct mbus_broker *b = peer->broker;

        if (sd_event_add_io(b->event, &peer->io_source, peer->fd, peer->io_events | PEER_EPOLL_FLAGS, peer_on_io,
                            peer) < 0)
                return;
        (void) sd_event_source_set_description(peer->io_source, "peer-io");
        /* Edge-triggered in both: this wake-up handles what the set reported, the new source
         * reports what comes next. Should the removal fail, the set's reports for the socket
         * reach nobody (the handle is forgotten all the same) and the source serves the peer. */
        (void) mbus_dispatch_remove(b->dispatch, peer->fd, peer->dispatch_handle);
        peer->dispatch_handle = 0;
}

static void peer_on_socket(void *userdata, uint32_t revents) {
        struct mbus_peer *peer = userdata;

        if (mbus_dispatch_batch_size(peer->broker->dispatch) > 1)
                peer->n_solo_wakeups = 0;
        else if (++peer->n_solo_wakeups >= PEER_SOLO_WAKEUPS)
                peer_take_own_source(peer);
        mbus_peer_dispatch_io(peer, revents);
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
                r = mbus_dispatch_add(broker->dispatch, fd, EPOLLIN | PEER_EPOLL_FLAGS, peer_on_socket, peer,
                                      &peer->dispatch_handle);
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
        /* Forgotten before the close: a report for the socket must not reach a freed peer. */
        peer->dispatch_handle = mbus_dispatch_forget(peer->broker->dispatch, peer->dispatch_handle);
        sd_event_source_disable_unref(peer->io_source);
        mbus_stream_done(&peer->stream);
        mbus_creds_done(&peer->creds);
        safe_close(peer->fd);   /* takes it out of the broker's epoll set too (dispatch.h) */
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
                        peer->n_events_dropped++;
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
        /* No EPOLL_CTL_DEL: the socket leaves the set when the peer is freed and closes it, at
         * the end of this dispatch; its reports until then reach nobody. */
        peer->dispatch_handle = mbus_dispatch_forget(peer->broker->dispatch, peer->dispatch_handle);
        peer->io_source = sd_event_source_disable_unref(peer->io_source);
}
