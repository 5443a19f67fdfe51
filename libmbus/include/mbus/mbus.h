/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* libmbus: the client library of the mbus message bus. */

/*
 * A connection (struct mbus_conn) is an opaque, reference-counted handle on one connection to
 * the broker. It is not thread-safe: use it from one thread. It runs in any event loop: poll
 * mbus_conn_get_fd() for mbus_conn_get_events() until mbus_conn_get_timeout(), then call
 * mbus_conn_process() until it returns 0; or attach it to an sd-event loop and let the loop do
 * that. Synchronous calls (mbus_call(), mbus_register(), mbus_subscribe(), ...) run a private
 * loop on the connection until their reply arrives, dispatching nothing else meanwhile: frames
 * that arrive in between are kept and dispatched by the next mbus_conn_process().
 *
 * Every function returns a negative errno on failure. Where the broker or a service answered
 * with a named error, the call also fills the struct mbus_error the caller passed (may be
 * NULL), and the errno is the one mbus_error_name_to_errno() gives for that name. -EINVAL
 * always means the caller passed a bad argument (a NULL connection, an invalid name, ...).
 * A broken connection gives -ENOTCONN to every later operation; pending asynchronous calls are
 * then completed with MBUS_ERROR_DISCONNECTED.
 *
 * JSON values are json-c objects. Arguments passed in are borrowed (the library takes its own
 * reference if it needs one); values handed to callbacks are borrowed for the duration of the
 * callback (take a reference with json_object_get() to keep one); values returned through
 * ret_* pointers belong to the caller. A NULL json_object stands for JSON null / no body.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include <mbus/mbus-errors.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mbus_conn;
struct mbus_request;
struct mbus_slot;
typedef struct sd_event sd_event;

/* The broker's own namespace. */
#define MBUS_BROKER_NAMESPACE "org.mbus.Broker"

/* Default timeout of a call, in microseconds, when the caller passes 0. */
#define MBUS_CALL_TIMEOUT_DEFAULT_USEC (25ULL * 1000000ULL)
/* Pass as a timeout to wait forever (the broker still applies its own upper bound). */
#define MBUS_TIMEOUT_INFINITY UINT64_MAX

/* ---- Connections ------------------------------------------------------------------------ */

/*
 * Connects to the broker at address and completes the handshake (HELLO/WELCOME), blocking
 * until it is done. address may be NULL for the default bus, chosen in this order:
 *   1. $MBUS_ADDRESS, if set and not empty;
 *   2. the user bus, $XDG_RUNTIME_DIR/mbus/socket, if this process runs in a user session:
 *      $XDG_RUNTIME_DIR is set to an absolute path, the directory is owned by our effective
 *      uid, and that socket exists;
 *   3. else the system bus: $MBUS_SYSTEM_ADDRESS if set and not empty, else /run/mbus/socket.
 * systemd sets $XDG_RUNTIME_DIR in login sessions and for the services of the user manager,
 * but not for system services, also with User= or DynamicUser=, so these reach the system bus
 * (a system unit with PAMName= opens a session: it should call mbus_conn_open_system()). A
 * program that knows which bus it wants says so with mbus_conn_open_system() or
 * mbus_conn_open_user(). Addresses
 * (mbus-protocol(7)): a plain absolute path or unix:PATH names a UNIX socket; tcp://HOST:PORT
 * plain TCP; tls://HOST[:PORT][?cert=FILE&key=FILE&ca=FILE&name=NAME] TLS, with the client
 * certificate, key and CA bundle from those parameters or else from $MBUS_TLS_CERT,
 * $MBUS_TLS_KEY and $MBUS_TLS_CA (the system's CA store without either), and the server's
 * certificate verified for NAME (HOST by default). client_name (may be NULL: the program name
 * is used) is shown to administrators in org.mbus.Broker.ListPeers. Returns 0 and the new
 * connection (one reference) in *ret; -ENOENT/-ECONNREFUSED if no broker listens there;
 * -EHOSTUNREACH if HOST does not resolve; -EPROTO if the TLS handshake fails (a certificate
 * refused by either side); -ETIMEDOUT if it does not finish in 25 s; -EBADMSG if the broker
 * speaks another protocol; -ENOBUFS if the broker is full or this user holds its share of
 * connections; -EINVAL for a bad address; -ENOMEM.
 */
int mbus_conn_open(struct mbus_conn **ret, const char *address, const char *client_name);

/*
 * mbus_conn_open() that also says why it failed: on failure, error (may be NULL) holds the
 * broker's error (MBUS_ERROR_LIMITS_EXCEEDED with the broker's message when it refused the
 * connection as full or over the user's quota, even if it closed before reading our HELLO),
 * or MBUS_ERROR_DISCONNECTED with a message naming the reason (the TLS
 * handshake's: "certificate verification failed: certificate has expired"). Release it with
 * mbus_error_free().
 */
int mbus_conn_open_with_error(struct mbus_conn **ret, const char *address, const char *client_name,
                              struct mbus_error *error);

/*
 * Connects to the system bus ($MBUS_SYSTEM_ADDRESS if set and not empty, else
 * /run/mbus/socket), whatever $MBUS_ADDRESS and the session say; otherwise as
 * mbus_conn_open_with_error() (error may be NULL).
 */
int mbus_conn_open_system(struct mbus_conn **ret, const char *client_name, struct mbus_error *error);

/*
 * Connects to the calling user's bus: $XDG_RUNTIME_DIR/mbus/socket, or
 * /run/user/UID/mbus/socket without $XDG_RUNTIME_DIR (UID: the effective uid), whatever
 * $MBUS_ADDRESS says; otherwise as mbus_conn_open_with_error() (error may be NULL).
 */
int mbus_conn_open_user(struct mbus_conn **ret, const char *client_name, struct mbus_error *error);

/*
 * mbus_conn_open_with_error() that gives up after timeout_usec (0: 25 s, the default), counted
 * from the call and covering the TLS handshake and HELLO/WELCOME: a socket that accepts but
 * never answers fails with -ETIMEDOUT then, with a message saying so in error.
 */
int mbus_conn_open_with_timeout(struct mbus_conn **ret, const char *address, const char *client_name,
                                uint64_t timeout_usec, struct mbus_error *error);

/* Takes a reference. Returns conn. Takes NULL. */
struct mbus_conn *mbus_conn_ref(struct mbus_conn *conn);

/*
 * Drops a reference; the last one flushes what is queued (without blocking), detaches from any
 * event loop, completes pending asynchronous calls with MBUS_ERROR_DISCONNECTED, closes the
 * connection and frees it. Returns NULL. Takes NULL.
 */
struct mbus_conn *mbus_conn_unref(struct mbus_conn *conn);

/* Closes the connection now (namespaces it owned are released by the broker); later
 * operations return -ENOTCONN. The handle stays valid until its last unref. */
void mbus_conn_close(struct mbus_conn *conn);

/* The unique id the broker assigned to this connection, such as ":1.42". Owned by conn. */
const char *mbus_conn_get_unique_id(const struct mbus_conn *conn);

/* True while the connection is usable. */
bool mbus_conn_is_open(const struct mbus_conn *conn);

/* ---- Running in an event loop ----------------------------------------------------------- */

/* The socket to poll. Returns the fd or -ENOTCONN. */
int mbus_conn_get_fd(const struct mbus_conn *conn);

/* The poll events to wait for on that fd (POLLIN, plus POLLOUT while output is queued).
 * Returns the mask or -ENOTCONN. */
int mbus_conn_get_events(const struct mbus_conn *conn);

/*
 * The CLOCK_MONOTONIC time (µs) by which mbus_conn_process() must be called even without I/O
 * (the next call deadline or keep-alive duty), or UINT64_MAX if none. Returns 0 or -ENOTCONN.
 */
int mbus_conn_get_timeout(const struct mbus_conn *conn, uint64_t *ret_usec);

/*
 * Does one bounded step of work: reads what has arrived, dispatches at most one incoming frame
 * (a reply to an asynchronous call, an event, an incoming call for a registered namespace),
 * expires timed-out calls, writes queued output. Returns 1 if it did something (call it again),
 * 0 if there was nothing to do (poll again), or a negative errno if the connection broke
 * (-ECONNRESET when the broker hung up, -EBADMSG when it sent a malformed frame).
 */
int mbus_conn_process(struct mbus_conn *conn);

/* Waits up to timeout_usec (UINT64_MAX: forever) for the connection to have work. Returns 1
 * if it has, 0 on timeout, -EINTR if interrupted by a signal, or another negative errno. */
int mbus_conn_wait(struct mbus_conn *conn, uint64_t timeout_usec);

/* Writes all queued output, blocking until it is sent. Returns 0 or a negative errno. */
int mbus_conn_flush(struct mbus_conn *conn);

/*
 * Attaches conn to an sd-event loop (NULL: the thread's default loop) at priority; from then
 * on the loop drives I/O, timeouts and callbacks, up to 64 frames per wake-up (fewer once the
 * loop is asked to exit or the connection is detached: a callback that calls sd_event_exit() is
 * the last to run). Returns 0, -EBUSY if already attached, -ENOMEM. The connection holds a
 * reference on the loop until detached or freed.
 */
int mbus_conn_attach_event(struct mbus_conn *conn, sd_event *event, int64_t priority);

/* Detaches from the loop. Returns 0 (also if not attached). */
int mbus_conn_detach_event(struct mbus_conn *conn);

/*
 * Runs a loop on the connection alone until mbus_conn_exit() is called from a callback or the
 * connection breaks. Convenient for simple services and tools. Returns the code passed to
 * mbus_conn_exit(), or a negative errno if the connection broke.
 */
int mbus_conn_run(struct mbus_conn *conn);

/* Makes mbus_conn_run() return code after the current callback. */
void mbus_conn_exit(struct mbus_conn *conn, int code);

/*
 * Told once when the connection breaks (the broker stopped or hung up: error is -ECONNRESET;
 * a malformed frame: -EBADMSG; ...), from mbus_conn_process() (so from the attached loop or
 * mbus_conn_run()), after every pending call has completed with MBUS_ERROR_DISCONNECTED and the
 * socket is closed. Not called for mbus_conn_close() or the last unref. The connection is
 * unusable from then on: a service reconnects with a new one, or exits and lets its service
 * manager restart it. conn stays valid during the call; the handler may unref it.
 */
typedef void (*mbus_disconnect_handler_t)(struct mbus_conn *conn, int error, void *userdata);

/* Sets (or with NULL clears) the disconnect handler. Returns 0 or -EINVAL. */
int mbus_conn_set_disconnect_handler(struct mbus_conn *conn, mbus_disconnect_handler_t handler, void *userdata);

/*
 * If b, a broken connection also ends the sd-event loop it is attached to, with
 * sd_event_exit(loop, error) (after the disconnect handler), so sd_event_loop() returns the
 * negative errno and a service run by systemd exits with a failure and is restarted
 * (Restart=on-failure). Off by default. mbus_conn_run() returns the error in any case.
 * Returns 0 or -EINVAL.
 */
int mbus_conn_set_exit_on_disconnect(struct mbus_conn *conn, bool b);

/* ---- Calling procedures ------------------------------------------------------------------ */

/*
 * Calls procedure of namespace ns with args (NULL: no arguments) and waits for the answer.
 * timeout_usec 0 means MBUS_CALL_TIMEOUT_DEFAULT_USEC. On success returns 0 and the result in
 * *ret_result (may be NULL; pass ret_result NULL to drop it). If the call failed with a named
 * error (the service's or one of org.mbus.Error.*), returns its errno and fills *ret_error;
 * mbus_conn_get_error_sender() then tells whether the service or the broker sent it.
 * Returns -ETIMEDOUT (MBUS_ERROR_TIMEOUT) if no answer came in time, -EBADE
 * (MBUS_ERROR_INVALID_REPLY, the message names ns and procedure) if the service answered with
 * a result that is not valid JSON.
 */
int mbus_call(struct mbus_conn *conn, const char *ns, const char *procedure, json_object *args,
              uint64_t timeout_usec, json_object **ret_result, struct mbus_error *ret_error);

/*
 * Called exactly once for an asynchronous call: with result set and error NULL on success, or
 * with result NULL and error set (MBUS_ERROR_INVALID_REPLY if the service's result was not
 * valid JSON; mbus_conn_get_error_sender(conn) says who sent the error). Its return value is
 * ignored.
 */
typedef int (*mbus_reply_handler_t)(struct mbus_conn *conn, json_object *result,
                                    const struct mbus_error *error, void *userdata);

/*
 * Sends a call and returns at once; handler runs from mbus_conn_process() when the answer
 * arrives, the call times out or the connection breaks. If ret_slot is not NULL, *ret_slot
 * gets a slot whose mbus_slot_free() cancels the call (the handler then never runs). Returns 0
 * or a negative errno (the handler will not run then).
 */
int mbus_call_async(struct mbus_conn *conn, const char *ns, const char *procedure,
                    json_object *args, uint64_t timeout_usec, mbus_reply_handler_t handler,
                    void *userdata, struct mbus_slot **ret_slot);

/*
 * Who sent the error of the call that completed last with one: the peer id (":1.N") of the
 * service that answered with an ERROR, or NULL if the broker or libmbus itself made the error
 * (Timeout, NoSuchNamespace, AccessDenied by policy, Disconnected, InvalidReply, ...). Valid
 * after a synchronous call (mbus_call(), ...) returned an error, and inside an asynchronous
 * call's reply handler; the string is the connection's, until the next call completes.
 * Services may answer with names of org.mbus.Error too (a libmbus service answers an unknown
 * procedure with UnknownProcedure, and its handlers may use AccessDenied or Timeout for their
 * own reasons): this is how a caller tells them from the broker's (man mbus-protocol(7),
 * ERRORS). NULL also for a NULL conn.
 */
const char *mbus_conn_get_error_sender(const struct mbus_conn *conn);

/* Sends a PING to the broker and waits for its PONG: proves every frame sent before has been
 * processed by the broker. Returns 0 or a negative errno. */
int mbus_ping(struct mbus_conn *conn, uint64_t timeout_usec);

/* ---- Serving a namespace ----------------------------------------------------------------- */

/*
 * Handles one incoming call. args is the call's JSON arguments (borrowed). Reply with
 * mbus_request_reply() or mbus_request_reply_error(), now or later (take a reference with
 * mbus_request_ref() to reply after returning). If the handler returns a negative errno
 * without having replied, the library replies with the error mbus_errno_to_error_name() gives.
 * If the handler returns >= 0, has not replied and holds no reference, the library replies
 * with an empty result ({}).
 */
typedef int (*mbus_procedure_handler_t)(struct mbus_request *request, json_object *args,
                                        void *userdata);

struct mbus_procedure {
        const char *name;                       /* member name, such as "GetState" */
        mbus_procedure_handler_t handler;
};

/*
 * Registers namespace ns for this connection with procedures (n_procedures entries; the
 * table must outlive the registration) and declares the events it emits (a NULL-terminated
 * list of member names, or NULL). A call of a procedure not in the table is answered with
 * MBUS_ERROR_UNKNOWN_PROCEDURE by the library. userdata is passed to every handler. Waits for
 * the broker's answer: returns 0, -EEXIST (MBUS_ERROR_NAMESPACE_TAKEN) if another peer owns ns
 * or this connection has it registered already, -EACCES if policy denies it, or another errno
 * with ret_error filled.
 *
 * The broker may take a namespace away later: when a configuration reload no longer lets this
 * connection own it (or its new interface file does not cover the declared procedures), the
 * broker unregisters it and sends this connection the direct event
 * org.mbus.Broker.NamespaceLost with payload {"namespace": ns, "reason": "..."}. The library
 * then drops its registration of ns (its handler table is no longer used, and ns may be
 * registered again on this connection) and dispatches the event like any other: subscribe to
 * "org.mbus.Broker.NamespaceLost" (or a pattern matching it) to be told. The registration is
 * dropped before that handler runs, so the handler may call mbus_register() again.
 */
int mbus_register(struct mbus_conn *conn, const char *ns, const struct mbus_procedure *procedures,
                  size_t n_procedures, const char *const *events, void *userdata,
                  struct mbus_error *ret_error);

/*
 * Declaring argument types. A service may say what its procedures take and return and what
 * its events carry, in the model of interface files (mbus-introspection(5)), so that
 * org.mbus.Broker.Introspect (and mbus-introspect) shows the types instead of "?" and the
 * broker checks every call and event of these members as it checks those of a namespace with
 * an interface file: a call whose arguments do not fit is answered with
 * MBUS_ERROR_INVALID_ARGS by the broker and never reaches the service. An interface file for
 * the namespace, if the broker has one, wins: Introspect shows the file and calls are checked
 * against it; the declared names must then be in the file, as for mbus_register().
 *
 * Lists end with an entry whose name is NULL ({ NULL }); a NULL list means an empty one. The
 * tables are read during the call only.
 */
struct mbus_arg_decl {
        const char *name;               /* "interface": letters, digits and '_' */
        /* "string", "int", "double" (an int is accepted too), "bool", "object", "any",
         * "array<T>", and "?T" for a nullable T (JSON null accepted), as in interface files */
        const char *type;
        bool optional;                  /* an input the caller may leave out; not for outputs */
};

struct mbus_member_decl {
        const char *name;               /* "GetState"; NULL ends a list */
        const char *doc;                /* documentation shown by Introspect; may be NULL */
        const struct mbus_arg_decl *in; /* a procedure's arguments, or an event's payload */
        const struct mbus_arg_decl *out;/* a procedure's results (its reply); NULL for an event */
};

struct mbus_interface {
        const char *doc;                           /* the namespace's documentation; may be NULL */
        const struct mbus_member_decl *procedures; /* typed procedures, each in the handler table */
        const struct mbus_member_decl *events;     /* the events the service emits, typed */
};

/*
 * mbus_register() with argument types: registers ns with the handler table procedures
 * (n_procedures entries) and declares interface (may be NULL: as mbus_register() without
 * events). A handler that interface->procedures does not describe is declared by name alone:
 * its arguments stay unknown ("?") and unchecked. Every procedure interface describes must be
 * in the handler table, and each name may appear once per list. Returns what mbus_register()
 * returns, and -EINVAL without asking the broker for a NULL or invalid name, a missing type or
 * a described procedure without a handler; -EINVAL with ret_error filled
 * (MBUS_ERROR_INVALID_ARGS, the message names the argument) if the broker refuses a type.
 */
int mbus_register_with_interface(struct mbus_conn *conn, const char *ns, const struct mbus_procedure *procedures,
                                 size_t n_procedures, const struct mbus_interface *interface, void *userdata,
                                 struct mbus_error *ret_error);

/* Gives ns up. Returns 0, -EPERM (MBUS_ERROR_NOT_OWNER) if this connection does not own it. */
int mbus_unregister(struct mbus_conn *conn, const char *ns, struct mbus_error *ret_error);

/* Takes / drops a reference on a request. Both take NULL. */
struct mbus_request *mbus_request_ref(struct mbus_request *request);
struct mbus_request *mbus_request_unref(struct mbus_request *request);

/* The namespace, procedure and caller's peer id of a request. Owned by the request. */
const char *mbus_request_get_namespace(const struct mbus_request *request);
const char *mbus_request_get_procedure(const struct mbus_request *request);
const char *mbus_request_get_sender(const struct mbus_request *request);
struct mbus_conn *mbus_request_get_conn(const struct mbus_request *request);

/*
 * Who made a call, as the broker saw it when the caller connected (mbus-protocol(7), "Caller
 * identity"): the broker attaches it to every call it forwards, so a handler can decide who
 * may do what without asking the broker. The library allocates this struct: later versions may
 * add members at the end, so never allocate or copy one yourself.
 */
struct mbus_caller {
        const char *id;                 /* peer id, ":1.40"; same as mbus_request_get_sender() */
        const char *name;               /* client name it gave at connect; NULL if none */
        bool has_unix_ids;              /* true for UNIX peers: uid and gid are set */
        uid_t uid;                      /* (uid_t) -1 unless has_unix_ids */
        gid_t gid;                      /* (gid_t) -1 unless has_unix_ids */
        pid_t pid;                      /* process id at connect time; 0 if unknown (network peers) */
        size_t n_groups;                /* supplementary groups (UNIX peers) */
        const gid_t *groups;
        const char *address;            /* network peers: "192.0.2.7:41234", "[::1]:41234"; else NULL */
        const char *cert_cn;            /* TLS peers with a client certificate: its subject CN; else NULL */
        const char *cert_fingerprint;   /* SHA-256 of that certificate, 64 lowercase hex digits; else NULL */
};

/*
 * The caller's identity of request, owned by the request (valid as long as it is). Never NULL
 * for a request the library dispatched; NULL if request is NULL. A broker older than this
 * library sends no identity (nor does one that did not grant the HELLO feature "caller",
 * mbus-protocol(7)): then only id is set.
 */
const struct mbus_caller *mbus_request_get_caller(const struct mbus_request *request);

/* True if caller is a UNIX peer whose primary or a supplementary group is gid. */
bool mbus_caller_in_group(const struct mbus_caller *caller, gid_t gid);

/* Replies with result (NULL: JSON null). Returns 0, -EALREADY if already answered. */
int mbus_request_reply(struct mbus_request *request, json_object *result);

/* Replies with a named error and a printf-formatted message. Returns 0, -EALREADY if already
 * answered, -EINVAL if name is not a valid error name. */
int mbus_request_reply_error(struct mbus_request *request, const char *name, const char *format,
                             ...) __attribute__((__format__(printf, 3, 4)));

/* ---- Events ------------------------------------------------------------------------------ */

/*
 * Emits event of namespace ns (which this connection must own) with payload (NULL: none) to
 * every subscriber. Queues the frame and returns without waiting: returns 0 or a negative
 * errno. A refusal by the broker (NotOwner, InvalidArgs, ...) arrives later and is dropped
 * (logged at debug level); use mbus_emit_wait() to learn whether the broker took the event.
 * Events are written by the batch: once 32 KiB of them are queued, or at the connection's next
 * flush, which mbus_conn_process(), mbus_conn_flush(), every synchronous call and closing do
 * first (mbus_conn_run(), an attached sd-event loop and any loop that polls for
 * mbus_conn_get_events() wake for it at once). A program that emits and then blocks elsewhere
 * calls mbus_conn_flush() first.
 */
int mbus_emit(struct mbus_conn *conn, const char *ns, const char *event, json_object *payload);

/* Like mbus_emit(), but sends the event to the one peer destination (":1.N") only. */
int mbus_emit_to(struct mbus_conn *conn, const char *destination, const char *ns,
                 const char *event, json_object *payload);

/*
 * Emits event like mbus_emit() (destination NULL) or mbus_emit_to() (destination a peer id),
 * with a payload given as JSON text: payload_len bytes at payload (NULL and 0: none), sent as
 * they are. For publishers that format their payloads themselves, which costs less than
 * building a json_object and having it serialized. The library does not parse the text: a
 * payload that is not JSON reaches raw subscribers as it is and is dropped for json_object
 * handlers (mbus_conn_get_unparsed_events()), unless the broker refuses it because ns has an
 * interface file. Returns what mbus_emit() returns; -EINVAL also for payload NULL with
 * payload_len > 0.
 */
int mbus_emit_raw(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                  const char *payload, size_t payload_len);

/*
 * Emits event like mbus_emit() (destination NULL) or mbus_emit_to() (destination a peer id),
 * then waits until the broker has routed or refused it: it sends a PING after the event, and
 * the broker, which handles a connection's frames in order, answers the PING only after the
 * event. timeout_usec 0 means MBUS_CALL_TIMEOUT_DEFAULT_USEC. Returns 0 once the broker has
 * routed the event (queued it to every subscriber it may reach; subscribers over their queue
 * limit miss it, see org.mbus.Broker.GetStats "events_dropped"). If the broker refused it,
 * returns the errno of its error and fills *ret_error (may be NULL) with the name and message:
 * -EPERM (MBUS_ERROR_NOT_OWNER) if this connection does not own ns, -EINVAL
 * (MBUS_ERROR_INVALID_ARGS, the error says which argument) if ns has an interface file that
 * does not declare event or payload does not match it, -EACCES (MBUS_ERROR_ACCESS_DENIED)
 * if policy does not let this connection send a direct event, -ESRCH (MBUS_ERROR_NO_SUCH_PEER)
 * for an unknown destination. -ETIMEDOUT (MBUS_ERROR_TIMEOUT) if the broker did not answer in
 * time. -EINVAL with *ret_error untouched means a bad argument (nothing was sent). Frames that
 * arrive meanwhile are kept for the next mbus_conn_process(), as with every synchronous call.
 */
int mbus_emit_wait(struct mbus_conn *conn, const char *destination, const char *ns, const char *event,
                   json_object *payload, uint64_t timeout_usec, struct mbus_error *ret_error);

/* One received event; the strings and payload are borrowed for the duration of the handler. */
struct mbus_event {
        const char *ns;
        const char *event;
        const char *sender;       /* peer id of the emitter, ":1.0" for the broker itself */
        bool direct;              /* true if it was sent to this connection alone */
        json_object *payload;
};
typedef int (*mbus_event_handler_t)(struct mbus_conn *conn, const struct mbus_event *event,
                                    void *userdata);

/*
 * Subscribes to events matching pattern ("*", "org.example.*", "org.example.Network.*",
 * "org.example.Network.StateChanged") and waits for the broker's answer. handler runs for each
 * matching event, once per event even if several subscriptions of this connection match
 * (each matching subscription's handler runs once). Direct events to this connection reach
 * every handler whose pattern matches them. *ret_slot (required) gets a slot whose
 * mbus_slot_free() unsubscribes. Returns 0, -EINVAL for an invalid pattern (ret_error
 * untouched), or a negative errno. If the broker refused the subscription, returns the errno of
 * its error and fills *ret_error (may be NULL) with its name and message: -EACCES
 * (MBUS_ERROR_ACCESS_DENIED) when policy does not let this connection see the one event an
 * exact pattern names (the message names the deciding rule and its file:line; wildcard patterns
 * are accepted and filtered per event instead), -ENOBUFS (MBUS_ERROR_LIMITS_EXCEEDED) over the
 * broker's limits.
 */
int mbus_subscribe(struct mbus_conn *conn, const char *pattern, mbus_event_handler_t handler,
                   void *userdata, struct mbus_slot **ret_slot, struct mbus_error *ret_error);

/*
 * One received event with its payload as the bytes that came on the wire: JSON text the library
 * has neither parsed nor checked. Everything is borrowed for the duration of the handler.
 */
struct mbus_event_raw {
        const char *ns;
        const char *event;
        const char *sender;       /* peer id of the emitter, ":1.0" for the broker itself */
        bool direct;              /* true if it was sent to this connection alone */
        const char *body;         /* the payload's JSON text, body_len bytes plus a NUL after
                                     them; "" (body_len 0) for an event without payload */
        size_t body_len;
};
typedef int (*mbus_event_raw_handler_t)(struct mbus_conn *conn, const struct mbus_event_raw *event,
                                        void *userdata);

/*
 * Like mbus_subscribe(), but handler gets the payload's bytes instead of a json_object: for
 * subscribers that parse only some events, parse with another library, or only count or
 * forward them. The library builds no json-c tree for an event unless a json_object handler
 * of this connection also matches it. A payload that is not valid JSON reaches raw handlers
 * as it is; json_object handlers never see it (it is dropped for them, as ever). Handlers of
 * both kinds run in the order their subscriptions were made. Returns what mbus_subscribe()
 * returns.
 */
int mbus_subscribe_raw(struct mbus_conn *conn, const char *pattern, mbus_event_raw_handler_t handler,
                       void *userdata, struct mbus_slot **ret_slot, struct mbus_error *ret_error);

/*
 * The number of events this connection received for a json_object handler (mbus_subscribe())
 * but could not hand to it because their payload was not valid JSON (the broker checks payloads
 * only for namespaces with an interface file, so a buggy or hostile emitter can send anything
 * elsewhere). Such an event is dropped for those handlers, counted here once and logged at debug
 * level (MBUS_DEBUG=1 in the environment shows it, with its namespace, name and sender); the
 * connection stays up. Raw handlers (mbus_subscribe_raw()) still get such an event and parse
 * nothing, so an event that only raw handlers match is never counted, nor is one that matches
 * no subscription. Counts from the connection's start and never goes down. Returns 0 and the
 * count in *ret, -EINVAL if conn or ret is NULL.
 */
int mbus_conn_get_unparsed_events(const struct mbus_conn *conn, uint64_t *ret);

/* Cancels what a slot stands for (a pending async call, a subscription). Returns NULL. Takes
 * NULL. A slot may be freed from inside its own callback. */
struct mbus_slot *mbus_slot_free(struct mbus_slot *slot);

#ifdef __cplusplus
}
#endif
