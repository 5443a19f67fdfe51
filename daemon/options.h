/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The broker's settings: command line -> struct mbus_options, no side effects. */

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "util/time-util.h"

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
        bool tcp_allow_remote;          /* --tcp-allow-remote: plain TCP beyond loopback */
        usec_t handshake_timeout;       /* --handshake-timeout: TLS handshake deadline */
        size_t max_peers;
        size_t max_frame_size;
        size_t max_pending_calls;       /* per peer, as caller */
        size_t max_queue_bytes;         /* per peer, outgoing */
        usec_t max_call_timeout;
        usec_t default_call_timeout;
        usec_t keepalive_interval;
        usec_t keepalive_timeout;
        unsigned keepalive_threshold;
        enum mbus_log_target log_target;
        int log_level;
        char *config_dir;               /* --config-dir: DIR/{interfaces,policy}.d only; NULL: search path */
        int scope;                      /* --scope: enum mbus_policy_scope, or -1: by the broker's uid */
};

#define MBUS_OPTIONS_MAX_PEERS_DEFAULT 4096u
#define MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT 1024u
#define MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT (32u * 1024u * 1024u)
#define MBUS_OPTIONS_MAX_CALL_TIMEOUT_DEFAULT (600 * USEC_PER_SEC)
#define MBUS_OPTIONS_CALL_TIMEOUT_DEFAULT (25 * USEC_PER_SEC)
#define MBUS_OPTIONS_KEEPALIVE_INTERVAL_DEFAULT (30 * USEC_PER_SEC)
#define MBUS_OPTIONS_KEEPALIVE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_HANDSHAKE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define MBUS_OPTIONS_LISTEN_MAX 16u
#define MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT 3u

void mbus_options_init(struct mbus_options *c);
void mbus_options_done(struct mbus_options *c);

/*
 * Parses argv into c (which holds the defaults from mbus_options_init()). Returns 0 and what to
 * do in *ret_action, or -EINVAL with a message for the user in errbuf.
 */
int mbus_options_parse_argv(struct mbus_options *c, int argc, char *argv[],
                            enum mbus_options_action *ret_action, char *errbuf, size_t errbuf_size);

/* The --help text. */
void mbus_options_help(const char *program_name);
