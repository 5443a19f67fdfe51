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
#define BENCH_MAX_RUNS 99
#define BENCH_MAX_METRICS 64
#define BENCH_WARMUP 1000
#define BENCH_READY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define BENCH_CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define BENCH_FANOUT_IDLE_USEC (5 * USEC_PER_SEC)

enum bench_scenario {
        BENCH_FLOOR,
        BENCH_RPC_SEQ,
        BENCH_RPC_PIPELINED,
        BENCH_FANOUT,
        BENCH_IDLE,
        BENCH_DBUS,
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
extern uint64_t arg_idle;
extern uint64_t arg_tls_seconds;

/* One measured quantity, one value per run; reported as the median, with min and max. */
struct bench_metric {
        const char *scenario;
        const char *name;
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
pid_t conn_peer_pid(struct mbus_conn *conn);
int bench_connect(const char *address, const char *name, struct mbus_conn **ret);
int proc_cpu_split_usec(pid_t pid, usec_t *ret_user, usec_t *ret_sys);
int proc_cpu_usec(pid_t pid, usec_t *ret);
int proc_rss_kib(pid_t pid, uint64_t *ret);
json_object *bench_payload(uint64_t seq, size_t data_len);

/* broker.c: a broker of our own */
char *bench_find_broker(void);
void bench_broker_stop(struct bench_broker *bb);
int bench_broker_start(struct bench_broker *bb, const char *path, const struct bench_tls_files *tls);

/* echo.c: the echo service */
void bench_on_signal(int sig);
int echo_serve(const char *address, const char *ns, int ready_fd, int stop_fd);
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

/* scenario-fanout.c */
struct fanout_result {
        double published_per_sec, delivered_per_sec;
        uint64_t lost;
};
int fanout_run(const char *address, struct fanout_result *ret);
int bench_fanout(struct bench *b, const char *address);

/* scenario-idle.c */
int idle_run(const char *address, pid_t broker_pid, uint64_t *ret_rss_before, double *ret_kib_per_peer);
int bench_idle(struct bench *b, const char *address);

/* scenario-floor.c, peer-dbus.c, scenario-tls.c: each runs a whole scenario */
int bench_floor(struct bench *b);
int bench_dbus(struct bench *b);
int bench_tls(struct bench *b);

/* report.c */
int bench_print_json(const struct bench *b);
void bench_print_text(const struct bench *b);
