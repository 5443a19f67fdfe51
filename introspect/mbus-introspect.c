/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-introspect: what the bus offers and who may use it.
 *
 *   mbus-introspect                      the namespaces (ListNamespaces, ListPeers)
 *   mbus-introspect NAMESPACE            one namespace's procedures and events (Introspect)
 *   mbus-introspect --check FILE...      introspection and policy files, offline
 *   mbus-introspect --explain ...        allow or deny, and the deciding rule, offline
 *
 * The two bus modes only ask the broker's own procedures and print (print.c); the two offline
 * modes run the broker's file loaders and policy checks in this process (check.c, explain.c),
 * so what they say is what the broker would do with the same files. Exit status as the other
 * tools: 0 success, 1 the operation failed (for --check: a file is bad; for --explain: deny),
 * 2 the command line was wrong (for --explain also: the policy files could not be loaded).
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "conf/idl.h"
#include "conf/policy.h"
#include "config.h"
#include "introspect/explain.h"
#include "introspect/print.h"
#include "introspect/validate.h"
#include "proto/names.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#define BROKER_NAMESPACE "org.mbus.Broker"
#define BROKER_ID ":1.0"

enum mode {
        MODE_BUS,
        MODE_CHECK,
        MODE_EXPLAIN,
};

enum output {
        OUTPUT_TABLE,
        OUTPUT_XML,
        OUTPUT_JSON,
};

static enum mode arg_mode = MODE_BUS;
static enum output arg_output = OUTPUT_TABLE;
static void help(void);

static struct tool_common arg_common = { .name = "mbus-introspect", .help = help, .timeout = 0 };
static const char *arg_config_dir = NULL;
static enum mbus_policy_scope arg_scope = _MBUS_POLICY_SCOPE_INVALID;
static bool arg_broker_uid_set = false;
static uid_t arg_broker_uid = 0;
static bool arg_owner_uid_set = false;
static uid_t arg_owner_uid = 0;
/* The identity for --explain: a uid (with --gid/--groups), a user, or a certificate. */
static bool arg_uid_set = false;
static uid_t arg_uid = 0;
static bool arg_gid_set = false;
static gid_t arg_gid = 0;
static const char *arg_groups = NULL;
static const char *arg_user = NULL;
static const char *arg_cert_cn = NULL;
static const char **arg_cert_sans = NULL;
static size_t arg_n_cert_sans = 0;
static const char *arg_cert_fingerprint = NULL;
static const char *arg_from = NULL;             /* a network peer's remote address */

static void help(void) {
        printf("Usage: %1$s [OPTIONS] [NAMESPACE]\n"
               "       %1$s --check FILE|DIR...\n"
               "       %1$s --explain [OPTIONS] IDENTITY ACTION NAMESPACE [MEMBER]\n"
               "\n"
               "Without NAMESPACE, list the namespaces on the mbus broker with their owners.\n"
               "With NAMESPACE, show its procedures and events.\n"
               "\n"
               "  -h --help                Show this help and exit\n"
               "     --version             Show the version and exit\n"
               "  -a --address ADDRESS     Broker address (default: $MBUS_ADDRESS, else the\n"
               "                           user bus in a user session, else the system bus)\n"
               "     --system              Connect to the system bus ($MBUS_SYSTEM_ADDRESS,\n"
               "                           else /run/mbus/socket)\n"
               "     --user-bus            Connect to the user bus\n"
               "                           ($XDG_RUNTIME_DIR/mbus/socket)\n"
               "  -t --timeout SEC         Give up after SEC seconds (default 25)\n"
               "     --xml                 Print NAMESPACE's description as XML\n"
               "     --json                Print the description (or the list) as JSON\n"
               "\n"
               "Offline, without a broker:\n"
               "     --check               Validate introspection and policy files (or the\n"
               "                           files of directories) as the broker loads them\n"
               "     --explain             Decide whether IDENTITY may do ACTION (own, call,\n"
               "                           subscribe, send) on NAMESPACE [MEMBER] by the\n"
               "                           installed policy, and name the deciding rule\n"
               "     --config-dir DIR      Read DIR/policy.d only, as mbus-broker --config-dir\n"
               "     --scope SCOPE         Policy defaults: system (the default) or user\n"
               "     --broker-uid UID      The broker's uid (\"@broker\"; default 0 in the\n"
               "                           system scope, else your own)\n"
               "     --owner-uid UID       The uid of NAMESPACE's owner (default: none)\n"
               "IDENTITY is one of:\n"
               "     --uid UID [--gid GID] [--groups G1,G2...]\n"
               "     --user NAME           Its uid, primary and supplementary groups\n"
               "     --cert-cn CN [--cert-san SAN]... [--cert-fingerprint SHA256]\n"
               "                           A TLS peer's certificate (any of the three)\n"
               "     --from ADDRESS        A network peer's IPv4 or IPv6 address, alone (TCP)\n"
               "                           or with a certificate (TLS)\n"
               "\n"
               "Exit status: 0 on success (--explain: allow), 1 on failure (--check: a file is\n"
               "invalid; --explain: deny), 2 on invalid arguments or unloadable policy files.\n",
               program_invocation_short_name);
}

static int parse_uid_option(const char *option, const char *s, uid_t *ret) {
        if (mbus_explain_parse_id(s, ret) < 0) {
                tool_error("invalid %s '%s': expected a decimal number", option, s);
                return -EINVAL;
        }
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_XML = 0x100,
                ARG_JSON,
                ARG_CHECK,
                ARG_EXPLAIN,
                ARG_CONFIG_DIR,
                ARG_SCOPE,
                ARG_BROKER_UID,
                ARG_OWNER_UID,
                ARG_UID,
                ARG_GID,
                ARG_GROUPS,
                ARG_USER,
                ARG_CERT_CN,
                ARG_CERT_SAN,
                ARG_CERT_FINGERPRINT,
                ARG_FROM,
        };
        static const struct option options[] = {
                { "help",             no_argument,       NULL, 'h'                  },
                { "version",          no_argument,       NULL, TOOL_ARG_VERSION     },
                { "address",          required_argument, NULL, 'a'                  },
                /* --user NAME is --explain's identity, so the user bus is --user-bus here. */
                { "system",           no_argument,       NULL, TOOL_ARG_SYSTEM      },
                { "user-bus",         no_argument,       NULL, TOOL_ARG_USER        },
                TOOL_TIMEOUT_LONG_OPTION,
                { "xml",              no_argument,       NULL, ARG_XML              },
                { "json",             no_argument,       NULL, ARG_JSON             },
                { "check",            no_argument,       NULL, ARG_CHECK            },
                { "explain",          no_argument,       NULL, ARG_EXPLAIN          },
                { "config-dir",       required_argument, NULL, ARG_CONFIG_DIR       },
                { "scope",            required_argument, NULL, ARG_SCOPE            },
                { "broker-uid",       required_argument, NULL, ARG_BROKER_UID       },
                { "owner-uid",        required_argument, NULL, ARG_OWNER_UID        },
                { "uid",              required_argument, NULL, ARG_UID              },
                { "gid",              required_argument, NULL, ARG_GID              },
                { "groups",           required_argument, NULL, ARG_GROUPS           },
                { "user",             required_argument, NULL, ARG_USER             },
                { "cert-cn",          required_argument, NULL, ARG_CERT_CN          },
                { "cert-san",         required_argument, NULL, ARG_CERT_SAN         },
                { "cert-fingerprint", required_argument, NULL, ARG_CERT_FINGERPRINT },
                { "from",             required_argument, NULL, ARG_FROM             },
                {}
        };
        bool explain_options = false, bus_options = false, unix_identity, cert_identity;
        size_t n_args;
        int c, r;

        while ((c = getopt_long(argc, argv, "ha:t:", options, NULL)) >= 0) {
                switch (c) {
                case ARG_XML:
                case ARG_JSON:
                        if (arg_output != OUTPUT_TABLE) {
                                tool_error("--xml and --json exclude each other");
                                return -EINVAL;
                        }
                        arg_output = c == ARG_XML ? OUTPUT_XML : OUTPUT_JSON;
                        bus_options = true;
                        break;
                case ARG_CHECK:
                case ARG_EXPLAIN:
                        if (arg_mode != MODE_BUS) {
                                tool_error("--check and --explain exclude each other");
                                return -EINVAL;
                        }
                        arg_mode = c == ARG_CHECK ? MODE_CHECK : MODE_EXPLAIN;
                        break;
                case ARG_CONFIG_DIR:
                        arg_config_dir = optarg;
                        explain_options = true;
                        break;
                case ARG_SCOPE:
                        arg_scope = mbus_policy_scope_from_string(optarg);
                        if (arg_scope < 0) {
                                tool_error("invalid --scope '%s': expected system or user", optarg);
                                return -EINVAL;
                        }
                        explain_options = true;
                        break;
                case ARG_BROKER_UID:
                        if (parse_uid_option("--broker-uid", optarg, &arg_broker_uid) < 0)
                                return -EINVAL;
                        arg_broker_uid_set = explain_options = true;
                        break;
                case ARG_OWNER_UID:
                        if (parse_uid_option("--owner-uid", optarg, &arg_owner_uid) < 0)
                                return -EINVAL;
                        arg_owner_uid_set = explain_options = true;
                        break;
                case ARG_UID:
                        if (parse_uid_option("--uid", optarg, &arg_uid) < 0)
                                return -EINVAL;
                        arg_uid_set = explain_options = true;
                        break;
                case ARG_GID:
                        if (parse_uid_option("--gid", optarg, &arg_gid) < 0)
                                return -EINVAL;
                        arg_gid_set = explain_options = true;
                        break;
                case ARG_GROUPS:
                        arg_groups = optarg;
                        explain_options = true;
                        break;
                case ARG_USER:
                        arg_user = optarg;
                        explain_options = true;
                        break;
                case ARG_CERT_CN:
                        arg_cert_cn = optarg;
                        explain_options = true;
                        break;
                case ARG_CERT_SAN: {
                        const char **a = reallocarray(arg_cert_sans, arg_n_cert_sans + 1, sizeof(char *));

                        if (!a) {
                                tool_error("out of memory");
                                return -ENOMEM;
                        }
                        arg_cert_sans = a;
                        arg_cert_sans[arg_n_cert_sans++] = optarg;
                        explain_options = true;
                        break;
                }
                case ARG_CERT_FINGERPRINT:
                        arg_cert_fingerprint = optarg;
                        explain_options = true;
                        break;
                case ARG_FROM:
                        arg_from = optarg;
                        explain_options = true;
                        break;
                default:
                        r = tool_parse_common_option(c, optarg, &arg_common);
                        if (r <= 0)
                                return r;
                        /* what is left of the common options: -a, --system, --user-bus, -t */
                        bus_options = true;
                }
        }
        n_args = (size_t) (argc - optind);

        if (explain_options && arg_mode != MODE_EXPLAIN) {
                tool_error("--config-dir, --scope, --broker-uid, --owner-uid and the identity options "
                           "go with --explain");
                return -EINVAL;
        }
        if (bus_options && arg_mode != MODE_BUS) {
                tool_error("--address, --timeout, --xml and --json do not go with --%s",
                           arg_mode == MODE_CHECK ? "check" : "explain");
                return -EINVAL;
        }

        switch (arg_mode) {
        case MODE_BUS:
                if (n_args > 1) {
                        tool_error("expected at most one NAMESPACE (see --help)");
                        return -EINVAL;
                }
                if (n_args == 0 && arg_output == OUTPUT_XML) {
                        tool_error("--xml needs a NAMESPACE");
                        return -EINVAL;
                }
                break;
        case MODE_CHECK:
                if (n_args == 0) {
                        tool_error("--check expects one or more FILEs or directories");
                        return -EINVAL;
                }
                break;
        case MODE_EXPLAIN:
                unix_identity = arg_uid_set || arg_user;
                cert_identity = arg_cert_cn || arg_n_cert_sans > 0 || arg_cert_fingerprint || arg_from;
                if ((arg_uid_set && arg_user) || (unix_identity && cert_identity) ||
                    (!unix_identity && !cert_identity)) {
                        tool_error("--explain needs one identity: --uid UID, --user NAME, or "
                                   "--cert-cn/--cert-san/--cert-fingerprint and/or --from");
                        return -EINVAL;
                }
                if ((arg_gid_set || arg_groups) && !arg_uid_set) {
                        tool_error("--gid and --groups go with --uid (--user brings its own groups)");
                        return -EINVAL;
                }
                if (n_args < 2 || n_args > 3) {
                        tool_error("--explain expects ACTION NAMESPACE [MEMBER] (see --help)");
                        return -EINVAL;
                }
                break;
        }
        return 1;
}

/* --- on the bus ---------------------------------------------------------------------------------- */

static int call_broker(struct mbus_conn *conn, const char *procedure, json_object *args, json_object **ret) {
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        r = mbus_call(conn, BROKER_NAMESPACE, procedure, args, arg_common.timeout, ret, &error);
        if (r < 0) {
                if (mbus_error_is_set(&error))
                        tool_error("%s: %s", error.name, error.message ? error.message : "");
                else
                        tool_error("calling %s.%s failed: %s", BROKER_NAMESPACE, procedure, strerror(-r));
        }
        return r;
}

/*
 * A list procedure of the broker (ListNamespaces, ListPeers) page by page, following "next":
 * one reply object whose key holds every entry. A page that names no new cursor ends it.
 */
static int call_broker_list(struct mbus_conn *conn, const char *procedure, const char *key, json_object **ret) {
        _cleanup_json_ json_object *all = json_object_new_object(), *list = json_object_new_array();
        _cleanup_free_ char *after = NULL;
        int r;

        if (!all || !list)
                return -ENOMEM;
        for (;;) {
                _cleanup_json_ json_object *args = NULL, *page = NULL;
                json_object *entries;
                const char *next;

                if (after) {
                        args = json_object_new_object();
                        if (!args || json_object_object_add(args, "after", json_object_new_string(after)) < 0)
                                return -ENOMEM;
                }
                r = call_broker(conn, procedure, args, &page);
                if (r < 0)
                        return r;
                if (!json_object_object_get_ex(page, key, &entries) || !json_object_is_type(entries, json_type_array)) {
                        tool_error("the broker's %s reply has no list of %s", procedure, key);
                        return -EBADMSG;
                }
                for (size_t i = 0, n = json_object_array_length(entries); i < n; i++) {
                        json_object *e = json_object_get(json_object_array_get_idx(entries, i));

                        if (json_object_array_add(list, e) < 0) {
                                json_object_put(e);
                                return -ENOMEM;
                        }
                }
                next = json_get_string(page, "next");
                if (!next || json_object_array_length(entries) == 0 || (after && strcmp(next, after) == 0))
                        break;
                free(after);
                after = strdup(next);
                if (!after)
                        return -ENOMEM;
        }
        if (json_object_object_add(all, key, TAKE_PTR(list)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(all);
        return 0;
}

static int64_t json_get_int_or(json_object *o, const char *key, int64_t fallback) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return fallback;
        return json_object_get_int64(v);
}

static json_object *peer_find(json_object *peers, const char *id) {
        size_t n = peers ? json_object_array_length(peers) : 0;

        for (size_t i = 0; id && i < n; i++) {
                json_object *p = json_object_array_get_idx(peers, i);
                const char *pid = json_get_string(p, "id");

                if (pid && strcmp(pid, id) == 0)
                        return p;
        }
        return NULL;
}

static int row_compare(const void *a, const void *b) {
        const struct mbus_print_namespace_row *x = a, *y = b;

        return strcmp(x->name, y->name);
}

static int list_namespaces(struct mbus_conn *conn) {
        _cleanup_json_ json_object *result = NULL, *peers_result = NULL;
        _cleanup_free_ struct mbus_print_namespace_row *rows = NULL;
        json_object *namespaces, *peers = NULL;
        size_t n, n_rows = 0;
        int r;

        r = call_broker_list(conn, "ListNamespaces", "namespaces", &result);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(result, "namespaces", &namespaces) ||
            !json_object_is_type(namespaces, json_type_array)) {
                tool_error("the broker's ListNamespaces reply has no list of namespaces");
                return -EBADMSG;
        }
        if (arg_output == OUTPUT_JSON) {
                puts(tool_json_to_string(result, /* pretty= */ true));
                return 0;
        }

        /* Only for the PID and CLIENT columns: without them the list is still worth printing. */
        if (call_broker_list(conn, "ListPeers", "peers", &peers_result) >= 0 &&
            (!json_object_object_get_ex(peers_result, "peers", &peers) ||
             !json_object_is_type(peers, json_type_array)))
                peers = NULL;

        n = json_object_array_length(namespaces);
        rows = calloc(n ?: 1, sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(namespaces, i), *peer, *file;
                const char *name = json_get_string(e, "namespace");

                if (!name)
                        continue;
                rows[n_rows] = (struct mbus_print_namespace_row) {
                        .name = name,
                        .owner = json_get_string(e, "owner"),
                        .uid = -1,
                        .pid = -1,
                        .file = -1,
                };
                peer = peer_find(peers, rows[n_rows].owner);
                rows[n_rows].uid = json_get_int_or(e, "uid", json_get_int_or(peer, "uid", -1));
                rows[n_rows].pid = json_get_int_or(e, "pid", json_get_int_or(peer, "pid", -1));
                rows[n_rows].client = json_get_string(peer, "name");
                /* The broker is peer :1.0 but not in ListPeers: it is no client. */
                if (!peer && rows[n_rows].owner && strcmp(rows[n_rows].owner, BROKER_ID) == 0)
                        rows[n_rows].client = "mbus-broker";
                if (json_object_object_get_ex(e, "file", &file) && json_object_is_type(file, json_type_boolean))
                        rows[n_rows].file = json_object_get_boolean(file);
                n_rows++;
        }
        qsort(rows, n_rows, sizeof(*rows), row_compare);
        return mbus_print_namespaces(stdout, rows, n_rows);
}

static int show_namespace(struct mbus_conn *conn, const char *name) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_json_ json_object *args = NULL, *result = NULL;
        struct mbus_file_error err = {};
        int r;

        args = json_object_new_object();
        if (!args || json_object_object_add(args, "namespace", json_object_new_string(name)) < 0)
                return -ENOMEM;
        r = call_broker(conn, "Introspect", args, &result);
        if (r < 0)
                return r;

        r = mbus_idl_from_json(&ns, result, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                tool_error("the broker's description of %s is not valid: %s", name,
                           err.message[0] ? err.message : strerror(-r));
                return r;
        }

        switch (arg_output) {
        case OUTPUT_XML:
                return mbus_print_xml(stdout, ns);
        case OUTPUT_JSON:
                return mbus_print_json(stdout, ns, /* pretty= */ true);
        default:
                return mbus_print_namespace(stdout, ns, json_get_string(result, "owner"));
        }
}

static int run_bus(int argc, char *argv[]) {
        _cleanup_(mbus_conn_unrefp) struct mbus_conn *conn = NULL;
        const char *ns = optind < argc ? argv[optind] : NULL;
        int r;

        if (ns && !mbus_namespace_is_valid(ns)) {
                tool_error("invalid namespace '%s': expected reverse-DNS labels such as org.example.Network", ns);
                return TOOL_EXIT_USAGE;
        }

        r = tool_connect(arg_common.address, &conn);
        if (r < 0)
                return tool_connect_exit_status(r);
        r = ns ? show_namespace(conn, ns) : list_namespaces(conn);
        if (r == -ENOMEM)
                tool_error("out of memory");
        else if (r == -EIO)
                tool_error("cannot write the output: %m");
        if (r >= 0 && fflush(stdout) != 0) {
                tool_error("cannot write the output: %m");
                r = -EIO;
        }
        return r < 0 ? TOOL_EXIT_FAILURE : EXIT_SUCCESS;
}

/* --- offline ------------------------------------------------------------------------------------- */

static int run_check(int argc, char *argv[]) {
        int r;

        r = mbus_validate_paths(argv + optind, (size_t) (argc - optind), stdout, stderr);
        if (r < 0) {
                tool_error("checking failed: %s", strerror(-r));
                return TOOL_EXIT_FAILURE;
        }
        return r > 0 ? TOOL_EXIT_FAILURE : EXIT_SUCCESS;
}

static int run_explain(int argc, char *argv[]) {
        _cleanup_free_ gid_t *groups = NULL;
        struct sockaddr_storage from = {};
        char fingerprint[65];
        size_t n_groups = 0;
        struct mbus_explain e = {
                .config_dir = arg_config_dir,
                .owner_uid = arg_owner_uid_set ? &arg_owner_uid : NULL,
                .ns = argv[optind + 1],
                .member = optind + 2 < argc ? argv[optind + 2] : NULL,
        };
        int r;

        e.action = mbus_policy_action_from_string(argv[optind]);
        if (e.action < 0) {
                tool_error("invalid action '%s': expected own, call, subscribe or send", argv[optind]);
                return TOOL_EXIT_USAGE;
        }
        if (!mbus_namespace_is_valid(e.ns)) {
                tool_error("invalid namespace '%s': expected reverse-DNS labels such as org.example.Network", e.ns);
                return TOOL_EXIT_USAGE;
        }
        /* As the broker asks: OWN of a namespace, the other actions of one member. */
        if (e.action == MBUS_POLICY_OWN && e.member) {
                tool_error("own takes no MEMBER");
                return TOOL_EXIT_USAGE;
        }
        if (e.action != MBUS_POLICY_OWN && !e.member) {
                tool_error("%s needs a MEMBER (the %s)", argv[optind],
                           e.action == MBUS_POLICY_CALL ? "procedure" : "event");
                return TOOL_EXIT_USAGE;
        }
        if (e.member && !mbus_member_is_valid(e.member)) {
                tool_error("invalid member name '%s': expected [A-Za-z_][A-Za-z0-9_]*", e.member);
                return TOOL_EXIT_USAGE;
        }

        /* The files in the search path are the system bus's: judge by its defaults unless told. */
        e.scope = arg_scope >= 0 ? arg_scope : MBUS_POLICY_SCOPE_SYSTEM;
        e.broker_uid = arg_broker_uid_set ? arg_broker_uid : e.scope == MBUS_POLICY_SCOPE_SYSTEM ? 0 : geteuid();

        if (arg_user) {
                r = mbus_explain_resolve_user(arg_user, &e.who.uid, &e.who.gid, &groups, &n_groups);
                if (r < 0) {
                        tool_error("cannot resolve user '%s': %s", arg_user,
                                   r == -ESRCH ? "no such user" : strerror(-r));
                        return TOOL_EXIT_USAGE;
                }
                e.who.unix = true;
        } else if (arg_uid_set) {
                e.who.unix = true;
                e.who.uid = arg_uid;
                e.who.gid = arg_gid;
                if (!arg_gid_set) {
                        /* The uid's primary group if it has a passwd entry; else no group at all. */
                        _cleanup_free_ gid_t *user_groups = NULL;
                        char uid_string[32];
                        size_t n = 0;

                        (void) snprintf(uid_string, sizeof(uid_string), "%u", (unsigned) arg_uid);
                        if (mbus_explain_resolve_user(uid_string, &e.who.uid, &e.who.gid, &user_groups, &n) < 0)
                                e.who.gid = (gid_t) -1;
                }
                if (arg_groups) {
                        const char *bad = NULL;

                        r = mbus_explain_parse_groups(arg_groups, &groups, &n_groups, &bad);
                        if (r < 0) {
                                tool_error("invalid --groups item '%s': %s", bad ?: "",
                                           r == -ESRCH ? "no such group" : strerror(-r));
                                return TOOL_EXIT_USAGE;
                        }
                }
        } else {
                if (arg_cert_fingerprint) {
                        if (mbus_explain_parse_fingerprint(arg_cert_fingerprint, fingerprint) < 0) {
                                tool_error("invalid --cert-fingerprint '%s': expected a SHA-256 digest "
                                           "as 64 hex digits (colons allowed)", arg_cert_fingerprint);
                                return TOOL_EXIT_USAGE;
                        }
                        e.who.cert_fingerprint = fingerprint;
                }
                if (arg_from) {
                        r = mbus_explain_parse_address(arg_from, &from);
                        if (r < 0) {
                                tool_error("invalid --from '%s': expected an IPv4 or IPv6 address such as "
                                           "192.0.2.7 or 2001:db8::7", arg_from);
                                return TOOL_EXIT_USAGE;
                        }
                        e.who.addr = (const struct sockaddr *) &from;
                }
                e.who.cert_cn = arg_cert_cn;
                e.who.cert_sans = arg_cert_sans;
                e.who.n_cert_sans = arg_n_cert_sans;
        }
        e.who.groups = groups;
        e.who.n_groups = n_groups;

        r = mbus_explain_run(&e, stdout);
        if (r == -EBADMSG) {
                tool_error("cannot load the policy files");
                return TOOL_EXIT_USAGE;
        }
        if (r < 0) {
                tool_error("explaining failed: %s", strerror(-r));
                return TOOL_EXIT_USAGE;
        }
        return r == 0 ? EXIT_SUCCESS : TOOL_EXIT_FAILURE;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0) {
                free(arg_cert_sans);
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;
        }

        switch (arg_mode) {
        case MODE_CHECK:
                r = run_check(argc, argv);
                break;
        case MODE_EXPLAIN:
                r = run_explain(argc, argv);
                break;
        default:
                r = run_bus(argc, argv);
        }
        free(arg_cert_sans);
        return r;
}
