/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Bus addresses: strings naming where a broker listens, and the default socket paths. */

/*
 * Forms accepted:
 *   /run/mbus/socket           a plain absolute path: a UNIX stream socket
 *   unix:/run/mbus/socket      the same, spelled out
 *   unix:path=/run/mbus/socket the same, D-Bus style
 * Later transports (tcp:, tls:) add forms here, not in their callers.
 */

#include <sys/socket.h>
#include <sys/un.h>

#define MBUS_ADDRESS_SYSTEM "/run/mbus/socket"

/*
 * The default address for this process: $MBUS_ADDRESS if set and not empty, else
 * /run/mbus/socket for root, else $XDG_RUNTIME_DIR/mbus/socket (or /run/user/UID/mbus/socket
 * without $XDG_RUNTIME_DIR). The broker does not look at $MBUS_ADDRESS (mbus_address_default_
 * listen()). Returns 0 and a newly allocated string in *ret, or -ENOMEM.
 */
int mbus_address_default(char **ret);

/* The default address the broker listens on: as above without $MBUS_ADDRESS. */
int mbus_address_default_listen(char **ret);

/*
 * Parses address into a sockaddr for connect()/bind(). Returns 0, -EINVAL if address is not
 * a valid address, -ENAMETOOLONG if the path does not fit sun_path, -EPROTONOSUPPORT for a
 * transport this build does not know.
 */
int mbus_address_to_sockaddr(const char *address, struct sockaddr_un *ret, socklen_t *ret_len);
