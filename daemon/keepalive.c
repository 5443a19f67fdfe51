/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keep-alive: one sweep over all peers instead of a timer each, so that ten thousand idle
 * peers cost one timer and one pass, not ten thousand sources to re-arm on every frame. A
 * welcomed peer silent for the interval gets a PING; one that stays silent for the timeout
 * after it counts a miss and is pinged again; threshold misses in a row drop it. Any whole
 * frame from a welcomed peer resets that state (peer.c), so a busy peer is never pinged and a
 * PONG is just one kind of activity; bytes of a frame not yet complete do not count. A frame
 * that has begun to arrive must be complete within --frame-timeout plus its size at
 * --min-frame-rate, or the peer is dropped: a trickled frame cannot hold buffers for long. A
 * peer that never says HELLO is dropped --hello-timeout (or interval + timeout, if shorter)
 * after it connected, however many bytes it trickles; one whose TLS handshake is not done
 * after --handshake-timeout is dropped then, so a stalled handshake holds nothing for long.
 *
 * The sweep runs every quarter of the shortest of those times (10 ms to 5 s), so a
 * deadline is noticed at most that late; drops go through mbus_broker_condemn_peer() like any
 * other, and the sweep ends in mbus_broker_dispatch_done(). It also refreshes the sd_notify
 * STATUS= line, which has no timer of its own.
 */

#include <errno.h>
#include <inttypes.h>
#include <systemd/sd-event.h>

#include "broker-internal.h"
#include "broker.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/frame.h"

/* A PING with a fresh broker serial; REPLY class: a full queue does not swallow it silently. */
static int broker_send_ping(struct mbus_broker *b, struct mbus_peer *peer) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        int r;

        r = mbus_frame_new(&f, MBUS_FRAME_PING,
                           &(const struct mbus_frame_fields) { .serial = ++b->next_serial }, NULL, 0);
        if (r < 0)
                return r;
        return mbus_peer_queue(peer, f, MBUS_QUEUE_REPLY);
}

/* A connection without HELLO is dropped after --hello-timeout, or sooner if keep-alive would be. */
static usec_t broker_hello_timeout(const struct mbus_options *c) {
        return MIN(c->hello_timeout, usec_add(c->keepalive_interval, c->keepalive_timeout));
}

/* When the frame p has begun to send must be complete: --frame-timeout plus its size at --min-frame-rate. */
static usec_t peer_frame_deadline(const struct mbus_options *c, const struct mbus_peer *p) {
        size_t size = mbus_stream_partial_frame_size(&p->stream);
        usec_t transfer = (usec_t) ((double) size / (double) c->min_frame_rate * (double) USEC_PER_SEC);

        return usec_add(p->frame_started, usec_add(c->frame_timeout, transfer));
}

static usec_t broker_keepalive_period(const struct mbus_options *c) {
        usec_t p = MIN(MIN(MIN(c->keepalive_interval, c->keepalive_timeout), MIN(c->handshake_timeout, c->frame_timeout)),
                       broker_hello_timeout(c)) / 4;
        return MIN(MAX(p, 10 * USEC_PER_MSEC), 5 * USEC_PER_SEC);
}

static int broker_on_keepalive(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mbus_broker *b = userdata;
        const struct mbus_options *c = b->options;
        usec_t now = mbus_broker_now(b);

        for (struct mbus_peer *p = b->peers_first; p; p = p->next) {
                if (p->condemned)
                        continue;
                if (p->handshaking) {
                        if (now >= usec_add(p->last_rx, c->handshake_timeout)) {
                                mbus_peer_log_handshake_failed(p, -ETIMEDOUT, "the TLS handshake did not finish in time");
                                mbus_broker_condemn_peer(b, p, -ETIMEDOUT);
                        }
                        continue;
                }
                if (p->state == MBUS_PEER_HANDSHAKE) {
                        if (now >= usec_add(p->last_rx, broker_hello_timeout(c))) {
                                (void) mbus_log(LOG_NOTICE, -ETIMEDOUT,
                                                MBUS_FIELDS(.msgid = MBUS_MSGID_KEEPALIVE_TIMEOUT, .peer = p),
                                                "Peer :1.%" PRIu64 " sent no HELLO in time", p->id);
                                mbus_broker_condemn_peer(b, p, -ETIMEDOUT);
                        }
                        continue;
                }
                if (p->frame_started != 0 && now >= peer_frame_deadline(c, p)) {
                        (void) mbus_log(LOG_NOTICE, -ETIMEDOUT,
                                        MBUS_FIELDS(.msgid = MBUS_MSGID_KEEPALIVE_TIMEOUT, .peer = p),
                                        "Peer :1.%" PRIu64 " (%s) did not finish a frame of %zu bytes in time: "
                                        "dropping it", p->id, p->name ?: "",
                                        mbus_stream_partial_frame_size(&p->stream));
                        mbus_broker_condemn_peer(b, p, -ETIMEDOUT);
                        continue;
                }
                if (p->ping_sent != 0) {
                        if (now < usec_add(p->ping_sent, c->keepalive_timeout))
                                continue;
                        if (++p->n_missed_pings >= c->keepalive_threshold) {
                                (void) mbus_log(LOG_NOTICE, -ETIMEDOUT,
                                                MBUS_FIELDS(.msgid = MBUS_MSGID_KEEPALIVE_TIMEOUT, .peer = p),
                                                "Peer :1.%" PRIu64 " (%s) did not answer %u pings: dropping it",
                                                p->id, p->name ?: "", p->n_missed_pings);
                                mbus_broker_condemn_peer(b, p, -ETIMEDOUT);
                                continue;
                        }
                } else if (now < usec_add(p->last_rx, c->keepalive_interval))
                        continue;

                if (broker_send_ping(b, p) >= 0)
                        p->ping_sent = now;
        }

        mbus_broker_notify_status(b);
        (void) sd_event_source_set_time_relative(s, broker_keepalive_period(c));
        mbus_broker_dispatch_done(b);
        return 0;
}

int mbus_broker_add_keepalive_timer(struct mbus_broker *b) {
        int r;

        r = sd_event_add_time_relative(b->event, &b->keepalive_timer, CLOCK_MONOTONIC,
                                       broker_keepalive_period(b->options), BROKER_TIMER_ACCURACY_USEC,
                                       broker_on_keepalive, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->keepalive_timer, SD_EVENT_ON);
        (void) sd_event_source_set_description(b->keepalive_timer, "keepalive-sweep");
        return 0;
}
