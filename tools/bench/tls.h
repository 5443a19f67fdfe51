/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The TLS side of mbus-bench: certificates, OpenSSL's own client, openssl s_server and s_time. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/time-util.h"

/* The files of both sides. One CA bundle verifies the client to the server and the reverse. */
struct bench_tls_files {
        char *cert, *key;               /* the client's */
        char *ca;
        char *server_cert, *server_key; /* the broker's, and openssl s_server's */
        char *dir;                      /* the temporary directory they were made in; NULL if given */
};

/*
 * Makes a CA, a server certificate for 127.0.0.1 and a client certificate (CN=mbus-bench), EC
 * P-256, with the openssl command in a new temporary directory. Returns 0, or a negative errno
 * after printing what failed.
 */
int bench_tls_files_make(struct bench_tls_files *ret);

/* Takes given files, as absolute paths. Returns 0, or a negative errno after printing which. */
int bench_tls_files_use(struct bench_tls_files *ret, const char *cert, const char *key, const char *ca,
                        const char *server_cert, const char *server_key);

/* Frees the strings and removes the temporary directory, if one was made. */
void bench_tls_files_done(struct bench_tls_files *f);

/* A TCP port on 127.0.0.1 that was free a moment ago. Returns 0 or a negative errno. */
int bench_tls_free_port(uint16_t *ret);

/* Waits until something accepts TCP connections on 127.0.0.1:port. Returns 0 or -ETIMEDOUT. */
int bench_tls_wait_port(uint16_t port, usec_t timeout);

/*
 * Handshakes with OpenSSL's client to 127.0.0.1:port for duration, one after the other: TCP
 * connect, TLS handshake with the client certificate (the server's verified), close; no mbus
 * frame. resume: every connection offers the session of a first one (which must be accepted),
 * else each negotiates a new session. Returns 0 and handshakes per second, or a negative errno
 * after printing what failed.
 */
int bench_tls_handshakes(const struct bench_tls_files *f, uint16_t port, bool resume, usec_t duration,
                         double *ret_per_sec);

/* Starts openssl s_server on 127.0.0.1:port with the server's files, requiring a client
 * certificate; returns 0 once it accepts connections. */
int bench_tls_s_server_start(const struct bench_tls_files *f, uint16_t port, pid_t *ret_pid);
void bench_tls_s_server_stop(pid_t pid);

/*
 * Runs openssl s_time -new against 127.0.0.1:port for seconds. Returns 0 with the connections
 * per second of wall-clock time (the process's whole life: s_time's own "real seconds" are
 * whole seconds) and s_time's connections per second of its own user CPU time.
 */
int bench_tls_s_time(const struct bench_tls_files *f, uint16_t port, unsigned seconds, double *ret_per_sec,
                     double *ret_per_user_sec);
