/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * WebSocket peers. Our TCP listener accepts (listener.c, the same accept loop and credentials
 * as tcp:// and tls://) and hands each connection to libwebsockets, which does the HTTP
 * upgrade, TLS for wss and the WebSocket framing; once upgraded to /v1/ws with the
 * subprotocol "mbus", the connection becomes a broker peer over a message link
 * (proto/message.h): each complete WebSocket message is pushed into the link as one frame,
 * and each frame the peer's stream writes leaves as one message. The peer code is the same
 * as for a socket; only who moves the bytes differs.
 *
 * The event loop. Debian builds libwebsockets without LWS_WITH_EXTERNAL_POLL, so the
 * ADD/DEL/CHANGE_MODE_POLL_FD callbacks never come. We know every socket anyway (we adopt
 * them), so each gets an sd-event io source of ours: EPOLLIN always, EPOLLOUT while output
 * waits (in the link, or a partial write libwebsockets buffered). Any wakeup calls
 * lws_service(ctx, -1), which polls libwebsockets' own table once without waiting (with the
 * events it wants, a POLLOUT for a pong or a close included), services what is ready and runs
 * its due timers; a one-second timer of ours covers timers with no socket activity. That is
 * one poll() over the WebSocket sockets per wakeup: linear in their number, a price for the
 * missing build option, and no thread.
 *
 * HTTP: any other request on the listener is plain HTTP. GET serves the files under
 * --http-root (default: the installed share/mbus/www, the bus page and mbus.js) through
 * libwebsockets' file mount, which resolves "." and ".." in the path before it opens
 * anything (no way out of the directory), answers / with index.html and sends the content
 * type of the file's extension (a file with an extension it does not know is not served).
 * The files are public: what a page may do is decided when it connects to /v1/ws, by policy.
 * POST /v1/call/NAMESPACE/PROCEDURE and GET /metrics are calls by a short-lived peer with the
 * connection's identity (listener-http.h); their mounts send them to ws_callback().
 *
 * Limits: a message larger than the peer's frame size limit (4096 bytes before HELLO) is
 * refused while it is still arriving, fragments included; libwebsockets itself closes on
 * a bad opcode, an unmasked client frame or a close mid-frame. Each costs only its connection.
 */

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "broker.h"
#include "config.h"
#include "creds.h"
#include "listener-http.h"
#include "listener-sse.h"
#include "listener-ws.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/address.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/tls.h"
#include "reply.h"
#include "util/fd-util.h"
#include "util/json-util.h"

#define WS_PATH "/v1/ws"
#define HTTP_CALL_PATH "/v1/call"
#define HTTP_METRICS_PATH "/metrics"
#define HTTP_NAMESPACES_PATH "/v1/namespaces"
#define HTTP_INTROSPECT_PATH "/v1/introspect"
#define HTTP_EVENTS_PATH "/v1/events"
#define WS_PROTOCOL "mbus"
#define WS_TIMER_USEC USEC_PER_SEC

/*
 * A wss vhost: its TLS context holds the certificate, key, CA and CRL read when it was made. A
 * reload makes a new one for new connections; the old one lives on, retired, until its last
 * connection is gone, so existing peers keep their sessions.
 */
struct ws_tls_vhost {
        struct lws_vhost *vhost;
        unsigned n_conns;
        bool retired;
        struct ws_tls_vhost *next;              /* mbus_ws's list, the current one first */
        char name[32];                          /* libwebsockets keeps the pointer */
};

struct mbus_ws {
        struct mbus_broker *broker;             /* borrowed */
        char *http_root;                        /* owned: the mount points at it for the context's lifetime */
        struct lws_http_mount mount, mounts[5];           /* mounts: the paths of ws_http_request() */
        struct lws_context *context;
        struct lws_vhost *vhost;
        struct ws_tls_vhost *tls_vhosts;        /* owned; the first is current; NULL without TLS files */
        unsigned n_tls_vhosts_made;
        sd_event_source *timer;
};

struct ws_conn {
        struct mbus_ws *ws;
        struct lws *wsi;                        /* NULL once libwebsockets destroyed it */
        int fd;                                 /* owned by libwebsockets */
        bool tls;
        struct ws_tls_vhost *tls_vhost;         /* counted in its n_conns; NULL for ws:// */
        sd_event_source *io_source;
        uint32_t io_events;
        struct mbus_creds creds;                /* until the peer takes them */
        struct mbus_peer *peer;                 /* borrowed: NULL before the upgrade and once dropped */
        struct mbus_message_link *link;
        uint8_t *msg;                           /* the message being received */
        size_t msg_len;
        bool msg_text;
        bool closing;                           /* close once the link's output has left */
        /* An HTTP call on this connection: the request's names and body, then the call. */
        char *http_body;
        size_t http_body_len;
        char http_ns[256], http_member[256];
        bool http_metrics;
        uint64_t http_timeout_usec;             /* ?timeout=MS; 0: the broker's default */
        struct mbus_http_call *http;
        struct mbus_sse *sse;                   /* GET /v1/events: the reader, for the connection's life */
        bool sse_streaming;                     /* its headers went out */
        int http_status;                        /* a refusal before any call: its status */
        const char *http_error, *http_message;
};

/* Destroys retired wss vhosts without connections; not from a callback of theirs. */
static void ws_tls_reap(struct mbus_ws *ws) {
        for (struct ws_tls_vhost **p = &ws->tls_vhosts; *p;) {
                struct ws_tls_vhost *v = *p;

                if (!v->retired || v->n_conns > 0) {
                        p = &v->next;
                        continue;
                }
                *p = v->next;
                lws_vhost_destroy(v->vhost);
                free(v);
        }
}

static void ws_service(struct mbus_ws *ws) {
        (void) lws_service(ws->context, -1);
        ws_tls_reap(ws);
}

static void ws_conn_update_events(struct ws_conn *c) {
        uint32_t events = EPOLLIN;

        if (!c->io_source || !c->wsi)
                return;
        if ((c->link && mbus_message_link_has_output(c->link)) || (c->sse && mbus_sse_has_output(c->sse)) ||
            lws_partial_buffered(c->wsi) || c->closing)
                events |= EPOLLOUT;
        if (events != c->io_events && sd_event_source_set_io_events(c->io_source, events) >= 0)
                c->io_events = events;
}

static int ws_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct ws_conn *c = userdata;
        struct mbus_ws *ws = c->ws;

        ws_service(ws);         /* may free c */
        mbus_broker_dispatch_done(ws->broker);
        return 0;
}

static int ws_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct mbus_ws *ws = userdata;

        ws_service(ws);
        mbus_broker_dispatch_done(ws->broker);
        (void) sd_event_source_set_time_relative(s, WS_TIMER_USEC);
        return 0;
}

/* The link has output (or the peer let go of it): ask for writability. */
static void ws_conn_on_output(void *userdata) {
        struct ws_conn *c = userdata;

        if (c->link && c->link->stream_gone) {
                c->peer = NULL;
                c->closing = true;
        }
        if (c->wsi)
                lws_callback_on_writable(c->wsi);
        ws_conn_update_events(c);
}

static struct ws_conn *ws_conn_free(struct ws_conn *c) {
        if (!c)
                return NULL;
        if (c->link) {
                c->link->eof = true;
                c->link->on_output = NULL;
        }
        if (c->peer) {
                /* The socket is gone: the peer reads the end of its stream. */
                mbus_broker_condemn_peer(c->ws->broker, c->peer, -ECONNRESET);
                c->peer = NULL;
        }
        c->link = mbus_message_link_unref(c->link);
        if (c->tls_vhost)
                c->tls_vhost->n_conns--;        /* a retired one goes in ws_tls_reap() */
        mbus_http_call_free(c->http);
        mbus_sse_free(c->sse);
        free(c->http_body);
        sd_event_source_disable_unref(c->io_source);
        mbus_creds_done(&c->creds);
        free(c->msg);
        free(c);
        return NULL;
}

static size_t ws_conn_limit(const struct ws_conn *c) {
        return c->peer ? c->peer->stream.max_frame_size : MBUS_PEER_HANDSHAKE_FRAME_MAX;
}

/*
 * Whether a page from origin may connect. No Origin header: not a browser (a browser always
 * sends one), so nothing to check. Else the origin must be the broker's own (its page, served
 * from the Host the browser connected to) or one that --ws-origin names ("*": any).
 */
static bool ws_origin_allowed(struct ws_conn *c, struct lws *wsi, const char *origin) {
        char host[256] = "";
        const char *rest;

        if (!origin[0])
                return true;
        for (char **o = c->ws->broker->options->ws_origin; o && *o; o++)
                if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0)
                        return true;
        rest = strstr(origin, "://");
        if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0 || !rest)
                return false;
        return strcmp(rest + 3, host) == 0 &&
               strncmp(origin, c->tls ? "https://" : "http://", (size_t) (rest + 3 - origin)) == 0;
}

/* Checks the upgrade request: path, subprotocol, origin. Returns 0 to accept, -1 to refuse. */
static int ws_filter(struct ws_conn *c, struct lws *wsi) {
        char uri[64] = "", proto[128] = "", origin[256] = "";

        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || strcmp(uri, WS_PATH) != 0)
                return -1;
        if (lws_hdr_copy(wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL) <= 0 || !strstr(proto, WS_PROTOCOL))
                return -1;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int) sizeof(origin) ||
            lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
            !ws_origin_allowed(c, wsi, origin)) {
                struct mbus_broker *b = c->ws->broker;

                if (mbus_broker_log_ratelimit(b, &b->tls_log_ratelimit, LOG_WARNING, -EACCES,
                                              MBUS_MSGID_WS_ORIGIN_REFUSED, "WebSocket origin refusals"))
                        (void) mbus_log(LOG_WARNING, -EACCES, MBUS_FIELDS(.msgid = MBUS_MSGID_WS_ORIGIN_REFUSED),
                                        "Refused a WebSocket connection from %s: origin %s is not allowed "
                                        "(--ws-origin)", c->creds.remote ? c->creds.remote->address : "?",
                                        origin[0] ? origin : "(too long)");
                return -1;
        }
        return 0;
}

static int ws_established(struct ws_conn *c, struct lws *wsi) {
        struct mbus_broker *b = c->ws->broker;
        int r;

        r = mbus_message_link_new(&c->link, /* out_max= */ 0);
        if (r < 0)
                return r;
        c->link->on_output = ws_conn_on_output;
        c->link->userdata = c;

        if (c->tls && c->creds.remote) {
                SSL *ssl = lws_get_ssl(wsi);

                r = ssl ? mbus_tls_get_identity_ssl(ssl, &c->creds.remote->cert) : -ENODATA;
                if (r < 0 && r != -ENODATA)
                        return r;
        }
        return mbus_broker_accept_message(b, c->link, &c->creds, &c->peer);
}

/* A fragment of a message arrived: gather it; a whole message goes into the link. */
static int ws_receive(struct ws_conn *c, struct lws *wsi, const void *in, size_t len) {
        const char *reason = NULL;
        size_t limit = ws_conn_limit(c);
        uint8_t *p;
        int r;

        if (!c->peer || c->closing)
                return 0;
        if (lws_is_first_fragment(wsi)) {
                c->msg_len = 0;
                c->msg_text = !lws_frame_is_binary(wsi);
        }
        if (len > limit - MIN(c->msg_len, limit)) {
                r = mbus_reply_protocol_error(c->ws->broker, c->peer,
                                              c->peer->state == MBUS_PEER_HANDSHAKE ?
                                              "HELLO larger than 4096 bytes" :
                                              "WebSocket message larger than the frame size limit");
                mbus_broker_condemn_peer(c->ws->broker, c->peer, r);
                return 0;
        }
        p = realloc(c->msg, c->msg_len + len + 1);
        if (!p)
                return -ENOMEM;
        c->msg = p;
        memcpy(c->msg + c->msg_len, in, len);
        c->msg_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
                return 0;

        r = mbus_message_link_push(c->link, c->msg, c->msg_len, c->msg_text, limit, &reason);
        free(c->msg);
        c->msg = NULL;
        c->msg_len = 0;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                r = mbus_reply_protocol_error(c->ws->broker, c->peer, reason ?: strerror(-r));
                mbus_broker_condemn_peer(c->ws->broker, c->peer, r);
                return 0;
        }
        mbus_peer_dispatch_io(c->peer, EPOLLIN);        /* may drop the peer: c->peer is then NULL */
        return 0;
}

/* Sends one queued frame as one message. Returns -1 to have libwebsockets close. */
static int ws_writeable(struct ws_conn *c, struct lws *wsi) {
        _cleanup_free_ uint8_t *msg = NULL;
        size_t len = 0;
        bool text = false;
        int r;

        if (!c->link)
                return 0;
        r = mbus_message_link_pop(c->link, LWS_PRE, &msg, &len, &text);
        if (r < 0)
                return -1;
        if (r == 0) {
                if (c->closing)
                        return -1;
                /* Drained: the stream may hold more that the link refused. */
                if (c->peer)
                        mbus_peer_dispatch_io(c->peer, EPOLLOUT);
                return 0;
        }
        if (lws_write(wsi, msg + LWS_PRE, len, text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY) < (int) len)
                return -1;
        if (mbus_message_link_has_output(c->link) || c->closing || c->peer)
                lws_callback_on_writable(wsi);
        return 0;
}

/*
 * A wss handshake ends in a fatal alert of ours: log who and why, as peer.c does for tls://.
 * OpenSSL has recorded the reason by then: a failed verification in the verify result, a
 * missing certificate on the error queue (peeked, not taken: libwebsockets reads it next).
 */
static void ws_tls_on_info(const SSL *ssl, int where, int ret) {
        struct mbus_ws *ws = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
        struct sockaddr_storage sa;
        socklen_t sa_len = sizeof(sa);
        char address[MBUS_SOCKADDR_FORMAT_MAX], reason[MBUS_TLS_REASON_MAX];
        unsigned long e;
        long v;

        if (!ws || !(where & SSL_CB_WRITE_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
                return;
        if (getpeername(SSL_get_fd(ssl), (struct sockaddr *) &sa, &sa_len) < 0)
                sa_len = 0;
        v = SSL_get_verify_result(ssl);
        e = ERR_peek_last_error();
        if (v != X509_V_OK)
                (void) snprintf(reason, sizeof(reason), "certificate verification failed: %s",
                                X509_verify_cert_error_string(v));
        else
                (void) snprintf(reason, sizeof(reason), "%s",
                                (e ? ERR_reason_error_string(e) : NULL) ?: SSL_alert_desc_string_long(ret));
        mbus_log_tls_refused(ws->broker, /* peer= */ NULL,
                             sa_len > 0 ? mbus_sockaddr_format((struct sockaddr *) &sa, sa_len, address,
                                                               sizeof(address)) : NULL,
                             -EPROTO, reason);
}

/* The wss vhost's TLS context is being made: the CRL goes in as for tls:// (tls.c), and the
 * refusal logger. */
static int ws_tls_setup(struct lws *wsi, SSL_CTX *ctx) {
        struct mbus_ws *ws = lws_context_user(lws_get_context(wsi));
        const char *crl = ws->broker->options->tls_crl;
        char reason[MBUS_TLS_REASON_MAX];
        int r;

        SSL_CTX_set_app_data(ctx, ws);
        SSL_CTX_set_info_callback(ctx, ws_tls_on_info);
        if (!crl)
                return 0;
        r = mbus_tls_ctx_load_crl(ctx, crl, reason);
        if (r < 0)
                (void) mbus_log(LOG_ERR, r, NULL, "wss: %s", reason);
        return r < 0 ? 1 : 0;
}

/* ---- HTTP calls ---------------------------------------------------------------------------- */

/* Who the connection is, again for each HTTP call: the address and, over TLS, the certificate. */
static int ws_http_creds(struct ws_conn *c, struct lws *wsi, struct mbus_creds *ret) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        int r;

        if (getpeername(c->fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        r = mbus_creds_from_address(ret, c->tls ? "wss" : "ws", (struct sockaddr *) &sa, len);
        if (r < 0)
                return r;
        if (c->tls) {
                SSL *ssl = lws_get_ssl(wsi);

                r = ssl ? mbus_tls_get_identity_ssl(ssl, &ret->remote->cert) : -ENODATA;
                if (r < 0 && r != -ENODATA) {
                        mbus_creds_done(ret);
                        return r;
                }
        }
        return 0;
}

static void ws_http_refuse(struct ws_conn *c, struct lws *wsi, int status, const char *error, const char *message) {
        c->http_status = status;
        c->http_error = error;
        c->http_message = message;
        lws_callback_on_writable(wsi);
}

/* A peer for the request could not be started (r < 0): the refusal that says why. */
static void ws_http_refuse_start(struct ws_conn *c, struct lws *wsi, int r, const char *invalid) {
        if (r == -EINVAL)
                ws_http_refuse(c, wsi, 400, "org.mbus.Error.InvalidArgs", invalid);
        else if (r == -ENOBUFS)
                ws_http_refuse(c, wsi, 503, "org.mbus.Error.LimitsExceeded", "too many peers");
        else
                ws_http_refuse(c, wsi, 500, "org.mbus.Error.Failed", strerror(-r));
}

/* The call's answer is in, or the event reader has output: ask for writability. */
static void ws_http_on_done(void *userdata) {
        struct ws_conn *c = userdata;

        if (c->wsi)
                lws_callback_on_writable(c->wsi);
        ws_conn_update_events(c);
}

static void ws_http_start(struct ws_conn *c, struct lws *wsi) {
        struct mbus_creds creds = MBUS_CREDS_NULL;
        _cleanup_json_ json_object *args = NULL;
        int r;

        if (c->http_body_len > 0 && json_parse_bytes(c->http_body, c->http_body_len, &args) < 0) {
                ws_http_refuse(c, wsi, 400, "org.mbus.Error.InvalidArgs", "the request body is not JSON");
                return;
        }
        r = ws_http_creds(c, wsi, &creds);
        if (r >= 0 && c->http_metrics)  /* every page of GetStats */
                r = mbus_http_stats_call_new(&c->http, c->ws->broker, &creds, ws_http_on_done, c);
        else if (r >= 0)
                r = mbus_http_call_new(&c->http, c->ws->broker, &creds, c->http_ns, c->http_member, c->http_body,
                                       c->http_body_len, c->http_timeout_usec, ws_http_on_done, c);
        mbus_creds_done(&creds);
        if (r < 0)
                ws_http_refuse_start(c, wsi, r, "not a valid namespace and procedure");
}

/* GET /v1/events?pattern=P (default *): the connection becomes an event reader. */
static void ws_sse_start(struct ws_conn *c, struct lws *wsi) {
        struct mbus_creds creds = MBUS_CREDS_NULL;
        char arg[MBUS_NAME_MAX * 2 + 16];
        const char *pattern;
        int r;

        /* The decoded argument ("pattern=P", a pointer past the name); one that fills arg is too long. */
        pattern = lws_get_urlarg_by_name(wsi, "pattern=", arg, sizeof(arg));
        if (pattern && strlen(arg) + 1 >= sizeof(arg)) {
                ws_http_refuse(c, wsi, 400, "org.mbus.Error.InvalidArgs", "not a valid subscription pattern");
                return;
        }
        if (!pattern)
                pattern = "*";
        r = ws_http_creds(c, wsi, &creds);
        if (r >= 0)
                r = mbus_sse_new(&c->sse, c->ws->broker, &creds, pattern, ws_http_on_done, c);
        mbus_creds_done(&creds);
        if (r < 0)
                ws_http_refuse_start(c, wsi, r, "not a valid subscription pattern");
        else
                lws_callback_on_writable(wsi);
}

/* Sets the call of the broker's own procedure member with body as the request's. Returns 0 or -ENOMEM. */
static int ws_http_broker_call(struct ws_conn *c, const char *member, json_object *args) {
        (void) snprintf(c->http_ns, sizeof(c->http_ns), "org.mbus.Broker");
        (void) snprintf(c->http_member, sizeof(c->http_member), "%s", member);
        free(c->http_body);
        c->http_body = NULL;
        c->http_body_len = 0;
        if (!args)
                return 0;
        c->http_body = strdup(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
        if (!c->http_body)
                return -ENOMEM;
        c->http_body_len = strlen(c->http_body);
        return 0;
}

/*
 * The GET requests that are a call of the broker's own (GET /metrics, /v1/namespaces,
 * /v1/introspect/NAMESPACE) or an event reader (/v1/events). Returns 1 if uri is one (it is
 * under way or refused), 0 if not, -ENOMEM.
 */
static int ws_http_get(struct ws_conn *c, struct lws *wsi, const char *uri) {
        const char *ns = NULL;

        if (strcmp(uri, HTTP_EVENTS_PATH) == 0) {
                ws_sse_start(c, wsi);
                return 1;
        }
        if (strcmp(uri, HTTP_METRICS_PATH) == 0) {
                c->http_metrics = true;
                if (ws_http_broker_call(c, "GetStats", NULL) < 0)
                        return -ENOMEM;
        } else if (strcmp(uri, HTTP_NAMESPACES_PATH) == 0) {
                /* A page, as the procedure gives it: ?after=NAME&limit=N pass through, and the
                 * procedure judges them (an invalid limit is its InvalidArgs, 400). */
                _cleanup_json_ json_object *args = json_object_new_object();
                char after[MBUS_NAME_MAX + 16], limit[32];
                const char *v;

                if (!args)
                        return -ENOMEM;
                v = lws_get_urlarg_by_name(wsi, "after=", after, sizeof(after));
                if (v && json_object_object_add(args, "after", json_object_new_string(v)) < 0)
                        return -ENOMEM;
                v = lws_get_urlarg_by_name(wsi, "limit=", limit, sizeof(limit));
                if (v && json_object_object_add(args, "limit", json_object_new_int64(strtoll(v, NULL, 10))) < 0)
                        return -ENOMEM;
                if (ws_http_broker_call(c, "ListNamespaces", args) < 0)
                        return -ENOMEM;
        } else if (strncmp(uri, HTTP_INTROSPECT_PATH "/", strlen(HTTP_INTROSPECT_PATH "/")) == 0) {
                _cleanup_json_ json_object *args = json_object_new_object();

                ns = uri + strlen(HTTP_INTROSPECT_PATH "/");
                if (!mbus_namespace_is_valid(ns)) {
                        ws_http_refuse(c, wsi, 400, "org.mbus.Error.InvalidArgs", "not a valid namespace");
                        return 1;
                }
                if (!args || json_object_object_add(args, "namespace", json_object_new_string(ns)) < 0 ||
                    ws_http_broker_call(c, "Introspect", args) < 0)
                        return -ENOMEM;
        } else
                return 0;
        ws_http_start(c, wsi);
        return 1;
}

/* A request reached a mount of ours: POST /v1/call/NS/PROCEDURE, or one of ws_http_get()'s. */
static int ws_http_request(struct ws_conn *c, struct lws *wsi) {
        char uri[600] = "";
        const char *rest, *slash;
        bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        int r;

        if (lws_hdr_copy(wsi, uri, sizeof(uri), post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI) < 0)
                return lws_return_http_status(wsi, HTTP_STATUS_REQ_URI_TOO_LONG, NULL) ? -1 :
                       lws_http_transaction_completed(wsi);
        if (!post) {
                r = ws_http_get(c, wsi, uri);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        rest = strncmp(uri, HTTP_CALL_PATH "/", strlen(HTTP_CALL_PATH "/")) == 0 ? uri + strlen(HTTP_CALL_PATH "/") :
                                                                                   NULL;
        slash = rest ? strchr(rest, '/') : NULL;
        if (!slash)
                return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 :
                       lws_http_transaction_completed(wsi);
        if (!post)
                return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 :
                       lws_http_transaction_completed(wsi);
        (void) snprintf(c->http_ns, sizeof(c->http_ns), "%.*s", (int) (slash - rest), rest);
        (void) snprintf(c->http_member, sizeof(c->http_member), "%s", slash + 1);
        c->http_body_len = 0;
        {
                char t[32];
                const char *v = lws_get_urlarg_by_name(wsi, "timeout=", t, sizeof(t));
                unsigned long long ms;

                c->http_timeout_usec = 0;
                if (v && sscanf(v, "%llu", &ms) == 1)
                        c->http_timeout_usec = ms > UINT64_MAX / 1000 ? UINT64_MAX : ms * 1000;
        }
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 &&
            lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0) {
                ws_http_start(c, wsi);  /* no body: no LWS_CALLBACK_HTTP_BODY_COMPLETION either */
                return 0;
        }
        return 0;       /* the body follows: LWS_CALLBACK_HTTP_BODY, then _COMPLETION */
}

static int ws_http_body(struct ws_conn *c, struct lws *wsi, const void *in, size_t len) {
        size_t limit = c->ws->broker->options->max_frame_size;
        char *p;

        if (c->http_status || len > limit - MIN(c->http_body_len, limit)) {
                if (!c->http_status)
                        ws_http_refuse(c, wsi, 413, "org.mbus.Error.LimitsExceeded",
                                       "the request body is larger than the frame size limit");
                return 0;
        }
        p = realloc(c->http_body, c->http_body_len + len + 1);
        if (!p)
                return -ENOMEM;
        c->http_body = p;
        memcpy(c->http_body + c->http_body_len, in, len);
        c->http_body_len += len;
        c->http_body[c->http_body_len] = 0;
        return 0;
}

/* Writes the status line and headers of a response of len bytes (LWS_ILLEGAL_HTTP_CONTENT_LEN:
 * until the connection closes) into buf (LWS_PRE + head bytes). Returns 0 or -1 to close. */
static int ws_http_write_headers(struct lws *wsi, int status, const char *type, lws_filepos_t len, uint8_t *buf,
                                 size_t head) {
        uint8_t *p = buf + LWS_PRE, *end = p + head - 1;

        if (lws_add_http_common_headers(wsi, (unsigned) status, type, len, &p, end) ||
            (len == LWS_ILLEGAL_HTTP_CONTENT_LEN &&
             lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *) "no-cache", 8,
                                          &p, end)) ||
            lws_finalize_write_http_header(wsi, buf + LWS_PRE, &p, end))
                return -1;
        return 0;
}

/*
 * An event reader's response: the refusal once SUBSCRIBE is refused, else the headers and
 * then one record per writability. Returns -1 to close (the response's end).
 */
static int ws_sse_write(struct ws_conn *c, struct lws *wsi) {
        _cleanup_free_ uint8_t *chunk = NULL, *head = NULL;
        const char *error = NULL;
        size_t len = 0;
        int r, status;

        r = mbus_sse_next(c->sse, LWS_PRE, &chunk, &len);
        if (r < 0 && r != -ECONNRESET)
                return -1;
        status = mbus_sse_status(c->sse, &error);
        if (!c->sse_streaming && status == 0)
                return 0;
        if (!c->sse_streaming && status != 200) {
                /* Refused: the error as for a call, and this connection is done. */
                len = strlen(error);
                head = malloc(LWS_PRE + 1024 + len);
                if (!head || ws_http_write_headers(wsi, status, "application/json", len, head, 1024) < 0)
                        return -1;
                memcpy(head + LWS_PRE, error, len);
                (void) lws_write(wsi, head + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
                return -1;
        }
        if (!c->sse_streaming) {
                head = malloc(LWS_PRE + 1024);
                if (!head || ws_http_write_headers(wsi, 200, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN, head,
                                                   1024) < 0)
                        return -1;
                c->sse_streaming = true;
                /* A stream may wait long for its next event: no libwebsockets timeout ends it
                 * (the keep-alive's pings of its peer are the liveness check). */
                lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        }
        if (r == -ECONNRESET)
                return -1;
        if (r > 0 && lws_write(wsi, chunk + LWS_PRE, len, LWS_WRITE_HTTP) < (int) len)
                return -1;
        if (r > 0)
                lws_callback_on_writable(wsi);  /* more may wait; the next call finds out */
        return 0;
}

/* Writes the answer, if there is one yet. Returns -1 to close. */
static int ws_http_respond(struct ws_conn *c, struct lws *wsi) {
        _cleanup_free_ char *metrics = NULL, *refusal = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        const char *body = NULL, *error = NULL, *type = "application/json";
        int status = c->http_status;
        size_t len, head = 1024;

        if (!status && c->http)
                status = mbus_http_call_result(c->http, &body, &error);
        if (!status)
                return 0;
        if (c->http_status) {
                _cleanup_json_ json_object *o = json_object_new_object();

                if (!o || json_object_object_add(o, "error", json_object_new_string(c->http_error)) < 0 ||
                    json_object_object_add(o, "message", json_object_new_string(c->http_message)) < 0)
                        return -1;
                refusal = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                if (!refusal)
                        return -1;
                body = refusal;
        } else if (c->http_metrics && status == 200) {
                if (mbus_http_metrics_format(body, &metrics) < 0)
                        return -1;
                body = metrics;
                type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        }
        len = strlen(body);
        buf = malloc(LWS_PRE + head + len);
        if (!buf)
                return -1;
        if (ws_http_write_headers(wsi, status, type, len, buf, head) < 0)
                return -1;
        memcpy(buf + LWS_PRE, body, len);
        if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < (int) len)
                return -1;

        /* Ready for the next request on this connection. */
        c->http = mbus_http_call_free(c->http);
        free(c->http_body);
        c->http_body = NULL;
        c->http_body_len = 0;
        c->http_status = 0;
        c->http_metrics = false;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
        struct ws_conn *c;
        int r = 0;

        if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
                return ws_tls_setup(wsi, user);
        /* Asked for each certificate of a client's chain, with OpenSSL's verdict in len: keep
         * it. (libwebsockets would take the default answer, 0, as "verified", and let an
         * expired or revoked certificate in.) */
        if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION)
                return len ? 0 : 1;
        c = wsi ? lws_get_opaque_user_data(wsi) : NULL;

        switch (reason) {
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
                return c ? ws_filter(c, wsi) : -1;
        case LWS_CALLBACK_ESTABLISHED:
                if (!c)
                        return -1;
                r = ws_established(c, wsi);
                if (r < 0) {
                        if (r != -ENOBUFS)
                                (void) mbus_log(LOG_WARNING, r, NULL, "Failed to set up a WebSocket peer: %s",
                                                strerror(-r));
                        return -1;
                }
                break;
        case LWS_CALLBACK_RECEIVE:
                if (c)
                        r = ws_receive(c, wsi, in, len);
                break;
        case LWS_CALLBACK_SERVER_WRITEABLE:
                if (c)
                        r = ws_writeable(c, wsi);
                break;
        case LWS_CALLBACK_HTTP:
                /* Only the call mounts come here; files are libwebsockets' own. */
                if (!c)
                        return -1;
                r = ws_http_request(c, wsi);
                break;
        case LWS_CALLBACK_HTTP_BODY:
                if (c)
                        r = ws_http_body(c, wsi, in, len);
                break;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
                if (c && !c->http_status)
                        ws_http_start(c, wsi);
                break;
        case LWS_CALLBACK_HTTP_WRITEABLE:
                if (c && c->sse && !c->http_status)
                        r = ws_sse_write(c, wsi);
                else if (c)
                        r = ws_http_respond(c, wsi);
                break;
        case LWS_CALLBACK_WSI_DESTROY:
                if (c) {
                        lws_set_opaque_user_data(wsi, NULL);
                        c->wsi = NULL;
                        ws_conn_free(c);
                }
                return 0;
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
        if (c)
                ws_conn_update_events(c);
        return r < 0 ? -1 : 0;
}

static const struct lws_protocols ws_protocols[] = {
        { .name = WS_PROTOCOL, .callback = ws_callback, .rx_buffer_size = 64 * 1024 },
        { NULL },
};

void mbus_ws_adopt(struct mbus_ws *ws, int fd, struct mbus_creds *creds, bool tls) {
        struct ws_tls_vhost *tv = tls ? ws->tls_vhosts : NULL;
        struct lws_vhost *vh = tls ? (tv ? tv->vhost : NULL) : ws->vhost;
        struct ws_conn *c;
        struct lws *wsi;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c || !vh) {
                free(c);
                safe_close(fd);
                return;
        }
        c->ws = ws;
        c->fd = fd;
        c->tls = tls;
        c->tls_vhost = tv;
        if (tv)
                tv->n_conns++;
        mbus_creds_move(&c->creds, creds);

        r = sd_event_add_io(ws->broker->event, &c->io_source, fd, EPOLLIN, ws_on_io, c);
        if (r < 0) {
                safe_close(fd);
                ws_conn_free(c);
                return;
        }
        c->io_events = EPOLLIN;
        (void) sd_event_source_set_description(c->io_source, tls ? "wss" : "ws");

        wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (tls ? LWS_ADOPT_ALLOW_SSL : 0),
                                         (lws_sock_file_fd_type) { .sockfd = fd }, NULL, NULL);
        if (!wsi) {
                /* libwebsockets closed the socket on failure. */
                (void) mbus_log(LOG_WARNING, -ENOMEM, NULL, "Failed to take a WebSocket connection");
                ws_conn_free(c);
                return;
        }
        c->wsi = wsi;
        lws_set_opaque_user_data(wsi, c);
}

static void ws_log_emit(int level, const char *line) {
        (void) mbus_log(level & LLL_ERR ? LOG_ERR : LOG_DEBUG, 0, NULL, "libwebsockets: %.*s",
                        (int) strcspn(line, "\n"), line);
}

/* The settings every vhost of ours shares: adopted sockets only, our protocol and mounts. */
static void ws_vhost_info(struct mbus_ws *ws, struct lws_context_creation_info *info) {
        *info = (struct lws_context_creation_info) {
                /* A server vhost without a listening socket of its own: we adopt each connection.
                 * With CONTEXT_PORT_NO_LISTEN libwebsockets would take the vhost for a client one
                 * and never start TLS on it, so wss:// would speak plain HTTP. */
                .port = CONTEXT_PORT_NO_LISTEN_SERVER,
                .protocols = ws_protocols,
                .options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT,
                .user = ws,
                .gid = (gid_t) -1,
                .uid = (uid_t) -1,
                .mounts = &ws->mounts[0],
                .vhost_name = "ws",
                .alpn = "http/1.1",     /* WebSocket over HTTP/2 would be one socket for many peers */
        };
}

/*
 * Makes a wss vhost from the broker's current --tls-* files and puts it first: new wss
 * connections get it. Returns 0 or -ENOMEM (libwebsockets does not say more; the files were
 * checked by whoever set them).
 */
static int ws_tls_vhost_add(struct mbus_ws *ws) {
        const struct mbus_options *o = ws->broker->options;
        struct lws_context_creation_info info;
        struct ws_tls_vhost *v;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        ws->n_tls_vhosts_made++;
        (void) snprintf(v->name, sizeof(v->name), ws->n_tls_vhosts_made == 1 ? "wss" : "wss-%u",
                        ws->n_tls_vhosts_made);
        ws_vhost_info(ws, &info);
        info.vhost_name = v->name;
        info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key ?: o->tls_cert;
        info.ssl_ca_filepath = o->tls_ca;
        v->vhost = lws_create_vhost(ws->context, &info);
        if (!v->vhost) {
                free(v);
                return -ENOMEM;
        }
        v->next = ws->tls_vhosts;
        ws->tls_vhosts = v;
        return 0;
}

int mbus_ws_reload_tls(struct mbus_ws *ws) {
        const struct mbus_options *o = ws->broker->options;
        struct ws_tls_vhost *old = ws->tls_vhosts;
        int r;

        if (!o->tls_cert || !o->tls_ca)
                return 0;
        r = ws_tls_vhost_add(ws);
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "wss: cannot make a TLS context with the reloaded certificates, "
                                "new connections keep the previous ones");
        if (old)
                old->retired = true;
        ws_tls_reap(ws);
        return 0;
}

int mbus_ws_new(struct mbus_ws **ret, struct mbus_broker *b) {
        struct lws_context_creation_info info = {};
        const struct mbus_options *o = b->options;
        struct mbus_ws *ws;
        int r;

        ws = calloc(1, sizeof(*ws));
        if (!ws)
                return -ENOMEM;
        ws->broker = b;

        lws_set_log_level(LLL_ERR, ws_log_emit);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = ws_protocols;
        info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.user = ws;
        info.gid = (gid_t) -1;
        info.uid = (uid_t) -1;
        ws->context = lws_create_context(&info);
        if (!ws->context) {
                free(ws);
                return -ENOMEM;
        }

        ws->http_root = strdup(o->http_root ?: MBUS_WWW_DIR);
        if (!ws->http_root) {
                mbus_ws_free(ws);
                return -ENOMEM;
        }
        ws->mount = (struct lws_http_mount) {
                .mountpoint = "/",
                .mountpoint_len = 1,
                .origin = ws->http_root,
                .def = "index.html",
                .origin_protocol = LWSMPRO_FILE,
        };
        for (size_t i = 0; i < ELEMENTSOF(ws->mounts); i++) {
                static const char *const paths[ELEMENTSOF(ws->mounts)] = {
                        HTTP_CALL_PATH, HTTP_METRICS_PATH, HTTP_NAMESPACES_PATH, HTTP_INTROSPECT_PATH, HTTP_EVENTS_PATH,
                };

                ws->mounts[i] = (struct lws_http_mount) {
                        .mount_next = i + 1 < ELEMENTSOF(ws->mounts) ? &ws->mounts[i + 1] : &ws->mount,
                        .mountpoint = paths[i],
                        .mountpoint_len = (unsigned char) strlen(paths[i]),
                        .origin = WS_PROTOCOL,
                        .origin_protocol = LWSMPRO_CALLBACK,
                };
        }
        ws_vhost_info(ws, &info);
        ws->vhost = lws_create_vhost(ws->context, &info);
        if (!ws->vhost || (o->tls_cert && o->tls_ca && ws_tls_vhost_add(ws) < 0)) {
                mbus_ws_free(ws);
                return -ENOMEM;
        }

        r = sd_event_add_time_relative(b->event, &ws->timer, CLOCK_MONOTONIC, WS_TIMER_USEC, 100 * USEC_PER_MSEC,
                                       ws_on_timer, ws);
        if (r >= 0)
                r = sd_event_source_set_enabled(ws->timer, SD_EVENT_ON);
        if (r < 0) {
                mbus_ws_free(ws);
                return r;
        }
        *ret = ws;
        return 0;
}

struct mbus_ws *mbus_ws_free(struct mbus_ws *ws) {
        if (!ws)
                return NULL;
        sd_event_source_disable_unref(ws->timer);
        if (ws->context)
                lws_context_destroy(ws->context);      /* destroys every wsi: WSI_DESTROY frees its conn */
        while (ws->tls_vhosts) {
                struct ws_tls_vhost *v = ws->tls_vhosts;

                ws->tls_vhosts = v->next;
                free(v);
        }
        free(ws->http_root);
        free(ws);
        return NULL;
}
