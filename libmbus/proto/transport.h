/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The connection under a frame stream: how bytes move, whatever the socket carries. */

/*
 * A stream (proto/stream.h) never touches its socket itself: it reads, writes and asks which
 * poll events it needs through its transport. A plain socket (UNIX or TCP) reads and writes
 * directly; TLS (proto/tls.h) runs a handshake first and may need to read in order to write
 * and the reverse, so the owner of a stream never decides EPOLLOUT by itself but asks
 * mbus_transport_events(). The transport is embedded in the stream: an idle UNIX peer pays
 * two pointers for it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct mbus_message_link;
struct mbus_tls;
struct mbus_transport;

struct mbus_transport_ops {
        const char *name;               /* "socket", "tls", "message" */
        /* Reads up to size bytes. Returns > 0, 0 at the end of the stream, -EAGAIN, or -errno. */
        ssize_t (*read)(struct mbus_transport *t, void *buf, size_t size);
        /* Writes what it can of iov. Returns the bytes written (> 0), -EAGAIN, or -errno. */
        ssize_t (*writev)(struct mbus_transport *t, const struct iovec *iov, size_t n_iov);
        /* EPOLLIN/EPOLLOUT to wait for now, given whether output is queued. */
        uint32_t (*events)(const struct mbus_transport *t, bool have_output);
        /* One handshake step: 0 done, -EAGAIN wait for events(), or -errno (a failed handshake). */
        int (*handshake)(struct mbus_transport *t);
        /* True if input is buffered in user space, where poll cannot see it. */
        bool (*pending)(const struct mbus_transport *t);
        /* Says goodbye at the transport's level (TLS close_notify), one non-blocking try. */
        void (*shutdown)(struct mbus_transport *t);
        /* Frees what the transport owns; never closes the fd. */
        void (*done)(struct mbus_transport *t);
};

struct mbus_transport {
        const struct mbus_transport_ops *ops;
        int fd;                         /* borrowed: the owner of the stream closes it */
        struct mbus_tls *tls;           /* owned by the TLS ops; NULL on a plain socket */
        struct mbus_message_link *link; /* a reference, for a message transport (proto/message.h) */
};

extern const struct mbus_transport_ops mbus_transport_socket_ops;

/* A plain socket (or any fd: a pipe in tests) without a handshake. */
static inline void mbus_transport_init_socket(struct mbus_transport *t, int fd) {
        *t = (struct mbus_transport) { .ops = &mbus_transport_socket_ops, .fd = fd };
}

static inline void mbus_transport_done(struct mbus_transport *t) {
        if (t->ops && t->ops->done)
                t->ops->done(t);
        mbus_transport_init_socket(t, t->fd);
}

static inline uint32_t mbus_transport_events(const struct mbus_transport *t, bool have_output) {
        return t->ops->events(t, have_output);
}

static inline int mbus_transport_handshake(struct mbus_transport *t) {
        return t->ops->handshake ? t->ops->handshake(t) : 0;
}

static inline bool mbus_transport_pending(const struct mbus_transport *t) {
        return t->ops->pending && t->ops->pending(t);
}

/* Before closing a connection that is not broken: one non-blocking try, no wait for an answer. */
static inline void mbus_transport_shutdown(struct mbus_transport *t) {
        if (t->ops->shutdown)
                t->ops->shutdown(t);
}

static inline const char *mbus_transport_name(const struct mbus_transport *t) {
        return t->ops->name;
}
