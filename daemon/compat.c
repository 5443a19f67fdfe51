/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compat connections: a socket speaking the original mBus protocol, made a broker peer over a
 * message link (proto/message.h), the way a WebSocket connection is (listener-ws.c). This file
 * owns the socket: it reads original frames (compat-wire.c), hands their JSON to the
 * translator (compat-translate.c), which pushes mbus frames into the link, and it takes the
 * peer's frames out of the link for the translator to turn into original frames, which it
 * writes. The peer above the link is an ordinary one: routing, policy, quotas, keep-alive and
 * timeouts are the broker's, unchanged.
 *
 * Flow control: while more than COMPAT_OUT_MAX bytes wait for the socket, the connection
 * neither reads the socket nor takes frames from the link, so the rest waits in the link (64
 * KiB) and in the peer's queue, where --max-queue-bytes applies as for a slow native reader.
 *
 * The link's on_output callback only asks for EPOLLOUT: all translation happens in this
 * connection's own io callback, never inside the broker's flush of another peer.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "compat-internal.h"
#include "compat-wire.h"
#include "compat.h"
#include "creds.h"
#include "log-ids.h"
#include "log.h"
#include "options.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "util/fd-util.h"
#include "util/macro.h"

#define COMPAT_READ_CHUNK (64u * 1024u)

struct mbus_compat_hub {
        struct mbus_broker *broker;     /* borrowed */
        struct mbus_compat_conn *first; /* owned list */
};

int mbus_compat_hub_new(struct mbus_compat_hub **ret, struct mbus_broker *b) {
        struct mbus_compat_hub *hub = calloc(1, sizeof(*hub));

        if (!hub)
                return -ENOMEM;
        hub->broker = b;
        *ret = hub;
        return 0;
}

struct mbus_compat_conn *mbus_compat_hub_first(struct mbus_compat_hub *hub) {
        return hub ? hub->first : NULL;
}

struct mbus_compat_conn *mbus_compat_hub_find_peer(struct mbus_compat_hub *hub, uint64_t peer_id) {
        for (struct mbus_compat_conn *c = mbus_compat_hub_first(hub); c; c = c->next)
                if (c->peer && c->peer->id == peer_id)
                        return c;
        return NULL;
}

usec_t mbus_compat_now(const struct mbus_compat_conn *conn) {
        return conn->hub ? mbus_broker_now(conn->hub->broker) : now_usec(CLOCK_MONOTONIC);
}

uint32_t mbus_compat_random(void) {
        uint32_t v = 0;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint32_t) now_usec(CLOCK_MONOTONIC);
        return v;
}

static struct mbus_compat_conn *compat_conn_free(struct mbus_compat_conn *c) {
        if (!c)
                return NULL;
        if (c->hub) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->hub->first = c->next;
                if (c->next)
                        c->next->prev = c->prev;
        }
        if (c->link) {
                c->link->eof = true;
                c->link->on_output = NULL;
        }
        if (c->peer && c->hub) {
                /* The socket is gone: the peer reads the end of its stream and is dropped. */
                mbus_broker_condemn_peer(c->hub->broker, c->peer, -ECONNRESET);
                c->peer = NULL;
        }
        c->link = mbus_message_link_unref(c->link);
        sd_event_source_disable_unref(c->io_source);
        safe_close(c->fd);
        mbus_compat_conn_done(c);
        free(c->in);
        free(c->out);
        free(c);
        return NULL;
}

struct mbus_compat_hub *mbus_compat_hub_free(struct mbus_compat_hub *hub) {
        if (!hub)
                return NULL;
        while (hub->first)
                compat_conn_free(hub->first);
        free(hub);
        return NULL;
}

/* Output waits (in the link, or translated): the io callback will write it. */
static void compat_want_output(struct mbus_compat_conn *c) {
        if (c->io_source && !(c->io_events & EPOLLOUT) &&
            sd_event_source_set_io_events(c->io_source, c->io_events | EPOLLOUT) >= 0)
                c->io_events |= EPOLLOUT;
}

static size_t compat_out_len(const struct mbus_compat_conn *c) {
        return c->out_end - c->out_start;
}

/* Room for len more bytes at the end of conn's output, or NULL. */
static uint8_t *compat_out_reserve(struct mbus_compat_conn *conn, size_t len) {
        size_t used = compat_out_len(conn);

        if (conn->out_start > 0) {
                memmove(conn->out, conn->out + conn->out_start, used);
                conn->out_start = 0;
                conn->out_end = used;
        }
        if (conn->out_cap - used < len) {
                size_t want = MAX(used + len, conn->out_cap * 2);
                uint8_t *p = realloc(conn->out, want);

                if (!p)
                        return NULL;
                conn->out = p;
                conn->out_cap = want;
        }
        return conn->out + conn->out_end;
}

int mbus_compat_conn_send_json(struct mbus_compat_conn *conn, json_object *o, bool never_zlib) {
        size_t start, json_len;
        uint32_t n;
        int r;

        if (conn->zlib && !never_zlib) {
                _cleanup_free_ uint8_t *frame = NULL;
                const char *s = json_object_to_json_string_length(
                                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &json_len);
                uint8_t *dst;
                size_t len = 0;

                if (!s)
                        return -ENOMEM;
                r = mbus_compat_wire_encode(s, json_len, true, &frame, &len);
                if (r < 0)
                        return r;
                dst = compat_out_reserve(conn, len);
                if (!dst)
                        return -ENOMEM;
                memcpy(dst, frame, len);
                conn->out_end += len;
        } else {
                /* Plain frames are written in place: the header, then the text after it. */
                if (!compat_out_reserve(conn, MBUS_COMPAT_WIRE_HEADER))
                        return -ENOMEM;
                start = conn->out_end;
                conn->out_end += MBUS_COMPAT_WIRE_HEADER;
                r = mbus_compat_wire_append_json(&conn->out, &conn->out_end, &conn->out_cap, o);
                json_len = conn->out_end - start - MBUS_COMPAT_WIRE_HEADER;
                if (r >= 0 && mbus_compat_wire_plain_size(json_len) == 0)
                        r = -EMSGSIZE;
                if (r < 0) {
                        conn->out_end = start;
                        return r;
                }
                n = htonl((uint32_t) json_len);
                memcpy(conn->out + start, &n, sizeof(n));
        }
        compat_want_output(conn);       /* a server event may be for another connection */
        return 0;
}

int mbus_compat_conn_push(struct mbus_compat_conn *conn, struct mbus_frame *frame) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = mbus_frame_size(frame);
        const char *reason = NULL;
        int r;

        /* Frames the translator builds are well-formed; one contiguous message per frame. */
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, frame->head, frame->head_len);
        if (frame->body_len > 0)
                memcpy(buf + frame->head_len, frame->body, frame->body_len);
        r = mbus_message_link_push(conn->link, buf, size, /* text= */ false, SIZE_MAX, &reason);
        if (r < 0)
                return r;
        conn->pushed = true;
        return 0;
}

/* The link has output (or the peer let go of it): ask for writability, translate there. */
static void compat_on_output(void *userdata) {
        struct mbus_compat_conn *c = userdata;

        if (c->link && c->link->stream_gone) {
                c->peer = NULL;
                c->state = COMPAT_CLOSING;
        }
        compat_want_output(c);
}

/* Drops the connection for a fault of the client's, logged once (rate-limited). */
static void compat_refuse(struct mbus_compat_conn *c, int r, const char *reason) {
        struct mbus_broker *b = c->hub->broker;

        if (mbus_ratelimit_below(&b->drop_log_ratelimit, mbus_broker_now(b)))
                (void) mbus_log(LOG_WARNING, r, MBUS_FIELDS(.msgid = MBUS_MSGID_PROTOCOL_ERROR, .peer = c->peer),
                                "Closing original mBus client %s: %s", c->identifier ?: "(before command.create)", reason);
        c->state = COMPAT_CLOSING;
        c->in_len = 0;
}

/* Reads and handles whole frames. Returns 0, or negative errno when the socket is done. */
static int compat_read(struct mbus_compat_conn *c) {
        size_t max = c->max_frame + 8;  /* the compressed form's own header */
        ssize_t n;
        int r;

        if (c->in_cap - c->in_len < COMPAT_READ_CHUNK) {
                uint8_t *p = realloc(c->in, c->in_len + COMPAT_READ_CHUNK);

                if (!p)
                        return -ENOMEM;
                c->in = p;
                c->in_cap = c->in_len + COMPAT_READ_CHUNK;
        }
        n = recv(c->fd, c->in + c->in_len, COMPAT_READ_CHUNK, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -ECONNRESET;
        c->in_len += (size_t) n;

        while (c->state != COMPAT_CLOSING && compat_out_len(c) < COMPAT_OUT_MAX) {
                _cleanup_free_ char *inflated = NULL;
                const char *reason = "malformed frame", *text;
                size_t size, len;

                r = mbus_compat_wire_peek(c->in, c->in_len, max, &size);
                if (r == -EAGAIN)
                        break;
                if (r == -EMSGSIZE) {
                        compat_refuse(c, r, "frame larger than the broker's maximum frame size");
                        break;
                }
                if (c->in_len < size)
                        break;
                len = size - MBUS_COMPAT_WIRE_HEADER;
                if (c->zlib && c->state == COMPAT_RUNNING) {
                        r = mbus_compat_wire_decode(c->in + MBUS_COMPAT_WIRE_HEADER, len, true, c->max_frame,
                                                    &inflated, &len);
                        text = inflated;
                } else {
                        /* Plain JSON is parsed where it lies (the parser takes a length): no copy. */
                        r = len > c->max_frame ? -EMSGSIZE : 0;
                        text = (const char *) c->in + MBUS_COMPAT_WIRE_HEADER;
                }
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        compat_refuse(c, r, r == -EMSGSIZE ? "frame inflates beyond the broker's maximum frame size" :
                                               "compressed frame does not inflate to its stated length");
                        break;
                }
                r = mbus_compat_from_original(c, text, len, &reason);
                /* The frame's bytes are consumed only now: text may point into them. */
                memmove(c->in, c->in + size, c->in_len - size);
                c->in_len -= size;
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        compat_refuse(c, r, reason);
                        break;
                }
        }
        if (c->in_len == 0) {
                free(c->in);
                c->in = NULL;
                c->in_cap = 0;
        }
        return 0;
}

/* Takes the peer's frames out of the link while there is room for their translation. */
static int compat_drain_link(struct mbus_compat_conn *c) {
        bool took = false;
        int r;

        while (c->link && compat_out_len(c) < COMPAT_OUT_MAX) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                _cleanup_free_ uint8_t *msg = NULL;
                size_t len;
                bool text;

                r = mbus_message_link_pop(c->link, 0, &msg, &len, &text);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                took = true;
                r = mbus_frame_parse(&f, msg, len, SIZE_MAX, NULL);
                if (r < 0)
                        return r;
                r = mbus_compat_from_native(c, f);
                if (r < 0)
                        return r;
        }
        /* Room again in the link: the stream may hold more that the link refused. */
        if (took && c->peer)
                mbus_peer_dispatch_io(c->peer, EPOLLOUT);
        return 0;
}

static int compat_write(struct mbus_compat_conn *c) {
        while (compat_out_len(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_start, compat_out_len(c), MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                c->out_start += (size_t) n;
        }
        free(c->out);
        c->out = NULL;
        c->out_start = c->out_end = c->out_cap = 0;
        return 0;
}

static void compat_update_events(struct mbus_compat_conn *c) {
        uint32_t events = 0;

        if (c->state != COMPAT_CLOSING && compat_out_len(c) < COMPAT_OUT_MAX)
                events |= EPOLLIN;
        if (compat_out_len(c) > 0 || (c->link && mbus_message_link_has_output(c->link)))
                events |= EPOLLOUT;
        if (events != c->io_events && sd_event_source_set_io_events(c->io_source, events) >= 0)
                c->io_events = events;
}

/* Frames went into the link: the peer reads them (and may be dropped: c->peer is then NULL). */
static void compat_let_peer_read(struct mbus_compat_conn *c) {
        if (c->pushed && c->peer) {
                c->pushed = false;
                mbus_peer_dispatch_io(c->peer, EPOLLIN);
        }
}

/* One round: read, translate both ways, write. Returns negative errno to close now. */
static int compat_dispatch(struct mbus_compat_conn *c, uint32_t revents) {
        int r;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                r = compat_read(c);
                if (r < 0)
                        return r;
        }
        /* What the client sent: the peer reads it now. */
        compat_let_peer_read(c);
        r = compat_drain_link(c);
        if (r < 0)
                return r;
        /* Answers the translator made itself (PONG, UnknownProcedure) while draining. */
        compat_let_peer_read(c);
        r = compat_write(c);
        if (r < 0)
                return r;
        if (c->state == COMPAT_CLOSING && compat_out_len(c) == 0)
                return -ECONNRESET;
        return 0;
}

static int compat_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct mbus_compat_conn *c = userdata;
        struct mbus_broker *b = c->hub->broker;
        int r;

        r = compat_dispatch(c, revents);
        if (r < 0)
                compat_conn_free(c);
        else
                compat_update_events(c);
        mbus_broker_dispatch_done(b);
        return 0;
}

void mbus_compat_adopt(struct mbus_compat_hub *hub, int fd, struct mbus_creds *creds) {
        struct mbus_broker *b = hub->broker;
        struct mbus_compat_conn *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return;
        }
        mbus_compat_conn_init(c, b->options->max_frame_size);
        c->hub = hub;
        c->next = hub->first;
        if (hub->first)
                hub->first->prev = c;
        hub->first = c;
        c->fd = fd;
        if (creds->remote) {
                const char *colon = strrchr(creds->remote->address, ':');

                (void) snprintf(c->address, sizeof(c->address), "%.*s",
                                (int) (colon ? colon - creds->remote->address : 0), creds->remote->address);
                c->port = colon ? atoi(colon + 1) : 0;
        }

        r = mbus_message_link_new(&c->link, /* out_max= */ 0);
        if (r >= 0) {
                c->link->on_output = compat_on_output;
                c->link->userdata = c;
                r = sd_event_add_io(b->event, &c->io_source, fd, EPOLLIN, compat_on_io, c);
        }
        if (r >= 0) {
                c->io_events = EPOLLIN;
                (void) sd_event_source_set_description(c->io_source, "compat");
                r = mbus_broker_accept_message(b, c->link, creds, &c->peer);
        }
        if (r < 0) {
                /* Refused (full, over a quota) or out of memory: broker_admit logged what matters. */
                if (r == -ENOMEM)
                        (void) mbus_log(LOG_WARNING, r, NULL, "Failed to set up an original mBus client");
                compat_conn_free(c);
        }
}
