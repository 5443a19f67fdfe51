/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-monitor: watches the bus through the broker's monitor role (org.mbus.Broker.BecomeMonitor)
 * and prints one line per CALL, RETURN, ERROR and EVENT the broker routes. The filters go to the
 * broker, which copies only what matches and what the policy lets this user monitor; a copy
 * carries the time the broker routed it, so the latency of a reply is the broker's own: from
 * routing the call to routing its reply, without this tool's delays in between.
 *
 * A call is paired with its reply by (caller, serial), the caller's own serial, which the broker
 * keeps on the reply as reply_serial. The calls seen are remembered in a fixed table indexed by
 * a hash of that pair: memory stays bounded however many calls never get a reply, and a call
 * pushed out by another only loses its latency figure, never a line.
 *
 * When it cannot keep up, the broker drops copies instead of slowing the bus and tells it how
 * many (MonitorLost): that is printed in the stream, where the gap is.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "config.h"
#include "proto/names.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

#define MONITOR_CALLS_MAX 4096          /* calls remembered for pairing (a power of two) */

enum output {
        OUTPUT_TEXT,
        OUTPUT_JSON,
        OUTPUT_JSON_PRETTY,
};

static void help(void);

static struct tool_common arg_common = { .name = "mbus-monitor", .help = help, .timeout = USEC_INFINITY };
static enum output arg_output = OUTPUT_TEXT;
static const char *arg_peer = NULL;             /* an id or a client name, as given */
static const char *arg_namespace = NULL;
static const char *arg_member = NULL;
static unsigned arg_types = 0;                  /* 1 << MONITOR_TYPE_*; 0: all */
static uint64_t arg_count = 0;                  /* 0: unlimited */

static const char *const monitor_type_names[] = { "call", "return", "error", "event" };

struct monitor_call {
        char caller[MBUS_PEER_ID_MAX];  /* "" : a free slot */
        int64_t serial;
        int64_t time_usec;
};

struct monitor {
        struct monitor_call calls[MONITOR_CALLS_MAX];
        uint64_t n_printed;
        int write_error;                /* negative errno once stdout failed */
};

static void help(void) {
        printf("Usage: %s [OPTIONS] [FILTER...]\n"
               "\n"
               "Watch the calls, replies and events the mbus broker routes and print one line\n"
               "for each: the time the broker routed it, the type, sender -> destination,\n"
               "NAMESPACE.MEMBER, the serial, the error name and the body; a reply also shows\n"
               "the latency since its call. Needs the policy's monitor permission (as shipped:\n"
               "root). A FILTER is one of\n"
               "  NAMESPACE | NAMESPACE.* | *   only that namespace (.*: and the ones below it)\n"
               "  namespace=PATTERN             the same\n"
               "  member=NAME                   only this procedure or event\n"
               "  type=TYPE[,TYPE...]           only call, return, error and/or event\n"
               "  peer=ID|NAME                  the same as --peer\n"
               "and a message is shown if it matches all of them.\n"
               "\n"
               "  -h --help             Show this help and exit\n"
               "     --version          Show the version and exit\n"
               TOOL_BUS_HELP
               "  -p --peer ID|NAME     Only what the peer ID (:1.42), or the one client\n"
               "                        connected as NAME, sends or receives\n"
               "     --json[=MODE]      One JSON object per message: 'short' (the default)\n"
               "                        or 'pretty' (indented)\n"
               "  -n --count N          Exit after N messages\n"
               "  -t --timeout SEC      Exit after SEC seconds (fractions allowed)\n"
               "\n"
               "Exit status: 0 on SIGINT/SIGTERM, after N messages, or at the timeout if no\n"
               "--count was given; 1 if the broker refused (not allowed to monitor, no such\n"
               "peer) or on failure; 2 on invalid arguments; 69 if the broker cannot be\n"
               "reached or the connection broke; 124 if the timeout came before N messages.\n",
               program_invocation_short_name);
}

static int parse_types(const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *state = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &state); w; w = strtok_r(NULL, ",", &state)) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(monitor_type_names); i++)
                        if (strcmp(w, monitor_type_names[i]) == 0)
                                break;
                if (i == ELEMENTSOF(monitor_type_names)) {
                        tool_error("invalid type '%s': expected call, return, error or event", w);
                        return -EINVAL;
                }
                arg_types |= 1u << i;
        }
        if (arg_types == 0) {
                tool_error("invalid type '%s': expected call, return, error or event", list);
                return -EINVAL;
        }
        return 0;
}

static bool namespace_pattern_is_valid(const char *s) {
        _cleanup_free_ char *prefix = NULL;
        size_t n = strlen(s);

        if (strcmp(s, "*") == 0)
                return true;
        if (n > 2 && strcmp(s + n - 2, ".*") == 0) {
                prefix = strndup(s, n - 2);
                return prefix && mbus_namespace_is_valid(prefix);
        }
        return mbus_namespace_is_valid(s);
}

/* Sets *slot to value unless a filter of this kind was given already (the broker takes one). */
static int set_once(const char **slot, const char *value, const char *what) {
        if (*slot && strcmp(*slot, value) != 0) {
                tool_error("only one %s may be given (the broker filters on one)", what);
                return -EINVAL;
        }
        *slot = value;
        return 0;
}

static int parse_filter(const char *f) {
        const char *eq = strchr(f, '=');
        const char *value = eq ? eq + 1 : f;
        size_t k = eq ? (size_t) (eq - f) : 0;

        if (!eq || (k == 9 && strncmp(f, "namespace", k) == 0)) {
                if (!namespace_pattern_is_valid(value)) {
                        tool_error("invalid filter '%s': expected NAMESPACE, NAMESPACE.*, *, or KEY=VALUE with "
                                   "KEY namespace, member, type or peer", f);
                        return -EINVAL;
                }
                return set_once(&arg_namespace, value, "namespace pattern");
        }
        if (k == 6 && strncmp(f, "member", k) == 0) {
                if (!mbus_member_is_valid(value)) {
                        tool_error("invalid member '%s': expected [A-Za-z_][A-Za-z0-9_]*", value);
                        return -EINVAL;
                }
                return set_once(&arg_member, value, "member");
        }
        if ((k == 4 && strncmp(f, "type", k) == 0) || (k == 5 && strncmp(f, "types", k) == 0))
                return parse_types(value);
        if (k == 4 && strncmp(f, "peer", k) == 0)
                return set_once(&arg_peer, value, "peer");
        tool_error("invalid filter '%s': unknown key (namespace, member, type, peer)", f);
        return -EINVAL;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                TOOL_COMMON_LONG_OPTIONS,
                { "peer",  required_argument, NULL, 'p'      },
                /* MODE is optional here: --json alone is one line per message */
                { "json",  optional_argument, NULL, ARG_JSON },
                { "count", required_argument, NULL, 'n'      },
                TOOL_TIMEOUT_LONG_OPTION,
                {}
        };
        bool pretty;
        int c, r;

        /* Options anywhere on the line (GNU permutation), as in every tool; "--" ends them. */
        while ((c = getopt_long(argc, argv, "ha:p:n:t:", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        if (set_once(&arg_peer, optarg, "peer") < 0)
                                return -EINVAL;
                        break;
                case ARG_JSON:
                        if (tool_parse_json_mode(optarg ?: "short", &pretty) < 0)
                                return -EINVAL;
                        arg_output = pretty ? OUTPUT_JSON_PRETTY : OUTPUT_JSON;
                        break;
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

        for (int i = optind; i < argc; i++)
                if (parse_filter(argv[i]) < 0)
                        return -EINVAL;
        if (arg_peer && !*arg_peer) {
                tool_error("invalid --peer '': expected a peer id (:1.42) or a client name");
                return -EINVAL;
        }
        return 1;
}

/* The peer id of the one peer connected as name, in *ret (owned by the caller). Prints why not. */
static int resolve_peer(struct mbus_conn *conn, const char *name, char **ret) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *result = NULL;
        json_object *peers = NULL;
        const char *found = NULL;
        size_t n = 0;
        int r;

        r = mbus_call(conn, MBUS_BROKER_NAMESPACE, "ListPeers", NULL, 0, &result, &error);
        if (r < 0) {
                tool_print_failure("cannot list the peers to find --peer", r, &error);
                return r;
        }
        if (!json_object_object_get_ex(result, "peers", &peers) || !json_object_is_type(peers, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(peers); i++) {
                json_object *p = json_object_array_get_idx(peers, i), *v;

                if (!json_object_object_get_ex(p, "name", &v) || !json_object_is_type(v, json_type_string) ||
                    strcmp(json_object_get_string(v), name) != 0 || !json_object_object_get_ex(p, "id", &v))
                        continue;
                found = json_object_get_string(v);
                n++;
        }
        if (n == 0) {
                tool_error("no peer is connected as '%s' (mbus-call org.mbus.Broker ListPeers lists them)", name);
                return -ESRCH;
        }
        if (n > 1) {
                tool_error("%zu peers are connected as '%s': give the id of one (mbus-call org.mbus.Broker ListPeers)", n, name);
                return -ENOTUNIQ;
        }
        *ret = strdup(found);
        return *ret ? 0 : -ENOMEM;
}

static int filters_build(const char *peer_id, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *types = NULL;
        int r = 0;

        if (!o)
                return -ENOMEM;
        if (arg_namespace)
                r = r ?: json_object_object_add(o, "namespace", json_object_new_string(arg_namespace));
        if (arg_member)
                r = r ?: json_object_object_add(o, "member", json_object_new_string(arg_member));
        if (peer_id)
                r = r ?: json_object_object_add(o, "peer", json_object_new_string(peer_id));
        if (r < 0)
                return -ENOMEM;
        if (arg_types != 0) {
                types = json_object_new_array();
                if (!types)
                        return -ENOMEM;
                for (size_t i = 0; i < ELEMENTSOF(monitor_type_names); i++)
                        if ((arg_types & (1u << i)) &&
                            json_object_array_add(types, json_object_new_string(monitor_type_names[i])) < 0)
                                return -ENOMEM;
                if (json_object_object_add(o, "types", types) < 0)
                        return -ENOMEM;
                types = NULL;           /* owned by o now */
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static struct monitor_call *monitor_slot(struct monitor *m, const char *caller, int64_t serial) {
        uint64_t h = (uint64_t) serial * UINT64_C(0x9E3779B97F4A7C15);

        for (const char *p = caller; *p; p++)
                h = (h ^ (unsigned char) *p) * UINT64_C(0x100000001B3);
        return &m->calls[(h >> 32) & (MONITOR_CALLS_MAX - 1)];
}

static void monitor_remember_call(struct monitor *m, const char *caller, int64_t serial, int64_t time_usec) {
        struct monitor_call *c = monitor_slot(m, caller, serial);

        snprintf(c->caller, sizeof(c->caller), "%s", caller);
        c->serial = serial;
        c->time_usec = time_usec;
}

/* The latency of a reply to (caller, serial) routed at time_usec, or -1 if its call was not seen. */
static int64_t monitor_pair_reply(struct monitor *m, const char *caller, int64_t serial, int64_t time_usec) {
        struct monitor_call *c = monitor_slot(m, caller, serial);

        if (c->serial != serial || strcmp(c->caller, caller) != 0)
                return -1;
        c->caller[0] = 0;
        return time_usec >= c->time_usec ? time_usec - c->time_usec : 0;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -1;
        return json_object_get_int64(v);
}

/* "HH:MM:SS.uuuuuu" of a CLOCK_REALTIME time in µs, local time. */
static const char *format_time(int64_t usec, char buf[static 32]) {
        time_t sec = (time_t) (usec / (int64_t) USEC_PER_SEC);
        struct tm tm;

        if (usec < 0 || !localtime_r(&sec, &tm))
                return "??:??:??.??????";
        snprintf(buf, 32, "%02d:%02d:%02d.%06" PRId64, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 usec % (int64_t) USEC_PER_SEC);
        return buf;
}

static int monitor_print_text(json_object *copy, int64_t latency) {
        const char *type = get_str(copy, "type") ?: "?", *dest = get_str(copy, "destination");
        const char *error = get_str(copy, "error");
        bool reply = strcmp(type, "return") == 0 || strcmp(type, "error") == 0;
        int64_t serial = get_int(copy, reply ? "reply_serial" : "serial");
        json_object *body = NULL;
        char when[32], lat[48] = "";

        if (reply && latency >= 0)
                snprintf(lat, sizeof(lat), " latency=%" PRId64 ".%03" PRId64 "ms", latency / 1000, latency % 1000);
        (void) json_object_object_get_ex(copy, "body", &body);
        /* a broadcast event has no destination: "*", everyone subscribed */
        if (printf("%s %-6s %s -> %s %s.%s %s=%" PRId64 "%s%s%s%s%s\n",
                   format_time(get_int(copy, "time_usec"), when), type, get_str(copy, "sender") ?: "?",
                   dest ?: "*", get_str(copy, "namespace") ?: "?", get_str(copy, "member") ?: "?",
                   reply ? "reply_serial" : "serial", serial, lat, error ? " " : "", error ?: "",
                   body ? " " : "", body ? tool_json_to_string(body, /* pretty= */ false) : "") < 0)
                return -EIO;
        return 0;
}

static int monitor_print(struct monitor *m, json_object *copy) {
        const char *type = get_str(copy, "type") ?: "", *peer;
        int64_t latency = -1, t = get_int(copy, "time_usec");
        int r;

        if (strcmp(type, "call") == 0 && (peer = get_str(copy, "sender")))
                monitor_remember_call(m, peer, get_int(copy, "serial"), t);
        else if ((strcmp(type, "return") == 0 || strcmp(type, "error") == 0) && (peer = get_str(copy, "destination")))
                latency = monitor_pair_reply(m, peer, get_int(copy, "reply_serial"), t);

        if (arg_output == OUTPUT_TEXT)
                r = monitor_print_text(copy, latency);
        else {
                /* copy is the event's payload, ours to change: no other handler sees it after us */
                if (latency >= 0 && json_object_object_add(copy, "latency_usec", json_object_new_int64(latency)) < 0)
                        return -ENOMEM;
                r = puts(tool_json_to_string(copy, arg_output == OUTPUT_JSON_PRETTY)) < 0 ? -EIO : 0;
        }
        if (r < 0 || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

static int monitor_print_lost(int64_t lost) {
        if (arg_output == OUTPUT_TEXT)
                printf("-- %" PRId64 " messages lost: mbus-monitor did not read fast enough --\n", lost);
        else
                printf("{\"type\":\"lost\",\"lost\":%" PRId64 "}\n", lost);
        return fflush(stdout) != 0 ? -EIO : 0;
}

static int monitor_on_event(struct mbus_conn *conn, const struct mbus_event *ev, void *userdata) {
        struct monitor *m = userdata;
        int r;

        /* Only the broker's own events (it alone sends in org.mbus.Broker and sets every sender). */
        if (!ev->sender || strcmp(ev->sender, ":1.0") != 0 || m->write_error < 0)
                return 0;
        if (strcmp(ev->event, "MonitorLost") == 0)
                r = monitor_print_lost(get_int(ev->payload, "lost"));
        else if (arg_count > 0 && m->n_printed >= arg_count)
                return 0;
        else {
                r = monitor_print(m, ev->payload);
                if (r >= 0)
                        m->n_printed++;
        }
        if (r < 0)
                m->write_error = r;     /* the main loop reports it and stops */
        return 0;
}

static int monitor_start(struct mbus_conn *conn, struct monitor *m, struct mbus_slot *slots[static 2]) {
        static const char *const patterns[] = { "org.mbus.Broker.Monitor", "org.mbus.Broker.MonitorLost" };
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *filters = NULL, *result = NULL;
        _cleanup_free_ char *peer_id = NULL;
        int r;

        if (arg_peer && !mbus_peer_id_is_valid(arg_peer)) {
                r = resolve_peer(conn, arg_peer, &peer_id);
                if (r < 0)
                        return r == -ENOMEM ? r : -ESRCH;
        } else if (arg_peer && !(peer_id = strdup(arg_peer)))
                return -ENOMEM;
        r = filters_build(peer_id, &filters);
        if (r < 0)
                return r;

        /* Subscribed before becoming a monitor, so the first copy finds its handler. */
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
                r = mbus_subscribe(conn, patterns[i], monitor_on_event, m, &slots[i], &error);
                if (r < 0) {
                        tool_print_failure("cannot subscribe to the monitor's events", r, &error);
                        return r;
                }
        }

        r = mbus_call(conn, MBUS_BROKER_NAMESPACE, "BecomeMonitor", filters, 0, &result, &error);
        if (r < 0 && mbus_error_has_name(&error, MBUS_ERROR_ACCESS_DENIED))
                tool_error("not allowed to monitor this bus: the broker's policy lets only the users its monitor "
                           "rules name do that (as shipped: root); %s: %s", error.name,
                           error.message ? error.message : "");
        else if (r < 0)
                tool_print_failure("cannot become a monitor", r, &error);
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        _cleanup_free_ struct monitor *m = NULL;
        struct mbus_slot *slots[2] = {};
        usec_t deadline;
        int r, ret = TOOL_EXIT_FAILURE;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        m = calloc(1, sizeof(*m));
        if (!m) {
                tool_error("out of memory");
                return TOOL_EXIT_FAILURE;
        }
        tool_catch_signals();

        deadline = usec_add(now_usec(CLOCK_MONOTONIC), arg_common.timeout);
        r = tool_connect_timeout(arg_common.address, arg_common.timeout == USEC_INFINITY ? 0 : arg_common.timeout,
                                 &conn);
        if (r < 0)
                return tool_connect_exit_status(r);

        r = monitor_start(conn, m, slots);
        if (r < 0) {
                /* refused (not allowed, no such peer, bad filters) is 1; a broken connection 69 */
                ret = r == -ESRCH || r == -EACCES || r == -ENOTUNIQ || r == -EINVAL ? TOOL_EXIT_FAILURE
                                                                                   : tool_exit_status(r, NULL);
                goto finish;
        }

        for (;;) {
                if (m->write_error < 0) {
                        tool_error("cannot write to standard output: %s", strerror(-m->write_error));
                        goto finish;
                }
                if (arg_count > 0 && m->n_printed >= arg_count) {
                        ret = EXIT_SUCCESS;
                        goto finish;
                }
                /* Checked on every turn, so a busy bus cannot hold off the end. */
                if (tool_got_signal() || now_usec(CLOCK_MONOTONIC) >= deadline) {
                        ret = arg_count > 0 && !tool_got_signal() ? TOOL_EXIT_TIMEOUT : EXIT_SUCCESS;
                        if (ret != EXIT_SUCCESS)
                                tool_error("timed out after %" PRIu64 " of %" PRIu64 " messages", m->n_printed,
                                           arg_count);
                        goto finish;
                }

                r = mbus_conn_process(conn);
                if (r > 0)
                        continue;
                if (r >= 0)
                        r = tool_conn_wait(conn, deadline);
                if (r < 0) {
                        tool_error("connection to the broker failed: %s", strerror(-r));
                        ret = TOOL_EXIT_UNAVAILABLE;
                        goto finish;
                }
        }

finish:
        for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                slots[i] = mbus_slot_free(slots[i]);
        return ret;
}
