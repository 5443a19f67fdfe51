/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* mbus-bench: what its scenario, peer and reporting files share. */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "tools/bench/tls.h"
#include "util/time-util.h"

struct mbus_conn;

#ifndef MBUS_BENCH_BROKER_PATH
#define MBUS_BENCH_BROKER_PATH "mbus-broker"
#endif
#ifndef MBUS_BENCH_BROKER_INSTALLED
#define MBUS_BENCH_BROKER_INSTALLED "/usr/bin/mbus-broker"
#endif

#define BENCH_ECHO_NAMESPACE "org.mbus.Bench"
#define BENCH_FANOUT_NAMESPACE "org.mbus.BenchFanout"
#define BENCH_DBUS_NAME "org.mbus.BenchEcho"
/* rpc-seq-compat's identifiers, in the original's own style */
#define BENCH_COMPAT_ECHO "org.mbus.bench.compat-echo"
#define BENCH_COMPAT_CALLER "org.mbus.bench.compat-caller"
#define BENCH_MAX_RUNS 99
#define BENCH_MAX_METRICS 256
#define BENCH_WARMUP 1000
/* generous: on a loaded machine a helper may take many seconds to connect and subscribe */
#define BENCH_READY_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define BENCH_CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* How long a helper may take to exit: 256 sanitized subscribers exiting at once take long */
#define BENCH_EXIT_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* In the order each run runs them: a peer's figures come from the same run as mbus's. */
enum bench_scenario {
        BENCH_FLOOR,
        BENCH_RPC_SEQ,
        BENCH_RPC_PIPELINED,
        BENCH_RPC_CALLERS,
        BENCH_RPC_SEQ_WS,
        BENCH_RPC_SEQ_COMPAT,
        BENCH_FANOUT,
        BENCH_FANOUT_SCALE,
        BENCH_FANOUT_SLOW,
        BENCH_FANOUT_WS,
        BENCH_IDLE,
        BENCH_DBUS,
        BENCH_DBUS_BROKER,
        BENCH_NATS,
        BENCH_MBUS_ORIG,
        BENCH_TLS,
        _BENCH_SCENARIO_MAX,
};

extern const char *const bench_scenario_names[_BENCH_SCENARIO_MAX];

/* Parsed argv (main.c). */
extern const char *arg_address;
extern const char *arg_broker;
extern bool arg_json;
extern uint64_t arg_runs;
extern unsigned arg_scenarios;
extern uint64_t arg_calls;
extern uint64_t arg_window;
extern uint64_t arg_events;
extern uint64_t arg_subscribers;
extern uint64_t arg_pace;
extern uint64_t arg_idle;               /* the first of arg_idle_sizes, for tls */
extern uint64_t arg_idle_sizes[8];
extern size_t arg_n_idle_sizes;
extern uint64_t arg_tls_seconds;
extern const char *arg_compat_address;  /* with --address: the same broker's compat+unix: listener */
extern const char *arg_orig_broker;     /* the original mBus broker, else $MBUS_ORIG_BROKER */
extern bool arg_ws_json;                /* WebSocket peers send JSON text, not binary frames */

/* One measured quantity, one value per run; reported as the median, with min and max. */
struct bench_metric {
        char scenario[32];
        char name[48];                  /* copied: scaling scenarios format theirs ("s64_...") */
        const char *unit;
        double values[BENCH_MAX_RUNS];
        size_t n_values;
};

struct bench {
        struct bench_metric metrics[BENCH_MAX_METRICS];
        size_t n_metrics;
        char *broker_path;              /* NULL with --address */
        long n_cpus;
        double loadavg_start, loadavg_end;      /* 1 min, NAN if unknown: other load skews it all */
        struct bench_tls_files tls;             /* for the tls scenario only */
};

/* A broker of our own: its process and the temporary directory holding its socket. */
struct bench_broker {
        pid_t pid;
        char *dir;
        char *address;
        char *tls_address;              /* with TLS: the client's address, the files as parameters */
        uint16_t tls_port;
        char *policy_dir;               /* with TLS: dir/policy.d, admitting certificate peers */
};


static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* stats.c: figures per run, medians, percentiles */
int cmp_u64(const void *a, const void *b);
int cmp_double(const void *a, const void *b);
uint64_t now_nsec(void);
uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p);
void bench_record(struct bench *b, const char *scenario, const char *name, const char *unit, double value);
const struct bench_metric *bench_find(const struct bench *b, const char *scenario, const char *name);
double metric_median(const struct bench_metric *m);
double metric_extreme(const struct bench_metric *m, int sign);
double bench_median(const struct bench *b, const char *scenario, const char *name);

/* util.c: pipes, helper processes, /proc */
int read_full(int fd, void *buf, size_t size, usec_t timeout);
int read_exact(int fd, void *buf, size_t size);
int write_full(int fd, const void *buf, size_t size);
int bench_fork(pid_t *ret, const int *close_fds, size_t n_close_fds, int (*fn)(void *userdata), void *userdata);
int bench_wait(pid_t pid, usec_t timeout);
/*
 * Forks a helper that runs fn(userdata, fd) on its end of a new socketpair, and waits up to
 * BENCH_READY_TIMEOUT_USEC for its first byte there ("ready"). Returns 0 with the helper's pid
 * and the parent's end of the pair; on failure the helper is reaped. close_fds: the parent's
 * ends of earlier helpers, which the new one must not keep open (they would hide their EOF).
 */
int bench_start_child(pid_t *ret_pid, int *ret_fd, const int *close_fds, size_t n_close_fds,
                      int (*fn)(void *userdata, int fd), void *userdata);
pid_t conn_peer_pid(struct mbus_conn *conn);
int bench_connect(const char *address, const char *name, struct mbus_conn **ret);
int proc_cpu_split_usec(pid_t pid, usec_t *ret_user, usec_t *ret_sys);
int proc_cpu_usec(pid_t pid, usec_t *ret);
int proc_rss_kib(pid_t pid, uint64_t *ret);
json_object *bench_payload(uint64_t seq, size_t data_len);

/* broker.c: a broker of our own */
char *bench_find_broker(void);
void bench_broker_stop(struct bench_broker *bb);
/* extra_args: NULL, or more broker options (a NULL-terminated list), e.g. larger limits */
int bench_broker_start(struct bench_broker *bb, const char *path, const struct bench_tls_files *tls,
                       const char *const *extra_args);
/* The same with a policy directory of its own that opens the benchmark's namespaces to every
 * peer, also those identified by address or certificate only (WebSocket, TLS). */
int bench_broker_start_open(struct bench_broker *bb, const char *path, const char *const *extra_args);
/* Stops the broker with SIGTERM, waiting up to timeout for it to exit; returns the time it took
 * to exit (0 if there was no broker to stop), or USEC_INFINITY if it had to be killed. */
usec_t bench_broker_stop_timed(struct bench_broker *bb, usec_t timeout);

/* echo.c: the echo service */
void bench_on_signal(int sig);
int echo_serve(const char *address, const char *ns, int ready_fd, int stop_fd);
/* A service's body in its own process: serves at address, writes one byte to ready_fd once it
 * can be called, returns when stop_fd becomes readable (closed). */
typedef int (*bench_serve_t)(const char *address, int ready_fd, int stop_fd);
/* Forks serve and waits for its ready byte; closing *ret_stop_fd makes it exit (echo_stop()). */
int bench_start_service(bench_serve_t serve, const char *address, pid_t *ret_pid, int *ret_stop_fd);
/* Starts the echo service of BENCH_ECHO_NAMESPACE; closing *ret_stop_fd makes it exit. */
int echo_start(const char *address, pid_t *ret_pid, int *ret_stop_fd);
int echo_stop(pid_t pid, int stop_fd);

/* scenario-rpc.c */
/* What one rpc-seq run measured; the CPU figures are NAN when the broker's pid is unknown. */
struct rpc_seq_result {
        double calls_per_sec, p50_usec, p99_usec;
        double broker_cpu_usec, broker_user_usec, broker_sys_usec;     /* per call */
};
int rpc_seq_run(const char *address, pid_t broker_pid, struct rpc_seq_result *ret);
int bench_rpc_seq(struct bench *b, const char *address);
int bench_rpc_pipelined(struct bench *b, const char *address);
int bench_rpc_callers(struct bench *b, const char *address);
/* scenario-ws.c: rpc-seq-ws and fanout-ws on a broker of their own with UNIX and WebSocket
 * listeners; rpc-seq and fanout with every peer on the WebSocket listener at address */
int bench_rpc_seq_ws(struct bench *b);
/* scenario-compat.c: rpc-seq in the original mBus protocol (peer-orig.c: against its broker) */
struct compat_seq_result {
        struct rpc_seq_result rpc;      /* no user/sys split */
        uint64_t answered;              /* measured calls whose result carried the call's payload */
};
/* Calls an echo service of its own at the socket path (PATH:PORT as bound); broker_pid: 0 to
 * take it from the socket; what names the scenario in messages. */
int compat_rpc_seq_run(const char *path, pid_t broker_pid, const char *what, struct compat_seq_result *ret);
/* Records calls/s, p50, p99 and the calls answered as figures of scenario. */
void compat_seq_record(struct bench *b, const char *scenario, const struct compat_seq_result *res);
/* Whether address is a compat+unix: address mbus-bench can call. */
bool bench_compat_address_valid(const char *address);
int bench_rpc_seq_compat(struct bench *b);
int bench_mbus_orig(struct bench *b);
int bench_fanout_ws(struct bench *b);
int bench_ws_rpc_seq(struct bench *b, const char *address);
int bench_ws_fanout(struct bench *b, const char *address);

struct fanout_result {
        double published_per_sec, delivered_per_sec;
        uint64_t lost;                  /* by every subscriber but a slow one, by sequence number */
        uint64_t duplicates, reordered, invalid;        /* by every subscriber */
        double broker_cpu_usec_per_delivery;            /* NAN when the broker's pid is unknown */
        double subscriber_cpu_usec_per_delivery;
        double slow_missed, broker_dropped;             /* slow only, else NAN */
        /* mbus's fanout only (0 elsewhere): the publisher's CPU per event, and the CPU time of
         * publisher, broker and subscribers over the wall time of the run (2.0: two CPUs busy) */
        double publisher_cpu_usec_per_event, cpus_busy;
};

/* What a fanout subscriber (of mbus or of a peer) tells the parent when it is done. */
struct fanout_report {
        uint64_t received;              /* events, duplicates included */
        uint64_t distinct;              /* different sequence numbers */
        uint64_t duplicates;            /* a number seen again */
        uint64_t reordered;             /* a number below one seen before (and new) */
        uint64_t invalid;               /* no sequence number, or one never published */
        uint64_t cpu_usec;              /* the subscriber's own CPU time, subscribed to done */
        usec_t last_usec;               /* when the last event came */
        int32_t error;
};

/* A subscriber's sequence check: a bit per number it may see. */
struct fanout_seq {
        uint8_t *seen;
        uint64_t n_events, highest;     /* highest: 1 + the largest number seen so far */
        struct fanout_report rep;
};
int fanout_seq_init(struct fanout_seq *s, uint64_t n_events);
void fanout_seq_done(struct fanout_seq *s);
/* Bytes of "data" in a fan-out event: with the sequence number, about 100 bytes of JSON. */
#define FANOUT_DATA_LEN 80
#define FANOUT_PAYLOAD_MAX 128
/*
 * The payload of fan-out event seq as JSON text, {"seq":N,"data":"xx..."}, as every publisher
 * (mbus's and the peers') sends it: formatted by hand, as a publisher that counts its costs
 * would, the same text bench_payload(seq, FANOUT_DATA_LEN) serializes to. Returns its length;
 * buf has size >= FANOUT_PAYLOAD_MAX bytes.
 */
size_t fanout_payload_text(char *buf, size_t size, uint64_t seq);
/*
 * The sequence number of a payload as the publishers write it, {"seq":N,...} (JSON text of
 * len bytes, not NUL-terminated), without parsing the JSON; -1 if it does not start so.
 */
int64_t fanout_seq_of(const char *data, size_t len);
/* Counts one event; seq < 0 when it carried no number. */
void fanout_seq_note(struct fanout_seq *s, int64_t seq);
/* The calling process's CPU time, µs. */
usec_t fanout_cpu_usec(void);
/*
 * Reads the reports of n subscribers after they were told to finish: n_events each, the last
 * one slow if slow. Fills the counts, delivered/s from t_start and the subscribers' CPU per
 * delivery of res; *ret_total: deliveries. Returns 0, or a negative errno after saying why.
 */
int fanout_collect(const int *fds, size_t n, uint64_t n_events, bool slow, usec_t t_start, usec_t t_sent,
                   struct fanout_result *res, uint64_t *ret_total);

/* scenario-fanout.c */
/* slow: the last of the n_subscribers reads slowly (fanout-slow) */
int fanout_run(const char *address, uint64_t n_subscribers, uint64_t n_events, bool slow,
               struct fanout_result *ret);
/* Records res as figures prefix<name> of scenario. */
void fanout_record(struct bench *b, const char *scenario, const char *prefix, const struct fanout_result *res);
int bench_fanout(struct bench *b, const char *address);
int bench_fanout_scale(struct bench *b, const char *address);
int bench_fanout_slow(struct bench *b);

/* scenario-idle.c */
int idle_run(const char *address, pid_t broker_pid, uint64_t *ret_rss_before, double *ret_kib_per_peer);
int bench_idle(struct bench *b);

/* scenario-floor.c, peer-dbus.c, scenario-tls.c: each runs a whole scenario */
int bench_floor(struct bench *b);
enum bench_dbus_kind {
        BENCH_DBUS_DAEMON,              /* scenario "dbus" */
        BENCH_DBUS_BROKER_LAUNCH,       /* scenario "dbus-broker" */
        _BENCH_DBUS_KIND_MAX,
};
int bench_dbus(struct bench *b, enum bench_dbus_kind kind);
/* peer-nats.c, built with libnats only: -EOPNOTSUPP without */
int bench_nats(struct bench *b);
int bench_tls(struct bench *b);

/* report.c */
int bench_print_json(const struct bench *b);
void bench_print_text(const struct bench *b);
