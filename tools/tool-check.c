/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-call and mbus-publish check arguments before they send them, against the description
 * the broker gives of the namespace, with the very validator (libmbus_conf) the broker runs on
 * bodies of namespaces with an interface file: a typo is named on the command line, with the
 * argument and the type expected, and exits 2 like every other usage error, instead of coming
 * back as a remote error (exit 1) or, for a namespace the broker does not check, reaching the
 * service at all. It costs one Introspect round trip; --no-check skips it.
 */

#include <errno.h>
#include <string.h>

#include "conf/idl.h"
#include "tools/tool-check.h"
#include "tools/tool-util.h"
#include "util/json-util.h"
#include "util/macro.h"

/* Connection failures end the tool; any error the broker names just means "nothing to check". */
static bool check_is_connection_error(int r, const struct mbus_error *error) {
        return !mbus_error_is_set(error) || mbus_error_has_name(error, MBUS_ERROR_DISCONNECTED) ||
               mbus_error_has_name(error, MBUS_ERROR_TIMEOUT) || r == -ETIMEDOUT;
}

int tool_check_args(struct mbus_conn *conn, const char *ns, const char *member, bool is_event, json_object *args,
                    usec_t timeout) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *desc = NULL;
        _cleanup_(mbus_error_free) struct mbus_error error = MBUS_ERROR_NULL;
        _cleanup_json_ json_object *q = NULL, *result = NULL;
        const struct mbus_idl_member *m;
        struct mbus_file_error ferr = {};
        const char *body = NULL;
        char reason[512];
        int r;

        q = json_object_new_object();
        if (!q || json_object_object_add(q, "namespace", json_object_new_string(ns)) < 0)
                return -ENOMEM;
        r = mbus_call(conn, MBUS_BROKER_NAMESPACE, "Introspect", q, timeout, &result, &error);
        if (r < 0)
                return check_is_connection_error(r, &error) ? r : 0;
        if (mbus_idl_from_json(&desc, result, &ferr) < 0)
                return 0;       /* a description this tool cannot read: the broker still checks */

        m = is_event ? mbus_idl_find_event(desc, member) : mbus_idl_find_procedure(desc, member);
        /* Declared by the owner without argument lists: the arguments are unknown, not none. */
        if (!m || (desc->declared && m->n_in == 0))
                return 0;

        if (args)
                body = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
        /* The types only: size and depth are the broker's to judge, by limits this tool cannot see. */
        r = mbus_idl_validate(m->in, m->n_in, body, body ? strlen(body) : 0,
                              &(struct mbus_idl_limits) { MBUS_IDL_BODY_SIZE_MAX, MBUS_IDL_BODY_DEPTH_MAX },
                              reason, sizeof(reason));
        if (r >= 0)
                return 0;
        tool_error("invalid %s for %s.%s: %s%s (see mbus-introspect %s; --no-check sends them anyway)",
                   is_event ? "payload" : "arguments", ns, member, reason,
                   strstr(reason, "got string") ? ": KEY:=JSON gives a number, a list, true or false" : "", ns);
        return -EINVAL;
}
