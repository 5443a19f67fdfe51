/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench mbus-orig (--peer mbus-orig): rpc-seq-compat's calls against the original mBus
 * broker, so that mbus's compat listener is measured beside the program it replaces, in the
 * same runs.
 *
 * The broker is its server binary, mbus-broker of the original's dist/bin (tools/bench/build-orig.sh
 * builds it from the tarball), named by --orig-broker or $MBUS_ORIG_BROKER. Its libraries are
 * in dist/lib next to it, which it needs on LD_LIBRARY_PATH. It gets its UNIX listener only, at
 * DIR/orig with port 0 (it binds PATH:PORT, as mbus's compat+unix listener does); its TCP,
 * WebSocket and TLS listeners, on by default, are turned off (the options of the ones a build
 * leaves out are ignored by its option parser).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bench/bench.h"
#include "tools/tool-util.h"
#include "util/macro.h"
#include "util/time-util.h"

struct orig_broker {
        pid_t pid;
        char dir[32];
        char *path;             /* the socket, DIR/orig:0 */
        char *log;              /* its stdout and stderr, DIR/broker.log: shown if it fails to start */
};

static const char *orig_broker_binary(void) {
        const char *env = getenv("MBUS_ORIG_BROKER");

        return arg_orig_broker ?: (env && *env ? env : NULL);
}

static void orig_broker_stop(struct orig_broker *o) {
        if (o->pid > 0) {
                (void) kill(o->pid, SIGTERM);
                /* it exits 1 on SIGTERM (its poll() fails with EINTR): only a hang counts */
                if (bench_wait(o->pid, 10 * USEC_PER_SEC) == -ETIMEDOUT)
                        tool_error("warning: the original mBus broker (pid %d) did not exit on SIGTERM", (int) o->pid);
                o->pid = 0;
        }
        if (o->path) {
                (void) unlink(o->path);
                o->path = mfree(o->path);
        }
        if (o->log) {
                (void) unlink(o->log);
                o->log = mfree(o->log);
        }
        if (o->dir[0]) {
                (void) rmdir(o->dir);
                o->dir[0] = 0;
        }
}

/* In the child: LD_LIBRARY_PATH gets BINDIR/../lib first, where the build put its libraries. */
static void orig_broker_exec(const char *binary, const struct orig_broker *o) {
        char lib[PATH_MAX], address[PATH_MAX];
        const char *old = getenv("LD_LIBRARY_PATH");
        const char *slash = strrchr(binary, '/');
        _cleanup_free_ char *paths = NULL;
        int null, out;

        snprintf(lib, sizeof(lib), "%.*s/../lib", slash ? (int) (slash - binary) : 1, slash ? binary : ".");
        if (asprintf(&paths, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") >= 0)
                (void) setenv("LD_LIBRARY_PATH", paths, 1);
        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0)
                (void) dup2(null, STDIN_FILENO);
        out = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out >= 0) {
                (void) dup2(out, STDOUT_FILENO);
                (void) dup2(out, STDERR_FILENO);
        }
        (void) signal(SIGPIPE, SIG_DFL);
        snprintf(address, sizeof(address), "%s/orig", o->dir);
        execl(binary, binary, "--mbus-debug-level", "error",
              "--mbus-server-uds-enable", "1", "--mbus-server-uds-address", address, "--mbus-server-uds-port", "0",
              "--mbus-server-tcp-enable", "0", "--mbus-server-ws-enable", "0", "--mbus-server-tcps-enable", "0",
              "--mbus-server-udss-enable", "0", "--mbus-server-wss-enable", "0", (char *) NULL);
        fprintf(stderr, "cannot execute %s: %m\n", binary);
        _exit(127);
}

/* What it said before it exited. */
static void orig_broker_print_log(const struct orig_broker *o) {
        char line[512];
        FILE *f = fopen(o->log, "re");

        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                fprintf(stderr, "  %s", line);
        fclose(f);
}

/* Starts the broker and waits until its socket exists (connecting is compat_rpc_seq_run's). */
static int orig_broker_start(struct orig_broker *o, const char *binary) {
        usec_t deadline;
        struct stat st;
        int r;

        *o = (struct orig_broker) {};
        snprintf(o->dir, sizeof(o->dir), "/tmp/mbus-bench-orig-XXXXXX");
        if (!mkdtemp(o->dir)) {
                o->dir[0] = 0;
                return -errno;
        }
        if (asprintf(&o->path, "%s/orig:0", o->dir) < 0)
                o->path = NULL;
        if (asprintf(&o->log, "%s/broker.log", o->dir) < 0)
                o->log = NULL;
        if (!o->path || !o->log) {
                orig_broker_stop(o);
                return -ENOMEM;
        }
        fflush(NULL);
        o->pid = fork();
        if (o->pid < 0) {
                r = -errno;
                o->pid = 0;
                orig_broker_stop(o);
                return r;
        }
        if (o->pid == 0)
                orig_broker_exec(binary, o);

        deadline = usec_add(now_usec(CLOCK_MONOTONIC), BENCH_READY_TIMEOUT_USEC);
        while (stat(o->path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                int status;

                if (waitpid(o->pid, &status, WNOHANG) == o->pid) {
                        o->pid = 0;
                        orig_broker_print_log(o);
                        orig_broker_stop(o);
                        return -ECHILD;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        orig_broker_stop(o);
                        return -ETIMEDOUT;
                }
                (void) usleep(5000);
        }
        return 0;
}

int bench_mbus_orig(struct bench *b) {
        const char *binary = orig_broker_binary();
        struct compat_seq_result res = {};
        struct orig_broker o;
        int r;

        if (!binary) {
                tool_error("mbus-orig: no original mBus broker: pass --orig-broker PATH or set $MBUS_ORIG_BROKER "
                           "(tools/bench/build-orig.sh builds one from the tarball)");
                return -ENOENT;
        }
        if (access(binary, X_OK) < 0) {
                r = -errno;
                tool_error("mbus-orig: cannot run %s: %s", binary, strerror(-r));
                return r;
        }
        r = orig_broker_start(&o, binary);
        if (r < 0) {
                tool_error("mbus-orig: cannot start %s: %s", binary, r == -ECHILD ? "it exited at once" : strerror(-r));
                return r;
        }
        r = compat_rpc_seq_run(o.path, o.pid, "mbus-orig", &res);
        orig_broker_stop(&o);
        if (r < 0)
                return r;
        compat_seq_record(b, "mbus-orig", &res);
        if (!isnan(res.rpc.broker_cpu_usec))
                bench_record(b, "mbus-orig", "daemon_cpu_usec_per_call", "µs", res.rpc.broker_cpu_usec);
        return 0;
}
