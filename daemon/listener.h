/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A listening socket: io source, accept loop, and the transport's notion of credentials. */

#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "util/macro.h"

struct mbus_broker;
struct mbus_creds;

struct mbus_address;

/*
 * What differs between transports: AF_UNIX (listener-uds.c), TCP and TLS (listener-tcp.c).
 * The broker picks the ops by the address's scheme; nothing past the accept names a transport.
 */
struct mbus_listener_ops {
        const char *name;               /* "unix", "tcp", "tls" */
        /* Reads the credentials of an accepted connection from sa. Returns 0 or negative errno. */
        int (*get_creds)(int fd, const struct sockaddr *sa, socklen_t len, struct mbus_creds *ret);
        bool tls;                       /* the peer's stream runs TLS (the broker's server context) */
        bool ws;                        /* connections go to libwebsockets (listener-ws.c) */
        bool compat;                    /* connections speak the original mBus protocol (compat.c) */
};

struct mbus_listener {
        struct mbus_broker *broker;             /* borrowed */
        const struct mbus_listener_ops *ops;
        int fd;                                 /* owned */
        sd_event_source *io_source;             /* owned */
        sd_event_source *retry_source;          /* owned: re-enables accepting after EMFILE */
        char *unlink_path;                      /* socket we bound ourselves: unlinked at free */
};

extern const struct mbus_listener_ops mbus_listener_uds_ops;
extern const struct mbus_listener_ops mbus_listener_tcp_ops;
extern const struct mbus_listener_ops mbus_listener_tls_ops;
extern const struct mbus_listener_ops mbus_listener_ws_ops;
extern const struct mbus_listener_ops mbus_listener_wss_ops;
extern const struct mbus_listener_ops mbus_listener_compat_uds_ops;
extern const struct mbus_listener_ops mbus_listener_compat_tcp_ops;

/* Lifecycle. Takes fd (also on failure) and a copy of unlink_path (may be NULL). */
int mbus_listener_new(struct mbus_listener **ret, struct mbus_broker *b, int fd,
                      const struct mbus_listener_ops *ops, const char *unlink_path);
struct mbus_listener *mbus_listener_free(struct mbus_listener *l);

/*
 * listener-uds.c: binds a UNIX stream socket at address (a path or unix:...), creating the
 * directory (0755) and removing a stale socket; the socket is mode 0666. Returns 0 and the
 * listening fd and its path, -EADDRINUSE if a live broker answers there, or negative errno.
 */
int mbus_listener_uds_bind(const char *address, int *ret_fd, char **ret_path);

/* Checks that an inherited fd is a listening AF_UNIX stream socket. Returns 0 or -EINVAL. */
int mbus_listener_uds_check(int fd);

/*
 * listener-tcp.c: binds a TCP socket for a tcp://, tls://, ws:// or wss:// address. A plain one
 * must resolve to loopback addresses only unless allow_remote_plain. Returns 0 and the
 * listening fd, -EPERM for a plain non-loopback address, -EHOSTUNREACH if the host does not
 * resolve, -EADDRINUSE, or negative errno.
 */
int mbus_listener_tcp_bind(const struct mbus_address *a, bool allow_remote_plain, int *ret_fd);

/* Checks that an inherited fd is a listening TCP socket (IPv4 or IPv6). Returns 0 or -EINVAL. */
int mbus_listener_tcp_check(int fd);

MBUS_DEFINE_CLEANUP(struct mbus_listener *, mbus_listener_free);
