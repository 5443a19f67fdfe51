/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-call: calls one procedure and prints its JSON result on stdout. Exit 0 on a RETURN,
 * 1 when the call failed (the named error and its message go to stderr) or the broker could
 * not be reached, 2 when the command line is wrong (unknown option, invalid name, invalid
 * JSON): a script can tell "the service said no" from "I called it wrong".
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
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

static const char *arg_address = NULL;
static usec_t arg_timeout = 0;
static bool arg_pretty = false;

static void help(void) {
        printf("Usage: %s [OPTIONS] NAMESPACE PROCEDURE [JSON]\n"
               "\n"
               "Call PROCEDURE of NAMESPACE on the mbus broker with the arguments JSON\n"
               "(default: none) and print the result as JSON on standard output.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "  -t --timeout SEC      Give up after SEC seconds (fractions allowed;\n"
               "                        default 25)\n"
               "  -p --pretty           Print the result indented over several lines\n"
               "\n"
               "Exit status: 0 on success, 1 if the call failed, 2 on invalid arguments.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h'         },
                { "version", no_argument,       NULL, ARG_VERSION },
                { "address", required_argument, NULL, 'a'         },
                TOOL_BUS_LONG_OPTIONS,
                { "timeout", required_argument, NULL, 't'         },
                { "pretty",  no_argument,       NULL, 'p'         },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "+ha:t:p", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mbus-call %s\n", MBUS_VERSION);
                        return 0;
                case 'a':
                case TOOL_ARG_SYSTEM:
                case TOOL_ARG_USER:
                        if (tool_set_bus(c, optarg, &arg_address) < 0)
                                return -EINVAL;
                        break;
                case 't':
                        if (tool_parse_timeout_option(optarg, &arg_timeout) < 0)
                                return -EINVAL;
                        break;
                case 'p':
                        arg_pretty = true;
                        break;
                default:
                        return -EINVAL;
                }

        if (argc - optind < 2 || argc - optind > 3) {
                tool_error("expected NAMESPACE PROCEDURE [JSON] (see --help)");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *args = NULL, *result = NULL;
        const char *ns, *procedure;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        ns = argv[optind];
        procedure = argv[optind + 1];
        r = tool_parse_operands(ns, procedure, "procedure", optind + 2 < argc ? argv[optind + 2] : NULL, "arguments",
                                &args);
        if (r < 0)
                return TOOL_EXIT_USAGE;

        r = tool_connect(arg_address, &conn);
        if (r < 0)
                return TOOL_EXIT_FAILURE;

        r = mbus_call(conn, ns, procedure, args, arg_timeout, &result, &error);
        if (r < 0) {
                if (mbus_error_is_set(&error))
                        tool_error("%s: %s", error.name, error.message ? error.message : "");
                else
                        tool_error("calling %s.%s failed: %s", ns, procedure, strerror(-r));
                return TOOL_EXIT_FAILURE;
        }

        if (puts(tool_json_to_string(result, arg_pretty)) < 0 || fflush(stdout) != 0) {
                tool_error("cannot write the result: %m");
                return TOOL_EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
