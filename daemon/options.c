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
#include "proto/address.h"

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
                .handshake_timeout = MBUS_OPTIONS_HANDSHAKE_TIMEOUT_DEFAULT,
                .log_target = MBUS_LOG_TARGET_AUTO,
                .log_level = LOG_INFO,
                .scope = -1,
        };
}

void mbus_options_done(struct mbus_options *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_listen; i++)
                free(c->listen[i]);
        free(c->listen);
        c->listen = NULL;
        c->n_listen = 0;
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_ca);
        free(c->tls_crl);
        c->tls_cert = c->tls_key = c->tls_ca = c->tls_crl = NULL;
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
               "     --listen ADDRESS            Listen on this address, repeatable: a UNIX socket\n"
               "                                 path, tls://HOST[:PORT] or tcp://HOST:PORT (default:\n"
               "                                 sockets from systemd, else /run/mbus/socket for\n"
               "                                 root, $XDG_RUNTIME_DIR/mbus/socket otherwise)\n"
               "     --address ADDRESS           The same as --listen\n"
               "     --tls-cert FILE             The broker's certificate (chain), PEM\n"
               "     --tls-key FILE              Its private key, PEM (default: in --tls-cert)\n"
               "     --tls-ca FILE               CA bundle that client certificates must chain to\n"
               "     --tls-crl FILE              Revoked client certificates, PEM\n"
               "     --tcp-allow-remote          Allow plain tcp:// on addresses beyond loopback\n"
               "     --handshake-timeout SEC     Drop a TLS peer whose handshake takes longer (10)\n"
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
                ARG_LISTEN,
                ARG_TLS_CERT,
                ARG_TLS_KEY,
                ARG_TLS_CA,
                ARG_TLS_CRL,
                ARG_TCP_ALLOW_REMOTE,
                ARG_HANDSHAKE_TIMEOUT,
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
                { "listen",              required_argument, NULL, ARG_LISTEN              },
                { "tls-cert",            required_argument, NULL, ARG_TLS_CERT            },
                { "tls-key",             required_argument, NULL, ARG_TLS_KEY             },
                { "tls-ca",              required_argument, NULL, ARG_TLS_CA              },
                { "tls-crl",             required_argument, NULL, ARG_TLS_CRL             },
                { "tcp-allow-remote",    no_argument,       NULL, ARG_TCP_ALLOW_REMOTE    },
                { "handshake-timeout",   required_argument, NULL, ARG_HANDSHAKE_TIMEOUT   },
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
                case ARG_LISTEN: {
                        struct mbus_address a;
                        char **l;

                        r = mbus_address_parse(optarg, &a);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return options_error(errbuf, errbuf_size,
                                                    "Invalid address %s (a UNIX socket path, tls://HOST[:PORT] "
                                                    "or tcp://HOST:PORT)", optarg);
                        mbus_address_done(&a);
                        if (c->n_listen >= MBUS_OPTIONS_LISTEN_MAX)
                                return options_error(errbuf, errbuf_size, "More than %u addresses to listen on",
                                                    MBUS_OPTIONS_LISTEN_MAX);
                        l = realloc(c->listen, (c->n_listen + 2) * sizeof(*l));
                        if (!l)
                                return -ENOMEM;
                        c->listen = l;
                        l[c->n_listen] = strdup(optarg);
                        if (!l[c->n_listen])
                                return -ENOMEM;
                        l[++c->n_listen] = NULL;
                        break;
                }
                case ARG_TLS_CERT:
                case ARG_TLS_KEY:
                case ARG_TLS_CA:
                case ARG_TLS_CRL: {
                        char **slot = opt == ARG_TLS_CERT ? &c->tls_cert :
                                      opt == ARG_TLS_KEY ? &c->tls_key :
                                      opt == ARG_TLS_CA ? &c->tls_ca : &c->tls_crl;

                        if (optarg[0] == 0)
                                return options_error(errbuf, errbuf_size, "%s wants a file", argv[optind - 1]);
                        free(*slot);
                        *slot = strdup(optarg);
                        if (!*slot)
                                return -ENOMEM;
                        break;
                }
                case ARG_TCP_ALLOW_REMOTE:
                        c->tcp_allow_remote = true;
                        break;
                case ARG_HANDSHAKE_TIMEOUT:
                        r = options_parse_sec(optarg, &c->handshake_timeout);
                        if (r < 0 || c->handshake_timeout == 0)
                                return options_error(errbuf, errbuf_size, "Invalid --handshake-timeout: %s",
                                                    optarg);
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

        if ((c->tls_key || c->tls_ca || c->tls_crl) && !c->tls_cert)
                return options_error(errbuf, errbuf_size, "--tls-key, --tls-ca and --tls-crl need --tls-cert");
        if (c->tls_cert && !c->tls_ca)
                return options_error(errbuf, errbuf_size,
                                    "--tls-cert needs --tls-ca: client certificates are verified against it");

        if (c->default_call_timeout > c->max_call_timeout)
                c->default_call_timeout = c->max_call_timeout;

        *ret_action = action;
        return 0;
}
