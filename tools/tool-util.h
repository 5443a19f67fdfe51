/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Shared pieces of the command-line tools: argument parsing, error printing, exit codes. */

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "util/macro.h"
#include "util/time-util.h"

/*
 * Exit codes shared by every tool (each man page's EXIT STATUS): 1 the operation failed (the
 * remote side answered with an error), 2 the command line was wrong, 69 (sysexits' EX_UNAVAILABLE)
 * the broker cannot be reached or the connection broke, 124 (timeout(1)'s) the time given ran out.
 */
#define TOOL_EXIT_FAILURE 1
#define TOOL_EXIT_USAGE 2
#define TOOL_EXIT_UNAVAILABLE 69
#define TOOL_EXIT_TIMEOUT 124

/* Parses a positive number of seconds, fractions allowed ("0.5"), into µs. Returns 0 or
 * -EINVAL (also for 0, negatives, NaN, or values too large to represent). */
int tool_parse_seconds(const char *s, usec_t *ret);

/* tool_parse_seconds() for a --timeout option: prints what is wrong on failure. Returns 0 or -EINVAL. */
int tool_parse_timeout_option(const char *s, usec_t *ret);

/* Parses a decimal number in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/*
 * Parses s as exactly one JSON value (trailing text is an error). Returns 0 and the value in
 * *ret (NULL for the literal null), -EBADMSG with a short reason in *ret_reason (static) if it
 * is not valid JSON.
 */
int tool_parse_json(const char *s, json_object **ret, const char **ret_reason);

/*
 * Checks the NAMESPACE MEMBER [JSON] operands every tool that addresses one member takes:
 * member_kind ("procedure", "event") and json_kind ("arguments", "payload") name them in the
 * messages. json may be NULL (then *ret_json is NULL). Prints what is wrong and returns -EINVAL,
 * or returns 0 and the parsed JSON in *ret_json.
 */
int tool_parse_operands(const char *ns, const char *member, const char *member_kind, const char *json,
                        const char *json_kind, json_object **ret_json);

/* Writes "PROGRAM: " and the printf-formatted text and a newline to stderr. */
void tool_error(const char *format, ...) __attribute__((__format__(printf, 1, 2)));

/* Prints a failed mbus operation: "PROGRAM: WHAT: NAME: message" if error holds a named error,
 * else "PROGRAM: WHAT: strerror(r)". */
void tool_print_failure(const char *what, int r, const struct mbus_error *error);

/* Opens a connection to address (NULL: the default bus, as mbus_conn_open() chooses it) and
 * prints the reason on failure. Returns 0 or the negative errno. */
int tool_connect(const char *address, struct mbus_conn **ret);

/* The options that choose the bus, shared by the tools that connect to one, and the other options
 * every tool takes alike (tool_parse_common_option()). A tool's own long options count from 0x100. */
enum {
        TOOL_ARG_SYSTEM = 0x2000,
        TOOL_ARG_USER,
        TOOL_ARG_VERSION,
        TOOL_ARG_JSON,
};
#define TOOL_BUS_LONG_OPTIONS \
        { "system", no_argument, NULL, TOOL_ARG_SYSTEM }, \
        { "user",   no_argument, NULL, TOOL_ARG_USER   }
/* -h/--help, --version, -a/--address, --system and --user. */
#define TOOL_COMMON_LONG_OPTIONS \
        { "help",    no_argument,       NULL, 'h'              }, \
        { "version", no_argument,       NULL, TOOL_ARG_VERSION }, \
        { "address", required_argument, NULL, 'a'              }, \
        TOOL_BUS_LONG_OPTIONS
#define TOOL_TIMEOUT_LONG_OPTION { "timeout", required_argument, NULL, 't' }
/* --json=MODE, MODE short or pretty. */
#define TOOL_JSON_LONG_OPTION { "json", required_argument, NULL, TOOL_ARG_JSON }
#define TOOL_BUS_HELP \
        "  -a --address ADDRESS  Broker address (default: $MBUS_ADDRESS, else the user\n" \
        "                        bus in a user session, else the system bus)\n" \
        "     --system           Connect to the system bus ($MBUS_SYSTEM_ADDRESS, else\n" \
        "                        /run/mbus/socket)\n" \
        "     --user             Connect to the user bus ($XDG_RUNTIME_DIR/mbus/socket)\n"

/* What the options every tool takes alike set; name and help are the tool's. */
struct tool_common {
        const char *name;               /* what --version prints before the version: "mbus-call" */
        void (*help)(void);             /* prints --help */
        const char *address;            /* -a/--address, --system, --user; NULL: the default bus */
        usec_t timeout;                 /* -t/--timeout; the tool sets what it means when not given */
        bool pretty;                    /* --json=pretty */
};

/*
 * Handles an option getopt_long() returned (c, with value its optarg) that every tool takes alike:
 * -h/--help and --version (printed), -a/--address, --system and --user (tool_set_bus()),
 * -t/--timeout (tool_parse_timeout_option()) and --json=MODE (tool_parse_json_mode()), into
 * common. A tool calls it for whatever its own options are not, so an option means the same in
 * every tool. Returns 1 to go on parsing, 0 after --help or --version (the tool exits 0), or
 * -EINVAL after printing what is wrong, also for any other c (getopt_long() printed that one).
 */
int tool_parse_common_option(int c, const char *value, struct tool_common *common);

/*
 * -a/--address (option 'a' with value), --system or --user: sets *address, to value or the
 * bus's socket. At most one of them may be given. Returns 0, or -EINVAL (reported) for a second
 * one, -ENOMEM.
 */
int tool_set_bus(int option, const char *value, const char **address);

/* tool_connect() that gives up after timeout (0: libmbus's default), connect and handshake
 * included, and names the cause of a failure: no broker at this path, not an mbus socket,
 * permission denied, a relative path. Returns 0 or the negative errno (-EINVAL: bad address). */
int tool_connect_timeout(const char *address, usec_t timeout, struct mbus_conn **ret);

/*
 * The exit status for the outcome r (and error, may be NULL) of a connect or an operation:
 * 0, TOOL_EXIT_TIMEOUT for a timeout (ours or org.mbus.Error.Timeout), TOOL_EXIT_FAILURE for a
 * named error the remote side answered with, TOOL_EXIT_UNAVAILABLE when the broker cannot be
 * reached or the connection broke, TOOL_EXIT_FAILURE for anything else.
 */
int tool_exit_status(int r, const struct mbus_error *error);

/* The exit status after tool_connect_timeout() failed with r: TOOL_EXIT_USAGE for a bad
 * address, TOOL_EXIT_TIMEOUT, else TOOL_EXIT_UNAVAILABLE. */
int tool_connect_exit_status(int r);

/* The MODE of --json=MODE, "short" or "pretty", into *ret_pretty. Prints what is wrong and
 * returns -EINVAL for anything else. */
int tool_parse_json_mode(const char *mode, bool *ret_pretty);

/* Renders v (NULL: null) as one line of JSON, or indented if pretty. The string is owned by v
 * (json-c keeps it until v is freed). */
const char *tool_json_to_string(json_object *v, bool pretty);

MBUS_DEFINE_CLEANUP(struct mbus_conn *, mbus_conn_unref);
MBUS_DEFINE_CLEANUP(struct mbus_slot *, mbus_slot_free);

/* Makes SIGINT and SIGTERM set a flag (tool_got_signal()) instead of killing the process, and
 * cut short a tool_conn_wait() in progress (no SA_RESTART), so a tool ends cleanly. */
void tool_catch_signals(void);
/* The signal tool_catch_signals() caught, 0 if none yet. */
int tool_got_signal(void);

/*
 * Waits until conn's fd is ready for what the connection wants, its own next timeout, deadline
 * (CLOCK_MONOTONIC µs, USEC_INFINITY: none), or a caught signal, whichever comes first.
 * Returns 0 (then call mbus_conn_process() and look at the clock and tool_got_signal()) or the
 * negative errno of the connection or of ppoll().
 */
int tool_conn_wait(struct mbus_conn *conn, usec_t deadline);
