/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plain-socket transport: recv() and sendmsg() on a non-blocking socket. sendmsg() with
 * MSG_NOSIGNAL rather than writev(): a peer that hung up must give us -EPIPE, not SIGPIPE.
 * A descriptor that is not a socket (a pipe in tests) falls back to read()/writev().
 */

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/transport.h"

static ssize_t socket_read(struct mbus_transport *t, void *buf, size_t size) {
        ssize_t n;

        for (;;) {
                n = recv(t->fd, buf, size, MSG_DONTWAIT);
                if (n < 0 && errno == ENOTSOCK)
                        n = read(t->fd, buf, size);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
}

static ssize_t socket_writev(struct mbus_transport *t, const struct iovec *iov, size_t n_iov) {
        ssize_t n;

        for (;;) {
                struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n_iov };

                n = sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == ENOTSOCK)
                        n = writev(t->fd, iov, (int) n_iov);
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
}

static uint32_t socket_events(const struct mbus_transport *t, bool have_output) {
        return EPOLLIN | (have_output ? EPOLLOUT : 0);
}

const struct mbus_transport_ops mbus_transport_socket_ops = {
        .name = "socket",
        .read = socket_read,
        .writev = socket_writev,
        .events = socket_events,
};
