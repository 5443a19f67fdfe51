/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Command line parsing. Everything lands in struct mbus_options; nothing here opens a socket
 * or sets a global, so main() decides what happens and tests could parse at will. Durations
 * are seconds and may be fractional (tests run keep-alive at 0.2 s); sizes are bytes, with an
 * optional K/M/G suffix (powers of 1024).
 */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/confdir.h"
#include "conf/policy.h"
#include "options.h"

void mbus_options_init(struct mbus_options *c) {
        assert(c);
        *c = (struct mbus_options) {
                .max_peers = MBUS_OPTIONS_MAX_PEERS_DEFAULT,
                .max_frame_size = 16u * 1024u * 1024u,
                .max_pending_calls = MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT,
                .max_queue_bytes = MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT,
                .max_call_timeout = MBUS_OPTIONS_MAX_CALL_TIMEOUT_DEFAULT,
                .default_call_timeout = MBUS_OPTIONS_CALL_TIMEOUT_DEFAULT,
                .keepalive_interval = MBUS_OPTIONS_KEEPALIVE_INTERVAL_DEFAULT,
                .keepalive_timeout = MBUS_OPTIONS_KEEPALIVE_TIMEOUT_DEFAULT,
                .keepalive_threshold = MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT,
                .log_target = MBUS_LOG_TARGET_AUTO,
                .log_level = LOG_INFO,
                .scope = -1,
        };
}

void mbus_options_done(struct mbus_options *c) {
        if (!c)
                return;
        free(c->address);
        c->address = NULL;
        free(c->config_dir);
        c->config_dir = NULL;
}

void mbus_options_help(const char *program_name) {
        char bufs[2][PATH_MAX];
        const char *dirs[2];

        /* The broker's own search path, as it reads it; the kind is shown as a pattern. */
        (void) mbus_confdir_search_path(/* config_dir= */ NULL, "{policy,interfaces}.d", bufs, dirs);
        printf("%s [OPTIONS...]\n\n"
               "The mbus message bus broker.\n\n"
               "  -h --help                      Show this help\n"
               "     --version                   Show the version\n"
               "     --address PATH              Listen on this UNIX socket (default: sockets from\n"
               "                                 systemd, else /run/mbus/socket for root,\n"
               "                                 $XDG_RUNTIME_DIR/mbus/socket otherwise)\n"
               "     --max-peers N               Connected peers at most (%u)\n"
               "     --max-frame-size BYTES      Largest frame accepted (16777216)\n"
               "     --max-pending-calls N       Outstanding calls per peer (%u)\n"
               "     --max-queue-bytes BYTES     Outgoing queue per peer (%u)\n"
               "     --max-call-timeout SEC      Upper bound of any call's timeout (600)\n"
               "     --keepalive-interval SEC    Ping a peer silent for this long (30)\n"
               "     --keepalive-timeout SEC     Wait this long for an answer to a ping (10)\n"
               "     --keepalive-threshold N     Drop a peer after N unanswered pings (%u)\n"
               "     --log-target TARGET         auto, journal or console (auto)\n"
               "     --log-level LEVEL           err, warning, notice, info or debug (info)\n"
               "     --config-dir DIR            Read DIR/policy.d and DIR/interfaces.d only (default:\n"
               "                                 %s, then\n"
               "                                 %s)\n"
               "     --scope SCOPE               Policy defaults: system or user (system for root)\n",
               program_name,
               MBUS_OPTIONS_MAX_PEERS_DEFAULT, MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT,
               MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT, MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT, dirs[0], dirs[1]);
}

static int options_error(char *errbuf, size_t size, const char *format, ...) _printf_(3, 4);
static int options_error(char *errbuf, size_t size, const char *format, ...) {
        va_list ap;

        if (errbuf && size > 0) {
                va_start(ap, format);
                (void) vsnprintf(errbuf, size, format, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int options_parse_size(const char *s, size_t min, size_t max, size_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || *s == 0 || *s == '-')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        switch (*end) {
        case 0:
                break;
        case 'K': case 'k':
                v = v > ULLONG_MAX / 1024 ? ULLONG_MAX : v * 1024;
                end++;
                break;
        case 'M':
                v = v > ULLONG_MAX / (1024 * 1024) ? ULLONG_MAX : v * 1024 * 1024;
                end++;
                break;
        case 'G':
                v = v > ULLONG_MAX / (1024 * 1024 * 1024) ? ULLONG_MAX : v * 1024 * 1024 * 1024;
                end++;
                break;
        default:
                return -EINVAL;
        }
        if (*end != 0 || v < min || v > max)
                return -ERANGE;
        *ret = (size_t) v;
        return 0;
}

static int options_parse_sec(const char *s, usec_t *ret) {
        double v;
        char *end;

        if (!s || *s == 0)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != 0 || !isfinite(v) || v <= 0 || v > 365.0 * 24 * 3600)
                return -EINVAL;
        *ret = (usec_t) (v * (double) USEC_PER_SEC + 0.5);
        if (*ret == 0)
                *ret = 1;
        return 0;
}

int mbus_options_parse_argv(struct mbus_options *c, int argc, char *argv[],
                            enum mbus_options_action *ret_action, char *errbuf, size_t errbuf_size) {
        enum {
                ARG_VERSION = 0x100,
                ARG_ADDRESS,
                ARG_MAX_PEERS,
                ARG_MAX_FRAME_SIZE,
                ARG_MAX_PENDING_CALLS,
                ARG_MAX_QUEUE_BYTES,
                ARG_MAX_CALL_TIMEOUT,
                ARG_KEEPALIVE_INTERVAL,
                ARG_KEEPALIVE_TIMEOUT,
                ARG_KEEPALIVE_THRESHOLD,
                ARG_LOG_TARGET,
                ARG_LOG_LEVEL,
                ARG_CONFIG_DIR,
                ARG_SCOPE,
        };
        static const struct option options[] = {
                { "help",                no_argument,       NULL, 'h'                     },
                { "version",             no_argument,       NULL, ARG_VERSION             },
                { "address",             required_argument, NULL, ARG_ADDRESS             },
                { "max-peers",           required_argument, NULL, ARG_MAX_PEERS           },
                { "max-frame-size",      required_argument, NULL, ARG_MAX_FRAME_SIZE      },
                { "max-pending-calls",   required_argument, NULL, ARG_MAX_PENDING_CALLS   },
                { "max-queue-bytes",     required_argument, NULL, ARG_MAX_QUEUE_BYTES     },
                { "max-call-timeout",    required_argument, NULL, ARG_MAX_CALL_TIMEOUT    },
                { "keepalive-interval",  required_argument, NULL, ARG_KEEPALIVE_INTERVAL  },
                { "keepalive-timeout",   required_argument, NULL, ARG_KEEPALIVE_TIMEOUT   },
                { "keepalive-threshold", required_argument, NULL, ARG_KEEPALIVE_THRESHOLD },
                { "log-target",          required_argument, NULL, ARG_LOG_TARGET          },
                { "log-level",           required_argument, NULL, ARG_LOG_LEVEL           },
                { "config-dir",          required_argument, NULL, ARG_CONFIG_DIR          },
                { "scope",               required_argument, NULL, ARG_SCOPE               },
                {}
        };
        enum mbus_options_action action = MBUS_OPTIONS_RUN;
        size_t n;
        int opt, r;

        assert(c && argc >= 0 && argv && ret_action);

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        action = MBUS_OPTIONS_HELP;
                        break;
                case ARG_VERSION:
                        action = MBUS_OPTIONS_VERSION;
                        break;
                case ARG_ADDRESS:
                        if (optarg[0] != '/' && strncmp(optarg, "unix:", 5) != 0)
                                return options_error(errbuf, errbuf_size,
                                                    "--address wants an absolute socket path: %s", optarg);
                        free(c->address);
                        c->address = strdup(optarg);
                        if (!c->address)
                                return -ENOMEM;
                        break;
                case ARG_MAX_PEERS:
                        r = options_parse_size(optarg, 1, 1u << 20, &c->max_peers);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --max-peers: %s", optarg);
                        break;
                case ARG_MAX_FRAME_SIZE:
                        r = options_parse_size(optarg, 4096, UINT32_MAX, &c->max_frame_size);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size,
                                                    "Invalid --max-frame-size (4096..4294967295): %s", optarg);
                        break;
                case ARG_MAX_PENDING_CALLS:
                        r = options_parse_size(optarg, 1, 1u << 24, &c->max_pending_calls);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --max-pending-calls: %s",
                                                    optarg);
                        break;
                case ARG_MAX_QUEUE_BYTES:
                        r = options_parse_size(optarg, 1, SIZE_MAX / 4, &c->max_queue_bytes);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --max-queue-bytes: %s",
                                                    optarg);
                        break;
                case ARG_MAX_CALL_TIMEOUT:
                        r = options_parse_sec(optarg, &c->max_call_timeout);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --max-call-timeout: %s",
                                                    optarg);
                        break;
                case ARG_KEEPALIVE_INTERVAL:
                        r = options_parse_sec(optarg, &c->keepalive_interval);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --keepalive-interval: %s",
                                                    optarg);
                        break;
                case ARG_KEEPALIVE_TIMEOUT:
                        r = options_parse_sec(optarg, &c->keepalive_timeout);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --keepalive-timeout: %s",
                                                    optarg);
                        break;
                case ARG_KEEPALIVE_THRESHOLD:
                        r = options_parse_size(optarg, 1, 1000, &n);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --keepalive-threshold: %s",
                                                    optarg);
                        c->keepalive_threshold = (unsigned) n;
                        break;
                case ARG_LOG_TARGET:
                        r = mbus_log_target_from_string(optarg);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --log-target: %s", optarg);
                        c->log_target = r;
                        break;
                case ARG_LOG_LEVEL:
                        r = mbus_log_level_from_string(optarg);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --log-level: %s", optarg);
                        c->log_level = r;
                        break;
                case ARG_CONFIG_DIR:
                        if (optarg[0] == 0)
                                return options_error(errbuf, errbuf_size, "--config-dir wants a directory");
                        free(c->config_dir);
                        c->config_dir = strdup(optarg);
                        if (!c->config_dir)
                                return -ENOMEM;
                        break;
                case ARG_SCOPE:
                        if (strcmp(optarg, "system") == 0)
                                c->scope = MBUS_POLICY_SCOPE_SYSTEM;
                        else if (strcmp(optarg, "user") == 0)
                                c->scope = MBUS_POLICY_SCOPE_USER;
                        else
                                return options_error(errbuf, errbuf_size, "Invalid --scope (system or user): %s",
                                                    optarg);
                        break;
                case ':':
                        return options_error(errbuf, errbuf_size, "Option %s needs an argument",
                                            argv[optind - 1]);
                case '?':
                default:
                        return options_error(errbuf, errbuf_size, "Unknown option %s", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return options_error(errbuf, errbuf_size, "Unexpected argument: %s", argv[optind]);

        if (c->default_call_timeout > c->max_call_timeout)
                c->default_call_timeout = c->max_call_timeout;

        *ret_action = action;
        return 0;
}
