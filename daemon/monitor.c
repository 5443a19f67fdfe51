/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Monitors (monitor.h). A copy is an EVENT org.mbus.Broker.Monitor from ":1.0" whose body
 * describes the routed frame and carries its body; it is built once per routed frame, only
 * when some monitor matches, and shared by every monitor it goes to. Copies are queued in the
 * EVENT class: a monitor whose queue is over --max-queue-bytes loses them (counted) instead of
 * slowing the bus or growing the broker's memory, and learns how many it lost from a
 * MonitorLost event before its next copy that fits.
 *
 * What a monitor sees is the policy's monitor action on the frame's namespace and member (a
 * reply: those of its call), checked per copy; frames a monitor sends or receives itself are
 * not copied to it, so its own calls do not echo.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "conf/policy.h"
#include "driver.h"
#include "monitor.h"
#include "options.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/names.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

struct mbus_monitor {
        uint64_t peer;                  /* the monitor's peer id */
        char *ns;                       /* NULL: any; "a.b": exactly; "a.b.*": a.b and below */
        char *member;                   /* NULL: any */
        uint64_t match_peer;            /* 0: any; else the sender or the receiver */
        unsigned types;                 /* 1 << frame type of the types wanted */
        uint64_t lost;                  /* copies lost since the last MonitorLost */
        struct mbus_monitor *next;
};

#define MONITOR_TYPES ((1u << MBUS_FRAME_CALL) | (1u << MBUS_FRAME_RETURN) | (1u << MBUS_FRAME_ERROR) | \
                       (1u << MBUS_FRAME_EVENT))

static struct mbus_monitor *monitor_free(struct mbus_monitor *m) {
        if (m) {
                free(m->ns);
                free(m->member);
                free(m);
        }
        return NULL;
}
MBUS_DEFINE_CLEANUP(struct mbus_monitor *, monitor_free);

static struct mbus_monitor **monitor_find(struct mbus_broker *b, uint64_t peer) {
        struct mbus_monitor **p = &b->monitors;

        while (*p && (*p)->peer != peer)
                p = &(*p)->next;
        return p;
}

static bool monitor_ns_pattern_is_valid(const char *s) {
        size_t n = strlen(s);
        char prefix[MBUS_NAME_MAX + 1];

        if (strcmp(s, "*") == 0)
                return true;
        if (n > 2 && strcmp(s + n - 2, ".*") == 0) {
                if (n - 2 > MBUS_NAME_MAX)
                        return false;
                memcpy(prefix, s, n - 2);
                prefix[n - 2] = 0;
                return mbus_namespace_is_valid(prefix);
        }
        return mbus_namespace_is_valid(s);
}

/* The filters of args into m. Returns 0, -EINVAL with reason, -ENOMEM. */
static int monitor_parse(struct mbus_monitor *m, json_object *args, char *reason, size_t size) {
        json_object *v;

        if (args && !json_object_is_type(args, json_type_object)) {
                snprintf(reason, size, "the filters must be a JSON object");
                return -EINVAL;
        }
        m->types = MONITOR_TYPES;
        if (!args)
                return 0;
        json_object_object_foreach(args, key, val) {
                const char *s = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;

                if (strcmp(key, "namespace") == 0) {
                        if (!s || !monitor_ns_pattern_is_valid(s)) {
                                snprintf(reason, size, "namespace must be a namespace, NAMESPACE.* or *");
                                return -EINVAL;
                        }
                        if (strcmp(s, "*") != 0 && !(m->ns = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(key, "member") == 0) {
                        if (!s || !mbus_member_is_valid(s)) {
                                snprintf(reason, size, "member must be a procedure or event name");
                                return -EINVAL;
                        }
                        if (!(m->member = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(key, "peer") == 0) {
                        if (!s || mbus_peer_id_parse(s, &m->match_peer) < 0) {
                                snprintf(reason, size, "peer must be a peer id such as :1.42");
                                return -EINVAL;
                        }
                } else if (strcmp(key, "types") == 0) {
                        if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0) {
                                snprintf(reason, size, "types must be a non-empty array of call, return, error, event");
                                return -EINVAL;
                        }
                        m->types = 0;
                        for (size_t i = 0; i < json_object_array_length(val); i++) {
                                v = json_object_array_get_idx(val, i);
                                s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                                if (strcmp(s, "call") == 0)
                                        m->types |= 1u << MBUS_FRAME_CALL;
                                else if (strcmp(s, "return") == 0)
                                        m->types |= 1u << MBUS_FRAME_RETURN;
                                else if (strcmp(s, "error") == 0)
                                        m->types |= 1u << MBUS_FRAME_ERROR;
                                else if (strcmp(s, "event") == 0)
                                        m->types |= 1u << MBUS_FRAME_EVENT;
                                else {
                                        snprintf(reason, size, "unknown type in types (call, return, error, event)");
                                        return -EINVAL;
                                }
                        }
                } else {
                        snprintf(reason, size, "unknown filter '%s' (namespace, member, peer, types)", key);
                        return -EINVAL;
                }
        }
        return 0;
}

int mbus_monitor_add(struct mbus_broker *b, struct mbus_peer *peer, json_object *args, char *reason, size_t size) {
        _cleanup_(monitor_freep) struct mbus_monitor *m = NULL;
        struct mbus_monitor **old = monitor_find(b, peer->id);
        size_t n = 0;
        int r;

        for (struct mbus_monitor *i = b->monitors; i; i = i->next)
                n++;
        if (!*old && n >= MBUS_MONITORS_MAX) {
                snprintf(reason, size, "Too many monitors (limit %u)", MBUS_MONITORS_MAX);
                return -ENOBUFS;
        }
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->peer = peer->id;
        r = monitor_parse(m, args, reason, size);
        if (r < 0)
                return r;

        /* New filters replace the old ones in place; the count of lost copies carries over. */
        if (*old) {
                m->lost = (*old)->lost;
                m->next = (*old)->next;
                monitor_free(*old);
                *old = TAKE_PTR(m);
        } else {
                m->next = b->monitors;
                b->monitors = TAKE_PTR(m);
        }
        return 0;
}

void mbus_monitor_remove(struct mbus_broker *b, uint64_t peer) {
        struct mbus_monitor **p = monitor_find(b, peer), *m = *p;

        if (m) {
                *p = m->next;
                monitor_free(m);
        }
}

void mbus_monitor_free_all(struct mbus_broker *b) {
        while (b->monitors) {
                struct mbus_monitor *m = b->monitors;

                b->monitors = m->next;
                monitor_free(m);
        }
}

static bool monitor_ns_matches(const char *pattern, const char *ns) {
        size_t n = strlen(pattern);

        if (n > 2 && strcmp(pattern + n - 2, ".*") == 0)
                return strncmp(ns, pattern, n - 2) == 0 && (ns[n - 2] == 0 || ns[n - 2] == '.');
        return strcmp(pattern, ns) == 0;
}

static bool monitor_wants(struct mbus_broker *b, const struct mbus_monitor *m, struct mbus_peer *peer,
                          const struct mbus_frame *frame, const char *ns, const char *member, uint64_t from,
                          uint64_t to) {
        struct mbus_identity who;

        if (!(m->types & (1u << frame->type)) || from == m->peer || to == m->peer)
                return false;
        if (m->match_peer != 0 && m->match_peer != from && m->match_peer != to)
                return false;
        /* A reply whose call is unknown cannot be placed: it is shown to no one. */
        if (!ns || !member)
                return false;
        if ((m->ns && !monitor_ns_matches(m->ns, ns)) || (m->member && strcmp(m->member, member) != 0))
                return false;
        mbus_creds_to_identity(&peer->creds, &who);
        return mbus_policy_check(b->policy, &who, MBUS_POLICY_MONITOR, ns, member, NULL, NULL) >= 0;
}

static int monitor_add_string(json_object *o, const char *key, const char *s) {
        return s ? json_object_object_add(o, key, json_object_new_string(s)) : 0;
}

/* The body of the Monitor event for frame, as text, in *ret (owned by *ret_json). */
static int monitor_describe(const struct mbus_frame *frame, const char *ns, const char *member, uint64_t from,
                            uint64_t to, json_object **ret_json) {
        static const char *const type_names[] = {
                [MBUS_FRAME_CALL] = "call",
                [MBUS_FRAME_RETURN] = "return",
                [MBUS_FRAME_ERROR] = "error",
                [MBUS_FRAME_EVENT] = "event",
        };
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *body = NULL;
        char sender[MBUS_PEER_ID_MAX], receiver[MBUS_PEER_ID_MAX];
        int r = 0;

        if (!o)
                return -ENOMEM;
        /* Bodies pass the broker unparsed; one that is not JSON is shown as a string. */
        if (frame->body_len > 0 &&
            json_parse_bytes((const char *) frame->body, frame->body_len, &body) == -EBADMSG)
                body = json_object_new_string_len((const char *) frame->body, (int) frame->body_len);

        r = r ?: json_object_object_add(o, "type", json_object_new_string(type_names[frame->type]));
        r = r ?: json_object_object_add(o, "time_usec", json_object_new_int64((int64_t) now_usec(CLOCK_REALTIME)));
        if (frame->f.serial)
                r = r ?: json_object_object_add(o, "serial", json_object_new_int64((int64_t) frame->f.serial));
        if (frame->type == MBUS_FRAME_RETURN || frame->type == MBUS_FRAME_ERROR)
                r = r ?: json_object_object_add(o, "reply_serial",
                                                json_object_new_int64((int64_t) frame->f.reply_serial));
        r = r ?: monitor_add_string(o, "namespace", ns);
        r = r ?: monitor_add_string(o, "member", member);
        r = r ?: monitor_add_string(o, "sender", mbus_peer_id_format(sender, from));
        if (to != 0 || frame->type != MBUS_FRAME_EVENT)
                r = r ?: monitor_add_string(o, "destination", mbus_peer_id_format(receiver, to));
        r = r ?: monitor_add_string(o, "error", frame->f.error_name);
        if (r < 0) {
                json_object_put(body);
                return -ENOMEM;
        }
        if (json_object_object_add(o, "body", body) < 0) {
                json_object_put(body);
                return -ENOMEM;
        }
        *ret_json = TAKE_PTR(o);
        return 0;
}

static int monitor_event(struct mbus_broker *b, const char *member, const char *text, struct mbus_frame **ret) {
        char sender[MBUS_PEER_ID_MAX];

        return mbus_frame_new(ret, MBUS_FRAME_EVENT,
                              &(const struct mbus_frame_fields) {
                                      .serial = ++b->next_serial,
                                      .namespace = MBUS_DRIVER_NAMESPACE,
                                      .member = member,
                                      .sender = mbus_peer_id_format(sender, MBUS_BROKER_ID),
                              }, text, strlen(text));
}

/* Queues copy on m's peer, telling it first how many it lost before. */
static void monitor_queue(struct mbus_broker *b, struct mbus_monitor *m, struct mbus_peer *peer,
                          struct mbus_frame *copy) {
        if (m->lost > 0) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *lost = NULL;
                char text[64];

                snprintf(text, sizeof(text), "{\"lost\":%" PRIu64 "}", m->lost);
                if (monitor_event(b, "MonitorLost", text, &lost) < 0 ||
                    mbus_peer_queue(peer, lost, MBUS_QUEUE_EVENT) < 0) {
                        m->lost++;
                        return;
                }
                m->lost = 0;
        }
        /* A copy the monitor could not read (over the frame size it was promised) is lost too. */
        if (mbus_frame_size(copy) > b->options->max_frame_size || mbus_peer_queue(peer, copy, MBUS_QUEUE_EVENT) < 0)
                m->lost++;
}

void mbus_monitor_copy(struct mbus_broker *b, const struct mbus_frame *frame, const char *call_ns,
                       const char *call_member, uint64_t from, uint64_t to) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *copy = NULL;
        const char *ns = call_ns ?: frame->f.namespace;
        const char *member = call_ns ? call_member : frame->f.member;

        for (struct mbus_monitor *m = b->monitors; m; m = m->next) {
                struct mbus_peer *peer = mbus_broker_find_peer(b, m->peer);
                size_t queued;

                if (!mbus_peer_is_running(peer) || !monitor_wants(b, m, peer, frame, ns, member, from, to))
                        continue;
                /*
                 * A copy carries the frame's body and more, so a queue that cannot take that
                 * much (mbus_peer_queue() refuses what goes over the limit) loses the copy
                 * without building it or a MonitorLost: a stuck monitor costs the bus a
                 * comparison per routed frame, not a JSON description of it.
                 */
                queued = mbus_stream_queued_bytes(&peer->stream);
                if (queued > 0 && queued + MBUS_FRAME_HEADER_SIZE + frame->body_len > b->options->max_queue_bytes) {
                        m->lost++;
                        b->stats.events_dropped++;
                        continue;
                }
                if (!copy) {
                        _cleanup_json_ json_object *o = NULL;
                        const char *text;

                        if (monitor_describe(frame, ns, member, from, to, &o) < 0)
                                return;
                        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                        if (monitor_event(b, "Monitor", text, &copy) < 0)
                                return;
                }
                monitor_queue(b, m, peer, copy);
        }
}
