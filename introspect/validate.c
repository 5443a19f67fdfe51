/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --check validates files with the very functions the broker loads them with, so a package's
 * CI sees the errors the broker would log, word for word (PATH:LINE: message), and a file that
 * passes here loads there, user and group names included (they are resolved on this machine,
 * as the broker resolves them on its own).
 *
 * What kind a file is comes from its content, which both forms state in their first lines
 * (<namespace>/<policy>/<identities>, "procedures"/"rules"/"maps"; the policy loader tells
 * @identities by its name), and only then from the directory it sits in:
 * a file being edited outside interfaces.d or policy.d checks all the same. What neither
 * tells is taken as an introspection file, so a syntax error is still reported with its line.
 */

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "conf/confdir.h"
#include "conf/file-error.h"
#include "conf/idl.h"
#include "conf/policy.h"
#include "introspect/validate.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"

/* --- what kind of file ------------------------------------------------------------------------ */

struct validate_sniff {
        XML_Parser parser;
        enum mbus_validate_kind kind;
        bool seen;
};

static void XMLCALL validate_on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        struct validate_sniff *s = userdata;

        if (s->seen)
                return;
        s->seen = true;
        if (strcmp(name, "namespace") == 0)
                s->kind = MBUS_VALIDATE_INTERFACE;
        else if (strcmp(name, "policy") == 0 || strcmp(name, "identities") == 0)
                s->kind = MBUS_VALIDATE_POLICY;
        /* The root element is all we need; the real parser reads the rest. */
        (void) XML_StopParser(s->parser, /* resumable= */ XML_FALSE);
}

/* Entity declarations are refused by both parsers; here they must not even expand. */
static void XMLCALL validate_on_entity_decl(void *userdata, const XML_Char *name, int is_parameter_entity,
                                         const XML_Char *value, int value_length, const XML_Char *base,
                                         const XML_Char *system_id, const XML_Char *public_id,
                                         const XML_Char *notation_name) {
        struct validate_sniff *s = userdata;

        (void) XML_StopParser(s->parser, /* resumable= */ XML_FALSE);
}

static enum mbus_validate_kind validate_kind_of_xml(const char *text, size_t len) {
        struct validate_sniff s = { .kind = _MBUS_VALIDATE_KIND_INVALID };

        if (len > INT_MAX)
                return _MBUS_VALIDATE_KIND_INVALID;
        s.parser = XML_ParserCreate("UTF-8");
        if (!s.parser)
                return _MBUS_VALIDATE_KIND_INVALID;
        XML_SetUserData(s.parser, &s);
        XML_SetStartElementHandler(s.parser, validate_on_start);
        XML_SetEntityDeclHandler(s.parser, validate_on_entity_decl);
        (void) XML_Parse(s.parser, text, (int) len, XML_TRUE);
        XML_ParserFree(s.parser);
        return s.kind;
}

static enum mbus_validate_kind validate_kind_of_json(const char *text, size_t len) {
        _cleanup_json_ json_object *o = NULL;

        if (json_parse_bytes(text, len, &o) < 0 || !json_object_is_type(o, json_type_object))
                return _MBUS_VALIDATE_KIND_INVALID;
        if (json_object_object_get_ex(o, "rules", NULL) || json_object_object_get_ex(o, "maps", NULL))
                return MBUS_VALIDATE_POLICY;
        if (json_object_object_get_ex(o, "procedures", NULL) || json_object_object_get_ex(o, "events", NULL))
                return MBUS_VALIDATE_INTERFACE;
        return _MBUS_VALIDATE_KIND_INVALID;
}

static enum mbus_validate_kind validate_kind_of_dir(const char *path) {
        const char *slash = strrchr(path, '/'), *dir;
        size_t len;

        if (!slash)
                return _MBUS_VALIDATE_KIND_INVALID;
        /* Trailing slashes of the directory part do not count ("a/policy.d//x.xml"). */
        while (slash > path && slash[-1] == '/')
                slash--;
        dir = slash;
        while (dir > path && dir[-1] != '/')
                dir--;
        len = (size_t) (slash - dir);
        if (len == strlen("interfaces.d") && strncmp(dir, "interfaces.d", len) == 0)
                return MBUS_VALIDATE_INTERFACE;
        if (len == strlen("policy.d") && strncmp(dir, "policy.d", len) == 0)
                return MBUS_VALIDATE_POLICY;
        return _MBUS_VALIDATE_KIND_INVALID;
}

enum mbus_validate_kind mbus_validate_kind_of(const char *path, const char *text, size_t len) {
        enum mbus_validate_kind k = _MBUS_VALIDATE_KIND_INVALID;
        const char *suffix = mbus_confdir_suffix(path);

        if (text && suffix && strcmp(suffix, ".xml") == 0)
                k = validate_kind_of_xml(text, len);
        else if (text && suffix && strcmp(suffix, ".json") == 0)
                k = validate_kind_of_json(text, len);
        if (k < 0)
                k = validate_kind_of_dir(path);
        return k;
}

/* --- checking ------------------------------------------------------------------------------------ */

/* Reads at most the size limit (plus one byte) for sniffing; the loaders read the file again
 * and report what is wrong with it, so a failure here only means "content unknown". */
static int validate_read(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        buf = malloc(MBUS_IDL_FILE_SIZE_MAX + 2);
        if (!buf)
                return -ENOMEM;
        while (n <= MBUS_IDL_FILE_SIZE_MAX) {
                ssize_t k = read(fd, buf + n, MBUS_IDL_FILE_SIZE_MAX + 1 - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

/* Every error of the file in line order, warnings among them; without a list entry, what r says. */
static void validate_report(FILE *err, struct mbus_file_errors *all, const struct mbus_file_error *e,
                            const char *path, int r) {
        char buf[1024];

        mbus_file_errors_sort(all);
        for (size_t i = 0; i < all->n_errors; i++)
                fprintf(err, "%s\n", mbus_file_error_format(&all->errors[i], buf, sizeof(buf)));
        if (all->n_dropped > 0)
                fprintf(err, "%s: %zu more error%s not shown\n", path, all->n_dropped, all->n_dropped == 1 ? "" : "s");
        if (all->n_errors > 0 || all->n_dropped > 0 || r >= 0)
                return;
        if (e->path[0] || e->message[0])
                fprintf(err, "%s\n", mbus_file_error_format(e, buf, sizeof(buf)));
        else
                fprintf(err, "%s: %s\n", path, strerror(-r));
}

struct validate_warnings {
        struct mbus_file_errors *all;
        unsigned n;
};

/* What the broker goes past with a warning is an error here: listed with the file's errors. */
static void validate_on_warning(const struct mbus_file_error *w, void *userdata) {
        struct validate_warnings *v = userdata;
        struct mbus_file_error copy = { .all = v->all };

        (void) mbus_file_error_set(&copy, w->path, w->line, "%s", w->message);
        v->n++;
}

/* 0 good, 1 bad (reported), -ENOMEM. */
static int validate_file(const char *path, FILE *out, FILE *err) {
        _cleanup_free_ char *text = NULL;
        struct mbus_file_errors all = {};
        struct validate_warnings v = { .all = &all };
        const struct mbus_conf_report report = { .warning = validate_on_warning, .userdata = &v };
        struct mbus_file_error e = { .all = &all };
        enum mbus_validate_kind kind;
        size_t len = 0;
        int r;

        if (validate_read(path, &text, &len) == -ENOMEM)
                return -ENOMEM;
        kind = mbus_validate_kind_of(path, text, len);

        if (kind == MBUS_VALIDATE_POLICY) {
                _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;

                /* Scope and broker uid only matter to checks; loading is the same for all. */
                r = mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, /* broker_uid= */ 0);
                if (r < 0)
                        return r;
                r = mbus_policy_add_file_report(p, path, &report, &e);
        } else {
                _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL;

                r = mbus_idl_load_file(&ns, path, &e);
        }
        if (r == -ENOMEM) {
                mbus_file_errors_done(&all);
                return r;
        }
        if (r < 0 || v.n > 0) {
                validate_report(err, &all, &e, path, r);
                mbus_file_errors_done(&all);
                return 1;
        }
        mbus_file_errors_done(&all);
        fprintf(out, "%s: ok\n", path);
        return 0;
}

struct validate_walk {
        FILE *out, *err;
        int result;                     /* 1 once a file was bad */
};

static int validate_one(const struct mbus_confdir_entry *entry, void *userdata, struct mbus_file_error *e) {
        struct validate_walk *w = userdata;
        int r;

        /* Every file is checked and reported; only running out of memory stops the walk. */
        r = validate_file(entry->path, w->out, w->err);
        if (r < 0)
                return r;
        if (r > 0)
                w->result = r;
        return 0;
}

static int validate_directory(const char *path, FILE *out, FILE *err) {
        struct validate_walk w = { .out = out, .err = err };
        struct mbus_file_error e = {};
        _cleanup_free_ char *dir = strdup(path);
        const char *dirs[1];
        size_t len;
        int r;

        if (!dir)
                return -ENOMEM;
        /* "interfaces.d/" names its files "interfaces.d/NS.xml", as the broker would. */
        for (len = strlen(dir); len > 1 && dir[len - 1] == '/'; len--)
                dir[len - 1] = 0;

        dirs[0] = dir;
        r = mbus_confdir_foreach(dirs, 1, validate_one, /* skip= */ NULL, &w, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                struct mbus_file_errors none = {};

                validate_report(err, &none, &e, dir, r);
                return 1;
        }
        if (r == 0)
                fprintf(out, "%s: ok (no NAMESPACE.xml or NAMESPACE.json files)\n", dir);
        return w.result;
}

int mbus_validate_paths(char *const *paths, size_t n_paths, FILE *out, FILE *err) {
        int result = 0;

        for (size_t i = 0; i < n_paths; i++) {
                struct stat st;
                int r;

                if (stat(paths[i], &st) >= 0 && S_ISDIR(st.st_mode))
                        r = validate_directory(paths[i], out, err);
                else
                        r = validate_file(paths[i], out, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        result = 1;
        }
        (void) fflush(out);
        return result;
}
