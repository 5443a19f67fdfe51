/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --explain answers the question the broker answers on every REGISTER, CALL, SUBSCRIBE and
 * direct EVENT, without a broker: the policy is read from the same directories by the same
 * mbus_policy_load() and decided by the same mbus_policy_check(), so what this prints is what
 * the broker would do with these files (until they change: the broker reads them at start and
 * on reload). Only the identity is made up here, from the command line, where the broker takes
 * it from SO_PEERCRED or the peer's certificate and remote address; a certificate mapped to a
 * user in @identities is judged as that user here as there, by the same mbus_policy_check().
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/confdir.h"
#include "conf/file-error.h"
#include "introspect/explain.h"
#include "util/macro.h"

int mbus_explain_run(const struct mbus_explain *e, FILE *out) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        struct mbus_policy_decision d = {};
        char bufs[2][PATH_MAX], buf[1024];
        const char *dirs[2];
        size_t n_dirs;
        int r;

        n_dirs = mbus_confdir_search_path(e->config_dir, "policy.d", bufs, dirs);
        r = mbus_policy_load(&p, dirs, n_dirs, e->scope, e->broker_uid, &err);
        if (r < 0) {
                if (err.path[0] || err.message[0])
                        fprintf(stderr, "%s\n", mbus_file_error_format(&err, buf, sizeof(buf)));
                return r;
        }

        r = mbus_policy_check(p, &e->who, e->action, e->ns, e->member, e->owner_uid, &d);
        fprintf(out, "%s: %s\n", r == 0 ? "allow" : "deny", mbus_policy_decision_describe(&d, buf, sizeof(buf)));
        if (fflush(out) != 0)
                return -EIO;
        return r == 0 ? 0 : 1;
}

int mbus_explain_parse_id(const char *s, uid_t *ret) {
        unsigned long v;
        char *end;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v >= (unsigned long) (uid_t) -1)
                return -EINVAL;
        *ret = (uid_t) v;
        return 0;
}

int mbus_explain_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, gid_t **ret_groups,
                              size_t *ret_n_groups) {
        _cleanup_free_ gid_t *groups = NULL;
        struct passwd *pw;
        size_t n = 0;
        uid_t uid;
        int r;

        if (!name || !*name)
                return -EINVAL;
        errno = 0;
        pw = mbus_explain_parse_id(name, &uid) >= 0 ? getpwuid(uid) : getpwnam(name);
        if (!pw)
                return errno > 0 && errno != ENOENT && errno != ESRCH ? -errno : -ESRCH;

        r = mbus_policy_user_groups(pw->pw_name, pw->pw_gid, &groups, &n);
        if (r < 0)
                return r;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        *ret_groups = TAKE_PTR(groups);
        *ret_n_groups = n;
        return 0;
}

int mbus_explain_resolve_group(const char *s, gid_t *ret) {
        struct group *gr;

        if (!s || !*s)
                return -EINVAL;
        if (mbus_explain_parse_id(s, ret) >= 0)
                return 0;
        errno = 0;
        gr = getgrnam(s);
        if (!gr)
                return errno > 0 && errno != ENOENT && errno != ESRCH ? -errno : -ESRCH;
        *ret = gr->gr_gid;
        return 0;
}

int mbus_explain_parse_groups(const char *list, gid_t **groups, size_t *n_groups, const char **ret_bad) {
        static char bad[256];
        const char *p = list;

        for (;;) {
                size_t len = strcspn(p, ",");
                char item[256];
                gid_t gid = 0, *g;
                int r;

                if (len >= sizeof(item))
                        len = sizeof(item) - 1;
                memcpy(item, p, len);
                item[len] = 0;
                r = mbus_explain_resolve_group(item, &gid);
                if (r < 0) {
                        (void) snprintf(bad, sizeof(bad), "%s", item);
                        *ret_bad = bad;
                        return r;
                }
                g = reallocarray(*groups, *n_groups + 1, sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                *groups = g;
                (*groups)[(*n_groups)++] = gid;
                p += strcspn(p, ",");
                if (!*p)
                        return 0;
                p++;
        }
}

int mbus_explain_parse_fingerprint(const char *s, char ret[65]) {
        size_t n = 0;

        for (; s && *s; s++) {
                if (*s == ':')
                        continue;
                if (!isxdigit((unsigned char) *s) || n == 64)
                        return -EINVAL;
                ret[n++] = (char) tolower((unsigned char) *s);
        }
        if (n != 64)
                return -EINVAL;
        ret[n] = 0;
        return 0;
}

int mbus_explain_parse_address(const char *s, struct sockaddr_storage *ret) {
        struct sockaddr_in sin = { .sin_family = AF_INET };
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

        struct sockaddr_storage ss = {};

        if (!s || !ret)
                return -EINVAL;
        if (inet_pton(AF_INET, s, &sin.sin_addr) == 1)
                memcpy(&ss, &sin, sizeof(sin));
        else if (inet_pton(AF_INET6, s, &sin6.sin6_addr) == 1)
                memcpy(&ss, &sin6, sizeof(sin6));
        else
                return -EINVAL;
        *ret = ss;
        return 0;
}
