/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of broker.conf (broker-conf.c): keys, syntax, errors, drop-ins, the command line on top. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker-conf.h"
#include "conf/policy.h"
#include "conf/test-files.h"
#include "util/macro.h"
#include "util/test-util.h"

struct warnings {
        unsigned n;
        unsigned lines[8];
        char last[256];
};

static void collect_warning(const char *path, unsigned line, const char *message, void *userdata) {
        struct warnings *w = userdata;

        if (w->n < ELEMENTSOF(w->lines))
                w->lines[w->n] = line;
        w->n++;
        (void) snprintf(w->last, sizeof(w->last), "%s:%u: %s", path, line, message);
}

static int parse_text(struct mbus_options *c, const char *text, struct warnings *w, struct mbus_file_error *err) {
        mbus_options_init(c);
        return mbus_broker_conf_parse(c, "test.conf", text, strlen(text), collect_warning, w, err);
}

static int parse_argv(struct mbus_options *c, const char *option, const char *value) {
        char *argv[] = { (char *) "mbus-broker", (char *) option, (char *) value, NULL };
        enum mbus_options_action a;
        char errbuf[256];

        mbus_options_init(c);
        return mbus_options_parse_argv(c, value ? 3 : 2, argv, &a, errbuf, sizeof(errbuf));
}

/* Every key, and the command-line option it mirrors: the same words give the same value. */
static const struct {
        const char *section, *key, *value, *option;
        enum mbus_option o;
} every_key[] = {
        { "Broker",    "Listen",              "/run/x/socket",  "--listen",              MBUS_OPTION_LISTEN },
        { "Broker",    "TCPAllowRemote",      "yes",            "--tcp-allow-remote",    MBUS_OPTION_TCP_ALLOW_REMOTE },
        { "Broker",    "LogLevel",            "debug",          "--log-level",           MBUS_OPTION_LOG_LEVEL },
        { "Broker",    "Scope",               "user",           "--scope",               MBUS_OPTION_SCOPE },
        { "TLS",       "Certificate",         "/etc/s.pem",     "--tls-cert",            MBUS_OPTION_TLS_CERT },
        { "TLS",       "Key",                 "/etc/k.pem",     "--tls-key",             MBUS_OPTION_TLS_KEY },
        { "TLS",       "CA",                  "/etc/ca.pem",    "--tls-ca",              MBUS_OPTION_TLS_CA },
        { "TLS",       "CRL",                 "/etc/crl.pem",   "--tls-crl",             MBUS_OPTION_TLS_CRL },
        { "WebSocket", "HttpRoot",            "/srv/www",       "--http-root",           MBUS_OPTION_HTTP_ROOT },
        { "TLS",       "HandshakeTimeoutSec", "2.5",            "--handshake-timeout",   MBUS_OPTION_HANDSHAKE_TIMEOUT },
        { "Limits",    "MaxPeers",            "77",             "--max-peers",           MBUS_OPTION_MAX_PEERS },
        { "Limits",    "MaxFrameSize",        "64K",            "--max-frame-size",      MBUS_OPTION_MAX_FRAME_SIZE },
        { "Limits",    "MaxPendingCalls",     "12",             "--max-pending-calls",   MBUS_OPTION_MAX_PENDING_CALLS },
        { "Limits",    "MaxQueueBytes",       "2M",             "--max-queue-bytes",     MBUS_OPTION_MAX_QUEUE_BYTES },
        { "Limits",    "MaxCallTimeoutSec",   "90",             "--max-call-timeout",    MBUS_OPTION_MAX_CALL_TIMEOUT },
        { "Limits",    "ActivationTimeoutSec", "4",             "--activation-timeout",  MBUS_OPTION_ACTIVATION_TIMEOUT },
        { "Limits",    "MaxPendingCallsTotal", "500",           "--max-pending-calls-total", MBUS_OPTION_MAX_PENDING_CALLS_TOTAL },
        { "Limits",    "MaxSubscriptionsTotal", "600",          "--max-subscriptions-total", MBUS_OPTION_MAX_SUBSCRIPTIONS_TOTAL },
        { "Limits",    "MaxNamespacesTotal",  "700",            "--max-namespaces-total", MBUS_OPTION_MAX_NAMESPACES_TOTAL },
        { "Limits",    "MaxQueueBytesTotal",  "64M",            "--max-queue-bytes-total", MBUS_OPTION_MAX_QUEUE_BYTES_TOTAL },
        { "Limits",    "MaxHelloPerUser",     "3",              "--max-hello-per-user",  MBUS_OPTION_MAX_HELLO_PER_USER },
        { "Limits",    "HelloTimeoutSec",     "1.5",            "--hello-timeout",       MBUS_OPTION_HELLO_TIMEOUT },
        { "Limits",    "FrameTimeoutSec",     "4",              "--frame-timeout",       MBUS_OPTION_FRAME_TIMEOUT },
        { "Limits",    "MinFrameRate",        "1M",             "--min-frame-rate",      MBUS_OPTION_MIN_FRAME_RATE },
        { "Limits",    "MaxBodySize",         "64K",            "--max-body-size",       MBUS_OPTION_MAX_BODY_SIZE },
        { "Limits",    "MaxBodyDepth",        "8",              "--max-body-depth",      MBUS_OPTION_MAX_BODY_DEPTH },
        { "KeepAlive", "IntervalSec",         "0.2",            "--keepalive-interval",  MBUS_OPTION_KEEPALIVE_INTERVAL },
        { "KeepAlive", "TimeoutSec",          "7",              "--keepalive-timeout",   MBUS_OPTION_KEEPALIVE_TIMEOUT },
        { "KeepAlive", "Threshold",           "5",              "--keepalive-threshold", MBUS_OPTION_KEEPALIVE_THRESHOLD },
};

START_TEST(test_every_key_sets_what_its_option_sets) {
        struct mbus_options defaults;

        mbus_options_init(&defaults);
        for (size_t i = 0; i < ELEMENTSOF(every_key); i++) {
                struct mbus_options file, argv;
                struct mbus_file_error err = {};
                struct warnings w = {};
                char text[256], key[64];

                (void) snprintf(text, sizeof(text), "[%s]\n%s=%s\n", every_key[i].section, every_key[i].key,
                                every_key[i].value);
                ck_assert_int_eq(parse_text(&file, text, &w, &err), 0);
                ck_assert_uint_eq(w.n, 0);
                ck_assert_uint_eq(file.set, 1u << every_key[i].o);
                ck_assert_msg(!mbus_options_equal(&file, &defaults, every_key[i].o), "%s= changed nothing",
                              every_key[i].key);
                ck_assert_int_eq(parse_argv(&argv, every_key[i].option,
                                            every_key[i].o == MBUS_OPTION_TCP_ALLOW_REMOTE ? NULL : every_key[i].value),
                                 0);
                ck_assert_msg(mbus_options_equal(&file, &argv, every_key[i].o), "%s= differs from %s",
                              every_key[i].key, every_key[i].option);
                (void) snprintf(text, sizeof(text), "%s.%s", every_key[i].section, every_key[i].key);
                ck_assert_str_eq(mbus_broker_conf_key_of(every_key[i].o, key, sizeof(key)), text);
                mbus_options_done(&file);
                mbus_options_done(&argv);
        }
        /* The log target is the command line's alone: where the file's warnings go. */
        ck_assert_ptr_null(mbus_broker_conf_key_of(MBUS_OPTION_LOG_TARGET, (char[64]) {}, 64));
}
END_TEST

START_TEST(test_comments_blanks_whitespace_and_continuations) {
        static const char text[] =
                "# a comment\n"
                "; another one \\\n"
                "\n"
                "  [Limits]  \r\n"
                "MaxPeers = 12\r\n"
                "\tMaxPendingCalls=\\\n"
                "  34\n"
                "[Broker]\n"
                "Listen=/run/a/socket\n"
                "LogLevel=notice";        /* no final newline */
        struct mbus_options c;
        struct mbus_file_error err = {};
        struct warnings w = {};

        ck_assert_int_eq(parse_text(&c, text, &w, &err), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_uint_eq(c.max_peers, 12);
        ck_assert_uint_eq(c.max_pending_calls, 34);
        ck_assert_uint_eq(c.n_listen, 1);
        ck_assert_str_eq(c.listen[0], "/run/a/socket");
        ck_assert_int_eq(c.log_level, LOG_NOTICE);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_listen_appends_and_an_empty_listen_resets) {
        struct mbus_options c;
        struct mbus_file_error err = {};

        ck_assert_int_eq(parse_text(&c, "[Broker]\nListen=/a\nListen=tls://127.0.0.1:7001\nListen=\nListen=/b\n"
                                    "Listen=tcp://127.0.0.1:7000\n", NULL, &err), 0);
        ck_assert_uint_eq(c.n_listen, 2);
        ck_assert_str_eq(c.listen[0], "/b");
        ck_assert_str_eq(c.listen[1], "tcp://127.0.0.1:7000");
        ck_assert_ptr_null(c.listen[2]);
        mbus_options_done(&c);

        ck_assert_int_eq(parse_text(&c, "[Broker]\nListen=/a\nListen=\n", NULL, &err), 0);
        ck_assert_uint_eq(c.n_listen, 0);
        ck_assert_ptr_null(c.listen);
        ck_assert(c.set & (1u << MBUS_OPTION_LISTEN));         /* given, as empty */
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_unknown_sections_and_keys_warn_with_their_line) {
        static const char text[] =
                "Orphan=1\n"                    /* 1: before any section */
                "[Broker]\n"
                "Bogus=1\n"                     /* 3: unknown key */
                "[Future]\n"                    /* 4: unknown section, warned once */
                "Anything=1\n"
                "Else=2\n"
                "[Limits]\n"
                "maxpeers=3\n"                  /* 8: keys are case-sensitive, as in systemd */
                "MaxPeers=9\n";
        struct mbus_options c;
        struct mbus_file_error err = {};
        struct warnings w = {};

        ck_assert_int_eq(parse_text(&c, text, &w, &err), 0);
        ck_assert_uint_eq(w.n, 4);
        ck_assert_uint_eq(w.lines[0], 1);
        ck_assert_uint_eq(w.lines[1], 3);
        ck_assert_uint_eq(w.lines[2], 4);
        ck_assert_uint_eq(w.lines[3], 8);
        ck_assert_str_eq(w.last, "test.conf:8: Unknown key maxpeers= in section [Limits], ignoring it");
        ck_assert_uint_eq(c.max_peers, 9);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_bad_values_and_lines_are_errors_naming_the_line) {
        static const struct {
                const char *text;
                unsigned line;
                const char *message;
        } bad[] = {
                { "[Limits]\nMaxPeers=0\n", 2, "invalid MaxPeers= (1..1048576): 0" },
                { "[Limits]\n\nMaxFrameSize=100\n", 3, NULL },
                { "[Limits]\nMaxQueueBytes=lots\n", 2, NULL },
                { "[Limits]\nMaxPendingCalls=-1\n", 2, NULL },
                { "[Limits]\nMaxCallTimeoutSec=0\n", 2, NULL },
                { "[Limits]\nMaxPeers=\n", 2, "invalid MaxPeers= (1..1048576): (empty)" },
                { "[TLS]\nCertificate=\n", 2, NULL },
                { "[TLS]\nHandshakeTimeoutSec=soon\n", 2, NULL },
                { "[Broker]\nListen=relative/socket\n", 2, NULL },
                { "[Broker]\nListen=tcp://host\n", 2, NULL },
                { "[Broker]\nTCPAllowRemote=maybe\n", 2, "invalid TCPAllowRemote= (yes or no): maybe" },
                { "[Broker]\nLogLevel=loud\n", 2, NULL },
                { "[Broker]\nScope=world\n", 2, NULL },
                { "[KeepAlive]\nThreshold=1001\n", 2, NULL },
                { "[KeepAlive]\nIntervalSec=-1\n", 2, NULL },
                { "[Limits]\nMaxPeers=\\\n0\n", 2, NULL },          /* a continuation: its first line */
                { "[Broker\n", 1, "invalid section header: [Broker" },
                { "[Broker]\nListen /run/x\n", 2, "not a [Section] header, Key=Value or comment: Listen /run/x" },
                { "[Broker]\n=value\n", 2, "an assignment without a key" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct mbus_options c;
                struct mbus_file_error err = {};

                ck_assert_msg(parse_text(&c, bad[i].text, NULL, &err) == -EBADMSG, "accepted: %s", bad[i].text);
                ck_assert_str_eq(err.path, "test.conf");
                ck_assert_uint_eq(err.line, bad[i].line);
                if (bad[i].message)
                        ck_assert_str_eq(err.message, bad[i].message);
                mbus_options_done(&c);
        }
}
END_TEST

START_TEST(test_more_listen_addresses_than_the_limit_are_an_error) {
        char text[2048] = "[Broker]\n";
        struct mbus_options c;
        struct mbus_file_error err = {};

        for (unsigned i = 0; i <= MBUS_OPTIONS_LISTEN_MAX; i++)
                (void) snprintf(text + strlen(text), sizeof(text) - strlen(text), "Listen=/run/s%u\n", i);
        ck_assert_int_eq(parse_text(&c, text, NULL, &err), -EBADMSG);
        ck_assert_uint_eq(err.line, MBUS_OPTIONS_LISTEN_MAX + 2);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_dropins_are_read_in_lexical_order_after_the_file) {
        char dir[] = "/tmp/mbus-test-conf.XXXXXX", path[512], dropins[512];
        struct mbus_options c;
        struct mbus_file_error err = {};
        struct warnings w = {};

        ck_assert_ptr_nonnull(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/broker.conf", dir);
        (void) snprintf(dropins, sizeof(dropins), "%s/broker.conf.d", dir);
        ck_assert_int_eq(mkdir(dropins, 0755), 0);
        write_file(dir, "broker.conf", "[Limits]\nMaxPeers=1\nMaxPendingCalls=1\nMaxQueueBytes=1K\n"
                                       "[Broker]\nListen=/run/main\n");
        write_file(dropins, "20-b.conf", "[Limits]\nMaxPeers=20\n[Broker]\nListen=/run/b\n");
        write_file(dropins, "10-a.conf", "[Limits]\nMaxPeers=10\nMaxPendingCalls=10\n[Broker]\nListen=\n"
                                         "Listen=/run/a\n");
        write_file(dropins, "30-ignored.txt", "[Limits]\nMaxPeers=30\n");
        write_file(dropins, ".40-hidden.conf", "[Limits]\nMaxPeers=40\n");

        mbus_options_init(&c);
        ck_assert_int_eq(mbus_broker_conf_load(&c, path, /* required= */ true, collect_warning, &w, &err), 0);
        ck_assert_uint_eq(w.n, 0);
        ck_assert_uint_eq(c.max_peers, 20);             /* 20-b.conf last */
        ck_assert_uint_eq(c.max_pending_calls, 10);     /* 10-a.conf over broker.conf */
        ck_assert_uint_eq(c.max_queue_bytes, 1024);     /* broker.conf alone */
        ck_assert_uint_eq(c.n_listen, 2);               /* reset by 10-a.conf, then one each */
        ck_assert_str_eq(c.listen[0], "/run/a");
        ck_assert_str_eq(c.listen[1], "/run/b");
        mbus_options_done(&c);

        /* An error in a drop-in names the drop-in; the main file may be missing. */
        (void) snprintf(path, sizeof(path), "%s/broker.conf.d/20-b.conf", dir);
        ck_assert_int_eq(unlink(path), 0);
        write_file(dropins, "20-b.conf", "[Limits]\n\nMaxPeers=many\n");
        (void) snprintf(path, sizeof(path), "%s/broker.conf", dir);
        ck_assert_int_eq(unlink(path), 0);
        mbus_options_init(&c);
        ck_assert_int_eq(mbus_broker_conf_load(&c, path, /* required= */ false, NULL, NULL, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.path, "broker.conf.d/20-b.conf"));
        ck_assert_uint_eq(err.line, 3);
        mbus_options_done(&c);

        /* Missing and named on the command line: an error. */
        mbus_options_init(&c);
        ck_assert_int_eq(mbus_broker_conf_load(&c, path, /* required= */ true, NULL, NULL, &err), -EBADMSG);
        ck_assert_str_eq(err.path, path);
        mbus_options_done(&c);

        remove_dir(dir);
}
END_TEST

/* The command line that main() would parse, then what mbus_broker_conf_read() makes of it. */
static int read_with(struct mbus_options *ret, struct mbus_file_error *err, char **argv) {
        struct mbus_options cmdline;
        enum mbus_options_action a;
        char errbuf[256];
        int argc = 0, r;

        while (argv[argc])
                argc++;
        mbus_options_init(&cmdline);
        r = mbus_options_parse_argv(&cmdline, argc, argv, &a, errbuf, sizeof(errbuf));
        ck_assert_int_eq(r, 0);
        r = mbus_broker_conf_read(ret, &cmdline, NULL, NULL, err);
        mbus_options_done(&cmdline);
        return r;
}

START_TEST(test_the_command_line_wins_over_the_file_setting_by_setting) {
        char dir[] = "/tmp/mbus-test-conf.XXXXXX", path[512];
        struct mbus_options c;
        struct mbus_file_error err = {};

        ck_assert_ptr_nonnull(mkdtemp(dir));
        write_file(dir, "broker.conf", "[Limits]\nMaxPeers=5\nMaxPendingCalls=9\nMaxCallTimeoutSec=3\n"
                                       "[Broker]\nListen=/run/file-a\nListen=/run/file-b\nLogLevel=debug\n");

        /* --config-dir DIR reads DIR/broker.conf. */
        ck_assert_int_eq(read_with(&c, &err, (char *[]) { (char *) "mbus-broker", (char *) "--config-dir", dir,
                                                         (char *) "--max-peers", (char *) "7", NULL }), 0);
        ck_assert_uint_eq(c.max_peers, 7);
        ck_assert_uint_eq(c.max_pending_calls, 9);
        ck_assert_uint_eq(c.max_call_timeout, 3 * USEC_PER_SEC);
        ck_assert_uint_eq(c.default_call_timeout, 3 * USEC_PER_SEC);  /* derived after the merge */
        ck_assert_int_eq(c.log_level, LOG_DEBUG);
        ck_assert_uint_eq(c.n_listen, 2);
        ck_assert_str_eq(c.config_dir, dir);
        mbus_options_done(&c);

        /* One --listen replaces the file's whole list; --broker-config names the file. */
        (void) snprintf(path, sizeof(path), "%s/broker.conf", dir);
        ck_assert_int_eq(read_with(&c, &err, (char *[]) { (char *) "mbus-broker", (char *) "--broker-config", path,
                                                         (char *) "--listen", (char *) "/run/argv", NULL }), 0);
        ck_assert_uint_eq(c.n_listen, 1);
        ck_assert_str_eq(c.listen[0], "/run/argv");
        ck_assert_uint_eq(c.max_peers, 5);
        mbus_options_done(&c);

        /* --no-broker-config: defaults and the command line only. */
        ck_assert_int_eq(read_with(&c, &err, (char *[]) { (char *) "mbus-broker", (char *) "--config-dir", dir,
                                                         (char *) "--no-broker-config", NULL }), 0);
        ck_assert_uint_eq(c.max_peers, MBUS_OPTIONS_MAX_PEERS_DEFAULT);
        ck_assert_uint_eq(c.n_listen, 0);
        mbus_options_done(&c);

        /* What only the whole set can tell names the file. */
        write_file(dir, "broker.conf", "[TLS]\nCertificate=/etc/s.pem\n");
        ck_assert_int_eq(read_with(&c, &err, (char *[]) { (char *) "mbus-broker", (char *) "--broker-config", path,
                                                         NULL }), -EBADMSG);
        ck_assert_str_eq(err.path, path);
        ck_assert_ptr_nonnull(strstr(err.message, "needs --tls-ca"));
        /* ... and the command line can complete it. */
        ck_assert_int_eq(read_with(&c, &err, (char *[]) { (char *) "mbus-broker", (char *) "--broker-config", path,
                                                         (char *) "--tls-ca", (char *) "/etc/ca.pem", NULL }), 0);
        ck_assert_str_eq(c.tls_cert, "/etc/s.pem");
        ck_assert_str_eq(c.tls_ca, "/etc/ca.pem");
        mbus_options_done(&c);

        remove_dir(dir);
}
END_TEST

static Suite *broker_conf_suite(void) {
        Suite *s = suite_create("broker-conf");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_every_key_sets_what_its_option_sets);
        tcase_add_test(tc, test_comments_blanks_whitespace_and_continuations);
        tcase_add_test(tc, test_listen_appends_and_an_empty_listen_resets);
        tcase_add_test(tc, test_unknown_sections_and_keys_warn_with_their_line);
        tcase_add_test(tc, test_bad_values_and_lines_are_errors_naming_the_line);
        tcase_add_test(tc, test_more_listen_addresses_than_the_limit_are_an_error);
        tcase_add_test(tc, test_dropins_are_read_in_lexical_order_after_the_file);
        tcase_add_test(tc, test_the_command_line_wins_over_the_file_setting_by_setting);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(broker_conf_suite)
