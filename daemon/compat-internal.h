/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What compat.c (connections, sockets) and compat-translate.c (the protocol mapping) share. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "util/time-util.h"

struct mbus_broker;
struct mbus_frame;
struct mbus_message_link;
struct mbus_peer;

/* The original's names, as its method.h and server.h spell them on the wire. */
#define COMPAT_TAG_TYPE "org.mbus.method.tag.type"
#define COMPAT_TAG_SOURCE "org.mbus.method.tag.source"
#define COMPAT_TAG_DESTINATION "org.mbus.method.tag.destination"
#define COMPAT_TAG_IDENTIFIER "org.mbus.method.tag.identifier"
#define COMPAT_TAG_SEQUENCE "org.mbus.method.tag.sequence"
#define COMPAT_TAG_TIMEOUT "org.mbus.method.tag.timeout"
#define COMPAT_TAG_PAYLOAD "org.mbus.method.tag.payload"
#define COMPAT_TAG_STATUS "org.mbus.method.tag.status"
#define COMPAT_TYPE_COMMAND "org.mbus.method.type.command"
#define COMPAT_TYPE_EVENT "org.mbus.method.type.event"
#define COMPAT_TYPE_RESULT "org.mbus.method.type.result"
#define COMPAT_SOURCE_ALL "org.mbus.method.event.source.all"
#define COMPAT_DESTINATION_ALL "org.mbus.method.event.destination.all"
#define COMPAT_DESTINATION_SUBSCRIBERS "org.mbus.method.event.destination.subscribers"
#define COMPAT_IDENTIFIER_ALL "org.mbus.method.event.identifier.all"
#define COMPAT_SERVER "org.mbus.server"
#define COMPAT_CLIENT_PREFIX "org.mbus.client."
#define COMPAT_EVENT_PREFIX "org.mbus.server.event."
#define COMPAT_SEQUENCE_START 1
#define COMPAT_SEQUENCE_END 9999

/* Output waiting in the translator (original frames for the socket) before it stops taking
 * more from the link, and stops reading the socket: the rest waits in the peer's queue, under
 * --max-queue-bytes. */
#define COMPAT_OUT_MAX (64u * 1024u)

enum compat_state {
        COMPAT_CREATE_WAIT,             /* connected, waiting for command.create */
        COMPAT_HELLO_SENT,              /* HELLO, then REGISTER of the identifier */
        COMPAT_RUNNING,                 /* command.create answered */
        COMPAT_CLOSING,                 /* write what is queued, then close */
};

/* What a native reply (by the serial of the frame it answers) is for. */
enum compat_pending_kind {
        COMPAT_PENDING_HELLO,           /* WELCOME: REGISTER the identifier */
        COMPAT_PENDING_CREATE,          /* REGISTER of the identifier: answer command.create */
        COMPAT_PENDING_RESULT,          /* RETURN: status 0 with the body; ERROR: its status */
        COMPAT_PENDING_EMPTY_RESULT,    /* RETURN: status 0 with {} */
        COMPAT_PENDING_EVENT,           /* an EVENT: only an ERROR comes, marking its ack failed */
        COMPAT_PENDING_EVENT_ACK,       /* the PING after an acknowledged EVENT: its result */
        COMPAT_PENDING_CLIENTS,         /* ListNamespaces for command.clients */
        COMPAT_PENDING_STATUS,          /* ListNamespaces for command.status */
        COMPAT_PENDING_CLIENT,          /* GetNamespaceOwner for command.client */
        COMPAT_PENDING_CLOSE_OWNER,     /* GetNamespaceOwner for command.close: then DisconnectPeer */
        COMPAT_PENDING_DIRECT_OWNER,    /* GetNamespaceOwner for an event to one identifier */
        COMPAT_PENDING_SUBSCRIBE,       /* SUBSCRIBE: result, then the server event */
        COMPAT_PENDING_UNSUBSCRIBE,
        COMPAT_PENDING_REGISTER,        /* REGISTER with the new declaration: result, server event */
        COMPAT_PENDING_UNREGISTER,
};

struct compat_pending {
        struct compat_pending *next;
        uint64_t serial;                /* of the native frame sent */
        enum compat_pending_kind kind;
        int sequence;                   /* the original command's, -1: nothing to answer */
        uint64_t ack_serial;            /* EVENT: the PING whose PONG answers it */
        bool failed;                    /* EVENT_ACK: the event was refused */
        char *name;                     /* CLIENT/CLOSE/DIRECT: the identifier; REGISTER: the command;
                                           (UN)SUBSCRIBE: the source */
        char *event;                    /* (UN)SUBSCRIBE, DIRECT: the event name */
        char *body;                     /* DIRECT: the payload to send */
};

/* A CALL forwarded to this original client, answered by its command.result. */
struct compat_call {
        struct compat_call *next;
        int sequence;                   /* the one the client was given */
        uint64_t serial;                /* the CALL's */
        char sender[24];                /* ":1.N": the RETURN's destination */
        usec_t deadline;                /* forgotten after it: the broker has answered Timeout */
};

struct compat_subscription {
        struct compat_subscription *next;
        char *source, *event;           /* as the original client wrote them */
        char *pattern;                  /* the native pattern; NULL: none (a server event) */
};

struct compat_command {
        struct compat_command *next;
        char *name;                     /* as registered */
        char *member;                   /* escaped */
};

struct mbus_compat_hub;

struct mbus_compat_conn {
        struct mbus_compat_hub *hub;    /* borrowed; NULL in unit tests */
        struct mbus_compat_conn *prev, *next;   /* hub list */
        int fd;                         /* owned; -EBADF in unit tests */
        sd_event_source *io_source;     /* owned */
        uint32_t io_events;
        struct mbus_peer *peer;         /* borrowed: NULL before the peer exists and once it is gone */
        struct mbus_message_link *link; /* a reference */
        char address[64];               /* "127.0.0.1:41234" or the socket path, for status */
        int port;

        uint8_t *in;                    /* socket bytes not yet a whole frame */
        size_t in_len, in_cap;
        uint8_t *out;                   /* original frames not yet written */
        size_t out_start, out_end, out_cap;
        size_t max_frame;               /* the broker's --max-frame-size */
        bool pushed;                    /* frames went into the link: the peer must read */

        enum compat_state state;
        char *identifier;               /* as the client named itself (or was named) */
        char *ns;                       /* its namespace (escaped) */
        bool zlib;                      /* zlib agreed (after the create answer) */
        int create_sequence;
        int ping_interval, ping_timeout, ping_threshold;        /* ms, as agreed at create */
        usec_t last_rx;                 /* when the client's last frame arrived */
        uint64_t next_serial;
        int next_call_sequence;         /* for calls forwarded to the client */
        int event_sequence;             /* of events sent to the client */

        struct compat_pending *pending;
        struct compat_call *calls;
        struct compat_subscription *subscriptions;
        struct compat_command *commands;
        /* One parser for the connection's frames and bodies, reset per use: a new one per frame
         * cost an allocation of its stack and a free every time. */
        struct json_tokener *tok;
};

/* compat.c */
/* Appends one original frame (JSON text) to conn's output; zlib as agreed unless never_zlib. */
int mbus_compat_conn_send_json(struct mbus_compat_conn *conn, json_object *o, bool never_zlib);
/* Pushes one native frame into the link. Returns 0 or negative errno. */
int mbus_compat_conn_push(struct mbus_compat_conn *conn, struct mbus_frame *frame);
/* Every live connection of the hub (NULL-terminated list via ->next). */
struct mbus_compat_conn *mbus_compat_hub_first(struct mbus_compat_hub *hub);
/* The connection whose peer has this id, or NULL. */
struct mbus_compat_conn *mbus_compat_hub_find_peer(struct mbus_compat_hub *hub, uint64_t peer_id);
/* CLOCK_MONOTONIC now (the broker's, or the system's in unit tests). */
usec_t mbus_compat_now(const struct mbus_compat_conn *conn);
/* Random 32 bits for generated identifiers. */
uint32_t mbus_compat_random(void);

/* compat-translate.c */
/* Initialises the translation state of a new connection. */
void mbus_compat_conn_init(struct mbus_compat_conn *conn, size_t max_frame);
/* Frees what the translation state owns. */
void mbus_compat_conn_done(struct mbus_compat_conn *conn);
/*
 * Handles one original frame (its JSON text). Returns 0, or a negative errno after which the
 * connection is to be closed (-EBADMSG: malformed; *ret_reason names the fault).
 */
int mbus_compat_from_original(struct mbus_compat_conn *conn, const char *text, size_t len,
                              const char **ret_reason);
/* Handles one native frame the broker sent the peer. Returns 0 or negative errno (close). */
int mbus_compat_from_native(struct mbus_compat_conn *conn, struct mbus_frame *frame);
/* Tells every original client that subscribed to it the server event name about conn. */
void mbus_compat_server_event(struct mbus_compat_conn *conn, const char *name, json_object *payload);
