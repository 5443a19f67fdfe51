/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address strings and default socket paths. Every tool, the library and the broker parse
 * addresses here (mbus_address_parse()), so a new transport is one more scheme in this file
 * rather than a change in each caller. Host names resolve with getaddrinfo() at connect or
 * bind time, never at parse time: parsing is pure and is tested as such.
 */

#include <arpa/inet.h>
#include <assert.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fd-util.h"

#include "proto/address.h"
#include "util/macro.h"

/* The value of environment variable name if set and not empty, copied; else NULL. */
static int address_from_env(const char *name, char **ret) {
        const char *e = secure_getenv(name);

        *ret = NULL;
        if (!e || !e[0])
                return 0;
        *ret = strdup(e);
        return *ret ? 1 : -ENOMEM;
}

int mbus_address_system(char **ret) {
        int r;

        assert(ret);
        r = address_from_env("MBUS_SYSTEM_ADDRESS", ret);
        if (r != 0)
                return MIN(r, 0);
        *ret = strdup(MBUS_ADDRESS_SYSTEM);
        return *ret ? 0 : -ENOMEM;
}

int mbus_address_user(char **ret) {
        const char *runtime_dir = secure_getenv("XDG_RUNTIME_DIR");

        assert(ret);
        /* A relative $XDG_RUNTIME_DIR is invalid per the basedir spec: ignore it. */
        if (runtime_dir && runtime_dir[0] == '/')
                return asprintf(ret, "%s/mbus/socket", runtime_dir) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "/run/user/%u/mbus/socket", (unsigned) geteuid()) < 0 ? -ENOMEM : 0;
}

bool mbus_address_in_user_session(void) {
        const char *runtime_dir = secure_getenv("XDG_RUNTIME_DIR");
        _cleanup_free_ char *socket = NULL;
        struct stat st;

        /*
         * systemd sets $XDG_RUNTIME_DIR for a login session and the user manager's services, not
         * for system services with User= or DynamicUser= (unless PAMName= opens a session): so
         * such services reach the system bus, as su without a session does. The directory must
         * be ours and the socket must exist, so a stale or inherited variable cannot send a
         * process to another user's bus or to nothing.
         */
        if (!runtime_dir || runtime_dir[0] != '/')
                return false;
        if (stat(runtime_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
                return false;
        if (asprintf(&socket, "%s/mbus/socket", runtime_dir) < 0) {
                socket = NULL;
                return false;
        }
        return stat(socket, &st) >= 0 && S_ISSOCK(st.st_mode);
}

int mbus_address_default(char **ret) {
        int r;

        assert(ret);

        r = address_from_env("MBUS_ADDRESS", ret);
        if (r != 0)
                return MIN(r, 0);
        if (mbus_address_in_user_session())
                return mbus_address_user(ret);
        return mbus_address_system(ret);
}

int mbus_address_default_listen(char **ret) {
        assert(ret);

        /* The broker's own side: root serves the system bus, anyone else their user bus. */
        if (geteuid() == 0) {
                *ret = strdup(MBUS_ADDRESS_SYSTEM);
                return *ret ? 0 : -ENOMEM;
        }
        return mbus_address_user(ret);
}

int mbus_address_to_sockaddr(const char *address, struct sockaddr_un *ret, socklen_t *ret_len) {
        const char *path;
        size_t len;

        if (!address || !ret)
                return -EINVAL;

        if (address[0] == '/')
                path = address;
        else if (strncmp(address, "unix:path=", 10) == 0)
                path = address + 10;
        else if (strncmp(address, "unix:", 5) == 0)
                path = address + 5;
        else if (strchr(address, ':'))
                return -EPROTONOSUPPORT;        /* "tcp:...": a transport we do not have */
        else
                return -EINVAL;

        if (path[0] != '/')
                return -EINVAL;
        len = strlen(path);
        if (len >= sizeof(ret->sun_path))
                return -ENAMETOOLONG;

        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        memcpy(ret->sun_path, path, len + 1);
        if (ret_len)
                *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
        return 0;
}

const char *mbus_address_kind_to_string(enum mbus_address_kind k) {
        static const char *const table[_MBUS_ADDRESS_KIND_MAX] = {
                [MBUS_ADDRESS_UNIX] = "unix",
                [MBUS_ADDRESS_TCP] = "tcp",
                [MBUS_ADDRESS_TLS] = "tls",
                [MBUS_ADDRESS_WS] = "ws",
                [MBUS_ADDRESS_WSS] = "wss",
                [MBUS_ADDRESS_COMPAT_UNIX] = "compat+unix",
                [MBUS_ADDRESS_COMPAT_TCP] = "compat+tcp",
        };

        return k >= 0 && k < _MBUS_ADDRESS_KIND_MAX ? table[k] : NULL;
}

void mbus_address_done(struct mbus_address *a) {
        if (!a)
                return;
        free(a->path);
        free(a->host);
        free(a->port);
        free(a->tls_cert);
        free(a->tls_key);
        free(a->tls_ca);
        free(a->tls_name);
        *a = (struct mbus_address) {};
}

static bool address_port_is_valid(const char *p, size_t len) {
        unsigned long v = 0;

        if (len == 0 || len > 5)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                v = v * 10 + (unsigned long) (p[i] - '0');
        }
        return v >= 1 && v <= 65535;
}

/* key=value&key=value after '?': the TLS client's files and the name to verify. */
static int address_parse_params(const char *p, struct mbus_address *a) {
        while (*p) {
                size_t len = strcspn(p, "&");
                const char *eq = memchr(p, '=', len);
                char **slot, *v;

                if (!eq || eq == p || eq + 1 == p + len)
                        return -EINVAL;
#define KEY(k) ((size_t) (eq - p) == strlen(k) && strncmp(p, k, (size_t) (eq - p)) == 0)
                if (KEY("cert"))
                        slot = &a->tls_cert;
                else if (KEY("key"))
                        slot = &a->tls_key;
                else if (KEY("ca"))
                        slot = &a->tls_ca;
                else if (KEY("name"))
                        slot = &a->tls_name;
                else
                        return -EINVAL;
#undef KEY
                if (*slot)
                        return -EINVAL;         /* given twice */
                v = strndup(eq + 1, (size_t) (p + len - eq - 1));
                if (!v)
                        return -ENOMEM;
                *slot = v;
                p += len;
                if (*p == '&')
                        p++;
        }
        return 0;
}

/* HOST:PORT or [V6]:PORT, port optional when default_port is given. */
static int address_parse_host_port(const char *s, size_t len, const char *default_port, struct mbus_address *a) {
        const char *host, *port = NULL, *end = s + len;
        size_t host_len, port_len = 0;

        if (len > 0 && s[0] == '[') {
                const char *close = memchr(s, ']', len);
                struct in6_addr a6;
                char buf[INET6_ADDRSTRLEN];

                if (!close)
                        return -EINVAL;
                host = s + 1;
                host_len = (size_t) (close - host);
                if (host_len == 0 || host_len >= sizeof(buf))
                        return -EINVAL;
                memcpy(buf, host, host_len);
                buf[host_len] = 0;
                if (inet_pton(AF_INET6, buf, &a6) != 1)
                        return -EINVAL;
                if (close + 1 < end) {
                        if (close[1] != ':')
                                return -EINVAL;
                        port = close + 2;
                }
        } else {
                const char *colon = memrchr(s, ':', len);

                host = s;
                host_len = colon ? (size_t) (colon - s) : len;
                if (colon)
                        port = colon + 1;
                /* An IPv6 literal must be bracketed; a name has no colon. */
                if (memchr(host, ':', host_len))
                        return -EINVAL;
                for (size_t i = 0; i < host_len; i++)
                        if (!(host[i] == '-' || host[i] == '.' || host[i] == '_' ||
                              (host[i] >= '0' && host[i] <= '9') || (host[i] >= 'a' && host[i] <= 'z') ||
                              (host[i] >= 'A' && host[i] <= 'Z')))
                                return -EINVAL;
        }
        if (host_len == 0 || host_len > 253)
                return -EINVAL;

        if (port) {
                port_len = (size_t) (end - port);
                if (!address_port_is_valid(port, port_len))
                        return -EINVAL;
        } else if (!default_port)
                return -EINVAL;

        a->host = strndup(host, host_len);
        a->port = port ? strndup(port, port_len) : strdup(default_port);
        if (!a->host || !a->port)
                return -ENOMEM;
        return 0;
}

/*
 * The original mBus client connects to its UNIX path with ":PORT" appended, so the socket is
 * bound where it looks: PATH as written if it already ends in ":DIGITS", else PATH:0 (0 being
 * that client's default port).
 */
static int address_compat_unix_path(const char *s, char **ret) {
        const char *colon = strrchr(s, ':');
        _cleanup_free_ char *path = NULL;
        struct sockaddr_un sa;
        bool has_port = colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1);
        int r;

        if (s[0] != '/')
                return -EINVAL;
        /* Port 0 is the original's default for UNIX sockets, so 0 to 65535 here. */
        if (has_port && strcmp(colon + 1, "0") != 0 && !address_port_is_valid(colon + 1, strlen(colon + 1)))
                return -EINVAL;
        if (asprintf(&path, has_port ? "%s" : "%s:0", s) < 0)
                return -ENOMEM;
        r = mbus_address_to_sockaddr(path, &sa, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(path);
        return 0;
}

int mbus_address_parse(const char *s, struct mbus_address *ret) {
        struct mbus_address a = {};
        int r;

        if (!s || !ret)
                return -EINVAL;

        if (strncmp(s, "tcp://", 6) == 0 || strncmp(s, "tls://", 6) == 0) {
                bool tls = s[2] == 's';
                const char *rest = s + 6, *q = strchr(rest, '?');

                a.kind = tls ? MBUS_ADDRESS_TLS : MBUS_ADDRESS_TCP;
                r = address_parse_host_port(rest, q ? (size_t) (q - rest) : strlen(rest),
                                            tls ? MBUS_TLS_PORT_DEFAULT : NULL, &a);
                if (r >= 0 && q)
                        r = tls ? address_parse_params(q + 1, &a) : -EINVAL;
        } else if (strncmp(s, "ws://", 5) == 0 || strncmp(s, "wss://", 6) == 0) {
                bool tls = s[2] == 's';
                const char *rest = s + (tls ? 6 : 5);

                a.kind = tls ? MBUS_ADDRESS_WSS : MBUS_ADDRESS_WS;
                r = address_parse_host_port(rest, strlen(rest), NULL, &a);
        } else if (strncmp(s, "compat+tcp://", 13) == 0) {
                a.kind = MBUS_ADDRESS_COMPAT_TCP;
                r = address_parse_host_port(s + 13, strlen(s + 13), NULL, &a);
        } else if (strncmp(s, "compat+unix:", 12) == 0) {
                a.kind = MBUS_ADDRESS_COMPAT_UNIX;
                r = address_compat_unix_path(s + 12, &a.path);
        } else {
                struct sockaddr_un sa;

                a.kind = MBUS_ADDRESS_UNIX;
                r = mbus_address_to_sockaddr(s, &sa, NULL);
                if (r >= 0) {
                        a.path = strdup(sa.sun_path);
                        if (!a.path)
                                r = -ENOMEM;
                }
        }
        if (r < 0) {
                mbus_address_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

/* connect() that finishes even if a signal interrupts it. */
static int address_connect_fd(int fd, const struct sockaddr *sa, socklen_t len) {
        int error = 0;
        socklen_t elen = sizeof(error);

        if (connect(fd, sa, len) >= 0)
                return 0;
        if (errno != EINTR && errno != EINPROGRESS)
                return -errno;
        /* Interrupted: the connect goes on in the background; wait for its outcome. */
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };

                if (poll(&p, 1, -1) >= 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen) < 0)
                return -errno;
        return -error;
}

int mbus_address_connect(const struct mbus_address *a, int *ret_fd) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
        int r = -EHOSTUNREACH;

        assert(a && ret_fd);

        /* A client speaks frames on a byte stream; WebSocket is for browsers and scripts, compat
         * listeners for clients of the original mBus. */
        if (a->kind == MBUS_ADDRESS_WS || a->kind == MBUS_ADDRESS_WSS || a->kind == MBUS_ADDRESS_COMPAT_UNIX ||
            a->kind == MBUS_ADDRESS_COMPAT_TCP)
                return -EPROTONOSUPPORT;

        if (a->kind == MBUS_ADDRESS_UNIX) {
                _cleanup_close_ int fd = -EBADF;
                struct sockaddr_un sa;
                socklen_t len;

                r = mbus_address_to_sockaddr(a->path, &sa, &len);
                if (r < 0)
                        return r;
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                r = address_connect_fd(fd, (const struct sockaddr *) &sa, len);
                if (r < 0)
                        return r;
                r = fd_nonblock(fd, true);
                if (r < 0)
                        return r;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }

        if (getaddrinfo(a->host, a->port, &hints, &ai) != 0 || !ai)
                return -EHOSTUNREACH;
        for (struct addrinfo *p = ai; p; p = p->ai_next) {
                _cleanup_close_ int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
                int one = 1;

                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                r = address_connect_fd(fd, p->ai_addr, p->ai_addrlen);
                if (r < 0)
                        continue;
                /* Frames are whole messages: send them now, not after the next ACK. */
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                r = fd_nonblock(fd, true);
                if (r < 0)
                        break;
                *ret_fd = TAKE_FD(fd);
                break;
        }
        freeaddrinfo(ai);
        return r;
}

const char *mbus_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
        char ip[INET6_ADDRSTRLEN] = "?";

        assert(buf && size > 0);
        switch (sa ? sa->sa_family : AF_UNSPEC) {
        case AF_INET: {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                (void) inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
                (void) snprintf(buf, size, "%s:%u", ip, (unsigned) ntohs(in->sin_port));
                break;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                (void) inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
                (void) snprintf(buf, size, "[%s]:%u", ip, (unsigned) ntohs(in6->sin6_port));
                break;
        }
        case AF_UNIX: {
                const struct sockaddr_un *un = (const struct sockaddr_un *) sa;

                (void) snprintf(buf, size, "%.*s", (int) sizeof(un->sun_path), un->sun_path);
                break;
        }
        default:
                (void) snprintf(buf, size, "?");
        }
        (void) len;
        return buf;
}

bool mbus_sockaddr_is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;

                if (IN6_IS_ADDR_LOOPBACK(a6))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
        }
        return false;
}
