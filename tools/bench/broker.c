/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mbus-bench: a broker of our own, on a socket in a temporary directory (optionally TLS too). */

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

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

/* The benchmark's namespaces, open to everyone: certificate peers get nothing by default. */
static const char *const bench_policy_namespaces[] = { BENCH_ECHO_NAMESPACE, BENCH_FANOUT_NAMESPACE };

char *bench_find_broker(void) {
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

usec_t bench_broker_stop_timed(struct bench_broker *bb, usec_t timeout) {
        usec_t took = 0;

        if (bb->pid > 0) {
                usec_t t0 = now_usec(CLOCK_MONOTONIC);
                int r;

                (void) kill(bb->pid, SIGTERM);
                r = bench_wait(bb->pid, timeout);
                took = r == -ETIMEDOUT ? USEC_INFINITY : now_usec(CLOCK_MONOTONIC) - t0;
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
        return took;
}

void bench_broker_stop(struct bench_broker *bb) {
        (void) bench_broker_stop_timed(bb, 10 * USEC_PER_SEC);
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
 * a free port of 127.0.0.1; with tls or open_policy reading the policy of that directory only
 * (see above).
 */
static int broker_start(struct bench_broker *bb, const char *path, const struct bench_tls_files *tls,
                        bool open_policy, const char *const *extra_args) {
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
        if (open_policy && !tls) {
                r = bench_broker_write_policy(bb);
                if (r < 0) {
                        bench_broker_stop(bb);
                        return r;
                }
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
                const char *argv[64];
                size_t n = 0;

                argv[n++] = path;
                if (tls) {
                        const char *a[] = { "--listen", bb->address, "--listen", listen_tls, "--tls-cert",
                                            tls->server_cert, "--tls-key", tls->server_key, "--tls-ca", tls->ca,
                                            "--config-dir", bb->dir };
                        memcpy(argv + n, a, sizeof(a));
                        n += ELEMENTSOF(a);
                } else {
                        argv[n++] = "--address";
                        argv[n++] = bb->address;
                        if (open_policy) {
                                argv[n++] = "--config-dir";
                                argv[n++] = bb->dir;
                        }
                }
                argv[n++] = "--log-target";
                argv[n++] = "console";
                argv[n++] = "--log-level";
                argv[n++] = "warning";
                for (size_t i = 0; extra_args && extra_args[i] && n < ELEMENTSOF(argv) - 1; i++)
                        argv[n++] = extra_args[i];
                argv[n] = NULL;
                execv(path, (char *const *) argv);
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

int bench_broker_start(struct bench_broker *bb, const char *path, const struct bench_tls_files *tls,
                       const char *const *extra_args) {
        return broker_start(bb, path, tls, /* open_policy= */ tls != NULL, extra_args);
}

int bench_broker_start_open(struct bench_broker *bb, const char *path, const char *const *extra_args) {
        return broker_start(bb, path, /* tls= */ NULL, /* open_policy= */ true, extra_args);
}
