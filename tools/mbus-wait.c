/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-wait: waits until every namespace named on the command line has an owner, for
 * ExecStartPost= lines and scripts. No polling: it subscribes to
 * org.mbus.Broker.NamespaceOwnerChanged first and only then asks ListNamespaces, so an owner
 * that appears between the two is seen either in the list or as an event. Events that arrive
 * while the list call runs are dispatched after it, in the broker's order, so the last word on
 * each namespace is always the broker's latest: a namespace that loses its owner again before
 * the others appear is waited for again.
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

static void help(void);

static struct tool_common arg_common = { .name = "mbus-wait", .help = help, .timeout = USEC_INFINITY };
static bool arg_quiet = false;

struct wait_state {
        char **names;           /* borrowed from argv */
        bool *owned;
        size_t n;
};

static void help(void) {
        printf("Usage: %s [OPTIONS] NAMESPACE...\n"
               "\n"
               "Wait until every NAMESPACE has an owner on the mbus broker.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "  -t --timeout SEC      Give up after SEC seconds (fractions allowed;\n"
               "                        default: wait forever)\n"
               "  -q --quiet            Do not say which namespaces are missing on timeout\n"
               "\n"
               "Exit status: 0 once every namespace has an owner, 2 on invalid arguments,\n"
               "69 if the broker cannot be reached or the connection breaks, 124 on timeout.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                TOOL_COMMON_LONG_OPTIONS,
                TOOL_TIMEOUT_LONG_OPTION,
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        int c, r;

        /* Options anywhere on the line (GNU permutation); "--" ends them. */
        while ((c = getopt_long(argc, argv, "ha:t:q", options, NULL)) >= 0)
                switch (c) {
                case 'q':
                        arg_quiet = true;
                        break;
                default:
                        r = tool_parse_common_option(c, optarg, &arg_common);
                        if (r <= 0)
                                return r;
                }

        if (optind >= argc) {
                tool_error("expected at least one NAMESPACE (see --help)");
                return -EINVAL;
        }
        for (int i = optind; i < argc; i++)
                if (!mbus_namespace_is_valid(argv[i])) {
                        tool_error("invalid namespace '%s': expected reverse-DNS labels such as "
                                   "org.example.Network", argv[i]);
                        return -EINVAL;
                }
        return 1;
}

static void wait_set(struct wait_state *w, const char *ns, bool owned) {
        for (size_t i = 0; i < w->n; i++)
                if (strcmp(w->names[i], ns) == 0)
                        w->owned[i] = owned;
}

static bool wait_done(const struct wait_state *w) {
        for (size_t i = 0; i < w->n; i++)
                if (!w->owned[i])
                        return false;
        return true;
}

static int on_owner_changed(struct mbus_conn *conn, const struct mbus_event *event, void *userdata) {
        struct wait_state *w = userdata;
        json_object *owner = NULL;
        const char *ns;

        (void) conn;
        ns = json_get_string(event->payload, "namespace");
        if (!ns)
                return 0;
        (void) json_object_object_get_ex(event->payload, "new_owner", &owner);
        wait_set(w, ns, owner && json_object_is_type(owner, json_type_string));
        return 0;
}

static int wait_read_list(struct wait_state *w, json_object *result) {
        json_object *list;

        if (!json_object_object_get_ex(result, "namespaces", &list) || !json_object_is_type(list, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *owner = NULL;
                const char *ns = json_get_string(e, "namespace");

                if (!ns)
                        continue;
                (void) json_object_object_get_ex(e, "owner", &owner);
                if (owner && json_object_is_type(owner, json_type_string))
                        wait_set(w, ns, true);
        }
        return 0;
}

/* What is left of deadline, as a call timeout (0: the default, for no deadline). */
static usec_t wait_remaining(usec_t deadline) {
        usec_t n = now_usec(CLOCK_MONOTONIC);

        if (deadline == USEC_INFINITY)
                return 0;
        return deadline > n ? deadline - n : 1;
}

static void wait_print_missing(const struct wait_state *w) {
        if (arg_quiet)
                return;
        for (size_t i = 0; i < w->n; i++)
                if (!w->owned[i])
                        tool_error("timed out: %s has no owner", w->names[i]);
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_(mbus_slot_freep) struct mbus_slot *slot = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *result = NULL;
        _cleanup_free_ bool *owned = NULL;
        struct wait_state w;
        usec_t deadline;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        deadline = usec_add(now_usec(CLOCK_MONOTONIC), arg_common.timeout);
        owned = calloc((size_t) (argc - optind), sizeof(bool));
        if (!owned) {
                tool_error("out of memory");
                return TOOL_EXIT_FAILURE;
        }
        w = (struct wait_state) { .names = argv + optind, .owned = owned, .n = (size_t) (argc - optind) };

        r = tool_connect_timeout(arg_common.address, wait_remaining(deadline), &conn);
        if (r < 0) {
                if (r == -ETIMEDOUT)
                        wait_print_missing(&w);
                return tool_connect_exit_status(r);
        }

        r = mbus_subscribe(conn, MBUS_BROKER_NAMESPACE ".NamespaceOwnerChanged", on_owner_changed, &w, &slot,
                           &error);
        if (r < 0) {
                tool_print_failure("cannot follow NamespaceOwnerChanged", r, &error);
                return TOOL_EXIT_FAILURE;
        }
        r = mbus_call(conn, MBUS_BROKER_NAMESPACE, "ListNamespaces", NULL, wait_remaining(deadline), &result,
                      &error);
        if (r == -ETIMEDOUT) {
                wait_print_missing(&w);
                return TOOL_EXIT_TIMEOUT;
        }
        if (r < 0) {
                tool_print_failure("cannot list namespaces", r, &error);
                return TOOL_EXIT_FAILURE;
        }
        if (wait_read_list(&w, result) < 0) {
                tool_error("cannot list namespaces: unexpected answer from the broker");
                return TOOL_EXIT_FAILURE;
        }

        /* Dispatch every queued event before deciding: they are newer than the list. */
        for (;;) {
                usec_t n;

                r = mbus_conn_process(conn);
                if (r < 0) {
                        tool_error("connection to the broker failed: %s", strerror(-r));
                        return TOOL_EXIT_UNAVAILABLE;
                }
                if (r > 0)
                        continue;
                if (wait_done(&w))
                        return EXIT_SUCCESS;

                n = now_usec(CLOCK_MONOTONIC);
                if (n >= deadline) {
                        wait_print_missing(&w);
                        return TOOL_EXIT_TIMEOUT;
                }
                r = mbus_conn_wait(conn, deadline == USEC_INFINITY ? UINT64_MAX : deadline - n);
                if (r < 0 && r != -EINTR) {
                        tool_error("connection to the broker failed: %s", strerror(-r));
                        return TOOL_EXIT_UNAVAILABLE;
                }
        }
}
