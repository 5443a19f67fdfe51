/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What mbus-bench's tls scenario needs beyond libmbus: certificates, a handshake-only client,
 * and OpenSSL's own server and timing client to compare the broker with.
 *
 * Certificates come from the openssl command run by a short shell script kept here, so that an
 * installed mbus-bench needs no file of the source tree; a temporary directory holds them and
 * is removed afterwards.
 *
 * The handshake client uses OpenSSL directly: libmbus shares one client context per process
 * and always resumes its last session, which is right for an application and wrong for
 * counting full handshakes. Like openssl s_time, it connects, handshakes and closes without a
 * close_notify, so that the broker and openssl s_server are timed on the same work.
 *
 * Helper processes (s_server, s_time, the script) are forked and exec'd with their output
 * captured or sent to /dev/null; each is waited for, s_server after SIGTERM.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tools/bench/tls.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/macro.h"

#define BENCH_TLS_HOST "127.0.0.1"

/* $1: the directory. EC P-256 keys, as the tests use: quick to make and to handshake with. */
static const char bench_tls_script[] =
        "set -e\n"
        "cd \"$1\"\n"
        "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\"; }\n"
        "key ca-key.pem\n"
        "openssl req -new -x509 -key ca-key.pem -subj '/CN=mbus-bench CA' -days 2 -out ca.pem \\\n"
        "        -addext 'basicConstraints=critical,CA:true' -addext 'keyUsage=critical,keyCertSign'\n"
        "leaf() {\n"
        "        key \"$1-key.pem\"\n"
        "        openssl req -new -x509 -key \"$1-key.pem\" -subj \"/CN=$2\" -days 2 -CA ca.pem \\\n"
        "                -CAkey ca-key.pem -addext \"subjectAltName=$3\" -addext 'basicConstraints=CA:false' \\\n"
        "                -addext 'extendedKeyUsage=serverAuth,clientAuth' -out \"$1.pem\"\n"
        "}\n"
        "leaf server localhost 'DNS:localhost,IP:127.0.0.1'\n"
        "leaf client mbus-bench 'DNS:mbus-bench'\n";

/* Forks and execs argv with stdin from /dev/null and stdout and stderr to out (-1: /dev/null). */
static int tls_spawn(char *const argv[], int out, pid_t *ret) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                if (out < 0)
                        out = null;
                if (out >= 0) {
                        (void) dup2(out, STDOUT_FILENO);
                        (void) dup2(out, STDERR_FILENO);
                }
                (void) signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                fprintf(stderr, "mbus-bench: cannot execute %s: %m\n", argv[0]);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

/* Exit status of pid, or -1 if it did not exit normally. */
static int tls_wait(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int tls_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void bench_tls_files_done(struct bench_tls_files *f) {
        if (f->dir)
                (void) nftw(f->dir, tls_remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f->cert);
        free(f->key);
        free(f->ca);
        free(f->server_cert);
        free(f->server_key);
        free(f->dir);
        *f = (struct bench_tls_files) {};
}

static char *tls_path(const char *dir, const char *name) {
        char *p;

        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

int bench_tls_files_make(struct bench_tls_files *ret) {
        char tmpl[] = "/tmp/mbus-bench-tls-XXXXXX";
        struct bench_tls_files f = {};
        pid_t pid = 0;
        int r, status;

        if (!mkdtemp(tmpl))
                return -errno;
        f.dir = strdup(tmpl);
        if (!f.dir) {
                (void) rmdir(tmpl);
                return -ENOMEM;
        }

        /* openssl prints nothing when all is well, and why when not: its output goes to our stderr */
        r = tls_spawn((char *[]) { "/bin/sh", "-c", (char *) bench_tls_script, "sh", tmpl, NULL }, STDERR_FILENO, &pid);
        if (r < 0)
                goto fail;
        status = tls_wait(pid);
        if (status != 0) {
                tool_error("cannot make test certificates with the openssl command (%s)",
                           status == 127 ? "not found" : "it failed");
                r = -ENOEXEC;
                goto fail;
        }

        f.cert = tls_path(tmpl, "client.pem");
        f.key = tls_path(tmpl, "client-key.pem");
        f.ca = tls_path(tmpl, "ca.pem");
        f.server_cert = tls_path(tmpl, "server.pem");
        f.server_key = tls_path(tmpl, "server-key.pem");
        if (!f.cert || !f.key || !f.ca || !f.server_cert || !f.server_key) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = f;
        return 0;
fail:
        bench_tls_files_done(&f);
        return r;
}

int bench_tls_files_use(struct bench_tls_files *ret, const char *cert, const char *key, const char *ca,
                        const char *server_cert, const char *server_key) {
        const char *in[] = { cert, key, ca, server_cert, server_key };
        struct bench_tls_files f = {};
        char **out[] = { &f.cert, &f.key, &f.ca, &f.server_cert, &f.server_key };

        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                int r;

                *out[i] = realpath(in[i], NULL);
                if (!*out[i]) {
                        r = -errno;
                        tool_error("cannot use %s: %m", in[i]);
                        bench_tls_files_done(&f);
                        return r;
                }
                /* they go into a tls:// address, whose parameters end at '&' */
                if (strchr(*out[i], '&')) {
                        tool_error("cannot use %s: a path with '&' does not fit into an address", *out[i]);
                        bench_tls_files_done(&f);
                        return -EINVAL;
                }
        }
        *ret = f;
        return 0;
}

static struct sockaddr_in tls_sockaddr(uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sa;
}

int bench_tls_free_port(uint16_t *ret) {
        struct sockaddr_in sa = tls_sockaddr(0);
        socklen_t len = sizeof(sa);
        int fd, r = 0;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                r = -errno;
        safe_close(fd);
        if (r < 0)
                return r;
        *ret = ntohs(sa.sin_port);
        return 0;
}

/* A blocking TCP connection to 127.0.0.1:port. */
static int tls_tcp_connect(uint16_t port) {
        struct sockaddr_in sa = tls_sockaddr(port);
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

int bench_tls_wait_port(uint16_t port, usec_t timeout) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);

        for (;;) {
                int fd = tls_tcp_connect(port);
                if (fd >= 0) {
                        safe_close(fd);
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                (void) usleep(5000);
        }
}

/* ---- the handshake client ------------------------------------------------------------------ */

/* The client's SSL_CTX keeps the first session it is given, for the resumed handshakes. */
static int tls_on_new_session(SSL *ssl, SSL_SESSION *session) {
        SSL_SESSION **slot = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

        if (*slot)
                return 0;               /* not taken: OpenSSL frees it */
        *slot = session;
        return 1;
}

static void tls_print_openssl_error(const char *what) {
        char buf[256] = "";
        unsigned long e = ERR_peek_last_error();

        if (e)
                ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        tool_error("%s%s%s", what, e ? ": " : "", buf);
}

/* One handshake; returns the connected fd and the SSL in *ret_ssl, or a negative errno. */
static int tls_handshake_once(SSL_CTX *ctx, uint16_t port, SSL_SESSION *session, SSL **ret_ssl) {
        SSL *ssl;
        int fd;

        fd = tls_tcp_connect(port);
        if (fd < 0) {
                tool_error("tls: cannot connect to %s:%u: %s", BENCH_TLS_HOST, port, strerror(-fd));
                return fd;
        }
        ssl = SSL_new(ctx);
        if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), BENCH_TLS_HOST) != 1 ||
            (session && SSL_set_session(ssl, session) != 1)) {
                SSL_free(ssl);
                safe_close(fd);
                return -ENOMEM;
        }
        if (SSL_connect(ssl) != 1) {
                long v = SSL_get_verify_result(ssl);

                tls_print_openssl_error(v != X509_V_OK ? X509_verify_cert_error_string(v) : "tls: handshake failed");
                SSL_free(ssl);
                safe_close(fd);
                return -EPROTO;
        }
        *ret_ssl = ssl;
        return fd;
}

/* Closes as s_time does: no close_notify, the socket simply goes. */
static void tls_drop(SSL *ssl, int fd) {
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(ssl);
        safe_close(fd);
}

/* A TLS 1.3 session ticket arrives after the handshake: read until the server sent one. */
static int tls_fetch_session(SSL_CTX *ctx, uint16_t port, SSL_SESSION **slot) {
        usec_t deadline = usec_add(now_usec(CLOCK_MONOTONIC), 5 * USEC_PER_SEC);
        SSL *ssl;
        int fd;

        fd = tls_handshake_once(ctx, port, NULL, &ssl);
        if (fd < 0)
                return fd;
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        while (!*slot) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char buf[256];
                size_t n;
                usec_t now = now_usec(CLOCK_MONOTONIC);

                if (SSL_read_ex(ssl, buf, sizeof(buf), &n) != 1 &&
                    SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ)
                        break;
                if (*slot || now >= deadline)
                        break;
                (void) poll(&p, 1, (int) ((deadline - now + 999) / 1000));
        }
        tls_drop(ssl, fd);
        if (!*slot) {
                tool_error("tls: the server offered no session to resume");
                return -ENOTSUP;
        }
        return 0;
}

int bench_tls_handshakes(const struct bench_tls_files *f, uint16_t port, bool resume, usec_t duration,
                         double *ret_per_sec) {
        SSL_SESSION *session = NULL;
        SSL_CTX *ctx;
        uint64_t n = 0;
        usec_t start, end;
        int r = 0;

        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
                return -ENOMEM;
        if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1) {
                tls_print_openssl_error("tls: cannot load the client's certificate, key or CA bundle");
                SSL_CTX_free(ctx);
                return -EINVAL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (resume) {
                SSL_CTX_set_app_data(ctx, &session);
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
                SSL_CTX_sess_set_new_cb(ctx, tls_on_new_session);
                r = tls_fetch_session(ctx, port, &session);
                if (r < 0)
                        goto finish;
        } else
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

        start = now_usec(CLOCK_MONOTONIC);
        do {
                /* OpenSSL's client uses a TLS 1.3 session once; a copy each time keeps it resumable
                 * (the server's tickets are stateless: it takes the same one again) */
                SSL_SESSION *copy = NULL;
                SSL *ssl;
                int fd;

                if (resume) {
                        copy = SSL_SESSION_dup(session);
                        if (!copy) {
                                r = -ENOMEM;
                                goto finish;
                        }
                }
                fd = tls_handshake_once(ctx, port, copy, &ssl);
                SSL_SESSION_free(copy);
                if (fd < 0) {
                        r = fd;
                        goto finish;
                }
                if (resume && !SSL_session_reused(ssl)) {
                        tls_drop(ssl, fd);
                        tool_error("tls: the server did not resume the session");
                        r = -ENOTSUP;
                        goto finish;
                }
                tls_drop(ssl, fd);
                n++;
                end = now_usec(CLOCK_MONOTONIC);
        } while (end - start < duration);
        *ret_per_sec = (double) n * USEC_PER_SEC / (double) MAX(end - start, 1u);
finish:
        SSL_SESSION_free(session);
        SSL_CTX_free(ctx);
        return r;
}

/* ---- openssl s_server and s_time --------------------------------------------------------- */

int bench_tls_s_server_start(const struct bench_tls_files *f, uint16_t port, pid_t *ret_pid) {
        char accept[32];
        pid_t pid = 0;
        int r;

        snprintf(accept, sizeof(accept), BENCH_TLS_HOST ":%u", port);
        /* its complaints about clients that leave without a word go to /dev/null */
        r = tls_spawn((char *[]) { "openssl", "s_server", "-quiet", "-accept", accept, "-cert", f->server_cert,
                                   "-key", f->server_key, "-CAfile", f->ca, "-Verify", "1", NULL },
                      /* out= */ -1, &pid);
        if (r < 0)
                return r;
        r = bench_tls_wait_port(port, 10 * USEC_PER_SEC);
        if (r < 0) {
                tool_error("tls: openssl s_server did not come up on port %u", port);
                bench_tls_s_server_stop(pid);
                return r;
        }
        *ret_pid = pid;
        return 0;
}

void bench_tls_s_server_stop(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        (void) tls_wait(pid);
}

int bench_tls_s_time(const struct bench_tls_files *f, uint16_t port, unsigned seconds, double *ret_per_sec,
                     double *ret_per_user_sec) {
        _cleanup_free_ char *out = NULL;
        char connect[32], time_arg[16];
        size_t size = 0, len = 0;
        usec_t start, end, deadline;
        unsigned long n_conn = 0;
        double per_user_sec = -1;
        int p[2], r, status;
        pid_t pid = 0;

        snprintf(connect, sizeof(connect), BENCH_TLS_HOST ":%u", port);
        snprintf(time_arg, sizeof(time_arg), "%u", seconds);
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        start = now_usec(CLOCK_MONOTONIC);
        r = tls_spawn((char *[]) { "openssl", "s_time", "-connect", connect, "-new", "-cert", f->cert, "-key",
                                   f->key, "-CAfile", f->ca, "-time", time_arg, NULL },
                      p[1], &pid);
        safe_close(p[1]);
        if (r < 0) {
                safe_close(p[0]);
                return r;
        }

        /* one '*' per connection, then the figures; until it closes its end */
        deadline = usec_add(start, (seconds + 30) * USEC_PER_SEC);
        for (;;) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                usec_t now = now_usec(CLOCK_MONOTONIC);
                ssize_t k;

                if (now >= deadline) {
                        (void) kill(pid, SIGKILL);
                        break;
                }
                if (poll(&pfd, 1, (int) ((deadline - now + 999) / 1000)) <= 0)
                        continue;
                if (size - len < 4096) {
                        char *bigger = realloc(out, size + 65536);
                        if (!bigger) {
                                (void) kill(pid, SIGKILL);
                                break;
                        }
                        out = bigger;
                        size += 65536;
                }
                k = read(p[0], out + len, size - len - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
        }
        safe_close(p[0]);
        status = tls_wait(pid);
        end = now_usec(CLOCK_MONOTONIC);
        if (out)
                out[len] = 0;

        /* "870 connections in 0.81s; 1074.07 connections/user sec, bytes read 0" */
        for (char *line = out; line && *line; ) {
                char *nl = strchr(line, '\n');
                unsigned long n;
                double user, rate;

                if (nl)
                        *nl = 0;
                if (sscanf(line, "%lu connections in %lfs; %lf connections/user sec", &n, &user, &rate) == 3) {
                        n_conn = n;
                        per_user_sec = rate;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (status != 0 || per_user_sec < 0 || n_conn == 0) {
                tool_error("tls: openssl s_time against port %u failed (exit status %d)%s%s", port, status,
                           out && len > 0 ? ", it said:\n" : "", out && len > 0 ? out : "");
                return -EPROTO;
        }
        *ret_per_sec = (double) n_conn * USEC_PER_SEC / (double) MAX(end - start, 1u);
        *ret_per_user_sec = per_user_sec;
        return 0;
}
