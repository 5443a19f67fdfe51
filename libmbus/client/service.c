/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Serving namespaces: REGISTER/UNREGISTER, the per-namespace handler table, and requests.
 *
 * REGISTER declares what the service offers: each handler's name, and where the service
 * described it (mbus_register_with_interface()), the member with its argument types in the
 * canonical JSON form of interface files, which the broker parses, checks and then enforces.
 * The library checks only names and that each type is there: the type grammar is the broker's
 * (conf/idl.c), which answers a bad type with InvalidArgs naming it, so there is one parser.
 *
 * An incoming CALL becomes a struct mbus_request that holds the CALL frame (its namespace,
 * member and sender strings point into it) and a reference on the connection. A request is
 * answered exactly once:
 *   - by mbus_request_reply() / mbus_request_reply_error(), now or later;
 *   - else, when the handler returns: its negative errno as the matching error name, or, if it
 *     returned >= 0 and kept no reference, an empty result {};
 *   - else, when its last reference goes without an answer: org.mbus.Error.Failed, so the
 *     caller learns of it at once instead of waiting for its timeout.
 * The reply carries reply_serial = the CALL's serial and destination = its sender, which is
 * all the broker needs to route it back.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1     /* vasprintf() */
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn-internal.h"
#include "proto/names.h"
#include "util/json-util.h"

static struct mbus_service *service_find(struct mbus_conn *conn, const char *ns) {
        for (struct mbus_service *s = conn->services; s; s = s->next)
                if (strcmp(s->ns, ns) == 0)
                        return s;
        return NULL;
}

static struct mbus_service *service_free(struct mbus_service *s) {
        if (!s)
                return NULL;
        free(s->ns);
        free(s);
        return NULL;
}

bool mbus_conn_drop_service(struct mbus_conn *conn, const char *ns) {
        for (struct mbus_service **p = &conn->services; *p; p = &(*p)->next)
                if (strcmp((*p)->ns, ns) == 0) {
                        struct mbus_service *s = *p;

                        *p = s->next;
                        service_free(s);
                        return true;
                }
        return false;
}

void mbus_conn_free_services(struct mbus_conn *conn) {
        while (conn->services) {
                struct mbus_service *s = conn->services;

                conn->services = s->next;
                service_free(s);
        }
}

static int register_add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int register_append(json_object *a, json_object *v) {
        if (!v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* A NULL-name-terminated list of arguments: valid names and types present; how many in *ret_n. */
static bool register_args_are_valid(const struct mbus_arg_decl *args, size_t *ret_n) {
        size_t n = 0;

        for (; args && args[n].name; n++)
                if (!mbus_member_is_valid(args[n].name) || !args[n].type || !args[n].type[0])
                        return false;
        *ret_n = n;
        return true;
}

/* Arguments as the canonical JSON form has them: [{"name", "type", "optional"?}, ...]. */
static int register_args(const struct mbus_arg_decl *args, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; args && args[i].name; i++) {
                _cleanup_json_ json_object *o = json_object_new_object();

                if (!o)
                        return -ENOMEM;
                r = register_add(o, "name", json_object_new_string(args[i].name));
                if (r >= 0)
                        r = register_add(o, "type", json_object_new_string(args[i].type));
                if (r >= 0 && args[i].optional)
                        r = register_add(o, "optional", json_object_new_boolean(true));
                if (r >= 0)
                        r = register_append(a, TAKE_PTR(o));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* One typed member in the canonical JSON member form (mbus-protocol(7), REGISTER). */
static int register_member(const struct mbus_member_decl *m, bool event, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *in = NULL, *out = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = register_add(o, "name", json_object_new_string(m->name));
        if (r >= 0 && m->doc)
                r = register_add(o, "doc", json_object_new_string(m->doc));
        if (r >= 0)
                r = register_args(m->in, &in);
        if (r >= 0)
                r = register_add(o, event ? "args" : "in", TAKE_PTR(in));
        if (r >= 0 && !event)
                r = register_args(m->out, &out);
        if (r >= 0 && !event)
                r = register_add(o, "out", TAKE_PTR(out));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static const struct mbus_member_decl *register_find(const struct mbus_member_decl *list, const char *name) {
        for (size_t i = 0; list && list[i].name; i++)
                if (strcmp(list[i].name, name) == 0)
                        return &list[i];
        return NULL;
}

/* Names valid and once per list, every argument valid, every described procedure served. */
static bool register_interface_is_valid(const struct mbus_interface *iface, const struct mbus_procedure *procedures,
                                        size_t n_procedures) {
        for (int pass = 0; pass < 2; pass++) {
                const struct mbus_member_decl *list = pass == 0 ? iface->procedures : iface->events;

                for (size_t i = 0; list && list[i].name; i++) {
                        bool served = pass == 1;
                        size_t n_in, n_out;

                        if (!mbus_member_is_valid(list[i].name) || register_find(list, list[i].name) != &list[i])
                                return false;
                        if (!register_args_are_valid(list[i].in, &n_in) || !register_args_are_valid(list[i].out, &n_out))
                                return false;
                        if (pass == 1 && list[i].out)
                                return false;
                        for (size_t k = 0; k < n_procedures && !served; k++)
                                served = strcmp(procedures[k].name, list[i].name) == 0;
                        if (!served)
                                return false;
                }
        }
        return true;
}

/*
 * The REGISTER body: every handler's name, as an object with its types where iface describes
 * it, and the events, as names (events) or typed objects (iface->events).
 */
static int register_body(const struct mbus_procedure *procedures, size_t n_procedures, const char *const *events,
                         const struct mbus_interface *iface, json_object **ret) {
        _cleanup_json_ json_object *body = json_object_new_object(), *procs = json_object_new_array(),
                                   *evs = json_object_new_array();
        int r;

        if (!body || !procs || !evs)
                return -ENOMEM;
        for (size_t i = 0; i < n_procedures; i++) {
                const struct mbus_member_decl *m = iface ? register_find(iface->procedures, procedures[i].name) : NULL;
                json_object *v = NULL;

                if (m) {
                        r = register_member(m, /* event= */ false, &v);
                        if (r < 0)
                                return r;
                } else
                        v = json_object_new_string(procedures[i].name);
                r = register_append(procs, v);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; events && events[i]; i++) {
                r = register_append(evs, json_object_new_string(events[i]));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; iface && iface->events && iface->events[i].name; i++) {
                json_object *v = NULL;

                r = register_member(&iface->events[i], /* event= */ true, &v);
                if (r >= 0)
                        r = register_append(evs, v);
                if (r < 0)
                        return r;
        }

        r = iface && iface->doc ? register_add(body, "doc", json_object_new_string(iface->doc)) : 0;
        if (r >= 0)
                r = register_add(body, "procedures", TAKE_PTR(procs));
        if (r >= 0)
                r = register_add(body, "events", TAKE_PTR(evs));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(body);
        return 0;
}

static int register_namespace(struct mbus_conn *conn, const char *ns, const struct mbus_procedure *procedures,
                              size_t n_procedures, const char *const *events, const struct mbus_interface *iface,
                              void *userdata, struct mbus_error *ret_error) {
        _cleanup_json_ json_object *body = NULL;
        struct mbus_service *s;
        int r;

        if (!conn || !ns || !mbus_namespace_is_valid(ns))
                return -EINVAL;
        if (n_procedures > 0 && !procedures)
                return -EINVAL;
        for (size_t i = 0; i < n_procedures; i++)
                if (!procedures[i].name || !mbus_member_is_valid(procedures[i].name) || !procedures[i].handler)
                        return -EINVAL;
        for (size_t i = 0; events && events[i]; i++)
                if (!mbus_member_is_valid(events[i]))
                        return -EINVAL;
        if (iface && !register_interface_is_valid(iface, procedures, n_procedures))
                return -EINVAL;

        if (service_find(conn, ns))
                return mbus_conn_error_set(ret_error, MBUS_ERROR_NAMESPACE_TAKEN,
                                           "Namespace already registered on this connection");

        r = register_body(procedures, n_procedures, events, iface, &body);
        if (r < 0)
                return r;

        /* Allocated first: once the broker said yes, nothing may fail. */
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ns = strdup(ns);
        if (!s->ns) {
                service_free(s);
                return -ENOMEM;
        }
        s->procedures = procedures;
        s->n_procedures = n_procedures;
        s->userdata = userdata;

        r = mbus_conn_call_control(conn, MBUS_FRAME_REGISTER,
                                   &(struct mbus_frame_fields) { .namespace = ns }, body, ret_error);
        if (r < 0) {
                service_free(s);
                return r;
        }

        s->next = conn->services;
        conn->services = s;
        return 0;
}

_public_ int mbus_register(struct mbus_conn *conn, const char *ns, const struct mbus_procedure *procedures,
                           size_t n_procedures, const char *const *events, void *userdata,
                           struct mbus_error *ret_error) {
        return register_namespace(conn, ns, procedures, n_procedures, events, /* iface= */ NULL, userdata,
                                  ret_error);
}

_public_ int mbus_register_with_interface(struct mbus_conn *conn, const char *ns,
                                          const struct mbus_procedure *procedures, size_t n_procedures,
                                          const struct mbus_interface *interface, void *userdata,
                                          struct mbus_error *ret_error) {
        return register_namespace(conn, ns, procedures, n_procedures, /* events= */ NULL, interface, userdata,
                                  ret_error);
}

_public_ int mbus_unregister(struct mbus_conn *conn, const char *ns, struct mbus_error *ret_error) {
        int r;

        if (!conn || !ns || !mbus_namespace_is_valid(ns))
                return -EINVAL;

        r = mbus_conn_call_control(conn, MBUS_FRAME_UNREGISTER,
                                   &(struct mbus_frame_fields) { .namespace = ns }, NULL, ret_error);
        if (r < 0)
                return r;

        (void) mbus_conn_drop_service(conn, ns);
        return 0;
}

/* ---- replies ----------------------------------------------------------------------------- */

static int reply_error_to(struct mbus_conn *conn, const struct mbus_frame *call, const char *name,
                          const char *message) {
        _cleanup_json_ json_object *body = NULL;

        body = json_object_new_object();
        if (!body || json_object_object_add(body, "message", json_object_new_string(message ? message : "")) < 0)
                return -ENOMEM;

        return mbus_conn_send(conn, MBUS_FRAME_ERROR,
                              &(const struct mbus_frame_fields) {
                                      .reply_serial = call->f.serial,
                                      .destination = call->f.sender,
                                      .error_name = name,
                              }, body);
}

_public_ int mbus_request_reply(struct mbus_request *request, json_object *result) {
        if (!request)
                return -EINVAL;
        if (request->replied)
                return -EALREADY;
        request->replied = true;

        return mbus_conn_send(request->conn, MBUS_FRAME_RETURN,
                              &(const struct mbus_frame_fields) {
                                      .reply_serial = request->call->f.serial,
                                      .destination = request->call->f.sender,
                              }, result);
}

static int request_reply_errorv(struct mbus_request *request, const char *name, const char *format,
                                va_list ap) _printf_(3, 0);
static int request_reply_errorv(struct mbus_request *request, const char *name, const char *format,
                                va_list ap) {
        _cleanup_free_ char *message = NULL;

        if (!request || !name || !mbus_error_name_is_valid(name))
                return -EINVAL;
        if (request->replied)
                return -EALREADY;

        if (format && vasprintf(&message, format, ap) < 0)
                return -ENOMEM;

        request->replied = true;
        return reply_error_to(request->conn, request->call, name, message);
}

_public_ int mbus_request_reply_error(struct mbus_request *request, const char *name, const char *format,
                                      ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = request_reply_errorv(request, name, format, ap);
        va_end(ap);
        return r;
}

/* ---- requests ---------------------------------------------------------------------------- */

_public_ struct mbus_request *mbus_request_ref(struct mbus_request *request) {
        if (request)
                request->n_ref++;
        return request;
}

_public_ struct mbus_request *mbus_request_unref(struct mbus_request *request) {
        if (!request || --request->n_ref > 0)
                return NULL;

        if (!request->replied)
                (void) mbus_request_reply_error(request, MBUS_ERROR_FAILED, "Request dropped without a reply");
        mbus_frame_unref(request->call);
        mbus_conn_unref(request->conn);
        free(request->groups);
        free(request);
        return NULL;
}
MBUS_DEFINE_CLEANUP(struct mbus_request *, mbus_request_unref);

_public_ const char *mbus_request_get_namespace(const struct mbus_request *request) {
        return request ? request->call->f.namespace : NULL;
}

_public_ const char *mbus_request_get_procedure(const struct mbus_request *request) {
        return request ? request->call->f.member : NULL;
}

_public_ const char *mbus_request_get_sender(const struct mbus_request *request) {
        return request ? request->call->f.sender : NULL;
}

_public_ const struct mbus_caller *mbus_request_get_caller(const struct mbus_request *request) {
        return request ? &request->caller : NULL;
}

_public_ bool mbus_caller_in_group(const struct mbus_caller *caller, gid_t gid) {
        if (!caller || !caller->has_unix_ids)
                return false;
        if (caller->gid == gid)
                return true;
        for (size_t i = 0; i < caller->n_groups; i++)
                if (caller->groups[i] == gid)
                        return true;
        return false;
}

/* The caller_* fields of call (checked by the frame parser) -> request->caller. */
static int request_read_caller(struct mbus_request *request) {
        const struct mbus_frame_fields *f = &request->call->f;
        struct mbus_caller *c = &request->caller;

        *c = (struct mbus_caller) {
                .id = f->sender,
                .name = f->caller_name,
                .has_unix_ids = f->has_caller_ids,
                .uid = f->has_caller_ids ? (uid_t) f->caller_uid : (uid_t) -1,
                .gid = f->has_caller_ids ? (gid_t) f->caller_gid : (gid_t) -1,
                .pid = (pid_t) f->caller_pid,
                .address = f->caller_address,
                .cert_cn = f->caller_cert_cn,
                .cert_fingerprint = f->caller_cert_fingerprint,
        };

        if (f->caller_groups) {
                size_t n = 1;
                const char *p = f->caller_groups;

                for (const char *q = p; *q; q++)
                        n += *q == ',';
                request->groups = calloc(n, sizeof(gid_t));
                if (!request->groups)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        char *end;

                        request->groups[i] = (gid_t) strtoul(p, &end, 10);
                        p = *end == ',' ? end + 1 : end;
                }
                c->groups = request->groups;
                c->n_groups = n;
        }
        return 0;
}

_public_ struct mbus_conn *mbus_request_get_conn(const struct mbus_request *request) {
        return request ? request->conn : NULL;
}

int mbus_conn_dispatch_call(struct mbus_conn *conn, struct mbus_frame *frame) {
        _cleanup_(mbus_request_unrefp) struct mbus_request *request = NULL;
        _cleanup_json_ json_object *args = NULL;
        const struct mbus_procedure *proc = NULL;
        struct mbus_service *s;
        char buf[512];
        int r;

        s = service_find(conn, frame->f.namespace);
        if (!s) {
                (void) snprintf(buf, sizeof(buf), "Namespace %s is not served here", frame->f.namespace);
                return reply_error_to(conn, frame, MBUS_ERROR_NO_SUCH_NAMESPACE, buf);
        }

        for (size_t i = 0; i < s->n_procedures; i++)
                if (strcmp(s->procedures[i].name, frame->f.member) == 0) {
                        proc = &s->procedures[i];
                        break;
                }
        if (!proc) {
                (void) snprintf(buf, sizeof(buf), "Unknown procedure %s.%s", frame->f.namespace,
                                frame->f.member);
                return reply_error_to(conn, frame, MBUS_ERROR_UNKNOWN_PROCEDURE, buf);
        }

        if (mbus_conn_parse_body(conn, frame, &args) < 0)
                return reply_error_to(conn, frame, MBUS_ERROR_INVALID_ARGS, "Arguments are not valid JSON");

        request = calloc(1, sizeof(*request));
        if (!request)
                return reply_error_to(conn, frame, MBUS_ERROR_FAILED, strerror(ENOMEM));
        request->n_ref = 1;
        request->conn = mbus_conn_ref(conn);
        request->call = mbus_frame_ref(frame);
        r = request_read_caller(request);
        if (r < 0)
                return mbus_request_reply_error(request, MBUS_ERROR_FAILED, "%s", strerror(-r));

        r = proc->handler(request, args, s->userdata);      /* s may be gone after this */
        if (!request->replied) {
                if (r < 0)
                        (void) mbus_request_reply_error(request, mbus_errno_to_error_name(r), "%s", strerror(-r));
                else if (request->n_ref == 1) {
                        _cleanup_json_ json_object *empty = json_object_new_object();

                        (void) mbus_request_reply(request, empty);
                }
        }
        return 0;
}
