/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-process tests of policy and interface enforcement: a real broker on its own sd-event
 * loop reading a configuration directory, peers on socketpairs whose credentials are set by
 * the test (so every uid is reachable without setuid), the loop stepped by hand. The
 * directory holds the shipped org.mbus.Broker files too, so they are exercised as installed.
 */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/file-error.h"
#include "conf/policy.h"
#include "namespace.h"
#include "peer.h"
#include "proto/names.h"
#include "test-harness.h"
#include "util/json-util.h"
#include "util/test-util.h"

static void copy_shipped(const char *dir, const char *kind) {
        char cmd[1024];

        (void) snprintf(cmd, sizeof(cmd), "cp '%s/%s/org.mbus.Broker.xml' '%s/%s/'", MBUS_POLICY_SOURCE_DIR, kind,
                        dir, kind);
        ck_assert_int_eq(system(cmd), 0);
}

#define NET_POLICY                                                                      \
        "<policy namespace=\"org.t.Net\">\n"                                            \
        "  <allow own=\"true\" user=\"1000\"/>\n"                                       \
        "  <allow call=\"*\" user=\"*\"/>\n"                                            \
        "  <deny call=\"Reboot\" user=\"*\"/>\n"                                        \
        "  <allow subscribe=\"Public\" user=\"*\"/>\n"                                  \
        "</policy>\n"

#define NET_INTERFACE                                                                   \
        "{\"namespace\": \"org.t.Net\",\n"                                              \
        " \"procedures\": [{\"name\": \"GetState\", \"in\": [{\"name\": \"interface\", \"type\": \"string\"}]},\n" \
        "                {\"name\": \"Reboot\"}],\n"                                    \
        " \"events\": [{\"name\": \"Changed\", \"args\": [{\"name\": \"state\", \"type\": \"string\"}]},\n" \
        "             {\"name\": \"Public\"}]}\n"

static void t_init(struct tctx *t) {
        struct mbus_file_error err = {};
        char sub[128];

        t_setup(t, LOG_ERR);

        (void) snprintf(t->dir, sizeof(t->dir), "/tmp/mbus-test-enforce.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        (void) snprintf(sub, sizeof(sub), "%s/policy.d", t->dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        write_file(sub, "org.t.Net.xml", NET_POLICY);
        (void) snprintf(sub, sizeof(sub), "%s/interfaces.d", t->dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        write_file(sub, "org.t.Net.json", NET_INTERFACE);
        copy_shipped(t->dir, "policy.d");
        copy_shipped(t->dir, "interfaces.d");

        t->options.config_dir = strdup(t->dir);
        t->options.scope = MBUS_POLICY_SCOPE_SYSTEM;
        t_start(t);
        if (mbus_broker_reload_config(t->broker, &err, NULL, NULL) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
}

/* Sends a frame and returns the answer (RETURN or ERROR) to it. */
static struct mbus_frame *tp_ask(struct tctx *t, struct tpeer *p, enum mbus_frame_type type,
                                 struct mbus_frame_fields f, const char *body) {
        struct mbus_frame *r;
        uint64_t serial = tp_send(p, type, f, body);

        r = tp_recv(t, p);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->f.reply_serial, serial);
        return r;
}

/* Expects ERROR name whose message contains part. */
static void tp_expect_error(struct tctx *t, struct tpeer *p, enum mbus_frame_type type, struct mbus_frame_fields f,
                            const char *body, const char *name, const char *part) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *r = tp_ask(t, p, type, f, body);
        _cleanup_json_ json_object *o = NULL;

        ck_assert_int_eq(r->type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(r->f.error_name, name);
        ck_assert_int_eq(json_parse_bytes((const char *) r->body, r->body_len, &o), 0);
        ck_assert_msg(strstr(json_get_string(o, "message") ?: "", part), "'%s' lacks '%s'",
                      json_get_string(o, "message"), part);
}

static void tp_expect_return(struct tctx *t, struct tpeer *p, enum mbus_frame_type type,
                             struct mbus_frame_fields f, const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *r = tp_ask(t, p, type, f, body);

        ck_assert_msg(r->type == MBUS_FRAME_RETURN, "got %s %s", mbus_frame_type_to_string(r->type),
                      r->f.error_name ?: "");
}

#define F(...) ((struct mbus_frame_fields) { __VA_ARGS__ })

START_TEST(test_own_is_checked_and_denial_names_the_default) {
        struct tctx t = {};
        struct tpeer alice, bob;

        t_init(&t);
        tp_connect_as(&t, &alice, 1000, 1000);
        tp_connect_as(&t, &bob, 2000, 2000);
        tp_hello(&t, &alice, "alice");
        tp_hello(&t, &bob, "bob");

        tp_expect_error(&t, &bob, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"), NULL,
                        "org.mbus.Error.AccessDenied", "Access denied: own org.t.Net by uid 2000: no rule matched; "
                        "the system scope's default");
        tp_expect_error(&t, &alice, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Other"), NULL,
                        "org.mbus.Error.AccessDenied", "lets only root own");
        /* Declaring a procedure the file does not: refused, naming it. */
        tp_expect_error(&t, &alice, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"),
                        "{\"procedures\": [\"GetState\", \"Nope\"]}", "org.mbus.Error.InvalidArgs", "procedure Nope");
        tp_expect_error(&t, &alice, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"), "[1]",
                        "org.mbus.Error.InvalidArgs", "REGISTER body");
        tp_expect_return(&t, &alice, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"),
                         "{\"procedures\": [\"GetState\", \"Reboot\"], \"events\": [\"Changed\"]}");
        ck_assert_ptr_nonnull(mbus_namespace_get(t.broker->namespaces, "org.t.Net")->described);

        tp_close(&alice);
        tp_close(&bob);
        t_done(&t);
}
END_TEST

START_TEST(test_calls_are_checked_and_validated) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *fwd = NULL;
        struct tctx t = {};
        struct tpeer svc, bob, root;
        char where[256];

        t_init(&t);
        tp_connect_as(&t, &svc, 1000, 1000);
        tp_connect_as(&t, &bob, 2000, 2000);
        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &bob, "bob");
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"), NULL);

        (void) snprintf(where, sizeof(where), "rule 'deny call Reboot user=*' at %s/policy.d/org.t.Net.xml:4", t.dir);
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "Reboot"), NULL,
                        "org.mbus.Error.AccessDenied", where);
        tp_expect_error(&t, &root, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "Reboot"), NULL,
                        "org.mbus.Error.AccessDenied", "by uid 0");
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "GetState"),
                        "{\"interface\": 3}", "org.mbus.Error.InvalidArgs", "argument 'interface': expected string, got int");
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "GetState"), "{",
                        "org.mbus.Error.InvalidArgs", "not valid JSON");
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "Undeclared"), NULL,
                        "org.mbus.Error.UnknownProcedure", "not declared in");
        ck_assert_ptr_null(tp_recv(&t, &svc));          /* none of these reached the owner */

        tp_send(&bob, MBUS_FRAME_CALL, F(.namespace = "org.t.Net", .member = "GetState"), "{\"interface\": \"eth0\"}");
        fwd = tp_recv(&t, &svc);
        ck_assert_ptr_nonnull(fwd);
        ck_assert_int_eq(fwd->type, MBUS_FRAME_CALL);
        ck_assert_str_eq(fwd->f.member, "GetState");

        /* The broker's own procedures: read-only ones for everyone, validated by the shipped file. */
        tp_expect_return(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ListNamespaces"), NULL);
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "GetPeer"),
                        "{\"id\": 5}", "org.mbus.Error.InvalidArgs", "argument 'id'");
        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ReloadConfig"), NULL,
                        "org.mbus.Error.AccessDenied", "ReloadConfig");
        tp_expect_return(&t, &root, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ReloadConfig"), NULL);

        tp_close(&svc);
        tp_close(&bob);
        tp_close(&root);
        t_done(&t);
}
END_TEST

START_TEST(test_events_are_validated_and_filtered_per_subscriber) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *ev = NULL, *ev2 = NULL;
        struct tctx t = {};
        struct tpeer svc, bob, root;

        t_init(&t);
        tp_connect_as(&t, &svc, 1000, 1000);
        tp_connect_as(&t, &bob, 2000, 2000);
        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &bob, "bob");
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"), NULL);

        /* Exact pattern: checked now. Wildcards: accepted, filtered per event. */
        tp_expect_error(&t, &bob, MBUS_FRAME_SUBSCRIBE, F(.pattern = "org.t.Net.Changed"), NULL,
                        "org.mbus.Error.AccessDenied", "subscribe org.t.Net.Changed by uid 2000");
        tp_expect_return(&t, &bob, MBUS_FRAME_SUBSCRIBE, F(.pattern = "org.t.*"), NULL);
        tp_expect_return(&t, &root, MBUS_FRAME_SUBSCRIBE, F(.pattern = "org.t.Net.Changed"), NULL);

        /* A body that does not match the declaration: ERROR to the emitter, delivered to nobody. */
        tp_expect_error(&t, &svc, MBUS_FRAME_EVENT, F(.namespace = "org.t.Net", .member = "Changed"),
                        "{\"state\": 1}", "org.mbus.Error.InvalidArgs", "argument 'state'");
        tp_expect_error(&t, &svc, MBUS_FRAME_EVENT, F(.namespace = "org.t.Net", .member = "Unknown"), NULL,
                        "org.mbus.Error.InvalidArgs", "event Unknown is not declared");

        tp_send(&svc, MBUS_FRAME_EVENT, F(.namespace = "org.t.Net", .member = "Changed"), "{\"state\": \"up\"}");
        tp_send(&svc, MBUS_FRAME_EVENT, F(.namespace = "org.t.Net", .member = "Public"), NULL);
        ev = tp_recv(&t, &root);
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(ev->f.member, "Changed");
        ev2 = tp_recv(&t, &bob);
        ck_assert_ptr_nonnull(ev2);
        ck_assert_str_eq(ev2->f.member, "Public");      /* Changed was not for bob */
        ck_assert_ptr_null(tp_recv(&t, &bob));

        /* Direct events: the send right of the sender (the owner's uid by default). */
        mbus_frame_unref(TAKE_PTR(ev));
        tp_send(&svc, MBUS_FRAME_EVENT, F(.namespace = "org.t.Net", .member = "Public", .destination = root.id), NULL);
        ev = tp_recv(&t, &root);
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(ev->f.member, "Public");

        tp_close(&svc);
        tp_close(&bob);
        tp_close(&root);
        t_done(&t);
}
END_TEST

START_TEST(test_introspect_and_list_namespaces) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *r1 = NULL, *r2 = NULL, *r3 = NULL;
        _cleanup_json_ json_object *o1 = NULL, *o2 = NULL, *o3 = NULL;
        struct tctx t = {};
        struct tpeer root, bob;
        json_object *list, *e;

        t_init(&t);
        tp_connect_as(&t, &root, 0, 0);
        tp_connect_as(&t, &bob, 2000, 2000);
        tp_hello(&t, &root, "root");
        tp_hello(&t, &bob, "bob");
        tp_expect_return(&t, &root, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Free"),
                         "{\"procedures\": [\"A\"], \"events\": [\"E\"]}");

        r1 = tp_ask(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "Introspect"),
                    "{\"namespace\": \"org.t.Net\"}");
        ck_assert_int_eq(r1->type, MBUS_FRAME_RETURN);
        ck_assert_int_eq(json_parse_bytes((const char *) r1->body, r1->body_len, &o1), 0);
        ck_assert_str_eq(json_get_string(o1, "source"), "file");
        ck_assert(strstr(json_get_string(o1, "path"), "/interfaces.d/org.t.Net.json"));
        ck_assert(json_object_object_get_ex(o1, "owner", &e) && !e);

        r2 = tp_ask(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "Introspect"),
                    "{\"namespace\": \"org.t.Free\"}");
        ck_assert_int_eq(r2->type, MBUS_FRAME_RETURN);
        ck_assert_int_eq(json_parse_bytes((const char *) r2->body, r2->body_len, &o2), 0);
        ck_assert_str_eq(json_get_string(o2, "source"), "declared");
        ck_assert_str_eq(json_get_string(o2, "owner"), root.id);

        tp_expect_error(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "Introspect"),
                        "{\"namespace\": \"org.t.Nothing\"}", "org.mbus.Error.NoSuchNamespace", "org.t.Nothing");

        r3 = tp_ask(&t, &bob, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ListNamespaces"), NULL);
        ck_assert_int_eq(json_parse_bytes((const char *) r3->body, r3->body_len, &o3), 0);
        ck_assert(json_object_object_get_ex(o3, "namespaces", &list));
        ck_assert_uint_eq(json_object_array_length(list), 3);   /* org.mbus.Broker, org.t.Free, org.t.Net */
        e = json_object_array_get_idx(list, 0);
        ck_assert_str_eq(json_get_string(e, "namespace"), "org.mbus.Broker");
        ck_assert(json_object_get_boolean(json_object_object_get(e, "file")));
        e = json_object_array_get_idx(list, 1);
        ck_assert_str_eq(json_get_string(e, "namespace"), "org.t.Free");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(e, "uid")), 0);
        ck_assert(!json_object_get_boolean(json_object_object_get(e, "file")));
        e = json_object_array_get_idx(list, 2);
        ck_assert_str_eq(json_get_string(e, "namespace"), "org.t.Net");
        ck_assert_ptr_null(json_object_object_get(e, "owner"));
        ck_assert(json_object_get_boolean(json_object_object_get(e, "file")));

        tp_close(&root);
        tp_close(&bob);
        t_done(&t);
}
END_TEST

START_TEST(test_reload_rejects_a_broken_set_and_revokes_ownership) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *lost = NULL, *changed = NULL, *ret = NULL;
        struct tctx t = {};
        struct tpeer svc, root;
        uint64_t serial;
        char sub[128];

        t_init(&t);
        tp_connect_as(&t, &svc, 1000, 1000);
        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Net"), NULL);
        tp_expect_return(&t, &root, MBUS_FRAME_SUBSCRIBE, F(.pattern = "org.mbus.Broker.NamespaceOwnerChanged"), NULL);

        /* A broken file: the whole set is refused, the old one stays, the error names file:line. */
        (void) snprintf(sub, sizeof(sub), "%s/policy.d", t.dir);
        write_file(sub, "org.t.Bad.xml", "<policy namespace=\"org.t.Bad\">\n  <allow call=\"*\"/>\n</policy>\n");
        tp_expect_error(&t, &root, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ReloadConfig"), NULL,
                        "org.mbus.Error.Failed", "/policy.d/org.t.Bad.xml:2: <allow> has no principal");
        ck_assert_ptr_nonnull(mbus_namespace_get(t.broker->namespaces, "org.t.Net"));
        ck_assert(!mbus_policy_has_namespace(t.broker->policy, "org.t.Bad"));

        /* A good set that no longer lets uid 1000 own org.t.Net: told, unregistered, announced. */
        (void) snprintf(sub, sizeof(sub), "%s/policy.d/org.t.Bad.xml", t.dir);
        ck_assert_int_eq(unlink(sub), 0);
        (void) snprintf(sub, sizeof(sub), "%s/policy.d", t.dir);
        write_file(sub, "org.t.Net.xml", "<policy namespace=\"org.t.Net\">\n  <deny own=\"true\" user=\"1000\"/>\n</policy>\n");
        serial = tp_send(&root, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ReloadConfig"), NULL);
        lost = tp_recv(&t, &svc);
        ck_assert_ptr_nonnull(lost);
        ck_assert_int_eq(lost->type, MBUS_FRAME_EVENT);
        ck_assert_str_eq(lost->f.member, "NamespaceLost");
        ck_assert_str_eq(lost->f.destination, svc.id);
        ck_assert_ptr_null(mbus_namespace_get(t.broker->namespaces, "org.t.Net"));
        /* The owner change is announced while the reload runs, so before its RETURN. */
        changed = tp_recv(&t, &root);
        ck_assert_ptr_nonnull(changed);
        ck_assert_str_eq(changed->f.member, "NamespaceOwnerChanged");
        ret = tp_recv(&t, &root);
        ck_assert_ptr_nonnull(ret);
        ck_assert_int_eq(ret->type, MBUS_FRAME_RETURN);
        ck_assert_uint_eq(ret->f.reply_serial, serial);

        tp_close(&svc);
        tp_close(&root);
        t_done(&t);
}
END_TEST

START_TEST(test_reload_holds_owners_to_a_new_interface_file) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *lost = NULL;
        _cleanup_json_ json_object *o = NULL;
        struct tctx t = {};
        struct tpeer svc, root;
        char sub[128];

        t_init(&t);
        tp_connect_as(&t, &svc, 0, 0);
        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Free"), "{\"procedures\": [\"A\"]}");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Kept"), "{\"procedures\": [\"A\"]}");

        (void) snprintf(sub, sizeof(sub), "%s/interfaces.d", t.dir);
        write_file(sub, "org.t.Free.json", "{\"namespace\": \"org.t.Free\", \"procedures\": [{\"name\": \"B\"}]}\n");
        write_file(sub, "org.t.Kept.json", "{\"namespace\": \"org.t.Kept\", \"procedures\": [{\"name\": \"A\"}]}\n");
        tp_expect_return(&t, &root, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "ReloadConfig"), NULL);

        lost = tp_recv(&t, &svc);
        ck_assert_ptr_nonnull(lost);
        ck_assert_str_eq(lost->f.member, "NamespaceLost");
        ck_assert_int_eq(json_parse_bytes((const char *) lost->body, lost->body_len, &o), 0);
        ck_assert_str_eq(json_get_string(o, "namespace"), "org.t.Free");
        ck_assert(strstr(json_get_string(o, "reason"), "procedure A"));
        ck_assert_ptr_null(mbus_namespace_get(t.broker->namespaces, "org.t.Free"));
        ck_assert_ptr_nonnull(mbus_namespace_get(t.broker->namespaces, "org.t.Kept"));

        tp_close(&svc);
        tp_close(&root);
        t_done(&t);
}
END_TEST

START_TEST(test_namespace_lost_reaches_an_owner_whose_queue_is_full) {
        struct tctx t = {};
        struct tpeer svc, root;
        struct mbus_peer *owner;
        uint64_t svc_id;
        char sub[128], *body;
        bool lost = false;

        t_init(&t);
        tp_connect_as(&t, &svc, 0, 0);
        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &svc, "svc");
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &svc, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Free"), "{\"procedures\": [\"A\"]}");
        ck_assert_int_eq(mbus_peer_id_parse(svc.id, &svc_id), 0);
        owner = mbus_broker_find_peer(t.broker, svc_id);
        ck_assert_ptr_nonnull(owner);

        /* Calls the owner never reads: its socket fills, then one call sits in its queue. */
        t.options.max_queue_bytes = 4096;
        body = malloc(4000);
        ck_assert_ptr_nonnull(body);
        memset(body, 'x', 3999);
        body[0] = body[3998] = '"';
        body[3999] = 0;
        for (unsigned i = 0; i < 10000 && mbus_stream_queued_bytes(&owner->stream) == 0; i++) {
                tp_send(&root, MBUS_FRAME_CALL, F(.namespace = "org.t.Free", .member = "A"), body);
                t_run(&t);
        }
        free(body);
        ck_assert_uint_gt(mbus_stream_queued_bytes(&owner->stream), 3000);

        /* A new interface file without A: the owner loses org.t.Free and must be told. */
        (void) snprintf(sub, sizeof(sub), "%s/interfaces.d", t.dir);
        write_file(sub, "org.t.Free.json", "{\"namespace\": \"org.t.Free\", \"procedures\": [{\"name\": \"B\"}]}\n");
        ck_assert_int_eq(mbus_broker_reload_config(t.broker, NULL, NULL, NULL), 0);
        ck_assert_ptr_null(mbus_namespace_get(t.broker->namespaces, "org.t.Free"));
        ck_assert_uint_eq(t.broker->stats.events_dropped, 0);

        for (unsigned i = 0; i < 10000 && !lost; i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = tp_recv(&t, &svc);

                if (!f)
                        break;
                lost = f->type == MBUS_FRAME_EVENT && strcmp(f->f.member, "NamespaceLost") == 0;
        }
        ck_assert(lost);

        tp_close(&svc);
        tp_close(&root);
        t_done(&t);
}
END_TEST

START_TEST(test_without_files_nothing_is_parsed_and_root_may_do_all) {
        struct tctx t = {};
        struct tpeer root;

        /* No --config-dir files at all: the defaults of the system scope. */
        t_setup(&t, LOG_ERR);
        t.options.scope = MBUS_POLICY_SCOPE_SYSTEM;
        (void) snprintf(t.dir, sizeof(t.dir), "/tmp/mbus-test-enforce.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t.dir));
        t.options.config_dir = strdup(t.dir);
        t_start(&t);
        ck_assert_int_eq(mbus_broker_reload_config(t.broker, NULL, NULL, NULL), 0);

        tp_connect_as(&t, &root, 0, 0);
        tp_hello(&t, &root, "root");
        tp_expect_return(&t, &root, MBUS_FRAME_REGISTER, F(.namespace = "org.t.Any"), NULL);
        tp_expect_return(&t, &root, MBUS_FRAME_SUBSCRIBE, F(.pattern = "org.t.Any.E"), NULL);
        tp_expect_return(&t, &root, MBUS_FRAME_CALL, F(.namespace = "org.mbus.Broker", .member = "Ping"), NULL);
        tp_close(&root);
        t_done(&t);
}
END_TEST

static Suite *enforce_suite(void) {
        Suite *s = suite_create("enforce");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_own_is_checked_and_denial_names_the_default);
        tcase_add_test(tc, test_calls_are_checked_and_validated);
        tcase_add_test(tc, test_events_are_validated_and_filtered_per_subscriber);
        tcase_add_test(tc, test_introspect_and_list_namespaces);
        tcase_add_test(tc, test_reload_rejects_a_broken_set_and_revokes_ownership);
        tcase_add_test(tc, test_reload_holds_owners_to_a_new_interface_file);
        tcase_add_test(tc, test_namespace_lost_reaches_an_owner_whose_queue_is_full);
        tcase_add_test(tc, test_without_files_nothing_is_parsed_and_root_may_do_all);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(enforce_suite)
