/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The interface registry: a hash from namespace to the description its interfaces.d file
 * gives (conf/idl.h). This is the only place where the broker parses bodies of frames it
 * routes, and only for namespaces that have a file: the router asks mbus_introspection_get()
 * (one hash lookup) and passes the body here only when that returns a description.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/confdir.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "util/hashmap.h"

struct mbus_introspection {
        struct mbus_hashmap *files;             /* name -> struct mbus_idl_namespace, owned */
};

int mbus_introspection_new(struct mbus_introspection **ret) {
        struct mbus_introspection *reg;
        int r;

        assert(ret);
        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return -ENOMEM;
        r = mbus_hashmap_new(&reg->files, &mbus_string_hash_ops);
        if (r < 0) {
                free(reg);
                return r;
        }
        *ret = reg;
        return 0;
}

struct mbus_introspection *mbus_introspection_free(struct mbus_introspection *reg) {
        void *v;

        if (!reg)
                return NULL;
        if (reg->files) {
                size_t state = 0;

                while (mbus_hashmap_iterate(reg->files, &state, &v, NULL)) {
                        struct mbus_idl_namespace *ns = v;

                        (void) mbus_hashmap_remove(reg->files, ns->name);
                        mbus_idl_namespace_free(ns);
                }
        }
        mbus_hashmap_free(reg->files);
        free(reg);
        return NULL;
}

static int introspection_put(struct mbus_introspection *reg, struct mbus_idl_namespace *ns) {
        int r;

        mbus_idl_namespace_free(mbus_hashmap_remove(reg->files, ns->name));
        r = mbus_hashmap_put(reg->files, ns->name, ns);
        if (r < 0)
                mbus_idl_namespace_free(ns);
        return r;
}

struct introspection_walk {
        struct mbus_introspection *reg;
        const struct mbus_conf_report *report;
};

static int introspection_load_one(const struct mbus_confdir_entry *entry, void *userdata,
                                  struct mbus_file_error *err) {
        struct introspection_walk *w = userdata;
        struct mbus_idl_namespace *ns = NULL;
        int r;

        r = mbus_idl_load_file(&ns, entry->path, err);
        if (r < 0)
                return r;
        return introspection_put(w->reg, ns);
}

/* A file left out takes what earlier directories said of its namespace with it. */
static int introspection_skip_one(const char *name, const struct mbus_file_error *err, void *userdata) {
        struct introspection_walk *w = userdata;

        if (name)
                mbus_idl_namespace_free(mbus_hashmap_remove(w->reg->files, name));
        if (w->report->skipped)
                w->report->skipped(name, err, w->report->userdata);
        return 0;
}

int mbus_introspection_load_report(struct mbus_introspection **ret, const char *const *dirs, size_t n_dirs,
                                   const struct mbus_conf_report *report, struct mbus_file_error *err) {
        _cleanup_(mbus_introspection_freep) struct mbus_introspection *reg = NULL;
        struct introspection_walk w = { .report = report };
        int r;

        if (!ret || (!dirs && n_dirs > 0))
                return -EINVAL;
        r = mbus_introspection_new(&reg);
        if (r < 0)
                return r;
        w.reg = reg;
        r = mbus_confdir_foreach(dirs, n_dirs, introspection_load_one, report ? introspection_skip_one : NULL, &w,
                                 err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reg);
        return 0;
}

int mbus_introspection_load(struct mbus_introspection **ret, const char *const *dirs, size_t n_dirs,
                            struct mbus_file_error *err) {
        return mbus_introspection_load_report(ret, dirs, n_dirs, /* report= */ NULL, err);
}

int mbus_introspection_adopt(struct mbus_introspection *reg, struct mbus_introspection *from, const char *name) {
        struct mbus_idl_namespace *ns;

        assert(reg && from && name);
        mbus_idl_namespace_free(mbus_hashmap_remove(reg->files, name));
        ns = mbus_hashmap_remove(from->files, name);
        return ns ? introspection_put(reg, ns) : 0;
}

const struct mbus_idl_namespace *mbus_introspection_get(const struct mbus_introspection *reg, const char *ns) {
        if (!reg || !ns || mbus_hashmap_size(reg->files) == 0)
                return NULL;
        return mbus_hashmap_get(reg->files, ns);
}

size_t mbus_introspection_size(const struct mbus_introspection *reg) {
        return reg ? mbus_hashmap_size(reg->files) : 0;
}

static int introspection_cmp(const void *a, const void *b) {
        const struct mbus_idl_namespace *x = *(const struct mbus_idl_namespace *const *) a;
        const struct mbus_idl_namespace *y = *(const struct mbus_idl_namespace *const *) b;

        return strcmp(x->name, y->name);
}

int mbus_introspection_list(const struct mbus_introspection *reg, const struct mbus_idl_namespace ***ret,
                            size_t *ret_n) {
        const struct mbus_idl_namespace **array;
        size_t n = 0, state = 0;
        void *v;

        assert(reg && ret && ret_n);
        array = calloc(mbus_hashmap_size(reg->files) + 1, sizeof(*array));
        if (!array)
                return -ENOMEM;
        while (mbus_hashmap_iterate(reg->files, &state, &v, NULL))
                array[n++] = v;
        qsort(array, n, sizeof(*array), introspection_cmp);
        *ret = array;
        *ret_n = n;
        return 0;
}

/* The body of a CALL or EVENT for m, within the file's limits or else the broker's. */
static int introspection_validate(const struct mbus_idl_namespace *file, const struct mbus_idl_member *m,
                                  const void *body, size_t len, const struct mbus_idl_limits *defaults,
                                  char *reason, size_t reason_size) {
        struct mbus_idl_limits limits;

        mbus_idl_limits_resolve(&file->limits, defaults, &limits);
        return mbus_idl_validate(m->in, m->n_in, body, len, &limits, reason, reason_size);
}

int mbus_introspection_check_call(const struct mbus_idl_namespace *file, const char *member, const void *body,
                                  size_t len, const struct mbus_idl_limits *defaults, char *reason,
                                  size_t reason_size) {
        const struct mbus_idl_member *m;
        int r;

        assert(file && member);

        m = mbus_idl_find_procedure(file, member);
        /* An owner's declaration binds only what it typed: the rest is the owner's to answer. */
        if (file->declared && (!m || m->untyped))
                return 0;
        if (!m) {
                (void) snprintf(reason, reason_size, "Unknown procedure %s.%s: it is not declared in %s", file->name,
                                member, file->path ?: "the interface file");
                return -EOPNOTSUPP;
        }
        r = introspection_validate(file, m, body, len, defaults, reason, reason_size);
        return r == -EBADMSG ? -EINVAL : r;     /* reason says "not valid JSON" */
}

int mbus_introspection_check_event(const struct mbus_idl_namespace *file, const char *member, const void *body,
                                   size_t len, const struct mbus_idl_limits *defaults, char *reason,
                                   size_t reason_size) {
        const struct mbus_idl_member *m;
        int r;

        assert(file && member);

        m = mbus_idl_find_event(file, member);
        if (file->declared && (!m || m->untyped))
                return 0;
        if (!m) {
                (void) snprintf(reason, reason_size, "event %s is not declared in %s", member,
                                file->path ?: "the interface file");
                return -EINVAL;
        }
        r = introspection_validate(file, m, body, len, defaults, reason, reason_size);
        if (r == -EBADMSG) {
                /* "arguments are not valid JSON (at byte N)" -> "event arguments ..." */
                char what[256];

                (void) snprintf(what, sizeof(what), "event %s", reason);
                (void) snprintf(reason, reason_size, "%s", what);
                return -EINVAL;
        }
        return r;
}

int mbus_introspection_check_declaration(const struct mbus_idl_namespace *file,
                                         const struct mbus_idl_namespace *declared, char *reason,
                                         size_t reason_size) {
        size_t off = 0;
        bool bad = false;

        assert(file && declared);

        if (reason_size > 0)
                reason[0] = 0;
        for (int pass = 0; pass < 2; pass++) {
                const struct mbus_idl_member *list = pass == 0 ? declared->procedures : declared->events;
                size_t n = pass == 0 ? declared->n_procedures : declared->n_events;

                for (size_t i = 0; i < n; i++) {
                        bool known = pass == 0 ? !!mbus_idl_find_procedure(file, list[i].name)
                                               : !!mbus_idl_find_event(file, list[i].name);
                        int k;

                        if (known)
                                continue;
                        k = snprintf(off < reason_size ? reason + off : NULL, off < reason_size ? reason_size - off : 0,
                                     "%s%s %s",
                                     bad ? ", " : "Not declared in the interface file of the namespace: ",
                                     pass == 0 ? "procedure" : "event", list[i].name);
                        if (k > 0)
                                off += (size_t) k;
                        bad = true;
                }
        }
        if (off >= reason_size && reason_size > 4)
                memcpy(reason + reason_size - 4, "...", 4);
        return bad ? -EINVAL : 0;
}
