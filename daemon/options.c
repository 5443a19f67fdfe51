/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Command line parsing. Everything lands in struct mbus_options; nothing here opens a socket
 * or sets a global, so main() decides what happens and tests could parse at will. Durations
 * are seconds and may be fractional (tests run keep-alive at 0.2 s); sizes are bytes, with an
 * optional K/M/G suffix (powers of 1024).
 *
 * The settings broker.conf shares with the command line are one table, option_table[]: each
 * value string, from argv or from a file, goes through mbus_options_set(), which also marks the
 * setting as given. main() parses the file into one struct and argv into another and merges
 * argv's given settings over the file's, so the command line wins setting by setting (and one
 * --listen replaces the file's whole list). A reload does the same again with the kept argv.
 */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/confdir.h"
#include "conf/idl.h"
#include "conf/policy.h"
#include "config.h"
#include "options.h"
#include "proto/address.h"
#include "util/macro.h"

static void options_listen_clear(struct mbus_options *c);
static void options_strv_clear(char ***l);

void mbus_options_init(struct mbus_options *c) {
        assert(c);
        *c = (struct mbus_options) {
                .max_peers = MBUS_OPTIONS_MAX_PEERS_DEFAULT,
                .max_frame_size = 16u * 1024u * 1024u,
                .max_pending_calls = MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT,
                .max_queue_bytes = MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT,
                .max_call_timeout = MBUS_OPTIONS_MAX_CALL_TIMEOUT_DEFAULT,
                .default_call_timeout = MBUS_OPTIONS_CALL_TIMEOUT_DEFAULT,
                .activation_timeout = MBUS_OPTIONS_ACTIVATION_TIMEOUT_DEFAULT,
                .keepalive_interval = MBUS_OPTIONS_KEEPALIVE_INTERVAL_DEFAULT,
                .keepalive_timeout = MBUS_OPTIONS_KEEPALIVE_TIMEOUT_DEFAULT,
                .keepalive_threshold = MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT,
                .handshake_timeout = MBUS_OPTIONS_HANDSHAKE_TIMEOUT_DEFAULT,
                .hello_timeout = MBUS_OPTIONS_HELLO_TIMEOUT_DEFAULT,
                .max_hello_per_user = MBUS_OPTIONS_MAX_HELLO_PER_USER_DEFAULT,
                .max_pending_calls_total = MBUS_OPTIONS_MAX_PENDING_CALLS_TOTAL_DEFAULT,
                .max_subscriptions_total = MBUS_OPTIONS_MAX_SUBSCRIPTIONS_TOTAL_DEFAULT,
                .max_namespaces_total = MBUS_OPTIONS_MAX_NAMESPACES_TOTAL_DEFAULT,
                .max_queue_bytes_total = MBUS_OPTIONS_MAX_QUEUE_BYTES_TOTAL_DEFAULT,
                .frame_timeout = MBUS_OPTIONS_FRAME_TIMEOUT_DEFAULT,
                .min_frame_rate = MBUS_OPTIONS_MIN_FRAME_RATE_DEFAULT,
                .max_body_size = MBUS_IDL_BODY_SIZE_DEFAULT,
                .max_body_depth = MBUS_IDL_BODY_DEPTH_DEFAULT,
                .log_target = MBUS_LOG_TARGET_AUTO,
                .log_level = LOG_INFO,
                .scope = -1,
        };
}

void mbus_options_done(struct mbus_options *c) {
        if (!c)
                return;
        options_listen_clear(c);
        options_strv_clear(&c->ws_origin);
        free(c->http_root);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_ca);
        free(c->tls_crl);
        c->tls_cert = c->tls_key = c->tls_ca = c->tls_crl = NULL;
        free(c->config_dir);
        c->config_dir = NULL;
        free(c->broker_config);
        c->broker_config = NULL;
}

void mbus_options_help(const char *program_name) {
        char bufs[2][PATH_MAX];
        const char *dirs[2];

        /* Most settings also have a key in broker.conf; this text lists the command line's. */
        /* The broker's own search path, as it reads it; the kind is shown as a pattern. */
        (void) mbus_confdir_search_path(/* config_dir= */ NULL, "{policy,interfaces}.d", bufs, dirs);
        printf("%s [OPTIONS...]\n\n"
               "The mbus message bus broker.\n\n"
               "  -h --help                      Show this help\n"
               "     --version                   Show the version\n"
               "     --listen ADDRESS            Listen on this address, repeatable: a UNIX socket\n"
               "                                 path, tls://HOST[:PORT] or tcp://HOST:PORT (default:\n"
               "                                 sockets from systemd, else /run/mbus/socket for\n"
               "                                 root, $XDG_RUNTIME_DIR/mbus/socket otherwise);\n"
               "                                 compat+unix:PATH[:PORT] and compat+tcp://HOST:PORT\n"
               "                                 speak the original mBus protocol (mbus-compat(7))\n"
               "     --address ADDRESS           The same as --listen\n"
               "     --tls-cert FILE             The broker's certificate (chain), PEM\n"
               "     --tls-key FILE              Its private key, PEM (default: in --tls-cert)\n"
               "     --tls-ca FILE               CA bundle that client certificates must chain to\n"
               "     --tls-crl FILE              Revoked client certificates, PEM\n"
               "     --tcp-allow-remote          Allow plain tcp:// and ws:// on addresses beyond loopback\n"
               "     --ws-origin ORIGIN          Pages from ORIGIN may connect over WebSocket (repeatable)\n"
               "     --http-root DIR             Files served over HTTP on ws:// listeners (" MBUS_WWW_DIR ")\n"
               "     --handshake-timeout SEC     Drop a TLS peer whose handshake takes longer (10)\n"
               "     --max-peers N               Connected peers at most (%u)\n"
               "     --max-frame-size BYTES      Largest frame accepted (16777216)\n"
               "     --max-pending-calls N       Outstanding calls per peer (%u)\n"
               "     --max-queue-bytes BYTES     Outgoing queue per peer (%u)\n"
               "     --max-call-timeout SEC      Upper bound of any call's timeout (600)\n"
               "     --max-pending-calls-total N Outstanding calls of all peers (%u)\n"
               "     --max-subscriptions-total N Subscriptions of all peers (%u)\n"
               "     --max-namespaces-total N    Registered namespaces (%u)\n"
               "     --max-queue-bytes-total BYTES  Outgoing queues of all peers (1G)\n"
               "                                 An unprivileged user may hold at most half of\n"
               "                                 what the others leave of each of these and of\n"
               "                                 --max-peers, less 1/16 kept for root\n"
               "     --max-hello-per-user N      Connections per user before HELLO (%u)\n"
               "     --hello-timeout SEC         Drop a connection without HELLO after (10)\n"
               "     --frame-timeout SEC         A begun frame must be complete within this (10)\n"
               "     --min-frame-rate BYTES      ... plus its size at this rate per second (256K)\n"
               "     --max-body-size BYTES       Largest body checked against an interface file (1M)\n"
               "     --max-body-depth N          Deepest nesting in such a body (%u)\n"
               "     --keepalive-interval SEC    Ping a peer silent for this long (30)\n"
               "     --keepalive-timeout SEC     Wait this long for an answer to a ping (10)\n"
               "     --keepalive-threshold N     Drop a peer after N unanswered pings (%u)\n"
               "     --log-target TARGET         auto, journal or console (auto)\n"
               "     --log-level LEVEL           err, warning, notice, info or debug (info)\n"
               "     --config-dir DIR            Read DIR/policy.d, DIR/interfaces.d and DIR/broker.conf\n"
               "                                 only (default:\n"
               "                                 %s, then\n"
               "                                 %s)\n"
               "     --scope SCOPE               Policy defaults: system or user (system for root)\n"
               "     --broker-config FILE        Read the settings from FILE and FILE.d/*.conf (default:\n"
               "                                 broker.conf in --config-dir, else\n"
               "                                 %s/broker.conf); options given here win\n"
               "     --no-broker-config          Read no broker.conf\n",
               program_name,
               MBUS_OPTIONS_MAX_PEERS_DEFAULT, MBUS_OPTIONS_MAX_PENDING_CALLS_DEFAULT,
               MBUS_OPTIONS_MAX_QUEUE_BYTES_DEFAULT, MBUS_OPTIONS_MAX_PENDING_CALLS_TOTAL_DEFAULT,
               MBUS_OPTIONS_MAX_SUBSCRIPTIONS_TOTAL_DEFAULT, MBUS_OPTIONS_MAX_NAMESPACES_TOTAL_DEFAULT,
               MBUS_OPTIONS_MAX_HELLO_PER_USER_DEFAULT, MBUS_IDL_BODY_DEPTH_DEFAULT,
               MBUS_OPTIONS_KEEPALIVE_THRESHOLD_DEFAULT, dirs[0], dirs[1],
               MBUS_ADMIN_CONF_DIR);
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

static int options_parse_bool(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* --- the settings, as a table ----------------------------------------------------------------- */

/*
 * One row per enum mbus_option: where its value lives in struct mbus_options and how a string
 * becomes that value. The command line and broker.conf both go through mbus_options_set(), so
 * a bound or a word accepted in one place is accepted in the other.
 */
enum option_kind {
        OPTION_LISTEN,          /* char **listen, size_t n_listen */
        OPTION_FILE,            /* char *, not empty */
        OPTION_BOOL,            /* bool */
        OPTION_SEC,             /* usec_t from seconds, fractional */
        OPTION_SIZE,            /* size_t, K/M/G suffixes, in [min, max] */
        OPTION_UNSIGNED,        /* unsigned, in [min, max] */
        OPTION_LOG_TARGET,      /* enum mbus_log_target, as an int */
        OPTION_LOG_LEVEL,       /* int */
        OPTION_SCOPE,           /* enum mbus_policy_scope, as an int */
        OPTION_STRV,            /* char **, NULL-terminated, appended to */
};

struct option_info {
        const char *name;
        enum option_kind kind;
        size_t offset;
        size_t min, max;
        const char *hint;
};

#define OPTION(o, n, k, field, ...) \
        [o] = { .name = (n), .kind = (k), .offset = offsetof(struct mbus_options, field), __VA_ARGS__ }

static const struct option_info option_table[_MBUS_OPTION_MAX] = {
        OPTION(MBUS_OPTION_LISTEN, "listen", OPTION_LISTEN, listen,
               .hint = "a UNIX socket path, tls://HOST[:PORT] or tcp://HOST:PORT"),
        OPTION(MBUS_OPTION_TLS_CERT, "tls-cert", OPTION_FILE, tls_cert, .hint = "a file"),
        OPTION(MBUS_OPTION_TLS_KEY, "tls-key", OPTION_FILE, tls_key, .hint = "a file"),
        OPTION(MBUS_OPTION_TLS_CA, "tls-ca", OPTION_FILE, tls_ca, .hint = "a file"),
        OPTION(MBUS_OPTION_TLS_CRL, "tls-crl", OPTION_FILE, tls_crl, .hint = "a file"),
        OPTION(MBUS_OPTION_TCP_ALLOW_REMOTE, "tcp-allow-remote", OPTION_BOOL, tcp_allow_remote,
               .hint = "yes or no"),
        OPTION(MBUS_OPTION_HANDSHAKE_TIMEOUT, "handshake-timeout", OPTION_SEC, handshake_timeout,
               .hint = "seconds"),
        OPTION(MBUS_OPTION_MAX_PEERS, "max-peers", OPTION_SIZE, max_peers, .min = 1, .max = 1u << 20,
               .hint = "1..1048576"),
        OPTION(MBUS_OPTION_MAX_FRAME_SIZE, "max-frame-size", OPTION_SIZE, max_frame_size, .min = 4096,
               .max = UINT32_MAX, .hint = "4096..4294967295"),
        OPTION(MBUS_OPTION_MAX_PENDING_CALLS, "max-pending-calls", OPTION_SIZE, max_pending_calls, .min = 1,
               .max = 1u << 24, .hint = "1..16777216"),
        OPTION(MBUS_OPTION_MAX_QUEUE_BYTES, "max-queue-bytes", OPTION_SIZE, max_queue_bytes, .min = 1,
               .max = SIZE_MAX / 4, .hint = "bytes, K, M or G"),
        OPTION(MBUS_OPTION_MAX_CALL_TIMEOUT, "max-call-timeout", OPTION_SEC, max_call_timeout,
               .hint = "seconds"),
        OPTION(MBUS_OPTION_KEEPALIVE_INTERVAL, "keepalive-interval", OPTION_SEC, keepalive_interval,
               .hint = "seconds"),
        OPTION(MBUS_OPTION_KEEPALIVE_TIMEOUT, "keepalive-timeout", OPTION_SEC, keepalive_timeout,
               .hint = "seconds"),
        OPTION(MBUS_OPTION_KEEPALIVE_THRESHOLD, "keepalive-threshold", OPTION_UNSIGNED, keepalive_threshold,
               .min = 1, .max = 1000, .hint = "1..1000"),
        OPTION(MBUS_OPTION_LOG_TARGET, "log-target", OPTION_LOG_TARGET, log_target,
               .hint = "auto, journal or console"),
        OPTION(MBUS_OPTION_LOG_LEVEL, "log-level", OPTION_LOG_LEVEL, log_level,
               .hint = "err, warning, notice, info or debug"),
        OPTION(MBUS_OPTION_SCOPE, "scope", OPTION_SCOPE, scope, .hint = "system or user"),
        OPTION(MBUS_OPTION_ACTIVATION_TIMEOUT, "activation-timeout", OPTION_SEC, activation_timeout,
               .hint = "seconds"),
        OPTION(MBUS_OPTION_WS_ORIGIN, "ws-origin", OPTION_STRV, ws_origin, .hint = "scheme://host[:port] or *"),
        OPTION(MBUS_OPTION_HELLO_TIMEOUT, "hello-timeout", OPTION_SEC, hello_timeout, .hint = "seconds"),
        OPTION(MBUS_OPTION_MAX_HELLO_PER_USER, "max-hello-per-user", OPTION_SIZE, max_hello_per_user, .min = 1,
               .max = 1u << 20, .hint = "1..1048576"),
        OPTION(MBUS_OPTION_MAX_PENDING_CALLS_TOTAL, "max-pending-calls-total", OPTION_SIZE,
               max_pending_calls_total, .min = 1, .max = 1u << 24, .hint = "1..16777216"),
        OPTION(MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL, "max-subscriptions-total", OPTION_SIZE,
               max_subscriptions_total, .min = 1, .max = 1u << 24, .hint = "1..16777216"),
        OPTION(MBUS_OPTION_MAX_NAMESPACES_TOTAL, "max-namespaces-total", OPTION_SIZE, max_namespaces_total,
               .min = 1, .max = 1u << 24, .hint = "1..16777216"),
        OPTION(MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL, "max-queue-bytes-total", OPTION_SIZE, max_queue_bytes_total,
               .min = 4096, .max = SIZE_MAX / 4, .hint = "bytes, K, M or G"),
        OPTION(MBUS_OPTION_FRAME_TIMEOUT, "frame-timeout", OPTION_SEC, frame_timeout, .hint = "seconds"),
        OPTION(MBUS_OPTION_MIN_FRAME_RATE, "min-frame-rate", OPTION_SIZE, min_frame_rate, .min = 1,
               .max = SIZE_MAX / 4, .hint = "bytes per second, K, M or G"),
        OPTION(MBUS_OPTION_HTTP_ROOT, "http-root", OPTION_FILE, http_root, .hint = "a directory"),
        OPTION(MBUS_OPTION_MAX_BODY_SIZE, "max-body-size", OPTION_SIZE, max_body_size, .min = 1,
               .max = MBUS_IDL_BODY_SIZE_MAX, .hint = "bytes, K, M or G"),
        OPTION(MBUS_OPTION_MAX_BODY_DEPTH, "max-body-depth", OPTION_UNSIGNED, max_body_depth, .min = 1,
               .max = MBUS_IDL_BODY_DEPTH_MAX, .hint = "1..1024"),
};

#define OPTION_FIELD(c, info, type) ((type *) ((uint8_t *) (c) + (info)->offset))
#define OPTION_CFIELD(c, info, type) ((const type *) ((const uint8_t *) (c) + (info)->offset))

const char *mbus_option_to_string(enum mbus_option o) {
        return o >= 0 && o < _MBUS_OPTION_MAX ? option_table[o].name : NULL;
}

const char *mbus_option_hint(enum mbus_option o) {
        return o >= 0 && o < _MBUS_OPTION_MAX ? option_table[o].hint : NULL;
}

static void options_listen_clear(struct mbus_options *c) {
        for (size_t i = 0; i < c->n_listen; i++)
                free(c->listen[i]);
        free(c->listen);
        c->listen = NULL;
        c->n_listen = 0;
}

static void options_strv_clear(char ***l) {
        for (char **p = *l; p && *p; p++)
                free(*p);
        free(*l);
        *l = NULL;
}

static size_t options_strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

static int options_strv_add(char ***l, const char *value) {
        size_t n = options_strv_length(*l);
        char **p, *s;

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        p = realloc(*l, (n + 2) * sizeof(*p));
        if (!p) {
                free(s);
                return -ENOMEM;
        }
        p[n] = s;
        p[n + 1] = NULL;
        *l = p;
        return 0;
}

static int options_listen_add(struct mbus_options *c, const char *address) {
        struct mbus_address a;
        char **l;
        int r;

        r = mbus_address_parse(address, &a);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        mbus_address_done(&a);
        if (c->n_listen >= MBUS_OPTIONS_LISTEN_MAX)
                return -E2BIG;
        l = realloc(c->listen, (c->n_listen + 2) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        c->listen = l;
        l[c->n_listen] = strdup(address);
        if (!l[c->n_listen])
                return -ENOMEM;
        l[++c->n_listen] = NULL;
        return 0;
}

int mbus_options_set(struct mbus_options *c, enum mbus_option o, const char *value) {
        const struct option_info *info;
        usec_t usec;
        size_t n;
        char *s;
        int r;

        assert(c && o >= 0 && o < _MBUS_OPTION_MAX && value);
        info = &option_table[o];

        switch (info->kind) {
        case OPTION_LISTEN:
                if (value[0] == 0)
                        options_listen_clear(c);
                else {
                        r = options_listen_add(c, value);
                        if (r < 0)
                                return r;
                }
                break;
        case OPTION_STRV:
                if (value[0] == 0)
                        options_strv_clear(OPTION_FIELD(c, info, char **));
                else {
                        r = options_strv_add(OPTION_FIELD(c, info, char **), value);
                        if (r < 0)
                                return r;
                }
                break;
        case OPTION_FILE:
                if (value[0] == 0)
                        return -EINVAL;
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(*OPTION_FIELD(c, info, char *));
                *OPTION_FIELD(c, info, char *) = s;
                break;
        case OPTION_BOOL:
                r = options_parse_bool(value);
                if (r < 0)
                        return r;
                *OPTION_FIELD(c, info, bool) = r;
                break;
        case OPTION_SEC:
                r = options_parse_sec(value, &usec);
                if (r < 0)
                        return -EINVAL;
                *OPTION_FIELD(c, info, usec_t) = usec;
                break;
        case OPTION_SIZE:
        case OPTION_UNSIGNED:
                r = options_parse_size(value, info->min, info->max, &n);
                if (r < 0)
                        return -EINVAL;
                if (info->kind == OPTION_SIZE)
                        *OPTION_FIELD(c, info, size_t) = n;
                else
                        *OPTION_FIELD(c, info, unsigned) = (unsigned) n;
                break;
        case OPTION_LOG_TARGET:
        case OPTION_LOG_LEVEL:
                r = info->kind == OPTION_LOG_TARGET ? mbus_log_target_from_string(value) :
                                                       mbus_log_level_from_string(value);
                if (r < 0)
                        return -EINVAL;
                *OPTION_FIELD(c, info, int) = r;
                break;
        case OPTION_SCOPE:
                if (strcmp(value, "system") == 0)
                        c->scope = MBUS_POLICY_SCOPE_SYSTEM;
                else if (strcmp(value, "user") == 0)
                        c->scope = MBUS_POLICY_SCOPE_USER;
                else
                        return -EINVAL;
                break;
        }
        c->set |= 1u << o;
        return 0;
}

static size_t option_scalar_size(enum option_kind kind) {
        switch (kind) {
        case OPTION_BOOL:
                return sizeof(bool);
        case OPTION_SEC:
                return sizeof(usec_t);
        case OPTION_SIZE:
                return sizeof(size_t);
        case OPTION_UNSIGNED:
                return sizeof(unsigned);
        default:
                return sizeof(int);
        }
}

int mbus_options_copy(struct mbus_options *dst, const struct mbus_options *src, enum mbus_option o) {
        const struct option_info *info;
        char *s = NULL;

        assert(dst && src && o >= 0 && o < _MBUS_OPTION_MAX);
        info = &option_table[o];

        switch (info->kind) {
        case OPTION_LISTEN: {
                struct mbus_options l = {};

                for (size_t i = 0; i < src->n_listen; i++)
                        if (options_listen_add(&l, src->listen[i]) < 0) {
                                options_listen_clear(&l);
                                return -ENOMEM;
                        }
                options_listen_clear(dst);
                dst->listen = l.listen;
                dst->n_listen = l.n_listen;
                break;
        }
        case OPTION_STRV: {
                char **l = NULL;

                for (char *const *p = *(char **const *) OPTION_CFIELD(src, info, uint8_t); p && *p; p++)
                        if (options_strv_add(&l, *p) < 0) {
                                options_strv_clear(&l);
                                return -ENOMEM;
                        }
                options_strv_clear(OPTION_FIELD(dst, info, char **));
                *OPTION_FIELD(dst, info, char **) = l;
                break;
        }
        case OPTION_FILE:
                if (*OPTION_CFIELD(src, info, char *)) {
                        s = strdup(*OPTION_CFIELD(src, info, char *));
                        if (!s)
                                return -ENOMEM;
                }
                free(*OPTION_FIELD(dst, info, char *));
                *OPTION_FIELD(dst, info, char *) = s;
                break;
        default:
                memcpy(OPTION_FIELD(dst, info, uint8_t), OPTION_CFIELD(src, info, uint8_t),
                       option_scalar_size(info->kind));
        }
        dst->set = (dst->set & ~(1u << o)) | (src->set & (1u << o));
        return 0;
}

int mbus_options_merge(struct mbus_options *dst, const struct mbus_options *src) {
        int r;

        assert(dst && src);

        /* Where the configuration is read from is the command line's alone. */
        for (size_t i = 0; i < 2; i++) {
                char *const *from = i == 0 ? &src->config_dir : &src->broker_config;
                char **to = i == 0 ? &dst->config_dir : &dst->broker_config;
                char *s;

                if (!*from)
                        continue;
                s = strdup(*from);
                if (!s)
                        return -ENOMEM;
                free(*to);
                *to = s;
        }
        dst->no_broker_config = dst->no_broker_config || src->no_broker_config;

        for (enum mbus_option o = 0; o < _MBUS_OPTION_MAX; o++) {
                if (!(src->set & (1u << o)))
                        continue;
                r = mbus_options_copy(dst, src, o);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool mbus_options_equal(const struct mbus_options *a, const struct mbus_options *b, enum mbus_option o) {
        const struct option_info *info;

        assert(a && b && o >= 0 && o < _MBUS_OPTION_MAX);
        info = &option_table[o];

        switch (info->kind) {
        case OPTION_LISTEN:
                if (a->n_listen != b->n_listen)
                        return false;
                for (size_t i = 0; i < a->n_listen; i++)
                        if (strcmp(a->listen[i], b->listen[i]) != 0)
                                return false;
                return true;
        case OPTION_STRV: {
                char *const *x = *(char **const *) OPTION_CFIELD(a, info, uint8_t);
                char *const *y = *(char **const *) OPTION_CFIELD(b, info, uint8_t);
                size_t n = options_strv_length(x);

                if (n != options_strv_length(y))
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(x[i], y[i]) != 0)
                                return false;
                return true;
        }
        case OPTION_FILE: {
                const char *x = *OPTION_CFIELD(a, info, char *), *y = *OPTION_CFIELD(b, info, char *);

                return x == y || (x && y && strcmp(x, y) == 0);
        }
        default:
                return memcmp(OPTION_CFIELD(a, info, uint8_t), OPTION_CFIELD(b, info, uint8_t),
                              option_scalar_size(info->kind)) == 0;
        }
}

const char *mbus_options_broker_config_path(const struct mbus_options *c, char buf[static PATH_MAX]) {
        assert(c && buf);

        if (c->no_broker_config)
                return NULL;
        if (c->broker_config)
                return c->broker_config;
        (void) snprintf(buf, PATH_MAX, "%s/broker.conf", c->config_dir ?: MBUS_ADMIN_CONF_DIR);
        return buf;
}

int mbus_options_verify(struct mbus_options *c, char *errbuf, size_t errbuf_size) {
        assert(c);

        if ((c->tls_key || c->tls_ca || c->tls_crl) && !c->tls_cert)
                return options_error(errbuf, errbuf_size, "--tls-key, --tls-ca and --tls-crl (broker.conf: [TLS] "
                                    "Key=, CA=, CRL=) need --tls-cert (Certificate=)");
        if (c->tls_cert && !c->tls_ca)
                return options_error(errbuf, errbuf_size, "--tls-cert (broker.conf: [TLS] Certificate=) needs "
                                    "--tls-ca (CA=): client certificates are verified against it");

        c->default_call_timeout = MIN(MBUS_OPTIONS_CALL_TIMEOUT_DEFAULT, c->max_call_timeout);
        return 0;
}

int mbus_options_parse_argv(struct mbus_options *c, int argc, char *argv[],
                            enum mbus_options_action *ret_action, char *errbuf, size_t errbuf_size) {
        /* Every option of option_table[] is ARG_SETTING + its enum mbus_option. */
        enum {
                ARG_VERSION = 0x100,
                ARG_ADDRESS,
                ARG_CONFIG_DIR,
                ARG_BROKER_CONFIG,
                ARG_NO_BROKER_CONFIG,
                ARG_SETTING = 0x200,
        };
#define SETTING(o, has_arg) { option_table[o].name, has_arg, NULL, ARG_SETTING + (o) }
        const struct option options[] = {
                { "help",                no_argument,       NULL, 'h'                  },
                { "version",             no_argument,       NULL, ARG_VERSION          },
                { "address",             required_argument, NULL, ARG_ADDRESS          },
                { "config-dir",          required_argument, NULL, ARG_CONFIG_DIR       },
                { "broker-config",       required_argument, NULL, ARG_BROKER_CONFIG    },
                { "no-broker-config",    no_argument,       NULL, ARG_NO_BROKER_CONFIG },
                SETTING(MBUS_OPTION_LISTEN, required_argument),
                SETTING(MBUS_OPTION_TLS_CERT, required_argument),
                SETTING(MBUS_OPTION_TLS_KEY, required_argument),
                SETTING(MBUS_OPTION_TLS_CA, required_argument),
                SETTING(MBUS_OPTION_TLS_CRL, required_argument),
                SETTING(MBUS_OPTION_TCP_ALLOW_REMOTE, no_argument),
                SETTING(MBUS_OPTION_HANDSHAKE_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_MAX_PEERS, required_argument),
                SETTING(MBUS_OPTION_MAX_FRAME_SIZE, required_argument),
                SETTING(MBUS_OPTION_MAX_PENDING_CALLS, required_argument),
                SETTING(MBUS_OPTION_MAX_QUEUE_BYTES, required_argument),
                SETTING(MBUS_OPTION_MAX_CALL_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_KEEPALIVE_INTERVAL, required_argument),
                SETTING(MBUS_OPTION_KEEPALIVE_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_KEEPALIVE_THRESHOLD, required_argument),
                SETTING(MBUS_OPTION_LOG_TARGET, required_argument),
                SETTING(MBUS_OPTION_LOG_LEVEL, required_argument),
                SETTING(MBUS_OPTION_SCOPE, required_argument),
                SETTING(MBUS_OPTION_ACTIVATION_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_WS_ORIGIN, required_argument),
                SETTING(MBUS_OPTION_HELLO_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_MAX_HELLO_PER_USER, required_argument),
                SETTING(MBUS_OPTION_MAX_PENDING_CALLS_TOTAL, required_argument),
                SETTING(MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL, required_argument),
                SETTING(MBUS_OPTION_MAX_NAMESPACES_TOTAL, required_argument),
                SETTING(MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL, required_argument),
                SETTING(MBUS_OPTION_FRAME_TIMEOUT, required_argument),
                SETTING(MBUS_OPTION_MIN_FRAME_RATE, required_argument),
                SETTING(MBUS_OPTION_HTTP_ROOT, required_argument),
                SETTING(MBUS_OPTION_MAX_BODY_SIZE, required_argument),
                SETTING(MBUS_OPTION_MAX_BODY_DEPTH, required_argument),
                {}
        };
#undef SETTING
        enum mbus_options_action action = MBUS_OPTIONS_RUN;
        int opt, r;

        assert(c && argc >= 0 && argv && ret_action);

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                if (opt == ARG_ADDRESS)
                        opt = ARG_SETTING + MBUS_OPTION_LISTEN;
                switch (opt) {
                case 'h':
                        action = MBUS_OPTIONS_HELP;
                        break;
                case ARG_VERSION:
                        action = MBUS_OPTIONS_VERSION;
                        break;
                case ARG_CONFIG_DIR:
                case ARG_BROKER_CONFIG: {
                        char **slot = opt == ARG_CONFIG_DIR ? &c->config_dir : &c->broker_config;

                        assert(optarg);         /* required_argument */
                        if (optarg[0] == 0)
                                return options_error(errbuf, errbuf_size, "%s wants a %s", argv[optind - 1],
                                                    opt == ARG_CONFIG_DIR ? "directory" : "file");
                        free(*slot);
                        *slot = strdup(optarg);
                        if (!*slot)
                                return -ENOMEM;
                        break;
                }
                case ARG_NO_BROKER_CONFIG:
                        c->no_broker_config = true;
                        break;
                case ':':
                        return options_error(errbuf, errbuf_size, "Option %s needs an argument",
                                            argv[optind - 1]);
                default: {
                        enum mbus_option o = opt - ARG_SETTING;

                        if (opt < ARG_SETTING || o >= _MBUS_OPTION_MAX)
                                return options_error(errbuf, errbuf_size, "Unknown option %s", argv[optind - 1]);
                        /* The command line's own list: an empty --listen is no address. */
                        if (o == MBUS_OPTION_LISTEN && (!optarg || optarg[0] == 0))
                                r = -EINVAL;
                        else
                                r = mbus_options_set(c, o, optarg ?: "yes");
                        if (r == -ENOMEM)
                                return r;
                        if (r == -E2BIG)
                                return options_error(errbuf, errbuf_size, "More than %u addresses to listen on",
                                                    MBUS_OPTIONS_LISTEN_MAX);
                        if (r < 0)
                                return options_error(errbuf, errbuf_size, "Invalid --%s (%s): %s",
                                                    option_table[o].name, option_table[o].hint, optarg);
                }
                }
        }
        if (optind < argc)
                return options_error(errbuf, errbuf_size, "Unexpected argument: %s", argv[optind]);
        if (c->broker_config && c->no_broker_config)
                return options_error(errbuf, errbuf_size, "--broker-config and --no-broker-config exclude each other");

        *ret_action = action;
        return 0;
}
