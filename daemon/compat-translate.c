/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The translator of a compat connection: original mBus frames (JSON objects with the long
 * org.mbus.method.tag.* keys) to mbus frames for the broker, and mbus frames back. It keeps no
 * routing of its own: every command, event and subscription becomes the native frame that
 * does the same (mbus-compat(7), MAPPING), and what comes back is matched by serial to what it
 * answers (struct compat_pending). What only the original has lives here: the identifier's
 * commands (declared to the broker in REGISTER's body), the subscriptions as written, the
 * sequence numbers the original client expects, and the server events about original
 * clients (through the hub, compat.c).
 *
 * Every original command gets exactly one result, as every CALL gets exactly one reply: from
 * the native answer it waits for, or at once when the translator can tell (a malformed
 * argument, a name that cannot be escaped).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat-internal.h"
#include "compat-names.h"
#include "mbus/mbus-errors.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"

#define COMPAT_BROKER_NS "org.mbus.Broker"
#define COMPAT_OWNER_CHANGED "NamespaceOwnerChanged"
#define COMPAT_CALL_TIMEOUT_DEFAULT_USEC (25 * USEC_PER_SEC)

/* --- small helpers ---------------------------------------------------------------------------- */

static void compat_pending_free(struct compat_pending *p) {
        if (!p)
                return;
        free(p->name);
        free(p->event);
        free(p->body);
        free(p);
}

static void compat_subscription_free(struct compat_subscription *s) {
        if (!s)
                return;
        free(s->source);
        free(s->event);
        free(s->pattern);
        free(s);
}

static void compat_command_free(struct compat_command *c) {
        if (!c)
                return;
        free(c->name);
        free(c->member);
        free(c);
}

void mbus_compat_conn_init(struct mbus_compat_conn *conn, size_t max_frame) {
        conn->fd = -EBADF;
        conn->max_frame = max_frame;
        conn->state = COMPAT_CREATE_WAIT;
        conn->next_serial = 1;
        conn->next_call_sequence = COMPAT_SEQUENCE_START;
        conn->event_sequence = COMPAT_SEQUENCE_START;
        conn->create_sequence = -1;
}

void mbus_compat_conn_done(struct mbus_compat_conn *conn) {
        if (conn->tok) {
                json_tokener_free(conn->tok);
                conn->tok = NULL;
        }
        while (conn->pending) {
                struct compat_pending *p = conn->pending;

                conn->pending = p->next;
                compat_pending_free(p);
        }
        while (conn->calls) {
                struct compat_call *c = conn->calls;

                conn->calls = c->next;
                free(c);
        }
        while (conn->subscriptions) {
                struct compat_subscription *s = conn->subscriptions;

                conn->subscriptions = s->next;
                compat_subscription_free(s);
        }
        while (conn->commands) {
                struct compat_command *c = conn->commands;

                conn->commands = c->next;
                compat_command_free(c);
        }
        free(conn->identifier);
        free(conn->ns);
        conn->identifier = conn->ns = NULL;
}

static struct compat_pending *compat_pending_add(struct mbus_compat_conn *conn, uint64_t serial,
                                                 enum compat_pending_kind kind, int sequence) {
        struct compat_pending *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->serial = serial;
        p->kind = kind;
        p->sequence = sequence;
        p->next = conn->pending;
        conn->pending = p;
        return p;
}

/* Takes the entry answered by serial off the list; NULL if none. */
static struct compat_pending *compat_pending_take(struct mbus_compat_conn *conn, uint64_t serial) {
        for (struct compat_pending **p = &conn->pending; *p; p = &(*p)->next)
                if ((*p)->serial == serial) {
                        struct compat_pending *found = *p;

                        *p = found->next;
                        found->next = NULL;
                        return found;
                }
        return NULL;
}

static struct compat_pending *compat_pending_find_ack(struct mbus_compat_conn *conn, uint64_t ack_serial) {
        for (struct compat_pending *p = conn->pending; p; p = p->next)
                if (p->kind == COMPAT_PENDING_EVENT_ACK && p->serial == ack_serial)
                        return p;
        return NULL;
}

/* Builds a native frame and pushes it into the link. Returns its serial, or 0 on failure. */
static uint64_t compat_push(struct mbus_compat_conn *conn, enum mbus_frame_type type,
                            struct mbus_frame_fields *fields, const char *body, size_t body_len) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;
        uint64_t serial = 0;

        if (type != MBUS_FRAME_RETURN && type != MBUS_FRAME_ERROR && type != MBUS_FRAME_PONG)
                serial = fields->serial = conn->next_serial++;
        if (mbus_frame_new(&f, type, fields, body, body_len) < 0)
                return 0;
        if (mbus_compat_conn_push(conn, f) < 0)
                return 0;
        return serial ?: 1;
}

static uint64_t compat_push_json(struct mbus_compat_conn *conn, enum mbus_frame_type type,
                                 struct mbus_frame_fields *fields, json_object *body) {
        const char *s = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

        return compat_push(conn, type, fields, s, s ? strlen(s) : 0);
}

/* A call of one of org.mbus.Broker's procedures, answered into a pending entry of kind. */
static struct compat_pending *compat_call_broker(struct mbus_compat_conn *conn, const char *member,
                                                 json_object *args, enum compat_pending_kind kind, int sequence) {
        struct mbus_frame_fields f = { .namespace = COMPAT_BROKER_NS, .member = member };
        uint64_t serial = compat_push_json(conn, MBUS_FRAME_CALL, &f, args);

        return serial ? compat_pending_add(conn, serial, kind, sequence) : NULL;
}

static json_object *compat_new_method(const char *type, int sequence) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        (void) json_object_object_add(o, COMPAT_TAG_TYPE, json_object_new_string(type));
        (void) json_object_object_add(o, COMPAT_TAG_SEQUENCE, json_object_new_int(sequence));
        return o;
}

/* Answers the original command of sequence with status and payload (taken; NULL: {}). */
static int compat_send_result(struct mbus_compat_conn *conn, int sequence, int status, json_object *payload,
                              bool never_zlib) {
        _cleanup_json_ json_object *o = compat_new_method(COMPAT_TYPE_RESULT, sequence);

        if (!o) {
                json_object_put(payload);
                return -ENOMEM;
        }
        (void) json_object_object_add(o, COMPAT_TAG_PAYLOAD, payload ?: json_object_new_object());
        (void) json_object_object_add(o, COMPAT_TAG_STATUS, json_object_new_int(status));
        return mbus_compat_conn_send_json(conn, o, never_zlib);
}

static int compat_send_status(struct mbus_compat_conn *conn, int sequence, int status) {
        return sequence < 0 ? 0 : compat_send_result(conn, sequence, status, NULL, false);
}

/* Sends an event or a command (type) from source to the client; payload is borrowed. */
static int compat_send_method(struct mbus_compat_conn *conn, const char *type, const char *source,
                              const char *identifier, int sequence, json_object *payload) {
        _cleanup_json_ json_object *o = compat_new_method(type, sequence);

        if (!o)
                return -ENOMEM;
        (void) json_object_object_add(o, COMPAT_TAG_SOURCE, json_object_new_string(source));
        (void) json_object_object_add(o, COMPAT_TAG_IDENTIFIER, json_object_new_string(identifier));
        (void) json_object_object_add(o, COMPAT_TAG_PAYLOAD,
                                      payload ? json_object_get(payload) : json_object_new_object());
        return mbus_compat_conn_send_json(conn, o, false);
}

static int compat_send_event(struct mbus_compat_conn *conn, const char *source, const char *identifier,
                             json_object *payload) {
        int seq = conn->event_sequence;

        conn->event_sequence = seq + 1 >= COMPAT_SEQUENCE_END ? COMPAT_SEQUENCE_START : seq + 1;
        return compat_send_method(conn, COMPAT_TYPE_EVENT, source, identifier, seq, payload);
}

/* The body of a native frame as a JSON value for a payload: {} when empty, NULL if not JSON. */
static int compat_body_json(struct mbus_compat_conn *conn, const struct mbus_frame *frame, json_object **ret) {
        json_object *o = NULL;
        int r;

        if (frame->body_len == 0) {
                *ret = json_object_new_object();
                return *ret ? 0 : -ENOMEM;
        }
        r = json_parse_bytes_reuse(&conn->tok, (const char *) frame->body, frame->body_len, &o);
        if (r < 0)
                return r;
        *ret = o ?: json_object_new_object();
        return 0;
}

/*
 * An ERROR as the original's status: the status a translated result carried, or else the
 * negative errno of the error name (-1 for a name mbus does not define).
 */
static int compat_error_status(const struct mbus_frame *frame, json_object *body) {
        json_object *v;
        int r;

        if (body && json_object_object_get_ex(body, "status", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int(v) != 0)
                return json_object_get_int(v);
        r = mbus_error_name_to_errno(frame->f.error_name);
        return r == -EREMOTEIO ? -1 : r;
}

/* Answers sequence from a native ERROR: status and {"error", "message"}. */
static int compat_result_from_error(struct mbus_compat_conn *conn, int sequence, const struct mbus_frame *frame) {
        _cleanup_json_ json_object *body = NULL;
        json_object *payload;
        const char *message;

        if (sequence < 0)
                return 0;
        (void) compat_body_json(conn, frame, &body);
        message = body && json_object_is_type(body, json_type_object) ? json_get_string(body, "message") : NULL;
        payload = json_object_new_object();
        if (!payload)
                return -ENOMEM;
        (void) json_object_object_add(payload, "error", json_object_new_string(frame->f.error_name ?: ""));
        (void) json_object_object_add(payload, "message", json_object_new_string(message ?: ""));
        return compat_send_result(conn, sequence,
                                  compat_error_status(frame, body && json_object_is_type(body, json_type_object) ?
                                                             body : NULL), payload, false);
}

/* The REGISTER of conn's namespace declaring its commands as procedures. */
static uint64_t compat_register_declaration(struct mbus_compat_conn *conn) {
        _cleanup_json_ json_object *decl = json_object_new_object(), *procs = json_object_new_array();
        struct mbus_frame_fields f = { .namespace = conn->ns };

        if (!decl || !procs)
                return 0;
        for (struct compat_command *c = conn->commands; c; c = c->next)
                (void) json_object_array_add(procs, json_object_new_string(c->member));
        (void) json_object_object_add(decl, "procedures", TAKE_PTR(procs));
        return compat_push_json(conn, MBUS_FRAME_REGISTER, &f, decl);
}

static json_object *compat_client_payload(struct mbus_compat_conn *c, const char *source) {
        json_object *o = json_object_new_object(), *subs = json_object_new_array(), *cmds = json_object_new_array();

        if (!o || !subs || !cmds) {
                json_object_put(o);
                json_object_put(subs);
                json_object_put(cmds);
                return NULL;
        }
        (void) json_object_object_add(o, "source", json_object_new_string(source));
        if (c) {
                (void) json_object_object_add(o, "address", json_object_new_string(c->address));
                (void) json_object_object_add(o, "port", json_object_new_int(c->port));
                for (struct compat_subscription *s = c->subscriptions; s; s = s->next) {
                        json_object *e = json_object_new_object();

                        (void) json_object_object_add(e, "source", json_object_new_string(s->source));
                        (void) json_object_object_add(e, "identifier", json_object_new_string(s->event));
                        (void) json_object_array_add(subs, e);
                }
                for (struct compat_command *m = c->commands; m; m = m->next) {
                        json_object *e = json_object_new_object();

                        (void) json_object_object_add(e, "identifier", json_object_new_string(m->name));
                        (void) json_object_array_add(cmds, e);
                }
        }
        (void) json_object_object_add(o, "subscriptions", subs);
        (void) json_object_object_add(o, "commands", cmds);
        return o;
}

/* The connection of the original client that owns ns through owner, if it is one. */
static struct mbus_compat_conn *compat_conn_of(struct mbus_compat_conn *conn, const char *owner, const char *ns) {
        struct mbus_compat_conn *c;
        uint64_t id;

        if (!owner || mbus_peer_id_parse(owner, &id) < 0)
                return NULL;
        c = mbus_compat_hub_find_peer(conn->hub, id);
        return c && c->ns && strcmp(c->ns, ns) == 0 ? c : NULL;
}

/* --- original -> native ----------------------------------------------------------------------- */

static int compat_send_native_event(struct mbus_compat_conn *conn, const char *member, const char *destination,
                                    json_object *payload, int ack_sequence);

static int compat_create(struct mbus_compat_conn *conn, int sequence, json_object *payload) {
        _cleanup_json_ json_object *hello = NULL;
        struct mbus_frame_fields f = {};
        json_object *ping, *list;
        const char *identifier;
        char generated[64];
        bool none = false, zlib = false;
        uint64_t serial;
        int r;

        if (conn->state != COMPAT_CREATE_WAIT)
                return compat_send_status(conn, sequence, -1);

        identifier = json_get_string(payload, "identifier");
        if (!identifier || !identifier[0]) {
                (void) snprintf(generated, sizeof(generated), COMPAT_CLIENT_PREFIX "%08" PRIx32, mbus_compat_random());
                identifier = generated;
        }
        conn->create_sequence = sequence;
        /* Nobody takes the server's name: the broker is not a client. */
        if (strcmp(identifier, COMPAT_SERVER) == 0 || strncmp(identifier, COMPAT_SERVER ".", 16) == 0)
                r = -EACCES;
        else
                r = mbus_compat_escape_namespace(identifier, &conn->ns);
        if (r < 0) {
                conn->state = COMPAT_CLOSING;
                return compat_send_result(conn, sequence, -1, NULL, true);
        }
        conn->identifier = strdup(identifier);
        if (!conn->identifier)
                return -ENOMEM;

        if (json_object_object_get_ex(payload, "ping", &ping) && json_object_is_type(ping, json_type_object)) {
                json_object *v;

                if (json_object_object_get_ex(ping, "interval", &v))
                        conn->ping_interval = json_object_get_int(v);
                if (json_object_object_get_ex(ping, "timeout", &v))
                        conn->ping_timeout = json_object_get_int(v);
                if (json_object_object_get_ex(ping, "threshold", &v))
                        conn->ping_threshold = json_object_get_int(v);
        }
        if (conn->ping_interval <= 0)
                conn->ping_interval = conn->ping_timeout = conn->ping_threshold = 0;
        conn->ping_timeout = MIN(conn->ping_timeout, conn->ping_interval);
        conn->ping_threshold = MAX(conn->ping_threshold, 0);

        /* none unless the client insists on zlib (offers nothing else). */
        if (json_object_object_get_ex(payload, "compressions", &list) && json_object_is_type(list, json_type_array))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(list, i));

                        none = none || (s && strcmp(s, "none") == 0);
                        zlib = zlib || (s && strcmp(s, "zlib") == 0);
                }
        conn->zlib = zlib && !none;     /* in force once the create result has left */

        hello = json_object_new_object();
        if (!hello)
                return -ENOMEM;
        (void) json_object_object_add(hello, "name", json_object_new_string(identifier));
        serial = compat_push_json(conn, MBUS_FRAME_HELLO, &f, hello);
        if (!serial || !compat_pending_add(conn, serial, COMPAT_PENDING_HELLO, sequence))
                return -ENOMEM;
        conn->state = COMPAT_HELLO_SENT;
        return 0;
}

/* The native pattern of an original subscription; NULL (and 0) when there is none to make. */
static int compat_pattern(const char *source, const char *event, char **ret) {
        _cleanup_free_ char *ns = NULL, *member = NULL;
        int r;

        *ret = NULL;
        if (strcmp(source, COMPAT_SERVER) == 0) {
                if (strcmp(event, COMPAT_IDENTIFIER_ALL) == 0 || strcmp(event, COMPAT_EVENT_PREFIX "connected") == 0 ||
                    strcmp(event, COMPAT_EVENT_PREFIX "disconnected") == 0)
                        *ret = strdup(COMPAT_BROKER_NS "." COMPAT_OWNER_CHANGED);
                else
                        return 0;
        } else if (strcmp(source, COMPAT_SOURCE_ALL) == 0)
                *ret = strdup("*");     /* "*.EVENT" is no pattern: filtered here on arrival */
        else {
                r = mbus_compat_escape_namespace(source, &ns);
                if (r < 0)
                        return r;
                if (strcmp(event, COMPAT_IDENTIFIER_ALL) == 0)
                        r = asprintf(ret, "%s.*", ns);
                else {
                        r = mbus_compat_escape_member(event, &member);
                        if (r < 0)
                                return r;
                        r = asprintf(ret, "%s.%s", ns, member);
                }
                if (r < 0) {
                        *ret = NULL;
                        return -ENOMEM;
                }
        }
        return *ret ? 0 : -ENOMEM;
}

static int compat_subscribe(struct mbus_compat_conn *conn, int sequence, json_object *payload, bool subscribe) {
        const char *source = json_get_string(payload, "source"), *event = json_get_string(payload, "event");
        struct compat_subscription *s = NULL, **pp = &conn->subscriptions;
        _cleanup_free_ char *pattern = NULL;
        struct compat_pending *p;
        uint64_t serial;
        int r;

        if (!source || !event)
                return compat_send_status(conn, sequence, -1);
        r = compat_pattern(source, event, &pattern);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return compat_send_status(conn, sequence, -1);

        if (subscribe) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                s->source = strdup(source);
                s->event = strdup(event);
                s->pattern = pattern ? strdup(pattern) : NULL;
                if (!s->source || !s->event || (pattern && !s->pattern)) {
                        compat_subscription_free(s);
                        return -ENOMEM;
                }
                s->next = conn->subscriptions;
                conn->subscriptions = s;
        } else {
                for (; *pp; pp = &(*pp)->next)
                        if (strcmp((*pp)->source, source) == 0 && strcmp((*pp)->event, event) == 0)
                                break;
                if (!*pp)
                        return compat_send_status(conn, sequence, -1);
                s = *pp;
                *pp = s->next;
                compat_subscription_free(s);
        }

        if (!pattern) {
                /* A server event only original clients make: nothing to ask the broker. */
                r = compat_send_status(conn, sequence, 0);
                if (r >= 0) {
                        json_object *ev = json_object_new_object();

                        (void) json_object_object_add(ev, "source", json_object_new_string(conn->identifier));
                        (void) json_object_object_add(ev, "destination", json_object_new_string(source));
                        (void) json_object_object_add(ev, "identifier", json_object_new_string(event));
                        mbus_compat_server_event(conn, subscribe ? "subscribed" : "unsubscribed", ev);
                        json_object_put(ev);
                }
                return r;
        }
        serial = compat_push(conn, subscribe ? MBUS_FRAME_SUBSCRIBE : MBUS_FRAME_UNSUBSCRIBE,
                             &(struct mbus_frame_fields) { .pattern = pattern }, NULL, 0);
        p = serial ? compat_pending_add(conn, serial, subscribe ? COMPAT_PENDING_SUBSCRIBE : COMPAT_PENDING_UNSUBSCRIBE,
                                        sequence) : NULL;
        if (!p)
                return -ENOMEM;
        p->name = strdup(source);
        p->event = strdup(event);
        return p->name && p->event ? 0 : -ENOMEM;
}

static int compat_register(struct mbus_compat_conn *conn, int sequence, json_object *payload, bool add) {
        const char *command = json_get_string(payload, "command");
        struct compat_command *c, **pp;
        struct compat_pending *p;
        uint64_t serial;
        int r;

        if (!command)
                return compat_send_status(conn, sequence, -1);
        for (pp = &conn->commands; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->name, command) == 0)
                        break;
        if (add == !!*pp)       /* registered twice, or not registered */
                return compat_send_status(conn, sequence, -1);
        if (add) {
                c = calloc(1, sizeof(*c));
                if (!c)
                        return -ENOMEM;
                r = mbus_compat_escape_member(command, &c->member);
                if (r < 0) {
                        compat_command_free(c);
                        return r == -ENOMEM ? r : compat_send_status(conn, sequence, -1);
                }
                c->name = strdup(command);
                if (!c->name) {
                        compat_command_free(c);
                        return -ENOMEM;
                }
                c->next = conn->commands;
                conn->commands = c;
        } else {
                c = *pp;
                *pp = c->next;
                compat_command_free(c);
        }
        serial = compat_register_declaration(conn);
        p = serial ? compat_pending_add(conn, serial, add ? COMPAT_PENDING_REGISTER : COMPAT_PENDING_UNREGISTER,
                                        sequence) : NULL;
        if (!p)
                return -ENOMEM;
        p->name = strdup(command);
        return p->name ? 0 : -ENOMEM;
}

/* An event from the client; ack_sequence >= 0: QoS at-least-once, answered once routed. */
static int compat_event(struct mbus_compat_conn *conn, const char *destination, const char *event,
                        json_object *payload, int ack_sequence) {
        _cleanup_free_ char *member = NULL, *ns = NULL;
        struct compat_pending *p;
        int r;

        if (strcmp(destination, COMPAT_SERVER) == 0) {
                if (strcmp(event, COMPAT_EVENT_PREFIX "ping") == 0)
                        r = compat_send_event(conn, COMPAT_SERVER, COMPAT_EVENT_PREFIX "pong", NULL);
                else
                        r = 0;
                return r < 0 ? r : compat_send_status(conn, ack_sequence, 0);
        }
        r = mbus_compat_escape_member(event, &member);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return compat_send_status(conn, ack_sequence, -1);

        if (strcmp(destination, COMPAT_DESTINATION_SUBSCRIBERS) != 0 && strcmp(destination, COMPAT_DESTINATION_ALL) != 0) {
                /* To one identifier: find its owner first. */
                _cleanup_json_ json_object *args = json_object_new_object();
                const char *text;

                r = mbus_compat_escape_namespace(destination, &ns);
                if (r < 0)
                        return r == -ENOMEM ? r : compat_send_status(conn, ack_sequence, -1);
                if (!args)
                        return -ENOMEM;
                (void) json_object_object_add(args, "namespace", json_object_new_string(ns));
                p = compat_call_broker(conn, "GetNamespaceOwner", args, COMPAT_PENDING_DIRECT_OWNER, ack_sequence);
                if (!p)
                        return -ENOMEM;
                text = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                p->event = TAKE_PTR(member);
                p->body = text ? strdup(text) : NULL;
                return p->body ? 0 : -ENOMEM;
        }

        return compat_send_native_event(conn, member, /* destination= */ NULL, payload, ack_sequence);
}

static int compat_send_native_event(struct mbus_compat_conn *conn, const char *member, const char *destination,
                                    json_object *payload, int ack_sequence) {
        struct mbus_frame_fields f = { .namespace = conn->ns, .member = member, .destination = destination };
        uint64_t serial, ack;
        struct compat_pending *p;

        serial = compat_push_json(conn, MBUS_FRAME_EVENT, &f, payload);
        if (!serial)
                return -ENOMEM;
        if (ack_sequence < 0)
                return 0;
        /* The broker answers a PING after routing what came before it: its PONG is the ack,
         * unless the event's ERROR came first. */
        ack = compat_push(conn, MBUS_FRAME_PING, &(struct mbus_frame_fields) {}, NULL, 0);
        if (!ack || !compat_pending_add(conn, ack, COMPAT_PENDING_EVENT_ACK, ack_sequence))
                return -ENOMEM;
        p = compat_pending_add(conn, serial, COMPAT_PENDING_EVENT, -1);
        if (!p)
                return -ENOMEM;
        p->ack_serial = ack;
        return 0;
}

static int compat_call(struct mbus_compat_conn *conn, const char *destination, const char *command, int sequence,
                       int timeout_ms, json_object *payload) {
        _cleanup_free_ char *ns = NULL, *member = NULL;
        struct mbus_frame_fields f = {};
        uint64_t serial;
        int r;

        r = mbus_compat_escape_namespace(destination, &ns);
        if (r >= 0)
                r = mbus_compat_escape_member(command, &member);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return compat_send_status(conn, sequence, -1);
        f.namespace = ns;
        f.member = member;
        f.timeout_usec = timeout_ms > 0 ? (uint64_t) timeout_ms * USEC_PER_MSEC : 0;
        serial = compat_push_json(conn, MBUS_FRAME_CALL, &f, payload);
        if (!serial || !compat_pending_add(conn, serial, COMPAT_PENDING_RESULT, sequence))
                return -ENOMEM;
        return 0;
}

/* command.result: the client answers a call it was given. */
static int compat_command_result(struct mbus_compat_conn *conn, int sequence, json_object *payload) {
        json_object *v, *result = NULL;
        int seq = -1, status = 0;
        struct compat_call *c = NULL;

        if (json_object_object_get_ex(payload, COMPAT_TAG_SEQUENCE, &v))
                seq = json_object_get_int(v);
        if (json_object_object_get_ex(payload, COMPAT_TAG_STATUS, &v))
                status = json_object_get_int(v);
        (void) json_object_object_get_ex(payload, COMPAT_TAG_PAYLOAD, &result);

        for (struct compat_call **pp = &conn->calls; *pp; pp = &(*pp)->next)
                if ((*pp)->sequence == seq) {
                        c = *pp;
                        *pp = c->next;
                        break;
                }
        if (c) {
                struct mbus_frame_fields f = { .reply_serial = c->serial, .destination = c->sender };
                int r;

                if (status == 0) {
                        _cleanup_json_ json_object *empty = result ? NULL : json_object_new_object();

                        r = compat_push_json(conn, MBUS_FRAME_RETURN, &f, result ?: empty) ? 0 : -ENOMEM;
                } else {
                        _cleanup_json_ json_object *err = json_object_new_object();
                        char msg[64];

                        (void) snprintf(msg, sizeof(msg), "command returned status %d", status);
                        (void) json_object_object_add(err, "message", json_object_new_string(msg));
                        (void) json_object_object_add(err, "status", json_object_new_int(status));
                        if (result)
                                (void) json_object_object_add(err, "payload", json_object_get(result));
                        f.error_name = MBUS_ERROR_FAILED;
                        r = compat_push_json(conn, MBUS_FRAME_ERROR, &f, err) ? 0 : -ENOMEM;
                }
                free(c);
                if (r < 0)
                        return r;
        }
        /* A late result (the call timed out) is dropped, as the broker drops a late RETURN. */
        return compat_send_status(conn, sequence, 0);
}

static int compat_close(struct mbus_compat_conn *conn, int sequence, json_object *payload) {
        _cleanup_json_ json_object *args = NULL;
        _cleanup_free_ char *ns = NULL;
        const char *source = json_get_string(payload, "source");
        struct compat_pending *p;
        int r;

        if (!source || strcmp(source, COMPAT_SERVER) == 0)
                return compat_send_status(conn, sequence, -1);    /* nobody stops the broker */
        if (strcmp(source, conn->identifier) == 0) {
                r = compat_send_status(conn, sequence, 0);
                conn->state = COMPAT_CLOSING;
                return r;
        }
        r = mbus_compat_escape_namespace(source, &ns);
        if (r < 0)
                return r == -ENOMEM ? r : compat_send_status(conn, sequence, -1);
        args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        (void) json_object_object_add(args, "namespace", json_object_new_string(ns));
        p = compat_call_broker(conn, "GetNamespaceOwner", args, COMPAT_PENDING_CLOSE_OWNER, sequence);
        if (!p)
                return -ENOMEM;
        p->name = strdup(source);
        return p->name ? 0 : -ENOMEM;
}

static int compat_server_command(struct mbus_compat_conn *conn, const char *command, int sequence,
                                 json_object *payload) {
        if (strcmp(command, "command.create") == 0)
                return compat_create(conn, sequence, payload);
        if (strcmp(command, "command.subscribe") == 0)
                return compat_subscribe(conn, sequence, payload, /* subscribe= */ true);
        if (strcmp(command, "command.unsubscribe") == 0)
                return compat_subscribe(conn, sequence, payload, /* subscribe= */ false);
        if (strcmp(command, "command.register") == 0)
                return compat_register(conn, sequence, payload, /* add= */ true);
        if (strcmp(command, "command.unregister") == 0)
                return compat_register(conn, sequence, payload, /* add= */ false);
        if (strcmp(command, "command.result") == 0)
                return compat_command_result(conn, sequence, payload);
        if (strcmp(command, "command.event") == 0) {
                const char *destination = json_get_string(payload, COMPAT_TAG_DESTINATION);
                const char *identifier = json_get_string(payload, COMPAT_TAG_IDENTIFIER);
                json_object *data = NULL;

                (void) json_object_object_get_ex(payload, COMPAT_TAG_PAYLOAD, &data);
                if (!destination || !identifier || !data)
                        return compat_send_status(conn, sequence, -1);
                return compat_event(conn, destination, identifier, data, sequence);
        }
        if (strcmp(command, "command.clients") == 0 || strcmp(command, "command.status") == 0)
                return compat_call_broker(conn, "ListNamespaces", NULL,
                                          command[8] == 'c' ? COMPAT_PENDING_CLIENTS : COMPAT_PENDING_STATUS,
                                          sequence) ? 0 : -ENOMEM;
        if (strcmp(command, "command.client") == 0) {
                _cleanup_json_ json_object *args = NULL;
                _cleanup_free_ char *ns = NULL;
                const char *source = json_get_string(payload, "source");
                struct compat_pending *p;

                if (!source || mbus_compat_escape_namespace(source, &ns) < 0)
                        return compat_send_status(conn, sequence, -1);
                args = json_object_new_object();
                if (!args)
                        return -ENOMEM;
                (void) json_object_object_add(args, "namespace", json_object_new_string(ns));
                p = compat_call_broker(conn, "GetNamespaceOwner", args, COMPAT_PENDING_CLIENT, sequence);
                if (!p || !(p->name = strdup(source)))
                        return -ENOMEM;
                return 0;
        }
        if (strcmp(command, "command.close") == 0)
                return compat_close(conn, sequence, payload);
        return compat_send_status(conn, sequence, -1);
}

int mbus_compat_from_original(struct mbus_compat_conn *conn, const char *text, size_t len,
                              const char **ret_reason) {
        _cleanup_json_ json_object *o = NULL, *empty = NULL;
        const char *type, *destination, *identifier;
        json_object *v, *payload = NULL;
        int sequence, timeout = 0;

        if (json_parse_bytes_reuse(&conn->tok, text, len, &o) < 0 || !json_object_is_type(o, json_type_object)) {
                *ret_reason = "frame is not one JSON object";
                return -EBADMSG;
        }
        type = json_get_string(o, COMPAT_TAG_TYPE);
        destination = json_get_string(o, COMPAT_TAG_DESTINATION);
        identifier = json_get_string(o, COMPAT_TAG_IDENTIFIER);
        if (!type || !destination || !identifier || !json_object_object_get_ex(o, COMPAT_TAG_SEQUENCE, &v) ||
            !json_object_is_type(v, json_type_int)) {
                *ret_reason = "frame lacks its type, destination, identifier or sequence";
                return -EBADMSG;
        }
        sequence = json_object_get_int(v);
        /* null, as MBusClient.py sends for no payload, is none; anything else must be an object. */
        if (json_object_object_get_ex(o, COMPAT_TAG_PAYLOAD, &payload) && payload &&
            !json_object_is_type(payload, json_type_object)) {
                *ret_reason = "frame payload is not an object";
                return -EBADMSG;
        }
        if (!payload) {
                empty = json_object_new_object();
                if (!empty)
                        return -ENOMEM;
                payload = empty;
        }
        if (json_object_object_get_ex(o, COMPAT_TAG_TIMEOUT, &v))
                timeout = json_object_get_int(v);

        conn->last_rx = mbus_compat_now(conn);
        if (conn->state == COMPAT_CLOSING)
                return 0;
        if (conn->state == COMPAT_CREATE_WAIT &&
            !(strcmp(type, COMPAT_TYPE_COMMAND) == 0 && strcmp(destination, COMPAT_SERVER) == 0 &&
              strcmp(identifier, "command.create") == 0)) {
                *ret_reason = "first frame is not command.create";
                return -EBADMSG;
        }
        if (strcmp(type, COMPAT_TYPE_EVENT) == 0)
                return compat_event(conn, destination, identifier, payload, /* ack_sequence= */ -1);
        if (strcmp(type, COMPAT_TYPE_COMMAND) != 0) {
                *ret_reason = "frame type is neither command nor event";
                return -EBADMSG;
        }
        if (strcmp(destination, COMPAT_SERVER) == 0)
                return compat_server_command(conn, identifier, sequence, payload);
        return compat_call(conn, destination, identifier, sequence, timeout, payload);
}

/* --- native -> original ----------------------------------------------------------------------- */

static bool compat_subscribed(struct mbus_compat_conn *conn, const char *source, const char *event, bool broker) {
        for (struct compat_subscription *s = conn->subscriptions; s; s = s->next)
                if (((strcmp(s->source, COMPAT_SOURCE_ALL) == 0 && !broker) || strcmp(s->source, source) == 0) &&
                    (strcmp(s->event, COMPAT_IDENTIFIER_ALL) == 0 || strcmp(s->event, event) == 0))
                        return true;
        return false;
}

void mbus_compat_server_event(struct mbus_compat_conn *conn, const char *name, json_object *payload) {
        char event[64];

        (void) snprintf(event, sizeof(event), COMPAT_EVENT_PREFIX "%s", name);
        for (struct mbus_compat_conn *c = conn->hub ? mbus_compat_hub_first(conn->hub) : conn; c; c = c->next) {
                /* A reader that does not keep up misses server events, as events beyond its queue. */
                if (c->state != COMPAT_RUNNING || c->out_end - c->out_start > 2 * COMPAT_OUT_MAX)
                        continue;
                if (compat_subscribed(c, COMPAT_SERVER, event, /* broker= */ false))
                        (void) compat_send_event(c, COMPAT_SERVER, event, payload);
                if (!conn->hub)
                        break;
        }
}

/* NamespaceOwnerChanged as the original's connected / disconnected. */
static int compat_owner_changed(struct mbus_compat_conn *conn, json_object *body) {
        _cleanup_json_ json_object *payload = NULL;
        _cleanup_free_ char *source = NULL;
        const char *ns = json_get_string(body, "namespace"), *new_owner = json_get_string(body, "new_owner");
        const char *old_owner = json_get_string(body, "old_owner"), *event;
        int r;

        if (!ns)
                return 0;
        if (new_owner && !old_owner)
                event = COMPAT_EVENT_PREFIX "connected";
        else if (!new_owner && old_owner)
                event = COMPAT_EVENT_PREFIX "disconnected";
        else
                return 0;
        if (!compat_subscribed(conn, COMPAT_SERVER, event, /* broker= */ false))
                return 0;
        r = mbus_compat_unescape_namespace(ns, &source);
        if (r < 0)
                return r;
        payload = json_object_new_object();
        if (!payload)
                return -ENOMEM;
        (void) json_object_object_add(payload, "source", json_object_new_string(source));
        if (!new_owner)
                (void) json_object_object_add(payload, "reason", json_object_new_string("connection_closed"));
        return compat_send_event(conn, COMPAT_SERVER, event, payload);
}

static int compat_native_event(struct mbus_compat_conn *conn, struct mbus_frame *frame) {
        _cleanup_json_ json_object *body = NULL;
        _cleanup_free_ char *source = NULL, *event = NULL;
        bool broker = strcmp(frame->f.namespace, COMPAT_BROKER_NS) == 0;
        int r;

        if (conn->state != COMPAT_RUNNING)
                return 0;
        r = compat_body_json(conn, frame, &body);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Not JSON: the original's payload is JSON, so the text travels as a string. */
                body = json_object_new_object();
                if (!body)
                        return -ENOMEM;
                (void) json_object_object_add(body, "body_text",
                                              json_object_new_string_len((const char *) frame->body, (int) frame->body_len));
        }
        if (broker && strcmp(frame->f.member, COMPAT_OWNER_CHANGED) == 0 && !frame->f.destination) {
                r = compat_owner_changed(conn, body);
                if (r < 0)
                        return r;
        }
        r = mbus_compat_unescape_namespace(frame->f.namespace, &source);
        if (r >= 0)
                r = mbus_compat_unescape_member(frame->f.member, &event);
        if (r < 0)
                return r;
        if (!frame->f.destination && !compat_subscribed(conn, source, event, broker))
                return 0;
        return compat_send_event(conn, source, event, body);
}

static int compat_native_call(struct mbus_compat_conn *conn, struct mbus_frame *frame) {
        struct mbus_frame_fields reply = { .reply_serial = frame->f.serial, .destination = frame->f.sender };
        _cleanup_json_ json_object *payload = NULL, *err = NULL;
        struct mbus_compat_conn *caller = NULL;
        struct compat_command *cmd;
        struct compat_call *c;
        usec_t now = mbus_compat_now(conn);
        uint64_t id;
        int r;

        for (cmd = conn->commands; cmd; cmd = cmd->next)
                if (strcmp(cmd->member, frame->f.member) == 0)
                        break;
        r = cmd ? compat_body_json(conn, frame, &payload) : -ENOENT;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                err = json_object_new_object();
                if (!err)
                        return -ENOMEM;
                (void) json_object_object_add(err, "message", json_object_new_string(
                        r == -ENOENT ? "The original client registered no such command" : "Arguments are not JSON"));
                reply.error_name = r == -ENOENT ? MBUS_ERROR_UNKNOWN_PROCEDURE : MBUS_ERROR_INVALID_ARGS;
                return compat_push_json(conn, MBUS_FRAME_ERROR, &reply, err) ? 0 : -ENOMEM;
        }

        /* Forget calls the broker has timed out by now, then pick a sequence not in use. */
        for (struct compat_call **pp = &conn->calls; *pp;)
                if ((*pp)->deadline <= now) {
                        struct compat_call *old = *pp;

                        *pp = old->next;
                        free(old);
                } else
                        pp = &(*pp)->next;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (bool used = true; used;) {
                c->sequence = conn->next_call_sequence;
                conn->next_call_sequence = c->sequence + 1 >= COMPAT_SEQUENCE_END ? COMPAT_SEQUENCE_START :
                                                                                       c->sequence + 1;
                used = false;
                for (struct compat_call *o = conn->calls; o; o = o->next)
                        used = used || o->sequence == c->sequence;
        }
        c->serial = frame->f.serial;
        (void) snprintf(c->sender, sizeof(c->sender), "%s", frame->f.sender ?: "");
        c->deadline = now + (frame->f.timeout_usec ?: COMPAT_CALL_TIMEOUT_DEFAULT_USEC) + USEC_PER_SEC;
        c->next = conn->calls;
        conn->calls = c;

        if (frame->f.sender && mbus_peer_id_parse(frame->f.sender, &id) >= 0)
                caller = mbus_compat_hub_find_peer(conn->hub, id);
        return compat_send_method(conn, COMPAT_TYPE_COMMAND,
                                  caller && caller->identifier ? caller->identifier : (frame->f.sender ?: ""),
                                  cmd->name, c->sequence, payload);
}

/* ListNamespaces answered: command.clients or command.status. */
static int compat_list_result(struct mbus_compat_conn *conn, struct compat_pending *p, json_object *body) {
        _cleanup_json_ json_object *list = json_object_new_array();
        json_object *names;

        if (!list)
                return -ENOMEM;
        if (json_object_object_get_ex(body, "namespaces", &names) && json_object_is_type(names, json_type_array))
                for (size_t i = 0; i < json_object_array_length(names); i++) {
                        json_object *e = json_object_array_get_idx(names, i);
                        const char *ns = json_get_string(e, "namespace"), *owner = json_get_string(e, "owner");
                        _cleanup_free_ char *source = NULL;

                        if (!ns || !owner || strcmp(ns, COMPAT_BROKER_NS) == 0)
                                continue;
                        if (mbus_compat_unescape_namespace(ns, &source) < 0)
                                return -ENOMEM;
                        if (p->kind == COMPAT_PENDING_CLIENTS)
                                (void) json_object_array_add(list, json_object_new_string(source));
                        else
                                (void) json_object_array_add(list, compat_client_payload(compat_conn_of(conn, owner, ns),
                                                                                         source));
                }
        return compat_send_result(conn, p->sequence, 0, TAKE_PTR(list), false);
}

/* A native RETURN (body parsed) for what p waited for. */
static int compat_native_return(struct mbus_compat_conn *conn, struct compat_pending *p, struct mbus_frame *frame) {
        _cleanup_json_ json_object *body = NULL;
        const char *owner;
        int r;

        switch (p->kind) {
        case COMPAT_PENDING_CREATE: {
                _cleanup_json_ json_object *payload = json_object_new_object(), *ping = json_object_new_object();
                bool zlib = conn->zlib;

                if (!payload || !ping)
                        return -ENOMEM;
                (void) json_object_object_add(payload, "identifier", json_object_new_string(conn->identifier));
                (void) json_object_object_add(payload, "compression", json_object_new_string(zlib ? "zlib" : "none"));
                (void) json_object_object_add(ping, "interval", json_object_new_int(conn->ping_interval));
                (void) json_object_object_add(ping, "timeout", json_object_new_int(conn->ping_timeout));
                (void) json_object_object_add(ping, "threshold", json_object_new_int(conn->ping_threshold));
                (void) json_object_object_add(payload, "ping", TAKE_PTR(ping));
                conn->state = COMPAT_RUNNING;
                /* The answer to command.create is never compressed; what follows is. */
                return compat_send_result(conn, p->sequence, 0, TAKE_PTR(payload), /* never_zlib= */ true);
        }
        case COMPAT_PENDING_RESULT:
                r = compat_body_json(conn, frame, &body);
                if (r == -EBADMSG) {
                        body = json_object_new_object();
                        if (!body)
                                return -ENOMEM;
                        (void) json_object_object_add(body, "body_text", json_object_new_string_len(
                                                              (const char *) frame->body, (int) frame->body_len));
                } else if (r < 0)
                        return r;
                return compat_send_result(conn, p->sequence, 0, TAKE_PTR(body), false);
        case COMPAT_PENDING_EMPTY_RESULT:
                return compat_send_status(conn, p->sequence, 0);
        case COMPAT_PENDING_SUBSCRIBE:
        case COMPAT_PENDING_UNSUBSCRIBE:
        case COMPAT_PENDING_REGISTER:
        case COMPAT_PENDING_UNREGISTER: {
                bool sub = p->kind == COMPAT_PENDING_SUBSCRIBE || p->kind == COMPAT_PENDING_UNSUBSCRIBE;
                const char *name = p->kind == COMPAT_PENDING_SUBSCRIBE ? "subscribed" :
                                   p->kind == COMPAT_PENDING_UNSUBSCRIBE ? "unsubscribed" :
                                   p->kind == COMPAT_PENDING_REGISTER ? "registered" : "unregistered";
                json_object *ev;

                r = compat_send_status(conn, p->sequence, 0);
                if (r < 0)
                        return r;
                ev = json_object_new_object();
                if (!ev)
                        return -ENOMEM;
                (void) json_object_object_add(ev, "source", json_object_new_string(conn->identifier));
                if (sub)
                        (void) json_object_object_add(ev, "destination", json_object_new_string(p->name));
                (void) json_object_object_add(ev, "identifier", json_object_new_string(sub ? p->event : p->name));
                mbus_compat_server_event(conn, name, ev);
                json_object_put(ev);
                return 0;
        }
        case COMPAT_PENDING_CLIENTS:
        case COMPAT_PENDING_STATUS:
        case COMPAT_PENDING_CLIENT:
        case COMPAT_PENDING_CLOSE_OWNER:
        case COMPAT_PENDING_DIRECT_OWNER:
                break;
        default:
                return 0;
        }

        r = compat_body_json(conn, frame, &body);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !json_object_is_type(body, json_type_object))
                return compat_send_status(conn, p->sequence, -1);
        if (p->kind == COMPAT_PENDING_CLIENTS || p->kind == COMPAT_PENDING_STATUS)
                return compat_list_result(conn, p, body);

        owner = json_get_string(body, "owner");
        if (!owner)
                return compat_send_status(conn, p->sequence, -1);      /* no such client */
        if (p->kind == COMPAT_PENDING_CLIENT) {
                const char *ns = json_get_string(body, "namespace");
                json_object *payload = compat_client_payload(ns ? compat_conn_of(conn, owner, ns) : NULL, p->name);

                if (!payload)
                        return -ENOMEM;
                return compat_send_result(conn, p->sequence, 0, payload, false);
        }
        if (p->kind == COMPAT_PENDING_CLOSE_OWNER) {
                _cleanup_json_ json_object *args = json_object_new_object();
                char reason[320];

                if (!args)
                        return -ENOMEM;
                (void) snprintf(reason, sizeof(reason), "command.close from %s", conn->identifier);
                (void) json_object_object_add(args, "id", json_object_new_string(owner));
                (void) json_object_object_add(args, "reason", json_object_new_string(reason));
                return compat_call_broker(conn, "DisconnectPeer", args, COMPAT_PENDING_EMPTY_RESULT, p->sequence) ?
                               0 : -ENOMEM;
        }
        /* DIRECT_OWNER: the event goes to that peer alone. */
        {
                _cleanup_json_ json_object *payload = NULL;

                if (json_parse_bytes_reuse(&conn->tok, p->body, strlen(p->body), &payload) < 0)
                        return compat_send_status(conn, p->sequence, -1);
                return compat_send_native_event(conn, p->event, owner, payload, p->sequence);
        }
}

static int compat_native_reply(struct mbus_compat_conn *conn, struct mbus_frame *frame) {
        struct compat_pending *p;
        int r = 0;

        if (frame->type == MBUS_FRAME_ERROR && frame->f.reply_serial == 0)
                return -ECONNRESET;     /* the broker is closing the connection: say so by closing */
        p = compat_pending_take(conn, frame->f.reply_serial);
        if (!p)
                return 0;

        if (frame->type == MBUS_FRAME_WELCOME) {
                if (p->kind == COMPAT_PENDING_HELLO) {
                        uint64_t serial = compat_register_declaration(conn);

                        if (!serial || !compat_pending_add(conn, serial, COMPAT_PENDING_CREATE, p->sequence))
                                r = -ENOMEM;
                }
        } else if (frame->type == MBUS_FRAME_PONG) {
                if (p->kind == COMPAT_PENDING_EVENT_ACK) {
                        r = compat_send_status(conn, p->sequence, p->failed ? -1 : 0);
                        /* The event's own entry: no ERROR came for it. */
                        for (struct compat_pending **pp = &conn->pending; *pp; pp = &(*pp)->next)
                                if ((*pp)->kind == COMPAT_PENDING_EVENT && (*pp)->ack_serial == p->serial) {
                                        struct compat_pending *e = *pp;

                                        *pp = e->next;
                                        compat_pending_free(e);
                                        break;
                                }
                }
        } else if (frame->type == MBUS_FRAME_ERROR) {
                switch (p->kind) {
                case COMPAT_PENDING_CREATE:
                case COMPAT_PENDING_HELLO:
                        r = compat_result_from_error(conn, p->sequence, frame);
                        conn->state = COMPAT_CLOSING;
                        break;
                case COMPAT_PENDING_EVENT: {
                        struct compat_pending *ack = compat_pending_find_ack(conn, p->ack_serial);

                        if (ack)
                                ack->failed = true;
                        break;
                }
                case COMPAT_PENDING_SUBSCRIBE:
                        /* Refused (policy, say): the subscription never was. */
                        for (struct compat_subscription **pp = &conn->subscriptions; *pp; pp = &(*pp)->next)
                                if (strcmp((*pp)->source, p->name) == 0 && strcmp((*pp)->event, p->event) == 0) {
                                        struct compat_subscription *s = *pp;

                                        *pp = s->next;
                                        compat_subscription_free(s);
                                        break;
                                }
                        r = compat_result_from_error(conn, p->sequence, frame);
                        break;
                default:
                        r = compat_result_from_error(conn, p->sequence, frame);
                }
        } else
                r = compat_native_return(conn, p, frame);
        compat_pending_free(p);
        return r;
}

int mbus_compat_from_native(struct mbus_compat_conn *conn, struct mbus_frame *frame) {
        switch (frame->type) {
        case MBUS_FRAME_WELCOME:
        case MBUS_FRAME_RETURN:
        case MBUS_FRAME_ERROR:
        case MBUS_FRAME_PONG:
                return compat_native_reply(conn, frame);
        case MBUS_FRAME_PING:
                /* The broker's keep-alive, answered for the client: unless it agreed to ping and
                 * has missed more than its threshold of pings, when the broker's keep-alive is to
                 * drop it as the original server did. */
                if (conn->ping_interval > 0 &&
                    mbus_compat_now(conn) - conn->last_rx >
                            (usec_t) (conn->ping_interval + conn->ping_timeout) * (usec_t) (conn->ping_threshold + 1) *
                                    USEC_PER_MSEC)
                        return 0;
                return compat_push(conn, MBUS_FRAME_PONG, &(struct mbus_frame_fields) { .reply_serial = frame->f.serial },
                                   NULL, 0) ? 0 : -ENOMEM;
        case MBUS_FRAME_CALL:
                return compat_native_call(conn, frame);
        case MBUS_FRAME_EVENT:
                return compat_native_event(conn, frame);
        default:
                return 0;
        }
}
