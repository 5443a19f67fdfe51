/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reload: the policy and interface files are one set, read whole into new objects and put in
 * force by swapping two pointers, or not at all. A broken file (a typo on a running system)
 * must not leave the bus half-configured, nor with no policy: on any error the running set
 * stays and the error names file and line. At start the same function runs once, and main()
 * refuses to start on its error instead.
 *
 * Nothing keeps a pointer into a set past the frame that looked it up (the router looks rules
 * and interface files up per frame, and the ReloadConfig call that swaps them is the last thing
 * its own frame does), so the old set is freed at once. What was granted under it is checked
 * again, though: namespace ownership is the one lasting right, so every owner is re-evaluated
 * and loses what the new set no longer lets it own or serve. Subscriptions need no such pass,
 * since every one, exact or wildcard, is checked again per event at delivery. Calls already
 * forwarded stay pending and are answered as always.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "conf/confdir.h"
#include "conf/file-error.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "conf/policy.h"
#include "driver.h"
#include "log-ids.h"
#include "namespace.h"
#include "peer.h"

/*
 * After a new set is in force, every owner is held to it: an owner that may no longer own its
 * namespace, or that declared procedures or events a new interface file does not, is told
 * (NamespaceLost, direct) and loses it (NamespaceOwnerChanged). Pending calls it already
 * received stay its to answer: they are keyed by peer, not by namespace.
 */
static void broker_reevaluate_owners(struct mbus_broker *b) {
        _cleanup_free_ struct mbus_namespace **all = NULL;
        size_t n = 0;

        if (mbus_namespace_registry_list(b->namespaces, &all, &n) < 0) {
                (void) mbus_log(LOG_ERR, -ENOMEM, NULL, "Out of memory re-evaluating owners after a reload");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                struct mbus_namespace *ns = all[i];
                struct mbus_policy_decision d;
                struct mbus_identity who;
                struct mbus_peer *peer;
                _cleanup_free_ char *name = NULL;
                char why[512];
                uint64_t owner = ns->owner;

                if (owner == MBUS_BROKER_ID)
                        continue;
                peer = mbus_broker_find_peer(b, owner);
                if (!peer)
                        continue;
                mbus_creds_to_identity(&peer->creds, &who);
                if (mbus_policy_check(b->policy, &who, MBUS_POLICY_OWN, ns->name, NULL, NULL, &d) < 0)
                        (void) mbus_policy_decision_describe(&d, why, sizeof(why));
                else {
                        /* An owner may serve only what a (new) interface file declares. */
                        const struct mbus_idl_namespace *file = mbus_introspection_get(b->interfaces, ns->name);

                        if (!file || !ns->described ||
                            mbus_introspection_check_declaration(file, ns->described, why, sizeof(why)) >= 0)
                                continue;
                }

                name = strdup(ns->name);
                if (!name)
                        continue;
                (void) mbus_log(LOG_NOTICE, 0,
                                MBUS_FIELDS(.msgid = MBUS_MSGID_NAMESPACE_LOST, .peer = peer, .ns = name,
                                            .action = "own", .rule = why),
                                "Peer :1.%" PRIu64 " may no longer own %s after the reload: %s", peer->id, name,
                                why);
                mbus_driver_send_namespace_lost(b, peer, name, why);
                if (mbus_namespace_unregister(b->namespaces, name, owner) >= 0)
                        mbus_driver_emit_owner_changed(b, name, owner, /* new_owner= */ 0);
        }
}

int mbus_broker_reload_config(struct mbus_broker *b, struct mbus_file_error *err, size_t *ret_n_policy,
                              size_t *ret_n_interfaces) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *policy = NULL;
        _cleanup_(mbus_introspection_freep) struct mbus_introspection *interfaces = NULL;
        struct mbus_file_error local = {};
        char bufs[2][PATH_MAX], text[600];
        const char *dirs[2];
        size_t n;
        int r;

        if (!err)
                err = &local;
        *err = (struct mbus_file_error) {};

        n = mbus_confdir_search_path(b->options->config_dir, "policy.d", bufs, dirs);
        r = mbus_policy_load(&policy, dirs, n, mbus_policy_get_scope(b->policy), b->uid, err);
        if (r >= 0) {
                n = mbus_confdir_search_path(b->options->config_dir, "interfaces.d", bufs, dirs);
                r = mbus_introspection_load(&interfaces, dirs, n, err);
        }
        if (r < 0) {
                if (!err->message[0])
                        (void) mbus_file_error_set(err, NULL, 0, "%s", strerror(-r));
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_INVALID),
                                "Configuration rejected%s: %s",
                                b->config_loaded ? ", the previous one stays in force" : "",
                                mbus_file_error_format(err, text, sizeof(text)));
        }

        mbus_policy_free(b->policy);
        b->policy = TAKE_PTR(policy);
        mbus_introspection_free(b->interfaces);
        b->interfaces = TAKE_PTR(interfaces);
        b->config_loaded = true;

        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_LOADED),
                        "Loaded the policy of %zu namespaces and the interfaces of %zu (%s scope%s%s)",
                        mbus_policy_n_namespaces(b->policy), mbus_introspection_size(b->interfaces),
                        mbus_policy_scope_to_string(mbus_policy_get_scope(b->policy)),
                        b->options->config_dir ? ", from " : "", b->options->config_dir ?: "");

        broker_reevaluate_owners(b);

        if (ret_n_policy)
                *ret_n_policy = mbus_policy_n_namespaces(b->policy);
        if (ret_n_interfaces)
                *ret_n_interfaces = mbus_introspection_size(b->interfaces);
        return 0;
}
