/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The broker's journal entries, read back as an admin reads them: a real broker run with
 * --log-target journal, made to log a start and a stop, peers connecting and leaving, a
 * protocol error, an access denial (a client running as nobody) and events dropped for a
 * subscriber that never reads. Each entry is looked up by the broker's _PID and its MESSAGE_ID
 * (daemon/log-ids.h) with libsystemd's sd-journal reader, and its fields are checked: PRIORITY,
 * ERRNO, MBUS_PEER/MBUS_PEER_NAME/MBUS_UID/MBUS_PID of the peer it is about, the
 * namespace, member, action and rule of a denial, the caller's CODE_FILE/CODE_LINE/CODE_FUNC in
 * daemon/, and the MESSAGE a person reads. Names are random per run, and only entries written
 * after the test started count, so entries of earlier runs never satisfy a test.
 *
 * Needs a running journald (tests/run-all starts one as root when systemd does not run) and
 * root (a client as nobody; the system journal); skipped (77) otherwise.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <json-c/json.h>

#include "config.h"
#include "daemon/log-ids.h"
#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/journal-util.h"
#include "helpers/raw-util.h"

static const struct test_who ROOT = { 0, 0, NULL, 0 };
static const struct test_who NOBODY = { TEST_UID_NOBODY, TEST_GID_NOGROUP, NULL, 0 };

/* How long journald may take to make an entry readable. */
static int journal_timeout_ms(void) {
        const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
        int mult = m ? atoi(m) : 1;

        return 5000 * (mult > 0 ? mult : 1);
}

/* A broker logging to the journal, and names no earlier run used. */
struct env {
        struct test_config c;
        struct test_broker b;
        pid_t broker_pid;
        uint64_t since;
        char tag[24];               /* random, e.g. "t0123456789abcdef" */
        char ns[96];                /* org.example.journal.<tag> */
        char pid_match[32];         /* _PID=<broker pid> */
};

static void env_init(struct env *e) {
        uint64_t rnd;

        *e = (struct env) {};
        ck_assert_int_eq(getrandom(&rnd, sizeof(rnd), 0), (ssize_t) sizeof(rnd));
        snprintf(e->tag, sizeof(e->tag), "t%016" PRIx64, rnd);
        snprintf(e->ns, sizeof(e->ns), "org.example.journal.%s", e->tag);
        ck_assert_int_eq(test_config_new(&e->c, true), 0);
}

static void env_start(struct env *e, const char *const *more) {
        const char *args[24] = { "--config-dir", e->c.dir, "--scope", "system",
                                 "--log-target", "journal", "--log-level", "debug" };
        size_t n = 8;

        for (size_t i = 0; more && more[i] && n < 23; i++)
                args[n++] = more[i];
        args[n] = NULL;
        e->since = test_journal_now();
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
        e->broker_pid = e->b.pid;
        snprintf(e->pid_match, sizeof(e->pid_match), "_PID=%d", (int) e->broker_pid);
}

static void env_stop(struct env *e) {
        ck_assert_broker_stops_cleanly(&e->b);
}

static void env_done(struct env *e) {
        if (e->b.pid > 0)
                (void) test_broker_stop(&e->b);
        test_config_remove(&e->c);
}

/*
 * The broker's entries with msgid, and with MBUS_PEER=peer if peer is not NULL: waits until at
 * least min are there, and asserts that there are at least min (at most max).
 */
static void find_entries(const struct env *e, const char *msgid, const char *peer, size_t min, size_t max,
                         struct test_journal_entries *ret) {
        char msgid_match[64], peer_match[64];
        const char *matches[] = { e->pid_match, "SYSLOG_IDENTIFIER=mbus-broker", msgid_match,
                                  peer ? peer_match : NULL, NULL };
        int r;

        snprintf(msgid_match, sizeof(msgid_match), "MESSAGE_ID=%s", msgid);
        snprintf(peer_match, sizeof(peer_match), "MBUS_PEER=%s", peer ?: "");
        r = test_journal_wait(matches, e->since, min, min > 0 ? journal_timeout_ms() : 0, ret);
        ck_assert_msg(r >= 0, "reading the journal failed: %s", strerror(-r));
        ck_assert_msg((size_t) r >= min && (size_t) r <= max,
                      "%d entries of broker %s with MESSAGE_ID=%s%s%s, expected %zu..%zu%s%s", r,
                      e->pid_match, msgid, peer ? " MBUS_PEER=" : "", peer ?: "", min, max,
                      r > 0 ? "; the first:\n" : "", r > 0 ? test_journal_format(&ret->entries[0]) : "");
}

#define ck_assert_field(entry, name, expected)                                                        \
        do {                                                                                          \
                const char *_v = test_journal_get((entry), (name));                                   \
                const char *_x = (expected);                                                          \
                ck_assert_msg(_v && strcmp(_v, _x) == 0, "%s=%s, expected %s, in the entry\n%s", (name), \
                              _v ?: "(absent)", _x, test_journal_format(entry));                      \
        } while (0)

#define ck_assert_no_field(entry, name)                                                               \
        ck_assert_msg(!test_journal_get((entry), (name)), "%s= is set, in the entry\n%s", (name),      \
                      test_journal_format(entry))

static const char *fmt(char *buf, size_t size, const char *format, ...) __attribute__((__format__(printf, 3, 4)));
static const char *fmt(char *buf, size_t size, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, size, format, ap);
        va_end(ap);
        return buf;
}

/* The fields a peer's entries carry: its id, name, uid and pid. */
static void ck_assert_peer_fields(const struct test_journal_entry *entry, const char *id, const char *name,
                                  uid_t uid, pid_t pid) {
        char buf[32];

        ck_assert_field(entry, "MBUS_PEER", id);
        ck_assert_field(entry, "MBUS_PEER_NAME", name);
        ck_assert_field(entry, "MBUS_UID", fmt(buf, sizeof(buf), "%u", (unsigned) uid));
        ck_assert_field(entry, "MBUS_PID", fmt(buf, sizeof(buf), "%d", (int) pid));
}

/*
 * CODE_FILE, CODE_LINE and CODE_FUNC name the mbus_log() call in daemon/ that wrote the entry
 * (not log.c, which all entries pass through): the source file exists, has a mbus_log( call
 * just at or before the line, and defines the function.
 */
static void ck_assert_code_location(const struct test_journal_entry *entry) {
        const char *file = test_journal_get(entry, "CODE_FILE");
        const char *line = test_journal_get(entry, "CODE_LINE");
        const char *func = test_journal_get(entry, "CODE_FUNC");
        const char *src = getenv("MBUS_TEST_SRCDIR");
        const char *rel;
        char path[1024], text[512], def[256];
        bool call_near = false, func_found = false;
        long want, n = 0;
        FILE *f;

        ck_assert_ptr_nonnull(src);
        ck_assert_msg(file && line && func, "no CODE_FILE/CODE_LINE/CODE_FUNC in the entry\n%s",
                      test_journal_format(entry));
        rel = strstr(file, "daemon/");
        ck_assert_msg(rel, "CODE_FILE=%s is not in daemon/", file);
        ck_assert_msg(strcmp(rel, "daemon/log.c") != 0 && strcmp(func, "mbus_log_internal") != 0 &&
                      strcmp(func, "log_to_journal") != 0,
                      "the entry names the logging code (%s:%s %s), not its caller", file, line, func);
        want = strtol(line, NULL, 10);
        ck_assert_msg(want > 0, "CODE_LINE=%s", line);
        snprintf(path, sizeof(path), "%s/%s", src, rel);
        f = fopen(path, "re");
        ck_assert_msg(f, "CODE_FILE=%s: no %s", file, path);
        snprintf(def, sizeof(def), "%s(", func);
        while (fgets(text, sizeof(text), f)) {
                n++;
                if (n >= want - 6 && n <= want && strstr(text, "mbus_log("))
                        call_near = true;
                /* a definition starts a line with its type: "static void name(", "int name(" */
                const char *p = strstr(text, def);
                if (p && p > text && p[-1] == ' ' && text[0] != ' ' && text[0] != '\t')
                        func_found = true;
        }
        fclose(f);
        ck_assert_msg(call_near, "%s:%ld is not a mbus_log() call", path, want);
        ck_assert_msg(func_found, "CODE_FUNC=%s is not defined in %s", func, path);
}

/* The broker wrote nothing to stderr: with --log-target journal everything went there. */
static void ck_assert_console_quiet(const struct env *e) {
        char buf[4096] = "";
        FILE *f = fopen(e->c.log, "re");

        if (f) {
                size_t k = fread(buf, 1, sizeof(buf) - 1, f);
                buf[k] = 0;
                fclose(f);
        }
        ck_assert_msg(!strstr(buf, "mbus-broker["), "the broker logged to stderr:\n%s", buf);
}

/* ---- the broker itself -------------------------------------------------------------------- */

START_TEST(test_start_configuration_and_stop_are_logged) {
        struct test_journal_entries started, loaded, stopped;
        struct env e;
        char buf[512];

        env_init(&e);
        env_start(&e, NULL);
        env_stop(&e);

        find_entries(&e, MBUS_MSGID_BROKER_STARTED, NULL, 1, 1, &started);
        ck_assert_field(&started.entries[0], "PRIORITY", "6");
        ck_assert_field(&started.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "mbus-broker %s started on %s", MBUS_VERSION, e.b.address));
        ck_assert_no_field(&started.entries[0], "MBUS_PEER");
        ck_assert_no_field(&started.entries[0], "ERRNO");
        ck_assert_code_location(&started.entries[0]);

        find_entries(&e, MBUS_MSGID_CONFIG_LOADED, NULL, 1, 1, &loaded);
        ck_assert_field(&loaded.entries[0], "PRIORITY", "6");
        /* the shipped org.mbus.Broker files: one namespace's policy and interfaces */
        ck_assert_field(&loaded.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf),
                            "Loaded the policy of 1 namespaces and the interfaces of 1 (system scope, from %s)",
                            e.c.dir));
        ck_assert_code_location(&loaded.entries[0]);

        find_entries(&e, MBUS_MSGID_BROKER_STOPPED, NULL, 1, 1, &stopped);
        ck_assert_field(&stopped.entries[0], "PRIORITY", "6");
        ck_assert_field(&stopped.entries[0], "MESSAGE", "mbus-broker stopped");
        ck_assert_field(&stopped.entries[0], "SYSLOG_IDENTIFIER", "mbus-broker");
        ck_assert_code_location(&stopped.entries[0]);

        ck_assert_console_quiet(&e);
        test_journal_entries_done(&started);
        test_journal_entries_done(&loaded);
        test_journal_entries_done(&stopped);
        env_done(&e);
}
END_TEST

/* ---- peers coming and going --------------------------------------------------------------- */

START_TEST(test_peers_connecting_and_leaving_are_logged_with_their_credentials) {
        struct test_journal_entries conn_raw, conn_agent, gone_raw, gone_agent;
        struct test_agent nobody;
        struct env e;
        char name[64], buf[512], *raw_id = NULL;
        int fd;

        env_init(&e);
        env_start(&e, NULL);
        snprintf(name, sizeof(name), "journal-%s", e.tag);

        /* two peers at once, of different uids and pids: each entry is about its own peer */
        fd = raw_connect(e.b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, name, &raw_id), 0);
        ck_assert_int_eq(test_agent_start(&nobody, e.b.address, &NOBODY), 0);

        find_entries(&e, MBUS_MSGID_PEER_CONNECTED, raw_id, 1, 1, &conn_raw);
        ck_assert_field(&conn_raw.entries[0], "PRIORITY", "7");
        ck_assert_peer_fields(&conn_raw.entries[0], raw_id, name, getuid(), getpid());
        ck_assert_field(&conn_raw.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "Peer %s (%s) connected", raw_id, name));
        ck_assert_no_field(&conn_raw.entries[0], "ERRNO");
        ck_assert_code_location(&conn_raw.entries[0]);

        find_entries(&e, MBUS_MSGID_PEER_CONNECTED, nobody.id, 1, 1, &conn_agent);
        ck_assert_field(&conn_agent.entries[0], "PRIORITY", "7");
        ck_assert_peer_fields(&conn_agent.entries[0], nobody.id, "test-agent", TEST_UID_NOBODY, nobody.pid);
        ck_assert_field(&conn_agent.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "Peer %s (test-agent) connected", nobody.id));

        /* hanging up is a normal end: debug, no error */
        pid_t agent_pid = nobody.pid;
        ck_assert_int_eq(test_agent_stop(&nobody), 0);
        close(fd);

        find_entries(&e, MBUS_MSGID_PEER_DISCONNECTED, raw_id, 1, 1, &gone_raw);
        ck_assert_field(&gone_raw.entries[0], "PRIORITY", "7");
        ck_assert_peer_fields(&gone_raw.entries[0], raw_id, name, getuid(), getpid());
        ck_assert_field(&gone_raw.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "Peer %s (%s) disconnected", raw_id, name));
        ck_assert_no_field(&gone_raw.entries[0], "ERRNO");
        ck_assert_code_location(&gone_raw.entries[0]);

        find_entries(&e, MBUS_MSGID_PEER_DISCONNECTED, nobody.id, 1, 1, &gone_agent);
        ck_assert_field(&gone_agent.entries[0], "PRIORITY", "7");
        ck_assert_peer_fields(&gone_agent.entries[0], nobody.id, "test-agent", TEST_UID_NOBODY, agent_pid);
        ck_assert_field(&gone_agent.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "Peer %s (test-agent) disconnected", nobody.id));

        env_stop(&e);
        ck_assert_console_quiet(&e);
        free(raw_id);
        test_journal_entries_done(&conn_raw);
        test_journal_entries_done(&conn_agent);
        test_journal_entries_done(&gone_raw);
        test_journal_entries_done(&gone_agent);
        env_done(&e);
}
END_TEST

/* ---- protocol errors ---------------------------------------------------------------------- */

START_TEST(test_protocol_error_is_logged_with_the_reason_the_peer_was_told) {
        struct test_journal_entries err, gone;
        struct raw_buf frame = {};
        struct raw_frame f;
        struct env e;
        char name[64], reason[512], buf[1024], *id = NULL;
        json_object *body;
        int fd;

        env_init(&e);
        env_start(&e, NULL);
        snprintf(name, sizeof(name), "journal-bad-%s", e.tag);

        /* a CALL of protocol version 2 after a good handshake */
        fd = raw_connect(e.b.address);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(raw_hello(fd, name, &id), 0);
        raw_frame_begin_full(&frame, 2, MBUS_FRAME_CALL, 0, 0);
        raw_field_u64(&frame, MBUS_FIELD_SERIAL, 2);
        raw_field_str(&frame, MBUS_FIELD_NAMESPACE, e.ns);
        raw_field_str(&frame, MBUS_FIELD_MEMBER, "Get");
        raw_frame_finish(&frame, NULL);
        ck_assert_int_eq(raw_send_buf(fd, &frame), 0);
        raw_buf_done(&frame);
        ck_assert_int_eq(raw_recv(fd, 10000, &f), 0);
        ck_assert_int_eq(f.type, MBUS_FRAME_ERROR);
        ck_assert_str_eq(f.error_name, MBUS_ERROR_PROTOCOL);
        body = json_tokener_parse(f.body ?: "");
        ck_assert_ptr_nonnull(test_json_str(body, "message"));
        snprintf(reason, sizeof(reason), "%s", test_json_str(body, "message"));
        json_object_put(body);
        raw_frame_done(&f);
        ck_assert_int_eq(raw_wait_eof(fd, 10000), 0);
        close(fd);

        find_entries(&e, MBUS_MSGID_PROTOCOL_ERROR, id, 1, 1, &err);
        ck_assert_field(&err.entries[0], "PRIORITY", "5");
        ck_assert_field(&err.entries[0], "ERRNO", fmt(buf, sizeof(buf), "%d", EBADMSG));
        ck_assert_peer_fields(&err.entries[0], id, name, getuid(), getpid());
        ck_assert_field(&err.entries[0], "MESSAGE", fmt(buf, sizeof(buf), "Protocol error from %s: %s", id, reason));
        ck_assert_code_location(&err.entries[0]);

        /* and the broker says it dropped the peer, and why */
        find_entries(&e, MBUS_MSGID_PEER_DISCONNECTED, id, 1, 1, &gone);
        ck_assert_field(&gone.entries[0], "PRIORITY", "6");
        ck_assert_field(&gone.entries[0], "ERRNO", fmt(buf, sizeof(buf), "%d", EBADMSG));
        ck_assert_peer_fields(&gone.entries[0], id, name, getuid(), getpid());
        ck_assert_field(&gone.entries[0], "MESSAGE",
                        fmt(buf, sizeof(buf), "Dropped peer %s (%s): %s", id, name, strerror(EBADMSG)));
        ck_assert_code_location(&gone.entries[0]);

        env_stop(&e);
        ck_assert_console_quiet(&e);
        free(id);
        test_journal_entries_done(&err);
        test_journal_entries_done(&gone);
        env_done(&e);
}
END_TEST

/* ---- TLS refusals ------------------------------------------------------------------------- */

START_TEST(test_tls_refusals_are_logged_with_the_address_and_reason) {
        static const struct {
                const char *cert;       /* NULL: none */
                const char *reason;
        } cases[] = {
                { "expired", ": certificate verification failed: certificate has expired" },
                { "future", ": certificate verification failed: certificate is not yet valid" },
                { "revoked", ": certificate verification failed: certificate revoked" },
                { "other", ": certificate verification failed: unable to get local issuer certificate" },
                { NULL, ": peer did not return a certificate" },
        };
        struct test_journal_entries refused;
        struct env e;
        char certs[256], listen[64], cert[300], key[300], ca[300], crl[300], addr[1200];

        ck_assert_int_eq(test_make_certs(certs, sizeof(certs)), 0);
        env_init(&e);
        (void) snprintf(listen, sizeof(listen), "tls://127.0.0.1:%u", test_free_tcp_port());
        (void) snprintf(cert, sizeof(cert), "%s/server.pem", certs);
        (void) snprintf(key, sizeof(key), "%s/server-key.pem", certs);
        (void) snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
        (void) snprintf(crl, sizeof(crl), "%s/crl.pem", certs);
        env_start(&e, (const char *const[]) { "--listen", listen, "--tls-cert", cert, "--tls-key", key,
                                              "--tls-ca", ca, "--tls-crl", crl, NULL });

        for (size_t i = 0; i < (sizeof(cases) / sizeof(cases[0])); i++) {
                struct mbus_error error = MBUS_ERROR_NULL;
                struct mbus_conn *c = NULL;

                if (cases[i].cert)
                        (void) snprintf(addr, sizeof(addr), "%s?cert=%s/%s.pem&key=%s/%s-key.pem&ca=%s", listen, certs,
                                        cases[i].cert, certs, cases[i].cert, ca);
                else
                        (void) snprintf(addr, sizeof(addr), "%s?ca=%s", listen, ca);
                ck_assert_int_eq(mbus_conn_open_with_error(&c, addr, "refused", &error), -EPROTO);
                mbus_error_free(&error);
        }

        /* One entry per refusal, each with the peer's address and the reason, warning level. */
        find_entries(&e, MBUS_MSGID_TLS_REFUSED, NULL, (sizeof(cases) / sizeof(cases[0])), (sizeof(cases) / sizeof(cases[0])), &refused);
        for (size_t i = 0; i < (sizeof(cases) / sizeof(cases[0])); i++) {
                bool found = false;

                for (size_t j = 0; j < refused.n; j++) {
                        const char *msg = test_journal_get(&refused.entries[j], "MESSAGE");

                        if (msg && strncmp(msg, "Refused TLS connection from 127.0.0.1:", 38) == 0 &&
                            strstr(msg, cases[i].reason))
                                found = true;
                }
                ck_assert_msg(found, "no entry says %s", cases[i].reason);
        }
        for (size_t j = 0; j < refused.n; j++) {
                ck_assert_field(&refused.entries[j], "PRIORITY", "4");
                ck_assert_field(&refused.entries[j], "MBUS_TRANSPORT", "tls");
                ck_assert(strncmp(test_journal_get(&refused.entries[j], "MBUS_REMOTE_ADDRESS") ?: "", "127.0.0.1:",
                                  10) == 0);
                ck_assert_ptr_nonnull(test_journal_get(&refused.entries[j], "MBUS_PEER"));
                ck_assert_no_field(&refused.entries[j], "MBUS_UID");
                ck_assert_code_location(&refused.entries[j]);
        }

        env_stop(&e);
        test_journal_entries_done(&refused);
        env_done(&e);
        test_remove_certs(certs);
}
END_TEST

/* ---- access denials ----------------------------------------------------------------------- */

static const char *journalctl_path(void) {
        static const char *const paths[] = { "/usr/bin/journalctl", "/bin/journalctl" };

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

START_TEST(test_access_denial_is_logged_with_peer_action_and_rule) {
        struct test_journal_entries denied;
        struct test_agent svc, nobody;
        struct env e;
        char rel[256], rule[1024], message[2048], buf[128], policy[1024];
        int r;

        env_init(&e);
        snprintf(policy, sizeof(policy),
                 "<policy namespace=\"%s\">\n"
                 "  <allow call=\"*\" user=\"nobody\"/>\n"
                 "  <deny call=\"Reboot\" user=\"nobody\"/>\n"
                 "</policy>\n", e.ns);
        snprintf(rel, sizeof(rel), "policy.d/%s.xml", e.ns);
        test_config_write(&e.c, rel, policy);
        env_start(&e, NULL);
        ck_assert_int_eq(test_agent_start(&svc, e.b.address, &ROOT), 0);
        ck_assert_int_eq(test_agent_start(&nobody, e.b.address, &NOBODY), 0);
        ck_assert_msg(test_agent_do(&svc, "register %s Reboot,Get -", e.ns) == 0, "%s", svc.reply);

        /* allowed: no denial logged for it */
        ck_assert_msg(test_agent_do(&nobody, "call %s Get", e.ns) == 0, "%s", nobody.reply);
        r = test_agent_do(&nobody, "call %s Reboot", e.ns);
        ck_assert_msg(r == -EREMOTEIO, "Reboot by nobody: %d %s", r, nobody.reply);
        ck_assert_str_eq(test_agent_error_name(&nobody), MBUS_ERROR_ACCESS_DENIED);

        snprintf(rule, sizeof(rule), "rule 'deny call Reboot user=nobody' at %s/%s:3", e.c.dir, rel);
        ck_assert_msg(strstr(nobody.reply, rule), "the peer was not told '%s': %s", rule, nobody.reply);
        find_entries(&e, MBUS_MSGID_ACCESS_DENIED, NULL, 1, 1, &denied);
        const struct test_journal_entry *d = &denied.entries[0];
        ck_assert_field(d, "PRIORITY", "5");
        ck_assert_field(d, "ERRNO", fmt(buf, sizeof(buf), "%d", EACCES));
        ck_assert_peer_fields(d, nobody.id, "test-agent", TEST_UID_NOBODY, nobody.pid);
        ck_assert_field(d, "MBUS_NAMESPACE", e.ns);
        ck_assert_field(d, "MBUS_MEMBER", "Reboot");
        ck_assert_field(d, "MBUS_ACTION", "call");
        ck_assert_field(d, "MBUS_RULE", rule);
        snprintf(message, sizeof(message), "Access denied: call %s.Reboot by uid %u (%s): %s", e.ns,
                 (unsigned) TEST_UID_NOBODY, nobody.id, rule);
        ck_assert_field(d, "MESSAGE", message);
        ck_assert_code_location(d);

        /* what the catalog and the man page tell an admin to run finds it */
        const char *journalctl = journalctl_path();
        static char out[1 << 16], err[4096];
        char ns_match[160];
        int found = 0;

        ck_assert_msg(journalctl, "journald runs, but there is no journalctl");
        snprintf(ns_match, sizeof(ns_match), "MBUS_NAMESPACE=%s", e.ns);
        const char *argv[] = { journalctl, "--no-pager", "-o", "json", "MESSAGE_ID=" MBUS_MSGID_ACCESS_DENIED,
                               ns_match, NULL };
        r = test_run(argv, out, sizeof(out), err, sizeof(err), 20000);
        ck_assert_msg(r == 0, "journalctl exited %d: %s", r, err);
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                json_object *o = json_tokener_parse(line);

                ck_assert_msg(o, "journalctl -o json printed '%s'", line);
                ck_assert_str_eq(test_json_str(o, "MESSAGE_ID"), MBUS_MSGID_ACCESS_DENIED);
                ck_assert_str_eq(test_json_str(o, "_PID"), e.pid_match + strlen("_PID="));
                ck_assert_str_eq(test_json_str(o, "MBUS_PEER"), nobody.id);
                ck_assert_str_eq(test_json_str(o, "MBUS_RULE"), rule);
                ck_assert_str_eq(test_json_str(o, "MESSAGE"), message);
                json_object_put(o);
                found++;
        }
        ck_assert_msg(found == 1, "journalctl MESSAGE_ID=%s %s found %d entries", MBUS_MSGID_ACCESS_DENIED,
                      ns_match, found);

        ck_assert_int_eq(test_agent_stop(&nobody), 0);
        ck_assert_int_eq(test_agent_stop(&svc), 0);
        env_stop(&e);
        ck_assert_console_quiet(&e);
        test_journal_entries_done(&denied);
        env_done(&e);
}
END_TEST

/* ---- events dropped for a slow subscriber ------------------------------------------------- */

#define QUEUE_LIMIT 65536
#define EVENT_PAD 8192

START_TEST(test_events_dropped_for_a_subscriber_that_never_reads_are_logged) {
        static const char *const args[] = { "--max-queue-bytes", "65536", NULL };
        struct test_journal_entries dropped, others;
        struct raw_frame f;
        struct env e;
        char sub_name[64], pub_name[64], pattern[128], message[1024], *sub_id = NULL, *pub_id = NULL;
        static char body[EVENT_PAD + 32];
        size_t queued = 0, limit = 0;
        uint64_t total = 0;
        int sub, pub, k = 0;

        env_init(&e);
        env_start(&e, args);
        snprintf(sub_name, sizeof(sub_name), "journal-slow-%s", e.tag);
        snprintf(pub_name, sizeof(pub_name), "journal-pub-%s", e.tag);

        sub = raw_connect(e.b.address);
        ck_assert_int_ge(sub, 0);
        ck_assert_int_eq(raw_hello(sub, sub_name, &sub_id), 0);
        snprintf(pattern, sizeof(pattern), "%s.*", e.ns);
        ck_assert_int_eq(raw_subscribe(sub, 2, pattern), 0);

        pub = raw_connect(e.b.address);
        ck_assert_int_ge(pub, 0);
        ck_assert_int_eq(raw_hello(pub, pub_name, &pub_id), 0);
        ck_assert_int_eq(raw_register(pub, 2, e.ns), 0);

        /* far more than the subscriber's socket buffer and queue hold; it reads none of it */
        memset(body, 'x', sizeof(body));
        memcpy(body, "{\"pad\":\"", 8);
        memcpy(body + EVENT_PAD - 2, "\"}", 3);
        for (int i = 0; i < 400; i++)
                ck_assert_int_eq(raw_send_simple(pub, MBUS_FRAME_EVENT, 10 + (uint64_t) i, 0, e.ns, "Changed", NULL,
                                                 NULL, NULL, body), 0);
        /* the broker has handled every event once it answers this */
        ck_assert_int_eq(raw_send_simple(pub, MBUS_FRAME_PING, 1000, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
        ck_assert_int_eq(raw_recv_type(pub, 10000, MBUS_FRAME_PONG, &f), 0);
        raw_frame_done(&f);

        /* rate-limited: at least one entry, far fewer than events dropped */
        find_entries(&e, MBUS_MSGID_EVENTS_DROPPED, sub_id, 1, 20, &dropped);
        const struct test_journal_entry *d = &dropped.entries[0];
        ck_assert_field(d, "PRIORITY", "4");
        ck_assert_field(d, "ERRNO", fmt(message, sizeof(message), "%d", ENOBUFS));
        ck_assert_peer_fields(d, sub_id, sub_name, getuid(), getpid());
        ck_assert_field(d, "MBUS_NAMESPACE", e.ns);
        ck_assert_field(d, "MBUS_MEMBER", "Changed");
        ck_assert_code_location(d);

        /* "Dropped event NS.Changed for :1.N: its queue holds B bytes (limit L); T events dropped
         * in total": the first one logged is the first one dropped, and it did not fit */
        const char *m = test_journal_get(d, "MESSAGE");
        snprintf(message, sizeof(message), "Dropped event %s.Changed for %s: its queue holds %%zu bytes "
                 "(limit %%zu); %%" SCNu64 " events dropped in total%%n", e.ns, sub_id);
        ck_assert_ptr_nonnull(m);
        ck_assert_msg(sscanf(m, message, &queued, &limit, &total, &k) == 3 && m[k] == 0,
                      "MESSAGE=%s", m);
        ck_assert_uint_eq(limit, QUEUE_LIMIT);
        ck_assert_uint_eq(total, 1);
        ck_assert_msg(queued <= QUEUE_LIMIT && queued + EVENT_PAD > QUEUE_LIMIT,
                      "an event of %d bytes would have fit into %zu of %d: MESSAGE=%s", EVENT_PAD, queued,
                      QUEUE_LIMIT, m);

        /* the publisher lost nothing, so nothing is logged about it */
        find_entries(&e, MBUS_MSGID_EVENTS_DROPPED, pub_id, 0, 0, &others);

        close(sub);
        close(pub);
        env_stop(&e);
        ck_assert_console_quiet(&e);
        free(sub_id);
        free(pub_id);
        test_journal_entries_done(&dropped);
        test_journal_entries_done(&others);
        env_done(&e);
}
END_TEST

static Suite *journal_suite(void) {
        Suite *s = suite_create("e2e-journal");
        TCase *tc = tcase_create("journal");

        tcase_set_timeout(tc, TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_start_configuration_and_stop_are_logged);
        tcase_add_test(tc, test_peers_connecting_and_leaving_are_logged_with_their_credentials);
        tcase_add_test(tc, test_protocol_error_is_logged_with_the_reason_the_peer_was_told);
        tcase_add_test(tc, test_tls_refusals_are_logged_with_the_address_and_reason);
        tcase_add_test(tc, test_access_denial_is_logged_with_peer_action_and_rule);
        tcase_add_test(tc, test_events_dropped_for_a_subscriber_that_never_reads_are_logged);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (!test_journal_available()) {
                fprintf(stderr, "no journald listens on %s, skipping\n", TEST_JOURNAL_SOCKET);
                return 77;
        }
        return test_agent_main(journal_suite, "run a client as nobody or read the system journal");
}
