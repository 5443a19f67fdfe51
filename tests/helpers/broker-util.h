/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Test helpers: a real mbus-broker in a temporary directory, and clients in forked processes. */

/*
 * The broker is the binary named by $MBUS_TEST_BROKER (meson sets it), started with
 * --address <mkdtemp dir>/socket and --log-target console plus the test's own arguments.
 * test_broker_stop() sends SIGTERM and waits: a test asserts the broker exited 0, so whatever
 * ASan/LSan/UBSan find in it fails the test. Children (services, subscribers) are forked with
 * test_fork(); they report failures by exiting non-zero (child_assert), and the test asserts
 * their exit status with test_wait().
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#define TEST_TIMEOUT_SEC 60

struct test_broker {
        pid_t pid;
        char dir[256];
        char address[300];
};

/* Starts the broker with extra_args (NULL-terminated, may be NULL) and waits until it accepts
 * connections. Returns 0 or a negative errno. */
int test_broker_start(struct test_broker *b, const char *const *extra_args);
/* Like test_broker_start(); log_path (may be NULL) receives the broker's stderr (its console
 * log), appended; open_to_all makes the socket's directory 0755 so peers of any uid connect. */
int test_broker_start_full(struct test_broker *b, const char *const *extra_args, const char *log_path,
                           bool open_to_all);
/* Starts the broker with args alone (no --address: they, or a configuration file they name,
 * must make it listen on the UNIX socket address) and waits until address accepts connections.
 * b->dir stays empty: the caller owns the socket's directory. Returns 0 or a negative errno. */
int test_broker_start_listening(struct test_broker *b, const char *address, const char *const *args,
                                const char *log_path);
/* SIGTERM, then waits up to 20 s. Returns the wait status, or -ETIMEDOUT (it was killed). Also
 * removes the temporary directory. */
int test_broker_stop(struct test_broker *b);
/* The broker's VmRSS in KiB, or a negative errno. */
long test_broker_rss_kb(const struct test_broker *b);
/* Under AddressSanitizer, freed memory waits in a quarantine (256 MiB by default) before it is
 * reused or given back, which looks like growth: brokers started after this keep it at 1 MiB. */
void test_asan_small_quarantine(void);

/* Asserts (with Check) that the broker exited 0 after SIGTERM. */
#define ck_assert_broker_stops_cleanly(b)                                                       \
        do {                                                                                    \
                int _st = test_broker_stop(b);                                                  \
                ck_assert_msg(_st >= 0 && WIFEXITED(_st) && WEXITSTATUS(_st) == 0,              \
                              "broker did not exit cleanly: status %d", _st);                   \
        } while (0)

/* In a forked child: on failure print where and exit(1) (Check's asserts belong to the test
 * process only). */
#define child_assert(expr)                                                                      \
        do {                                                                                    \
                if (!(expr)) {                                                                  \
                        fprintf(stderr, "%s:%d: child %d: assertion failed: %s\n", __FILE__,    \
                                __LINE__, (int) getpid(), #expr);                               \
                        exit(EXIT_FAILURE);                                                     \
                }                                                                               \
        } while (0)

/* Forks; the child runs fn(userdata) and exits with its return value. Returns the pid. */
pid_t test_fork(int (*fn)(void *userdata), void *userdata);
/* Waits for pid up to timeout_ms. Returns its exit code, 128+signal if a signal ended it, or
 * -ETIMEDOUT (then it is killed). */
int test_wait(pid_t pid, int timeout_ms);

/* A pipe a child writes one line to when it is ready (e.g. its peer id). */
struct test_pipe {
        int fd[2];
};
void test_pipe_init(struct test_pipe *p);
void test_pipe_close(struct test_pipe *p);
/* Child side: writes line and a newline, closes nothing. */
void test_pipe_write(struct test_pipe *p, const char *line);
/* Parent side: reads one line (without newline) into buf within timeout_ms. Returns 0,
 * -ETIMEDOUT, or -EPIPE if the writer closed the pipe without a line. */
int test_pipe_read_line(struct test_pipe *p, char *buf, size_t size, int timeout_ms);

/*
 * An echo service in a forked child: connects to address, registers ns with the procedures
 *   Echo        returns its arguments
 *   Fail        answers org.example.Error.Failed "asked to fail"
 *   Hang        never answers (the request is held)
 *   Quit        answers {} and ends the service (exit 0)
 *   Disconnect  never answers; the service closes its connection at once and exits 0
 * and reports ready with its peer id. test_service_start() returns once ns is registered.
 */
struct test_service {
        pid_t pid;
        char id[32];
};
int test_service_start(struct test_service *s, const char *address, const char *ns);
/* Calls ns.Quit and waits for the service to exit. Returns its exit code (0 = clean). */
int test_service_quit(struct test_service *s, const char *address, const char *ns);

/* Opens a libmbus connection or fails the test (Check). */
struct mbus_conn *test_connect(const char *address, const char *name);

/* Processes conn until nothing is left to do within timeout_ms of quiet, or until stop_fd
 * (if >= 0) becomes readable or hangs up. Returns 0 or the negative errno of the connection. */
int test_pump(struct mbus_conn *conn, int stop_fd, int timeout_ms);

/* json helpers: the member's string / integer value, NULL / INT64_MIN when absent. */
const char *test_json_str(json_object *o, const char *key);
int64_t test_json_int(json_object *o, const char *key);

/* A path of a tool: $MBUS_TEST_BINDIR/name. The string is static storage per call site. */
const char *test_tool_path(const char *name, char *buf, size_t size);

/* Raises RLIMIT_NOFILE to at least n (up to the hard limit). Returns the new soft limit. */
long test_raise_nofile(long n);

/* Milliseconds of CLOCK_MONOTONIC. */
long long test_now_ms(void);
/* Microseconds of CLOCK_MONOTONIC: libmbus's clock, that of mbus_conn_get_timeout(). */
uint64_t test_now_usec(void);

/* A loopback TCP port that nobody listens on now. */
unsigned test_free_tcp_port(void);

/* Makes the TLS test certificates (helpers/make-test-certs, with the openssl command line) in a
 * new directory, whose path goes to dir. Returns 0 or a negative errno. */
int test_make_certs(char *dir, size_t size);
/* Removes that directory. */
void test_remove_certs(const char *dir);
