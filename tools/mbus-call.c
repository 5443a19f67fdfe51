/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-call: calls one procedure and prints its JSON result on stdout. Exit 0 on a RETURN,
 * 1 when the service or the broker answered with a named error (name and message on stderr),
 * 2 when the command line is wrong (unknown option, invalid name, invalid arguments), 69 when
 * the broker cannot be reached or the connection broke, 124 when --timeout ran out (connect
 * and handshake included): a script can tell every failure apart. Arguments that do not fit the
 * namespace's introspection are refused (2) before the call is sent (tool-check.c).
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "config.h"
#include "tools/tool-args.h"
#include "tools/tool-check.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

static void help(void);

static struct tool_common arg_common = { .name = "mbus-call", .help = help, .timeout = 0 };
static bool arg_check = true;

static void help(void) {
        printf("Usage: %s [OPTIONS] NAMESPACE PROCEDURE [JSON | - | @FILE | KEY=VALUE... | KEY:=JSON...]\n"
               "\n"
               "Call PROCEDURE of NAMESPACE on the mbus broker and print the result as JSON on\n"
               "standard output. The arguments: one JSON value, - to read it from standard\n"
               "input, @FILE to read it from FILE, or KEY=VALUE (a string) and KEY:=JSON pairs\n"
               "that make an object (default: no arguments). Options may come anywhere; --\n"
               "ends them.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "  -t --timeout SEC      Give up after SEC seconds, connecting included\n"
               "                        (fractions allowed; default 25)\n"
               "     --json=MODE        Print the result as 'short' (one line, the default)\n"
               "                        or 'pretty' (indented) JSON\n"
               "  -p --pretty           Same as --json=pretty\n"
               "     --no-check         Do not check the arguments against the namespace's\n"
               "                        introspection before sending them\n"
               "\n"
               "Exit status: 0 on success, 1 if the service or broker answered with an error,\n"
               "2 on invalid arguments, 69 if the broker cannot be reached, 124 on timeout.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_NO_CHECK = 0x100 };
        static const struct option options[] = {
                TOOL_COMMON_LONG_OPTIONS,
                TOOL_TIMEOUT_LONG_OPTION,
                TOOL_JSON_LONG_OPTION,
                { "pretty",   no_argument,       NULL, 'p'          },
                { "no-check", no_argument,       NULL, ARG_NO_CHECK },
                {}
        };
        int c, r;

        /* Options anywhere on the line (GNU permutation); "--" ends them, for JSON such as -1. */
        while ((c = getopt_long(argc, argv, "ha:t:p", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        arg_common.pretty = true;
                        break;
                case ARG_NO_CHECK:
                        arg_check = false;
                        break;
                default:
                        r = tool_parse_common_option(c, optarg, &arg_common);
                        if (r <= 0)
                                return r;
                }

        if (argc - optind < 2) {
                tool_error("expected NAMESPACE PROCEDURE [ARGUMENTS] (see --help)");
                return -EINVAL;
        }
        return 1;
}

/* What is left of the one deadline (0 without --timeout: libmbus's default). */
static usec_t call_timeout(usec_t deadline) {
        usec_t n;

        if (deadline == USEC_INFINITY)
                return 0;
        n = now_usec(CLOCK_MONOTONIC);
        return deadline > n ? deadline - n : 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *args = NULL, *result = NULL;
        const char *ns, *procedure;
        usec_t deadline;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        ns = argv[optind];
        procedure = argv[optind + 1];
        r = tool_parse_operands(ns, procedure, "procedure", /* json= */ NULL, "arguments", &args);
        if (r < 0)
                return TOOL_EXIT_USAGE;
        r = tool_args_parse(argv + optind + 2, (size_t) (argc - optind - 2), "arguments", &args);
        if (r < 0)
                return TOOL_EXIT_USAGE;

        /* One deadline for the whole operation: what connecting used is not given again. */
        deadline = arg_common.timeout > 0 ? usec_add(now_usec(CLOCK_MONOTONIC), arg_common.timeout)
                                      : USEC_INFINITY;
        r = tool_connect_timeout(arg_common.address, arg_common.timeout, &conn);
        if (r < 0)
                return tool_connect_exit_status(r);

        if (arg_check) {
                r = tool_check_args(conn, ns, procedure, /* is_event= */ false, args, call_timeout(deadline));
                if (r == -EINVAL)
                        return TOOL_EXIT_USAGE;
                if (r < 0) {
                        tool_error("cannot fetch the introspection of %s: %s", ns, strerror(-r));
                        return tool_exit_status(r, NULL);
                }
        }

        r = mbus_call(conn, ns, procedure, args, call_timeout(deadline), &result, &error);
        if (r < 0) {
                if (mbus_error_is_set(&error))
                        tool_error("%s: %s", error.name, error.message ? error.message : "");
                else
                        tool_error("calling %s.%s failed: %s", ns, procedure, strerror(-r));
                return tool_exit_status(r, &error);
        }

        if (puts(tool_json_to_string(result, arg_common.pretty)) < 0 || fflush(stdout) != 0) {
                tool_error("cannot write the result: %m");
                return TOOL_EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
