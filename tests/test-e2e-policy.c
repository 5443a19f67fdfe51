/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Access policy and interface files end to end: a real broker run as root with --config-dir
 * (policy.d/ and interfaces.d/ written by each test, in XML and in JSON) and clients of other
 * uids (nobody, and uids without a passwd entry) in forked agents. Each test shows what a peer
 * sees: a result, or AccessDenied / InvalidArgs naming the rule or argument. Needs root to
 * switch uids; skipped (77) otherwise.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"

#define NS "org.example.Net"

static const gid_t users_group[] = { 100 };     /* "users" in Debian's base-passwd */
static const struct test_who ROOT = { 0, 0, NULL, 0 };
static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };
/* uid 4242, a member of "users" only as a supplementary group */
static const struct test_who ALICE = { 4242, 4242, users_group, 1 };
static const struct test_who BOB = { 4244, 4244, NULL, 0 };

struct env {
        struct test_config c;
        struct test_broker b;
};

static void env_init(struct env *e, bool shipped) {
        ck_assert_int_eq(test_config_new(&e->c, shipped), 0);
}

static void env_start(struct env *e) {
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "system", NULL };

        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_done(struct env *e) {
        test_config_broker_done(&e->c, &e->b);
}

static void agent(struct test_agent *a, struct env *e, const struct test_who *who) {
        ck_assert_int_eq(test_agent_start(a, e->b.address, who), 0);
}

static void agent_done(struct test_agent *a) {
        ck_assert_int_eq(test_agent_stop(a), 0);
}

/* The last answer of a was the error name, and its message contains needle (may be NULL). */
#define ck_assert_agent_error(a, r, name, needle)                                               \
        do {                                                                                    \
                ck_assert_msg((r) == -EREMOTEIO, "expected %s, got %d: %s", name, (r), (a)->reply); \
                ck_assert_str_eq(test_agent_error_name(a), name);                               \
                const char *_needle = (needle);                                                 \
                if (_needle)                                                                    \
                        ck_assert_msg(strstr((a)->reply, _needle), "'%s' not in '%s'", _needle, (a)->reply); \
        } while (0)

#define ck_assert_agent_ok(a, r) ck_assert_msg((r) == 0, "expected success, got %d: %s", (r), (a)->reply)

static const char *form_ext(int i) {
        return i == 0 ? "xml" : "json";
}

/* "DIR/policy.d/NS.EXT:LINE" */
static const char *where(const struct env *e, const char *kind, const char *ns, const char *ext, unsigned line,
                         char *buf, size_t size) {
        snprintf(buf, size, "%s/%s/%s.%s:%u", e->c.dir, kind, ns, ext, line);
        return buf;
}

static void write_policy(struct env *e, const char *ns, const char *ext, const char *text) {
        char rel[256];

        snprintf(rel, sizeof(rel), "policy.d/%s.%s", ns, ext);
        test_config_write(&e->c, rel, text);
}

/* ---- own --------------------------------------------------------------------------------- */

static const char *const own_policy[2] = {
        "<policy namespace=\"org.example.Net\">\n"
        "  <allow own=\"true\" user=\"nobody\"/>\n"
        "  <deny own=\"true\" user=\"4242\"/>\n"
        "</policy>\n",
        "{\"namespace\": \"org.example.Net\", \"rules\": [\n"
        "  {\"allow\": \"own\", \"user\": \"nobody\"},\n"
        "  {\"deny\": \"own\", \"user\": \"4242\"}\n"
        "]}\n",
};

START_TEST(test_own_allowed_user_registers_denied_user_is_told_the_rule) {
        struct env e;
        struct test_agent nobody, alice, root;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, form_ext(_i), own_policy[_i]);
        env_start(&e);
        agent(&alice, &e, &ALICE);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);

        r = test_agent_do(&alice, "register %s Get -", NS);
        ck_assert_agent_error(&alice, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, form_ext(_i), 3, at, sizeof(at)));
        ck_assert_msg(strstr(alice.reply, "deny"), "the rule is not named: %s", alice.reply);
        ck_assert_msg(strstr(alice.reply, "4242"), "the rule is not named: %s", alice.reply);

        /* the denial left the namespace free: nobody, allowed by line 2, takes it */
        r = test_agent_do(&nobody, "register %s Get -", NS);
        ck_assert_agent_ok(&nobody, r);
        r = test_agent_do(&root, "call %s Get {\"x\":1}", NS);
        ck_assert_agent_ok(&root, r);
        ck_assert_str_eq(root.reply, "{\"x\":1}");

        /* root needs no rule to own in system scope */
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "unregister %s", NS));
        r = test_agent_do(&root, "register %s Get -", NS);
        ck_assert_agent_ok(&root, r);

        agent_done(&alice);
        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

START_TEST(test_system_scope_without_policy_file_only_root_owns) {
        struct env e;
        struct test_agent nobody, root;
        int r;

        env_init(&e, true);
        env_start(&e);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);

        r = test_agent_do(&nobody, "register org.example.NoFile Get -");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "org.example.NoFile");
        r = test_agent_do(&root, "register org.example.NoFile Get -");
        ck_assert_agent_ok(&root, r);

        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

/* ---- call -------------------------------------------------------------------------------- */

static const char *const call_policy[2] = {
        "<policy namespace=\"org.example.Net\">\n"
        "  <allow call=\"*\" user=\"nobody\"/>\n"
        "  <deny call=\"Reboot\" user=\"nobody\"/>\n"
        "  <deny call=\"*\" group=\"users\"/>\n"
        "  <allow call=\"GetState\" group=\"users\"/>\n"
        "  <allow call=\"SetState\" user=\"4244\"/>\n"
        "  <deny call=\"SetState\" user=\"4244\"/>\n"
        "</policy>\n",
        "{\"namespace\": \"org.example.Net\", \"rules\": [\n"
        "  {\"allow\": \"call\", \"member\": \"*\", \"user\": \"nobody\"},\n"
        "  {\"deny\": \"call\", \"member\": \"Reboot\", \"user\": \"nobody\"},\n"
        "  {\"deny\": \"call\", \"member\": \"*\", \"group\": \"users\"},\n"
        "  {\"allow\": \"call\", \"member\": \"GetState\", \"group\": \"users\"},\n"
        "  {\"allow\": \"call\", \"member\": \"SetState\", \"user\": \"4244\"},\n"
        "  {\"deny\": \"call\", \"member\": \"SetState\", \"user\": \"4244\"}\n"
        "]}\n",
};

START_TEST(test_call_rules_by_user_group_specificity_and_deny_precedence) {
        struct env e;
        struct test_agent svc, nobody, alice, bob;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, form_ext(_i), call_policy[_i]);
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        agent(&alice, &e, &ALICE);
        agent(&bob, &e, &BOB);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s GetState,SetState,Reboot,Other -", NS));

        /* allowed by user, namespace-wide (line 2) */
        r = test_agent_do(&nobody, "call %s GetState {\"n\":1}", NS);
        ck_assert_agent_ok(&nobody, r);
        ck_assert_str_eq(nobody.reply, "{\"n\":1}");
        /* a member-specific deny (line 3) beats the namespace-wide allow */
        r = test_agent_do(&nobody, "call %s Reboot", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, form_ext(_i), 3, at, sizeof(at)));
        /* allowed by a supplementary group (line 5), which beats the group's namespace-wide deny */
        r = test_agent_do(&alice, "call %s GetState", NS);
        ck_assert_agent_ok(&alice, r);
        r = test_agent_do(&alice, "call %s Other", NS);
        ck_assert_agent_error(&alice, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, form_ext(_i), 4, at, sizeof(at)));
        /* deny beats allow at equal specificity, whatever their order (line 7 over line 6) */
        r = test_agent_do(&bob, "call %s SetState", NS);
        ck_assert_agent_error(&bob, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, form_ext(_i), 7, at, sizeof(at)));
        /* bob is not in "users": no rule, and the system default denies a stranger */
        r = test_agent_do(&bob, "call %s GetState", NS);
        ck_assert_agent_error(&bob, r, MBUS_ERROR_ACCESS_DENIED, "4244");

        /* the denied calls never reached the service */
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "count"));
        ck_assert_str_eq(svc.reply, "2");

        agent_done(&svc);
        agent_done(&nobody);
        agent_done(&alice);
        agent_done(&bob);
        env_done(&e);
}
END_TEST

START_TEST(test_call_default_allows_owner_uid_and_root_only) {
        struct env e;
        struct test_agent owner, nobody2, root, alice, rootsvc;
        int r;

        env_init(&e, true);
        /* nobody may own; nothing is said about calls */
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow own=\"true\" user=\"nobody\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&owner, &e, &NOBODY);
        agent(&nobody2, &e, &NOBODY);
        agent(&root, &e, &ROOT);
        agent(&alice, &e, &ALICE);
        agent(&rootsvc, &e, &ROOT);
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "register %s Get -", NS));
        ck_assert_agent_ok(&rootsvc, test_agent_do(&rootsvc, "register org.example.RootOwned Get -"));

        /* another peer of the owner's uid, and root */
        ck_assert_agent_ok(&nobody2, test_agent_do(&nobody2, "call %s Get", NS));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call %s Get", NS));
        /* anyone else */
        r = test_agent_do(&alice, "call %s Get", NS);
        ck_assert_agent_error(&alice, r, MBUS_ERROR_ACCESS_DENIED, NS);
        /* a namespace without any policy file, owned by root: nobody may not call it */
        r = test_agent_do(&nobody2, "call org.example.RootOwned Get");
        ck_assert_agent_error(&nobody2, r, MBUS_ERROR_ACCESS_DENIED, "org.example.RootOwned");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.example.RootOwned Get"));

        ck_assert_agent_ok(&owner, test_agent_do(&owner, "count"));
        ck_assert_str_eq(owner.reply, "2");

        agent_done(&owner);
        agent_done(&nobody2);
        agent_done(&root);
        agent_done(&alice);
        agent_done(&rootsvc);
        env_done(&e);
}
END_TEST

START_TEST(test_broker_read_only_procedures_open_reload_root_only) {
        static const char *const open_procs[] = {
                "Ping", "Version", "ListNamespaces", "ListPeers", "GetStats",
        };
        struct env e;
        struct test_agent nobody, root;
        int r;

        env_init(&e, true);     /* the shipped org.mbus.Broker files */
        env_start(&e);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);

        for (size_t i = 0; i < sizeof(open_procs) / sizeof(open_procs[0]); i++) {
                r = test_agent_do(&nobody, "call org.mbus.Broker %s {}", open_procs[i]);
                ck_assert_msg(r == 0, "nobody calling %s: %s", open_procs[i], nobody.reply);
        }
        r = test_agent_do(&nobody, "call org.mbus.Broker GetPeer {\"id\": \"%s\"}", nobody.id);
        ck_assert_agent_ok(&nobody, r);
        ck_assert_msg(strstr(nobody.reply, "\"uid\":65534"), "GetPeer: %s", nobody.reply);
        r = test_agent_do(&nobody, "call org.mbus.Broker Introspect {\"namespace\": \"org.mbus.Broker\"}");
        ck_assert_agent_ok(&nobody, r);

        r = test_agent_do(&nobody, "call org.mbus.Broker ReloadConfig {}");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "ReloadConfig");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));

        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

START_TEST(test_broker_namespace_follows_the_default_without_its_policy_file) {
        struct env e;
        struct test_agent nobody, root;
        int r;

        env_init(&e, false);    /* no org.mbus.Broker policy: system default, root only */
        env_start(&e);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);

        r = test_agent_do(&nobody, "call org.mbus.Broker Ping {}");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "Ping");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker Ping {}"));

        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

/* User scope: peers of the broker's own uid may do everything without rules, others nothing;
 * "@broker" names the broker's uid in rules. */
START_TEST(test_user_scope_defaults_to_the_broker_uid) {
        struct env e;
        struct test_agent root, svc, nobody;
        const char *args[] = { "--config-dir", NULL, "--scope", "user", NULL };
        int r;

        env_init(&e, false);
        write_policy(&e, "org.example.Mine", "xml",
                     "<policy namespace=\"org.example.Mine\">\n"
                     "  <allow own=\"true\" user=\"nobody\"/>\n"
                     "  <deny call=\"Secret\" user=\"@broker\"/>\n"
                     "</policy>\n");
        args[1] = e.c.dir;
        ck_assert_int_eq(test_broker_start_full(&e.b, args, e.c.log, true), 0);
        agent(&root, &e, &ROOT);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);

        /* the broker's uid (root here) needs no rule; others get nothing by default */
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get -", NS));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call %s Get", NS));
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);
        r = test_agent_do(&nobody, "register org.example.Other Get -");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);
        r = test_agent_do(&nobody, "call org.mbus.Broker Ping {}");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        /* rules still apply: nobody may own Mine; @broker matches root's peers */
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "register org.example.Mine Get,Secret -"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.example.Mine Get"));
        r = test_agent_do(&root, "call org.example.Mine Secret");
        ck_assert_agent_error(&root, r, MBUS_ERROR_ACCESS_DENIED, "org.example.Mine.xml:3");

        agent_done(&root);
        agent_done(&svc);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

/* ---- subscribe and send ------------------------------------------------------------------ */

START_TEST(test_subscribe_exact_denied_wildcard_filtered_at_delivery) {
        struct env e;
        struct test_agent owner, nobody, nobody_all, raw_nobody, control;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow subscribe=\"Public\" user=\"nobody\"/>\n"
                     "  <deny subscribe=\"Secret\" user=\"nobody\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&owner, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        agent(&raw_nobody, &e, &NOBODY);
        agent(&nobody_all, &e, &NOBODY);
        agent(&control, &e, &ROOT);
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawregister %s", NS));

        /* an exact pattern is checked at SUBSCRIBE */
        r = test_agent_do(&raw_nobody, "rawsubscribe %s.Secret", NS);
        ck_assert_agent_error(&raw_nobody, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, "xml", 3, at, sizeof(at)));
        /* libmbus hands the broker's error out: the message names the rule */
        r = test_agent_do(&nobody, "subscribe %s.Secret", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, "xml", 3, at, sizeof(at)));
        ck_assert_msg(strstr(nobody.reply, "deny subscribe"), "the rule is not named: %s", nobody.reply);
        /* an event without a rule falls to the default (owner's uid and root) */
        r = test_agent_do(&nobody, "subscribe %s.Other", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "no rule matched");
        ck_assert_agent_ok(&raw_nobody, test_agent_do(&raw_nobody, "rawsubscribe %s.Public", NS));

        /* wildcards are accepted; each event is checked at delivery */
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "subscribe %s.*", NS));
        ck_assert_agent_ok(&raw_nobody, test_agent_do(&raw_nobody, "rawsubscribe org.example.*"));
        ck_assert_agent_ok(&nobody_all, test_agent_do(&nobody_all, "subscribe *"));
        ck_assert_agent_ok(&control, test_agent_do(&control, "subscribe %s.*", NS));

        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Public - {}", NS));
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Secret - {}", NS));
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Other - {}", NS));
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Public - {}", NS));

        /* root sees all four: they were sent */
        ck_assert_agent_ok(&control, test_agent_do(&control, "events"));
        ck_assert_str_eq(control.reply, NS ".Public " NS ".Secret " NS ".Other " NS ".Public");
        /* nobody only what it may see, whatever the pattern; the raw peer once per event
         * although two of its patterns match */
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "events"));
        ck_assert_str_eq(nobody.reply, NS ".Public " NS ".Public");
        ck_assert_agent_ok(&nobody_all, test_agent_do(&nobody_all, "events"));
        ck_assert_str_eq(nobody_all.reply, NS ".Public " NS ".Public");
        ck_assert_agent_ok(&raw_nobody, test_agent_do(&raw_nobody, "events"));
        ck_assert_str_eq(raw_nobody.reply, NS ".Public " NS ".Public");

        agent_done(&owner);
        agent_done(&nobody);
        agent_done(&raw_nobody);
        agent_done(&nobody_all);
        agent_done(&control);
        env_done(&e);
}
END_TEST

START_TEST(test_send_direct_event_allowed_and_denied) {
        struct env e;
        struct test_agent owner, target;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow own=\"true\" user=\"nobody\"/>\n"
                     "  <allow send=\"Hello\" user=\"nobody\"/>\n"
                     "  <deny send=\"Poke\" user=\"nobody\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&owner, &e, &NOBODY);
        agent(&target, &e, &ROOT);
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawregister %s", NS));
        ck_assert_agent_ok(&target, test_agent_do(&target, "subscribe %s.*", NS));

        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Hello %s {}", NS, target.id));
        r = test_agent_do(&owner, "rawemit %s Poke %s {}", NS, target.id);
        ck_assert_agent_error(&owner, r, MBUS_ERROR_ACCESS_DENIED,
                              where(&e, "policy.d", NS, "xml", 4, at, sizeof(at)));
        /* a broadcast needs ownership only */
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "rawemit %s Poke - {}", NS));

        ck_assert_agent_ok(&target, test_agent_do(&target, "events"));
        ck_assert_str_eq(target.reply, NS ".Hello:direct " NS ".Poke");

        agent_done(&owner);
        agent_done(&target);
        env_done(&e);
}
END_TEST

/* ---- argument validation ----------------------------------------------------------------- */

static const char *const net_interface[2] = {
        "<namespace name=\"org.example.Net\">\n"
        "  <doc>A test service.</doc>\n"
        "  <procedure name=\"SetState\">\n"
        "    <arg name=\"interface\" type=\"string\" direction=\"in\"/>\n"
        "    <arg name=\"up\" type=\"bool\" direction=\"in\"/>\n"
        "    <arg name=\"mtu\" type=\"int\" direction=\"in\" optional=\"true\"/>\n"
        "  </procedure>\n"
        "  <procedure name=\"GetState\">\n"
        "    <doc>Returns the state of one interface.</doc>\n"
        "    <arg name=\"interface\" type=\"string\" direction=\"in\"/>\n"
        "    <arg name=\"state\" type=\"string\" direction=\"out\"/>\n"
        "  </procedure>\n"
        "  <event name=\"Changed\">\n"
        "    <arg name=\"interface\" type=\"string\"/>\n"
        "    <arg name=\"state\" type=\"?string\"/>\n"
        "  </event>\n"
        "</namespace>\n",
        "{\"namespace\": \"org.example.Net\", \"doc\": \"A test service.\",\n"
        " \"procedures\": [\n"
        "  {\"name\": \"SetState\", \"in\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "                                 {\"name\": \"up\", \"type\": \"bool\"},\n"
        "                                 {\"name\": \"mtu\", \"type\": \"int\", \"optional\": true}]},\n"
        "  {\"name\": \"GetState\", \"doc\": \"Returns the state of one interface.\",\n"
        "   \"in\": [{\"name\": \"interface\", \"type\": \"string\"}],\n"
        "   \"out\": [{\"name\": \"state\", \"type\": \"string\"}]}],\n"
        " \"events\": [\n"
        "  {\"name\": \"Changed\", \"args\": [{\"name\": \"interface\", \"type\": \"string\"},\n"
        "                                {\"name\": \"state\", \"type\": \"?string\"}]}]}\n",
};

START_TEST(test_interface_file_validates_calls_events_and_registration) {
        struct env e;
        struct test_agent lib, svc, caller;
        char rel[128];
        int r;

        env_init(&e, true);
        snprintf(rel, sizeof(rel), "interfaces.d/%s.%s", NS, form_ext(_i));
        test_config_write(&e.c, rel, net_interface[_i]);
        env_start(&e);
        agent(&lib, &e, &ROOT);
        agent(&svc, &e, &ROOT);
        agent(&caller, &e, &ROOT);

        /* libmbus declares its handler table at REGISTER: Reboot is not in the file */
        r = test_agent_do(&lib, "register %s GetState,SetState,Reboot Changed", NS);
        ck_assert_agent_error(&lib, r, MBUS_ERROR_INVALID_ARGS, "Reboot");
        /* an owner that declares nothing is fine; this one answers every CALL it gets */
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "rawregister %s", NS));

        ck_assert_agent_ok(&caller, test_agent_do(&caller, "call %s SetState {\"interface\":\"eth0\",\"up\":true}", NS));
        ck_assert_agent_ok(&caller, test_agent_do(&caller, "call %s SetState {\"interface\":\"eth0\",\"up\":false,\"mtu\":1500}", NS));
        r = test_agent_do(&caller, "call %s SetState {\"interface\":5,\"up\":true}", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, "argument 'interface': expected string");
        r = test_agent_do(&caller, "call %s SetState {\"interface\":\"eth0\",\"up\":\"yes\"}", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, "argument 'up': expected bool");
        r = test_agent_do(&caller, "call %s SetState {\"up\":true}", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, "missing argument 'interface'");
        r = test_agent_do(&caller, "call %s SetState {\"interface\":\"eth0\",\"up\":true,\"foo\":1}", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, "unknown argument 'foo'");
        r = test_agent_do(&caller, "call %s GetState", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, "missing argument 'interface'");
        r = test_agent_do(&caller, "rawcall %s SetState [1,2]", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_INVALID_ARGS, NULL);
        /* undeclared: the broker answers, the owner (which would answer anything) never sees it */
        r = test_agent_do(&caller, "call %s Reboot {}", NS);
        ck_assert_agent_error(&caller, r, MBUS_ERROR_UNKNOWN_PROCEDURE, "Reboot");
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "count"));
        ck_assert_str_eq(svc.reply, "2");

        /* events: a wrong one is refused to its emitter and reaches nobody */
        ck_assert_agent_ok(&caller, test_agent_do(&caller, "subscribe %s.*", NS));
        r = test_agent_do(&svc, "rawemit %s Changed - {\"interface\":1,\"state\":null}", NS);
        ck_assert_agent_error(&svc, r, MBUS_ERROR_INVALID_ARGS, "interface");
        r = test_agent_do(&svc, "rawemit %s Changed - {\"state\":\"up\"}", NS);
        ck_assert_agent_error(&svc, r, MBUS_ERROR_INVALID_ARGS, "interface");
        r = test_agent_do(&svc, "rawemit %s Bogus - {}", NS);
        ck_assert_agent_error(&svc, r, MBUS_ERROR_INVALID_ARGS, "Bogus");
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "rawemit %s Changed - {\"interface\":\"eth0\",\"state\":null}", NS));
        ck_assert_agent_ok(&caller, test_agent_do(&caller, "events"));
        ck_assert_str_eq(caller.reply, NS ".Changed");

        agent_done(&lib);
        agent_done(&svc);
        agent_done(&caller);
        env_done(&e);
}
END_TEST

START_TEST(test_namespace_without_interface_file_passes_bodies_untouched) {
        struct env e;
        struct test_agent svc, caller;

        env_init(&e, true);
        test_config_write(&e.c, "interfaces.d/" NS ".xml", net_interface[0]);
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&caller, &e, &ROOT);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "rawregister org.example.Free"));

        ck_assert_agent_ok(&caller, test_agent_do(&caller, "call org.example.Free SetState {\"interface\":5}"));
        ck_assert_str_eq(caller.reply, "{\"interface\":5}");
        ck_assert_agent_ok(&caller, test_agent_do(&caller, "rawcall org.example.Free Anything [1,2]"));
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "count"));
        ck_assert_str_eq(svc.reply, "2");

        agent_done(&svc);
        agent_done(&caller);
        env_done(&e);
}
END_TEST

/* ---- reload ------------------------------------------------------------------------------ */

static const char *const deny_nobody =
        "<policy namespace=\"org.example.Net\">\n"
        "  <deny call=\"*\" user=\"nobody\"/>\n"
        "</policy>\n";
static const char *const allow_nobody =
        "<policy namespace=\"org.example.Net\">\n"
        "  <allow call=\"*\" user=\"nobody\"/>\n"
        "</policy>\n";
static const char *const broken_xml =
        "<policy namespace=\"org.example.Net\">\n"
        "  <allow call=\"*\" user=\"nobody\"/>\n"
        "  <allow call=\"Get\" user=\"nobody\"/></wrong>\n"
        "</policy>\n";

START_TEST(test_reload_config_keeps_a_broken_files_old_rules_and_loads_the_rest) {
        struct env e;
        struct test_agent svc, nobody, root;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml", deny_nobody);
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get -", NS));
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        /* a syntax error: the reload fails naming file and line, the file's old rules stay */
        write_policy(&e, NS, "xml", broken_xml);
        r = test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_FAILED, where(&e, "policy.d", NS, "xml", 3, at, sizeof(at)));
        ck_assert_msg(strstr(root.reply, "without 1 broken file"), "%s", root.reply);
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        /* a good set takes effect at once */
        write_policy(&e, NS, "xml", allow_nobody);
        test_config_write(&e.c, "interfaces.d/org.example.Other.json",
                          "{\"namespace\": \"org.example.Other\", \"procedures\": [{\"name\": \"Get\"}]}\n");
        r = test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}");
        ck_assert_agent_ok(&root, r);
        json_object *o = json_tokener_parse(root.reply);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(test_json_int(o, "namespaces_with_policy"), 2);      /* NS and the broker's */
        ck_assert_int_eq(test_json_int(o, "namespaces_with_interface"), 2);   /* Other and the broker's */
        json_object_put(o);
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));

        /* a broken interface file is left out, keeping its old description; the good policy file
         * in the same reload takes effect */
        write_policy(&e, NS, "xml", deny_nobody);
        test_config_write(&e.c, "interfaces.d/org.example.Other.json",
                          "{\"namespace\": \"org.example.Other\",\n"
                          " \"procedures\": [\n"
                          "  {\"name\": \"Get\",, \"in\": []}]}\n");
        r = test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_FAILED, "interfaces.d/org.example.Other.json:3");
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker Introspect "
                                                "{\"namespace\":\"org.example.Other\"}"));
        ck_assert_msg(strstr(root.reply, "\"Get\""), "the old description is gone: %s", root.reply);
        ck_assert_msg(test_file_wait_for(e.c.log, "Left out the interface file org.example.Other", 5000),
                      "no error entry for the left-out file");

        /* once the file is gone, so is its description */
        test_config_unlink(&e.c, "interfaces.d/org.example.Other.json");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));
        r = test_agent_do(&root, "call org.mbus.Broker Introspect {\"namespace\":\"org.example.Other\"}");
        ck_assert_int_ne(r, 0);
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        agent_done(&svc);
        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

START_TEST(test_sighup_reloads_and_keeps_the_old_set_when_broken) {
        struct env e;
        struct test_agent svc, nobody;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml", deny_nobody);
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get -", NS));
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        write_policy(&e, NS, "xml", allow_nobody);
        ck_assert_int_eq(kill(e.b.pid, SIGHUP), 0);
        long long deadline = test_now_ms() + 5000;
        while ((r = test_agent_do(&nobody, "call %s Get", NS)) != 0 && test_now_ms() < deadline)
                ;
        ck_assert_agent_ok(&nobody, r);

        write_policy(&e, NS, "xml", broken_xml);
        ck_assert_int_eq(kill(e.b.pid, SIGHUP), 0);
        ck_assert_msg(test_file_wait_for(e.c.log, where(&e, "policy.d", NS, "xml", 3, at, sizeof(at)), 5000),
                      "the broker did not log the broken file %s", at);
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));

        agent_done(&svc);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

START_TEST(test_owner_that_loses_the_right_to_own_is_unregistered) {
        struct env e;
        struct test_agent owner, watcher, root;
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow own=\"true\" user=\"nobody\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&owner, &e, &NOBODY);
        agent(&watcher, &e, &ROOT);
        agent(&root, &e, &ROOT);
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "register %s Get -", NS));
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "subscribe org.mbus.Broker.NamespaceLost"));
        ck_assert_agent_ok(&watcher, test_agent_do(&watcher, "subscribe org.mbus.Broker.NamespaceOwnerChanged"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call %s Get", NS));

        write_policy(&e, NS, "xml", allow_nobody);
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));

        ck_assert_agent_ok(&watcher, test_agent_do(&watcher, "events"));
        ck_assert_str_eq(watcher.reply, "org.mbus.Broker.NamespaceOwnerChanged");
        ck_assert_agent_ok(&owner, test_agent_do(&owner, "events"));
        ck_assert_str_eq(owner.reply, "org.mbus.Broker.NamespaceLost:direct");
        r = test_agent_do(&root, "call %s Get", NS);
        ck_assert_agent_error(&root, r, MBUS_ERROR_NO_SUCH_NAMESPACE, NULL);
        /* the library dropped its registration too: trying again on the same connection asks
         * the broker, which now says no */
        r = test_agent_do(&owner, "register %s Get -", NS);
        ck_assert_agent_error(&owner, r, MBUS_ERROR_ACCESS_DENIED, NULL);

        agent_done(&owner);
        agent_done(&watcher);
        agent_done(&root);
        env_done(&e);
}
END_TEST

/* Interface files added by a reload: an owner that declared more than its new file is
 * unregistered; one that fits keeps its namespace, whose calls are now validated. */
START_TEST(test_reload_holds_owners_to_new_interface_files) {
        struct env e;
        struct test_agent fits, exceeds, root;
        int r;

        env_init(&e, true);
        env_start(&e);
        agent(&fits, &e, &ROOT);
        agent(&exceeds, &e, &ROOT);
        agent(&root, &e, &ROOT);
        ck_assert_agent_ok(&fits, test_agent_do(&fits, "register org.example.Kept Get -"));
        ck_assert_agent_ok(&exceeds, test_agent_do(&exceeds, "register org.example.Gone Get,Reset -"));
        ck_assert_agent_ok(&exceeds, test_agent_do(&exceeds, "subscribe org.mbus.Broker.NamespaceLost"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.example.Kept Get {\"anything\":1}"));

        test_config_write(&e.c, "interfaces.d/org.example.Kept.json",
                          "{\"namespace\": \"org.example.Kept\", \"procedures\": [{\"name\": \"Get\"}]}\n");
        test_config_write(&e.c, "interfaces.d/org.example.Gone.xml",
                          "<namespace name=\"org.example.Gone\">\n"
                          "  <procedure name=\"Get\"/>\n"
                          "</namespace>\n");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));

        ck_assert_agent_ok(&exceeds, test_agent_do(&exceeds, "events"));
        ck_assert_str_eq(exceeds.reply, "org.mbus.Broker.NamespaceLost:direct");
        r = test_agent_do(&root, "call org.example.Gone Get");
        ck_assert_agent_error(&root, r, MBUS_ERROR_NO_SUCH_NAMESPACE, NULL);
        /* the same connection registers it again, now within its file */
        ck_assert_agent_ok(&exceeds, test_agent_do(&exceeds, "register org.example.Gone Get -"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.example.Gone Get {}"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.example.Kept Get {}"));
        r = test_agent_do(&root, "call org.example.Kept Get {\"anything\":1}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_INVALID_ARGS, "unknown argument 'anything'");
        ck_assert_agent_ok(&fits, test_agent_do(&fits, "count"));
        ck_assert_str_eq(fits.reply, "2");

        agent_done(&fits);
        agent_done(&exceeds);
        agent_done(&root);
        env_done(&e);
}
END_TEST

/*
 * A broken file at start is left out: the broker runs, its namespace has the strict default
 * (the file's allow for nobody does not apply) and the other files are in force.
 */
START_TEST(test_broker_starts_without_a_broken_file) {
        struct env e;
        struct test_agent svc, nobody;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml", broken_xml);
        write_policy(&e, "org.example.Good", "xml",
                     "<policy namespace=\"org.example.Good\">\n"
                     "  <allow call=\"*\" user=\"nobody\"/>\n"
                     "</policy>\n");
        /* three errors: an unknown attribute, a procedure without a name, the unclosed root */
        test_config_write(&e.c, "interfaces.d/org.example.Bad.xml",
                          "<namespace name=\"org.example.Bad\" x=\"1\">\n<procedure/>\n");
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get -", NS));
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register org.example.Good Get -"));

        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "default");
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call org.example.Good Get"));

        where(&e, "policy.d", NS, "xml", 3, at, sizeof(at));
        ck_assert_msg(test_file_wait_for(e.c.log, at, 5000), "the left-out file %s is not logged", at);
        ck_assert(test_file_wait_for(e.c.log, "Left out the policy file " NS, 0));
        ck_assert(test_file_wait_for(e.c.log, "interfaces.d/org.example.Bad.xml", 0));
        /* one entry for the file: its first error and how many more --check would list */
        ck_assert(test_file_wait_for(e.c.log, "interfaces.d/org.example.Bad.xml:1: unknown attribute 'x' on "
                                     "<namespace> (and 2 more errors: mbus-introspect --check lists them)", 0));

        agent_done(&svc);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

/* An unknown user or group: a warning, the rule matches nobody, the rest of the file holds. */
START_TEST(test_unknown_user_is_a_warning_and_its_rule_matches_nobody) {
        struct env e;
        struct test_agent svc, nobody, root;
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow call=\"*\" user=\"nobody\"/>\n"
                     "  <deny call=\"*\" group=\"no-such-group-mbus\"/>\n"
                     "  <allow call=\"Reboot\" user=\"no-such-user-mbus\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get,Reboot -", NS));

        /* the deny names a group nobody is in, so it refuses nobody; the Reboot allow grants nothing */
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Reboot", NS));
        ck_assert_msg(test_file_wait_for(e.c.log, "unknown group 'no-such-group-mbus': the rule matches nobody",
                                         5000), "no warning for the unknown group");
        ck_assert(test_file_wait_for(e.c.log, ".xml:4: unknown user 'no-such-user-mbus'", 0));

        /* a warning is no failure: the reload succeeds */
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));

        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow call=\"Reboot\" user=\"no-such-user-mbus\"/>\n"
                     "</policy>\n");
        ck_assert_agent_ok(&root, test_agent_do(&root, "call org.mbus.Broker ReloadConfig {}"));
        r = test_agent_do(&nobody, "call %s Reboot", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "default");

        agent_done(&svc);
        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

/* ---- logging ----------------------------------------------------------------------------- */

static size_t count_in_file(const char *path, const char *needle) {
        static char buf[1 << 20];
        size_t n = 0, len;
        FILE *f = fopen(path, "re");

        ck_assert_ptr_nonnull(f);
        len = fread(buf, 1, sizeof(buf) - 1, f);
        buf[len] = 0;
        fclose(f);
        for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

START_TEST(test_denial_is_logged_with_its_rule) {
        struct env e;
        struct test_agent svc, nobody;
        char at[512];
        int r;

        env_init(&e, true);
        write_policy(&e, NS, "xml",
                     "<policy namespace=\"org.example.Net\">\n"
                     "  <allow call=\"*\" user=\"nobody\"/>\n"
                     "  <deny call=\"Reboot\" user=\"nobody\"/>\n"
                     "</policy>\n");
        env_start(&e);
        agent(&svc, &e, &ROOT);
        agent(&nobody, &e, &NOBODY);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Reboot,Get -", NS));
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));
        ck_assert(!test_file_wait_for(e.c.log, "Reboot", 0));

        r = test_agent_do(&nobody, "call %s Reboot", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, NULL);
        where(&e, "policy.d", NS, "xml", 3, at, sizeof(at));
        ck_assert_msg(test_file_wait_for(e.c.log, at, 5000), "denial not logged with %s", at);
        ck_assert(test_file_wait_for(e.c.log, "deny call Reboot", 0));
        ck_assert(test_file_wait_for(e.c.log, "65534", 0));

        /* a peer hammering a denied call cannot flood the log: every call is refused, few are
         * logged */
        for (int i = 0; i < 40; i++) {
                r = test_agent_do(&nobody, "call %s Reboot", NS);
                ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, at);
        }
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));
        size_t n = count_in_file(e.c.log, at);
        ck_assert_msg(n >= 1 && n < 41, "%zu denials logged of 41", n);

        agent_done(&svc);
        agent_done(&nobody);
        env_done(&e);
}
END_TEST

START_TEST(test_administration_procedures_are_for_root_only) {
        struct env e;
        struct test_agent svc, nobody, root;
        json_object *o;
        int r;

        env_init(&e, true);
        test_config_write(&e.c, "policy.d/" NS ".xml",
                          "<policy namespace=\"" NS "\">\n"
                          "  <allow own=\"true\" user=\"nobody\"/>\n"
                          "  <allow call=\"*\" user=\"*\"/>\n"
                          "</policy>\n");
        env_start(&e);
        agent(&svc, &e, &NOBODY);
        agent(&nobody, &e, &NOBODY);
        agent(&root, &e, &ROOT);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "register %s Get -", NS));
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "subscribe org.mbus.Broker.NamespaceLost"));
        ck_assert_agent_ok(&root, test_agent_do(&root, "subscribe org.mbus.Broker.PeerDisconnected"));

        /* nobody: denied by the shipped policy, and nothing happens */
        r = test_agent_do(&nobody, "call org.mbus.Broker DisconnectPeer {\"id\": \"%s\"}", svc.id);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "DisconnectPeer");
        r = test_agent_do(&nobody, "call org.mbus.Broker ReleaseNamespace {\"namespace\": \"%s\"}", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "ReleaseNamespace");
        r = test_agent_do(&nobody, "call org.mbus.Broker SetLogLevel {\"level\": \"debug\"}");
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_ACCESS_DENIED, "SetLogLevel");
        ck_assert_agent_ok(&nobody, test_agent_do(&nobody, "call %s Get", NS));

        /* everyone may ask who owns what */
        r = test_agent_do(&nobody, "call org.mbus.Broker GetNamespaceOwner {\"namespace\": \"%s\"}", NS);
        ck_assert_agent_ok(&nobody, r);
        o = json_tokener_parse(nobody.reply);
        ck_assert_str_eq(test_json_str(o, "owner"), svc.id);
        json_object_put(o);

        /* root: SetLogLevel answers with the level it replaced */
        r = test_agent_do(&root, "call org.mbus.Broker SetLogLevel {\"level\": \"debug\"}");
        ck_assert_agent_ok(&root, r);
        o = json_tokener_parse(root.reply);
        ck_assert_str_eq(test_json_str(o, "level"), "debug");
        ck_assert_ptr_nonnull(test_json_str(o, "previous"));
        json_object_put(o);
        r = test_agent_do(&root, "call org.mbus.Broker SetLogLevel {\"level\": \"info\"}");
        ck_assert_agent_ok(&root, r);
        o = json_tokener_parse(root.reply);
        ck_assert_str_eq(test_json_str(o, "previous"), "debug");
        json_object_put(o);
        r = test_agent_do(&root, "call org.mbus.Broker SetLogLevel {\"level\": \"loud\"}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_INVALID_ARGS, "SetLogLevel");

        /* root: ReleaseNamespace takes it away; the owner is told, the namespace is free */
        r = test_agent_do(&root, "call org.mbus.Broker ReleaseNamespace "
                                 "{\"namespace\": \"%s\", \"reason\": \"maintenance\"}", NS);
        ck_assert_agent_ok(&root, r);
        ck_assert_agent_ok(&svc, test_agent_do(&svc, "events"));
        ck_assert_str_eq(svc.reply, "org.mbus.Broker.NamespaceLost:direct");
        r = test_agent_do(&nobody, "call %s Get", NS);
        ck_assert_agent_error(&nobody, r, MBUS_ERROR_NO_SUCH_NAMESPACE, NULL);
        r = test_agent_do(&root, "call org.mbus.Broker ReleaseNamespace {\"namespace\": \"org.mbus.Broker\"}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_NOT_OWNER, "broker");

        /* root: DisconnectPeer closes the peer; the reason reaches the log and PeerDisconnected */
        r = test_agent_do(&root, "call org.mbus.Broker DisconnectPeer "
                                 "{\"id\": \"%s\", \"reason\": \"misbehaving\"}", svc.id);
        ck_assert_agent_ok(&root, r);
        ck_assert_agent_ok(&root, test_agent_do(&root, "events"));
        ck_assert_str_eq(root.reply, "org.mbus.Broker.PeerDisconnected");
        ck_assert(test_file_wait_for(e.c.log, "misbehaving", 5000));
        r = test_agent_do(&svc, "call org.mbus.Broker Ping");
        ck_assert_int_eq(r, -EREMOTEIO);
        r = test_agent_do(&root, "call org.mbus.Broker GetPeer {\"id\": \"%s\"}", svc.id);
        ck_assert_agent_error(&root, r, MBUS_ERROR_NO_SUCH_PEER, NULL);
        r = test_agent_do(&root, "call org.mbus.Broker DisconnectPeer {\"id\": \":1.0\"}");
        ck_assert_agent_error(&root, r, MBUS_ERROR_NOT_OWNER, "itself");

        (void) test_agent_stop(&svc);   /* its connection is gone: how it ends is not the point */
        agent_done(&nobody);
        agent_done(&root);
        env_done(&e);
}
END_TEST

static Suite *policy_suite(void) {
        Suite *s = suite_create("e2e-policy");
        TCase *tc = tcase_create("policy");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_loop_test(tc, test_own_allowed_user_registers_denied_user_is_told_the_rule, 0, 2);
        tcase_add_test(tc, test_system_scope_without_policy_file_only_root_owns);
        tcase_add_loop_test(tc, test_call_rules_by_user_group_specificity_and_deny_precedence, 0, 2);
        tcase_add_test(tc, test_call_default_allows_owner_uid_and_root_only);
        tcase_add_test(tc, test_broker_read_only_procedures_open_reload_root_only);
        tcase_add_test(tc, test_broker_namespace_follows_the_default_without_its_policy_file);
        tcase_add_test(tc, test_user_scope_defaults_to_the_broker_uid);
        tcase_add_test(tc, test_subscribe_exact_denied_wildcard_filtered_at_delivery);
        tcase_add_test(tc, test_send_direct_event_allowed_and_denied);
        tcase_add_loop_test(tc, test_interface_file_validates_calls_events_and_registration, 0, 2);
        tcase_add_test(tc, test_namespace_without_interface_file_passes_bodies_untouched);
        tcase_add_test(tc, test_reload_config_keeps_a_broken_files_old_rules_and_loads_the_rest);
        tcase_add_test(tc, test_sighup_reloads_and_keeps_the_old_set_when_broken);
        tcase_add_test(tc, test_owner_that_loses_the_right_to_own_is_unregistered);
        tcase_add_test(tc, test_reload_holds_owners_to_new_interface_files);
        tcase_add_test(tc, test_broker_starts_without_a_broken_file);
        tcase_add_test(tc, test_unknown_user_is_a_warning_and_its_rule_matches_nobody);
        tcase_add_test(tc, test_denial_is_logged_with_its_rule);
        tcase_add_test(tc, test_administration_procedures_are_for_root_only);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_agent_main(policy_suite, "run clients under other uids");
}
