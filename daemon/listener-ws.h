/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* WebSocket listeners (ws://, wss://): libwebsockets inside the broker's sd-event loop. */

#include <stdbool.h>

struct mbus_broker;
struct mbus_creds;
struct mbus_ws;

/*
 * The broker's one libwebsockets context, made on the first ws:// or wss:// listener. wss
 * takes the broker's --tls-cert, --tls-key, --tls-ca and --tls-crl and requires a client
 * certificate as tls:// does. Returns 0, or a negative errno (logged).
 */
int mbus_ws_new(struct mbus_ws **ret, struct mbus_broker *b);
struct mbus_ws *mbus_ws_free(struct mbus_ws *ws);

/*
 * After a reload that put new TLS files in force (reload.c): new wss connections get a TLS
 * context made from the broker's current --tls-cert, --tls-key, --tls-ca and --tls-crl;
 * connections already open keep theirs. Returns 0, or a negative errno (logged; the previous
 * certificates stay in force for new connections).
 */
int mbus_ws_reload_tls(struct mbus_ws *ws);

/*
 * Takes an accepted TCP connection (fd consumed in every case) with the credentials read at
 * accept (moved); tls: wss. libwebsockets does the HTTP upgrade (and TLS); the connection
 * becomes a peer once the upgrade to /v1/ws with the subprotocol mbus is accepted.
 */
void mbus_ws_adopt(struct mbus_ws *ws, int fd, struct mbus_creds *creds, bool tls);
