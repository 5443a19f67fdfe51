/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What mbus-call, mbus-publish, mbus-subscribe, mbus-wait, mbus-monitor, mbus-introspect and
 * mbus-bench share. The tools are thin: they parse argv, talk to the broker through the public
 * libmbus API only, and own the one place where a failure is printed (here), so every tool
 * reports errors the same way:
 * "PROGRAM: what failed: org.mbus.Error.Name: message" on stderr, exit 1; a bad command line
 * exits 2.
 */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto/address.h"
#include "proto/names.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

int tool_parse_seconds(const char *s, usec_t *ret) {
        char *end;
        double d;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(d) || d <= 0 || d > 1e9)
                return -EINVAL;
        *ret = (usec_t) (d * (double) USEC_PER_SEC);
        if (*ret == 0)
                *ret = 1;
        return 0;
}

int tool_parse_timeout_option(const char *s, usec_t *ret) {
        if (tool_parse_seconds(s, ret) >= 0)
                return 0;
        tool_error("invalid --timeout '%s': expected a positive number of seconds", s);
        return -EINVAL;
}

int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || *end)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int tool_parse_json(const char *s, json_object **ret, const char **ret_reason) {
        enum json_tokener_error jerr;
        json_object *v;
        int r;

        /* The same parser libmbus applies to bodies, so what passes here passes there. */
        r = json_parse_bytes(s, strlen(s), ret);
        if (r != -EBADMSG)
                return r;

        /* Only for the message: json-c names the fault, or accepts a prefix of the text. */
        v = json_tokener_parse_verbose(s, &jerr);
        json_object_put(v);
        *ret_reason = jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                   : "trailing text after the JSON value";
        return r;
}

void tool_error(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void tool_print_failure(const char *what, int r, const struct mbus_error *error) {
        if (error && mbus_error_is_set(error))
                tool_error("%s: %s: %s", what, error->name ? error->name : "(unnamed error)",
                           error->message ? error->message : "(no message)");
        else
                tool_error("%s: %s", what, strerror(r < 0 ? -r : r));
}

/* Why a connection could not be opened, in the words a user needs: what to fix. */
static void tool_print_connect_failure(const char *address, int r, const struct mbus_error *error) {
        switch (r) {
        case -ENOENT:
                tool_error("no broker at %s: no such socket", address);
                break;
        case -ECONNREFUSED:
                tool_error("no broker listening at %s (connection refused)", address);
                break;
        case -EACCES:
        case -EPERM:
                tool_error("cannot connect to %s: permission denied", address);
                break;
        case -ENOTSOCK:
                tool_error("cannot connect to %s: not a socket", address);
                break;
        case -EBADMSG:
        case -EPROTONOSUPPORT:
                tool_error("%s is not an mbus socket: the peer does not speak the mbus protocol", address);
                break;
        default:
                tool_error("cannot connect to %s: %s", address,
                           error->message ? error->message : strerror(-r));
        }
}

int tool_connect_timeout(const char *address, usec_t timeout, struct mbus_conn **ret) {
        _cleanup_free_ char *where = NULL;
        struct mbus_error error = MBUS_ERROR_NULL;
        int r;

        /* Said here, before libmbus refuses it as just "invalid". */
        if (address && address[0] != '/' && !strstr(address, "://") &&
            !(strncmp(address, "unix:", 5) == 0 && address[5] == '/')) {
                tool_error("invalid address '%s': a relative path; give an absolute path, unix:/PATH, "
                           "tcp://HOST:PORT or tls://HOST[:PORT]", address);
                return -EINVAL;
        }

        r = mbus_conn_open_with_timeout(ret, address, NULL, timeout, &error);
        if (r >= 0)
                return 0;
        if (!address && mbus_address_default(&where) >= 0)
                address = where;
        tool_print_connect_failure(address ? address : "the default address", r, &error);
        mbus_error_free(&error);
        return r;
}

int tool_set_bus(int option, const char *value, const char **address) {
        static char *bus;              /* the --system or --user address, for the process's life */
        static bool chosen;
        int r;

        if (chosen) {
                tool_error("--address and the options choosing the bus (--system, --user) exclude each other");
                return -EINVAL;
        }
        chosen = true;
        if (option == 'a') {
                *address = value;
                return 0;
        }
        r = option == TOOL_ARG_SYSTEM ? mbus_address_system(&bus) : mbus_address_user(&bus);
        if (r < 0)
                return r;
        *address = bus;
        return 0;
}

int tool_parse_common_option(int c, const char *value, struct tool_common *common) {
        switch (c) {
        case 'h':
                common->help();
                return 0;
        case TOOL_ARG_VERSION:
                printf("%s %s\n", common->name, MBUS_VERSION);
                return 0;
        case 'a':
        case TOOL_ARG_SYSTEM:
        case TOOL_ARG_USER:
                return tool_set_bus(c, value, &common->address) < 0 ? -EINVAL : 1;
        case 't':
                return tool_parse_timeout_option(value, &common->timeout) < 0 ? -EINVAL : 1;
        case TOOL_ARG_JSON:
                return tool_parse_json_mode(value, &common->pretty) < 0 ? -EINVAL : 1;
        default:
                return -EINVAL;
        }
}

int tool_connect(const char *address, struct mbus_conn **ret) {
        return tool_connect_timeout(address, /* timeout= */ 0, ret);
}

int tool_connect_exit_status(int r) {
        if (r == -EINVAL)
                return TOOL_EXIT_USAGE;
        if (r == -ETIMEDOUT)
                return TOOL_EXIT_TIMEOUT;
        return TOOL_EXIT_UNAVAILABLE;
}

int tool_exit_status(int r, const struct mbus_error *error) {
        if (r >= 0)
                return EXIT_SUCCESS;
        if (r == -ETIMEDOUT || (error && mbus_error_has_name(error, MBUS_ERROR_TIMEOUT)))
                return TOOL_EXIT_TIMEOUT;
        if (error && mbus_error_is_set(error) && !mbus_error_has_name(error, MBUS_ERROR_DISCONNECTED))
                return TOOL_EXIT_FAILURE;
        switch (r) {
        case -ENOTCONN:
        case -ECONNRESET:
        case -EPIPE:
        case -ENOENT:
        case -ECONNREFUSED:
        case -EACCES:
        case -EPERM:
        case -ENOTSOCK:
        case -EBADMSG:
        case -EPROTONOSUPPORT:
        case -EHOSTUNREACH:
        case -EPROTO:
                return TOOL_EXIT_UNAVAILABLE;
        default:
                return TOOL_EXIT_FAILURE;
        }
}

int tool_parse_json_mode(const char *mode, bool *ret_pretty) {
        if (strcmp(mode, "pretty") != 0 && strcmp(mode, "short") != 0) {
                tool_error("invalid --json '%s': expected pretty or short", mode);
                return -EINVAL;
        }
        *ret_pretty = strcmp(mode, "pretty") == 0;
        return 0;
}

const char *tool_json_to_string(json_object *v, bool pretty) {
        return json_object_to_json_string_ext(v, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                         : JSON_C_TO_STRING_PLAIN) |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
}

int tool_parse_operands(const char *ns, const char *member, const char *member_kind, const char *json,
                        const char *json_kind, json_object **ret_json) {
        const char *reason = NULL;
        int r;

        if (!mbus_namespace_is_valid(ns)) {
                tool_error("invalid namespace '%s': expected reverse-DNS labels such as org.example.Network",
                           ns);
                return -EINVAL;
        }
        if (!mbus_member_is_valid(member)) {
                tool_error("invalid %s name '%s': expected [A-Za-z_][A-Za-z0-9_]*", member_kind, member);
                return -EINVAL;
        }
        *ret_json = NULL;
        if (!json)
                return 0;
        r = tool_parse_json(json, ret_json, &reason);
        if (r < 0) {
                tool_error("invalid JSON %s '%s': %s", json_kind, json, reason ? reason : strerror(-r));
                return -EINVAL;
        }
        return 0;
}

static volatile sig_atomic_t tool_signal = 0;   /* the one global a signal handler may write */

static void tool_on_signal(int sig) {
        tool_signal = sig;
}

void tool_catch_signals(void) {
        struct sigaction sa = { .sa_handler = tool_on_signal };

        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
}

int tool_got_signal(void) {
        return tool_signal;
}

/*
 * SIGINT/SIGTERM are blocked from the last look at the flag until ppoll() unblocks them
 * atomically, so a signal arriving in between cuts the wait short instead of being noticed only
 * at the deadline.
 */
int tool_conn_wait(struct mbus_conn *conn, usec_t deadline) {
        sigset_t block, old;
        struct pollfd p = {};
        struct timespec ts, *tsp = NULL;
        uint64_t conn_deadline;
        usec_t until, n;
        int r;

        r = mbus_conn_get_fd(conn);
        if (r < 0)
                return r;
        p.fd = r;
        r = mbus_conn_get_events(conn);
        if (r < 0)
                return r;
        p.events = (short) r;
        r = mbus_conn_get_timeout(conn, &conn_deadline);
        if (r < 0)
                return r;

        until = MIN(deadline, (usec_t) conn_deadline);
        if (until != USEC_INFINITY) {
                n = now_usec(CLOCK_MONOTONIC);
                until = until > n ? until - n : 0;
                ts = (struct timespec) { .tv_sec = until / USEC_PER_SEC,
                                         .tv_nsec = (until % USEC_PER_SEC) * NSEC_PER_USEC };
                tsp = &ts;
        }
        (void) sigemptyset(&block);
        (void) sigaddset(&block, SIGINT);
        (void) sigaddset(&block, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &block, &old);
        r = tool_signal ? 0 : ppoll(&p, 1, tsp, &old);
        if (r < 0)
                r = errno == EINTR ? 0 : -errno;
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        return r < 0 ? r : 0;
}
