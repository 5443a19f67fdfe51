/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-publish: owns NAMESPACE for a moment, emits one event with a JSON payload, and exits.
 * mbus_emit_wait() sends a PING after the event, which the broker answers only after it has
 * routed or refused the event: when this tool exits 0 the event has reached every subscriber's
 * queue, and a refusal (InvalidArgs from NAMESPACE's interface file, NotOwner if a reload took
 * the namespace away in between, ...) is printed as "NAME: message" with exit status 1.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "config.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#define PUBLISH_TIMEOUT_USEC (25 * USEC_PER_SEC)

static const char *arg_address = NULL;

static void help(void) {
        printf("Usage: %s [OPTIONS] NAMESPACE EVENT [JSON]\n"
               "\n"
               "Register NAMESPACE on the mbus broker, emit EVENT with the payload JSON\n"
               "(default: none) to every subscriber, wait until the broker has routed it,\n"
               "and exit.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "\n"
               "Exit status: 0 on success, 1 on failure (for instance when another peer owns\n"
               "NAMESPACE, or the broker refused the event), 2 on invalid arguments.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h'         },
                { "version", no_argument,       NULL, ARG_VERSION },
                { "address", required_argument, NULL, 'a'         },
                TOOL_BUS_LONG_OPTIONS,
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "+ha:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mbus-publish %s\n", MBUS_VERSION);
                        return 0;
                case 'a':
                case TOOL_ARG_SYSTEM:
                case TOOL_ARG_USER:
                        if (tool_set_bus(c, optarg, &arg_address) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }

        if (argc - optind < 2 || argc - optind > 3) {
                tool_error("expected NAMESPACE EVENT [JSON] (see --help)");
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
        r = tool_parse_operands(ns, event, "event", optind + 2 < argc ? argv[optind + 2] : NULL, "payload",
                                &payload);
        if (r < 0)
                return TOOL_EXIT_USAGE;

        r = tool_connect(arg_address, &conn);
        if (r < 0)
                return tool_connect_exit_status(r);

        const char *const events[] = { event, NULL };
        r = mbus_register(conn, ns, /* procedures= */ NULL, 0, events, /* userdata= */ NULL, &error);
        if (r < 0) {
                tool_print_failure("cannot register namespace", r, &error);
                return TOOL_EXIT_FAILURE;
        }

        r = mbus_emit_wait(conn, /* destination= */ NULL, ns, event, payload, PUBLISH_TIMEOUT_USEC, &error);
        if (r < 0) {
                tool_print_failure("cannot emit event", r, &error);
                return TOOL_EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
