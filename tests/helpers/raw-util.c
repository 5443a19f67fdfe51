/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Raw protocol access for tests. The encoder writes exactly what it is told, so a test can put
 * a wrong version, an unknown field or a short length on the wire; the decoder is a small
 * stand-alone reading of frame.h's format, strict enough to notice if the broker sends junk.
 */

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "helpers/broker-util.h"
#include "helpers/raw-util.h"

static void buf_reserve(struct raw_buf *b, size_t n) {
        if (b->len + n <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
                cap *= 2;
        b->data = realloc(b->data, cap);
        assert(b->data);
        b->cap = cap;
}

static void buf_put(struct raw_buf *b, const void *p, size_t n) {
        buf_reserve(b, n);
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (v >> (8 * i)) & 0xff;
}

static uint64_t get_le64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

void raw_frame_begin_full(struct raw_buf *b, uint8_t version, uint8_t type, uint8_t flags,
                          uint8_t reserved) {
        uint8_t h[MBUS_FRAME_HEADER_SIZE] = { version, type, flags, reserved };

        b->len = 0;
        buf_put(b, h, sizeof(h));
}

void raw_field(struct raw_buf *b, uint8_t code, uint8_t kind, const void *value, uint16_t len) {
        uint8_t h[4] = { code, kind };

        put_le16(h + 2, len);
        buf_put(b, h, sizeof(h));
        buf_put(b, value, len);
}

void raw_field_u64(struct raw_buf *b, enum mbus_field_code code, uint64_t v) {
        uint8_t le[8];

        for (int i = 0; i < 8; i++)
                le[i] = (v >> (8 * i)) & 0xff;
        raw_field(b, code, MBUS_FIELD_KIND_UINT64, le, sizeof(le));
}

void raw_field_str(struct raw_buf *b, enum mbus_field_code code, const char *s) {
        raw_field(b, code, MBUS_FIELD_KIND_STRING, s, (uint16_t) (strlen(s) + 1));
}

void raw_frame_finish(struct raw_buf *b, const char *body) {
        size_t fields_len = b->len - MBUS_FRAME_HEADER_SIZE, body_len = body ? strlen(body) : 0;

        buf_put(b, body, body_len);
        put_le32(b->data + 4, (uint32_t) fields_len);
        put_le32(b->data + 8, (uint32_t) body_len);
}

void raw_buf_done(struct raw_buf *b) {
        free(b->data);
        *b = (struct raw_buf) {};
}

void raw_frame_done(struct raw_frame *f) {
        free(f->namespace);
        free(f->member);
        free(f->destination);
        free(f->sender);
        free(f->error_name);
        free(f->pattern);
        free(f->caller_name);
        free(f->body);
        *f = (struct raw_frame) {};
}

int raw_connect(const char *address) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(address) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, address);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int raw_send(int fd, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads exactly len bytes by deadline. */
static int recv_exact(int fd, void *data, size_t len, long long deadline) {
        uint8_t *p = data;

        while (len > 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                long long left = deadline - test_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                int r = poll(&pfd, 1, (int) left);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -ETIMEDOUT;
                ssize_t n = recv(fd, p, len, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return errno == ECONNRESET ? -ECONNRESET : -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int take_string(char **dst, const uint8_t *v, uint16_t len) {
        if (*dst || len == 0 || v[len - 1] != 0 || memchr(v, 0, len - 1))
                return -EBADMSG;
        *dst = strdup((const char *) v);
        return *dst ? 0 : -ENOMEM;
}

int raw_recv(int fd, int timeout_ms, struct raw_frame *ret) {
        long long deadline = test_now_ms() + timeout_ms;
        uint8_t h[MBUS_FRAME_HEADER_SIZE];
        struct raw_frame f = {};
        uint8_t *fields = NULL;
        int r;

        r = recv_exact(fd, h, sizeof(h), deadline);
        if (r < 0)
                return r;
        if (h[0] != MBUS_PROTOCOL_VERSION || h[1] == 0 || h[1] >= _MBUS_FRAME_TYPE_MAX || h[2] || h[3])
                return -EBADMSG;
        uint32_t fields_len = get_le32(h + 4), body_len = get_le32(h + 8);
        if ((uint64_t) fields_len + body_len > MBUS_FRAME_SIZE_MAX_DEFAULT)
                return -EBADMSG;
        f.type = h[1];
        fields = malloc(fields_len + 1);
        f.body = malloc(body_len + 1);
        if (!fields || !f.body) {
                r = -ENOMEM;
                goto fail;
        }
        r = recv_exact(fd, fields, fields_len, deadline);
        if (r < 0)
                goto fail;
        r = recv_exact(fd, f.body, body_len, deadline);
        if (r < 0)
                goto fail;
        f.body[body_len] = 0;
        f.body_len = body_len;
        if (body_len == 0) {
                free(f.body);
                f.body = NULL;
        }

        for (size_t i = 0; i < fields_len;) {
                if (fields_len - i < 4) {
                        r = -EBADMSG;
                        goto fail;
                }
                uint8_t code = fields[i], kind = fields[i + 1];
                uint16_t len = (uint16_t) (fields[i + 2] | fields[i + 3] << 8);
                const uint8_t *v = fields + i + 4;
                if (fields_len - i - 4 < len) {
                        r = -EBADMSG;
                        goto fail;
                }
                i += 4 + (size_t) len;
                if (code < 32)
                        f.fields_seen |= 1u << code;
                if (kind == MBUS_FIELD_KIND_UINT64) {
                        if (len != 8) {
                                r = -EBADMSG;
                                goto fail;
                        }
                        uint64_t x = get_le64(v);
                        switch (code) {
                        case MBUS_FIELD_SERIAL: f.serial = x; break;
                        case MBUS_FIELD_REPLY_SERIAL: f.reply_serial = x; break;
                        case MBUS_FIELD_TIMEOUT: f.timeout_usec = x; break;
                        case MBUS_FIELD_CALLER_UID: f.caller_uid = x; f.has_caller_ids = true; break;
                        case MBUS_FIELD_CALLER_GID: f.caller_gid = x; break;
                        case MBUS_FIELD_CALLER_PID: f.caller_pid = x; break;
                        default: r = -EBADMSG; goto fail;
                        }
                } else if (kind == MBUS_FIELD_KIND_STRING) {
                        char **dst, *skip = NULL;
                        switch (code) {
                        case MBUS_FIELD_NAMESPACE: dst = &f.namespace; break;
                        case MBUS_FIELD_MEMBER: dst = &f.member; break;
                        case MBUS_FIELD_DESTINATION: dst = &f.destination; break;
                        case MBUS_FIELD_SENDER: dst = &f.sender; break;
                        case MBUS_FIELD_ERROR_NAME: dst = &f.error_name; break;
                        case MBUS_FIELD_PATTERN: dst = &f.pattern; break;
                        case MBUS_FIELD_CALLER_NAME: dst = &f.caller_name; break;
                        case MBUS_FIELD_CALLER_GROUPS:
                        case MBUS_FIELD_CALLER_CERT_CN:
                        case MBUS_FIELD_CALLER_CERT_FINGERPRINT:
                        case MBUS_FIELD_CALLER_ADDRESS: dst = &skip; break;
                        default: r = -EBADMSG; goto fail;
                        }
                        r = take_string(dst, v, len);
                        free(skip);
                        if (r < 0)
                                goto fail;
                } else {
                        r = -EBADMSG;
                        goto fail;
                }
        }
        free(fields);
        *ret = f;
        return 0;

fail:
        free(fields);
        raw_frame_done(&f);
        return r;
}

int raw_recv_type(int fd, int timeout_ms, uint8_t type, struct raw_frame *ret) {
        long long deadline = test_now_ms() + timeout_ms;

        for (;;) {
                struct raw_frame f;
                long long left = deadline - test_now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = raw_recv(fd, (int) left, &f);
                if (r < 0)
                        return r;
                if (f.type == type) {
                        *ret = f;
                        return 0;
                }
                if (f.type == MBUS_FRAME_PING) {
                        r = raw_send_simple(fd, MBUS_FRAME_PONG, 0, f.serial, NULL, NULL, NULL, NULL,
                                            NULL, NULL);
                        if (r < 0) {
                                raw_frame_done(&f);
                                return r;
                        }
                }
                raw_frame_done(&f);
        }
}

int raw_wait_eof(int fd, int timeout_ms) {
        long long deadline = test_now_ms() + timeout_ms;

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                char buf[4096];
                long long left = deadline - test_now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int) left);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return 0;
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
        }
}

int raw_send_simple(int fd, enum mbus_frame_type type, uint64_t serial, uint64_t reply_serial,
                    const char *ns, const char *member, const char *destination,
                    const char *error_name, const char *pattern, const char *body) {
        struct raw_buf b = {};
        int r;

        raw_frame_begin(&b, type);
        if (serial)
                raw_field_u64(&b, MBUS_FIELD_SERIAL, serial);
        if (reply_serial)
                raw_field_u64(&b, MBUS_FIELD_REPLY_SERIAL, reply_serial);
        if (ns)
                raw_field_str(&b, MBUS_FIELD_NAMESPACE, ns);
        if (member)
                raw_field_str(&b, MBUS_FIELD_MEMBER, member);
        if (destination)
                raw_field_str(&b, MBUS_FIELD_DESTINATION, destination);
        if (error_name)
                raw_field_str(&b, MBUS_FIELD_ERROR_NAME, error_name);
        if (pattern)
                raw_field_str(&b, MBUS_FIELD_PATTERN, pattern);
        raw_frame_finish(&b, body);
        r = raw_send_buf(fd, &b);
        raw_buf_done(&b);
        return r;
}

int raw_hello_full(int fd, const char *name, const char *features, char **ret_id, char **ret_welcome) {
        struct raw_frame f;
        char body[512];
        int r;

        if (features)
                snprintf(body, sizeof(body), "{\"name\": \"%s\", \"features\": %s}", name, features);
        else
                snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
        r = raw_send_simple(fd, MBUS_FRAME_HELLO, 1, 0, NULL, NULL, NULL, NULL, NULL, body);
        if (r < 0)
                return r;
        r = raw_recv(fd, 10000, &f);
        if (r < 0)
                return r;
        if (f.type != MBUS_FRAME_WELCOME || f.reply_serial != 1 || !f.body) {
                raw_frame_done(&f);
                return -EBADMSG;
        }
        if (ret_welcome) {
                *ret_welcome = strdup(f.body);
                if (!*ret_welcome) {
                        raw_frame_done(&f);
                        return -ENOMEM;
                }
        }
        if (ret_id) {
                /* the id is the value of "id": a tiny scan is enough for the broker's own JSON */
                const char *p = strstr(f.body, "\":1.");
                *ret_id = NULL;
                if (p) {
                        size_t n = strspn(p + 1, ":1.0123456789");
                        *ret_id = strndup(p + 1, n);
                }
                if (!*ret_id) {
                        raw_frame_done(&f);
                        return -EBADMSG;
                }
        }
        raw_frame_done(&f);
        return 0;
}

int raw_hello(int fd, const char *name, char **ret_id) {
        return raw_hello_full(fd, name, NULL, ret_id, NULL);
}

static int wait_reply(int fd, uint64_t serial) {
        for (;;) {
                struct raw_frame f;
                int r = raw_recv(fd, 10000, &f);
                if (r < 0)
                        return r;
                if (f.type == MBUS_FRAME_PING) {
                        raw_send_simple(fd, MBUS_FRAME_PONG, 0, f.serial, NULL, NULL, NULL, NULL, NULL, NULL);
                } else if ((f.type == MBUS_FRAME_RETURN || f.type == MBUS_FRAME_ERROR) &&
                           f.reply_serial == serial) {
                        r = f.type == MBUS_FRAME_RETURN ? 0 : -EREMOTEIO;
                        raw_frame_done(&f);
                        return r;
                }
                raw_frame_done(&f);
        }
}

int raw_register(int fd, uint64_t serial, const char *ns) {
        int r = raw_send_simple(fd, MBUS_FRAME_REGISTER, serial, 0, ns, NULL, NULL, NULL, NULL, NULL);
        return r < 0 ? r : wait_reply(fd, serial);
}

int raw_subscribe(int fd, uint64_t serial, const char *pattern) {
        int r = raw_send_simple(fd, MBUS_FRAME_SUBSCRIBE, serial, 0, NULL, NULL, NULL, NULL, pattern, NULL);
        return r < 0 ? r : wait_reply(fd, serial);
}
