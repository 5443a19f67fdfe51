/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address strings and defaults: the three spellings of a UNIX socket, what is refused, and
 * which default a process gets from MBUS_ADDRESS, its uid and XDG_RUNTIME_DIR.
 */

#include <arpa/inet.h>
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/address.h"
#include "util/macro.h"
#include "util/test-util.h"

START_TEST(test_unix_spellings) {
        static const char *const forms[] = { "/run/mbus/socket", "unix:/run/mbus/socket",
                                             "unix:path=/run/mbus/socket" };

        for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                struct sockaddr_un sa;
                socklen_t len = 0;

                ck_assert_int_eq(mbus_address_to_sockaddr(forms[i], &sa, &len), 0);
                ck_assert_int_eq(sa.sun_family, AF_UNIX);
                ck_assert_str_eq(sa.sun_path, "/run/mbus/socket");
                ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/mbus/socket") + 1);
        }
}
END_TEST

START_TEST(test_invalid_addresses) {
        struct sockaddr_un sa;
        socklen_t len;
        char longpath[sizeof(sa.sun_path) + 2];

        ck_assert_int_eq(mbus_address_to_sockaddr("", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("relative/socket", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("unix:relative", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("unix:path=", &sa, &len), -EINVAL);
        ck_assert_int_eq(mbus_address_to_sockaddr("tcp:localhost:1234", &sa, &len), -EPROTONOSUPPORT);
        ck_assert_int_eq(mbus_address_to_sockaddr(NULL, &sa, &len), -EINVAL);

        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        ck_assert_int_eq(mbus_address_to_sockaddr(longpath, &sa, &len), -ENAMETOOLONG);
        /* The longest path that still fits, with its NUL. */
        longpath[sizeof(sa.sun_path) - 1] = 0;
        ck_assert_int_eq(mbus_address_to_sockaddr(longpath, &sa, &len), 0);
}
END_TEST

START_TEST(test_network_addresses_parse) {
        static const struct {
                const char *s;
                enum mbus_address_kind kind;
                const char *host, *port;
        } ok[] = {
                { "tcp://127.0.0.1:7000", MBUS_ADDRESS_TCP, "127.0.0.1", "7000" },
                { "tcp://[::1]:7000", MBUS_ADDRESS_TCP, "::1", "7000" },
                { "tcp://bus.example.org:1", MBUS_ADDRESS_TCP, "bus.example.org", "1" },
                { "tls://127.0.0.1", MBUS_ADDRESS_TLS, "127.0.0.1", MBUS_TLS_PORT_DEFAULT },
                { "tls://[fe80::1]", MBUS_ADDRESS_TLS, "fe80::1", MBUS_TLS_PORT_DEFAULT },
                { "tls://localhost:65535", MBUS_ADDRESS_TLS, "localhost", "65535" },
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                struct mbus_address a;

                ck_assert_int_eq(mbus_address_parse(ok[i].s, &a), 0);
                ck_assert_int_eq(a.kind, ok[i].kind);
                ck_assert_str_eq(a.host, ok[i].host);
                ck_assert_str_eq(a.port, ok[i].port);
                ck_assert_ptr_null(a.path);
                mbus_address_done(&a);
        }
}
END_TEST

START_TEST(test_tls_parameters) {
        struct mbus_address a;

        ck_assert_int_eq(mbus_address_parse("tls://10.0.0.1:7001?cert=/c.pem&key=/k.pem&ca=/ca.pem&name=bus", &a), 0);
        ck_assert_str_eq(a.tls_cert, "/c.pem");
        ck_assert_str_eq(a.tls_key, "/k.pem");
        ck_assert_str_eq(a.tls_ca, "/ca.pem");
        ck_assert_str_eq(a.tls_name, "bus");
        ck_assert_str_eq(a.port, "7001");
        mbus_address_done(&a);

        ck_assert_int_eq(mbus_address_parse("unix:/run/mbus/socket", &a), 0);
        ck_assert_int_eq(a.kind, MBUS_ADDRESS_UNIX);
        ck_assert_str_eq(a.path, "/run/mbus/socket");
        mbus_address_done(&a);
}
END_TEST

START_TEST(test_bad_network_addresses) {
        static const char *const bad[] = {
                "tcp://", "tcp://host", "tcp://:7000", "tcp://host:0", "tcp://host:65536", "tcp://host:7x",
                "tcp://::1:7000", "tcp://[::1", "tcp://[nope]:1", "tcp://[::1]x", "tcp://h st:1",
                "tcp://host:1?cert=/x", "tls://host?bogus=1", "tls://host?cert", "tls://host?cert=",
                "tls://host?cert=/a&cert=/b", "tls://",
        };
        struct mbus_address a;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(mbus_address_parse(bad[i], &a) == -EINVAL, "%s", bad[i]);
        ck_assert_int_eq(mbus_address_parse("http://host:1", &a), -EPROTONOSUPPORT);
        ck_assert_int_eq(mbus_address_parse("ws://host", &a), -EINVAL);      /* a port is required */

        /* WebSocket addresses are for the broker to listen on; a client cannot connect to one. */
        ck_assert_int_eq(mbus_address_parse("wss://127.0.0.1:7391", &a), 0);
        ck_assert_int_eq(a.kind, MBUS_ADDRESS_WSS);
        ck_assert_str_eq(a.port, "7391");
        ck_assert_int_eq(mbus_address_connect(&a, &(int) { -1 }), -EPROTONOSUPPORT);
        mbus_address_done(&a);
}
END_TEST

START_TEST(test_compat_addresses_bind_where_the_original_client_connects) {
        struct mbus_address a;

        /* The original client connects to PATH:PORT; its UNIX port is 0 by default. */
        ck_assert_int_eq(mbus_address_parse("compat+unix:/run/mbus/compat:0", &a), 0);
        ck_assert_int_eq(a.kind, MBUS_ADDRESS_COMPAT_UNIX);
        ck_assert_str_eq(a.path, "/run/mbus/compat:0");
        ck_assert_int_eq(mbus_address_connect(&a, &(int) { -1 }), -EPROTONOSUPPORT);
        mbus_address_done(&a);
        ck_assert_int_eq(mbus_address_parse("compat+unix:/run/mbus/compat", &a), 0);
        ck_assert_str_eq(a.path, "/run/mbus/compat:0");
        mbus_address_done(&a);
        ck_assert_int_eq(mbus_address_parse("compat+unix:/tmp/x:8000", &a), 0);
        ck_assert_str_eq(a.path, "/tmp/x:8000");
        mbus_address_done(&a);
        ck_assert_int_eq(mbus_address_parse("compat+tcp://127.0.0.1:8000", &a), 0);
        ck_assert_int_eq(a.kind, MBUS_ADDRESS_COMPAT_TCP);
        ck_assert_str_eq(a.host, "127.0.0.1");
        ck_assert_str_eq(a.port, "8000");
        ck_assert_str_eq(mbus_address_kind_to_string(a.kind), "compat+tcp");
        ck_assert_int_eq(mbus_address_connect(&a, &(int) { -1 }), -EPROTONOSUPPORT);
        mbus_address_done(&a);

        ck_assert_int_eq(mbus_address_parse("compat+unix:relative", &a), -EINVAL);
        ck_assert_int_eq(mbus_address_parse("compat+unix:/tmp/x:70000", &a), -EINVAL);
        ck_assert_int_eq(mbus_address_parse("compat+tcp://host", &a), -EINVAL);
}
END_TEST

START_TEST(test_sockaddr_format_and_loopback) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(7390) };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(1) };
        char buf[MBUS_SOCKADDR_FORMAT_MAX];

        ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.2", &in.sin_addr), 1);
        ck_assert_str_eq(mbus_sockaddr_format((struct sockaddr *) &in, sizeof(in), buf, sizeof(buf)), "127.0.0.2:7390");
        ck_assert(mbus_sockaddr_is_loopback((struct sockaddr *) &in));
        ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &in.sin_addr), 1);
        ck_assert(!mbus_sockaddr_is_loopback((struct sockaddr *) &in));

        in6.sin6_addr = in6addr_loopback;
        ck_assert_str_eq(mbus_sockaddr_format((struct sockaddr *) &in6, sizeof(in6), buf, sizeof(buf)), "[::1]:1");
        ck_assert(mbus_sockaddr_is_loopback((struct sockaddr *) &in6));
        ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr), 1);
        ck_assert(mbus_sockaddr_is_loopback((struct sockaddr *) &in6));
        ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
        ck_assert(!mbus_sockaddr_is_loopback((struct sockaddr *) &in6));
}
END_TEST

START_TEST(test_mbus_address_overrides_default) {
        _cleanup_free_ char *a = NULL, *l = NULL;

        ck_assert_int_eq(setenv("MBUS_ADDRESS", "/tmp/x/socket", 1), 0);
        ck_assert_int_eq(mbus_address_default(&a), 0);
        ck_assert_str_eq(a, "/tmp/x/socket");
        /* The broker ignores it. */
        ck_assert_int_eq(mbus_address_default_listen(&l), 0);
        ck_assert_str_ne(l, "/tmp/x/socket");
}
END_TEST

/*
 * The client's default: the user bus only in a user session (our own $XDG_RUNTIME_DIR with a
 * socket in it), else the system bus, as for a system service with User= (no $XDG_RUNTIME_DIR).
 */
START_TEST(test_default_is_the_user_bus_only_in_a_user_session) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *u = NULL, *sock = NULL;
        char dir[] = "/tmp/mbus-test-runtime-XXXXXX";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        ck_assert_int_eq(setenv("MBUS_ADDRESS", "", 1), 0);    /* empty counts as unset */
        ck_assert_int_eq(unsetenv("MBUS_SYSTEM_ADDRESS"), 0);
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        ck_assert_int_eq(mbus_address_default(&a), 0);
        ck_assert_str_eq(a, MBUS_ADDRESS_SYSTEM);
        ck_assert(!mbus_address_in_user_session());

        /* a runtime directory without a user broker: still the system bus */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", dir, 1), 0);
        ck_assert_int_eq(setenv("MBUS_SYSTEM_ADDRESS", "/tmp/system-bus/socket", 1), 0);
        ck_assert_int_eq(mbus_address_default(&b), 0);
        ck_assert_str_eq(b, "/tmp/system-bus/socket");

        /* with the user broker's socket there: the user bus */
        ck_assert_int_ge(asprintf(&sock, "%s/mbus", dir), 0);
        ck_assert_int_eq(mkdir(sock, 0700), 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert(mbus_address_in_user_session());
        ck_assert_int_eq(mbus_address_default(&c), 0);
        ck_assert_str_eq(c, sa.sun_path);
        ck_assert_int_eq(mbus_address_user(&u), 0);
        ck_assert_str_eq(u, sa.sun_path);

        /* someone else's runtime directory does not count */
        if (geteuid() == 0) {
                ck_assert_int_eq(chown(dir, 4242, 4242), 0);
                ck_assert(!mbus_address_in_user_session());
                ck_assert_int_eq(mbus_address_default(&d), 0);
                ck_assert_str_eq(d, "/tmp/system-bus/socket");
        }

        close(fd);
        (void) unlink(sa.sun_path);
        (void) rmdir(sock);
        (void) rmdir(dir);
        ck_assert_int_eq(unsetenv("MBUS_SYSTEM_ADDRESS"), 0);
}
END_TEST

START_TEST(test_uid_based_default) {
        _cleanup_free_ char *b = NULL, *want = NULL;

        ck_assert_int_eq(unsetenv("MBUS_ADDRESS"), 0);
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        ck_assert_int_eq(mbus_address_default_listen(&b), 0);
        if (geteuid() == 0)
                ck_assert_str_eq(b, MBUS_ADDRESS_SYSTEM);
        else {
                ck_assert_int_ge(asprintf(&want, "/run/user/%u/mbus/socket", (unsigned) geteuid()), 0);
                ck_assert_str_eq(b, want);
        }
}
END_TEST

static Suite *address_suite(void) {
        Suite *s = suite_create("address");
        TCase *tc = tcase_create("address");

        tcase_add_test(tc, test_unix_spellings);
        tcase_add_test(tc, test_invalid_addresses);
        tcase_add_test(tc, test_network_addresses_parse);
        tcase_add_test(tc, test_tls_parameters);
        tcase_add_test(tc, test_bad_network_addresses);
        tcase_add_test(tc, test_sockaddr_format_and_loopback);
        tcase_add_test(tc, test_compat_addresses_bind_where_the_original_client_connects);
        tcase_add_test(tc, test_mbus_address_overrides_default);
        tcase_add_test(tc, test_uid_based_default);
        tcase_add_test(tc, test_default_is_the_user_bus_only_in_a_user_session);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(address_suite)
