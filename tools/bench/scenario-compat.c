/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench rpc-seq-compat (--transport compat): rpc-seq in the original mBus protocol, on the
 * broker's compat+unix listener, next to the native rpc-seq on the same broker for the ratio.
 * peer-orig.c runs the same calls against the original broker.
 *
 * Both sides speak the original framing themselves (a 4-byte big-endian length and one JSON
 * object, the long org.mbus.method.tag.* keys, no compression, no ping): an echo service that
 * creates its identifier with command.create, registers the command "echo" and answers each
 * call with command.result, and a caller that sends its calls one at a time and waits for each
 * result. Each side parses every frame with json-c, as libmbus parses the native ones, so
 * neither the original client library nor libmbus is measured, only the broker between them.
 * The payload is rpc-seq's {"seq":N,"data":"<64 x>"}, and every result must carry it back.
 *
 * Sequence numbers run from 2 to 9998 and wrap (1 was command.create's): the original client
 * never sends 9999, its end mark, and the original broker leaves a command numbered 9999
 * unanswered.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "proto/address.h"
#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define COMPAT_TAG "org.mbus.method.tag."
#define COMPAT_TYPE_COMMAND "org.mbus.method.type.command"
#define COMPAT_TYPE_RESULT "org.mbus.method.type.result"
#define COMPAT_SERVER "org.mbus.server"
#define COMPAT_SEQUENCE_FIRST 2
#define COMPAT_SEQUENCE_LAST 9998
/* Far above a 64-byte echo; a larger frame means something else is wrong. */
#define COMPAT_MAX_FRAME (1u << 20)

static const char *compat_tag_string(json_object *o, const char *tag) {
        char key[64];
        json_object *v;

        snprintf(key, sizeof(key), COMPAT_TAG "%s", tag);
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                json_object_get_string(v) : NULL;
}

static int64_t compat_tag_int(json_object *o, const char *tag) {
        char key[64];
        json_object *v;

        snprintf(key, sizeof(key), COMPAT_TAG "%s", tag);
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
                json_object_get_int64(v) : -1;
}

static json_object *compat_tag(json_object *o, const char *tag) {
        char key[64];
        json_object *v;

        snprintf(key, sizeof(key), COMPAT_TAG "%s", tag);
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* One frame, length and JSON in one write. */
static int compat_send(int fd, json_object *frame) {
        size_t len;
        const char *text = json_object_to_json_string_length(frame, JSON_C_TO_STRING_PLAIN, &len);
        uint32_t n = htonl((uint32_t) len);
        struct iovec iov[] = { { &n, sizeof(n) }, { (void *) text, len } };
        ssize_t k;

        if (!text)
                return -ENOMEM;
        do
                k = writev(fd, iov, ELEMENTSOF(iov));
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        /* a UNIX stream socket takes a small frame whole */
        return (size_t) k == sizeof(n) + len ? 0 : -EIO;
}

/* The next frame, parsed. Blocks up to the socket's SO_RCVTIMEO (-ETIMEDOUT after it). */
static int compat_recv(int fd, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        json_object *o;
        uint32_t n;
        int r;

        r = read_exact(fd, &n, sizeof(n));
        if (r >= 0) {
                n = ntohl(n);
                if (n == 0 || n > COMPAT_MAX_FRAME)
                        return -EBADMSG;
                text = malloc(n + 1);
                if (!text)
                        return -ENOMEM;
                r = read_exact(fd, text, n);
        }
        if (r == -EAGAIN)
                return -ETIMEDOUT;
        if (r < 0)
                return r;
        text[n] = 0;
        o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* A command frame; takes payload. */
static int compat_command(int fd, const char *destination, const char *identifier, int64_t sequence,
                          json_object *payload) {
        _cleanup_json_ json_object *frame = json_object_new_object();

        if (!frame || !payload ||
            json_object_object_add(frame, COMPAT_TAG "type", json_object_new_string(COMPAT_TYPE_COMMAND)) < 0 ||
            json_object_object_add(frame, COMPAT_TAG "destination", json_object_new_string(destination)) < 0 ||
            json_object_object_add(frame, COMPAT_TAG "identifier", json_object_new_string(identifier)) < 0 ||
            json_object_object_add(frame, COMPAT_TAG "sequence", json_object_new_int64(sequence)) < 0 ||
            json_object_object_add(frame, COMPAT_TAG "timeout",
                                   json_object_new_int64((int64_t) (BENCH_CALL_TIMEOUT_USEC / USEC_PER_MSEC))) < 0) {
                json_object_put(payload);
                return -ENOMEM;
        }
        if (json_object_object_add(frame, COMPAT_TAG "payload", payload) < 0) {
                json_object_put(payload);
                return -ENOMEM;
        }
        return compat_send(fd, frame);
}

/* Waits for the result of sequence, skipping server events and other results. Returns 0 and,
 * if ret_payload, its payload when its status is 0; -EREMOTEIO for any other status. */
static int compat_result(int fd, int64_t sequence, json_object **ret_payload) {
        for (;;) {
                _cleanup_json_ json_object *o = NULL;
                const char *type;
                int64_t status;
                int r;

                r = compat_recv(fd, &o);
                if (r < 0)
                        return r;
                type = compat_tag_string(o, "type");
                if (!type || strcmp(type, COMPAT_TYPE_RESULT) != 0 || compat_tag_int(o, "sequence") != sequence)
                        continue;
                status = compat_tag_int(o, "status");
                if (status != 0)
                        return -EREMOTEIO;
                if (ret_payload)
                        *ret_payload = json_object_get(compat_tag(o, "payload"));
                return 0;
        }
}

static int64_t compat_next(int64_t *sequence) {
        if (++*sequence > COMPAT_SEQUENCE_LAST)
                *sequence = COMPAT_SEQUENCE_FIRST;
        return *sequence;
}

/*
 * Connects to path (the socket's full path: an original broker and a compat+unix listener both
 * bind PATH:PORT) and creates identifier, asking for no compression and no ping. Retries the
 * connection until the broker listens, up to BENCH_READY_TIMEOUT_USEC.
 */
static int compat_open(const char *path, const char *identifier, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = BENCH_CALL_TIMEOUT_USEC / USEC_PER_SEC };
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);
        _cleanup_close_ int fd = -EBADF;
        json_object *payload, *compressions;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        while (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != ENOENT && errno != ECONNREFUSED && errno != EINTR)
                        return -errno;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                (void) usleep(5000);
        }
        /* a deadline on every later read, without a poll() per frame */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;

        payload = json_object_new_object();
        compressions = json_object_new_array();
        if (!payload || !compressions ||
            json_object_array_add(compressions, json_object_new_string("none")) < 0 ||
            json_object_object_add(payload, "identifier", json_object_new_string(identifier)) < 0 ||
            json_object_object_add(payload, "compressions", compressions) < 0) {
                json_object_put(compressions);
                json_object_put(payload);
                return -ENOMEM;
        }
        r = compat_command(fd, COMPAT_SERVER, "command.create", 1, payload);
        if (r >= 0)
                r = compat_result(fd, 1, /* ret_payload= */ NULL);
        if (r < 0)
                return r == -EREMOTEIO ? -EPROTO : r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the echo service ---------------------------------------------------------------------- */

/* Answers one frame: a call to "echo" with its payload back, anything else (the results of
 * its own command.result frames, server events) not at all. */
static int compat_echo_answer(int fd, json_object *o, int64_t *sequence) {
        const char *type = compat_tag_string(o, "type"), *source = compat_tag_string(o, "source");
        json_object *result;

        if (!type || strcmp(type, COMPAT_TYPE_COMMAND) != 0 || !source)
                return 0;
        result = json_object_new_object();
        if (!result ||
            json_object_object_add(result, COMPAT_TAG "destination", json_object_new_string(source)) < 0 ||
            json_object_object_add(result, COMPAT_TAG "identifier", json_object_new_string("echo")) < 0 ||
            json_object_object_add(result, COMPAT_TAG "sequence",
                                   json_object_new_int64(compat_tag_int(o, "sequence"))) < 0 ||
            json_object_object_add(result, COMPAT_TAG "status", json_object_new_int(0)) < 0 ||
            json_object_object_add(result, COMPAT_TAG "payload", json_object_get(compat_tag(o, "payload"))) < 0) {
                json_object_put(result);
                return -ENOMEM;
        }
        /* a result is itself a command to the server, which answers it: not waited for */
        return compat_command(fd, COMPAT_SERVER, "command.result", compat_next(sequence), result);
}

static int compat_echo_run(const char *path, int ready_fd, int stop_fd) {
        _cleanup_close_ int fd = -EBADF;
        int64_t sequence = COMPAT_SEQUENCE_FIRST;
        json_object *payload;
        int r;

        r = compat_open(path, BENCH_COMPAT_ECHO, &fd);
        if (r < 0) {
                tool_error("compat echo service: cannot create %s at %s: %s", BENCH_COMPAT_ECHO, path, strerror(-r));
                return r;
        }
        payload = json_object_new_object();
        if (!payload || json_object_object_add(payload, "command", json_object_new_string("echo")) < 0) {
                json_object_put(payload);
                return -ENOMEM;
        }
        r = compat_command(fd, COMPAT_SERVER, "command.register", sequence, payload);
        if (r >= 0)
                r = compat_result(fd, sequence, /* ret_payload= */ NULL);
        if (r < 0) {
                tool_error("compat echo service: cannot register the command echo: %s", strerror(-r));
                return r;
        }
        r = write_full(ready_fd, "R", 1);
        if (r < 0)
                return r;

        for (;;) {
                struct pollfd p[] = { { .fd = fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
                _cleanup_json_ json_object *o = NULL;

                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[1].revents)
                        return 0;
                if (!p[0].revents)
                        continue;
                r = compat_recv(fd, &o);
                if (r >= 0)
                        r = compat_echo_answer(fd, o, &sequence);
                if (r < 0) {
                        tool_error("compat echo service: %s", strerror(-r));
                        return r;
                }
        }
}


/* ---- the caller ---------------------------------------------------------------------------- */

/* The pid at the other end of a UNIX socket, 0 if unknown. */
static pid_t compat_peer_pid(int fd) {
        struct ucred cred = {};
        socklen_t len = sizeof(cred);

        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? 0 : cred.pid;
}

/* The calls of one run on fd, to the echo service already registered; what names the scenario
 * in messages. Every result must carry its call's payload back. */
static int compat_calls(int fd, pid_t broker_pid, const char *what, struct compat_seq_result *ret) {
        _cleanup_free_ uint64_t *lat = calloc(arg_calls, sizeof(uint64_t));
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        int64_t sequence = 1;
        bool have_cpu = false;
        uint64_t answered = 0;
        int r;

        if (!lat)
                return -ENOMEM;
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *answer = NULL;
                json_object *args, *seq;
                int64_t s = compat_next(&sequence);
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                args = bench_payload(i, 64);
                t0 = now_nsec();
                r = compat_command(fd, BENCH_COMPAT_ECHO, "echo", s, args);
                if (r >= 0)
                        r = compat_result(fd, s, &answer);
                if (r < 0) {
                        tool_error("%s: call %" PRIu64 " failed: %s", what, i, r == -EREMOTEIO ?
                                   "a non-zero status" : strerror(-r));
                        return r;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
                if (!json_object_is_type(answer, json_type_object) || !json_object_object_get_ex(answer, "seq", &seq) ||
                    json_object_get_int64(seq) != (int64_t) i) {
                        tool_error("%s: the result is not the echo of the call: %s", what,
                                   json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN));
                        return -EBADMSG;
                }
                if (i >= BENCH_WARMUP)
                        answered++;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        *ret = (struct compat_seq_result) {
                .rpc = {
                        .calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u),
                        .p50_usec = percentile(lat, arg_calls, 50) / 1000.0,
                        .p99_usec = percentile(lat, arg_calls, 99) / 1000.0,
                        .broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN,
                        .broker_user_usec = NAN,
                        .broker_sys_usec = NAN,
                },
                .answered = answered,
        };
        return 0;
}

int compat_rpc_seq_run(const char *path, pid_t broker_pid, const char *what, struct compat_seq_result *ret) {
        _cleanup_close_ int fd = -EBADF;
        pid_t echo_pid = 0;
        int stop_fd = -EBADF, r;

        r = bench_start_service(compat_echo_run, path, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("%s: cannot start the echo service at %s: %s", what, path, strerror(-r));
                return r;
        }
        r = compat_open(path, BENCH_COMPAT_CALLER, &fd);
        if (r < 0)
                tool_error("%s: cannot create %s at %s: %s", what, BENCH_COMPAT_CALLER, path, strerror(-r));
        else {
                if (broker_pid <= 0)
                        broker_pid = compat_peer_pid(fd);
                r = compat_calls(fd, broker_pid, what, ret);
        }
        fd = safe_close(fd);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0) {
                tool_error("%s: the echo service did not exit cleanly", what);
                r = -ECHILD;
        }
        return r;
}

void compat_seq_record(struct bench *b, const char *scenario, const struct compat_seq_result *res) {
        bench_record(b, scenario, "calls_per_sec", "calls/s", res->rpc.calls_per_sec);
        bench_record(b, scenario, "p50_usec", "µs", res->rpc.p50_usec);
        bench_record(b, scenario, "p99_usec", "µs", res->rpc.p99_usec);
        bench_record(b, scenario, "answered", "calls", (double) res->answered);
}

/* ---- rpc-seq-compat ------------------------------------------------------------------------ */

/* The socket path of a compat+unix: address, as the broker binds it (with its ":PORT"). */
static int compat_address_path(const char *address, char **ret) {
        struct mbus_address a = {};
        int r;

        r = mbus_address_parse(address, &a);
        if (r >= 0 && a.kind != MBUS_ADDRESS_COMPAT_UNIX)
                r = -EPROTONOSUPPORT;
        if (r >= 0)
                *ret = TAKE_PTR(a.path);
        mbus_address_done(&a);
        return r;
}

bool bench_compat_address_valid(const char *address) {
        _cleanup_free_ char *path = NULL;

        return compat_address_path(address, &path) >= 0;
}

int bench_rpc_seq_compat(struct bench *b) {
        struct bench_broker bb = {};
        struct rpc_seq_result native = {};
        struct compat_seq_result compat = {};
        _cleanup_free_ char *path = NULL, *listen = NULL;
        char dir[] = "/tmp/mbus-bench-compat-XXXXXX";
        bool own = !arg_address;
        int r;

        /* the compat socket in a directory of its own: the broker's is made when it starts */
        if (own) {
                if (!mkdtemp(dir))
                        return -errno;
                if (asprintf(&path, "%s/compat:0", dir) < 0 || asprintf(&listen, "compat+unix:%s", path) < 0)
                        r = -ENOMEM;
                else
                        r = bench_broker_start(&bb, b->broker_path, /* tls= */ NULL,
                                               (const char *const[]) { "--listen", listen, NULL });
                if (r < 0) {
                        (void) rmdir(dir);
                        tool_error("rpc-seq-compat: cannot start %s: %s", b->broker_path, strerror(-r));
                        return r;
                }
        } else {
                r = compat_address_path(arg_compat_address, &path);
                if (r < 0)
                        return r;
        }

        r = rpc_seq_run(own ? bb.address : arg_address, bb.pid, &native);
        if (r >= 0)
                r = compat_rpc_seq_run(path, bb.pid, "rpc-seq-compat", &compat);
        if (own) {
                bench_broker_stop(&bb);
                (void) unlink(path);
                (void) rmdir(dir);
        }
        if (r < 0)
                return r;
        compat_seq_record(b, "rpc-seq-compat", &compat);
        bench_record(b, "rpc-seq-compat", "native_calls_per_sec", "calls/s", native.calls_per_sec);
        bench_record(b, "rpc-seq-compat", "native_p50_usec", "µs", native.p50_usec);
        bench_record(b, "rpc-seq-compat", "calls_per_sec_vs_native", "x", compat.rpc.calls_per_sec / native.calls_per_sec);
        bench_record(b, "rpc-seq-compat", "p50_vs_native", "x", compat.rpc.p50_usec / native.p50_usec);
        if (!isnan(compat.rpc.broker_cpu_usec) && !isnan(native.broker_cpu_usec)) {
                bench_record(b, "rpc-seq-compat", "broker_cpu_usec_per_call", "µs", compat.rpc.broker_cpu_usec);
                bench_record(b, "rpc-seq-compat", "native_broker_cpu_usec_per_call", "µs", native.broker_cpu_usec);
                bench_record(b, "rpc-seq-compat", "broker_cpu_vs_native", "x",
                             compat.rpc.broker_cpu_usec / native.broker_cpu_usec);
        }
        return 0;
}
