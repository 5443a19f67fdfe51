/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * broker.conf: the broker's settings in the INI form systemd's unit files use. Sections name a
 * group ([Broker], [WebSocket], [TLS], [Limits], [KeepAlive]), each "Key=Value" line sets one setting, and a
 * later line overrides an earlier one, so drop-ins (broker.conf.d/NAME.conf, read after the
 * file in lexical order) override the file key by key. The keys are a table onto
 * enum mbus_option: values are parsed by mbus_options_set(), the very function the command
 * line uses, and "Listen=" with no value empties the list, as systemd's list settings do.
 *
 * As in systemd, what the broker does not know is reported and ignored (a newer file on an
 * older broker still starts it), while a known key with a bad value is an error naming
 * file:line: a typo in a limit or a certificate path must not silently fall back to a default.
 * Lines starting with '#' or ';' are comments; a line ending in a backslash continues on the
 * next one, the backslash and newline becoming one space.
 *
 * Parsing is pure: text in, struct mbus_options out, warnings through a callback. Only
 * mbus_broker_conf_load() touches the file system, and only to read.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-conf.h"
#include "conf/conf-file.h"
#include "util/macro.h"

#define BROKER_CONF_MAX_SIZE (256u * 1024u)
#define BROKER_CONF_MAX_DROPINS 1024u

struct broker_conf_key {
        const char *section;
        const char *key;
        enum mbus_option option;
};

static const struct broker_conf_key broker_conf_keys[] = {
        { "Broker",    "Listen",              MBUS_OPTION_LISTEN              },
        { "Broker",    "TCPAllowRemote",      MBUS_OPTION_TCP_ALLOW_REMOTE    },
        { "WebSocket", "Origin",              MBUS_OPTION_WS_ORIGIN           },
        { "WebSocket", "HttpRoot",            MBUS_OPTION_HTTP_ROOT           },
        { "Broker",    "LogLevel",            MBUS_OPTION_LOG_LEVEL           },
        { "Broker",    "Scope",               MBUS_OPTION_SCOPE               },
        { "TLS",       "Certificate",         MBUS_OPTION_TLS_CERT            },
        { "TLS",       "Key",                 MBUS_OPTION_TLS_KEY             },
        { "TLS",       "CA",                  MBUS_OPTION_TLS_CA              },
        { "TLS",       "CRL",                 MBUS_OPTION_TLS_CRL             },
        { "TLS",       "HandshakeTimeoutSec", MBUS_OPTION_HANDSHAKE_TIMEOUT   },
        { "Limits",    "MaxPeers",            MBUS_OPTION_MAX_PEERS           },
        { "Limits",    "MaxFrameSize",        MBUS_OPTION_MAX_FRAME_SIZE      },
        { "Limits",    "MaxPendingCalls",     MBUS_OPTION_MAX_PENDING_CALLS   },
        { "Limits",    "MaxQueueBytes",       MBUS_OPTION_MAX_QUEUE_BYTES     },
        { "Limits",    "MaxCallTimeoutSec",   MBUS_OPTION_MAX_CALL_TIMEOUT    },
        { "Limits",    "ActivationTimeoutSec", MBUS_OPTION_ACTIVATION_TIMEOUT },
        { "Limits",    "MaxPendingCallsTotal", MBUS_OPTION_MAX_PENDING_CALLS_TOTAL },
        { "Limits",    "MaxSubscriptionsTotal", MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL },
        { "Limits",    "MaxNamespacesTotal",  MBUS_OPTION_MAX_NAMESPACES_TOTAL },
        { "Limits",    "MaxQueueBytesTotal",  MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL },
        { "Limits",    "MaxHelloPerUser",     MBUS_OPTION_MAX_HELLO_PER_USER  },
        { "Limits",    "HelloTimeoutSec",     MBUS_OPTION_HELLO_TIMEOUT       },
        { "Limits",    "FrameTimeoutSec",     MBUS_OPTION_FRAME_TIMEOUT       },
        { "Limits",    "MinFrameRate",        MBUS_OPTION_MIN_FRAME_RATE      },
        { "Limits",    "MaxBodySize",         MBUS_OPTION_MAX_BODY_SIZE       },
        { "Limits",    "MaxBodyDepth",        MBUS_OPTION_MAX_BODY_DEPTH      },
        { "KeepAlive", "IntervalSec",         MBUS_OPTION_KEEPALIVE_INTERVAL  },
        { "KeepAlive", "TimeoutSec",          MBUS_OPTION_KEEPALIVE_TIMEOUT   },
        { "KeepAlive", "Threshold",           MBUS_OPTION_KEEPALIVE_THRESHOLD },
};

const char *mbus_broker_conf_key_of(enum mbus_option o, char *buf, size_t size) {
        for (size_t i = 0; i < ELEMENTSOF(broker_conf_keys); i++)
                if (broker_conf_keys[i].option == o) {
                        (void) snprintf(buf, size, "%s.%s", broker_conf_keys[i].section, broker_conf_keys[i].key);
                        return buf;
                }
        return NULL;
}

static bool broker_conf_section_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(broker_conf_keys); i++)
                if (strcmp(broker_conf_keys[i].section, section) == 0)
                        return true;
        return false;
}

static const struct broker_conf_key *broker_conf_key_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(broker_conf_keys); i++)
                if (strcmp(broker_conf_keys[i].section, section) == 0 && strcmp(broker_conf_keys[i].key, key) == 0)
                        return &broker_conf_keys[i];
        return NULL;
}

static void broker_conf_warn(mbus_broker_conf_warn_fn warn, void *userdata, const char *path, unsigned line,
                             const char *format, ...) _printf_(5, 6);
static void broker_conf_warn(mbus_broker_conf_warn_fn warn, void *userdata, const char *path, unsigned line,
                             const char *format, ...) {
        char message[256];
        va_list ap;

        if (!warn)
                return;
        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        warn(path, line, message, userdata);
}

static char *broker_conf_strip(char *s) {
        char *end;

        s += strspn(s, " \t\r");
        end = s + strlen(s);
        while (end > s && strchr(" \t\r", end[-1]))
                end--;
        *end = 0;
        return s;
}

/* One logical line, its continuations joined; line is where it started. */
static int broker_conf_line(struct mbus_options *c, const char *path, unsigned line, char *text, char **section,
                            bool *section_known, mbus_broker_conf_warn_fn warn, void *userdata,
                            struct mbus_file_error *err) {
        const struct broker_conf_key *k;
        char *s = broker_conf_strip(text), *eq, *key, *value;
        int r;

        if (*s == 0 || *s == '#' || *s == ';')
                return 0;

        if (*s == '[') {
                size_t l = strlen(s);

                if (l < 3 || s[l - 1] != ']')
                        return mbus_file_error_set(err, path, line, "invalid section header: %s", s);
                free(*section);
                *section = strndup(s + 1, l - 2);
                if (!*section)
                        return -ENOMEM;
                *section_known = broker_conf_section_known(*section);
                if (!*section_known)
                        broker_conf_warn(warn, userdata, path, line, "Unknown section [%s], ignoring it", *section);
                return 0;
        }

        eq = strchr(s, '=');
        if (!eq)
                return mbus_file_error_set(err, path, line, "not a [Section] header, Key=Value or comment: %s", s);
        *eq = 0;
        key = broker_conf_strip(s);
        value = broker_conf_strip(eq + 1);
        if (*key == 0)
                return mbus_file_error_set(err, path, line, "an assignment without a key");
        if (!*section) {
                broker_conf_warn(warn, userdata, path, line, "%s= outside of a section, ignoring it", key);
                return 0;
        }
        if (!*section_known)
                return 0;       /* warned once at its header */
        k = broker_conf_key_find(*section, key);
        if (!k) {
                broker_conf_warn(warn, userdata, path, line, "Unknown key %s= in section [%s], ignoring it", key,
                                 *section);
                return 0;
        }

        r = mbus_options_set(c, k->option, value);
        if (r == -ENOMEM)
                return r;
        if (r == -E2BIG)
                return mbus_file_error_set(err, path, line, "more than %u addresses to listen on",
                                           MBUS_OPTIONS_LISTEN_MAX);
        if (r < 0)
                return mbus_file_error_set(err, path, line, "invalid %s= (%s): %s", k->key,
                                           mbus_option_hint(k->option), value[0] ? value : "(empty)");
        return 0;
}

int mbus_broker_conf_parse(struct mbus_options *c, const char *path, const char *text, size_t len,
                           mbus_broker_conf_warn_fn warn, void *userdata, struct mbus_file_error *err) {
        _cleanup_free_ char *section = NULL, *logical = NULL;
        size_t n_logical = 0;
        unsigned line = 0, start = 0;
        bool section_known = false;
        const char *p = text, *end = text + len;
        int r;

        assert(c && path && (text || len == 0));

        if (len > 0 && memchr(text, 0, len))
                return mbus_file_error_set(err, path, 0, "not a text file (contains a NUL byte)");

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
                bool continued;
                char *m;

                line++;
                if (n_logical == 0)
                        start = line;
                /* A trailing backslash (before any \r) continues the line. */
                while (l > 0 && p[l - 1] == '\r')
                        l--;
                continued = l > 0 && p[l - 1] == '\\' && !(n_logical == 0 && (p[0] == '#' || p[0] == ';'));
                if (continued)
                        l--;
                m = realloc(logical, n_logical + l + 2);
                if (!m)
                        return -ENOMEM;
                logical = m;
                memcpy(logical + n_logical, p, l);
                n_logical += l;
                if (continued)
                        logical[n_logical++] = ' ';
                logical[n_logical] = 0;
                p = nl ? nl + 1 : end;

                if (continued && p < end)
                        continue;
                r = broker_conf_line(c, path, start, logical, &section, &section_known, warn, userdata, err);
                if (r < 0)
                        return r;
                n_logical = 0;
        }
        return 0;
}

static int broker_conf_load_file(struct mbus_options *c, const char *path, bool required,
                                 mbus_broker_conf_warn_fn warn, void *userdata, struct mbus_file_error *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = mbus_conf_file_read(path, BROKER_CONF_MAX_SIZE, &text, &len, err);
        if (r == -ENOENT && !required) {
                *err = (struct mbus_file_error) {};
                return 0;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        return mbus_broker_conf_parse(c, path, text, len, warn, userdata, err);
}

static int broker_conf_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void broker_conf_closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void broker_conf_names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The NAME.conf entries of dir, sorted; none if dir does not exist. */
static int broker_conf_list_dropins(const char *dir, char ***ret, size_t *ret_n, struct mbus_file_error *err) {
        _cleanup_(broker_conf_closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return mbus_file_error_set(err, dir, 0, "cannot read directory: %s", strerror(errno));
        }
        while ((errno = 0, de = readdir(d))) {
                size_t l = strlen(de->d_name);
                char **a;

                if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                if (n >= BROKER_CONF_MAX_DROPINS) {
                        broker_conf_names_free(names, n);
                        return mbus_file_error_set(err, dir, 0, "more than %u drop-ins", BROKER_CONF_MAX_DROPINS);
                }
                a = realloc(names, (n + 1) * sizeof(*a));
                if (!a || !(a[n] = strdup(de->d_name))) {
                        broker_conf_names_free(a ?: names, n);
                        return -ENOMEM;
                }
                names = a;
                n++;
        }
        if (errno != 0) {
                int r = mbus_file_error_set(err, dir, 0, "cannot read directory: %s", strerror(errno));

                broker_conf_names_free(names, n);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), broker_conf_compare);
        *ret = names;
        *ret_n = n;
        return 0;
}

int mbus_broker_conf_load(struct mbus_options *c, const char *path, bool required, mbus_broker_conf_warn_fn warn,
                          void *userdata, struct mbus_file_error *err) {
        _cleanup_free_ char *dir = NULL;
        char **names = NULL;
        size_t n = 0;
        int r;

        assert(c && path && err);

        r = broker_conf_load_file(c, path, required, warn, userdata, err);
        if (r < 0)
                return r;

        if (asprintf(&dir, "%s.d", path) < 0)
                return -ENOMEM;
        r = broker_conf_list_dropins(dir, &names, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dir, names[i]) < 0)
                        r = -ENOMEM;
                else
                        r = broker_conf_load_file(c, p, /* required= */ true, warn, userdata, err);
        }
        broker_conf_names_free(names, n);
        return r;
}

int mbus_broker_conf_read(struct mbus_options *ret, const struct mbus_options *cmdline, mbus_broker_conf_warn_fn warn,
                          void *userdata, struct mbus_file_error *err) {
        char buf[PATH_MAX], message[256];
        const char *path;
        int r;

        assert(ret && cmdline && err);

        *err = (struct mbus_file_error) {};
        mbus_options_init(ret);
        path = mbus_options_broker_config_path(cmdline, buf);
        if (path) {
                r = mbus_broker_conf_load(ret, path, /* required= */ cmdline->broker_config != NULL, warn, userdata, err);
                if (r < 0)
                        goto fail;
        }
        r = mbus_options_merge(ret, cmdline);
        if (r < 0)
                goto fail;
        r = mbus_options_verify(ret, message, sizeof(message));
        if (r < 0) {
                r = mbus_file_error_set(err, path, 0, "%s", message);
                goto fail;
        }
        return 0;

fail:
        mbus_options_done(ret);
        return r;
}
