/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench: the WebSocket peer of the ws scenarios (scenario-ws.c). libmbus speaks frames on
 * byte streams only, so the bench carries a small RFC 6455 client of its own: the upgrade to
 * /v1/ws with the subprotocol mbus and its key checked, masked messages out, unmasked messages
 * in, PINGs answered. Each message is one mbus frame: binary (the bytes of proto/frame.h, as
 * mbus.js and every browser page send them) or, with text, its JSON form (proto/frame-json.h),
 * as a script that does not build frames would. Both directions go through the project's own
 * encoder and parser, so a frame the bench sends or accepts is one libmbus would too.
 *
 * The connection layer is libmbus's transport (proto/transport.h): a plain TCP socket, or TLS
 * for wss:// with the same certificate checks as tls://. Input is read in large chunks into a
 * buffer and messages are cut from it, so a subscriber pays about one read per batch of
 * events, as libmbus's stream does; a run's figures then compare WebSocket with the UNIX socket
 * and not a byte-at-a-time reader with a buffered one.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "proto/address.h"
#include "proto/frame-json.h"
#include "proto/frame.h"
#include "proto/tls.h"
#include "tools/bench/bench.h"
#include "tools/bench/ws.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define WS_OP_CONTINUATION 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa
#define WS_HEADER_MAX 14                /* 2 + 8 bytes of length + 4 of mask */
#define WS_READ_CHUNK (64u * 1024u)
#define WS_UPGRADE_MAX 4096
#define WS_HANDSHAKE_TIMEOUT_USEC (30 * USEC_PER_SEC)

bool bench_address_is_ws(const char *address) {
        return address && (strncmp(address, "ws://", 5) == 0 || strncmp(address, "wss://", 6) == 0);
}

struct bench_ws *bench_ws_free(struct bench_ws *ws) {
        if (!ws)
                return NULL;
        mbus_transport_done(&ws->transport);
        ws->tls = mbus_tls_context_unref(ws->tls);
        safe_close(ws->fd);
        free(ws->in);
        free(ws->out);
        free(ws);
        return NULL;
}

static int ws_poll(struct bench_ws *ws, bool have_output, usec_t deadline) {
        struct pollfd p = { .fd = ws->fd, .events = (short) mbus_transport_events(&ws->transport, have_output) };
        usec_t n = now_usec(CLOCK_MONOTONIC);
        int r;

        if (n >= deadline)
                return -ETIMEDOUT;
        r = poll(&p, 1, deadline == USEC_INFINITY ? -1 : (int) MIN((deadline - n + 999) / 1000, (usec_t) INT_MAX));
        if (r < 0 && errno != EINTR)
                return -errno;
        return 0;
}

static int ws_write_all(struct bench_ws *ws, const void *data, size_t len, usec_t deadline) {
        size_t done = 0;

        while (done < len) {
                struct iovec iov = { .iov_base = (uint8_t *) data + done, .iov_len = len - done };
                ssize_t k = ws->transport.ops->writev(&ws->transport, &iov, 1);
                int r;

                if (k == -EAGAIN || k == -EINTR) {
                        r = ws_poll(ws, /* have_output= */ true, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return (int) k;
                done += (size_t) k;
        }
        return 0;
}

/* Reads until at least need bytes are buffered. */
static int ws_fill(struct bench_ws *ws, size_t need, usec_t deadline) {
        while (ws->in_end - ws->in_start < need) {
                ssize_t k;
                int r;

                if (ws->in_start > 0 && ws->in_size - ws->in_end < WS_READ_CHUNK) {
                        memmove(ws->in, ws->in + ws->in_start, ws->in_end - ws->in_start);
                        ws->in_end -= ws->in_start;
                        ws->in_start = 0;
                }
                if (ws->in_size - ws->in_end < MAX(need - (ws->in_end - ws->in_start), (size_t) WS_READ_CHUNK)) {
                        size_t size = ws->in_end + MAX(need, (size_t) WS_READ_CHUNK);
                        uint8_t *p = realloc(ws->in, size);

                        if (!p)
                                return -ENOMEM;
                        ws->in = p;
                        ws->in_size = size;
                }
                k = ws->transport.ops->read(&ws->transport, ws->in + ws->in_end, ws->in_size - ws->in_end);
                if (k == -EAGAIN || k == -EINTR) {
                        r = ws_poll(ws, /* have_output= */ false, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -ECONNRESET;
                ws->in_end += (size_t) k;
        }
        return 0;
}

/*
 * A client masks every message (RFC 6455 5.3). The mask only has to be unpredictable to
 * whatever sits on the path, not secret: a generator seeded from getrandom() per connection
 * keeps the syscall out of every message, as a browser's does.
 */
static uint32_t ws_mask(void) {
        static uint64_t state = 0;

        if (state == 0 && getrandom(&state, sizeof(state), 0) != sizeof(state))
                state = now_nsec();
        state |= 1;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return (uint32_t) state;
}

/* One message of opcode: the payload is a then b (either may be empty), masked. */
static int ws_send_message(struct bench_ws *ws, int opcode, const void *a, size_t a_len, const void *b, size_t b_len) {
        size_t len = a_len + b_len, n = 0;
        uint32_t m = ws_mask();
        uint8_t mask[4];
        uint8_t *buf;

        if (ws->out_size < len + WS_HEADER_MAX) {
                buf = realloc(ws->out, len + WS_HEADER_MAX);
                if (!buf)
                        return -ENOMEM;
                ws->out = buf;
                ws->out_size = len + WS_HEADER_MAX;
        }
        buf = ws->out;
        memcpy(mask, &m, sizeof(mask));
        buf[n++] = 0x80 | (uint8_t) opcode;
        if (len < 126)
                buf[n++] = 0x80 | (uint8_t) len;
        else if (len <= UINT16_MAX) {
                buf[n++] = 0x80 | 126;
                buf[n++] = (uint8_t) (len >> 8);
                buf[n++] = (uint8_t) len;
        } else {
                buf[n++] = 0x80 | 127;
                for (int i = 7; i >= 0; i--)
                        buf[n++] = (uint8_t) ((uint64_t) len >> (8 * i));
        }
        memcpy(buf + n, mask, sizeof(mask));
        n += sizeof(mask);
        for (size_t i = 0; i < a_len; i++)
                buf[n + i] = ((const uint8_t *) a)[i] ^ mask[i % 4];
        for (size_t i = 0; i < b_len; i++)
                buf[n + a_len + i] = ((const uint8_t *) b)[i] ^ mask[(a_len + i) % 4];
        return ws_write_all(ws, buf, n + len, usec_add(now_usec(CLOCK_MONOTONIC), BENCH_CALL_TIMEOUT_USEC));
}

/*
 * The next data message: *ret_data points into the input buffer until the next call. Control
 * messages are handled here. The broker sends every frame as one unfragmented message, so a
 * fragment is refused as the broker would refuse something it never sends.
 */
static int ws_recv_message(struct bench_ws *ws, usec_t deadline, int *ret_opcode, uint8_t **ret_data, size_t *ret_len) {
        for (;;) {
                uint8_t *h, *data, mask[4] = {};
                size_t hlen = 2;
                uint64_t len;
                int opcode, r;

                r = ws_fill(ws, 2, deadline);
                if (r < 0)
                        return r;
                h = ws->in + ws->in_start;
                len = h[1] & 0x7f;
                hlen += len == 126 ? 2 : len == 127 ? 8 : 0;
                hlen += h[1] & 0x80 ? 4 : 0;
                r = ws_fill(ws, hlen, deadline);
                if (r < 0)
                        return r;
                h = ws->in + ws->in_start;
                if (len >= 126) {
                        size_t k = len == 126 ? 2 : 8;

                        len = 0;
                        for (size_t i = 0; i < k; i++)
                                len = len << 8 | h[2 + i];
                }
                if (len > MBUS_FRAME_SIZE_MAX_DEFAULT || !(h[0] & 0x80) || (h[0] & 0x0f) == WS_OP_CONTINUATION)
                        return -EBADMSG;
                if (h[1] & 0x80)
                        memcpy(mask, h + hlen - 4, 4);
                r = ws_fill(ws, hlen + len, deadline);
                if (r < 0)
                        return r;
                h = ws->in + ws->in_start;
                opcode = h[0] & 0x0f;
                data = h + hlen;
                if (h[1] & 0x80)
                        for (uint64_t i = 0; i < len; i++)
                                data[i] ^= mask[i % 4];
                ws->in_start += hlen + len;
                if (ws->in_start == ws->in_end)
                        ws->in_start = ws->in_end = 0;

                switch (opcode) {
                case WS_OP_TEXT:
                case WS_OP_BINARY:
                        *ret_opcode = opcode;
                        *ret_data = data;
                        *ret_len = len;
                        return 0;
                case WS_OP_PING: {
                        /* the payload is gone from the buffer once we send: copy it (at most 125 bytes) */
                        uint8_t payload[128];

                        memcpy(payload, data, MIN(len, sizeof(payload)));
                        r = ws_send_message(ws, WS_OP_PONG, payload, MIN(len, sizeof(payload)), NULL, 0);
                        if (r < 0)
                                return r;
                        break;
                }
                case WS_OP_CLOSE:
                        return -ECONNRESET;
                default:
                        break;          /* PONG, reserved opcodes: nothing for us */
                }
        }
}

static bool frame_type_has_serial(enum mbus_frame_type type) {
        return type != MBUS_FRAME_WELCOME && type != MBUS_FRAME_RETURN && type != MBUS_FRAME_ERROR &&
               type != MBUS_FRAME_PONG;
}

int64_t bench_ws_send(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                      const char *body, size_t body_len) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
        struct mbus_frame_fields f = *fields;
        int r;

        if (f.serial == 0 && frame_type_has_serial(type))
                f.serial = ws->next_serial++;
        r = mbus_frame_new(&frame, type, &f, body, body ? body_len : 0);
        if (r < 0)
                return r;
        if (ws->text) {
                _cleanup_json_ json_object *o = NULL;
                const char *text;

                r = mbus_frame_to_json(frame, &o);
                if (r < 0)
                        return r;
                text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                r = ws_send_message(ws, WS_OP_TEXT, text, strlen(text), NULL, 0);
        } else
                r = ws_send_message(ws, WS_OP_BINARY, frame->head, frame->head_len, frame->body, frame->body_len);
        if (r < 0)
                return r;
        return (int64_t) f.serial;
}

int64_t bench_ws_send_json(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                           json_object *body) {
        const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;

        return bench_ws_send(ws, type, fields, text, text ? strlen(text) : 0);
}

int bench_ws_recv(struct bench_ws *ws, usec_t timeout, struct mbus_frame **ret) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                const char *reason = NULL;
                uint8_t *data;
                size_t len;
                int opcode, r;

                r = ws_recv_message(ws, deadline, &opcode, &data, &len);
                if (r < 0)
                        return r;
                if (opcode == WS_OP_TEXT)
                        r = mbus_frame_from_json(&frame, (const char *) data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
                else
                        r = mbus_frame_parse(&frame, data, len, MBUS_FRAME_SIZE_MAX_DEFAULT, &reason);
                if (r < 0) {
                        tool_error("ws: the broker sent a malformed frame: %s", reason ?: strerror(-r));
                        return -EBADMSG;
                }
                if (frame->type == MBUS_FRAME_PING) {
                        /* keep-alive: a peer that does not answer is dropped */
                        int64_t k = bench_ws_send(ws, MBUS_FRAME_PONG,
                                                  &(struct mbus_frame_fields) { .reply_serial = frame->f.serial }, NULL, 0);
                        if (k < 0)
                                return (int) k;
                        continue;
                }
                *ret = TAKE_PTR(frame);
                return 0;
        }
}

bool bench_ws_pending(const struct bench_ws *ws) {
        return ws->in_end > ws->in_start || mbus_transport_pending(&ws->transport);
}

int bench_ws_request(struct bench_ws *ws, enum mbus_frame_type type, const struct mbus_frame_fields *fields,
                     json_object *body, struct mbus_frame **ret) {
        int64_t serial;

        serial = bench_ws_send_json(ws, type, fields, body);
        if (serial < 0)
                return (int) serial;
        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
                int r;

                r = bench_ws_recv(ws, BENCH_CALL_TIMEOUT_USEC, &frame);
                if (r < 0)
                        return r;
                if (frame->f.reply_serial == (uint64_t) serial) {
                        *ret = TAKE_PTR(frame);
                        return 0;
                }
        }
}

int bench_ws_body(const struct mbus_frame *frame, json_object **ret) {
        if (frame->body_len == 0) {
                *ret = NULL;
                return 0;
        }
        /* the body is NUL-terminated in memory (frame.h) */
        *ret = json_tokener_parse((const char *) frame->body);
        return *ret ? 0 : -EBADMSG;
}

void bench_ws_complain(const char *what, const struct mbus_frame *frame) {
        _cleanup_json_ json_object *o = NULL;

        if (mbus_frame_to_json(frame, &o) < 0)
                o = NULL;
        tool_error("%s: the broker answered %s", what,
                   o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "?");
}

/* Why a read or write of the upgrade failed: a broker that refuses our certificate says so in
 * an alert, seen here first. */
static int ws_upgrade_failed(struct bench_ws *ws, const char *address, int r) {
        tool_error("ws: upgrade with %s failed: %s", address,
                   ws->tls && *mbus_tls_reason(&ws->transport) ? mbus_tls_reason(&ws->transport) : strerror(-r));
        return r;
}

/* The upgrade to /v1/ws with the subprotocol mbus; the answer's key checked. Says why it failed. */
static int ws_upgrade(struct bench_ws *ws, const char *address, const char *host, const char *port, usec_t deadline) {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        unsigned char nonce[16], digest[EVP_MAX_MD_SIZE];
        char key[32], accept_key[64], expect[128], request[1024];
        unsigned digest_len = 0;
        const char *end = NULL;
        int r;

        if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
                return -EIO;
        EVP_EncodeBlock((unsigned char *) key, nonce, sizeof(nonce));
        snprintf(request, sizeof(request),
                 "GET /v1/ws HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mbus\r\n\r\n",
                 strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port, key);
        r = ws_write_all(ws, request, strlen(request), deadline);
        if (r < 0)
                return ws_upgrade_failed(ws, address, r);

        /* The answer's head; what follows it (the first message, if any) stays buffered. */
        while (!end) {
                r = ws_fill(ws, ws->in_end - ws->in_start + 1, deadline);
                if (r < 0)
                        return ws_upgrade_failed(ws, address, r);
                if (ws->in_end - ws->in_start > WS_UPGRADE_MAX) {
                        tool_error("ws: %s answered the upgrade with more than %u bytes of head", address,
                                   WS_UPGRADE_MAX);
                        return -EPROTO;
                }
                end = memmem(ws->in + ws->in_start, ws->in_end - ws->in_start, "\r\n\r\n", 4);
        }

        _cleanup_free_ char *head = strndup((const char *) ws->in + ws->in_start,
                                            (size_t) (end - (const char *) ws->in) - ws->in_start);
        if (!head)
                return -ENOMEM;
        ws->in_start = (size_t) (end + 4 - (const char *) ws->in);
        snprintf(expect, sizeof(expect), "%s%s", key, guid);
        if (EVP_Digest(expect, strlen(expect), digest, &digest_len, EVP_sha1(), NULL) != 1)
                return -EIO;
        EVP_EncodeBlock((unsigned char *) accept_key, digest, (int) digest_len);
        if (strncmp(head, "HTTP/1.1 101", 12) != 0 || !strcasestr(head, accept_key)) {
                tool_error("ws: the broker refused the WebSocket upgrade: %.*s", (int) strcspn(head, "\r"), head);
                return -EPROTO;
        }
        return 0;
}

static const char *ws_env(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

int bench_ws_open(struct bench_ws **ret, const char *address, const char *name, bool text) {
        _cleanup_(bench_ws_freep) struct bench_ws *ws = NULL;
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *welcome = NULL;
        _cleanup_json_ json_object *hello = NULL;
        struct mbus_address a = {}, tcp;
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), WS_HANDSHAKE_TIMEOUT_USEC);
        int r;

        ws = calloc(1, sizeof(*ws));
        if (!ws)
                return -ENOMEM;
        ws->fd = -EBADF;
        ws->text = text;
        ws->next_serial = 1;

        r = mbus_address_parse(address, &a);
        if (r >= 0 && a.kind != MBUS_ADDRESS_WS && a.kind != MBUS_ADDRESS_WSS)
                r = -EPROTONOSUPPORT;
        if (r < 0) {
                mbus_address_done(&a);
                tool_error("ws: invalid address '%s': expected ws://HOST:PORT or wss://HOST:PORT", address);
                return r;
        }
        /* the same TCP connection a tcp:// address makes (TCP_NODELAY), under the upgrade */
        tcp = (struct mbus_address) { .kind = MBUS_ADDRESS_TCP, .host = a.host, .port = a.port };
        r = mbus_address_connect(&tcp, &ws->fd);
        if (r < 0) {
                tool_error("ws: cannot connect to %s: %s", address, strerror(-r));
                mbus_address_done(&a);
                return r;
        }
        mbus_transport_init_socket(&ws->transport, ws->fd);
        if (a.kind == MBUS_ADDRESS_WSS) {
                const struct mbus_tls_files files = {
                        .cert = ws_env("MBUS_TLS_CERT"), .key = ws_env("MBUS_TLS_KEY"), .ca = ws_env("MBUS_TLS_CA"),
                };
                char reason[MBUS_TLS_REASON_MAX] = "";

                r = mbus_tls_context_new(&ws->tls, &files, /* server= */ false, /* optional_client_cert= */ false,
                                         reason);
                if (r >= 0)
                        r = mbus_transport_init_tls(&ws->transport, ws->tls, ws->fd, a.host);
                while (r >= 0) {
                        r = mbus_transport_handshake(&ws->transport);
                        if (r != -EAGAIN)
                                break;
                        r = ws_poll(ws, /* have_output= */ false, deadline);
                }
                if (r < 0) {
                        tool_error("ws: TLS with %s failed: %s", address,
                                   *reason ? reason : *mbus_tls_reason(&ws->transport) ? mbus_tls_reason(&ws->transport)
                                                                                      : strerror(-r));
                        mbus_address_done(&a);
                        return r;
                }
        }
        r = ws_upgrade(ws, address, a.host, a.port, deadline);
        mbus_address_done(&a);
        if (r < 0)
                return r;

        hello = json_object_new_object();
        if (!hello || json_object_object_add(hello, "name", json_object_new_string(name)) < 0)
                return -ENOMEM;
        r = bench_ws_request(ws, MBUS_FRAME_HELLO, &(struct mbus_frame_fields) {}, hello, &welcome);
        if (r < 0) {
                tool_error("ws: HELLO to %s failed: %s", address, strerror(-r));
                return r;
        }
        if (welcome->type != MBUS_FRAME_WELCOME) {
                bench_ws_complain("ws: HELLO", welcome);
                return -EPROTO;
        }
        *ret = TAKE_PTR(ws);
        return 0;
}
