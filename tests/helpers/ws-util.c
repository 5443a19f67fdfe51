/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test WebSocket client (ws-util.h). TLS is OpenSSL on a blocking socket with receive
 * timeouts, so SSL_read() and plain read() block the same way; SSL_pending() is asked before
 * poll() because OpenSSL may hold decrypted bytes the socket no longer shows.
 */

#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/ws-util.h"

#define WS_TIMEOUT_MS 5000

static int ws_client_write(struct ws_client *c, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n;

                if (c->ssl) {
                        int k = SSL_write(c->ssl, p, (int) len);

                        if (k <= 0)
                                return -EPIPE;
                        n = k;
                } else {
                        n = send(c->fd, p, len, MSG_NOSIGNAL);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads up to len bytes once; 0 at the end of the connection. */
static ssize_t ws_client_read_some(struct ws_client *c, void *buf, size_t len) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN };

        if (!(c->ssl && SSL_pending(c->ssl) > 0) && poll(&p, 1, WS_TIMEOUT_MS) <= 0)
                return -ETIMEDOUT;
        if (c->ssl) {
                int k = SSL_read(c->ssl, buf, (int) len);

                return k > 0 ? k : 0;
        }
        return read(c->fd, buf, len);
}

static int ws_client_read_exact(struct ws_client *c, void *buf, size_t len) {
        for (size_t n = 0; n < len;) {
                ssize_t k = ws_client_read_some(c, (uint8_t *) buf + n, len - n);

                if (k == -ETIMEDOUT)
                        return -ETIMEDOUT;
                if (k <= 0)
                        return -ECONNRESET;
                n += (size_t) k;
        }
        return 0;
}

/* The TLS connection failed or was refused: remember OpenSSL's reason. Returns -EPROTO. */
static int ws_client_tls_failed(struct ws_client *c) {
        unsigned long e = ERR_peek_last_error();

        (void) snprintf(c->tls_error, sizeof(c->tls_error), "%s",
                        e ? ERR_reason_error_string(e) ?: "?" : "connection closed");
        ERR_clear_error();
        return -EPROTO;
}

static int ws_client_tls(struct ws_client *c, const struct ws_tls *tls) {
        struct timeval tv = { .tv_sec = WS_TIMEOUT_MS / 1000 };

        (void) setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        c->ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ctx)
                return -ENOMEM;
        if (SSL_CTX_load_verify_locations(c->ctx, tls->ca, NULL) != 1)
                return -EINVAL;
        if (tls->cert && (SSL_CTX_use_certificate_chain_file(c->ctx, tls->cert) != 1 ||
                          SSL_CTX_use_PrivateKey_file(c->ctx, tls->key, SSL_FILETYPE_PEM) != 1))
                return -EINVAL;
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        c->ssl = SSL_new(c->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
                return -ENOMEM;
        (void) SSL_set1_host(c->ssl, "localhost");
        if (SSL_connect(c->ssl) != 1)
                return ws_client_tls_failed(c);
        return 0;
}

int ws_client_open(struct ws_client *c, unsigned port, const char *path, const char *origin,
                   const struct ws_tls *tls) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char req[512], resp[2048];
        size_t n = 0;
        int r;

        *c = (struct ws_client) { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        if (c->fd < 0)
                return -errno;
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (tls) {
                r = ws_client_tls(c, tls);
                if (r < 0)
                        return r;
        }
        (void) snprintf(req, sizeof(req),
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: mbus\r\n%s%s%s\r\n",
                        path, port, origin ? "Origin: " : "", origin ?: "", origin ? "\r\n" : "");
        /* In TLS 1.3 the server's verdict on our certificate arrives after SSL_connect(): a
         * refused client learns it here, at its first write or read. */
        r = ws_client_write(c, req, strlen(req));
        if (r < 0)
                return c->ssl ? ws_client_tls_failed(c) : r;

        /* The response ends at an empty line; read byte by byte so no frame is swallowed. */
        while (n < sizeof(resp) - 1 && (n < 4 || memcmp(resp + n - 4, "\r\n\r\n", 4) != 0)) {
                if (ws_client_read_some(c, resp + n, 1) != 1)
                        break;
                n++;
        }
        resp[n] = 0;
        if (n == 0 && c->ssl)
                return ws_client_tls_failed(c);
        return n > 12 && strncmp(resp, "HTTP/1.1 ", 9) == 0 ? atoi(resp + 9) : -EBADMSG;
}

void ws_client_close(struct ws_client *c) {
        SSL_free(c->ssl);
        SSL_CTX_free(c->ctx);
        if (c->fd >= 0)
                close(c->fd);
        *c = (struct ws_client) { .fd = -1 };
}

int ws_client_send_frame(struct ws_client *c, uint8_t first, const void *data, size_t len, bool mask) {
        static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
        uint8_t *buf = malloc(len + 14);
        size_t h = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        buf[h++] = first;
        if (len < 126)
                buf[h++] = (uint8_t) ((mask ? 0x80 : 0) | len);
        else if (len < 65536) {
                buf[h++] = (uint8_t) ((mask ? 0x80 : 0) | 126);
                buf[h++] = (uint8_t) (len >> 8);
                buf[h++] = (uint8_t) len;
        } else {
                buf[h++] = (uint8_t) ((mask ? 0x80 : 0) | 127);
                for (int i = 7; i >= 0; i--)
                        buf[h++] = (uint8_t) (len >> (8 * i));
        }
        if (mask)
                for (size_t i = 0; i < 4; i++)
                        buf[h++] = key[i];
        for (size_t i = 0; i < len; i++)
                buf[h + i] = ((const uint8_t *) data)[i] ^ (mask ? key[i % 4] : 0);
        r = ws_client_write(c, buf, h + len);
        free(buf);
        return r;
}

int ws_client_send(struct ws_client *c, int opcode, const void *data, size_t len) {
        return ws_client_send_frame(c, (uint8_t) (0x80 | opcode), data, len, true);
}

int ws_client_recv(struct ws_client *c, char **ret, size_t *ret_len) {
        uint8_t h[2], ext[8];
        uint64_t len;
        char *data;
        int r;

        r = ws_client_read_exact(c, h, 2);
        if (r < 0)
                return r;
        len = h[1] & 0x7f;
        if (len == 126 || len == 127) {
                size_t n = len == 126 ? 2 : 8;

                r = ws_client_read_exact(c, ext, n);
                if (r < 0)
                        return r;
                len = 0;
                for (size_t i = 0; i < n; i++)
                        len = len << 8 | ext[i];
        }
        if (len > 64u * 1024 * 1024)
                return -EMSGSIZE;
        data = malloc(len + 1);
        if (!data)
                return -ENOMEM;
        r = ws_client_read_exact(c, data, len);
        if (r < 0) {
                free(data);
                return r;
        }
        data[len] = 0;
        *ret = data;
        if (ret_len)
                *ret_len = len;
        return h[0] & 0x0f;
}

bool ws_client_closed(struct ws_client *c) {
        for (;;) {
                char *m = NULL;
                int op = ws_client_recv(c, &m, NULL);

                free(m);
                if (op == -ECONNRESET || op == WS_CLOSE)
                        return true;
                if (op < 0)
                        return false;
        }
}

int http_client_request(unsigned port, const char *method, const char *path, const char *body, char *buf,
                        size_t size) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct ws_client c = { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        char head[1024];
        size_t n = 0;
        int r;

        if (c.fd < 0)
                return -errno;
        if (connect(c.fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                ws_client_close(&c);
                return r;
        }
        if (body)
                (void) snprintf(head, sizeof(head),
                                "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                method, path, port, strlen(body));
        else
                (void) snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
                                method, path, port);
        r = ws_client_write(&c, head, strlen(head));
        if (r >= 0 && body)
                r = ws_client_write(&c, body, strlen(body));
        while (r >= 0 && n + 1 < size) {
                ssize_t k = ws_client_read_some(&c, buf + n, size - 1 - n);

                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        ws_client_close(&c);
        if (r < 0)
                return r;
        return n > 12 && strncmp(buf, "HTTP/1.", 7) == 0 ? atoi(buf + 9) : -EBADMSG;
}

const char *http_client_body(const char *response) {
        const char *p = strstr(response, "\r\n\r\n");

        return p ? p + 4 : "";
}
