/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A WebSocket client for tests, written from RFC 6455: ws:// on a raw socket, wss:// over OpenSSL. */

/*
 * The broker is checked against the wire rather than against libwebsockets on both ends: the
 * upgrade request, masked frames and the server's frames are all built and read here.
 * Everything blocks with a timeout of five seconds; functions return 0 (or what their comment
 * says) or a negative errno, and never abort.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8 };

/* The client's side of wss://: files of a client certificate (cert NULL: none) and the CA. */
struct ws_tls {
        const char *cert, *key, *ca;
};

struct ws_client {
        int fd;
        struct ssl_st *ssl;             /* NULL for ws:// */
        struct ssl_ctx_st *ctx;
        char tls_error[256];            /* why the TLS handshake failed, as OpenSSL says */
};

/*
 * Connects to 127.0.0.1:port (over TLS if tls is non-NULL) and sends the upgrade request for
 * path with the subprotocol mbus and the Origin header origin (NULL: none). Returns the status
 * code of the response (101: upgraded), or -EPROTO if the TLS handshake failed (tls_error says
 * why) or another negative errno. The client must be closed with ws_client_close() in any case.
 */
int ws_client_open(struct ws_client *c, unsigned port, const char *path, const char *origin,
                   const struct ws_tls *tls);
void ws_client_close(struct ws_client *c);

/* Sends one WebSocket frame with the first header byte first (FIN, opcode), masked unless told. */
int ws_client_send_frame(struct ws_client *c, uint8_t first, const void *data, size_t len, bool mask);
/* Sends one whole masked message of the given opcode. */
int ws_client_send(struct ws_client *c, int opcode, const void *data, size_t len);
/*
 * Receives one (unfragmented) message: a new NUL-terminated buffer in *ret and its length.
 * Returns its opcode, -ECONNRESET or -ETIMEDOUT.
 */
int ws_client_recv(struct ws_client *c, char **ret, size_t *ret_len);
/* Waits until the server closes the connection (a close frame, or the end); false on timeout. */
bool ws_client_closed(struct ws_client *c);

/*
 * Sends one HTTP/1.1 request with "Connection: close" to 127.0.0.1:port (body NULL: none) and
 * reads the whole response (status line, headers, body) into buf, NUL-terminated. Returns the
 * status code, or a negative errno.
 */
int http_client_request(unsigned port, const char *method, const char *path, const char *body, char *buf,
                        size_t size);
/* The body of a response read by http_client_request(): after the first empty line. */
const char *http_client_body(const char *response);
