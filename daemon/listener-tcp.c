/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TCP listeners, for tcp:// and tls:// addresses: a socket we bind ourselves (the first address
 * the host resolves to that binds) or one inherited from systemd. A network peer's identity is
 * its remote address and, over TLS, its client certificate once the handshake is done; it has
 * no uid. Plain TCP carries no identity at all, so it is bound to loopback unless the
 * administrator forces otherwise.
 */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "creds.h"
#include "listener.h"
#include "proto/address.h"
#include "util/fd-util.h"
#include "util/macro.h"

static int tcp_get_creds(const char *transport, int fd, const struct sockaddr *sa, socklen_t len,
                         struct mbus_creds *ret) {
        int one = 1;

        /* Frames are whole messages: send each at once rather than wait for the next ACK. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return mbus_creds_from_address(ret, transport, sa, len);
}

static int tcp_plain_get_creds(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret) {
        return tcp_get_creds("tcp", fd, sa, len, ret);
}

static int tcp_tls_get_creds(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret) {
        return tcp_get_creds("tls", fd, sa, len, ret);
}

const struct mbus_listener_ops mbus_listener_tcp_ops = {
        .name = "tcp",
        .get_creds = tcp_plain_get_creds,
};

const struct mbus_listener_ops mbus_listener_tls_ops = {
        .name = "tls",
        .get_creds = tcp_tls_get_creds,
        .tls = true,
};

static int tcp_ws_get_creds(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret) {
        return tcp_get_creds("ws", fd, sa, len, ret);
}

static int tcp_wss_get_creds(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret) {
        return tcp_get_creds("wss", fd, sa, len, ret);
}

/* The original mBus protocol over plain TCP (compat.c): identified by address, as tcp://. */
const struct mbus_listener_ops mbus_listener_compat_tcp_ops = {
        .name = "compat+tcp",
        .get_creds = tcp_plain_get_creds,
        .compat = true,
};

const struct mbus_listener_ops mbus_listener_ws_ops = {
        .name = "ws",
        .get_creds = tcp_ws_get_creds,
        .ws = true,
};

const struct mbus_listener_ops mbus_listener_wss_ops = {
        .name = "wss",
        .get_creds = tcp_wss_get_creds,
        .tls = true,
        .ws = true,
};

int mbus_listener_tcp_bind(const struct mbus_address *a, bool allow_remote_plain, int *ret_fd) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
        int r = -EHOSTUNREACH;

        if (getaddrinfo(a->host, a->port, &hints, &ai) != 0 || !ai)
                return -EHOSTUNREACH;

        if ((a->kind == MBUS_ADDRESS_TCP || a->kind == MBUS_ADDRESS_WS || a->kind == MBUS_ADDRESS_COMPAT_TCP) &&
            !allow_remote_plain)
                for (struct addrinfo *p = ai; p; p = p->ai_next)
                        if (!mbus_sockaddr_is_loopback(p->ai_addr)) {
                                freeaddrinfo(ai);
                                return -EPERM;
                        }

        for (struct addrinfo *p = ai; p; p = p->ai_next) {
                _cleanup_close_ int fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                                p->ai_protocol);
                int one = 1;

                if (fd < 0) {
                        r = negative_errno();
                        continue;
                }
                /* A restarted broker must bind while old connections sit in TIME_WAIT. */
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, p->ai_addr, p->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                        r = negative_errno();
                        continue;
                }
                *ret_fd = TAKE_FD(fd);
                r = 0;
                break;
        }
        freeaddrinfo(ai);
        return r;
}

int mbus_listener_tcp_check(int fd) {
        struct sockaddr_storage ss = {};
        socklen_t sslen = sizeof(ss), len;
        int v = 0;

        if (getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
                return -EINVAL;
        len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM)
                return -EINVAL;
        len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
                return -EINVAL;
        return fd_nonblock(fd, true);
}
