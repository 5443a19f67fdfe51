/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench nats: rpc-seq, rpc-pipelined and fanout against nats-server (NATS core, no
 * JetStream) through libnats, measured like mbus's.
 *
 * libnats starts threads on first use, and a process with threads must not fork helpers that
 * go on using the library. So the benchmark's own process never touches libnats: one
 * coordinator process per run forks the echo responder and the subscribers first, then opens
 * its own connections, and hands its figures back through a pipe.
 *
 * The payloads are the JSON text of the mbus scenarios. Requests go through
 * natsConnection_Request() (the client's request/reply with its shared reply subscription), the
 * pipelined calls through natsConnection_PublishRequest() to one reply subject; the connections
 * of both rpc scenarios send at once (SendAsap) instead of waiting for the flusher thread. The
 * subscribers read with natsSubscription_NextMsg() and take the sequence number from the text
 * without parsing the JSON (libmbus parses every event: the comparison favours NATS there),
 * with no pending limit on the client side (libmbus has none either). nats-server is one
 * multi-threaded process: its CPU is that of all its threads, from /proc/PID/stat (clock ticks).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>
#include <nats/nats.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define NATS_ECHO_SUBJECT "bench.echo"
#define NATS_TICK_SUBJECT "bench.tick"

struct nats_figures {
        double seq_calls_per_sec, seq_p50_usec, seq_p99_usec, seq_server_cpu_usec;
        double pipelined_calls_per_sec, pipelined_server_cpu_usec;
        struct fanout_result fanout;
        int32_t error;
};

static int nats_errno(natsStatus s) {
        return s == NATS_OK ? 0 : s == NATS_TIMEOUT ? -ETIMEDOUT : s == NATS_NO_MEMORY ? -ENOMEM : -EIO;
}

static int nats_fail(const char *what, natsStatus s) {
        tool_error("nats: %s: %s", what, natsStatus_GetText(s));
        return nats_errno(s);
}

static int nats_server_cpu(pid_t pid, usec_t *ret) {
        usec_t user, sys;
        int r;

        r = proc_cpu_split_usec(pid, &user, &sys);
        if (r < 0)
                return r;
        *ret = user + sys;
        return 0;
}

static int nats_connect(const char *url, bool send_asap, natsConnection **ret) {
        natsOptions *opts = NULL;
        natsStatus s;

        s = natsOptions_Create(&opts);
        if (s == NATS_OK)
                s = natsOptions_SetURL(opts, url);
        if (s == NATS_OK && send_asap)
                s = natsOptions_SetSendAsap(opts, true);
        if (s == NATS_OK)
                s = natsConnection_Connect(ret, opts);
        natsOptions_Destroy(opts);
        return s == NATS_OK ? 0 : nats_fail("cannot connect", s);
}

/* ---- the echo responder ------------------------------------------------------------------ */

struct nats_child {
        const char *url;
        int fd;                         /* "R" once subscribed; then as the role says */
        uint64_t n_events;
};

/* Answers every request until the parent's pipe closes. */
static int nats_echo_run(void *userdata) {
        struct nats_child *c = userdata;
        natsConnection *nc = NULL;
        natsSubscription *sub = NULL;
        natsStatus s = NATS_OK;
        int r;

        r = nats_connect(c->url, /* send_asap= */ true, &nc);
        if (r < 0)
                return r;
        s = natsConnection_SubscribeSync(&sub, nc, NATS_ECHO_SUBJECT);
        if (s == NATS_OK)
                s = natsConnection_Flush(nc);
        r = s == NATS_OK ? write_full(c->fd, "R", 1) : nats_fail("cannot subscribe", s);
        while (r >= 0) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                natsMsg *m = NULL;

                s = natsSubscription_NextMsg(&m, sub, 100);
                if (s == NATS_TIMEOUT) {
                        if (poll(&p, 1, 0) > 0)
                                break;
                        continue;
                }
                if (s != NATS_OK) {
                        r = nats_fail("echo: receive", s);
                        break;
                }
                if (natsMsg_GetReply(m))
                        s = natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
                natsMsg_Destroy(m);
                if (s != NATS_OK)
                        r = nats_fail("echo: reply", s);
        }
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(nc);
        nats_Close();
        return r;
}

/* ---- the subscribers --------------------------------------------------------------------- */

static int64_t nats_seq_of(const char *data, int len) {
        return len < 0 ? -1 : fanout_seq_of(data, (size_t) len);
}

static int nats_sub_run(void *userdata) {
        struct nats_child *c = userdata;
        natsConnection *nc = NULL;
        natsSubscription *sub = NULL;
        struct fanout_seq seq;
        natsStatus s;
        usec_t cpu0;
        uint64_t n = 0;
        char cmd;
        int r;

        r = fanout_seq_init(&seq, c->n_events);
        if (r < 0)
                return r;
        r = nats_connect(c->url, /* send_asap= */ false, &nc);
        if (r < 0) {
                fanout_seq_done(&seq);
                return r;
        }
        s = natsConnection_SubscribeSync(&sub, nc, NATS_TICK_SUBJECT);
        if (s == NATS_OK)
                s = natsSubscription_SetPendingLimits(sub, -1, -1);
        if (s == NATS_OK)
                s = natsConnection_Flush(nc);
        cpu0 = fanout_cpu_usec();
        r = s == NATS_OK ? write_full(c->fd, "R", 1) : nats_fail("cannot subscribe", s);
        /* until the parent says the publisher is done; then a PING: its PONG comes after the rest */
        for (bool finishing = false; r >= 0;) {
                natsMsg *m = NULL;

                s = natsSubscription_NextMsg(&m, sub, finishing ? 0 : 100);
                if (s == NATS_OK) {
                        fanout_seq_note(&seq, nats_seq_of(natsMsg_GetData(m), natsMsg_GetDataLength(m)));
                        natsMsg_Destroy(m);
                        if (++n % 1024 != 0)
                                continue;
                } else if (s != NATS_TIMEOUT) {
                        r = nats_fail("subscriber: receive", s);
                        break;
                } else if (finishing)
                        break;
                if (!finishing) {
                        struct pollfd p = { .fd = c->fd, .events = POLLIN };

                        if (poll(&p, 1, 0) > 0) {
                                r = read_full(c->fd, &cmd, 1, BENCH_READY_TIMEOUT_USEC);
                                s = natsConnection_Flush(nc);
                                if (r >= 0 && s != NATS_OK)
                                        r = nats_fail("subscriber: flush", s);
                                finishing = true;
                        }
                }
        }
        if (r < 0)
                seq.rep.error = r;
        seq.rep.cpu_usec = fanout_cpu_usec() - cpu0;
        fanout_seq_done(&seq);
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(nc);
        nats_Close();
        return write_full(c->fd, &seq.rep, sizeof(seq.rep));
}

/* Forks n children running fn, each with a socketpair; waits for their "R". */
static int nats_fork_children(const char *url, size_t n, uint64_t n_events, int (*fn)(void *), int *fds,
                              pid_t *pids, size_t *n_started) {
        for (*n_started = 0; *n_started < n; (*n_started)++) {
                int sp[2], r;
                char c;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                        return -errno;
                struct nats_child child = { .url = url, .fd = sp[1], .n_events = n_events };
                fds[*n_started] = sp[0];
                r = bench_fork(&pids[*n_started], fds, *n_started + 1, fn, &child);
                safe_close(sp[1]);
                if (r < 0) {
                        safe_close(sp[0]);
                        return r;
                }
                r = read_full(fds[*n_started], &c, 1, BENCH_READY_TIMEOUT_USEC);
                if (r < 0) {
                        (*n_started)++;
                        return r;
                }
        }
        return 0;
}

static int nats_stop_children(const int *fds, const pid_t *pids, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], BENCH_EXIT_TIMEOUT_USEC) < 0)
                        r = -ECHILD;
        }
        return r;
}

/* ---- the coordinator --------------------------------------------------------------------- */

static int nats_rpc_seq(natsConnection *nc, pid_t server, struct nats_figures *f) {
        _cleanup_free_ uint64_t *lat = calloc(arg_calls, sizeof(uint64_t));
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;

        if (!lat)
                return -ENOMEM;
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *args = bench_payload(i, 64);
                const char *text;
                natsMsg *reply = NULL;
                natsStatus s;
                uint64_t t0;

                if (!args)
                        return -ENOMEM;
                if (i == BENCH_WARMUP) {
                        have_cpu = nats_server_cpu(server, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
                t0 = now_nsec();
                s = natsConnection_Request(&reply, nc, NATS_ECHO_SUBJECT, text, (int) strlen(text), 10000);
                if (s != NATS_OK)
                        return nats_fail("rpc-seq: request", s);
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
                if (nats_seq_of(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)) != (int64_t) i) {
                        natsMsg_Destroy(reply);
                        tool_error("nats: rpc-seq: the responder returned something else than the request");
                        return -EBADMSG;
                }
                natsMsg_Destroy(reply);
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = nats_server_cpu(server, &cpu1) >= 0;
        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        f->seq_calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u);
        f->seq_p50_usec = percentile(lat, arg_calls, 50) / 1000.0;
        f->seq_p99_usec = percentile(lat, arg_calls, 99) / 1000.0;
        f->seq_server_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN;
        return 0;
}

static int nats_rpc_pipelined(natsConnection *nc, pid_t server, struct nats_figures *f) {
        natsSubscription *sub = NULL;
        natsInbox *inbox = NULL;
        uint64_t sent = 0, done = 0;
        usec_t t_start, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        natsStatus s;
        int r = 0;

        s = natsInbox_Create(&inbox);
        if (s == NATS_OK)
                s = natsConnection_SubscribeSync(&sub, nc, inbox);
        if (s == NATS_OK)
                s = natsSubscription_SetPendingLimits(sub, -1, -1);
        if (s == NATS_OK)
                s = natsConnection_Flush(nc);
        if (s != NATS_OK) {
                r = nats_fail("rpc-pipelined: reply subscription", s);
                goto finish;
        }
        have_cpu = nats_server_cpu(server, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        while (done < arg_calls) {
                natsMsg *m = NULL;

                while (sent < arg_calls && sent - done < arg_window) {
                        _cleanup_json_ json_object *args = bench_payload(sent, 64);
                        const char *text;

                        if (!args) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
                        s = natsConnection_PublishRequest(nc, NATS_ECHO_SUBJECT, inbox, text, (int) strlen(text));
                        if (s != NATS_OK) {
                                r = nats_fail("rpc-pipelined: request", s);
                                goto finish;
                        }
                        sent++;
                }
                s = natsSubscription_NextMsg(&m, sub, 10000);
                if (s != NATS_OK) {
                        r = nats_fail("rpc-pipelined: reply", s);
                        goto finish;
                }
                natsMsg_Destroy(m);
                done++;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = nats_server_cpu(server, &cpu1) >= 0;
        f->pipelined_calls_per_sec = (double) done * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u);
        f->pipelined_server_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) done : NAN;
finish:
        natsSubscription_Destroy(sub);
        natsInbox_Destroy(inbox);
        return r;
}

static int nats_fanout(const char *url, const int *fds, size_t n_subs, pid_t server, struct nats_figures *f) {
        natsConnection *nc = NULL;
        uint64_t total = 0;
        usec_t t_start, t_sent, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        natsStatus s;
        int r;

        f->fanout = (struct fanout_result) { .slow_missed = NAN, .broker_dropped = NAN };
        r = nats_connect(url, /* send_asap= */ false, &nc);
        if (r < 0)
                return r;
        have_cpu = nats_server_cpu(server, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < arg_events; i++) {
                char text[FANOUT_PAYLOAD_MAX];
                size_t len = fanout_payload_text(text, sizeof(text), i);

                s = natsConnection_Publish(nc, NATS_TICK_SUBJECT, text, (int) len);
                if (s != NATS_OK) {
                        r = nats_fail("fanout: publish", s);
                        goto finish;
                }
        }
        /* PING/PONG: the server has read (and routed) every message before */
        s = natsConnection_Flush(nc);
        if (s != NATS_OK) {
                r = nats_fail("fanout: flush", s);
                goto finish;
        }
        t_sent = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n_subs && r >= 0; i++)
                r = write_full(fds[i], "F", 1);
        if (r >= 0)
                r = fanout_collect(fds, n_subs, arg_events, /* slow= */ false, t_start, t_sent, &f->fanout, &total);
        if (r < 0)
                goto finish;
        if (have_cpu && nats_server_cpu(server, &cpu1) >= 0 && total > 0)
                f->fanout.broker_cpu_usec_per_delivery = (double) (cpu1 - cpu0) / (double) total;
        else
                f->fanout.broker_cpu_usec_per_delivery = NAN;
finish:
        natsConnection_Destroy(nc);
        return r;
}

struct nats_coordinator {
        const char *url;
        pid_t server;
        int fd;                         /* struct nats_figures to the benchmark */
};

static int nats_coordinator_run(void *userdata) {
        struct nats_coordinator *c = userdata;
        struct nats_figures f = {};
        _cleanup_free_ int *fds = calloc(arg_subscribers, sizeof(int));
        _cleanup_free_ pid_t *pids = calloc(arg_subscribers, sizeof(pid_t));
        natsConnection *nc = NULL;
        size_t n_subs = 0, n_echo = 0;
        int echo_fd = -EBADF, r;
        pid_t echo_pid = 0;

        if (!fds || !pids)
                return -ENOMEM;
        /* every helper before our own first use of libnats */
        r = nats_fork_children(c->url, 1, 0, nats_echo_run, &echo_fd, &echo_pid, &n_echo);
        if (r >= 0)
                r = nats_fork_children(c->url, arg_subscribers, arg_events, nats_sub_run, fds, pids, &n_subs);
        if (r >= 0)
                r = nats_connect(c->url, /* send_asap= */ true, &nc);
        if (r >= 0)
                r = nats_rpc_seq(nc, c->server, &f);
        if (r >= 0)
                r = nats_rpc_pipelined(nc, c->server, &f);
        natsConnection_Destroy(nc);
        if (r >= 0)
                r = nats_fanout(c->url, fds, n_subs, c->server, &f);
        if (nats_stop_children(&echo_fd, &echo_pid, n_echo) < 0 && r >= 0)
                r = -ECHILD;
        if (nats_stop_children(fds, pids, n_subs) < 0 && r >= 0)
                r = -ECHILD;
        nats_Close();
        f.error = r;
        return write_full(c->fd, &f, sizeof(f));
}

/* ---- the scenario ------------------------------------------------------------------------ */

static int nats_server_start(uint16_t port, pid_t *ret) {
        char p[16];
        pid_t pid;
        int r;

        snprintf(p, sizeof(p), "%u", port);
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                (void) signal(SIGPIPE, SIG_DFL);
                execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, (char *) NULL);
                _exit(127);
        }
        r = bench_tls_wait_port(port, BENCH_READY_TIMEOUT_USEC);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) bench_wait(pid, 10 * USEC_PER_SEC);
                tool_error("nats: nats-server did not come up (is it installed?)");
                return r;
        }
        *ret = pid;
        return 0;
}

int bench_nats(struct bench *b) {
        struct nats_figures f = {};
        char url[64];
        uint16_t port;
        pid_t server = 0, coordinator = 0;
        int sp[2] = { -EBADF, -EBADF }, r;

        r = bench_tls_free_port(&port);
        if (r >= 0)
                r = nats_server_start(port, &server);
        if (r < 0)
                return r;
        snprintf(url, sizeof(url), "nats://127.0.0.1:%u", port);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = -errno;
                goto finish;
        }
        struct nats_coordinator c = { .url = url, .server = server, .fd = sp[1] };
        r = bench_fork(&coordinator, &sp[0], 1, nats_coordinator_run, &c);
        sp[1] = safe_close(sp[1]);
        if (r < 0)
                goto finish;
        r = read_full(sp[0], &f, sizeof(f), 1800 * USEC_PER_SEC);
        if (bench_wait(coordinator, 30 * USEC_PER_SEC) < 0 && r >= 0)
                r = -ECHILD;
        if (r >= 0)
                r = f.error;
        if (r < 0)
                goto finish;

        bench_record(b, "nats", "calls_per_sec", "calls/s", f.seq_calls_per_sec);
        bench_record(b, "nats", "p50_usec", "µs", f.seq_p50_usec);
        bench_record(b, "nats", "p99_usec", "µs", f.seq_p99_usec);
        if (!isnan(f.seq_server_cpu_usec))
                bench_record(b, "nats", "daemon_cpu_usec_per_call", "µs", f.seq_server_cpu_usec);
        bench_record(b, "nats", "pipelined_calls_per_sec", "calls/s", f.pipelined_calls_per_sec);
        if (!isnan(f.pipelined_server_cpu_usec))
                bench_record(b, "nats", "pipelined_daemon_cpu_usec_per_call", "µs", f.pipelined_server_cpu_usec);
        fanout_record(b, "nats", "fanout_", &f.fanout);
finish:
        safe_close(sp[0]), safe_close(sp[1]);
        if (server > 0) {
                (void) kill(server, SIGTERM);
                (void) bench_wait(server, 10 * USEC_PER_SEC);
        }
        return r;
}
