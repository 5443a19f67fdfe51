/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench rpc-seq-ws (--transport ws): rpc-seq with the caller on the broker's WebSocket
 * listener, and over its UNIX socket on the same broker for the ratio.
 *
 * libmbus speaks frames on byte streams only, so the caller here is a minimal WebSocket client
 * of its own (RFC 6455: the upgrade with its key check, masked text messages out, unmasked
 * messages in, PING answered) using the JSON form of frames that mbus-protocol(7) describes for
 * scripts. It parses each answer with json-c, as libmbus parses each RETURN. The echo service
 * stays on the UNIX socket.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define WS_OP_TEXT 0x1
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa
#define WS_MAX_MESSAGE (1u << 20)

static int ws_send(int fd, int opcode, const void *data, size_t len) {
        _cleanup_free_ uint8_t *buf = malloc(len + 14);
        uint8_t mask[4];
        size_t n = 0;

        if (!buf)
                return -ENOMEM;
        if (getrandom(mask, sizeof(mask), 0) != sizeof(mask))
                return -EIO;
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
        for (size_t i = 0; i < len; i++)
                buf[n + i] = ((const uint8_t *) data)[i] ^ mask[i % 4];
        return write_full(fd, buf, n + len);
}

/* The next text message, NUL-terminated in *ret (the caller frees it); PINGs are answered. */
static int ws_recv_text(int fd, char **ret) {
        for (;;) {
                _cleanup_free_ char *data = NULL;
                uint8_t head[2], ext[8], mask[4] = {};
                uint64_t len;
                int r;

                r = read_exact(fd, head, 2);
                if (r < 0)
                        return r;
                len = head[1] & 0x7f;
                if (len >= 126) {
                        size_t k = len == 126 ? 2 : 8;

                        r = read_exact(fd, ext, k);
                        if (r < 0)
                                return r;
                        len = 0;
                        for (size_t i = 0; i < k; i++)
                                len = len << 8 | ext[i];
                }
                if (len > WS_MAX_MESSAGE || !(head[0] & 0x80))
                        return -EBADMSG;        /* the broker sends each frame whole */
                if (head[1] & 0x80) {
                        r = read_exact(fd, mask, 4);
                        if (r < 0)
                                return r;
                }
                data = malloc(len + 1);
                if (!data)
                        return -ENOMEM;
                r = read_exact(fd, data, len);
                if (r < 0)
                        return r;
                for (uint64_t i = 0; i < len; i++)
                        data[i] ^= (char) mask[i % 4];
                data[len] = 0;

                switch (head[0] & 0x0f) {
                case WS_OP_TEXT:
                        *ret = TAKE_PTR(data);
                        return 0;
                case WS_OP_PING:
                        r = ws_send(fd, WS_OP_PONG, data, len);
                        if (r < 0)
                                return r;
                        break;
                case WS_OP_CLOSE:
                        return -ECONNRESET;
                default:
                        break;          /* PONG, binary: not ours */
                }
        }
}

/* TCP to 127.0.0.1:port, the upgrade to /v1/ws with the subprotocol mbus, its key checked. */
static int ws_open(uint16_t port, int *ret_fd) {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int fd = -EBADF;
        unsigned char nonce[16], digest[EVP_MAX_MD_SIZE];
        char key[32], accept_key[64], expect[128], request[512], response[2048];
        unsigned digest_len = 0;
        size_t n = 0;
        int one = 1, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
                return -EIO;
        EVP_EncodeBlock((unsigned char *) key, nonce, sizeof(nonce));
        snprintf(request, sizeof(request),
                 "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mbus\r\n\r\n",
                 port, key);
        r = write_full(fd, request, strlen(request));
        if (r < 0)
                return r;

        /* byte by byte up to the blank line: nothing of the first message is read ahead */
        while (n < sizeof(response) - 1 && (n < 4 || memcmp(response + n - 4, "\r\n\r\n", 4) != 0)) {
                r = read_exact(fd, response + n, 1);
                if (r < 0)
                        return r;
                n++;
        }
        response[n] = 0;
        snprintf(expect, sizeof(expect), "%s%s", key, guid);
        if (EVP_Digest(expect, strlen(expect), digest, &digest_len, EVP_sha1(), NULL) != 1)
                return -EIO;
        EVP_EncodeBlock((unsigned char *) accept_key, digest, (int) digest_len);
        if (strncmp(response, "HTTP/1.1 101", 12) != 0 || !strcasestr(response, accept_key)) {
                tool_error("rpc-seq-ws: the broker refused the WebSocket upgrade: %.*s", (int) strcspn(response, "\r"),
                           response);
                return -EPROTO;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Sends one frame as JSON and returns the answer to it (a frame with reply_serial = serial). */
static int ws_roundtrip(int fd, json_object *frame, uint64_t serial, json_object **ret) {
        const char *text = json_object_to_json_string_ext(frame, JSON_C_TO_STRING_PLAIN);
        int r;

        r = ws_send(fd, WS_OP_TEXT, text, strlen(text));
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *m = NULL;
                _cleanup_json_ json_object *o = NULL;
                json_object *v;

                r = ws_recv_text(fd, &m);
                if (r < 0)
                        return r;
                o = json_tokener_parse(m);
                if (!o)
                        return -EBADMSG;
                if (json_object_object_get_ex(o, "reply_serial", &v) && (uint64_t) json_object_get_int64(v) == serial) {
                        *ret = TAKE_PTR(o);
                        return 0;
                }
        }
}

static const char *ws_type(json_object *o) {
        json_object *v;

        return json_object_object_get_ex(o, "type", &v) ? json_object_get_string(v) : "";
}

static int ws_rpc_seq(int fd, pid_t broker_pid, struct rpc_seq_result *ret) {
        _cleanup_free_ uint64_t *lat = calloc(arg_calls, sizeof(uint64_t));
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;
        int r;

        if (!lat)
                return -ENOMEM;
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *frame = json_object_new_object(), *answer = NULL;
                json_object *body, *seq;
                uint64_t t0, serial = i + 2;    /* 1 was HELLO's */

                if (i == BENCH_WARMUP) {
                        have_cpu = proc_cpu_usec(broker_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                if (!frame ||
                    json_object_object_add(frame, "type", json_object_new_string("CALL")) < 0 ||
                    json_object_object_add(frame, "serial", json_object_new_int64((int64_t) serial)) < 0 ||
                    json_object_object_add(frame, "namespace", json_object_new_string(BENCH_ECHO_NAMESPACE)) < 0 ||
                    json_object_object_add(frame, "member", json_object_new_string("Echo")) < 0 ||
                    json_object_object_add(frame, "timeout", json_object_new_int64((int64_t) BENCH_CALL_TIMEOUT_USEC)) < 0 ||
                    json_object_object_add(frame, "body", bench_payload(i, 64)) < 0)
                        return -ENOMEM;
                t0 = now_nsec();
                r = ws_roundtrip(fd, frame, serial, &answer);
                if (r < 0)
                        return r;
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
                if (strcmp(ws_type(answer), "RETURN") != 0 || !json_object_object_get_ex(answer, "body", &body) ||
                    !json_object_object_get_ex(body, "seq", &seq) || json_object_get_int64(seq) != (int64_t) i) {
                        tool_error("rpc-seq-ws: the answer is not the echo of the call: %s",
                                   json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN));
                        return -EBADMSG;
                }
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        *ret = (struct rpc_seq_result) {
                .calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u),
                .p50_usec = percentile(lat, arg_calls, 50) / 1000.0,
                .p99_usec = percentile(lat, arg_calls, 99) / 1000.0,
                .broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN,
                .broker_user_usec = NAN,
                .broker_sys_usec = NAN,
        };
        return 0;
}

int bench_rpc_seq_ws(struct bench *b) {
        struct bench_broker bb = {};
        struct rpc_seq_result unix_res = {}, ws_res = {};
        _cleanup_close_ int fd = -EBADF;
        char listen_ws[64];
        pid_t echo_pid = 0;
        int stop_fd = -EBADF, r;
        uint16_t port;

        r = bench_tls_free_port(&port);
        if (r < 0)
                return r;
        snprintf(listen_ws, sizeof(listen_ws), "ws://127.0.0.1:%u", port);
        /* a ws peer is known by its address only: the default policy would refuse its calls */
        r = bench_broker_start_open(&bb, b->broker_path,
                                    (const char *const[]) { "--listen", listen_ws, "--log-level", "err", NULL });
        if (r < 0) {
                tool_error("rpc-seq-ws: cannot start %s: %s", b->broker_path, strerror(-r));
                return r;
        }
        r = rpc_seq_run(bb.address, bb.pid, &unix_res);
        if (r >= 0)
                r = echo_start(bb.address, &echo_pid, &stop_fd);
        if (r >= 0) {
                _cleanup_json_ json_object *hello = json_tokener_parse(
                        "{\"type\":\"HELLO\",\"serial\":1,\"body\":{\"name\":\"mbus-bench-ws\"}}"), *welcome = NULL;

                r = ws_open(port, &fd);
                if (r >= 0)
                        r = hello ? ws_roundtrip(fd, hello, 1, &welcome) : -ENOMEM;
                if (r >= 0 && strcmp(ws_type(welcome), "WELCOME") != 0) {
                        tool_error("rpc-seq-ws: HELLO answered with %s",
                                   json_object_to_json_string_ext(welcome, JSON_C_TO_STRING_PLAIN));
                        r = -EPROTO;
                }
                if (r >= 0)
                        r = ws_rpc_seq(fd, bb.pid, &ws_res);
                fd = safe_close(fd);
                if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0)
                        r = -ECHILD;
        }
        bench_broker_stop(&bb);
        if (r < 0) {
                tool_error("rpc-seq-ws: %s", strerror(-r));
                return r;
        }
        bench_record(b, "rpc-seq-ws", "calls_per_sec", "calls/s", ws_res.calls_per_sec);
        bench_record(b, "rpc-seq-ws", "p50_usec", "µs", ws_res.p50_usec);
        bench_record(b, "rpc-seq-ws", "p99_usec", "µs", ws_res.p99_usec);
        bench_record(b, "rpc-seq-ws", "unix_p50_usec", "µs", unix_res.p50_usec);
        bench_record(b, "rpc-seq-ws", "p50_vs_unix", "x", ws_res.p50_usec / unix_res.p50_usec);
        if (!isnan(ws_res.broker_cpu_usec) && !isnan(unix_res.broker_cpu_usec)) {
                bench_record(b, "rpc-seq-ws", "broker_cpu_usec_per_call", "µs", ws_res.broker_cpu_usec);
                bench_record(b, "rpc-seq-ws", "unix_broker_cpu_usec_per_call", "µs", unix_res.broker_cpu_usec);
        }
        return 0;
}
