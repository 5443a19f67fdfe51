/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Bus addresses: strings naming where a broker listens, and the default socket paths. */

/*
 * Forms accepted (mbus-protocol(7), ADDRESSES):
 *   /run/mbus/socket           a plain absolute path: a UNIX stream socket
 *   unix:/run/mbus/socket      the same, spelled out
 *   unix:path=/run/mbus/socket the same, D-Bus style
 *   tcp://HOST:PORT            plain TCP: HOST a name, an IPv4 literal or [an IPv6 literal]
 *   tls://HOST[:PORT][?k=v&...] TLS over TCP, port MBUS_TLS_PORT_DEFAULT unless given; the
 *                              client's parameters: cert=, key=, ca= (files) and name= (the name
 *                              the server's certificate must carry; HOST by default)
 *   ws://HOST:PORT             WebSocket (endpoint /v1/ws, subprotocol mbus), for the broker
 *   wss://HOST:PORT            to listen on; libmbus clients do not connect to them
 *   compat+unix:PATH[:PORT]    the original mBus protocol (daemon/compat.c), listen only: the
 *                              socket is bound at PATH:PORT (PORT 0 if not given), where the
 *                              original client connects (it appends ":PORT" to its path)
 *   compat+tcp://HOST:PORT     the original mBus protocol over plain TCP, listen only
 * A new transport adds a form here, not in its callers.
 */

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MBUS_ADDRESS_SYSTEM "/run/mbus/socket"
#define MBUS_TLS_PORT_DEFAULT "7390"

enum mbus_address_kind {
        MBUS_ADDRESS_UNIX,
        MBUS_ADDRESS_TCP,
        MBUS_ADDRESS_TLS,
        MBUS_ADDRESS_WS,                /* listen only: WebSocket, broker side (listener-ws.c) */
        MBUS_ADDRESS_WSS,               /* listen only: WebSocket over TLS */
        MBUS_ADDRESS_COMPAT_UNIX,       /* listen only: original mBus protocol, UNIX socket (path) */
        MBUS_ADDRESS_COMPAT_TCP,        /* listen only: original mBus protocol, plain TCP */
        _MBUS_ADDRESS_KIND_MAX,
        _MBUS_ADDRESS_KIND_INVALID = -EINVAL,
};

struct mbus_address {
        enum mbus_address_kind kind;
        char *path;                     /* UNIX, COMPAT_UNIX (with its ":PORT") */
        char *host;                     /* TCP, TLS, WS, COMPAT_TCP: a name or a literal, IPv6 without brackets */
        char *port;                     /* TCP, TLS: decimal */
        char *tls_cert, *tls_key, *tls_ca, *tls_name;   /* TLS parameters, NULL if not given */
};

/*
 * Parses an address string. Returns 0, -EINVAL if it is not a valid address (a relative path,
 * a missing host or port, a port out of range, an unknown parameter), -EPROTONOSUPPORT for a
 * scheme mbus does not know, -ENAMETOOLONG for a path longer than a UNIX socket takes, -ENOMEM.
 */
int mbus_address_parse(const char *s, struct mbus_address *ret);
void mbus_address_done(struct mbus_address *a);

/* "unix", "tcp", "tls", "ws", "wss", "compat+unix", "compat+tcp". */
const char *mbus_address_kind_to_string(enum mbus_address_kind k);

/*
 * Connects to a UNIX, TCP or TLS address (TCP only: the TLS handshake is the caller's), trying
 * each address a host name resolves to. Blocks until connected. Returns 0 and a non-blocking,
 * close-on-exec socket, -EHOSTUNREACH if the name does not resolve, or the errno of the last
 * failed connect.
 */
int mbus_address_connect(const struct mbus_address *a, int *ret_fd);

/* "127.0.0.1:7390", "[::1]:7390" or the path, into buf. Returns buf. */
const char *mbus_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
#define MBUS_SOCKADDR_FORMAT_MAX (INET6_ADDRSTRLEN + 8)

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool mbus_sockaddr_is_loopback(const struct sockaddr *sa);

/*
 * The system bus: $MBUS_SYSTEM_ADDRESS if set and not empty, else /run/mbus/socket.
 * Returns 0 and a newly allocated string in *ret, or -ENOMEM.
 */
int mbus_address_system(char **ret);

/* The user bus: $XDG_RUNTIME_DIR/mbus/socket, or /run/user/UID/mbus/socket without it. */
int mbus_address_user(char **ret);

/*
 * Whether this process runs in a user session: $XDG_RUNTIME_DIR is an absolute path to a
 * directory owned by our effective uid, and the user bus socket exists in it.
 */
bool mbus_address_in_user_session(void);

/*
 * The default address for a client, as mbus_conn_open(NULL) chooses it: $MBUS_ADDRESS if set
 * and not empty; else the user bus when in a user session (mbus_address_in_user_session());
 * else the system bus (mbus_address_system()). Returns 0 and a newly allocated string in *ret,
 * or -ENOMEM. The broker does not look at any of this (mbus_address_default_listen()).
 */
int mbus_address_default(char **ret);

/* The default address the broker listens on: /run/mbus/socket for root, else the user bus. */
int mbus_address_default_listen(char **ret);

/*
 * Parses address into a sockaddr for connect()/bind(). Returns 0, -EINVAL if address is not
 * a valid address, -ENAMETOOLONG if the path does not fit sun_path, -EPROTONOSUPPORT for a
 * transport this build does not know.
 */
int mbus_address_to_sockaddr(const char *address, struct sockaddr_un *ret, socklen_t *ret_len);
