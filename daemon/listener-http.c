/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HTTP calls (listener-http.h). The short-lived peer sits on a message link, as a WebSocket
 * peer does: we push its HELLO and CALL as frames, and read what the broker writes back
 * (WELCOME, then the one RETURN or ERROR for our CALL; a PING of the keep-alive is possible
 * and ignored). The peer is condemned as soon as the answer is in; if the broker drops it
 * first (a protocol error, shutdown), the answer is the error it sent, or a 503.
 *
 * GET /metrics wants every namespace's counters, and GetStats gives them a page at a time (a
 * reply fits a frame): its call asks for the next page, from a defer source (not from within
 * the broker's write to the link), until "next" is null, and answers with the pages merged.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include "broker.h"
#include "listener-http.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"

#define HTTP_HELLO_SERIAL 1
#define HTTP_CALL_SERIAL 2
/* GetStats entries asked for per page: the procedure's largest page. */
#define HTTP_STATS_PAGE_LIMIT 1000

struct mbus_http_call {
        struct mbus_broker *broker;             /* borrowed */
        struct mbus_message_link *link;
        struct mbus_peer *peer;                 /* borrowed; NULL once condemned or gone */
        void (*done)(void *userdata);
        void *userdata;
        int status;                             /* 0 while pending */
        char *body;
        char *error;
        uint64_t serial;                        /* of the CALL whose answer is awaited */
        bool stats_pages;                       /* GetStats, every page (mbus_http_stats_call_new()) */
        json_object *stats;                     /* the pages so far, merged; owned */
        char *after;                            /* the cursor of the next page, owned */
        sd_event_source *next_page;             /* owned: a defer source that asks for it */
};

int mbus_http_status_of_error(const char *name) {
        static const struct {
                const char *name;
                int status;
        } table[] = {
                { "org.mbus.Error.NoSuchNamespace", 404 },
                { "org.mbus.Error.UnknownProcedure", 404 },
                { "org.mbus.Error.NoSuchPeer", 404 },
                { "org.mbus.Error.AccessDenied", 403 },
                { "org.mbus.Error.InvalidArgs", 400 },
                { "org.mbus.Error.ProtocolError", 400 },
                { "org.mbus.Error.Timeout", 504 },
                { "org.mbus.Error.OwnerDisconnected", 503 },
                { "org.mbus.Error.LimitsExceeded", 503 },
                { "org.mbus.Error.Disconnected", 503 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (name && strcmp(table[i].name, name) == 0)
                        return table[i].status;
        return 500;     /* org.mbus.Error.Failed and the services' own errors */
}

/* Sets the answer (once) and tells the owner; the peer has served its purpose. */
static void http_call_answer(struct mbus_http_call *call, int status, const char *body, const char *error) {
        if (call->status != 0)
                return;
        call->status = status;
        call->body = strdup(body);
        call->error = error ? strdup(error) : NULL;
        if (call->peer) {
                mbus_broker_condemn_peer(call->broker, call->peer, -ECONNRESET);
                call->peer = NULL;
        }
        if (call->done)
                call->done(call->userdata);
}

char *mbus_http_error_body(const char *name, const char *message) {
        _cleanup_json_ json_object *o = json_object_new_object();

        if (!o || json_object_object_add(o, "error", json_object_new_string(name)) < 0 ||
            json_object_object_add(o, "message", json_object_new_string(message ?: "")) < 0)
                return NULL;
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void http_call_answer_error(struct mbus_http_call *call, const char *name, const char *message) {
        _cleanup_free_ char *text = mbus_http_error_body(name, message);

        http_call_answer(call, mbus_http_status_of_error(name),
                         text ?: "{\"error\":\"org.mbus.Error.Failed\",\"message\":\"out of memory\"}", name);
}

/*
 * One page of GetStats: merged into call->stats; then the next one is asked for, or the whole
 * is the answer. Each page is a snapshot of its moment: the totals are the first page's.
 */
static void http_stats_on_page(struct mbus_http_call *call, const struct mbus_frame *f) {
        _cleanup_json_ json_object *page = NULL;
        json_object *next, *from, *into;
        const char *cursor;

        if (json_parse_bytes((const char *) f->body, f->body_len, &page) < 0 ||
            !json_object_is_type(page, json_type_object) ||
            !json_object_object_get_ex(page, "per_namespace", &from) || !json_object_is_type(from, json_type_object)) {
                http_call_answer_error(call, "org.mbus.Error.Failed", "GetStats answered what is not a page");
                return;
        }
        if (!call->stats)
                call->stats = json_object_get(page);
        else if (json_object_object_get_ex(call->stats, "per_namespace", &into)) {
                json_object_object_foreach(from, name, counters) {
                        if (json_object_object_add(into, name, json_object_get(counters)) < 0) {
                                http_call_answer_error(call, "org.mbus.Error.Failed", "out of memory");
                                return;
                        }
                }
        }

        /* A cursor that does not advance would ask for the same page for ever. */
        cursor = json_object_object_get_ex(page, "next", &next) && json_object_is_type(next, json_type_string) ?
                 json_object_get_string(next) : NULL;
        if (cursor && (!call->after || strcmp(cursor, call->after) > 0)) {
                free(call->after);
                call->after = strdup(cursor);
                if (!call->after || sd_event_source_set_enabled(call->next_page, SD_EVENT_ONESHOT) < 0)
                        http_call_answer_error(call, "org.mbus.Error.Failed", "out of memory");
                return;
        }
        json_object_object_del(call->stats, "next");
        http_call_answer(call, 200, json_object_to_json_string_ext(call->stats, JSON_C_TO_STRING_PLAIN), NULL);
}

/* One frame the broker wrote to our peer. */
static void http_call_on_frame(struct mbus_http_call *call, const struct mbus_frame *f) {
        _cleanup_json_ json_object *body = NULL;

        if (f->type == MBUS_FRAME_RETURN && f->f.reply_serial == call->serial) {
                if (call->stats_pages)
                        http_stats_on_page(call, f);
                else
                        http_call_answer(call, 200, f->body_len > 0 ? (const char *) f->body : "{}", NULL);
                return;
        }
        /* Our CALL's error, or a protocol error (reply_serial 0) before the broker drops us. */
        if (f->type == MBUS_FRAME_ERROR && (f->f.reply_serial == call->serial || f->f.reply_serial == 0)) {
                (void) json_parse_bytes((const char *) f->body, f->body_len, &body);
                http_call_answer_error(call, f->f.error_name, body ? json_get_string(body, "message") : NULL);
        }
}

static void http_call_on_output(void *userdata) {
        struct mbus_http_call *call = userdata;

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
                _cleanup_free_ uint8_t *msg = NULL;
                size_t len = 0;
                bool text = false;

                if (mbus_message_link_pop(call->link, 0, &msg, &len, &text) <= 0)
                        break;
                if (mbus_frame_parse(&f, msg, len, SIZE_MAX, NULL) >= 0)
                        http_call_on_frame(call, f);
        }
        if (call->link->stream_gone) {
                call->peer = NULL;
                http_call_answer_error(call, "org.mbus.Error.Disconnected", "the broker dropped the HTTP caller");
        }
}

int mbus_http_link_push_frame(struct mbus_message_link *link, enum mbus_frame_type type,
                              const struct mbus_frame_fields *fields, const char *body, size_t len) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        int r;

        r = mbus_frame_new(&f, type, fields, body, len);
        if (r < 0)
                return r;
        bytes = malloc(mbus_frame_size(f));
        if (!bytes)
                return -ENOMEM;
        memcpy(bytes, f->head, f->head_len);
        if (f->body_len > 0)
                memcpy(bytes + f->head_len, f->body, f->body_len);
        /* The stream applies the peer's limits when it reads; the link only needs whole frames. */
        return mbus_message_link_push(link, bytes, mbus_frame_size(f), /* text= */ false, SIZE_MAX, NULL);
}

/* Asks for the page after call->after, the broker's dispatch being over. */
static int http_stats_on_next_page(sd_event_source *s, void *userdata) {
        struct mbus_http_call *call = userdata;
        _cleanup_json_ json_object *args = json_object_new_object();
        const char *text;

        if (call->status != 0 || !call->peer)
                return 0;
        if (!args || json_object_object_add(args, "after", json_object_new_string(call->after)) < 0 ||
            json_object_object_add(args, "limit", json_object_new_int(HTTP_STATS_PAGE_LIMIT)) < 0) {
                http_call_answer_error(call, "org.mbus.Error.Failed", "out of memory");
                return 0;
        }
        text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
        if (mbus_http_link_push_frame(call->link, MBUS_FRAME_CALL,
                                      &(struct mbus_frame_fields) {
                                              .serial = ++call->serial, .namespace = "org.mbus.Broker",
                                              .member = "GetStats" },
                                      text, strlen(text)) < 0) {
                http_call_answer_error(call, "org.mbus.Error.Failed", "out of memory");
                return 0;
        }
        mbus_peer_dispatch_io(call->peer, EPOLLIN);     /* may answer, and drop the peer */
        return 0;
}

static int http_call_start(struct mbus_http_call **ret, struct mbus_broker *b, struct mbus_creds *creds,
                           const char *ns, const char *member, const char *body, size_t len, uint64_t timeout_usec,
                           bool stats_pages, void (*done)(void *userdata), void *userdata) {
        static const char hello[] = "{\"name\":\"http\"}";
        struct mbus_http_call *call;
        struct mbus_peer *peer;
        int r;

        if (!mbus_namespace_is_valid(ns) || !mbus_member_is_valid(member))
                return -EINVAL;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        call->broker = b;
        call->serial = HTTP_CALL_SERIAL;
        call->stats_pages = stats_pages;
        r = mbus_message_link_new(&call->link, /* out_max= */ 0);
        if (r < 0) {
                free(call);
                return r;
        }
        call->link->on_output = http_call_on_output;
        call->link->userdata = call;
        if (stats_pages) {
                r = sd_event_add_defer(b->event, &call->next_page, http_stats_on_next_page, call);
                if (r >= 0)
                        r = sd_event_source_set_enabled(call->next_page, SD_EVENT_OFF);
                if (r < 0) {
                        mbus_http_call_free(call);
                        return r;
                }
                (void) sd_event_source_set_description(call->next_page, "http-stats-page");
        }

        r = mbus_http_link_push_frame(call->link, MBUS_FRAME_HELLO,
                                      &(struct mbus_frame_fields) { .serial = HTTP_HELLO_SERIAL }, hello, strlen(hello));
        if (r >= 0)
                r = mbus_http_link_push_frame(call->link, MBUS_FRAME_CALL,
                                              &(struct mbus_frame_fields) {
                                                      .serial = HTTP_CALL_SERIAL, .namespace = ns, .member = member,
                                                      .timeout_usec = timeout_usec },
                                              body, len);
        if (r >= 0)
                r = mbus_broker_accept_message(b, call->link, creds, &peer);
        if (r < 0) {
                mbus_http_call_free(call);
                return r;
        }
        call->peer = peer;
        call->done = done;
        call->userdata = userdata;
        *ret = call;
        /* The broker answers its own procedures at once: done may run in here. */
        mbus_peer_dispatch_io(peer, EPOLLIN);
        return 0;
}

int mbus_http_call_new(struct mbus_http_call **ret, struct mbus_broker *b, struct mbus_creds *creds,
                       const char *ns, const char *member, const char *body, size_t len, uint64_t timeout_usec,
                       void (*done)(void *userdata), void *userdata) {
        return http_call_start(ret, b, creds, ns, member, body, len, timeout_usec, /* stats_pages= */ false, done,
                               userdata);
}

int mbus_http_stats_call_new(struct mbus_http_call **ret, struct mbus_broker *b, struct mbus_creds *creds,
                             void (*done)(void *userdata), void *userdata) {
        char args[64];

        (void) snprintf(args, sizeof(args), "{\"limit\":%d}", HTTP_STATS_PAGE_LIMIT);
        return http_call_start(ret, b, creds, "org.mbus.Broker", "GetStats", args, strlen(args),
                               /* timeout_usec= */ 0, /* stats_pages= */ true, done, userdata);
}

struct mbus_http_call *mbus_http_call_free(struct mbus_http_call *call) {
        if (!call)
                return NULL;
        call->done = NULL;
        if (call->peer)
                mbus_broker_condemn_peer(call->broker, call->peer, -ECONNRESET);
        if (call->link) {
                call->link->eof = true;
                call->link->on_output = NULL;
        }
        mbus_message_link_unref(call->link);
        sd_event_source_disable_unref(call->next_page);
        json_object_put(call->stats);
        free(call->after);
        free(call->body);
        free(call->error);
        free(call);
        return NULL;
}

int mbus_http_call_result(const struct mbus_http_call *call, const char **ret_body, const char **ret_error) {
        if (ret_body)
                *ret_body = call->body ?: "";
        if (ret_error)
                *ret_error = call->error;
        return call->status;
}

/* GetStats keys that only grow; the rest are gauges. */
static bool http_metrics_is_counter(const char *key) {
        static const char *const counters[] = { "calls_routed", "events_delivered", "events_dropped", "bytes_in",
                                                "bytes_out", "peers_accepted" };

        for (size_t i = 0; i < ELEMENTSOF(counters); i++)
                if (strcmp(counters[i], key) == 0)
                        return true;
        return false;
}

/*
 * GetStats' per_namespace as three counter families with a namespace label, one sample per
 * namespace that exists (so the label's values are bounded by the bus, not by callers).
 * Namespace names are letters, digits, '.', '_' and '-': nothing to escape in a label value.
 */
static void http_metrics_per_namespace(FILE *f, json_object *per_namespace) {
        static const struct {
                const char *key, *help;
        } families[] = {
                { "calls", "CALLs addressed to the namespace" },
                { "errors", "CALLs to the namespace answered with an ERROR" },
                { "events", "EVENTs emitted in the namespace" },
        };

        if (!json_object_is_type(per_namespace, json_type_object))
                return;
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                fprintf(f, "# TYPE mbus_namespace_%s counter\n", families[i].key);
                fprintf(f, "# HELP mbus_namespace_%s %s\n", families[i].key, families[i].help);
                json_object_object_foreach(per_namespace, ns, counters) {
                        json_object *v;

                        if (!mbus_namespace_is_valid(ns) || !json_object_object_get_ex(counters, families[i].key, &v))
                                continue;
                        fprintf(f, "mbus_namespace_%s_total{namespace=\"%s\"} %" PRId64 "\n", families[i].key, ns,
                                json_object_get_int64(v));
                }
        }
}

int mbus_http_metrics_format(const char *stats_json, char **ret) {
        _cleanup_json_ json_object *o = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (json_parse_bytes(stats_json, strlen(stats_json), &o) < 0 || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        json_object_object_foreach(o, key, value) {
                bool counter = http_metrics_is_counter(key);

                if (strcmp(key, "per_namespace") == 0) {
                        http_metrics_per_namespace(f, value);
                        continue;
                }
                if (!json_object_is_type(value, json_type_int) && !json_object_is_type(value, json_type_double))
                        continue;
                fprintf(f, "# TYPE mbus_%s %s\n", key, counter ? "counter" : "gauge");
                fprintf(f, "mbus_%s%s %s\n", key, counter ? "_total" : "",
                        json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
        }
        fputs("# EOF\n", f);
        if (fclose(f) != 0 || !text) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}
