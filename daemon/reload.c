/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reload: the policy and interface files are one set, read into new objects and put in force by
 * swapping two pointers. One broken file (a typo on a running system, a group a package has not
 * created yet) must not take the bus down, nor loosen it: the set is loaded leniently
 * (conf/confdir.h), a file that fails is left out with an error entry naming file:line, and its
 * namespace keeps what the running set had for it, or at the first load has no file at all, so
 * the scope's strict default decides. At start the same function runs once; only broker.conf
 * (read by main() before) makes the broker refuse to start.
 *
 * Nothing keeps a pointer into a set past the frame that looked it up (the router looks rules
 * and interface files up per frame, and the ReloadConfig call that swaps them is the last thing
 * its own frame does), so the old set is freed at once. What was granted under it is checked
 * again, though: namespace ownership is the one lasting right, so every owner is re-evaluated
 * and loses what the new set no longer lets it own or serve. Subscriptions need no such pass,
 * since every one, exact or wildcard, is checked again per event at delivery. Calls already
 * forwarded stay pending and are answered as always.
 *
 * Once the broker runs, a reload also reads broker.conf again (under the same command line,
 * which still wins) and builds a new TLS server context from the files it names, so certificates
 * rotate without a restart. These join the all-or-nothing rule: a broken broker.conf or a
 * certificate, key, CA or CRL that does not load rejects the whole reload, and the running
 * policy and TLS context stay. Connected TLS peers hold a reference to the context their
 * session was made with, so swapping it touches only the handshakes to come. Of the other
 * settings, a reload applies those read afresh at each use and safe to change under running
 * peers (LogLevel=, MaxPeers= at the next connection, MaxPendingCalls= and MaxCallTimeoutSec=
 * at the next call); listeners, frame and queue sizes, keep-alive, the handshake deadline and
 * the scope stay as the broker started, and a notice names what the file changed among them.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "broker-conf.h"
#include "broker.h"
#include "conf/confdir.h"
#include "conf/file-error.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "conf/policy.h"
#include "driver.h"
#include "listener-ws.h"
#include "log-ids.h"
#include "namespace.h"
#include "peer.h"
#include "proto/tls.h"
#include "stats.h"
#include "util/time-util.h"

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

/* What a reload puts in force of broker.conf's settings; the rest waits for the next start. */
static const enum mbus_option reload_applied[] = {
        MBUS_OPTION_TLS_CERT,
        MBUS_OPTION_TLS_KEY,
        MBUS_OPTION_TLS_CA,
        MBUS_OPTION_TLS_CRL,
        MBUS_OPTION_LOG_LEVEL,
        MBUS_OPTION_MAX_PEERS,
        MBUS_OPTION_MAX_PENDING_CALLS,
        MBUS_OPTION_MAX_CALL_TIMEOUT,
        MBUS_OPTION_ACTIVATION_TIMEOUT,
        MBUS_OPTION_HELLO_TIMEOUT,
        MBUS_OPTION_MAX_HELLO_PER_USER,
        MBUS_OPTION_MAX_PENDING_CALLS_TOTAL,
        MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL,
        MBUS_OPTION_MAX_NAMESPACES_TOTAL,
        MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL,
        MBUS_OPTION_FRAME_TIMEOUT,
        MBUS_OPTION_MIN_FRAME_RATE,
        MBUS_OPTION_MAX_BODY_SIZE,
        MBUS_OPTION_MAX_BODY_DEPTH,
};

static bool reload_applies(enum mbus_option o) {
        for (size_t i = 0; i < ELEMENTSOF(reload_applied); i++)
                if (reload_applied[i] == o)
                        return true;
        return false;
}

static void reload_conf_warn(const char *path, unsigned line, const char *message, void *userdata) {
        (void) mbus_log(LOG_WARNING, 0, NULL, "%s:%u: %s", path, line, message);
}

/* Puts settings (checked whole) and tls (taken) in force; cannot fail but for memory. */
static int reload_apply_settings(struct mbus_broker *b, const struct mbus_options *settings,
                                 struct mbus_tls_context *tls) {
        char left[512] = "", key[64];
        size_t n = 0;
        int r;

        for (enum mbus_option o = 0; o < _MBUS_OPTION_MAX; o++) {
                if (mbus_options_equal(b->options, settings, o))
                        continue;
                if (reload_applies(o)) {
                        r = mbus_options_copy(b->options, settings, o);
                        if (r < 0) {
                                mbus_tls_context_unref(tls);
                                return r;
                        }
                        continue;
                }
                n += (size_t) snprintf(left + MIN(n, sizeof(left)), sizeof(left) - MIN(n, sizeof(left)), "%s%s=",
                                       n > 0 ? ", " : "",
                                       mbus_broker_conf_key_of(o, key, sizeof(key)) ?: mbus_option_to_string(o));
        }
        b->options->default_call_timeout = settings->default_call_timeout;
        mbus_log_set_max_level(b->options->log_level);
        mbus_tls_context_unref(b->tls_server);
        b->tls_server = tls;

        if (n > 0)
                (void) mbus_log(LOG_NOTICE, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_LOADED),
                                "broker.conf changes %s: left as the broker started until it restarts", left);
        return 0;
}

static void reload_options_done(struct mbus_options *o) {
        mbus_options_done(o);
}

/* The namespaces whose file a load left out: they take the running set's entry at the swap. */
struct reload_skipped {
        struct mbus_broker *broker;
        const char *kind;                       /* "policy", "interface": for messages */
        char **names;
        size_t n_names;
        size_t n_files;                         /* names, and directories that could not be listed */
        struct mbus_file_error first;
        bool oom;
};

static void reload_skipped_done(struct reload_skipped *s) {
        for (size_t i = 0; i < s->n_names; i++)
                free(s->names[i]);
        free(s->names);
}

static void reload_on_warning(const struct mbus_file_error *w, void *userdata) {
        char text[600];

        (void) mbus_log(LOG_WARNING, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_WARNING), "%s",
                        mbus_file_error_format(w, text, sizeof(text)));
}

static void reload_on_skipped(const char *name, const struct mbus_file_error *e, void *userdata) {
        struct reload_skipped *s = userdata;
        char text[600], more[128] = "";
        char **a;

        if (s->n_files++ == 0)
                s->first = *e;
        /* One entry per file; mbus-introspect --check lists every error of it. */
        if (e->n_errors > 1)
                (void) snprintf(more, sizeof(more), " (and %u more error%s: mbus-introspect --check lists them)",
                                e->n_errors - 1, e->n_errors == 2 ? "" : "s");
        (void) mbus_log(LOG_ERR, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_FILE_SKIPPED, .ns = name),
                        "Left out the %s file %s: %s%s", s->kind, name ?: "directory",
                        mbus_file_error_format(e, text, sizeof(text)), more);
        if (!name)
                return;
        a = reallocarray(s->names, s->n_names + 1, sizeof(*a));
        if (a)
                s->names = a;
        if (!a || !(s->names[s->n_names] = strdup(name))) {
                s->oom = true;
                return;
        }
        s->n_names++;
}

/*
 * Left-out namespaces keep the running set's entry. At the first load the running set is the
 * empty one mbus_broker_new() made, so they have none, which the loader already saw to.
 */
static int reload_keep_running(struct mbus_broker *b, struct mbus_policy *policy,
                               struct mbus_introspection *interfaces, const struct reload_skipped *sp,
                               const struct reload_skipped *si) {
        int r = 0;

        for (size_t i = 0; i < sp->n_names && r >= 0; i++)
                r = mbus_policy_adopt(policy, b->policy, sp->names[i]);
        for (size_t i = 0; b->interfaces && i < si->n_names && r >= 0; i++)
                r = mbus_introspection_adopt(interfaces, b->interfaces, si->names[i]);
        return r;
}

static int reload_config(struct mbus_broker *b, struct mbus_file_error *err, size_t *ret_n_policy,
                         size_t *ret_n_interfaces);

/*
 * A reload (not the first load, which main() follows with READY=1) tells systemd it is under
 * way and when it is done, with the outcome on the STATUS= line, so systemctl shows
 * "reloading" while it runs and the left-out file or the rejection after it.
 */
int mbus_broker_reload_config(struct mbus_broker *b, struct mbus_file_error *err, size_t *ret_n_policy,
                              size_t *ret_n_interfaces) {
        struct mbus_file_error local = {};
        bool running = b->config_loaded;
        char text[600];
        int r;

        if (!err)
                err = &local;
        if (running)
                (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
        r = reload_config(b, err, ret_n_policy, ret_n_interfaces);
        if (!running)
                return r;
        if (r < 0)
                (void) snprintf(b->config_problem, sizeof(b->config_problem), "last reload rejected: %s",
                                mbus_file_error_format(err, text, sizeof(text)));
        b->status_line[0] = 0;          /* sent again with READY=1 */
        mbus_stats_format_status(b, b->status_line, sizeof(b->status_line));
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", b->status_line);
        return r;
}

static int reload_config(struct mbus_broker *b, struct mbus_file_error *err, size_t *ret_n_policy,
                         size_t *ret_n_interfaces) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *policy = NULL;
        _cleanup_(mbus_introspection_freep) struct mbus_introspection *interfaces = NULL;
        _cleanup_(reload_options_done) struct mbus_options settings = {};
        _cleanup_(mbus_tls_context_unrefp) struct mbus_tls_context *tls = NULL;
        _cleanup_(reload_skipped_done) struct reload_skipped sp = { .broker = b, .kind = "policy" };
        _cleanup_(reload_skipped_done) struct reload_skipped si = { .broker = b, .kind = "interface" };
        const struct mbus_conf_report rp = { .warning = reload_on_warning, .skipped = reload_on_skipped, .userdata = &sp };
        const struct mbus_conf_report ri = { .warning = reload_on_warning, .skipped = reload_on_skipped, .userdata = &si };
        struct mbus_file_error local = {};
        bool with_settings = b->cmdline && b->config_loaded;
        char bufs[2][PATH_MAX], text[600];
        const char *dirs[2];
        size_t n;
        int r = 0;

        if (!err)
                err = &local;
        *err = (struct mbus_file_error) {};

        /* The start read broker.conf before the broker existed; reloads read it here. */
        if (with_settings)
                r = mbus_broker_conf_read(&settings, b->cmdline, reload_conf_warn, b, err);
        if (r >= 0) {
                n = mbus_confdir_search_path(b->options->config_dir, "policy.d", bufs, dirs);
                r = mbus_policy_load_report(&policy, dirs, n, mbus_policy_get_scope(b->policy), b->uid, &rp, err);
        }
        if (r >= 0) {
                n = mbus_confdir_search_path(b->options->config_dir, "interfaces.d", bufs, dirs);
                r = mbus_introspection_load_report(&interfaces, dirs, n, &ri, err);
        }
        if (r >= 0 && (sp.oom || si.oom))
                r = -ENOMEM;
        if (r >= 0 && with_settings)
                r = mbus_broker_make_tls(b, &settings, &tls, err);
        if (r < 0) {
                if (!err->message[0])
                        (void) mbus_file_error_set(err, NULL, 0, "%s", strerror(-r));
                return mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_INVALID),
                                "Configuration rejected%s: %s",
                                b->config_loaded ? ", the previous one stays in force" : "",
                                mbus_file_error_format(err, text, sizeof(text)));
        }

        r = reload_keep_running(b, policy, interfaces, &sp, &si);
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "Out of memory keeping the rules of left-out files, "
                                "the previous configuration stays in force");
        if (with_settings) {
                r = reload_apply_settings(b, &settings, TAKE_PTR(tls));
                if (r < 0)
                        return mbus_log(LOG_ERR, r, NULL, "Out of memory applying broker.conf");
                /* wss:// has a TLS context of its own, made by libwebsockets: renew it too. */
                if (b->ws)
                        (void) mbus_ws_reload_tls(b->ws);
        }
        mbus_policy_free(b->policy);
        b->policy = TAKE_PTR(policy);
        mbus_introspection_free(b->interfaces);
        b->interfaces = TAKE_PTR(interfaces);
        b->config_loaded = true;

        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_LOADED),
                        "Loaded the policy of %zu namespaces and the interfaces of %zu (%s scope%s%s)%s%s",
                        mbus_policy_n_namespaces(b->policy), mbus_introspection_size(b->interfaces),
                        mbus_policy_scope_to_string(mbus_policy_get_scope(b->policy)),
                        b->options->config_dir ? ", from " : "", b->options->config_dir ?: "",
                        with_settings && b->tls_server ? ", and the TLS certificates" : "",
                        sp.n_files + si.n_files > 0 ? "; some files were left out" : "");

        /* What systemctl status shows until a load succeeds whole. */
        n = sp.n_files + si.n_files;
        if (n > 0) {
                *err = sp.n_files > 0 ? sp.first : si.first;
                (void) snprintf(b->config_problem, sizeof(b->config_problem), "%zu configuration file%s left out: %s",
                                n, n == 1 ? "" : "s", mbus_file_error_format(err, text, sizeof(text)));
        } else
                b->config_problem[0] = 0;

        broker_reevaluate_owners(b);

        if (ret_n_policy)
                *ret_n_policy = mbus_policy_n_namespaces(b->policy);
        if (ret_n_interfaces)
                *ret_n_interfaces = mbus_introspection_size(b->interfaces);
        return (int) MIN(n, (size_t) INT_MAX);
}
