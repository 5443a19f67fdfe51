/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What mbus-introspect prints. Everything here takes what was already fetched or parsed (rows
 * of the namespace list, a struct mbus_idl_namespace) and a FILE, and does no bus I/O, so the
 * exact text is unit-tested (test-print.c) without a broker.
 *
 * Tables are built as a grid of strings first, then written with each column padded to its
 * widest cell (two spaces between columns in the list, one in the member table, as busctl
 * does), the last column unpadded so no line ends in blanks. Widths count bytes: every cell but
 * the docs is ASCII (names and types are), and docs are the last column.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "conf/idl.h"
#include "introspect/print.h"
#include "util/json-util.h"
#include "util/macro.h"

/* --- a grid of cells ---------------------------------------------------------------------------- */

struct print_table {
        size_t n_columns;
        char **cells;                   /* row-major, owned */
        size_t n_cells;
        size_t allocated;
};

static void print_table_done(struct print_table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        *t = (struct print_table) {};
}

/* Appends one cell (a copy of s; NULL or "" is shown as "-"). */
static int print_table_add(struct print_table *t, const char *s) {
        char *c;

        if (t->n_cells == t->allocated) {
                size_t k = t->allocated ? t->allocated * 2 : 32;
                char **cells = reallocarray(t->cells, k, sizeof(char *));

                if (!cells)
                        return -ENOMEM;
                t->cells = cells;
                t->allocated = k;
        }
        c = strdup(s && *s ? s : "-");
        if (!c)
                return -ENOMEM;
        t->cells[t->n_cells++] = c;
        return 0;
}

/* Like print_table_add(), taking s (allocated) whatever happens. */
static int print_table_take(struct print_table *t, char *s) {
        int r = print_table_add(t, s);

        free(s);
        return r;
}

static int print_table_write(FILE *f, const struct print_table *t, const char *separator) {
        _cleanup_free_ size_t *widths = calloc(t->n_columns, sizeof(size_t));

        if (!widths)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], strlen(t->cells[i]));

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t column = i % t->n_columns;

                if (column + 1 < t->n_columns)
                        fprintf(f, "%-*s%s", (int) widths[column], t->cells[i], separator);
                else
                        fprintf(f, "%s\n", t->cells[i]);
        }
        return ferror(f) ? -EIO : 0;
}

/* --- the namespace list ------------------------------------------------------------------------- */

static int print_table_add_number(struct print_table *t, int64_t v) {
        char buf[32];

        if (v < 0)
                return print_table_add(t, NULL);
        (void) snprintf(buf, sizeof(buf), "%" PRIi64, v);
        return print_table_add(t, buf);
}

int mbus_print_namespaces(FILE *f, const struct mbus_print_namespace_row *rows, size_t n_rows) {
        static const char *const header[] = { "NAMESPACE", "OWNER", "UID", "PID", "CLIENT", "FILE" };
        struct print_table t = { .n_columns = ELEMENTSOF(header) };
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(header) && r >= 0; i++)
                r = print_table_add(&t, header[i]);
        for (size_t i = 0; i < n_rows && r >= 0; i++) {
                const struct mbus_print_namespace_row *row = &rows[i];

                r = print_table_add(&t, row->name);
                r = r ?: print_table_add(&t, row->owner);
                r = r ?: print_table_add_number(&t, row->owner ? row->uid : -1);
                r = r ?: print_table_add_number(&t, row->owner ? row->pid : -1);
                r = r ?: print_table_add(&t, row->owner ? row->client : NULL);
                r = r ?: print_table_add(&t, row->file < 0 ? NULL : row->file ? "yes" : "no");
        }
        if (r >= 0)
                r = print_table_write(f, &t, "  ");
        print_table_done(&t);
        return r;
}

/* --- one namespace ------------------------------------------------------------------------------ */

int mbus_print_args(const struct mbus_idl_arg *args, size_t n_args, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (n_args == 0) {
                *ret = strdup("-");
                return *ret ? 0 : -ENOMEM;
        }

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n_args; i++) {
                char type[MBUS_IDL_TYPE_STRING_MAX];

                fprintf(f, "%s%s%s: %s", i > 0 ? ", " : "", args[i].name, args[i].optional ? "?" : "",
                        mbus_idl_type_to_string(&args[i].type, type, sizeof(type)));
        }
        if (ferror(f)) {
                (void) fclose(f);
                return -ENOMEM;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The doc on one line: every run of whitespace (line ends included) becomes one space. */
static char *print_fold(const char *doc) {
        char *s, *w;
        bool space = false;

        if (!doc)
                return NULL;
        s = w = malloc(strlen(doc) + 1);
        if (!s)
                return NULL;
        for (const char *p = doc; *p; p++) {
                if (strchr(" \t\r\n\v\f", *p)) {
                        space = true;
                        continue;
                }
                if (space && w > s)
                        *w++ = ' ';
                space = false;
                *w++ = *p;
        }
        *w = 0;
        return s;
}

static int print_table_add_doc(struct print_table *t, const char *doc) {
        _cleanup_free_ char *folded = NULL;

        if (doc) {
                folded = print_fold(doc);
                if (!folded)
                        return -ENOMEM;
        }
        return print_table_add(t, folded);
}

static int print_table_add_args(struct print_table *t, const struct mbus_idl_member *m,
                                const struct mbus_idl_arg *args, size_t n_args) {
        char *s = NULL;
        int r;

        /* A member declared by name alone: its arguments are unknown, not empty. */
        if (m->untyped)
                return print_table_add(t, "?");
        r = mbus_print_args(args, n_args, &s);
        if (r < 0)
                return r;
        return print_table_take(t, s);
}

static int print_members(struct print_table *t, const struct mbus_idl_namespace *ns, bool event) {
        const struct mbus_idl_member *list = event ? ns->events : ns->procedures;
        size_t n = event ? ns->n_events : ns->n_procedures;
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                const struct mbus_idl_member *m = &list[i];

                r = print_table_add(t, event ? "event" : "procedure");
                r = r ?: print_table_add(t, m->name);
                r = r ?: print_table_add_args(t, m, m->in, m->n_in);
                if (event)
                        r = r ?: print_table_add(t, NULL);
                else
                        r = r ?: print_table_add_args(t, m, m->out, m->n_out);
                r = r ?: print_table_add_doc(t, m->doc);
        }
        return r;
}

/* What a declaration leaves unknown: every member's arguments, some members' (shown as ?), none. */
static const char *print_untyped_note(const struct mbus_idl_namespace *ns) {
        size_t n = ns->n_procedures + ns->n_events, untyped = 0;

        for (size_t i = 0; i < ns->n_procedures; i++)
                untyped += ns->procedures[i].untyped;
        for (size_t i = 0; i < ns->n_events; i++)
                untyped += ns->events[i].untyped;
        if (untyped == 0)
                return " with argument types";
        if (untyped == n)
                return " (argument types unknown)";
        return " (argument types unknown where shown as ?)";
}

int mbus_print_namespace(FILE *f, const struct mbus_idl_namespace *ns, const char *owner) {
        static const char *const header[] = { "KIND", "NAME", "IN", "OUT", "DOC" };
        struct print_table t = { .n_columns = ELEMENTSOF(header) };
        int r = 0;

        if (!ns || !ns->name)
                return -EINVAL;

        fprintf(f, "%s: owner %s, ", ns->name, owner ?: "-");
        if (ns->declared)
                fprintf(f, "declared by its owner%s\n", print_untyped_note(ns));
        else
                fprintf(f, "file %s\n", ns->path ?: "(path unknown)");
        if (ns->doc) {
                _cleanup_free_ char *folded = print_fold(ns->doc);

                if (!folded)
                        return -ENOMEM;
                fprintf(f, "%s\n", folded);
        }
        fputc('\n', f);

        for (size_t i = 0; i < ELEMENTSOF(header) && r >= 0; i++)
                r = print_table_add(&t, header[i]);
        r = r ?: print_members(&t, ns, /* event= */ false);
        r = r ?: print_members(&t, ns, /* event= */ true);
        if (r >= 0)
                r = print_table_write(f, &t, " ");
        print_table_done(&t);
        return r;
}

/* --- machine forms ------------------------------------------------------------------------------ */

int mbus_print_xml(FILE *f, const struct mbus_idl_namespace *ns) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = mbus_idl_to_xml(ns, &xml);
        if (r < 0)
                return r;
        fputs(xml, f);
        return ferror(f) ? -EIO : 0;
}

int mbus_print_json(FILE *f, const struct mbus_idl_namespace *ns, bool pretty) {
        _cleanup_json_ json_object *o = NULL;
        int r;

        r = mbus_idl_to_json(ns, &o);
        if (r < 0)
                return r;
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                     : JSON_C_TO_STRING_PLAIN) |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        return ferror(f) ? -EIO : 0;
}
