/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Test helpers: the command-line tools run as separate processes, their output captured. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "helpers/broker-util.h"

/* What a finished tool did. */
struct run {
        int status;              /* exit code, 128+signal, or -ETIMEDOUT */
        char out[8192], err[8192];
};

/* A tool still running, its stdout and stderr on pipes. */
struct proc {
        pid_t pid;
        int out_fd, err_fd;
        char out[16384];         /* what proc_read_until() has read of stdout so far */
        size_t n_out;
};

/* Starts argv (argv[0] a path) with stdout and stderr on pipes; stdin is ours. Fails the test
 * (Check) if it cannot. */
void proc_start(struct proc *p, const char *const *argv);
/* proc_start() as uid and gid, without supplementary groups (the test runs as root). */
void proc_start_as(struct proc *p, const char *const *argv, uid_t uid, gid_t gid);

/* Reads p's stdout into p->out until it contains needle (true) or timeout_ms pass or it closes
 * (false). Lines read stay in p->out; proc_finish() gives them on in r->out. */
bool proc_read_until(struct proc *p, const char *needle, int timeout_ms);

/* Collects output until both pipes close, then the exit status, into r; within timeout_ms, else
 * the tool is killed and r->status is -ETIMEDOUT. Prints the tool's stderr for the test log. */
void proc_finish(struct proc *p, struct run *r, int timeout_ms);

/* proc_start() and proc_finish() within 30 s. */
void run_tool(struct run *r, const char *const *argv);

/* run_tool() with text on the tool's standard input. */
void run_tool_stdin(struct run *r, const char *const *argv, const char *text);

/* The path of the tool name in this build ($MBUS_TEST_BINDIR/name), in a buffer of the call site. */
#define TOOL(name) test_tool_path(name, (char[512]) {}, 512)
