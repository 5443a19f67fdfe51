/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench: measures a broker, and the machine it runs on, in one run so that the targets
 * can be stated as ratios in which machine noise cancels.
 *
 * Scenarios (each one run --runs times; every figure is reported as the median over the runs,
 * with the minimum and maximum):
 *   floor          two processes ping-pong 64 bytes over a socketpair, no broker: the round
 *                  trip any bus must add its own work to
 *   rpc-seq        one caller, one echo service in another process, sequential mbus_call()s
 *                  with {"seq":N,"data":"<64 x>"}: calls/s, latency p50/p99, and the broker's
 *                  CPU time per call (from /proc/PID/schedstat, else /proc/PID/stat)
 *   rpc-pipelined  the same with 64 calls outstanding through mbus_call_async(): calls/s
 *   fanout         one publisher, 8 subscriber processes, 100,000 events of ~100 bytes:
 *                  delivered/s and events lost; the publisher sends an mbus_ping() every
 *                  --pace events so it cannot run ahead of the broker by more than that
 *   idle           N idle connections: growth of the broker's VmRSS per peer
 *   dbus           (--peer dbus) rpc-seq against a private dbus-daemon through sd-bus
 *   tls            (--scenario tls) a broker listening on a socket and on TLS: rpc-seq over
 *                  each and the ratio, fanout over TLS, full and resumed handshakes/s, the
 *                  same against openssl s_server timed by openssl s_time, and KiB per idle
 *                  peer of each; certificates made with the openssl command unless given
 *
 * Without --address every scenario run gets a fresh mbus-broker of its own on a socket in a
 * temporary directory (so idle memory is not flattered by memory freed by an earlier run);
 * with --address it uses that broker and finds its pid with SO_PEERCRED (a tcp:// or tls://
 * address, passed through to libmbus, tells no pid: no broker CPU figures, no idle).
 *
 * Every helper process is forked before the parent opens a connection, reports "ready" and
 * its results through a pipe, and exits when the pipe's other end closes: nothing depends on
 * sleeps, and nothing outlives the benchmark.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>
#include <systemd/sd-bus.h>

#include "config.h"
#include "proto/names.h"
#include "tools/bench-tls.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

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

static const char *const bench_scenario_names[_BENCH_SCENARIO_MAX] = {
        [BENCH_FLOOR] = "floor",
        [BENCH_RPC_SEQ] = "rpc-seq",
        [BENCH_RPC_PIPELINED] = "rpc-pipelined",
        [BENCH_FANOUT] = "fanout",
        [BENCH_IDLE] = "idle",
        [BENCH_DBUS] = "dbus",
        [BENCH_TLS] = "tls",
};

/* Not in the default set: they need another program (dbus-daemon; openssl) and take longer. */
#define BENCH_SCENARIOS_OPTIONAL ((1u << BENCH_DBUS) | (1u << BENCH_TLS))

static const char *arg_address = NULL;
static const char *arg_broker = NULL;
static bool arg_json = false;
static uint64_t arg_runs = 1;
static unsigned arg_scenarios = 0;      /* bit per enum bench_scenario; 0: the default set */
static uint64_t arg_calls = 20000;
static uint64_t arg_window = 64;
static uint64_t arg_events = 100000;
static uint64_t arg_subscribers = 8;
static uint64_t arg_pace = 1000;
static uint64_t arg_idle = 1000;
static const char *arg_tls_cert = NULL;         /* the client's; handed to libmbus as $MBUS_TLS_* */
static const char *arg_tls_key = NULL;
static const char *arg_tls_ca = NULL;
static const char *arg_broker_tls_cert = NULL;
static const char *arg_broker_tls_key = NULL;
static uint64_t arg_tls_seconds = 2;

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

/* The benchmark's namespaces, open to everyone: certificate peers get nothing by default. */
static const char *const bench_policy_namespaces[] = { BENCH_ECHO_NAMESPACE, BENCH_FANOUT_NAMESPACE };

/* What a fanout subscriber tells the parent when it is done. */
struct fanout_report {
        uint64_t received;
        usec_t last_usec;
        int32_t error;
        bool got_done;
};

static volatile sig_atomic_t bench_stop = 0;

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Latencies are taken in ns: the floor is a few µs, where µs steps would be 10% each. */
static uint64_t now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* Percentile of sorted values: the smallest value with at least p% of values at or below. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (n * p + 99) / 100;
        return sorted[i > 0 ? i - 1 : 0];
}

static void bench_record(struct bench *b, const char *scenario, const char *name, const char *unit,
                         double value) {
        struct bench_metric *m = NULL;

        for (size_t i = 0; i < b->n_metrics; i++)
                if (strcmp(b->metrics[i].scenario, scenario) == 0 && strcmp(b->metrics[i].name, name) == 0) {
                        m = &b->metrics[i];
                        break;
                }
        if (!m) {
                assert(b->n_metrics < BENCH_MAX_METRICS);
                m = &b->metrics[b->n_metrics++];
                *m = (struct bench_metric) { .scenario = scenario, .name = name, .unit = unit };
        }
        if (m->n_values < BENCH_MAX_RUNS)
                m->values[m->n_values++] = value;
}

static const struct bench_metric *bench_find(const struct bench *b, const char *scenario,
                                             const char *name) {
        for (size_t i = 0; i < b->n_metrics; i++)
                if (strcmp(b->metrics[i].scenario, scenario) == 0 && strcmp(b->metrics[i].name, name) == 0)
                        return &b->metrics[i];
        return NULL;
}

static double metric_median(const struct bench_metric *m) {
        double v[BENCH_MAX_RUNS];

        if (!m || m->n_values == 0)
                return NAN;
        memcpy(v, m->values, m->n_values * sizeof(double));
        qsort(v, m->n_values, sizeof(double), cmp_double);
        if (m->n_values % 2)
                return v[m->n_values / 2];
        return (v[m->n_values / 2 - 1] + v[m->n_values / 2]) / 2;
}

/* The smallest (sign -1) or largest (sign 1) value over the runs: how far the runs spread. */
static double metric_extreme(const struct bench_metric *m, int sign) {
        double v;

        if (!m || m->n_values == 0)
                return NAN;
        v = m->values[0];
        for (size_t i = 1; i < m->n_values; i++)
                if (sign * (m->values[i] - v) > 0)
                        v = m->values[i];
        return v;
}

static double bench_median(const struct bench *b, const char *scenario, const char *name) {
        return metric_median(bench_find(b, scenario, name));
}

static int read_full(int fd, void *buf, size_t size, usec_t timeout) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        size_t done = 0;

        while (done < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                usec_t n = now_usec(CLOCK_MONOTONIC);
                ssize_t k;
                int r;

                if (n >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) MIN((deadline - n + 999) / 1000, (usec_t) INT_MAX));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                k = read(fd, (char *) buf + done, size - done);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                done += k;
        }
        return 0;
}

/* Plain blocking reads, no poll(): the floor must be the cheapest round trip there is. */
static int read_exact(int fd, void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t k = read(fd, (char *) buf + done, size - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                done += k;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t k = write(fd, (const char *) buf + done, size - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                done += k;
        }
        return 0;
}

/*
 * Forks a helper that runs fn(userdata) and exits 0 if it returned >= 0. The helper first
 * closes the n_close_fds fds in close_fds: the parent's ends of its pipes, whose copies would
 * otherwise keep the helper from ever seeing EOF on its own end.
 */
static int bench_fork(pid_t *ret, const int *close_fds, size_t n_close_fds, int (*fn)(void *userdata),
                      void *userdata) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r;

                for (size_t i = 0; i < n_close_fds; i++)
                        safe_close(close_fds[i]);
                r = fn(userdata);
                if (r < 0)
                        fprintf(stderr, "mbus-bench: helper process failed: %s\n", strerror(-r));
                exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        *ret = pid;
        return 0;
}

/* Waits for a helper; returns 0 if it exited 0, -ECHILD otherwise. Kills it after timeout. */
static int bench_wait(pid_t pid, usec_t timeout) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == pid)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        return -ETIMEDOUT;
                }
                (void) usleep(2000);
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* The broker's pid, from the credentials of our connection's socket. */
static pid_t conn_peer_pid(struct mbus_conn *conn) {
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        int fd = mbus_conn_get_fd(conn);

        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return 0;
        return cred.pid;
}

/* mbus_conn_open() that says why a connection failed (a refused certificate, say) once. */
static int bench_connect(const char *address, const char *name, struct mbus_conn **ret) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        r = mbus_conn_open_with_error(ret, address, name, &error);
        if (r < 0)
                tool_error("cannot connect to %s: %s", address, error.message ?: strerror(-r));
        return r;
}

/* User and system CPU time of the process from /proc/PID/stat, µs, in clock ticks (10 ms). */
static int proc_cpu_split_usec(pid_t pid, usec_t *ret_user, usec_t *ret_sys) {
        _cleanup_free_ char *line = NULL;
        char path[64];
        FILE *f;
        size_t n = 0;
        unsigned long long utime, stime;
        usec_t tick = USEC_PER_SEC / (usec_t) sysconf(_SC_CLK_TCK);
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (getline(&line, &n, f) < 0) {
                fclose(f);
                return -EIO;
        }
        fclose(f);
        p = strrchr(line, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EIO;
        *ret_user = utime * tick;
        *ret_sys = stime * tick;
        return 0;
}

/* CPU time (user + system) the process has used, µs: from /proc/PID/schedstat (the main
 * thread's run time in ns; the broker has one thread) if the kernel keeps it, else stat. */
static int proc_cpu_usec(pid_t pid, usec_t *ret) {
        char path[64];
        unsigned long long ns;
        usec_t user = 0, sys = 0;
        FILE *f;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int) pid);
        f = fopen(path, "re");
        if (f) {
                int k = fscanf(f, "%llu", &ns);
                fclose(f);
                if (k == 1 && ns > 0) {
                        *ret = ns / 1000;
                        return 0;
                }
        }
        r = proc_cpu_split_usec(pid, &user, &sys);
        if (r < 0)
                return r;
        *ret = user + sys;
        return 0;
}

/* Resident set size of the process in KiB. */
static int proc_rss_kib(pid_t pid, uint64_t *ret) {
        char path[64], line[256];
        FILE *f;
        int r = -ENOENT;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "VmRSS:", 6) == 0) {
                        unsigned long long kb;
                        if (sscanf(line + 6, "%llu", &kb) == 1) {
                                *ret = kb;
                                r = 0;
                        }
                        break;
                }
        fclose(f);
        return r;
}

static json_object *bench_payload(uint64_t seq, size_t data_len) {
        char data[256];
        json_object *o;

        assert(data_len < sizeof(data));
        memset(data, 'x', data_len);
        data[data_len] = 0;
        o = json_object_new_object();
        if (!o)
                return NULL;
        if (json_object_object_add(o, "seq", json_object_new_int64((int64_t) seq)) < 0 ||
            json_object_object_add(o, "data", json_object_new_string(data)) < 0)
                return json_object_put(o), NULL;
        return o;
}

/* ---- the broker -------------------------------------------------------------------------- */

static char *bench_find_broker(void) {
        char self[PATH_MAX], *slash;
        const char *env;
        ssize_t k;

        if (arg_broker)
                return strdup(arg_broker);
        env = getenv("MBUS_BROKER");
        if (env && *env)
                return strdup(env);

        /* next to us: in a build tree tools/../daemon/mbus-broker, installed bindir/mbus-broker */
        k = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (k > 0) {
                char cand[PATH_MAX + 32];

                self[k] = 0;
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        snprintf(cand, sizeof(cand), "%s/../daemon/mbus-broker", self);
                        if (access(cand, X_OK) == 0)
                                return realpath(cand, NULL);
                        snprintf(cand, sizeof(cand), "%s/mbus-broker", self);
                        if (access(cand, X_OK) == 0)
                                return strdup(cand);
                }
        }
        if (access(MBUS_BENCH_BROKER_PATH, X_OK) == 0)
                return strdup(MBUS_BENCH_BROKER_PATH);
        if (access(MBUS_BENCH_BROKER_INSTALLED, X_OK) == 0)
                return strdup(MBUS_BENCH_BROKER_INSTALLED);
        errno = ENOENT;
        return NULL;
}

static void bench_broker_stop(struct bench_broker *bb) {
        if (bb->pid > 0) {
                int r;

                (void) kill(bb->pid, SIGTERM);
                r = bench_wait(bb->pid, 10 * USEC_PER_SEC);
                if (r < 0)
                        tool_error("warning: mbus-broker (pid %d) did not exit cleanly on SIGTERM: %s",
                                   (int) bb->pid, r == -ECHILD ? "non-zero exit status" : strerror(-r));
                bb->pid = 0;
        }
        if (bb->address) {
                (void) unlink(bb->address);
                bb->address = mfree(bb->address);
        }
        bb->tls_address = mfree(bb->tls_address);
        if (bb->policy_dir) {
                for (size_t i = 0; i < ELEMENTSOF(bench_policy_namespaces); i++) {
                        _cleanup_free_ char *f = NULL;

                        if (asprintf(&f, "%s/%s.json", bb->policy_dir, bench_policy_namespaces[i]) >= 0)
                                (void) unlink(f);
                }
                (void) rmdir(bb->policy_dir);
                bb->policy_dir = mfree(bb->policy_dir);
        }
        if (bb->dir) {
                (void) rmdir(bb->dir);
                bb->dir = mfree(bb->dir);
        }
}

/* Writes dir/policy.d with a file per benchmark namespace that lets every peer use it. */
static int bench_broker_write_policy(struct bench_broker *bb) {
        if (asprintf(&bb->policy_dir, "%s/policy.d", bb->dir) < 0) {
                bb->policy_dir = NULL;
                return -ENOMEM;
        }
        if (mkdir(bb->policy_dir, 0700) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(bench_policy_namespaces); i++) {
                _cleanup_free_ char *path = NULL;
                FILE *f;
                int r = 0;

                if (asprintf(&path, "%s/%s.json", bb->policy_dir, bench_policy_namespaces[i]) < 0)
                        return -ENOMEM;
                f = fopen(path, "we");
                if (!f)
                        return -errno;
                fprintf(f, "{\"namespace\": \"%s\", \"rules\": [\n"
                           "  {\"allow\": \"own\", \"user\": \"*\"},\n"
                           "  {\"allow\": \"call\", \"member\": \"*\", \"user\": \"*\"},\n"
                           "  {\"allow\": \"subscribe\", \"member\": \"*\", \"user\": \"*\"}]}\n",
                        bench_policy_namespaces[i]);
                if (fflush(f) != 0 || ferror(f))
                        r = -EIO;
                fclose(f);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * Starts a broker on a socket in a new temporary directory; with tls also on a TLS listener on
 * a free port of 127.0.0.1, reading the policy of that directory only (see above).
 */
static int bench_broker_start(struct bench_broker *bb, const char *path, const struct bench_tls_files *tls) {
        char tmpl[] = "/tmp/mbus-bench-XXXXXX", listen_tls[64];
        usec_t deadline;
        pid_t pid;
        int r;

        *bb = (struct bench_broker) {};
        if (!mkdtemp(tmpl))
                return -errno;
        bb->dir = strdup(tmpl);
        if (!bb->dir || asprintf(&bb->address, "%s/socket", tmpl) < 0) {
                bb->address = NULL;
                bench_broker_stop(bb);
                return -ENOMEM;
        }
        if (tls) {
                r = bench_tls_free_port(&bb->tls_port);
                if (r >= 0)
                        r = bench_broker_write_policy(bb);
                if (r >= 0 && asprintf(&bb->tls_address, "tls://127.0.0.1:%u?cert=%s&key=%s&ca=%s", bb->tls_port,
                                       tls->cert, tls->key, tls->ca) < 0) {
                        bb->tls_address = NULL;
                        r = -ENOMEM;
                }
                if (r < 0) {
                        bench_broker_stop(bb);
                        return r;
                }
                snprintf(listen_tls, sizeof(listen_tls), "tls://127.0.0.1:%u", bb->tls_port);
        }

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                bench_broker_stop(bb);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                (void) signal(SIGPIPE, SIG_DFL);
                if (tls)
                        execl(path, path, "--listen", bb->address, "--listen", listen_tls, "--tls-cert",
                              tls->server_cert, "--tls-key", tls->server_key, "--tls-ca", tls->ca,
                              "--config-dir", bb->dir, "--log-target", "console", "--log-level", "warning",
                              (char *) NULL);
                else
                        execl(path, path, "--address", bb->address, "--log-target", "console",
                              "--log-level", "warning", (char *) NULL);
                fprintf(stderr, "mbus-bench: cannot execute %s: %m\n", path);
                _exit(127);
        }
        bb->pid = pid;

        /* Ready when a client can complete the handshake. */
        deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);
        for (;;) {
                struct mbus_conn *c = NULL;
                int status;

                r = mbus_conn_open(&c, bb->address, "mbus-bench");
                if (r >= 0) {
                        mbus_conn_unref(c);
                        return 0;
                }
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        bb->pid = 0;
                        bench_broker_stop(bb);
                        return -ECHILD;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        bench_broker_stop(bb);
                        return -ETIMEDOUT;
                }
                (void) usleep(5000);
        }
}

/* ---- the echo service (rpc scenarios and `mbus-bench serve-echo`) ------------------------ */

static int echo_on_echo(struct mbus_request *request, json_object *args, void *userdata) {
        return mbus_request_reply(request, args);
}

static const struct mbus_procedure echo_procedures[] = {
        { "Echo", echo_on_echo },
};

static void bench_on_signal(int sig) {
        bench_stop = 1;
}

/*
 * Serves ns until SIGTERM/SIGINT, until stop_fd (if >= 0) hangs up or turns readable, or until
 * the connection breaks. Writes one byte to ready_fd (if >= 0) once registered.
 */
static int echo_serve(const char *address, const char *ns, int ready_fd, int stop_fd) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        r = tool_connect(address, &conn);
        if (r < 0)
                return r;
        r = mbus_register(conn, ns, echo_procedures, ELEMENTSOF(echo_procedures), NULL, NULL, &error);
        if (r < 0) {
                tool_print_failure("cannot register the echo namespace", r, &error);
                return r;
        }
        if (ready_fd >= 0) {
                r = write_full(ready_fd, "R", 1);
                if (r < 0)
                        return r;
        }

        while (!bench_stop) {
                struct pollfd p[2];
                uint64_t until;
                int timeout = -1;

                r = mbus_conn_process(conn);
                if (r < 0) {
                        tool_error("echo service: connection to the broker failed: %s", strerror(-r));
                        return r;
                }
                if (r > 0)
                        continue;

                p[0] = (struct pollfd) { .fd = mbus_conn_get_fd(conn), .events = mbus_conn_get_events(conn) };
                p[1] = (struct pollfd) { .fd = stop_fd, .events = POLLIN };
                if (mbus_conn_get_timeout(conn, &until) >= 0 && until != UINT64_MAX) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= n ? 0 : (int) MIN((until - n + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, stop_fd >= 0 ? 2 : 1, timeout);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && stop_fd >= 0 && p[1].revents)
                        break;
        }
        return 0;
}

struct echo_child {
        const char *address;
        int ready_fd;
        int stop_fd;
};

static int echo_child_run(void *userdata) {
        struct echo_child *c = userdata;
        return echo_serve(c->address, BENCH_ECHO_NAMESPACE, c->ready_fd, c->stop_fd);
}

/* Starts an echo service process; closing *ret_stop_fd makes it exit. */
static int echo_start(const char *address, pid_t *ret_pid, int *ret_stop_fd) {
        int ready[2], stop[2], r;
        char c;
        pid_t pid = 0;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(stop, O_CLOEXEC) < 0) {
                r = -errno;
                safe_close(ready[0]), safe_close(ready[1]);
                return r;
        }
        struct echo_child child = { .address = address, .ready_fd = ready[1], .stop_fd = stop[0] };
        r = bench_fork(&pid, (const int[]) { ready[0], stop[1] }, 2, echo_child_run, &child);
        safe_close(ready[1]);
        safe_close(stop[0]);
        if (r < 0) {
                safe_close(ready[0]), safe_close(stop[1]);
                return r;
        }
        r = read_full(ready[0], &c, 1, BENCH_READY_TIMEOUT_USEC);
        safe_close(ready[0]);
        if (r < 0) {
                safe_close(stop[1]);
                (void) bench_wait(pid, 0);
                return r;
        }
        *ret_pid = pid;
        *ret_stop_fd = stop[1];
        return 0;
}

static int echo_stop(pid_t pid, int stop_fd) {
        safe_close(stop_fd);
        return bench_wait(pid, 10 * USEC_PER_SEC);
}

/* ---- floor ------------------------------------------------------------------------------- */

static int floor_child_run(void *userdata) {
        int fd = *(int *) userdata;
        char buf[64];

        for (;;) {
                int r = read_exact(fd, buf, sizeof(buf));
                if (r == -EPIPE)
                        return 0;
                if (r < 0)
                        return r;
                r = write_full(fd, buf, sizeof(buf));
                if (r < 0)
                        return r;
        }
}

static int bench_floor(struct bench *b) {
        _cleanup_free_ uint64_t *lat = NULL;
        usec_t cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;
        char buf[64];
        int sp[2], r = 0;
        pid_t pid = 0;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        r = bench_fork(&pid, &sp[0], 1, floor_child_run, &sp[1]);
        safe_close(sp[1]);
        if (r < 0) {
                safe_close(sp[0]);
                return r;
        }

        memset(buf, 'x', sizeof(buf));
        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                uint64_t t0;

                if (i == BENCH_WARMUP)
                        have_cpu = proc_cpu_usec(pid, &cpu0) >= 0;
                t0 = now_nsec();

                r = write_full(sp[0], buf, sizeof(buf));
                if (r >= 0)
                        r = read_exact(sp[0], buf, sizeof(buf));
                if (r < 0)
                        break;
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        if (have_cpu)
                have_cpu = proc_cpu_usec(pid, &cpu1) >= 0;
        safe_close(sp[0]);
        if (bench_wait(pid, 10 * USEC_PER_SEC) < 0 && r >= 0)
                r = -ECHILD;
        if (r < 0)
                return r;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        bench_record(b, "floor", "rtt_p50_usec", "µs", percentile(lat, arg_calls, 50) / 1000.0);
        bench_record(b, "floor", "rtt_p99_usec", "µs", percentile(lat, arg_calls, 99) / 1000.0);
        /* What one read() + one write() on a socket cost on this machine: the broker does
         * three times that per call (read and forward the CALL, then the RETURN). */
        if (have_cpu)
                bench_record(b, "floor", "echo_cpu_usec_per_rtt", "µs",
                             (double) (cpu1 - cpu0) / (double) arg_calls);
        return 0;
}

/* ---- rpc-seq ----------------------------------------------------------------------------- */

/* What one rpc-seq run measured; the CPU figures are NAN when the broker's pid is unknown. */
struct rpc_seq_result {
        double calls_per_sec, p50_usec, p99_usec;
        double broker_cpu_usec, broker_user_usec, broker_sys_usec;     /* per call */
};

/* broker_pid: 0 to take it from the connection (a UNIX socket's peer credentials). */
static int rpc_seq_run(const char *address, pid_t broker_pid, struct rpc_seq_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_free_ uint64_t *lat = NULL;
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0, user0 = 0, user1 = 0, sys0 = 0, sys1 = 0;
        bool have_cpu = false, have_split = false;
        pid_t echo_pid = 0;
        int stop_fd = -EBADF, r;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        r = echo_start(address, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("rpc-seq: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        r = bench_connect(address, "mbus-bench", &conn);
        if (r < 0)
                goto finish;
        if (broker_pid <= 0)
                broker_pid = conn_peer_pid(conn);

        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
                _cleanup_json_ json_object *args = NULL, *result = NULL;
                json_object *seq;
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
                        have_split = broker_pid > 0 && proc_cpu_split_usec(broker_pid, &user0, &sys0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                args = bench_payload(i, 64);
                if (!args) {
                        r = -ENOMEM;
                        goto finish;
                }
                t0 = now_nsec();        /* the call itself, as the floor's write+read */
                r = mbus_call(conn, BENCH_ECHO_NAMESPACE, "Echo", args, BENCH_CALL_TIMEOUT_USEC, &result, &error);
                if (r < 0) {
                        tool_print_failure("rpc-seq: call failed", r, &error);
                        goto finish;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
                if (!json_object_object_get_ex(result, "seq", &seq) ||
                    json_object_get_int64(seq) != (int64_t) i) {
                        tool_error("rpc-seq: the echo service returned something else than its arguments");
                        r = -EBADMSG;
                        goto finish;
                }
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        if (have_split)
                have_split = proc_cpu_split_usec(broker_pid, &user1, &sys1) >= 0;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        *ret = (struct rpc_seq_result) {
                .calls_per_sec = (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u),
                .p50_usec = percentile(lat, arg_calls, 50) / 1000.0,
                .p99_usec = percentile(lat, arg_calls, 99) / 1000.0,
                .broker_cpu_usec = have_cpu ? (double) (cpu1 - cpu0) / (double) arg_calls : NAN,
                /* in clock ticks: coarse, but tells the kernel's share from the broker's own code */
                .broker_user_usec = have_split ? (double) (user1 - user0) / (double) arg_calls : NAN,
                .broker_sys_usec = have_split ? (double) (sys1 - sys0) / (double) arg_calls : NAN,
        };
        r = 0;
finish:
        conn = mbus_conn_unref(conn);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0) {
                tool_error("rpc-seq: the echo service did not exit cleanly");
                r = -ECHILD;
        }
        return r;
}

static int bench_rpc_seq(struct bench *b, const char *address) {
        struct rpc_seq_result res = {};
        int r;

        r = rpc_seq_run(address, /* broker_pid= */ 0, &res);
        if (r < 0)
                return r;
        bench_record(b, "rpc-seq", "calls_per_sec", "calls/s", res.calls_per_sec);
        bench_record(b, "rpc-seq", "p50_usec", "µs", res.p50_usec);
        bench_record(b, "rpc-seq", "p99_usec", "µs", res.p99_usec);
        if (!isnan(res.broker_cpu_usec))
                bench_record(b, "rpc-seq", "broker_cpu_usec_per_call", "µs", res.broker_cpu_usec);
        if (!isnan(res.broker_user_usec)) {
                bench_record(b, "rpc-seq", "broker_user_usec_per_call", "µs", res.broker_user_usec);
                bench_record(b, "rpc-seq", "broker_sys_usec_per_call", "µs", res.broker_sys_usec);
        }
        return 0;
}

/* ---- rpc-pipelined ----------------------------------------------------------------------- */

struct pipeline {
        uint64_t sent, done;
        int error;
};

static int pipeline_send(struct mbus_conn *conn, struct pipeline *p);

static int pipeline_on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error,
                             void *userdata) {
        struct pipeline *p = userdata;
        int r;

        p->done++;
        if (error) {
                if (p->error >= 0 && !mbus_error_has_name(error, MBUS_ERROR_DISCONNECTED))
                        tool_print_failure("rpc-pipelined: call failed", mbus_error_name_to_errno(error->name), error);
                p->error = mbus_error_name_to_errno(error->name);
                return 0;
        }
        if (p->sent < arg_calls && p->error >= 0) {
                r = pipeline_send(conn, p);
                if (r < 0)
                        p->error = r;
        }
        return 0;
}

static int pipeline_send(struct mbus_conn *conn, struct pipeline *p) {
        _cleanup_json_ json_object *args = NULL;
        int r;

        args = bench_payload(p->sent, 64);
        if (!args)
                return -ENOMEM;
        r = mbus_call_async(conn, BENCH_ECHO_NAMESPACE, "Echo", args, BENCH_CALL_TIMEOUT_USEC,
                            pipeline_on_reply, p, /* ret_slot= */ NULL);
        if (r < 0)
                return r;
        p->sent++;
        return 0;
}

static int bench_rpc_pipelined(struct bench *b, const char *address) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        struct pipeline p = {};
        usec_t t_start, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu;
        pid_t echo_pid = 0, broker_pid;
        int stop_fd = -EBADF, r;

        r = echo_start(address, &echo_pid, &stop_fd);
        if (r < 0) {
                tool_error("rpc-pipelined: cannot start the echo service: %s", strerror(-r));
                return r;
        }
        r = bench_connect(address, "mbus-bench", &conn);
        if (r < 0)
                goto finish;

        broker_pid = conn_peer_pid(conn);
        have_cpu = broker_pid > 0 && proc_cpu_usec(broker_pid, &cpu0) >= 0;
        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < MIN(arg_window, arg_calls); i++) {
                r = pipeline_send(conn, &p);
                if (r < 0)
                        goto finish;
        }
        while (p.done < p.sent) {
                r = mbus_conn_process(conn);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        continue;
                r = mbus_conn_wait(conn, BENCH_CALL_TIMEOUT_USEC);
                if (r == 0)
                        r = -ETIMEDOUT;
                if (r < 0 && r != -EINTR)
                        goto finish;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(broker_pid, &cpu1) >= 0;
        r = p.error;
        if (r < 0)
                goto finish;
        bench_record(b, "rpc-pipelined", "calls_per_sec", "calls/s",
                     (double) p.done * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
        /* with frames batched per wakeup: compare with rpc-seq's figure */
        if (have_cpu)
                bench_record(b, "rpc-pipelined", "broker_cpu_usec_per_call", "µs",
                             (double) (cpu1 - cpu0) / (double) p.done);
finish:
        if (r < 0)
                tool_error("rpc-pipelined: %s", strerror(-r));
        conn = mbus_conn_unref(conn);
        if (echo_stop(echo_pid, stop_fd) < 0 && r >= 0)
                r = -ECHILD;
        return r;
}

/* ---- fanout ------------------------------------------------------------------------------ */

struct fanout_child {
        const char *address;
        int fd;                         /* "R" once subscribed, then a struct fanout_report */
};

static int fanout_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct fanout_report *rep = userdata;

        if (strcmp(ev->event, "Done") == 0) {
                rep->got_done = true;
                return 0;
        }
        rep->received++;
        rep->last_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int fanout_child_run(void *userdata) {
        struct fanout_child *c = userdata;
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_slot_freep) struct mbus_slot *slot = NULL;
        struct fanout_report rep = {};
        usec_t last_activity;
        int r;

        r = bench_connect(c->address, "mbus-bench-subscriber", &conn);
        if (r < 0)
                return r;
        r = mbus_subscribe(conn, BENCH_FANOUT_NAMESPACE ".*", fanout_on_event, &rep, &slot,
                           /* ret_error= */ NULL);
        if (r < 0)
                return r;
        r = write_full(c->fd, "R", 1);
        if (r < 0)
                return r;

        /* Until "Done", or until nothing came for a while (then Done itself was lost). */
        last_activity = now_usec(CLOCK_MONOTONIC);
        while (!rep.got_done) {
                usec_t n;

                r = mbus_conn_process(conn);
                if (r < 0) {
                        rep.error = r;
                        break;
                }
                if (r > 0) {
                        last_activity = now_usec(CLOCK_MONOTONIC);
                        continue;
                }
                n = now_usec(CLOCK_MONOTONIC);
                if (n - last_activity >= BENCH_FANOUT_IDLE_USEC)
                        break;
                r = mbus_conn_wait(conn, BENCH_FANOUT_IDLE_USEC - (n - last_activity));
                if (r < 0 && r != -EINTR) {
                        rep.error = r;
                        break;
                }
        }
        return write_full(c->fd, &rep, sizeof(rep));
}

struct fanout_result {
        double published_per_sec, delivered_per_sec;
        uint64_t lost;
};

static int fanout_run(const char *address, struct fanout_result *ret) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *fds = NULL;
        static const char *const events[] = { "Tick", "Done", NULL };
        uint64_t total = 0, n_done = 0;
        usec_t t_start, t_sent, t_last = 0;
        size_t n_started = 0;
        int r = 0;

        pids = calloc(arg_subscribers, sizeof(*pids));
        fds = calloc(arg_subscribers, sizeof(*fds));
        if (!pids || !fds)
                return -ENOMEM;

        for (; n_started < arg_subscribers; n_started++) {
                int sp[2];
                char c;

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                        r = -errno;
                        goto finish;
                }
                struct fanout_child child = { .address = address, .fd = sp[1] };
                fds[n_started] = sp[0];
                r = bench_fork(&pids[n_started], fds, n_started + 1, fanout_child_run, &child);
                safe_close(sp[1]);
                if (r < 0) {
                        fds[n_started] = safe_close(sp[0]);
                        goto finish;
                }
                r = read_full(fds[n_started], &c, 1, BENCH_READY_TIMEOUT_USEC);
                if (r < 0) {
                        n_started++;
                        tool_error("fanout: subscriber did not start: %s", strerror(-r));
                        goto finish;
                }
        }

        r = bench_connect(address, "mbus-bench-publisher", &conn);
        if (r < 0)
                goto finish;
        r = mbus_register(conn, BENCH_FANOUT_NAMESPACE, NULL, 0, events, NULL, &error);
        if (r < 0) {
                tool_print_failure("fanout: cannot register", r, &error);
                goto finish;
        }

        t_start = now_usec(CLOCK_MONOTONIC);
        for (uint64_t i = 0; i < arg_events; i++) {
                _cleanup_json_ json_object *payload = bench_payload(i, 80);   /* ~100 bytes of JSON */

                if (!payload) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = mbus_emit(conn, BENCH_FANOUT_NAMESPACE, "Tick", payload);
                if (r < 0)
                        goto finish;
                if (arg_pace > 0 && (i + 1) % arg_pace == 0) {
                        r = mbus_ping(conn, BENCH_CALL_TIMEOUT_USEC);
                        if (r < 0)
                                goto finish;
                }
        }
        r = mbus_emit(conn, BENCH_FANOUT_NAMESPACE, "Done", NULL);
        if (r >= 0)
                r = mbus_ping(conn, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                goto finish;
        t_sent = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < n_started; i++) {
                struct fanout_report rep;

                r = read_full(fds[i], &rep, sizeof(rep), 120 * USEC_PER_SEC);
                if (r < 0) {
                        tool_error("fanout: no report from subscriber %zu: %s", i, strerror(-r));
                        goto finish;
                }
                if (rep.error < 0)
                        tool_error("fanout: subscriber %zu lost its connection: %s", i, strerror(-rep.error));
                total += rep.received;
                n_done += rep.got_done;
                t_last = MAX(t_last, rep.last_usec);
        }

        if (n_done < n_started)
                tool_error("fanout: warning: %zu of %zu subscribers never saw the final event",
                           (size_t) (n_started - n_done), n_started);
        *ret = (struct fanout_result) {
                .published_per_sec = (double) arg_events * USEC_PER_SEC / (double) MAX(t_sent - t_start, 1u),
                .delivered_per_sec = (double) total * USEC_PER_SEC / (double) MAX(MAX(t_last, t_sent) - t_start, 1u),
                .lost = arg_events * arg_subscribers - total,
        };
        r = 0;
finish:
        if (r < 0)
                tool_error("fanout: %s", strerror(-r));
        conn = mbus_conn_unref(conn);
        for (size_t i = 0; i < n_started; i++) {
                safe_close(fds[i]);
                if (bench_wait(pids[i], 20 * USEC_PER_SEC) < 0 && r >= 0)
                        r = -ECHILD;
        }
        return r;
}

static int bench_fanout(struct bench *b, const char *address) {
        struct fanout_result res = {};
        int r;

        r = fanout_run(address, &res);
        if (r < 0)
                return r;
        bench_record(b, "fanout", "published_per_sec", "events/s", res.published_per_sec);
        bench_record(b, "fanout", "delivered_per_sec", "events/s", res.delivered_per_sec);
        bench_record(b, "fanout", "lost", "events", (double) res.lost);
        return 0;
}

/* ---- idle -------------------------------------------------------------------------------- */

/* The broker's VmRSS before, and its growth per connection after arg_idle idle connections to
 * address. broker_pid: 0 to take it from the connection. */
static int idle_run(const char *address, pid_t broker_pid, uint64_t *ret_rss_before, double *ret_kib_per_peer) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *ctl = NULL;
        struct mbus_conn **conns = NULL;
        uint64_t rss0 = 0, rss1 = 0, n = 0;
        int r;

        r = bench_connect(address, "mbus-bench", &ctl);
        if (r < 0)
                return r;
        if (broker_pid <= 0)
                broker_pid = conn_peer_pid(ctl);
        if (broker_pid <= 0) {
                /* TCP has no peer credentials: a broker reached over tcp:// or tls:// is anonymous */
                tool_error("idle: the broker's process id is unknown (only a UNIX socket tells it)");
                return -ESRCH;
        }
        r = mbus_ping(ctl, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = proc_rss_kib(broker_pid, &rss0);
        if (r < 0) {
                tool_error("idle: cannot read the broker's memory use (pid %d): %s", (int) broker_pid, strerror(-r));
                return r;
        }

        conns = calloc(arg_idle, sizeof(*conns));
        if (!conns)
                return -ENOMEM;
        for (; n < arg_idle; n++) {
                r = bench_connect(address, "mbus-bench-idle", &conns[n]);
                if (r < 0) {
                        tool_error("idle: connection %" PRIu64 " failed", n + 1);
                        goto finish;
                }
        }
        /* Every WELCOME is in, and the PONG proves the broker is done with what followed. */
        r = mbus_ping(ctl, BENCH_CALL_TIMEOUT_USEC);
        if (r < 0)
                goto finish;
        r = proc_rss_kib(broker_pid, &rss1);
        if (r < 0)
                goto finish;

        *ret_rss_before = rss0;
        *ret_kib_per_peer = rss1 > rss0 ? (double) (rss1 - rss0) / (double) arg_idle : 0.0;
        r = 0;
finish:
        for (uint64_t i = 0; i < n; i++)
                mbus_conn_unref(conns[i]);
        free(conns);
        return r;
}

static int bench_idle(struct bench *b, const char *address) {
        uint64_t rss0 = 0;
        double per_peer = 0;
        int r;

        r = idle_run(address, /* broker_pid= */ 0, &rss0, &per_peer);
        if (r < 0)
                return r;
        bench_record(b, "idle", "peers", "peers", (double) arg_idle);
        bench_record(b, "idle", "broker_rss_kib_before", "KiB", (double) rss0);
        bench_record(b, "idle", "rss_kib_per_peer", "KiB", per_peer);
        return 0;
}

/* ---- dbus: rpc-seq against dbus-daemon with sd-bus ----------------------------------------- */

static int dbus_on_echo(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", s);
}

static const sd_bus_vtable dbus_echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "s", "s", dbus_on_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static int dbus_open(const char *address, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

struct dbus_child {
        const char *address;
        int ready_fd, stop_fd;
};

static int dbus_child_run(void *userdata) {
        struct dbus_child *c = userdata;
        sd_bus *bus = NULL;
        int r;

        r = dbus_open(c->address, &bus);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, "/org/mbus/Bench", "org.mbus.Bench", dbus_echo_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, BENCH_DBUS_NAME, 0);
        if (r >= 0)
                r = write_full(c->ready_fd, "R", 1);
        while (r >= 0) {
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = sd_bus_get_events(bus) },
                        { .fd = c->stop_fd, .events = POLLIN },
                };
                uint64_t until;
                int timeout = -1;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        timeout = until <= n ? 0 : (int) MIN((until - n + 999) / 1000, (usec_t) INT_MAX);
                }
                r = poll(p, 2, timeout);
                if (r < 0 && errno == EINTR)
                        r = 0;
                if (r < 0)
                        r = -errno;
                else if (p[1].revents)
                        break;
        }
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}

static int bench_dbus(struct bench *b) {
        char tmpl[] = "/tmp/mbus-bench-dbus-XXXXXX";
        _cleanup_free_ char *address = NULL;
        _cleanup_free_ uint64_t *lat = NULL;
        sd_bus *bus = NULL;
        pid_t daemon_pid = 0, echo_pid = 0;
        int ready[2] = { -EBADF, -EBADF }, stop[2] = { -EBADF, -EBADF }, r;
        usec_t t_start = 0, t_end, cpu0 = 0, cpu1 = 0;
        bool have_cpu = false;

        lat = calloc(arg_calls, sizeof(*lat));
        if (!lat)
                return -ENOMEM;
        if (!mkdtemp(tmpl))
                return -errno;
        if (asprintf(&address, "unix:path=%s/bus", tmpl) < 0) {
                address = NULL;
                r = -ENOMEM;
                goto finish;
        }

        fflush(NULL);
        daemon_pid = fork();
        if (daemon_pid < 0) {
                r = -errno;
                daemon_pid = 0;
                goto finish;
        }
        if (daemon_pid == 0) {
                char arg[PATH_MAX + 16];
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* it prints its address and, unprivileged, a complaint about its fd limit */
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                snprintf(arg, sizeof(arg), "--address=%s", address);
                execlp("dbus-daemon", "dbus-daemon", "--session", arg, "--nofork", "--nopidfile", (char *) NULL);
                fprintf(stderr, "mbus-bench: cannot execute dbus-daemon: %m\n");
                _exit(127);
        }

        /* Ready when sd-bus can say Hello. */
        for (usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);;) {
                r = dbus_open(address, &bus);
                if (r >= 0)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        tool_error("dbus: dbus-daemon did not come up: %s", strerror(-r));
                        goto finish;
                }
                (void) usleep(5000);
        }

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(stop, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        struct dbus_child child = { .address = address, .ready_fd = ready[1], .stop_fd = stop[0] };
        /* sd-bus connections must not cross fork(): drop ours and reconnect afterwards */
        bus = sd_bus_flush_close_unref(bus);
        r = bench_fork(&echo_pid, (const int[]) { ready[0], stop[1] }, 2, dbus_child_run, &child);
        ready[1] = safe_close(ready[1]);
        stop[0] = safe_close(stop[0]);
        if (r < 0) {
                echo_pid = 0;
                goto finish;
        }
        char c;
        r = read_full(ready[0], &c, 1, BENCH_READY_TIMEOUT_USEC);
        if (r >= 0)
                r = dbus_open(address, &bus);
        if (r < 0)
                goto finish;

        for (uint64_t i = 0; i < BENCH_WARMUP + arg_calls; i++) {
                _cleanup_json_ json_object *args = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *s;
                uint64_t t0;

                if (i == BENCH_WARMUP) {
                        have_cpu = proc_cpu_usec(daemon_pid, &cpu0) >= 0;
                        t_start = now_usec(CLOCK_MONOTONIC);
                }
                /* the same JSON text as rpc-seq, carried as a D-Bus string */
                args = bench_payload(i, 64);
                if (!args) {
                        r = -ENOMEM;
                        goto finish;
                }
                t0 = now_nsec();
                r = sd_bus_call_method(bus, BENCH_DBUS_NAME, "/org/mbus/Bench", "org.mbus.Bench", "Echo",
                                       &error, &reply, "s", json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &s);
                if (r >= 0) {
                        _cleanup_json_ json_object *result = json_tokener_parse(s);
                        json_object *seq;
                        if (!json_object_object_get_ex(result, "seq", &seq) ||
                            json_object_get_int64(seq) != (int64_t) i)
                                r = -EBADMSG;
                }
                sd_bus_message_unref(reply);
                if (r < 0) {
                        tool_error("dbus: call failed: %s", error.message ?: strerror(-r));
                        sd_bus_error_free(&error);
                        goto finish;
                }
                if (i >= BENCH_WARMUP)
                        lat[i - BENCH_WARMUP] = now_nsec() - t0;
        }
        t_end = now_usec(CLOCK_MONOTONIC);
        if (have_cpu)
                have_cpu = proc_cpu_usec(daemon_pid, &cpu1) >= 0;

        qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
        bench_record(b, "dbus", "calls_per_sec", "calls/s",
                     (double) arg_calls * USEC_PER_SEC / (double) MAX(t_end - t_start, 1u));
        bench_record(b, "dbus", "p50_usec", "µs", percentile(lat, arg_calls, 50) / 1000.0);
        bench_record(b, "dbus", "p99_usec", "µs", percentile(lat, arg_calls, 99) / 1000.0);
        if (have_cpu)
                bench_record(b, "dbus", "daemon_cpu_usec_per_call", "µs",
                             (double) (cpu1 - cpu0) / (double) arg_calls);
        r = 0;
finish:
        bus = sd_bus_flush_close_unref(bus);
        safe_close(ready[0]), safe_close(ready[1]), safe_close(stop[0]), safe_close(stop[1]);
        if (echo_pid > 0 && bench_wait(echo_pid, 10 * USEC_PER_SEC) < 0 && r >= 0)
                r = -ECHILD;
        if (daemon_pid > 0) {
                (void) kill(daemon_pid, SIGTERM);
                (void) bench_wait(daemon_pid, 10 * USEC_PER_SEC);
        }
        if (address)
                (void) unlink(address + strlen("unix:path="));
        (void) rmdir(tmpl);
        return r;
}

/* ---- tls: the same broker over TLS and over its UNIX socket, and next to openssl ----------- */

/* Idle growth of a fresh broker per peer, UNIX (tls_peers false) or TLS. */
static int tls_idle(struct bench *b, bool tls_peers, double *ret_kib_per_peer) {
        struct bench_broker bb;
        uint64_t rss0;
        int r;

        r = bench_broker_start(&bb, b->broker_path, &b->tls);
        if (r < 0)
                return r;
        r = idle_run(tls_peers ? bb.tls_address : bb.address, bb.pid, &rss0, ret_kib_per_peer);
        bench_broker_stop(&bb);
        return r;
}

/*
 * One broker listening on both, for rpc-seq over each (same broker, same processes, one after
 * the other), fanout over TLS and the handshakes; openssl s_server on another port for the
 * reference; then a fresh broker for each idle measurement, as in idle. A run records nothing
 * unless all of it worked, so that every ratio compares figures of the same run.
 */
static int bench_tls(struct bench *b) {
        struct bench_broker bb = {};
        struct rpc_seq_result seq_unix = {}, seq_tls = {};
        struct fanout_result fan = {};
        double full = 0, resumed = 0, st_broker = 0, st_broker_user = 0, st_server = 0, st_server_user = 0;
        double idle_unix = 0, idle_tls = 0;
        usec_t duration = arg_tls_seconds * USEC_PER_SEC;
        pid_t s_server = 0;
        uint16_t port;
        int r;

        r = bench_broker_start(&bb, b->broker_path, &b->tls);
        if (r < 0) {
                tool_error("tls: cannot start %s: %s", b->broker_path, r == -ECHILD ? "it exited at once" : strerror(-r));
                return r;
        }
        r = rpc_seq_run(bb.address, bb.pid, &seq_unix);
        if (r >= 0)
                r = rpc_seq_run(bb.tls_address, bb.pid, &seq_tls);
        if (r >= 0)
                r = fanout_run(bb.tls_address, &fan);
        if (r >= 0)
                r = bench_tls_handshakes(&b->tls, bb.tls_port, /* resume= */ false, duration, &full);
        if (r >= 0)
                r = bench_tls_handshakes(&b->tls, bb.tls_port, /* resume= */ true, duration, &resumed);
        if (r >= 0)
                r = bench_tls_s_time(&b->tls, bb.tls_port, arg_tls_seconds, &st_broker, &st_broker_user);
        bench_broker_stop(&bb);
        if (r < 0)
                return r;

        r = bench_tls_free_port(&port);
        if (r >= 0)
                r = bench_tls_s_server_start(&b->tls, port, &s_server);
        if (r >= 0)
                r = bench_tls_s_time(&b->tls, port, arg_tls_seconds, &st_server, &st_server_user);
        bench_tls_s_server_stop(s_server);
        if (r < 0)
                return r;

        r = tls_idle(b, /* tls_peers= */ false, &idle_unix);
        if (r >= 0)
                r = tls_idle(b, /* tls_peers= */ true, &idle_tls);
        if (r < 0)
                return r;

        bench_record(b, "tls", "rpc_seq_calls_per_sec", "calls/s", seq_tls.calls_per_sec);
        bench_record(b, "tls", "rpc_seq_p50_usec", "µs", seq_tls.p50_usec);
        bench_record(b, "tls", "rpc_seq_p99_usec", "µs", seq_tls.p99_usec);
        bench_record(b, "tls", "unix_rpc_seq_p50_usec", "µs", seq_unix.p50_usec);
        bench_record(b, "tls", "rpc_seq_p50_vs_unix", "x", seq_tls.p50_usec / seq_unix.p50_usec);
        if (!isnan(seq_tls.broker_cpu_usec) && !isnan(seq_unix.broker_cpu_usec)) {
                bench_record(b, "tls", "broker_cpu_usec_per_call", "µs", seq_tls.broker_cpu_usec);
                bench_record(b, "tls", "unix_broker_cpu_usec_per_call", "µs", seq_unix.broker_cpu_usec);
        }
        bench_record(b, "tls", "fanout_delivered_per_sec", "events/s", fan.delivered_per_sec);
        bench_record(b, "tls", "fanout_lost", "events", (double) fan.lost);
        bench_record(b, "tls", "handshakes_full_per_sec", "1/s", full);
        bench_record(b, "tls", "handshakes_resumed_per_sec", "1/s", resumed);
        bench_record(b, "tls", "s_time_broker_per_sec", "1/s", st_broker);
        bench_record(b, "tls", "s_time_s_server_per_sec", "1/s", st_server);
        bench_record(b, "tls", "s_time_broker_vs_s_server", "x", st_broker / st_server);
        bench_record(b, "tls", "full_vs_s_time_s_server", "x", full / st_server);
        bench_record(b, "tls", "s_time_broker_per_user_sec", "1/s", st_broker_user);
        bench_record(b, "tls", "s_time_s_server_per_user_sec", "1/s", st_server_user);
        bench_record(b, "tls", "idle_unix_kib_per_peer", "KiB", idle_unix);
        bench_record(b, "tls", "idle_tls_kib_per_peer", "KiB", idle_tls);
        return 0;
}

/* ---- running and reporting ----------------------------------------------------------------- */

static int bench_run_scenario(struct bench *b, enum bench_scenario s) {
        struct bench_broker bb = {};
        const char *address = arg_address;
        int r;

        if (s == BENCH_FLOOR)
                return bench_floor(b);
        if (s == BENCH_DBUS)
                return bench_dbus(b);
        if (s == BENCH_TLS)
                return bench_tls(b);

        if (!address) {
                r = bench_broker_start(&bb, b->broker_path, /* tls= */ NULL);
                if (r < 0) {
                        tool_error("cannot start %s: %s", b->broker_path,
                                   r == -ECHILD ? "it exited at once" : strerror(-r));
                        return r;
                }
                address = bb.address;
        }

        switch (s) {
        case BENCH_RPC_SEQ:
                r = bench_rpc_seq(b, address);
                break;
        case BENCH_RPC_PIPELINED:
                r = bench_rpc_pipelined(b, address);
                break;
        case BENCH_FANOUT:
                r = bench_fanout(b, address);
                break;
        case BENCH_IDLE:
                r = bench_idle(b, address);
                break;
        default:
                assert(false);
                r = -EINVAL;
        }
        bench_broker_stop(&bb);
        return r;
}

struct bench_target {
        const char *name;
        const char *description;
        double value, limit;
        const char *unit;
};

/* Evaluates the targets of issue 3 from the medians; returns how many could be evaluated. */
static size_t bench_targets(const struct bench *b, struct bench_target t[static 6]) {
        size_t n = 0;
        double floor_p50 = bench_median(b, "floor", "rtt_p50_usec");
        double seq_p50 = bench_median(b, "rpc-seq", "p50_usec");
        double v;

        if (!isnan(floor_p50) && !isnan(seq_p50) && floor_p50 > 0)
                t[n++] = (struct bench_target) {
                        "rpc-seq-latency", "rpc-seq p50 / floor round-trip p50", seq_p50 / floor_p50, 4, "x"
                };
        v = bench_median(b, "fanout", "lost");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "fanout-lost", "fanout events lost", v, 0, "events" };
        v = bench_median(b, "tls", "fanout_lost");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "tls-fanout-lost", "fanout over TLS: events lost", v, 0, "events" };
        v = bench_median(b, "idle", "rss_kib_per_peer");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "idle-rss", "broker RSS per idle peer", v, 4, "KiB" };
        v = bench_median(b, "rpc-seq", "broker_cpu_usec_per_call");
        if (!isnan(v))
                t[n++] = (struct bench_target) { "broker-cpu", "broker CPU per routed call", v, 5, "µs" };
        return n;
}

/*
 * The broker reads and writes two frames per call, three times the socket work of the floor's
 * echo side per round trip: broker CPU per call divided by 3x the echo's CPU per round trip
 * says how close the broker is to what this machine charges for that work (1.0: nothing but
 * the syscalls). Not a target of the issue; context for the absolute CPU target.
 */
static double bench_cpu_vs_floor(const struct bench *b) {
        double echo = bench_median(b, "floor", "echo_cpu_usec_per_rtt");
        double broker = bench_median(b, "rpc-seq", "broker_cpu_usec_per_call");

        if (isnan(echo) || isnan(broker) || echo <= 0)
                return NAN;
        return broker / (3 * echo);
}

static bool target_pass(const struct bench_target *t) {
        return t->value <= t->limit;
}

static double target_ratio(const struct bench_target *t) {
        return t->limit > 0 ? t->value / t->limit : (t->value > 0 ? INFINITY : 0);
}

/* A number as JSON with three decimals at most: 6907.165, not 6907.1649403359088. */
static json_object *json_number(double v) {
        char buf[64];

        if (!isfinite(v))
                return NULL;
        snprintf(buf, sizeof(buf), "%.3f", v);
        /* "12.500" -> "12.5", "3.000" -> "3.0" */
        for (size_t n = strlen(buf); n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.'; n--)
                buf[n - 1] = 0;
        return json_object_new_double_s(v, buf);
}

static int bench_print_json(const struct bench *b) {
        _cleanup_json_ json_object *root = json_object_new_object(), *results = json_object_new_object(),
                                   *mins = json_object_new_object(), *maxs = json_object_new_object(),
                                   *targets = json_object_new_array();
        struct bench_target t[6];
        size_t n;

        if (!root || !results || !mins || !maxs || !targets)
                return -ENOMEM;
        json_object_object_add(root, "version", json_object_new_string(MBUS_VERSION));
        json_object_object_add(root, "runs", json_object_new_int64((int64_t) arg_runs));
        json_object_object_add(root, "address", arg_address ? json_object_new_string(arg_address) : NULL);
        json_object_object_add(root, "broker", b->broker_path ? json_object_new_string(b->broker_path) : NULL);
        json_object_object_add(root, "fanout_pace", json_object_new_int64((int64_t) arg_pace));
        json_object_object_add(root, "cpus", json_object_new_int64(b->n_cpus));
        json_object_object_add(root, "loadavg_start", json_number(b->loadavg_start));
        json_object_object_add(root, "loadavg_end", json_number(b->loadavg_end));

        for (size_t i = 0; i < b->n_metrics; i++) {
                const struct bench_metric *m = &b->metrics[i];
                json_object *tables[] = { results, mins, maxs };
                double values[] = { metric_median(m), metric_extreme(m, -1), metric_extreme(m, 1) };

                for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
                        json_object *sc;

                        if (!json_object_object_get_ex(tables[k], m->scenario, &sc)) {
                                sc = json_object_new_object();
                                json_object_object_add(tables[k], m->scenario, sc);
                        }
                        json_object_object_add(sc, m->name, json_number(values[k]));
                }
        }
        n = bench_targets(b, t);
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "name", json_object_new_string(t[i].name));
                json_object_object_add(o, "value", json_number(t[i].value));
                json_object_object_add(o, "limit", json_number(t[i].limit));
                json_object_object_add(o, "ratio", json_number(target_ratio(&t[i])));
                json_object_object_add(o, "pass", json_object_new_boolean(target_pass(&t[i])));
                json_object_array_add(targets, o);
        }
        json_object_object_add(root, "broker_cpu_vs_socket_floor", json_number(bench_cpu_vs_floor(b)));
        json_object_object_add(root, "results", TAKE_PTR(results));
        json_object_object_add(root, "min", TAKE_PTR(mins));
        json_object_object_add(root, "max", TAKE_PTR(maxs));
        json_object_object_add(root, "targets", TAKE_PTR(targets));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Columns of a UTF-8 string: "µs" is two bytes, one column. */
static size_t utf8_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char) *s & 0xc0) != 0x80;
        return n;
}

static void bench_print_text(const struct bench *b) {
        struct bench_target t[6];
        const char *last = NULL;
        size_t n;

        printf("mbus-bench %s: broker %s, %" PRIu64 " run%s, medians%s\n", MBUS_VERSION,
               arg_address ?: b->broker_path ?: "-", arg_runs, arg_runs == 1 ? "" : "s",
               arg_runs > 1 ? " (min .. max over the runs)" : "");
        printf("  machine: %ld CPUs, load average %.2f at the start, %.2f at the end%s\n", b->n_cpus,
               b->loadavg_start, b->loadavg_end,
               /* only the start counts: the benchmark's own processes raise the end */
               b->loadavg_start >= (double) b->n_cpus ? " (busy: other work skews these figures)" : "");
        for (size_t i = 0; i < b->n_metrics; i++) {
                const struct bench_metric *m = &b->metrics[i];

                printf("  %-14s %-28s %12.2f %s", i > 0 && strcmp(last, m->scenario) == 0 ? "" : m->scenario,
                       m->name, metric_median(m), m->unit);
                if (m->n_values > 1)
                        printf("%*s (%.2f .. %.2f)", (int) (8 - MIN(utf8_width(m->unit), (size_t) 8)), "",
                               metric_extreme(m, -1), metric_extreme(m, 1));
                putchar('\n');
                last = m->scenario;
        }
        if (bench_find(b, "fanout", "lost"))
                printf("  (fanout: the publisher waits for a PONG every %" PRIu64 " events)\n", arg_pace);

        double dbus_p50 = bench_median(b, "dbus", "p50_usec"), seq_p50 = bench_median(b, "rpc-seq", "p50_usec");
        if (!isnan(dbus_p50) && !isnan(seq_p50) && seq_p50 > 0)
                printf("  mbus vs dbus-daemon: rpc-seq p50 %.1f µs vs %.1f µs (D-Bus/mbus = %.2f)\n",
                       seq_p50, dbus_p50, dbus_p50 / seq_p50);

        double tls_p50 = bench_median(b, "tls", "rpc_seq_p50_usec"), unix_p50 = bench_median(b, "tls", "unix_rpc_seq_p50_usec");
        if (!isnan(tls_p50) && !isnan(unix_p50))
                printf("  TLS vs UNIX socket, same broker: rpc-seq p50 %.1f µs vs %.1f µs (TLS/UNIX per run: %.2f)\n",
                       tls_p50, unix_p50, bench_median(b, "tls", "rpc_seq_p50_vs_unix"));
        double st_broker = bench_median(b, "tls", "s_time_broker_per_sec");
        if (!isnan(st_broker))
                printf("  full TLS handshakes, openssl s_time -new: mbus-broker %.0f/s vs openssl s_server %.0f/s"
                       " (broker/s_server per run: %.2f)\n", st_broker, bench_median(b, "tls", "s_time_s_server_per_sec"),
                       bench_median(b, "tls", "s_time_broker_vs_s_server"));

        double cpu_ratio = bench_cpu_vs_floor(b);
        if (!isnan(cpu_ratio))
                printf("  broker CPU per call / (3 x floor echo CPU per round trip) = %.2f\n", cpu_ratio);

        n = bench_targets(b, t);
        if (n > 0)
                printf("Targets:\n");
        for (size_t i = 0; i < n; i++)
                printf("  %-4s %-38s %9.2f %-6s limit %5.1f %-6s ratio %.2f\n", target_pass(&t[i]) ? "PASS" : "MISS",
                       t[i].description, t[i].value, t[i].unit, t[i].limit, t[i].unit, target_ratio(&t[i]));
        fflush(stdout);
}

static double read_loadavg(void) {
        double v = NAN;
        FILE *f = fopen("/proc/loadavg", "re");

        if (f) {
                if (fscanf(f, "%lf", &v) != 1)
                        v = NAN;
                fclose(f);
        }
        return v;
}

static void raise_fd_limit(uint64_t need) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : MIN((rlim_t) need, rl.rlim_max);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

/* ---- command line ------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "       %s [--address ADDRESS] serve-echo NAMESPACE\n"
               "\n"
               "Benchmark the mbus broker and compare it with targets measured in the same run.\n"
               "serve-echo serves NAMESPACE with a procedure Echo that returns its arguments,\n"
               "until SIGTERM or SIGINT (exit 0) or until the connection to the broker breaks\n"
               "(exit 1, for Restart=on-failure).\n"
               "\n"
               "  -h --help              Show this help and exit\n"
               "     --version           Show the version and exit\n"
               "  -a --address ADDRESS   Measure the broker at ADDRESS instead of starting one\n"
               "     --broker PATH       The mbus-broker binary to start (default: $MBUS_BROKER,\n"
               "                         else the one of the build tree or next to mbus-bench)\n"
               "  -s --scenario NAME     Run scenario NAME (repeatable): floor, rpc-seq,\n"
               "                         rpc-pipelined, fanout, idle, dbus, tls (default: all but\n"
               "                         dbus and tls)\n"
               "     --peer dbus         Also run rpc-seq against a private dbus-daemon (sd-bus)\n"
               "  -r --runs N            Run every scenario N times, report medians, min, max (1)\n"
               "  -j --json              Print one JSON object instead of a table\n"
               "     --calls N           Calls in floor, rpc-seq, rpc-pipelined, dbus (20000)\n"
               "     --window N          Calls outstanding in rpc-pipelined (64)\n"
               "     --events N          Events published in fanout (100000)\n"
               "     --subscribers N     Subscriber processes in fanout (8)\n"
               "     --pace N            fanout: wait for a PONG every N events, 0: never (1000)\n"
               "     --idle-peers N      Connections in idle (1000)\n"
               "     --tls-cert FILE     Client certificate for a tls:// --address, PEM\n"
               "     --tls-key FILE      Its private key, PEM\n"
               "     --tls-ca FILE       CA bundle the broker's certificate must chain to\n"
               "     --broker-tls-cert FILE  tls: the broker's certificate, PEM; with its\n"
               "     --broker-tls-key FILE   key and the three above (default: made with openssl)\n"
               "     --tls-seconds N     tls: seconds of each handshake measurement (2)\n",
               program_invocation_short_name, program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_BROKER,
                ARG_PEER,
                ARG_CALLS,
                ARG_WINDOW,
                ARG_EVENTS,
                ARG_SUBSCRIBERS,
                ARG_PACE,
                ARG_IDLE,
                ARG_TLS_CERT,
                ARG_TLS_KEY,
                ARG_TLS_CA,
                ARG_BROKER_TLS_CERT,
                ARG_BROKER_TLS_KEY,
                ARG_TLS_SECONDS,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "version",     no_argument,       NULL, ARG_VERSION     },
                { "address",     required_argument, NULL, 'a'             },
                { "broker",      required_argument, NULL, ARG_BROKER      },
                { "scenario",    required_argument, NULL, 's'             },
                { "peer",        required_argument, NULL, ARG_PEER        },
                { "runs",        required_argument, NULL, 'r'             },
                { "json",        no_argument,       NULL, 'j'             },
                { "calls",       required_argument, NULL, ARG_CALLS       },
                { "window",      required_argument, NULL, ARG_WINDOW      },
                { "events",      required_argument, NULL, ARG_EVENTS      },
                { "subscribers", required_argument, NULL, ARG_SUBSCRIBERS },
                { "pace",        required_argument, NULL, ARG_PACE        },
                { "idle-peers",  required_argument, NULL, ARG_IDLE        },
                { "tls-cert",    required_argument, NULL, ARG_TLS_CERT    },
                { "tls-key",     required_argument, NULL, ARG_TLS_KEY     },
                { "tls-ca",      required_argument, NULL, ARG_TLS_CA      },
                { "broker-tls-cert", required_argument, NULL, ARG_BROKER_TLS_CERT },
                { "broker-tls-key",  required_argument, NULL, ARG_BROKER_TLS_KEY  },
                { "tls-seconds", required_argument, NULL, ARG_TLS_SECONDS },
                {}
        };
        static const struct {
                int option;
                const char *name;
                uint64_t *value, min, max;
        } numbers[] = {
                { 'r',             "--runs",        &arg_runs,        1, BENCH_MAX_RUNS },
                { ARG_CALLS,       "--calls",       &arg_calls,       1, 100000000      },
                { ARG_WINDOW,      "--window",      &arg_window,      1, 100000         },
                { ARG_EVENTS,      "--events",      &arg_events,      1, 100000000      },
                { ARG_SUBSCRIBERS, "--subscribers", &arg_subscribers, 1, 1000           },
                { ARG_PACE,        "--pace",        &arg_pace,        0, 100000000      },
                { ARG_IDLE,        "--idle-peers",  &arg_idle,        1, 1000000        },
                { ARG_TLS_SECONDS, "--tls-seconds", &arg_tls_seconds, 1, 3600           },
        };
        int c;

        while ((c = getopt_long(argc, argv, "ha:s:r:j", options, NULL)) >= 0) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(numbers); i++)
                        if (numbers[i].option == c) {
                                if (tool_parse_uint(optarg, numbers[i].min, numbers[i].max, numbers[i].value) < 0) {
                                        tool_error("invalid %s '%s': expected an integer in %" PRIu64 "..%" PRIu64,
                                                   numbers[i].name, optarg, numbers[i].min, numbers[i].max);
                                        return -EINVAL;
                                }
                                found = true;
                        }
                if (found)
                        continue;

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mbus-bench %s\n", MBUS_VERSION);
                        return 0;
                case 'a':
                        arg_address = optarg;
                        break;
                case ARG_BROKER:
                        arg_broker = optarg;
                        break;
                case 's': {
                        size_t i;

                        for (i = 0; i < _BENCH_SCENARIO_MAX; i++)
                                if (strcmp(optarg, bench_scenario_names[i]) == 0)
                                        break;
                        if (i >= _BENCH_SCENARIO_MAX) {
                                tool_error("unknown scenario '%s' (see --help)", optarg);
                                return -EINVAL;
                        }
                        arg_scenarios |= 1u << i;
                        break;
                }
                case ARG_PEER:
                        if (strcmp(optarg, "dbus") != 0) {
                                tool_error("unknown --peer '%s': only 'dbus' is supported", optarg);
                                return -EINVAL;
                        }
                        arg_scenarios |= (arg_scenarios ? 0 : ~BENCH_SCENARIOS_OPTIONAL & ((1u << _BENCH_SCENARIO_MAX) - 1)) |
                                         (1u << BENCH_DBUS);
                        break;
                case 'j':
                        arg_json = true;
                        break;
                case ARG_TLS_CERT:
                        arg_tls_cert = optarg;
                        break;
                case ARG_TLS_KEY:
                        arg_tls_key = optarg;
                        break;
                case ARG_TLS_CA:
                        arg_tls_ca = optarg;
                        break;
                case ARG_BROKER_TLS_CERT:
                        arg_broker_tls_cert = optarg;
                        break;
                case ARG_BROKER_TLS_KEY:
                        arg_broker_tls_key = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (arg_scenarios == 0)
                arg_scenarios = ((1u << _BENCH_SCENARIO_MAX) - 1) & ~BENCH_SCENARIOS_OPTIONAL;
        if ((arg_broker_tls_cert || arg_broker_tls_key) &&
            !(arg_broker_tls_cert && arg_broker_tls_key && arg_tls_cert && arg_tls_key && arg_tls_ca)) {
                tool_error("--broker-tls-cert and --broker-tls-key go with each other and with --tls-cert, "
                           "--tls-key and --tls-ca");
                return -EINVAL;
        }
        return 1;
}

static int run_serve_echo(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = bench_on_signal };
        int r;

        if (argc != 2) {
                tool_error("expected serve-echo NAMESPACE (see --help)");
                return TOOL_EXIT_USAGE;
        }
        if (!mbus_namespace_is_valid(argv[1])) {
                tool_error("invalid namespace '%s'", argv[1]);
                return TOOL_EXIT_USAGE;
        }
        /* No SA_RESTART: a signal must interrupt poll(). */
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);

        /* echo_serve() has said what went wrong */
        r = echo_serve(arg_address, argv[1], /* ready_fd= */ -EBADF, /* stop_fd= */ -EBADF);
        return r < 0 ? TOOL_EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        struct bench b = {};
        int r, ret = EXIT_SUCCESS;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        (void) signal(SIGPIPE, SIG_IGN);

        /* Through the environment, libmbus gives them to every tls:// connection without
         * parameters of its own, in this process and in every helper forked from it. */
        if ((arg_tls_cert && setenv("MBUS_TLS_CERT", arg_tls_cert, 1) < 0) ||
            (arg_tls_key && setenv("MBUS_TLS_KEY", arg_tls_key, 1) < 0) ||
            (arg_tls_ca && setenv("MBUS_TLS_CA", arg_tls_ca, 1) < 0)) {
                tool_error("cannot set the TLS files: %m");
                return TOOL_EXIT_FAILURE;
        }

        if (optind < argc) {
                if (strcmp(argv[optind], "serve-echo") == 0)
                        return run_serve_echo(argc - optind, argv + optind);
                tool_error("unknown command '%s' (see --help)", argv[optind]);
                return TOOL_EXIT_USAGE;
        }

        /* The idle scenario holds that many connections, and the broker inherits the limit. */
        raise_fd_limit(arg_idle + 256);

        /* tls always starts brokers of its own: it needs one with a UNIX and a TLS listener */
        if ((!arg_address && (arg_scenarios & ~((1u << BENCH_FLOOR) | (1u << BENCH_DBUS)))) ||
            (arg_scenarios & (1u << BENCH_TLS))) {
                b.broker_path = bench_find_broker();
                if (!b.broker_path) {
                        tool_error("cannot find mbus-broker: pass --broker PATH, set $MBUS_BROKER, or --address");
                        return TOOL_EXIT_FAILURE;
                }
                if (access(b.broker_path, X_OK) < 0) {
                        tool_error("cannot run %s: %m", b.broker_path);
                        free(b.broker_path);
                        return TOOL_EXIT_FAILURE;
                }
        }

        if (arg_scenarios & (1u << BENCH_TLS)) {
                if (arg_broker_tls_cert)
                        r = bench_tls_files_use(&b.tls, arg_tls_cert, arg_tls_key, arg_tls_ca, arg_broker_tls_cert,
                                                arg_broker_tls_key);
                else
                        r = bench_tls_files_make(&b.tls);
                if (r < 0) {
                        free(b.broker_path);
                        return TOOL_EXIT_FAILURE;
                }
        }

        b.n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
        b.loadavg_start = read_loadavg();
        for (uint64_t run = 0; run < arg_runs; run++)
                for (enum bench_scenario s = 0; s < _BENCH_SCENARIO_MAX; s++) {
                        if (!(arg_scenarios & (1u << s)))
                                continue;
                        if (!arg_json)
                                fprintf(stderr, "mbus-bench: run %" PRIu64 "/%" PRIu64 ": %s\n", run + 1, arg_runs,
                                        bench_scenario_names[s]);
                        r = bench_run_scenario(&b, s);
                        if (r < 0) {
                                tool_error("scenario %s failed: %s", bench_scenario_names[s], strerror(-r));
                                ret = TOOL_EXIT_FAILURE;
                        }
                }

        b.loadavg_end = read_loadavg();
        if (arg_json)
                r = bench_print_json(&b);
        else {
                bench_print_text(&b);
                r = 0;
        }
        free(b.broker_path);
        bench_tls_files_done(&b.tls);
        if (r < 0)
                ret = TOOL_EXIT_FAILURE;
        return ret;
}
