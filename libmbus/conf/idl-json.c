/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON form of an introspection file (json-c), and the same form received on the bus.
 *
 * json-c keeps no positions, so a file is read twice: json-c parses it (a syntax error gets
 * its line from the tokener's offset), then idl_json_scan() walks the now known-valid text
 * once (conf/json-lines.c) and records the start line of every element of the "procedures"/"events" arrays and of
 * their "in"/"out"/"args" arrays, keyed by where it sits (list, index, sub-list, index), so
 * lookups do not depend on the order of keys in the file. The scan also notices a known key
 * given twice in one object, which json-c would silently collapse to the last value.
 * The model is then built from the json_object tree by one walk shared with
 * mbus_idl_from_json(), where there are no lines (0) and the bus form's extra keys are allowed.
 * The walk reports each problem (mbus_file_error_add()) and goes on with the next key or
 * element: an element that cannot be taken (no name, not an object) is left out, one that is
 * only partly wrong is taken with what is right in it. Only -ENOMEM ends it early.
 */

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "conf/json-lines.h"
#include "util/json-util.h"
#include "util/macro.h"

#define IDL_JSON_DEPTH_MAX 32
static_assert(IDL_JSON_DEPTH_MAX <= MBUS_JSON_LINES_DEPTH_MAX, "the line scanner must follow the tokener");

enum idl_json_key {
        IDL_KEY_OTHER,
        IDL_KEY_NAMESPACE,
        IDL_KEY_DOC,
        IDL_KEY_PROCEDURES,
        IDL_KEY_EVENTS,
        IDL_KEY_NAME,
        IDL_KEY_IN,
        IDL_KEY_OUT,
        IDL_KEY_ARGS,
        IDL_KEY_TYPE,
        IDL_KEY_OPTIONAL,
        IDL_KEY_SOURCE,
        IDL_KEY_PATH,
        IDL_KEY_OWNER,
        IDL_KEY_SYSTEMD_SERVICE,
        IDL_KEY_EXEC,
        IDL_KEY_MAX_BODY_SIZE,
        IDL_KEY_MAX_BODY_DEPTH,
        _IDL_KEY_MAX,
};

static const char *const idl_json_key_names[_IDL_KEY_MAX] = {
        [IDL_KEY_OTHER] = "",
        [IDL_KEY_NAMESPACE] = "namespace",
        [IDL_KEY_DOC] = "doc",
        [IDL_KEY_PROCEDURES] = "procedures",
        [IDL_KEY_EVENTS] = "events",
        [IDL_KEY_NAME] = "name",
        [IDL_KEY_IN] = "in",
        [IDL_KEY_OUT] = "out",
        [IDL_KEY_ARGS] = "args",
        [IDL_KEY_TYPE] = "type",
        [IDL_KEY_OPTIONAL] = "optional",
        [IDL_KEY_SOURCE] = "source",
        [IDL_KEY_PATH] = "path",
        [IDL_KEY_OWNER] = "owner",
        [IDL_KEY_SYSTEMD_SERVICE] = "systemd-service",
        [IDL_KEY_EXEC] = "exec",
        [IDL_KEY_MAX_BODY_SIZE] = "max-body-size",
        [IDL_KEY_MAX_BODY_DEPTH] = "max-body-depth",
};

/* Where an element sits: list is IDL_KEY_PROCEDURES/EVENTS, sub IDL_KEY_IN/OUT/ARGS or OTHER
 * for the member itself. */
struct idl_json_pos {
        enum idl_json_key list, sub;
        size_t i, j;                            /* j is 0 for a member */
        size_t seq;                             /* document order */
        unsigned line;
};

struct idl_json {
        const char *path;
        struct mbus_file_error *err;
        bool bus;                               /* the bus form: no lines, extra keys allowed */
        bool infer_untyped;                     /* Introspect's reply: a declared member without lists is untyped */
        unsigned top_line;
        struct idl_json_pos *pos;
        size_t n_pos;
};

/* ---- element lines ---- */

static enum idl_json_key idl_json_key_from(const char *s, size_t len) {
        return mbus_json_lines_key(idl_json_key_names, _IDL_KEY_MAX, s, len);
}

/* Records the line of procedures[i]/events[i] and of their in/out/args[j]. */
static int idl_json_on_element(const struct mbus_json_lines_step *st, size_t depth, unsigned line, void *userdata) {
        struct idl_json *j = userdata;
        struct idl_json_pos p = { .line = line, .seq = j->n_pos };
        struct idl_json_pos *a;

        /* depth is the number of open containers; the new element sits in st[depth - 1]. */
        if (depth == 2 && st[0].object && !st[1].object &&
            (st[0].key == IDL_KEY_PROCEDURES || st[0].key == IDL_KEY_EVENTS)) {
                p.list = st[0].key;
                p.i = st[1].index;
        } else if (depth == 4 && st[0].object && !st[1].object && st[2].object && !st[3].object &&
                   (st[0].key == IDL_KEY_PROCEDURES || st[0].key == IDL_KEY_EVENTS) &&
                   (st[2].key == IDL_KEY_IN || st[2].key == IDL_KEY_OUT || st[2].key == IDL_KEY_ARGS)) {
                p.list = st[0].key;
                p.i = st[1].index;
                p.sub = st[2].key;
                p.j = st[3].index;
        } else
                return 0;

        if ((j->n_pos & (j->n_pos + 1)) == 0 || j->n_pos == 0) {
                /* capacity 1, 2 ... 2^k - 1 full: double */
                a = realloc(j->pos, (j->n_pos + 1) * 2 * sizeof(*a));
                if (!a)
                        return -ENOMEM;
                j->pos = a;
        }
        j->pos[j->n_pos++] = p;
        return 0;
}

/* text is valid JSON (json-c accepted it) nested at most IDL_JSON_DEPTH_MAX deep. */
static int idl_json_scan(struct idl_json *j, const char *text, size_t len, bool top_is_object) {
        const struct mbus_json_lines s = {
                .path = j->path,
                .err = j->err,
                .keys = idl_json_key_names,
                .n_keys = _IDL_KEY_MAX,
                .on_element = idl_json_on_element,
                .userdata = j,
        };
        unsigned top_line;
        int r;

        r = mbus_json_lines_scan(&s, text, len, &top_line);
        if (r < 0)
                return r;
        /* Errors about the top-level value name the line of its '{'; anything else is line 1. */
        if (top_is_object)
                j->top_line = top_line;
        return 0;
}

static int idl_json_pos_compare(const struct idl_json_pos *a, const struct idl_json_pos *b) {
        if (a->list != b->list)
                return a->list < b->list ? -1 : 1;
        if (a->i != b->i)
                return a->i < b->i ? -1 : 1;
        if (a->sub != b->sub)
                return a->sub < b->sub ? -1 : 1;
        if (a->j != b->j)
                return a->j < b->j ? -1 : 1;
        return 0;
}

static int idl_json_pos_compare_seq(const void *x, const void *y) {
        const struct idl_json_pos *a = x, *b = y;
        int c = idl_json_pos_compare(a, b);

        if (c != 0)
                return c;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorted once after the scan, so that a file with many elements costs n log n, not n^2. */
static void idl_json_pos_sort(struct idl_json *j) {
        if (j->n_pos > 1)
                qsort(j->pos, j->n_pos, sizeof(*j->pos), idl_json_pos_compare_seq);
}

static unsigned idl_json_line(const struct idl_json *j, enum idl_json_key list, size_t i, enum idl_json_key sub,
                              size_t k) {
        const struct idl_json_pos key = { .list = list, .i = i, .sub = sub, .j = k };
        size_t lo = 0, hi = j->n_pos;

        /* The last of equal positions: should a list key appear twice in one object, json-c keeps
         * the last value too. Find the first position greater than key, then step back. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (idl_json_pos_compare(&j->pos[mid], &key) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo > 0 && idl_json_pos_compare(&j->pos[lo - 1], &key) == 0)
                return j->pos[lo - 1].line;
        return 0;
}

/* ---- the walk over the json_object tree ---- */

_printf_(3, 4) static int idl_json_fail(const struct idl_json *j, unsigned line, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) mbus_file_error_addv(j->err, j->path, line, format, ap);
        va_end(ap);
        return -EBADMSG;
}

static int idl_json_string(const struct idl_json *j, unsigned line, json_object *v, const char *key,
                           const char *where, const char **ret) {
        if (!json_object_is_type(v, json_type_string))
                return idl_json_fail(j, line, "'%s'%s must be a string, not %s", key, where,
                                     json_type_to_name(json_object_get_type(v)));
        /* json-c keeps "\u0000" inside a string; as a C string it would end there. */
        if ((size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v)))
                return idl_json_fail(j, line, "'%s'%s contains a NUL character", key, where);
        *ret = json_object_get_string(v);
        return 0;
}

/* A walk's outcome after result so far and then r: -ENOMEM above all, then any error. */
static int idl_json_merge(int result, int r) {
        if (r == -ENOMEM || result == -ENOMEM)
                return -ENOMEM;
        return r < 0 ? r : result;
}

/* max-body-size or max-body-depth: a JSON integer in range. */
static int idl_json_limit(const struct idl_json *j, json_object *v, bool depth, struct mbus_idl_limits *l) {
        const char *key = depth ? "max-body-depth" : "max-body-size", *why = NULL;
        int64_t n;

        if (!json_object_is_type(v, json_type_int))
                return idl_json_fail(j, j->top_line, "'%s' must be an integer, not %s", key,
                                     json_type_to_name(json_object_get_type(v)));
        n = json_object_get_int64(v);
        if (n < 1 || idl_set_limit(l, depth, (uint64_t) n, &why) < 0)
                return idl_json_fail(j, j->top_line, "invalid %s: %s", key,
                                     depth ? "1..1024 levels" : "1..4294967295 bytes");
        return 0;
}

static int idl_json_args(struct idl_json *j, struct mbus_idl_member *m, bool event, enum idl_json_key list,
                         size_t index, enum idl_json_key sub, json_object *a) {
        const char *kind = idl_member_kind(event);
        int r, result = 0;
        size_t n;

        if (!json_object_is_type(a, json_type_array))
                return idl_json_fail(j, m->line, "'%s' of %s %s must be an array, not %s", idl_json_key_names[sub],
                                     kind, m->name, json_type_to_name(json_object_get_type(a)));
        n = json_object_array_length(a);
        for (size_t k = 0; k < n; k++) {
                json_object *o = json_object_array_get_idx(a, k);
                unsigned line = idl_json_line(j, list, index, sub, k) ?: m->line;
                const char *name = NULL, *type = NULL;
                bool optional = false, bad = false;
                struct mbus_idl_arg *arg;

                if (!json_object_is_type(o, json_type_object)) {
                        result = idl_json_fail(j, line, "%s[%zu] of %s %s must be an object, not %s",
                                               idl_json_key_names[sub], k, kind, m->name,
                                               json_type_to_name(json_object_get_type(o)));
                        continue;
                }
                json_object_object_foreach(o, key, v) {
                        switch (idl_json_key_from(key, strlen(key))) {
                        case IDL_KEY_NAME:
                                r = idl_json_string(j, line, v, key, " of an argument", &name);
                                break;
                        case IDL_KEY_TYPE:
                                r = idl_json_string(j, line, v, key, " of an argument", &type);
                                break;
                        case IDL_KEY_OPTIONAL:
                                if (!json_object_is_type(v, json_type_boolean))
                                        r = idl_json_fail(j, line, "invalid boolean for 'optional' (expected "
                                                          "true or false, not %s)",
                                                          json_type_to_name(json_object_get_type(v)));
                                else {
                                        optional = json_object_get_boolean(v);
                                        r = 0;
                                }
                                break;
                        default:
                                r = idl_json_fail(j, line, "unknown key '%s' in an argument of %s %s", key,
                                                  kind, m->name);
                        }
                        if (r < 0) {
                                result = r;
                                bad = true;
                        }
                }
                if (!name) {
                        if (!bad)
                                result = idl_json_fail(j, line, "argument %zu of %s %s has no 'name'", k, kind,
                                                       m->name);
                        continue;
                }
                if (!type) {
                        if (!bad)
                                result = idl_json_fail(j, line, "argument '%s' has no 'type'", name);
                        continue;
                }

                r = idl_add_arg(m, sub == IDL_KEY_OUT, name, line, &arg);
                if (r == -E2BIG)
                        return idl_json_fail(j, line, "too many arguments in %s %s (limit %u)", kind, m->name,
                                             MBUS_IDL_ARGS_MAX);
                if (r < 0)
                        return r;
                arg->optional = optional;
                r = mbus_idl_type_parse(&arg->type, type);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = idl_json_fail(j, line, "invalid type '%s' for argument '%s' (string, int, double, "
                                               "bool, object, any, array<T>, ?T; at most %u levels)", type, name,
                                               MBUS_IDL_TYPE_DEPTH_MAX);
        }
        return result;
}

/* One element of "procedures"/"events": reported and left out if it cannot be taken. */
static int idl_json_member(struct idl_json *j, struct mbus_idl_namespace *ns, enum idl_json_key list, size_t i,
                           json_object *o) {
        bool event = list == IDL_KEY_EVENTS;
        const char *kind = idl_member_kind(event);
        json_object *lists[_IDL_KEY_MAX] = {};
        unsigned line = idl_json_line(j, list, i, IDL_KEY_OTHER, 0) ?: j->top_line;
        const char *name = NULL, *doc = NULL;
        struct mbus_idl_member *m;
        bool bad_name = false;
        int r, result = 0;

        if (!json_object_is_type(o, json_type_object))
                return idl_json_fail(j, line, "%s[%zu] must be an object, not %s", idl_json_key_names[list],
                                     i, json_type_to_name(json_object_get_type(o)));
        json_object_object_foreach(o, key, v) {
                enum idl_json_key k = idl_json_key_from(key, strlen(key));

                r = 0;
                if (k == IDL_KEY_NAME) {
                        r = idl_json_string(j, line, v, key, event ? " of an event" : " of a procedure", &name);
                        bad_name = r < 0;
                } else if (k == IDL_KEY_DOC)
                        r = idl_json_string(j, line, v, key, event ? " of an event" : " of a procedure", &doc);
                else if ((!event && (k == IDL_KEY_IN || k == IDL_KEY_OUT)) || (event && k == IDL_KEY_ARGS))
                        lists[k] = v;
                else
                        r = idl_json_fail(j, line, "unknown key '%s' in %s%s%s%s", key, kind,
                                          name ? " " : "", name ?: "",
                                          k == IDL_KEY_ARGS ? " (procedures have 'in' and 'out')" :
                                          k == IDL_KEY_IN || k == IDL_KEY_OUT ? " (events have 'args')" : "");
                if (r < 0)
                        result = r;
        }
        if (!name) {
                /* Without a name there is nothing to hang its arguments on: left out. */
                if (!bad_name)
                        result = idl_json_fail(j, line, "%s %zu has no 'name'", kind, i);
                return result;
        }

        r = idl_add_member(ns, event, name, line, &m);
        if (r == -E2BIG)
                return idl_json_fail(j, line, "too many %ss (limit %u)", kind, MBUS_IDL_MEMBERS_MAX);
        if (r < 0)
                return r;
        /* Introspect lists an untyped member of a declaration without argument lists. */
        if (j->infer_untyped && ns->declared && !lists[IDL_KEY_IN] && !lists[IDL_KEY_OUT] && !lists[IDL_KEY_ARGS])
                m->untyped = true;
        if (doc) {
                r = idl_set_doc(&m->doc, doc, strlen(doc));
                if (r < 0)
                        return r;
        }
        for (enum idl_json_key k = IDL_KEY_IN; k <= IDL_KEY_ARGS; k++) {
                if (!lists[k])
                        continue;
                r = idl_json_args(j, m, event, list, i, k, lists[k]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
        }
        return result;
}

static int idl_json_members(struct idl_json *j, struct mbus_idl_namespace *ns, enum idl_json_key list, json_object *a) {
        int r, result = 0;
        size_t n;

        if (!json_object_is_type(a, json_type_array))
                return idl_json_fail(j, j->top_line, "'%s' must be an array, not %s", idl_json_key_names[list],
                                     json_type_to_name(json_object_get_type(a)));
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                r = idl_json_member(j, ns, list, i, json_object_array_get_idx(a, i));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
        }
        return result;
}

int idl_json_declared_member(struct mbus_idl_namespace *ns, bool event, size_t index, json_object *o,
                             struct mbus_file_error *err) {
        struct idl_json j = { .err = err, .bus = true };

        return idl_json_member(&j, ns, event ? IDL_KEY_EVENTS : IDL_KEY_PROCEDURES, index, o);
}

static int idl_json_build(struct idl_json *j, json_object *o, struct mbus_idl_namespace *ns) {
        json_object *lists[_IDL_KEY_MAX] = {};
        const char *name = NULL, *doc = NULL, *source = NULL, *path = NULL, *service = NULL, *exec = NULL, *why;
        bool bad_name = false;
        int r, result = 0;

        if (!json_object_is_type(o, json_type_object))
                return idl_json_fail(j, j->top_line, "the description must be a JSON object, not %s",
                                     json_type_to_name(json_object_get_type(o)));

        json_object_object_foreach(o, key, v) {
                enum idl_json_key k = idl_json_key_from(key, strlen(key));

                r = 0;
                if (k == IDL_KEY_NAMESPACE) {
                        r = idl_json_string(j, j->top_line, v, key, "", &name);
                        bad_name = r < 0;
                } else if (k == IDL_KEY_DOC)
                        r = idl_json_string(j, j->top_line, v, key, " of the namespace", &doc);
                else if (k == IDL_KEY_PROCEDURES || k == IDL_KEY_EVENTS)
                        lists[k] = v;
                else if (j->bus && k == IDL_KEY_SOURCE)
                        r = idl_json_string(j, j->top_line, v, key, "", &source);
                else if (j->bus && k == IDL_KEY_PATH)
                        path = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                else if (j->bus && k == IDL_KEY_OWNER)
                        ;
                else if (!j->bus && k == IDL_KEY_SYSTEMD_SERVICE)
                        r = idl_json_string(j, j->top_line, v, key, "", &service);
                else if (!j->bus && k == IDL_KEY_EXEC)
                        r = idl_json_string(j, j->top_line, v, key, "", &exec);
                else if (!j->bus && (k == IDL_KEY_MAX_BODY_SIZE || k == IDL_KEY_MAX_BODY_DEPTH))
                        r = idl_json_limit(j, v, k == IDL_KEY_MAX_BODY_DEPTH, &ns->limits);
                else
                        r = idl_json_fail(j, j->top_line, "unknown key '%s' in the namespace object", key);
                if (r < 0)
                        result = r;
        }
        /* Without a name the file is broken, but its procedures and events are still checked. */
        if (!name && !bad_name)
                result = idl_json_fail(j, j->top_line, "missing key 'namespace'");

        if (name) {
                r = idl_set_string(&ns->name, name);
                if (r < 0)
                        return r;
        }
        if (doc) {
                r = idl_set_doc(&ns->doc, doc, strlen(doc));
                if (r < 0)
                        return r;
        }
        if (source && strcmp(source, "declared") == 0)
                ns->declared = true;
        if (mbus_idl_check_activation(service, exec, &why) < 0)
                result = idl_json_fail(j, j->top_line, "%s", why);
        else {
                if (service) {
                        r = idl_set_string(&ns->systemd_service, service);
                        if (r < 0)
                                return r;
                }
                if (exec) {
                        r = idl_set_string(&ns->exec, exec);
                        if (r < 0)
                                return r;
                }
        }
        if (path && !ns->path) {
                r = idl_set_string(&ns->path, path);
                if (r < 0)
                        return r;
        }
        for (enum idl_json_key k = IDL_KEY_PROCEDURES; k <= IDL_KEY_EVENTS; k++) {
                if (!lists[k])
                        continue;
                r = idl_json_members(j, ns, k, lists[k]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
        }
        return idl_json_merge(result, idl_check(ns, j->top_line, j->err));
}

/* ---- entry points ---- */

int mbus_idl_parse_json(struct mbus_idl_namespace **ret, const char *path, const char *text, size_t len,
                        struct mbus_file_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_json_ json_object *o = NULL;
        struct idl_json j = { .path = path, .err = err, .top_line = 1 };
        int r;

        if (!ret || (!text && len > 0))
                return -EINVAL;
        if (len > MBUS_IDL_FILE_SIZE_MAX)
                return mbus_file_error_set(err, path, 0, "file too large (limit %u bytes)", MBUS_IDL_FILE_SIZE_MAX);

        mbus_file_error_begin(err);
        r = mbus_json_lines_parse(&o, path, text, len, IDL_JSON_DEPTH_MAX, "the description", err);
        if (r < 0)
                return r;
        r = idl_json_scan(&j, text, len, json_object_is_type(o, json_type_object));
        if (r >= 0)
                idl_json_pos_sort(&j);
        if (r >= 0)
                r = idl_namespace_new(&ns, path);
        if (r >= 0)
                r = idl_json_build(&j, o, ns);
        free(j.pos);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ns);
        return 0;
}

int mbus_idl_from_json(struct mbus_idl_namespace **ret, json_object *o, struct mbus_file_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        struct idl_json j = { .err = err, .bus = true, .infer_untyped = true };
        int r;

        if (!ret)
                return -EINVAL;

        r = idl_namespace_new(&ns, /* path= */ NULL);
        if (r < 0)
                return r;
        mbus_file_error_begin(err);
        r = idl_json_build(&j, o, ns);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ns);
        return 0;
}
