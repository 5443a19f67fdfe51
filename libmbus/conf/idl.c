/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The introspection model: a namespace's procedures and events with typed arguments, built by
 * the two file parsers (idl-xml.c, idl-json.c) or from an owner's REGISTER declaration. This
 * file owns the model's memory and its one notion of validity; checking bodies against it
 * (idl-validate.c) and writing it out (idl-format.c) only read it.
 *
 * Both parsers only build: they report what is malformed in their own syntax (unknown element
 * or key, a wrong value kind, a bad type string) and leave the rules every form shares to
 * idl_check(), which runs on the finished model with the line numbers the parsers recorded.
 * So XML and JSON cannot drift apart on what a valid description is.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf-file.h"
#include "conf/idl-internal.h"
#include "conf/idl.h"
#include "proto/names.h"
#include "util/hashmap.h"
#include "util/json-util.h"
#include "util/macro.h"

static const char *const idl_kind_names[_MBUS_IDL_KIND_MAX] = {
        [MBUS_IDL_STRING] = "string",
        [MBUS_IDL_INT] = "int",
        [MBUS_IDL_DOUBLE] = "double",
        [MBUS_IDL_BOOL] = "bool",
        [MBUS_IDL_OBJECT] = "object",
        [MBUS_IDL_ARRAY] = "array",
        [MBUS_IDL_ANY] = "any",
};

/* ---- types ---- */

void mbus_idl_type_done(struct mbus_idl_type *t) {
        struct mbus_idl_type *e;

        if (!t)
                return;
        /* Iterative: the chain is bounded, but freeing needs no recursion anyway. */
        e = t->element;
        while (e) {
                struct mbus_idl_type *next = e->element;

                free(e);
                e = next;
        }
        *t = (struct mbus_idl_type) { .kind = MBUS_IDL_ANY };
}

static int idl_type_parse_one(struct mbus_idl_type *t, const char **p, unsigned depth) {
        size_t l;

        if (depth > MBUS_IDL_TYPE_DEPTH_MAX)
                return -EINVAL;

        *t = (struct mbus_idl_type) { .kind = MBUS_IDL_ANY };
        if (**p == '?') {
                t->nullable = true;
                (*p)++;
        }

        for (enum mbus_idl_kind k = 0; k < _MBUS_IDL_KIND_MAX; k++) {
                l = strlen(idl_kind_names[k]);
                if (strncmp(*p, idl_kind_names[k], l) != 0)
                        continue;
                *p += l;
                t->kind = k;
                if (k != MBUS_IDL_ARRAY)
                        return 0;

                if (**p != '<')
                        return -EINVAL;
                (*p)++;
                t->element = calloc(1, sizeof(*t->element));
                if (!t->element)
                        return -ENOMEM;
                if (idl_type_parse_one(t->element, p, depth + 1) < 0)
                        return -EINVAL;
                if (**p != '>')
                        return -EINVAL;
                (*p)++;
                return 0;
        }
        return -EINVAL;
}

int mbus_idl_type_parse(struct mbus_idl_type *ret, const char *s) {
        struct mbus_idl_type t;
        const char *p = s;
        int r;

        if (!ret || !s)
                return -EINVAL;

        r = idl_type_parse_one(&t, &p, 1);
        if (r >= 0 && *p != 0)
                r = -EINVAL;
        if (r < 0) {
                mbus_idl_type_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

const char *mbus_idl_type_to_string(const struct mbus_idl_type *t, char *buf, size_t size) {
        size_t n = 0, closing = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        for (; t; t = t->element) {
                const char *name = t->kind >= 0 && t->kind < _MBUS_IDL_KIND_MAX ? idl_kind_names[t->kind] : "?";
                int k;

                k = snprintf(buf + n, size - n, "%s%s%s", t->nullable ? "?" : "", name,
                             t->kind == MBUS_IDL_ARRAY ? "<" : "");
                if (k < 0 || (size_t) k >= size - n)
                        return buf;
                n += (size_t) k;
                if (t->kind == MBUS_IDL_ARRAY)
                        closing++;
                else
                        break;
        }
        for (; closing > 0 && n + 1 < size; closing--)
                buf[n++] = '>';
        buf[n] = 0;
        return buf;
}

/* ---- construction ---- */

int idl_namespace_new(struct mbus_idl_namespace **ret, const char *path) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;

        ns = calloc(1, sizeof(*ns));
        if (!ns)
                return -ENOMEM;
        if (path) {
                ns->path = strdup(path);
                if (!ns->path)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(ns);
        return 0;
}

int idl_set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

int idl_set_doc(char **field, const char *doc, size_t len) {
        char *s;

        while (len > 0 && idl_is_space(doc[0])) {
                doc++;
                len--;
        }
        while (len > 0 && idl_is_space(doc[len - 1]))
                len--;

        free(*field);
        *field = NULL;
        if (len == 0)
                return 0;
        s = strndup(doc, len);
        if (!s)
                return -ENOMEM;
        *field = s;
        return 0;
}

/*
 * Arrays grow by doubling; the capacity is implied by the count (0 -> 4 -> 8 -> ...), so the
 * public structs need no capacity field. Only the append functions below may grow them.
 */
static int idl_grow(void **array, size_t n, size_t item_size) {
        size_t capacity;
        void *a;

        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        capacity = n == 0 ? 4 : n * 2;
        a = realloc(*array, capacity * item_size);
        if (!a)
                return -ENOMEM;
        *array = a;
        return 0;
}

int idl_add_member(struct mbus_idl_namespace *ns, bool event, const char *name, unsigned line,
                   struct mbus_idl_member **ret) {
        struct mbus_idl_member **list = event ? &ns->events : &ns->procedures;
        size_t *n = event ? &ns->n_events : &ns->n_procedures;
        char *copy;
        int r;

        if (*n >= MBUS_IDL_MEMBERS_MAX)
                return -E2BIG;
        copy = strdup(name ?: "");
        if (!copy)
                return -ENOMEM;
        r = idl_grow((void **) list, *n, sizeof(**list));
        if (r < 0) {
                free(copy);
                return r;
        }
        (*list)[*n] = (struct mbus_idl_member) { .name = copy, .line = line };
        if (ret)
                *ret = &(*list)[*n];
        (*n)++;
        return 0;
}

int idl_add_arg(struct mbus_idl_member *m, bool out, const char *name, unsigned line, struct mbus_idl_arg **ret) {
        struct mbus_idl_arg **list = out ? &m->out : &m->in;
        size_t *n = out ? &m->n_out : &m->n_in;
        char *copy;
        int r;

        if (*n >= MBUS_IDL_ARGS_MAX)
                return -E2BIG;
        copy = strdup(name ?: "");
        if (!copy)
                return -ENOMEM;
        r = idl_grow((void **) list, *n, sizeof(**list));
        if (r < 0) {
                free(copy);
                return r;
        }
        (*list)[*n] = (struct mbus_idl_arg) { .name = copy, .type.kind = MBUS_IDL_ANY, .line = line };
        if (ret)
                *ret = &(*list)[*n];
        (*n)++;
        return 0;
}

static void idl_args_free(struct mbus_idl_arg *args, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(args[i].name);
                mbus_idl_type_done(&args[i].type);
        }
        free(args);
}

static void idl_members_free(struct mbus_idl_member *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(m[i].name);
                free(m[i].doc);
                idl_args_free(m[i].in, m[i].n_in);
                idl_args_free(m[i].out, m[i].n_out);
        }
        free(m);
}

struct mbus_idl_namespace *mbus_idl_namespace_free(struct mbus_idl_namespace *ns) {
        if (!ns)
                return NULL;
        idl_members_free(ns->procedures, ns->n_procedures);
        idl_members_free(ns->events, ns->n_events);
        free(ns->name);
        free(ns->doc);
        free(ns->path);
        free(ns->systemd_service);
        free(ns->exec);
        free(ns);
        return NULL;
}

int mbus_idl_check_activation(const char *systemd_service, const char *exec, const char **why) {
        static const char unit_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@";
        size_t len;

        if (systemd_service && exec) {
                *why = "systemd-service and exec exclude each other";
                return -EINVAL;
        }
        if (systemd_service) {
                len = strlen(systemd_service);
                if (len <= strlen(".service") || len > 255 ||
                    strspn(systemd_service, unit_chars) != len ||
                    strcmp(systemd_service + len - strlen(".service"), ".service") != 0) {
                        *why = "systemd-service must be a unit name ending in .service";
                        return -EINVAL;
                }
        }
        if (exec) {
                if (exec[0] != '/' || strlen(exec) > 4096) {
                        *why = "exec must start with an absolute path";
                        return -EINVAL;
                }
                for (const char *p = exec; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                                *why = "exec must not contain control characters";
                                return -EINVAL;
                        }
        }
        return 0;
}

int idl_set_limit(struct mbus_idl_limits *l, bool depth, uint64_t value, const char **why) {
        if (depth) {
                if (value < 1 || value > MBUS_IDL_BODY_DEPTH_MAX) {
                        *why = "max-body-depth must be 1..1024";
                        return -EINVAL;
                }
                l->max_depth = (unsigned) value;
        } else {
                if (value < 1 || value > MBUS_IDL_BODY_SIZE_MAX) {
                        *why = "max-body-size must be 1..4294967295 bytes";
                        return -EINVAL;
                }
                l->max_size = (size_t) value;
        }
        return 0;
}

/* ---- queries ---- */

static const struct mbus_idl_member *idl_find(const struct mbus_idl_member *m, size_t n, const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strcmp(m[i].name, name) == 0)
                        return &m[i];
        return NULL;
}

const struct mbus_idl_member *mbus_idl_find_procedure(const struct mbus_idl_namespace *ns, const char *name) {
        return ns ? idl_find(ns->procedures, ns->n_procedures, name) : NULL;
}

const struct mbus_idl_member *mbus_idl_find_event(const struct mbus_idl_namespace *ns, const char *name) {
        return ns ? idl_find(ns->events, ns->n_events, name) : NULL;
}

/* ---- checks shared by both forms ---- */

static bool idl_doc_is_valid(const char *doc) {
        if (!doc)
                return true;
        if (!mbus_utf8_is_valid(doc, strlen(doc)))
                return false;
        for (const char *p = doc; *p; p++)
                if ((unsigned char) *p < 0x20 && !idl_is_space(*p))
                        return false;
        return true;
}

/*
 * Each check below reports with mbus_file_error_add() and goes on, so a file's every bad name
 * and duplicate is reported at once; -EBADMSG at the end if any was, -ENOMEM at once.
 */
/* " (first at line N)" for a duplicate, or nothing where there are no lines (a declaration). */
static const char *idl_first_at(unsigned line, char *buf, size_t size) {
        if (line == 0)
                return "";
        (void) snprintf(buf, size, " (first at line %u)", line);
        return buf;
}

static int idl_check_args(const struct mbus_idl_namespace *ns, const struct mbus_idl_member *m, bool event,
                          const struct mbus_idl_arg *args, size_t n, bool out, struct mbus_file_error *err) {
        char at[32];
        int result = 0;

        for (size_t i = 0; i < n; i++) {
                const struct mbus_idl_arg *a = &args[i];
                unsigned line = a->line ?: m->line;

                if (!mbus_member_is_valid(a->name)) {
                        result = mbus_file_error_add(err, ns->path, line,
                                                     "invalid argument name '%s' in %s %s (letters, digits and '_', "
                                                     "not starting with a digit, at most 255 bytes)",
                                                     a->name, idl_member_kind(event), m->name);
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(args[j].name, a->name) == 0) {
                                result = mbus_file_error_add(err, ns->path, line,
                                                             "duplicate %sargument '%s' in %s %s%s",
                                                             event ? "" : out ? "output " : "input ",
                                                             a->name, idl_member_kind(event), m->name,
                                                             idl_first_at(args[j].line, at, sizeof(at)));
                                break;
                        }
                if (out && a->optional)
                        result = mbus_file_error_add(err, ns->path, line,
                                                     "output argument '%s' of procedure %s cannot be optional",
                                                     a->name, m->name);
        }
        return result;
}

static int idl_check_members(const struct mbus_idl_namespace *ns, bool event, struct mbus_file_error *err) {
        _cleanup_(mbus_hashmap_freep) struct mbus_hashmap *seen = NULL;
        const struct mbus_idl_member *list = event ? ns->events : ns->procedures;
        size_t n = event ? ns->n_events : ns->n_procedures;
        char at[32];
        int r, result = 0;

        r = mbus_hashmap_new(&seen, &mbus_string_hash_ops);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const struct mbus_idl_member *m = &list[i];
                const struct mbus_idl_member *first;

                if (!mbus_member_is_valid(m->name))
                        result = mbus_file_error_add(err, ns->path, m->line,
                                                     "invalid %s name '%s' (letters, digits and '_', "
                                                     "not starting with a digit, at most 255 bytes)",
                                                     idl_member_kind(event), m->name);
                else {
                        first = mbus_hashmap_get(seen, m->name);
                        if (first)
                                result = mbus_file_error_add(err, ns->path, m->line, "duplicate %s '%s'%s",
                                                             idl_member_kind(event), m->name,
                                                             idl_first_at(first->line, at, sizeof(at)));
                        else {
                                r = mbus_hashmap_put(seen, m->name, (void *) m);
                                if (r < 0)
                                        return r;
                        }
                }
                if (!idl_doc_is_valid(m->doc))
                        result = mbus_file_error_add(err, ns->path, m->line,
                                                     "documentation of %s %s is not valid UTF-8 text",
                                                     idl_member_kind(event), m->name);

                r = idl_check_args(ns, m, event, m->in, m->n_in, /* out= */ false, err);
                if (r < 0)
                        result = r;
                if (event && m->n_out > 0)
                        result = mbus_file_error_add(err, ns->path, m->line, "event %s cannot have output arguments",
                                                     m->name);
                r = idl_check_args(ns, m, event, m->out, m->n_out, /* out= */ true, err);
                if (r < 0)
                        result = r;
        }
        return result;
}

int idl_check(const struct mbus_idl_namespace *ns, unsigned ns_line, struct mbus_file_error *err) {
        int r, result = 0;

        /* A namespace without a name was reported by the loader, in its form's words. */
        if (!ns->name)
                result = -EBADMSG;
        else if (!mbus_namespace_is_valid(ns->name))
                result = mbus_file_error_add(err, ns->path, ns_line,
                                             "invalid namespace name '%s' (2 to 32 dot-separated labels, "
                                             "at most 255 bytes, e.g. org.example.Network)", ns->name);
        if (!idl_doc_is_valid(ns->doc))
                result = mbus_file_error_add(err, ns->path, ns_line,
                                             "documentation of namespace %s is not valid UTF-8 text",
                                             ns->name ?: "(unnamed)");

        r = idl_check_members(ns, /* event= */ false, err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                result = r;
        r = idl_check_members(ns, /* event= */ true, err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                result = r;
        return result;
}

/* ---- the owner's declaration (REGISTER body) ---- */

static int idl_declaration_add(struct mbus_idl_namespace *ns, json_object *o, const char *key, bool event,
                               struct mbus_file_error *err) {
        json_object *a;
        int r, result = 0;
        size_t n;

        if (!json_object_object_get_ex(o, key, &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return mbus_file_error_add(err, NULL, 0, "'%s' must be an array", key);
        n = json_object_array_length(a);
        if (n > MBUS_IDL_MEMBERS_MAX)
                return mbus_file_error_add(err, NULL, 0, "too many %ss (limit %u)", idl_member_kind(event),
                                           MBUS_IDL_MEMBERS_MAX);
        /* Names and duplicates are checked by idl_check() once both lists are in. */
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                struct mbus_idl_member *m;

                if (json_object_is_type(v, json_type_object)) {
                        r = idl_json_declared_member(ns, event, i, v, err);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                result = r;
                        continue;
                }
                /* A "\u0000" inside would cut the name short in C: refuse it. */
                if (!json_object_is_type(v, json_type_string) ||
                    (size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v))) {
                        result = mbus_file_error_add(err, NULL, 0, "%s[%zu] must be a name or an object", key, i);
                        continue;
                }
                r = idl_add_member(ns, event, json_object_get_string(v), /* line= */ 0, &m);
                if (r < 0)
                        return r;
                m->untyped = true;
        }
        return result;
}

int mbus_idl_from_declaration_with_error(struct mbus_idl_namespace **ret, const char *ns_name, const char *body,
                                         size_t len, struct mbus_file_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_json_ json_object *o = NULL;
        int r, result = 0;

        if (!ret || !mbus_namespace_is_valid(ns_name))
                return -EINVAL;

        r = idl_namespace_new(&ns, /* path= */ NULL);
        if (r < 0)
                return r;
        ns->declared = true;
        r = idl_set_string(&ns->name, ns_name);
        if (r < 0)
                return r;

        mbus_file_error_begin(err);
        if (body && len > 0 && !idl_text_is_blank(body, len)) {
                json_object *doc;

                r = json_parse_bytes(body, len, &o);
                if (r == -EBADMSG) {
                        (void) mbus_file_error_set(err, NULL, 0, "the declaration is not JSON");
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                /* Other keys are ignored: a newer library may declare more than this broker knows. */
                if (!json_object_is_type(o, json_type_object)) {
                        (void) mbus_file_error_set(err, NULL, 0, "the declaration must be a JSON object");
                        return -EINVAL;
                }
                if (json_object_object_get_ex(o, "doc", &doc)) {
                        if (!json_object_is_type(doc, json_type_string) ||
                            (size_t) json_object_get_string_len(doc) != strlen(json_object_get_string(doc)))
                                result = mbus_file_error_add(err, NULL, 0, "'doc' must be a string");
                        else {
                                r = idl_set_doc(&ns->doc, json_object_get_string(doc),
                                                (size_t) json_object_get_string_len(doc));
                                if (r < 0)
                                        return r;
                        }
                }
                r = idl_declaration_add(ns, o, "procedures", /* event= */ false, err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
                r = idl_declaration_add(ns, o, "events", /* event= */ true, err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = r;
                r = idl_check(ns, /* ns_line= */ 0, err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || result < 0)
                        return -EINVAL;
        }
        *ret = TAKE_PTR(ns);
        return 0;
}

int mbus_idl_from_declaration(struct mbus_idl_namespace **ret, const char *ns_name, const char *body, size_t len) {
        return mbus_idl_from_declaration_with_error(ret, ns_name, body, len, /* err= */ NULL);
}

/* ---- files ---- */

static bool idl_has_suffix(const char *s, const char *suffix) {
        size_t l = strlen(s), k = strlen(suffix);

        return l >= k && strcmp(s + l - k, suffix) == 0;
}

int mbus_idl_load_file(struct mbus_idl_namespace **ret, const char *path, struct mbus_file_error *err) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;
        _cleanup_free_ char *text = NULL;
        const char *ext;
        size_t len = 0;
        int r;

        if (!ret || !path)
                return -EINVAL;

        if (idl_has_suffix(path, ".xml"))
                ext = ".xml";
        else if (idl_has_suffix(path, ".json"))
                ext = ".json";
        else
                return mbus_file_error_set(err, path, 0, "unknown file type (expected NAMESPACE.xml or NAMESPACE.json)");

        r = mbus_conf_file_read(path, MBUS_IDL_FILE_SIZE_MAX, &text, &len, err);
        if (r < 0)
                return r;

        if (strcmp(ext, ".xml") == 0)
                r = mbus_idl_parse_xml(&ns, path, text, len, err);
        else
                r = mbus_idl_parse_json(&ns, path, text, len, err);
        if (r < 0)
                return r;

        r = mbus_conf_file_check_name(path, ext, ns->name, err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(ns);
        return 0;
}
