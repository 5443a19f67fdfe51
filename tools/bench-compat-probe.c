/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-compat-probe: rpc-seq in the original mBus protocol, to compare mbus's compat listener
 * with the original broker on equal terms. One process serves the command "echo" as the
 * identifier org.example.bench-echo, another calls it N times, one call at a time, each over
 * its own UNIX socket connection at PATH (the full path: an original broker and a compat+unix
 * listener both bind PATH:PORT). Both sides speak the original framing directly (4-byte
 * big-endian length, JSON, no compression), so neither the original client library nor
 * libmbus is measured, only the broker between them.
 *
 *   bench-compat-probe PATH [CALLS]     prints "calls N seconds S calls/s R mean-us U"
 *
 * mbus-bench(1) does not take this protocol; this is the standalone measurement the compat
 * figures in the report come from, next to mbus-bench -s rpc-seq for the native one.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAGS "\"org.mbus.method.tag."

static int probe_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        for (int i = 0; i < 200; i++) {
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return fd;
                usleep(10000);
        }
        close(fd);
        return -ECONNREFUSED;
}

static int probe_send(int fd, const char *text) {
        size_t len = strlen(text);
        uint32_t n = htonl((uint32_t) len);
        char buf[4096];

        if (len + 4 > sizeof(buf))
                return -EMSGSIZE;
        memcpy(buf, &n, 4);
        memcpy(buf + 4, text, len);
        return send(fd, buf, len + 4, MSG_NOSIGNAL) == (ssize_t) (len + 4) ? 0 : -EIO;
}

static int probe_read_all(int fd, void *buf, size_t len) {
        for (size_t got = 0; got < len;) {
                ssize_t n = recv(fd, (char *) buf + got, len - got, 0);

                if (n <= 0)
                        return -EIO;
                got += (size_t) n;
        }
        return 0;
}

/* The next frame's JSON text into buf. */
static int probe_recv(int fd, char *buf, size_t size) {
        uint32_t n;

        if (probe_read_all(fd, &n, 4) < 0)
                return -EIO;
        n = ntohl(n);
        if (n >= size)
                return -EMSGSIZE;
        if (probe_read_all(fd, buf, n) < 0)
                return -EIO;
        buf[n] = 0;
        return 0;
}

/* The integer after "org.mbus.method.tag.KEY": in text, or -1. */
static int probe_int(const char *text, const char *key) {
        char pattern[64];
        const char *p;

        snprintf(pattern, sizeof(pattern), TAGS "%s\":", key);
        p = strstr(text, pattern);
        return p ? atoi(p + strlen(pattern)) : -1;
}

/* Connects and creates identifier; waits for the answer. */
static int probe_client(const char *path, const char *identifier) {
        char buf[4096];
        int fd = probe_connect(path);

        if (fd < 0)
                return fd;
        snprintf(buf, sizeof(buf), "{" TAGS "type\":\"org.mbus.method.type.command\"," TAGS
                 "destination\":\"org.mbus.server\"," TAGS "identifier\":\"command.create\"," TAGS "sequence\":1,"
                 TAGS "payload\":{\"identifier\":\"%s\",\"compressions\":[\"none\"]}}", identifier);
        if (probe_send(fd, buf) < 0 || probe_recv(fd, buf, sizeof(buf)) < 0 || probe_int(buf, "status") != 0) {
                close(fd);
                return -EPROTO;
        }
        return fd;
}

static int probe_command(int fd, const char *dest, const char *ident, int seq, const char *payload) {
        char buf[4096];

        snprintf(buf, sizeof(buf), "{" TAGS "type\":\"org.mbus.method.type.command\"," TAGS "destination\":\"%s\","
                 TAGS "identifier\":\"%s\"," TAGS "sequence\":%d," TAGS "timeout\":10000," TAGS "payload\":%s}",
                 dest, ident, seq, payload);
        return probe_send(fd, buf);
}

/* Waits for the result of seq; returns its status. */
static int probe_result(int fd, int seq) {
        char buf[4096];

        for (;;) {
                if (probe_recv(fd, buf, sizeof(buf)) < 0)
                        return -EIO;
                if (strstr(buf, "org.mbus.method.type.result") && probe_int(buf, "sequence") == seq)
                        return probe_int(buf, "status");
        }
}

static int probe_serve(const char *path, int ready) {
        char buf[4096], source[256], result[1024];
        int fd = probe_client(path, "org.example.bench-echo"), seq = 2;

        if (fd < 0 || probe_command(fd, "org.mbus.server", "command.register", seq, "{\"command\":\"echo\"}") < 0 ||
            probe_result(fd, seq) != 0)
                return 1;
        (void) !write(ready, "r", 1);
        for (;;) {
                const char *s;

                if (probe_recv(fd, buf, sizeof(buf)) < 0)
                        return 0;
                if (!strstr(buf, "org.mbus.method.type.command"))
                        continue;
                s = strstr(buf, TAGS "source\":\"");
                if (!s)
                        continue;
                s += strlen(TAGS "source\":\"");
                snprintf(source, sizeof(source), "%.*s", (int) strcspn(s, "\""), s);
                snprintf(result, sizeof(result), "{" TAGS "destination\":\"%s\"," TAGS "identifier\":\"echo\"," TAGS
                         "sequence\":%d," TAGS "status\":0," TAGS "payload\":{}}", source, probe_int(buf, "sequence"));
                if (++seq >= 9999)
                        seq = 2;
                /* The result is itself a command to the server, answered: not waited for here. */
                if (probe_command(fd, "org.mbus.server", "command.result", seq, result) < 0)
                        return 1;
        }
}

static double probe_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char *argv[]) {
        int calls = argc > 2 ? atoi(argv[2]) : 20000, ready[2], fd, seq = 1, status = 0;
        double start, secs;
        char c;
        pid_t pid;

        if (argc < 2 || calls <= 0) {
                fprintf(stderr, "Usage: %s PATH [CALLS]\n", argv[0]);
                return 2;
        }
        if (pipe(ready) < 0)
                return 1;
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0)
                _exit(probe_serve(argv[1], ready[1]));
        close(ready[1]);
        if (read(ready[0], &c, 1) != 1) {
                fprintf(stderr, "the echo side did not come up at %s\n", argv[1]);
                return 1;
        }
        fd = probe_client(argv[1], "org.example.bench-caller");
        if (fd < 0) {
                fprintf(stderr, "cannot connect to %s: %s\n", argv[1], strerror(-fd));
                kill(pid, SIGTERM);
                return 1;
        }
        start = probe_now();
        for (int i = 0; i < calls && status == 0; i++) {
                if (++seq >= 9999)
                        seq = 2;
                if (probe_command(fd, "org.example.bench-echo", "echo", seq, "{\"i\":1}") < 0)
                        status = -EIO;
                else
                        status = probe_result(fd, seq);
        }
        secs = probe_now() - start;
        close(fd);
        kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
        if (status != 0) {
                fprintf(stderr, "a call failed: status %d\n", status);
                return 1;
        }
        printf("calls %d seconds %.3f calls/s %.0f mean-us %.1f\n", calls, secs, calls / secs, secs * 1e6 / calls);
        return 0;
}
