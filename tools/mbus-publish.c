/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-publish: owns NAMESPACE for a moment, emits one event with a JSON payload, and exits.
 * mbus_emit_wait() sends a PING after the event, which the broker answers only after it has
 * routed or refused the event: when this tool exits 0 the event has reached every subscriber's
 * queue, and a refusal (InvalidArgs from NAMESPACE's interface file, NotOwner if a reload took
 * the namespace away in between, ...) is printed as "NAME: message" with exit status 1. The
 * payload takes mbus-call's forms (tool-args.c) and is checked against the namespace's
 * introspection before the namespace is even registered (tool-check.c).
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

#define PUBLISH_TIMEOUT_USEC (25 * USEC_PER_SEC)

static void help(void);

static struct tool_common arg_common = { .name = "mbus-publish", .help = help };
static bool arg_check = true;

static void help(void) {
        printf("Usage: %s [OPTIONS] NAMESPACE EVENT [JSON | - | @FILE | KEY=VALUE... | KEY:=JSON...]\n"
               "\n"
               "Register NAMESPACE on the mbus broker, emit EVENT with the payload to every\n"
               "subscriber, wait until the broker has routed it, and exit. The payload: one\n"
               "JSON value, - to read it from standard input, @FILE to read it from FILE, or\n"
               "KEY=VALUE (a string) and KEY:=JSON pairs that make an object (default: none).\n"
               "Options may come anywhere; -- ends them.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "     --no-check         Do not check the payload against the namespace's\n"
               "                        introspection before sending it\n"
               "\n"
               "Exit status: 0 on success, 1 if the broker refused (another peer owns\n"
               "NAMESPACE, the event does not fit its interface file, ...), 2 on invalid\n"
               "arguments, 69 if the broker cannot be reached, 124 on timeout.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_NO_CHECK = 0x100 };
        static const struct option options[] = {
                TOOL_COMMON_LONG_OPTIONS,
                { "no-check", no_argument, NULL, ARG_NO_CHECK },
                {}
        };
        int c, r;

        /* Options anywhere on the line (GNU permutation), as in mbus-call; "--" ends them. */
        while ((c = getopt_long(argc, argv, "ha:", options, NULL)) >= 0)
                switch (c) {
                case ARG_NO_CHECK:
                        arg_check = false;
                        break;
                default:
                        r = tool_parse_common_option(c, optarg, &arg_common);
                        if (r <= 0)
                                return r;
                }

        if (argc - optind < 2) {
                tool_error("expected NAMESPACE EVENT [PAYLOAD] (see --help)");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *payload = NULL;
        const char *ns, *event;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        ns = argv[optind];
        event = argv[optind + 1];
        r = tool_parse_operands(ns, event, "event", /* json= */ NULL, "payload", &payload);
        if (r < 0)
                return TOOL_EXIT_USAGE;
        r = tool_args_parse(argv + optind + 2, (size_t) (argc - optind - 2), "payload", &payload);
        if (r < 0)
                return TOOL_EXIT_USAGE;

        r = tool_connect(arg_common.address, &conn);
        if (r < 0)
                return tool_connect_exit_status(r);

        /* Before registering: nothing of the event is sent if the payload does not fit. */
        if (arg_check) {
                r = tool_check_args(conn, ns, event, /* is_event= */ true, payload, PUBLISH_TIMEOUT_USEC);
                if (r == -EINVAL)
                        return TOOL_EXIT_USAGE;
                if (r < 0) {
                        tool_error("cannot fetch the introspection of %s: %s", ns, strerror(-r));
                        return tool_exit_status(r, NULL);
                }
        }

        const char *const events[] = { event, NULL };
        r = mbus_register(conn, ns, /* procedures= */ NULL, 0, events, /* userdata= */ NULL, &error);
        if (r < 0) {
                tool_print_failure("cannot register namespace", r, &error);
                return tool_exit_status(r, &error);
        }

        r = mbus_emit_wait(conn, /* destination= */ NULL, ns, event, payload, PUBLISH_TIMEOUT_USEC, &error);
        if (r < 0) {
                tool_print_failure("cannot emit event", r, &error);
                return tool_exit_status(r, &error);
        }
        return EXIT_SUCCESS;
}
