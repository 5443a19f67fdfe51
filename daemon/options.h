/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The broker's settings: command line and broker.conf -> struct mbus_options, no side effects. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "util/time-util.h"

/*
 * The settings that both the command line and broker.conf set, one value each; a value given
 * on the command line wins over the file (mbus_options_merge()). Bit n of struct
 * mbus_options.set says that setting n was given.
 */
enum mbus_option {
        MBUS_OPTION_LISTEN,
        MBUS_OPTION_TLS_CERT,
        MBUS_OPTION_TLS_KEY,
        MBUS_OPTION_TLS_CA,
        MBUS_OPTION_TLS_CRL,
        MBUS_OPTION_TCP_ALLOW_REMOTE,
        MBUS_OPTION_HANDSHAKE_TIMEOUT,
        MBUS_OPTION_MAX_PEERS,
        MBUS_OPTION_MAX_FRAME_SIZE,
        MBUS_OPTION_MAX_PENDING_CALLS,
        MBUS_OPTION_MAX_QUEUE_BYTES,
        MBUS_OPTION_MAX_CALL_TIMEOUT,
        MBUS_OPTION_KEEPALIVE_INTERVAL,
        MBUS_OPTION_KEEPALIVE_TIMEOUT,
        MBUS_OPTION_KEEPALIVE_THRESHOLD,
        MBUS_OPTION_LOG_TARGET,
        MBUS_OPTION_LOG_LEVEL,
        MBUS_OPTION_SCOPE,
        MBUS_OPTION_ACTIVATION_TIMEOUT,
        MBUS_OPTION_WS_ORIGIN,
        MBUS_OPTION_HELLO_TIMEOUT,
        MBUS_OPTION_MAX_HELLO_PER_USER,
        MBUS_OPTION_MAX_PENDING_CALLS_TOTAL,
        MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL,
        MBUS_OPTION_MAX_NAMESPACES_TOTAL,
        MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL,
        MBUS_OPTION_FRAME_TIMEOUT,
        MBUS_OPTION_MIN_FRAME_RATE,
        MBUS_OPTION_HTTP_ROOT,
        MBUS_OPTION_MAX_BODY_SIZE,
        MBUS_OPTION_MAX_BODY_DEPTH,
        _MBUS_OPTION_MAX,
        _MBUS_OPTION_INVALID = -EINVAL,
};

enum mbus_options_action {
        MBUS_OPTIONS_RUN,
        MBUS_OPTIONS_HELP,
        MBUS_OPTIONS_VERSION,
        _MBUS_OPTIONS_ACTION_MAX,
};

struct mbus_options {
        char **listen;                  /* --listen/--address, NULL-terminated; NULL: socket activation
                                           or the default socket */
        size_t n_listen;
        char *tls_cert, *tls_key, *tls_ca, *tls_crl;    /* --tls-*: files; NULL: not given */
        bool tcp_allow_remote;          /* --tcp-allow-remote: plain TCP (and ws://) beyond loopback */
        char **ws_origin;               /* --ws-origin: origins whose pages may connect over
                                           WebSocket, NULL-terminated; NULL: none but the broker's own */
        char *http_root;                /* --http-root: files served over HTTP on ws:// and wss://
                                           listeners; NULL: the installed share/mbus/www */
        usec_t handshake_timeout;       /* --handshake-timeout: TLS handshake deadline */
        size_t max_peers;
        size_t max_frame_size;
        size_t max_pending_calls;       /* per peer, as caller */
        size_t max_queue_bytes;         /* per peer, outgoing */
        /*
         * Broker-wide limits that users share by the rule of user.h (max_peers is one too);
         * max_hello_per_user is a fixed cap per user on connections that have not said HELLO,
         * and hello_timeout how long such a connection may stay.
         */
        usec_t hello_timeout;
        size_t max_hello_per_user;
        size_t max_pending_calls_total;
        size_t max_subscriptions_total;
        size_t max_namespaces_total;
        size_t max_queue_bytes_total;
        /* A frame that has begun to arrive must be complete within frame_timeout plus its
         * size at min_frame_rate bytes per second, or the peer is dropped. */
        usec_t frame_timeout;
        size_t min_frame_rate;
        /* What checking a body against an interface file may cost, where the file sets no
         * max-body-size or max-body-depth (conf/idl.h). */
        size_t max_body_size;
        unsigned max_body_depth;
        usec_t max_call_timeout;
        usec_t default_call_timeout;
        usec_t activation_timeout;      /* --activation-timeout: an activated service registers by then */
        usec_t keepalive_interval;
        usec_t keepalive_timeout;
        unsigned keepalive_threshold;
        enum mbus_log_target log_target;
        int log_level;
        char *config_dir;               /* --config-dir: DIR/{interfaces,policy}.d only; NULL: search path */
        int scope;                      /* --scope: enum mbus_policy_scope, or -1: by the broker's uid */
        char *broker_config;            /* --broker-config: the file instead of the default; NULL: default */
        bool no_broker_config;          /* --no-broker-config: read no broker.conf at all */
        uint32_t set;                   /* 1u << enum mbus_option: given, not a default */
};

#define MBUS_OPTIONS_MAX_PEERS_DEFAULT 4096u
#define MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT 1024u
#define MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT (32u * 1024u * 1024u)
#define MBUS_OPTIONS_MAX_CALL_TIMEOUT_DEFAULT (600 * USEC_PER_SEC)
#define MBUS_OPTIONS_CALL_TIMEOUT_DEFAULT (25 * USEC_PER_SEC)
#define MBUS_OPTIONS_KEEPALIVE_INTERVAL_DEFAULT (30 * USEC_PER_SEC)
#define MBUS_OPTIONS_KEEPALIVE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_HANDSHAKE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_ACTIVATION_TIMEOUT_DEFAULT (25 * USEC_PER_SEC)
#define MBUS_OPTIONS_LISTEN_MAX 16u
#define MBUS_OPTIONS_HELLO_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_FRAME_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_MIN_FRAME_RATE_DEFAULT (256u * 1024u)
#define MBUS_OPTIONS_MAX_HELLO_PER_USER_DEFAULT 16u
#define MBUS_OPTIONS_MAX_PENDING_CALLS_TOTAL_DEFAULT 65536u
#define MBUS_OPTIONS_MAX_SUBSCRIPTIONS_TOTAL_DEFAULT 131072u
#define MBUS_OPTIONS_MAX_NAMESPACES_TOTAL_DEFAULT 16384u
#define MBUS_OPTIONS_MAX_QUEUE_BYTES_TOTAL_DEFAULT (1024u * 1024u * 1024u)
#define MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT 3u

void mbus_options_init(struct mbus_options *c);
void mbus_options_done(struct mbus_options *c);

/*
 * Parses argv into c (which holds the defaults from mbus_options_init()). Returns 0 and what to
 * do in *ret_action, or -EINVAL with a message for the user in errbuf.
 */
int mbus_options_parse_argv(struct mbus_options *c, int argc, char *argv[],
                            enum mbus_options_action *ret_action, char *errbuf, size_t errbuf_size);

/*
 * Checks what only the whole set can tell (a TLS certificate needs a CA, ...) and derives the
 * default call timeout; run it once the command line and the file are merged. Returns 0, or
 * -EINVAL with a message for the user in errbuf.
 */
int mbus_options_verify(struct mbus_options *c, char *errbuf, size_t errbuf_size);

/*
 * Parses value into setting o of c and marks it given. Listen and ws-origin append, and an empty
 * value empties the list (as a broker.conf "Listen=" does); a boolean takes yes/no, true/false, on/off
 * or 1/0. Returns 0, -EINVAL (not a valid value), -E2BIG (more than MBUS_OPTIONS_LISTEN_MAX
 * addresses) or -ENOMEM; c is unchanged on error.
 */
int mbus_options_set(struct mbus_options *c, enum mbus_option o, const char *value);

/*
 * Every setting given in src replaces dst's (and is marked given there), and so do src's
 * --config-dir, --broker-config and --no-broker-config. Returns 0 or -ENOMEM.
 */
int mbus_options_merge(struct mbus_options *dst, const struct mbus_options *src);
/* Copies setting o from src to dst, whether given or not. Returns 0 or -ENOMEM. */
int mbus_options_copy(struct mbus_options *dst, const struct mbus_options *src, enum mbus_option o);
/* Whether setting o has the same value in a and b. */
bool mbus_options_equal(const struct mbus_options *a, const struct mbus_options *b, enum mbus_option o);

/* The long option of o ("max-peers"), and what a valid value looks like ("1..1048576"). */
const char *mbus_option_to_string(enum mbus_option o);
const char *mbus_option_hint(enum mbus_option o);

/*
 * The broker.conf that options say to read: --broker-config FILE, else DIR/broker.conf with
 * --config-dir DIR, else MBUS_ADMIN_CONF_DIR/broker.conf; NULL with --no-broker-config. The
 * string is c's or buf.
 */
const char *mbus_options_broker_config_path(const struct mbus_options *c, char buf[static PATH_MAX]);

/* The --help text. */
void mbus_options_help(const char *program_name);
