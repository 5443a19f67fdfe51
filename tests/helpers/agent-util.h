/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Test helpers for policy tests: clients under other uids, config directories, tool runs. */

/*
 * An agent is a forked child that drops to a given uid, gid and supplementary groups, connects
 * to the broker with libmbus, and then does what the test tells it, one command line at a
 * time over a pipe, answering one line each:
 *
 *   call NS MEMBER [JSON]           mbus_call()                      -> ok RESULT
 *   register NS PROCS EVENTS        mbus_register() with a handler (echoes its arguments) for
 *                                   each of PROCS (comma list, "-" none), EVENTS likewise -> ok
 *   unregister NS                   -> ok
 *   subscribe PATTERN               mbus_subscribe(); events are recorded    -> ok
 *   events                          PING round trip, then the events seen since the last
 *                                   "events": "ok ns.Member ns.Member ..." (":direct" appended
 *                                   to direct ones)
 *   count                           handler runs + CALLs the raw service got -> ok N
 *   rawregister NS [JSON]           a second, raw connection: REGISTER NS with JSON as body;
 *                                   it answers every CALL it receives with its arguments and
 *                                   counts it                                -> ok
 *   rawsubscribe PATTERN            SUBSCRIBE on the raw connection (its events are recorded
 *                                   too)                                     -> ok
 *   rawcall NS MEMBER [BODY]        CALL on the raw connection, BODY sent as is -> ok
 *   rawemit NS EVENT DEST|- [JSON]  EVENT on the raw connection (DEST: a direct event), then a
 *                                   PING: ok if the broker accepted it, else its ERROR
 *   id / rawid                      -> ok :1.N (the connection's peer id)
 *   quit                            the agent exits 0
 *
 * A failure is "err NAME MESSAGE" (NAME the mbus error name, or "errno" and the error text).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "helpers/broker-util.h"

#define TEST_UID_NOBODY ((uid_t) 65534)
#define TEST_GID_NOGROUP ((gid_t) 65534)

struct test_who {
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
};

struct test_agent {
        pid_t pid;
        int cmd_fd, reply_fd;
        char id[32];
        char reply[65536];          /* the last answer, without "ok " / "err " */
};

/* Forks an agent as who, connected to address. Returns 0 or a negative errno (the agent could
 * not connect: its reason is on stderr). */
int test_agent_start(struct test_agent *a, const char *address, const struct test_who *who);
/* Sends one command (printf format) and reads the answer into a->reply. Returns 0 for "ok",
 * -EREMOTEIO for "err", or a negative errno if the agent did not answer in 20 s. */
int test_agent_do(struct test_agent *a, const char *format, ...) __attribute__((__format__(printf, 2, 3)));
/* The error name of the last "err" answer (static storage), or "" */
const char *test_agent_error_name(const struct test_agent *a);
/* Tells the agent to quit and waits. Returns its exit code (0 = clean). */
int test_agent_stop(struct test_agent *a);

/* A configuration directory for --config-dir: DIR/interfaces.d and DIR/policy.d. */

struct test_config {
        char dir[256];
        char log[300];              /* DIR/broker.log, for the broker's stderr */
};
/* A test program's main() calls these around srunner_run_all(): config directories are made
 * in one directory that _done() removes, also those of tests that failed half-way. */
int test_config_root_init(void);
void test_config_root_done(void);
/* Creates the directory; with_shipped copies the org.mbus.Broker interface and policy files
 * from the source tree ($MBUS_TEST_SRCDIR/policy) into it. Returns 0 or a negative errno. */
int test_config_new(struct test_config *c, bool with_shipped);
/* Writes text to DIR/relpath (e.g. "policy.d/org.example.Net.xml"), replacing it atomically
 * (rename), as an admin's package manager would. */
void test_config_write(const struct test_config *c, const char *relpath, const char *text);
void test_config_unlink(const struct test_config *c, const char *relpath);
/* The full path of relpath, in buf. */
const char *test_config_path(const struct test_config *c, const char *relpath, char *buf, size_t size);
/* Removes the whole directory. */
void test_config_remove(struct test_config *c);

/* Stops the broker started with c's log, then removes c; shows the log and fails the test
 * (Check) if the broker did not exit 0. */
void test_config_broker_done(struct test_config *c, struct test_broker *b);

/*
 * A broker of system scope on a config directory of its own, which peers of every uid may
 * reach: what tests of limits and quotas start. The directory has the shipped files and, from
 * files ({RELPATH, TEXT, ..., NULL}; may be NULL), more (test_config_write()); the broker gets
 * --config-dir, --scope system and more_args (NULL-terminated, may be NULL), and logs to
 * c.log. Asserts (Check) that it starts; test_env_done() stops it as test_config_broker_done().
 */
struct test_env {
        struct test_config c;
        struct test_broker b;
};
void test_env_start(struct test_env *e, const char *const *files, const char *const *more_args);
void test_env_done(struct test_env *e);

/* Waits up to timeout_ms for the file at path to contain needle. */
bool test_file_wait_for(const char *path, const char *needle, int timeout_ms);

/* Runs argv (argv[0] a path) to its end with stdin from /dev/null; its stdout and stderr are
 * captured into out and err (NUL-terminated, truncated to fit; either may be NULL). Returns
 * its exit code, 128+signal, or a negative errno (-ETIMEDOUT: killed after timeout_ms). */
int test_run(const char *const *argv, char *out, size_t out_size, char *err, size_t err_size, int timeout_ms);

/* True if we may create peers of other uids (root); tests exit 77 (skip) otherwise. */
bool test_can_switch_uid(void);

/*
 * main() of a test program whose clients run under other uids: skips (77) unless root, with
 * why_root in the message, runs the suite make_suite() builds inside the per-program config
 * root, and returns the exit code for main().
 */
struct Suite;
int test_agent_main(struct Suite *(*make_suite)(void), const char *why_root);
/* The same for a program that needs no root: the suite inside the per-program config root. */
int test_config_main(struct Suite *(*make_suite)(void));
