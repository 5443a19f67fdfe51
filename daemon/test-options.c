/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the command line parser (options.c). */

#include <check.h>
#include <stdlib.h>

#include "conf/policy.h"
#include "options.h"
#include "util/test-util.h"

static int parse(struct mbus_options *c, enum mbus_options_action *action, char **argv) {
        char errbuf[256];
        int argc = 0, r;

        while (argv[argc])
                argc++;
        mbus_options_init(c);
        r = mbus_options_parse_argv(c, argc, argv, action, errbuf, sizeof(errbuf));
        return r < 0 ? r : mbus_options_verify(c, errbuf, sizeof(errbuf));
}

START_TEST(test_defaults_match_the_documentation) {
        struct mbus_options c;
        enum mbus_options_action a;
        char *argv[] = { (char *) "mbus-broker", NULL };

        ck_assert_int_eq(parse(&c, &a, argv), 0);
        ck_assert_int_eq(a, MBUS_OPTIONS_RUN);
        ck_assert_ptr_null(c.listen);
        ck_assert_ptr_null(c.tls_cert);
        ck_assert(!c.tcp_allow_remote);
        ck_assert_uint_eq(c.handshake_timeout, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c.max_peers, 4096);
        ck_assert_uint_eq(c.max_frame_size, 16777216);
        ck_assert_uint_eq(c.max_pending_calls, 1024);
        ck_assert_uint_eq(c.max_queue_bytes, 33554432);
        ck_assert_uint_eq(c.max_call_timeout, 600 * USEC_PER_SEC);
        ck_assert_uint_eq(c.keepalive_interval, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c.keepalive_timeout, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(c.keepalive_threshold, 3);
        ck_assert_int_eq(c.log_level, LOG_INFO);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_options_take_fractional_seconds_and_sizes) {
        struct mbus_options c;
        enum mbus_options_action a;
        char *argv[] = {
                (char *) "mbus-broker", (char *) "--address", (char *) "/tmp/x/socket",
                (char *) "--keepalive-interval", (char *) "0.2", (char *) "--keepalive-timeout=0.25",
                (char *) "--max-queue-bytes", (char *) "64K", (char *) "--max-call-timeout", (char *) "1.5",
                (char *) "--log-level", (char *) "debug", (char *) "--log-target", (char *) "console", NULL
        };

        ck_assert_int_eq(parse(&c, &a, argv), 0);
        ck_assert_uint_eq(c.n_listen, 1);
        ck_assert_str_eq(c.listen[0], "/tmp/x/socket");
        ck_assert_uint_eq(c.keepalive_interval, 200000);
        ck_assert_uint_eq(c.keepalive_timeout, 250000);
        ck_assert_uint_eq(c.max_queue_bytes, 65536);
        ck_assert_uint_eq(c.max_call_timeout, 1500000);
        ck_assert_uint_eq(c.default_call_timeout, 1500000);   /* capped */
        ck_assert_int_eq(c.log_level, LOG_DEBUG);
        ck_assert_int_eq(c.log_target, MBUS_LOG_TARGET_CONSOLE);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_bad_values_are_refused) {
        static const char *const bad[][3] = {
                { "--keepalive-interval", "abc" }, { "--keepalive-interval", "-1" }, { "--max-peers", "0" },
                { "--max-frame-size", "100" },     { "--log-level", "loud" },        { "--address", "relative" },
                { "--log-target", "syslog" },      { "--max-pending-calls", "1x" },  { "--listen", "tcp://host" },
                { "--listen", "tls://[::1" },      { "--listen", "ws://host" }  ,    { "--tls-cert", "/c.pem" },
                { "--tls-ca", "/ca.pem" },         { "--handshake-timeout", "0" },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct mbus_options c;
                enum mbus_options_action a;
                char *argv[] = { (char *) "mbus-broker", (char *) bad[i][0], (char *) bad[i][1], NULL };

                ck_assert_int_eq(parse(&c, &a, argv), -EINVAL);
                mbus_options_done(&c);
        }
}
END_TEST

START_TEST(test_listen_and_tls_options) {
        struct mbus_options c;
        enum mbus_options_action a;
        char *argv[] = {
                (char *) "mbus-broker", (char *) "--listen", (char *) "/run/mbus/socket",
                (char *) "--listen=tls://[::1]:7390", (char *) "--address", (char *) "tcp://127.0.0.1:7000",
                (char *) "--tls-cert", (char *) "/s.pem", (char *) "--tls-key", (char *) "/k.pem",
                (char *) "--tls-ca", (char *) "/ca.pem", (char *) "--tls-crl", (char *) "/crl.pem",
                (char *) "--tcp-allow-remote", (char *) "--handshake-timeout", (char *) "0.5", NULL
        };

        ck_assert_int_eq(parse(&c, &a, argv), 0);
        ck_assert_uint_eq(c.n_listen, 3);
        ck_assert_str_eq(c.listen[0], "/run/mbus/socket");
        ck_assert_str_eq(c.listen[1], "tls://[::1]:7390");
        ck_assert_str_eq(c.listen[2], "tcp://127.0.0.1:7000");
        ck_assert_ptr_null(c.listen[3]);
        ck_assert_str_eq(c.tls_cert, "/s.pem");
        ck_assert_str_eq(c.tls_key, "/k.pem");
        ck_assert_str_eq(c.tls_ca, "/ca.pem");
        ck_assert_str_eq(c.tls_crl, "/crl.pem");
        ck_assert(c.tcp_allow_remote);
        ck_assert_uint_eq(c.handshake_timeout, 500000);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_help_and_version_are_actions) {
        struct mbus_options c;
        enum mbus_options_action a;
        char *help[] = { (char *) "mbus-broker", (char *) "--help", NULL };
        char *version[] = { (char *) "mbus-broker", (char *) "--version", NULL };
        char *extra[] = { (char *) "mbus-broker", (char *) "extra", NULL };

        ck_assert_int_eq(parse(&c, &a, help), 0);
        ck_assert_int_eq(a, MBUS_OPTIONS_HELP);
        mbus_options_done(&c);
        ck_assert_int_eq(parse(&c, &a, version), 0);
        ck_assert_int_eq(a, MBUS_OPTIONS_VERSION);
        mbus_options_done(&c);
        ck_assert_int_eq(parse(&c, &a, extra), -EINVAL);
        mbus_options_done(&c);
}
END_TEST

START_TEST(test_config_dir_and_scope) {
        struct mbus_options c;
        enum mbus_options_action a;
        char *good[] = { (char *) "mbus-broker", (char *) "--config-dir", (char *) "/tmp/conf", (char *) "--scope",
                         (char *) "user", NULL };
        char *bad[] = { (char *) "mbus-broker", (char *) "--scope", (char *) "world", NULL };
        char *none[] = { (char *) "mbus-broker", NULL };

        ck_assert_int_eq(parse(&c, &a, none), 0);
        ck_assert_ptr_null(c.config_dir);
        ck_assert_int_eq(c.scope, -1);                  /* by the broker's uid */
        mbus_options_done(&c);

        ck_assert_int_eq(parse(&c, &a, good), 0);
        ck_assert_str_eq(c.config_dir, "/tmp/conf");
        ck_assert_int_eq(c.scope, MBUS_POLICY_SCOPE_USER);
        mbus_options_done(&c);

        ck_assert_int_eq(parse(&c, &a, bad), -EINVAL);
        mbus_options_done(&c);
}
END_TEST

static Suite *options_suite(void) {
        Suite *s = suite_create("options");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_defaults_match_the_documentation);
        tcase_add_test(tc, test_options_take_fractional_seconds_and_sizes);
        tcase_add_test(tc, test_bad_values_are_refused);
        tcase_add_test(tc, test_listen_and_tls_options);
        tcase_add_test(tc, test_help_and_version_are_actions);
        tcase_add_test(tc, test_config_dir_and_scope);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(options_suite)
