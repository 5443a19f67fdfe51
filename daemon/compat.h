/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The original mBus protocol on compat+unix: and compat+tcp:// listeners (mbus-compat(7)). */

/*
 * Each accepted connection becomes an ordinary broker peer over a message link
 * (proto/message.h); a translator (compat-translate.c) sits between the socket, which speaks
 * the original protocol, and the link, which carries mbus frames. The hub is the list of those
 * connections, kept by the broker for what only original clients have: their identifiers,
 * registered commands and subscriptions, and the server events about them.
 */

#include <stdbool.h>

#include "util/macro.h"

struct mbus_broker;
struct mbus_creds;
struct mbus_compat_hub;

int mbus_compat_hub_new(struct mbus_compat_hub **ret, struct mbus_broker *b);
/* Closes every connection still open. Takes NULL, returns NULL. */
struct mbus_compat_hub *mbus_compat_hub_free(struct mbus_compat_hub *hub);
MBUS_DEFINE_CLEANUP(struct mbus_compat_hub *, mbus_compat_hub_free);

/*
 * Takes an accepted socket (fd, always consumed) with its credentials (moved on success) and
 * makes it a compat connection and a broker peer. Logs and closes on failure.
 */
void mbus_compat_adopt(struct mbus_compat_hub *hub, int fd, struct mbus_creds *creds);
