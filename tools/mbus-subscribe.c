/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-subscribe: prints every event matching one of its patterns as one line of JSON,
 *   {"namespace": ..., "event": ..., "sender": ..., "payload": ...}
 * flushing after each line so a pipe sees it at once. All patterns are subscribed (each one
 * acknowledged by the broker) before the first event is read, and nothing else is written to
 * stdout.
 *
 * libmbus runs the handler of every subscription whose pattern matches an event, so with
 * overlapping patterns ("org.example.*" and "*") one event reaches several handlers. Each
 * handler knows its pattern's index and prints only if no earlier pattern matches too: one
 * line per event, decided locally without any event id.
 *
 * It ends after --count events (exit 0), or after --timeout seconds (exit 0 without --count,
 * exit 1 with it: the expected events did not come), or on SIGINT/SIGTERM (like a timeout).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "config.h"
#include "proto/names.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

static void help(void);

static struct tool_common arg_common = { .name = "mbus-subscribe", .help = help, .timeout = USEC_INFINITY };
static uint64_t arg_count = 0;          /* 0: unlimited */

struct subscriber {
        char **patterns;                /* borrowed from argv */
        size_t n_patterns;
        uint64_t n_received;
        int write_error;                /* negative errno once stdout failed */
};

struct subscription {
        struct subscriber *subscriber;
        size_t index;                   /* of its pattern in subscriber->patterns */
};

static void help(void) {
        printf("Usage: %s [OPTIONS] PATTERN...\n"
               "\n"
               "Subscribe to the events matching each PATTERN (\"*\", \"org.example.*\",\n"
               "\"org.example.Network.*\", \"org.example.Network.StateChanged\") and print each\n"
               "event received as one line of JSON:\n"
               "  {\"namespace\":...,\"event\":...,\"sender\":...,\"payload\":...}\n"
               "Options may come anywhere; -- ends them.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "     --json=MODE        Print each event as 'short' (one line, the default)\n"
               "                        or 'pretty' (indented) JSON\n"
               "  -n --count N          Exit after N events\n"
               "  -t --timeout SEC      Exit after SEC seconds (fractions allowed)\n"
               "\n"
               "Exit status: 0 once N events arrived, or at the timeout if no --count was\n"
               "given; 1 if the timeout came first with --count, or on failure; 2 on invalid\n"
               "arguments.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                TOOL_COMMON_LONG_OPTIONS,
                { "count", required_argument, NULL, 'n' },
                TOOL_TIMEOUT_LONG_OPTION,
                TOOL_JSON_LONG_OPTION,
                {}
        };
        int c, r;

        /* Options anywhere on the line (GNU permutation), as in mbus-call; "--" ends them. */
        while ((c = getopt_long(argc, argv, "ha:n:t:", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        if (tool_parse_uint(optarg, 1, UINT64_MAX, &arg_count) < 0) {
                                tool_error("invalid --count '%s': expected a positive integer", optarg);
                                return -EINVAL;
                        }
                        break;
                default:
                        r = tool_parse_common_option(c, optarg, &arg_common);
                        if (r <= 0)
                                return r;
                }

        if (optind >= argc) {
                tool_error("expected at least one PATTERN (see --help)");
                return -EINVAL;
        }
        for (int i = optind; i < argc; i++)
                if (!mbus_pattern_is_valid(argv[i])) {
                        tool_error("invalid pattern '%s': expected \"*\", NAMESPACE.EVENT or a label prefix followed by \".*\"",
                                   argv[i]);
                        return -EINVAL;
                }
        return 1;
}

static int subscribe_print(struct subscriber *s, const struct mbus_event *ev) {
        _cleanup_json_ json_object *line = NULL;

        line = json_object_new_object();
        if (!line)
                return -ENOMEM;
        if (json_object_object_add(line, "namespace", json_object_new_string(ev->ns ?: "")) < 0 ||
            json_object_object_add(line, "event", json_object_new_string(ev->event ?: "")) < 0 ||
            json_object_object_add(line, "sender", json_object_new_string(ev->sender ?: "")) < 0 ||
            json_object_object_add(line, "payload", json_object_get(ev->payload)) < 0)
                return -ENOMEM;
        if (puts(tool_json_to_string(line, arg_common.pretty)) < 0 || fflush(stdout) != 0)
                return negative_errno();
        return 0;
}

static int subscribe_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct subscription *sub = userdata;
        struct subscriber *s = sub->subscriber;
        int r;

        /* An earlier pattern that matches as well prints this event (see the top comment). */
        for (size_t i = 0; i < sub->index; i++)
                if (mbus_pattern_matches(s->patterns[i], ev->ns, ev->event))
                        return 0;

        if (arg_count > 0 && s->n_received >= arg_count)
                return 0;

        r = subscribe_print(s, ev);
        if (r < 0) {
                s->write_error = r;     /* the main loop reports it and stops */
                return 0;
        }
        s->n_received++;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_free_ struct subscription *subs = NULL;
        _cleanup_free_ struct mbus_slot **slots = NULL;
        struct subscriber s = {};
        usec_t deadline;
        int r, ret = TOOL_EXIT_FAILURE;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        s.patterns = argv + optind;
        s.n_patterns = argc - optind;
        subs = calloc(s.n_patterns, sizeof(*subs));
        slots = calloc(s.n_patterns, sizeof(*slots));
        if (!subs || !slots) {
                tool_error("out of memory");
                return TOOL_EXIT_FAILURE;
        }

        tool_catch_signals();

        r = tool_connect(arg_common.address, &conn);
        if (r < 0)
                return tool_connect_exit_status(r);

        deadline = usec_add(now_usec(CLOCK_MONOTONIC), arg_common.timeout);

        for (size_t i = 0; i < s.n_patterns; i++) {
                _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
                _cleanup_free_ char *what = NULL;

                subs[i] = (struct subscription) { .subscriber = &s, .index = i };
                r = mbus_subscribe(conn, s.patterns[i], subscribe_on_event, &subs[i], &slots[i], &error);
                if (r < 0) {
                        /* "cannot subscribe to 'P': org.mbus.Error.AccessDenied: ... rule ..." */
                        if (asprintf(&what, "cannot subscribe to '%s'", s.patterns[i]) < 0)
                                what = NULL;
                        tool_print_failure(what ?: "cannot subscribe", r, &error);
                        goto finish;
                }
        }

        for (;;) {
                usec_t n;

                if (s.write_error < 0) {
                        tool_error("cannot write to standard output: %s", strerror(-s.write_error));
                        goto finish;
                }
                if (arg_count > 0 && s.n_received >= arg_count) {
                        ret = EXIT_SUCCESS;
                        goto finish;
                }

                /* Checked on every turn, so a steady stream of events cannot hold off the end. */
                n = now_usec(CLOCK_MONOTONIC);
                if (tool_got_signal() || n >= deadline) {
                        if (arg_count == 0) {
                                ret = EXIT_SUCCESS;
                                goto finish;
                        }
                        tool_error("%s after %" PRIu64 " of %" PRIu64 " events",
                                   tool_got_signal() ? "interrupted" : "timed out", s.n_received, arg_count);
                        ret = tool_got_signal() ? TOOL_EXIT_FAILURE : TOOL_EXIT_TIMEOUT;
                        goto finish;
                }

                r = mbus_conn_process(conn);
                if (r < 0) {
                        tool_error("connection to the broker failed: %s", strerror(-r));
                        ret = TOOL_EXIT_UNAVAILABLE;
                        goto finish;
                }
                if (r > 0)
                        continue;

                r = tool_conn_wait(conn, deadline);
                if (r < 0) {
                        tool_error("connection to the broker failed: %s", strerror(-r));
                        ret = TOOL_EXIT_UNAVAILABLE;
                        goto finish;
                }
        }

finish:
        for (size_t i = 0; i < s.n_patterns; i++)
                slots[i] = mbus_slot_free(slots[i]);
        return ret;
}
