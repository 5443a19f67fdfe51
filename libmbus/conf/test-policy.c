/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the policy checks (policy.c): the precedence as tables. */

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/policy.h"
#include "util/macro.h"
#include "util/test-util.h"

#define NS "org.example.Net"
#define FP "3af29c11045b77e09d42aa136fc81e55900b3d7ac4e92861f50c8bd346a719e2"

/* One rule per line: rules[i] is on line i + 3 of the generated file. */
static const char *const rules[] = {
        /*  3 */ "{\"allow\": \"own\", \"user\": \"1000\"}",
        /*  4 */ "{\"allow\": \"call\", \"group\": \"100\"}",
        /*  5 */ "{\"allow\": \"call\", \"member\": \"GetState\", \"user\": \"*\"}",
        /*  6 */ "{\"deny\": \"call\", \"member\": \"Reboot\", \"user\": \"*\"}",
        /*  7 */ "{\"allow\": \"call\", \"user\": \"1001\"}",
        /*  8 */ "{\"allow\": \"call\", \"member\": \"Foo\", \"user\": \"1002\"}",
        /*  9 */ "{\"deny\": \"call\", \"member\": \"Foo\", \"user\": \"1002\"}",
        /* 10 */ "{\"allow\": \"call\", \"member\": \"Bar\", \"group\": \"200\"}",
        /* 11 */ "{\"deny\": \"call\", \"member\": \"Bar\", \"group\": \"201\"}",
        /* 12 */ "{\"deny\": \"subscribe\", \"user\": \"*\"}",
        /* 13 */ "{\"allow\": \"subscribe\", \"user\": \"1003\"}",
        /* 14 */ "{\"allow\": \"subscribe\", \"member\": \"Changed\", \"group\": \"300\"}",
        /* 15 */ "{\"allow\": \"send\", \"member\": \"Refresh\", \"user\": \"@broker\"}",
        /* 16 */ "{\"allow\": \"call\", \"member\": \"Cert\", \"cert-cn\": \"monitor.example.org\"}",
        /* 17 */ "{\"allow\": \"call\", \"member\": \"Cert\", \"cert-san\": \"dns:agent.example.org\"}",
        /* 18 */ "{\"allow\": \"call\", \"member\": \"Cert\", \"cert-fingerprint\": \"3A:F2:9C:11:04:5B:77:E0:9D:42:AA:13:6F:C8:1E:55:90:0B:3D:7A:C4:E9:28:61:F5:0C:8B:D3:46:A7:19:E2\"}",
        /* 19 */ "{\"allow\": \"call\", \"member\": \"Twice\", \"user\": \"*\"}",
        /* 20 */ "{\"allow\": \"call\", \"member\": \"Twice\", \"user\": \"*\"}",
        /* 21 */ "{\"deny\": \"own\", \"user\": \"0\"}",
        /* 22 */ "{\"allow\": \"call\", \"member\": \"AnyType\", \"cert-san\": \"node1.example.org\"}",
        /* 23 */ "{\"allow\": \"call\", \"member\": \"Dns\", \"cert-san\": \"dns:Node1.Example.ORG\"}",
        /* 24 */ "{\"allow\": \"call\", \"member\": \"Uri\", \"cert-san\": \"uri:spiffe://example.org/node1\"}",
        /* 25 */ "{\"allow\": \"call\", \"member\": \"Email\", \"cert-san\": \"Email:node1@example.org\"}",
        /* 26 */ "{\"allow\": \"call\", \"member\": \"Ip\", \"cert-san\": \"IP:2001:DB8:0::7\"}",
        /* 27 */ "{\"allow\": \"call\", \"member\": \"Net\", \"address\": \"10.0.0.0/8\"}",
        /* 28 */ "{\"allow\": \"call\", \"member\": \"Net\", \"address\": \"2001:db8::/32\"}",
        /* 29 */ "{\"deny\": \"call\", \"member\": \"Combo\", \"address\": \"10.0.0.0/8\"}",
        /* 30 */ "{\"allow\": \"call\", \"member\": \"Combo\", \"cert-cn\": \"node1\"}",
        /* 31 */ "{\"deny\": \"call\", \"member\": \"Combo2\", \"cert-cn\": \"node1\"}",
        /* 32 */ "{\"allow\": \"call\", \"member\": \"Combo2\", \"cert-cn\": \"node1\", \"address\": \"10.66.0.0/16\"}",
        /* 33 */ "{\"deny\": \"call\", \"member\": \"Combo3\", \"cert-cn\": \"node1\", \"address\": \"10.66.0.0/16\"}",
        /* 34 */ "{\"allow\": \"call\", \"member\": \"Combo3\", \"address\": \"10.66.1.0/24\", \"cert-cn\": \"node1\"}",
        /* 35 */ "{\"allow\": \"call\", \"member\": \"Single\", \"address\": \"192.0.2.7\"}",
        /* 36 */ "{\"allow\": \"call\", \"member\": \"Single\", \"address\": \"2001:db8::7\"}",
        /* 37 */ "{\"allow\": \"call\", \"member\": \"Mapped\", \"address\": \"::ffff:198.51.100.0/120\"}",
        /* 38 */ "{\"allow\": \"call\", \"cert-cn\": \"node1\", \"address\": \"10.0.0.0/8\"}",
        /* 39 */ "{\"allow\": \"call\", \"member\": \"Mapped1\", \"user\": \"daemon\"}",
        /* 40 */ "{\"allow\": \"call\", \"member\": \"Mapped2\", \"group\": \"daemon\"}",
        /* 41 */ "{\"allow\": \"call\", \"member\": \"Mapped3\", \"group\": \"adm\"}",
        /* 42 */ "{\"deny\": \"call\", \"member\": \"Tie\", \"user\": \"daemon\"}",
        /* 43 */ "{\"allow\": \"call\", \"member\": \"Tie\", \"cert-cn\": \"mapped.example.org\"}",
        /* 44 */ "{\"allow\": \"call\", \"member\": \"UserVsAddr\", \"user\": \"daemon\"}",
        /* 45 */ "{\"deny\": \"call\", \"member\": \"UserVsAddr\", \"address\": \"10.0.0.0/8\"}",
        /* 46 */ "{\"allow\": \"call\", \"member\": \"GroupVsAddr\", \"group\": \"daemon\"}",
        /* 47 */ "{\"deny\": \"call\", \"member\": \"GroupVsAddr\", \"address\": \"10.0.0.0/8\"}",
};

#define FP2 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FP3 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define BROKER_UID_TEXT "4242"

/* The mappings of /test/@identities.json: maps[i] is on line i + 2. */
static const char *const maps[] = {
        /* 2 */ "{\"cert-cn\": \"mapped.example.org\", \"user\": \"daemon\"}",
        /* 3 */ "{\"cert-san\": \"dns:mapped-san.example.org\", \"user\": \"root\"}",
        /* 4 */ "{\"cert-fingerprint\": \"" FP3 "\", \"user\": " BROKER_UID_TEXT "}",
        /* 5 */ "{\"cert-cn\": \"both.example.org\", \"user\": \"daemon\"}",
        /* 6 */ "{\"cert-fingerprint\": \"" FP2 "\", \"user\": \"root\"}",
        /* 7 */ "{\"cert-cn\": \"grouped.example.org\", \"user\": \"daemon\", \"group\": \"adm\"}",
};

#define BROKER_UID 4242

static struct mbus_policy *make_policy(enum mbus_policy_scope scope) {
        struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        char text[8192];
        size_t n;

        n = (size_t) snprintf(text, sizeof(text), "{\"namespace\": \"" NS "\",\n \"rules\": [\n");
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                n += (size_t) snprintf(text + n, sizeof(text) - n, "  %s%s\n", rules[i],
                                       i + 1 < ELEMENTSOF(rules) ? "," : "");
        n += (size_t) snprintf(text + n, sizeof(text) - n, "]}\n");

        ck_assert_int_eq(mbus_policy_new(&p, scope, BROKER_UID), 0);
        if (mbus_policy_add_text(p, "/test/" NS ".json", text, n, &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);

        n = (size_t) snprintf(text, sizeof(text), "{\"maps\": [\n");
        for (size_t i = 0; i < ELEMENTSOF(maps); i++)
                n += (size_t) snprintf(text + n, sizeof(text) - n, "  %s%s\n", maps[i],
                                       i + 1 < ELEMENTSOF(maps) ? "," : "");
        n += (size_t) snprintf(text + n, sizeof(text) - n, "]}\n");
        if (mbus_policy_add_text(p, "/test/@identities.json", text, n, &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        return p;
}

static const gid_t groups_200_201[] = { 200, 201 };
static const gid_t groups_300[] = { 300 };
static const char *const sans[] = { "DNS:other.example.org", "DNS:agent.example.org" };
static const char *const san_dns[] = { "DNS:node1.example.org" };
static const char *const san_dns_other[] = { "DNS:node2.example.org" };
static const char *const san_uri_same_value[] = { "URI:node1.example.org" };
static const char *const san_uri[] = { "URI:spiffe://example.org/node1" };
static const char *const san_uri_case[] = { "URI:SPIFFE://EXAMPLE.ORG/node1" };
static const char *const san_email[] = { "email:node1@example.org" };
static const char *const san_email_case[] = { "email:Node1@example.org" };
static const char *const san_ip6[] = { "IP:2001:db8::7" };
static const char *const san_ip4[] = { "IP:192.0.2.7" };

#define SANS(a) { .cert_sans = (a), .n_cert_sans = ELEMENTSOF(a) }

/* Remote addresses, filled by fill_addresses() before the cases run. */
static struct sockaddr_storage from_10_1_2_3, from_10_66_1_5, from_10_66_2_5, from_192_0_2_7, from_192_0_2_8,
        from_198_51_100_9, from_2001_db8_7, from_2001_db8_8, from_2001_db9_1, from_mapped_10_1_2_3,
        from_mapped_198_51_100_9, from_mapped_192_0_2_8;

static void fill_addresses(void) {
        static const struct {
                struct sockaddr_storage *ss;
                const char *text;
        } table[] = {
                { &from_10_1_2_3, "10.1.2.3" },
                { &from_10_66_1_5, "10.66.1.5" },
                { &from_10_66_2_5, "10.66.2.5" },
                { &from_192_0_2_7, "192.0.2.7" },
                { &from_192_0_2_8, "192.0.2.8" },
                { &from_198_51_100_9, "198.51.100.9" },
                { &from_2001_db8_7, "2001:db8::7" },
                { &from_2001_db8_8, "2001:db8::8" },
                { &from_2001_db9_1, "2001:db9::1" },
                { &from_mapped_10_1_2_3, "::ffff:10.1.2.3" },
                { &from_mapped_198_51_100_9, "::ffff:198.51.100.9" },
                { &from_mapped_192_0_2_8, "::ffff:192.0.2.8" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
                struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(4242) };

                memset(table[i].ss, 0, sizeof(*table[i].ss));
                if (inet_pton(AF_INET, table[i].text, &sin.sin_addr) == 1)
                        memcpy(table[i].ss, &sin, sizeof(sin));
                else {
                        ck_assert_int_eq(inet_pton(AF_INET6, table[i].text, &sin6.sin6_addr), 1);
                        memcpy(table[i].ss, &sin6, sizeof(sin6));
                }
        }
}

#define FROM(a) ((const struct sockaddr *) &(a))
#define NET(a) { .addr = FROM(a) }
#define CN(cn) { .cert_cn = (cn) }
static const char *const san_mapped[] = { "DNS:mapped-san.example.org" };
#define CERT_NET(cn, a) { .cert_cn = (cn), .addr = FROM(a) }

#define UNIX(u, g) { .unix = true, .uid = (u), .gid = (g) }
#define NONE (-1)

struct policy_case {
        const char *what;
        struct mbus_identity who;
        enum mbus_policy_action action;
        const char *member;
        long long owner_uid;            /* NONE: no owner */
        bool allow;
        unsigned line;                  /* deciding rule, 0: the default */
};

static const struct policy_case system_cases[] = {
        { "a named user may own", UNIX(1000, 1000), MBUS_POLICY_OWN, NULL, NONE, true, 3 },
        { "others may not own by the default", UNIX(1005, 1005), MBUS_POLICY_OWN, NULL, NONE, false, 0 },
        { "a group member may call any member (primary group)", UNIX(1005, 100), MBUS_POLICY_CALL, "Anything",
          NONE, true, 4 },
        { "everyone may call a named member", UNIX(1005, 1005), MBUS_POLICY_CALL, "GetState", NONE, true, 5 },
        { "a named member deny beats a user allow of *", UNIX(1001, 1001), MBUS_POLICY_CALL, "Reboot", NONE,
          false, 6 },
        { "a named member deny applies to root too", UNIX(0, 0), MBUS_POLICY_CALL, "Reboot", NONE, false, 6 },
        { "a user allow of * covers other members", UNIX(1001, 1001), MBUS_POLICY_CALL, "Other", NONE, true, 7 },
        { "deny beats allow at equal specificity (user)", UNIX(1002, 1002), MBUS_POLICY_CALL, "Foo", NONE,
          false, 9 },
        { "deny beats allow at equal specificity (groups)",
          { .unix = true, .uid = 1005, .gid = 1005, .groups = groups_200_201, .n_groups = 2 },
          MBUS_POLICY_CALL, "Bar", NONE, false, 11 },
        { "a supplementary group matches",
          { .unix = true, .uid = 1005, .gid = 1005, .groups = groups_200_201, .n_groups = 1 },
          MBUS_POLICY_CALL, "Bar", NONE, true, 10 },
        { "the default lets the owner's uid call", UNIX(1006, 1006), MBUS_POLICY_CALL, "Other", 1006, true, 0 },
        { "the default refuses other uids", UNIX(1006, 1006), MBUS_POLICY_CALL, "Other", 1007, false, 0 },
        { "the default refuses without an owner", UNIX(1006, 1006), MBUS_POLICY_CALL, "Other", NONE, false, 0 },
        { "the default lets root call", UNIX(0, 0), MBUS_POLICY_CALL, "Other", NONE, true, 0 },
        { "a deny of * for everyone", UNIX(0, 0), MBUS_POLICY_SUBSCRIBE, "Changed", 0, false, 12 },
        { "a more specific allow beats a less specific deny (user)", UNIX(1003, 1003), MBUS_POLICY_SUBSCRIBE,
          "Changed", NONE, true, 13 },
        { "a named member with a group beats a user with *",
          { .unix = true, .uid = 1005, .gid = 1005, .groups = groups_300, .n_groups = 1 },
          MBUS_POLICY_SUBSCRIBE, "Changed", NONE, true, 14 },
        { "a group rule does not match a peer outside the group", UNIX(1005, 1005), MBUS_POLICY_SUBSCRIBE,
          "Changed", NONE, false, 12 },
        { "@broker is the broker's uid", UNIX(BROKER_UID, 1), MBUS_POLICY_SEND, "Refresh", NONE, true, 15 },
        { "@broker is no one else", UNIX(1005, 1005), MBUS_POLICY_SEND, "Refresh", NONE, false, 0 },
        { "the default lets the owner send", UNIX(1005, 1005), MBUS_POLICY_SEND, "Refresh", 1005, true, 0 },
        { "a certificate CN", { .cert_cn = "monitor.example.org" }, MBUS_POLICY_CALL, "Cert", NONE, true, 16 },
        { "a certificate SAN", { .cert_sans = sans, .n_cert_sans = 2 }, MBUS_POLICY_CALL, "Cert", NONE, true, 17 },
        { "a certificate fingerprint", { .cert_fingerprint = FP }, MBUS_POLICY_CALL, "Cert", NONE, true, 18 },
        { "another certificate", { .cert_cn = "intruder.example.org" }, MBUS_POLICY_CALL, "Cert", NONE, false, 0 },
        { "user=* covers certificate peers", { .cert_cn = "intruder.example.org" }, MBUS_POLICY_CALL, "GetState",
          NONE, true, 5 },
        { "uid rules never match certificate peers", { .cert_cn = "x" }, MBUS_POLICY_CALL, "Other", NONE, false, 0 },
        { "the first of equal rules is named", UNIX(1005, 1005), MBUS_POLICY_CALL, "Twice", NONE, true, 19 },
        { "an explicit deny of root's own", UNIX(0, 0), MBUS_POLICY_OWN, NULL, NONE, false, 21 },
        { "a SAN without a type matches a DNS SAN", SANS(san_dns), MBUS_POLICY_CALL, "AnyType", NONE, true, 22 },
        { "a SAN without a type matches a URI SAN", SANS(san_uri_same_value), MBUS_POLICY_CALL, "AnyType", NONE,
          true, 22 },
        { "a SAN without a type needs the value", SANS(san_dns_other), MBUS_POLICY_CALL, "AnyType", NONE, false, 0 },
        { "a DNS SAN matches in any case", SANS(san_dns), MBUS_POLICY_CALL, "Dns", NONE, true, 23 },
        { "a DNS SAN does not match a URI of the same value", SANS(san_uri_same_value), MBUS_POLICY_CALL, "Dns",
          NONE, false, 0 },
        { "a URI SAN", SANS(san_uri), MBUS_POLICY_CALL, "Uri", NONE, true, 24 },
        { "a URI SAN compares exactly", SANS(san_uri_case), MBUS_POLICY_CALL, "Uri", NONE, false, 0 },
        { "an email SAN", SANS(san_email), MBUS_POLICY_CALL, "Email", NONE, true, 25 },
        { "an email SAN compares exactly", SANS(san_email_case), MBUS_POLICY_CALL, "Email", NONE, false, 0 },
        { "an IP SAN by value, not spelling", SANS(san_ip6), MBUS_POLICY_CALL, "Ip", NONE, true, 26 },
        { "an IP SAN of another address", SANS(san_ip4), MBUS_POLICY_CALL, "Ip", NONE, false, 0 },
        { "UNIX peers never match a SAN rule", UNIX(1005, 1005), MBUS_POLICY_CALL, "AnyType", NONE, false, 0 },
        { "an IPv4 address in the range", NET(from_10_1_2_3), MBUS_POLICY_CALL, "Net", NONE, true, 27 },
        { "an IPv6 address in the range", NET(from_2001_db8_7), MBUS_POLICY_CALL, "Net", NONE, true, 28 },
        { "an IPv4 address out of the range", NET(from_192_0_2_8), MBUS_POLICY_CALL, "Net", NONE, false, 0 },
        { "an IPv6 address out of the range", NET(from_2001_db9_1), MBUS_POLICY_CALL, "Net", NONE, false, 0 },
        { "an IPv4-mapped peer matches an IPv4 rule", NET(from_mapped_10_1_2_3), MBUS_POLICY_CALL, "Net", NONE,
          true, 27 },
        { "an IPv4-mapped peer out of the IPv4 range", NET(from_mapped_192_0_2_8), MBUS_POLICY_CALL, "Net", NONE,
          false, 0 },
        { "one IPv4 address is a /32", NET(from_192_0_2_7), MBUS_POLICY_CALL, "Single", NONE, true, 35 },
        { "one IPv4 address is no more", NET(from_192_0_2_8), MBUS_POLICY_CALL, "Single", NONE, false, 0 },
        { "one IPv6 address is a /128", NET(from_2001_db8_7), MBUS_POLICY_CALL, "Single", NONE, true, 36 },
        { "one IPv6 address is no more", NET(from_2001_db8_8), MBUS_POLICY_CALL, "Single", NONE, false, 0 },
        { "an IPv4-mapped rule covers an IPv4 peer", NET(from_198_51_100_9), MBUS_POLICY_CALL, "Mapped", NONE,
          true, 37 },
        { "an IPv4-mapped rule covers an IPv4-mapped peer", NET(from_mapped_198_51_100_9), MBUS_POLICY_CALL,
          "Mapped", NONE, true, 37 },
        { "UNIX peers never match an address rule", UNIX(1005, 1005), MBUS_POLICY_CALL, "Net", NONE, false, 0 },
        { "a certificate alone beats an address alone", CERT_NET("node1", from_10_1_2_3), MBUS_POLICY_CALL,
          "Combo", NONE, true, 30 },
        { "another certificate from the range gets the address rule", CERT_NET("node2", from_10_66_2_5),
          MBUS_POLICY_CALL, "Combo", NONE, false, 29 },
        { "a certificate with an address beats the certificate alone", CERT_NET("node1", from_10_66_2_5),
          MBUS_POLICY_CALL, "Combo2", NONE, true, 32 },
        { "a combined rule needs the address too", CERT_NET("node1", from_192_0_2_8), MBUS_POLICY_CALL, "Combo2",
          NONE, false, 31 },
        { "a longer prefix does not rank higher: deny wins the tie", CERT_NET("node1", from_10_66_1_5),
          MBUS_POLICY_CALL, "Combo3", NONE, false, 33 },
        { "a combined rule with a member of *", CERT_NET("node1", from_10_1_2_3), MBUS_POLICY_CALL, "Other", NONE,
          true, 38 },
        { "a combined rule needs the certificate too", NET(from_10_1_2_3), MBUS_POLICY_CALL, "Other", NONE, false,
          0 },
        { "a combined rule out of its range", CERT_NET("node1", from_192_0_2_8), MBUS_POLICY_CALL, "Other", NONE,
          false, 0 },
        { "a combined rule never matches a UNIX peer", UNIX(1005, 1005), MBUS_POLICY_CALL, "Combo2", NONE, false,
          0 },
        { "a named member outranks a certificate with an address", CERT_NET("node1", from_10_1_2_3),
          MBUS_POLICY_CALL, "Reboot", NONE, false, 6 },
        { "a mapping makes a user rule apply", CN("mapped.example.org"), MBUS_POLICY_CALL, "Mapped1", NONE, true,
          39 },
        { "a mapping makes a group rule apply (the user's primary group)", CN("mapped.example.org"),
          MBUS_POLICY_CALL, "Mapped2", NONE, true, 40 },
        { "a mapping's group= is the primary group", CN("grouped.example.org"), MBUS_POLICY_CALL, "Mapped3", NONE,
          true, 41 },
        { "a mapping without group= brings no other group", CN("mapped.example.org"), MBUS_POLICY_CALL, "Mapped3",
          NONE, false, 0 },
        { "no mapping: no user rule", CN("unmapped.example.org"), MBUS_POLICY_CALL, "Mapped1", NONE, false, 0 },
        { "no mapping: no group rule", CN("unmapped.example.org"), MBUS_POLICY_CALL, "Mapped2", NONE, false, 0 },
        { "a UNIX peer is never mapped", { .unix = true, .uid = 1005, .gid = 1005, .cert_cn = "mapped.example.org" },
          MBUS_POLICY_CALL, "Mapped1", NONE, false, 0 },
        { "a SAN mapped to root meets root's rules", SANS(san_mapped), MBUS_POLICY_OWN, NULL, NONE, false, 21 },
        { "a SAN mapped to root gets root's defaults", SANS(san_mapped), MBUS_POLICY_CALL, "Other", NONE, true, 0 },
        { "a mapped peer is the owner's uid by default", CN("mapped.example.org"), MBUS_POLICY_CALL, "Other", 1,
          true, 0 },
        { "a mapped peer of another uid than the owner's", CN("mapped.example.org"), MBUS_POLICY_CALL, "Other",
          1006, false, 0 },
        { "an unmapped certificate is no uid, not even -1", CN("unmapped.example.org"), MBUS_POLICY_CALL, "Other",
          (long long) (uid_t) -1, false, 0 },
        { "a fingerprint mapping beats a CN mapping", { .cert_cn = "both.example.org", .cert_fingerprint = FP2 },
          MBUS_POLICY_CALL, "Other", NONE, true, 0 },
        { "the CN mapping alone", CN("both.example.org"), MBUS_POLICY_CALL, "Other", NONE, false, 0 },
        { "a mapped user rule ties a certificate rule: deny wins", CN("mapped.example.org"), MBUS_POLICY_CALL,
          "Tie", NONE, false, 42 },
        { "a mapped user rule beats an address rule", CERT_NET("mapped.example.org", from_10_1_2_3),
          MBUS_POLICY_CALL, "UserVsAddr", NONE, true, 44 },
        { "a mapped group rule ties an address rule: deny wins", CERT_NET("mapped.example.org", from_10_1_2_3),
          MBUS_POLICY_CALL, "GroupVsAddr", NONE, false, 47 },
};

static const struct policy_case user_cases[] = {
        { "the broker's uid may own", UNIX(BROKER_UID, 1), MBUS_POLICY_OWN, NULL, NONE, true, 0 },
        { "root is another uid", UNIX(0, 0), MBUS_POLICY_OWN, NULL, NONE, false, 21 },
        { "another uid may not own", UNIX(1005, 1005), MBUS_POLICY_OWN, NULL, NONE, false, 0 },
        { "a rule still allows", UNIX(1000, 1000), MBUS_POLICY_OWN, NULL, NONE, true, 3 },
        { "the broker's uid may call", UNIX(BROKER_UID, 1), MBUS_POLICY_CALL, "Other", NONE, true, 0 },
        { "another uid may not call, even the owner's", UNIX(1005, 1005), MBUS_POLICY_CALL, "Other", 1005, false, 0 },
        { "a rule denies the broker's uid too", UNIX(BROKER_UID, 1), MBUS_POLICY_CALL, "Reboot", NONE, false, 6 },
        { "certificate peers get nothing by default", { .cert_cn = "x" }, MBUS_POLICY_SEND, "Refresh", NONE,
          false, 0 },
        { "a certificate mapped to the broker's uid is @broker", { .cert_fingerprint = FP3 },
          MBUS_POLICY_SEND, "Refresh", NONE, true, 15 },
        { "a certificate mapped to the broker's uid gets the default", { .cert_fingerprint = FP3 },
          MBUS_POLICY_CALL, "Other", NONE, true, 0 },
        { "a certificate mapped to another uid does not", CN("mapped.example.org"), MBUS_POLICY_SEND, "Refresh",
          NONE, false, 0 },
};

static void run_cases(enum mbus_policy_scope scope, const struct policy_case *cases, size_t n) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = make_policy(scope);

        fill_addresses();
        for (size_t i = 0; i < n; i++) {
                const struct policy_case *c = &cases[i];
                struct mbus_policy_decision d = {};
                uid_t owner = (uid_t) c->owner_uid;
                char buf[512];
                int r;

                r = mbus_policy_check(p, &c->who, c->action, NS, c->member, c->owner_uid == NONE ? NULL : &owner, &d);
                ck_assert_msg((r == 0) == c->allow && (r == 0 || r == -EACCES) && d.allow == c->allow,
                              "%s: got %s (%s)", c->what, r == 0 ? "allow" : "deny",
                              mbus_policy_decision_describe(&d, buf, sizeof(buf)));
                ck_assert_msg((d.rule ? d.rule->line : 0) == c->line, "%s: decided by line %u, expected %u (%s)",
                              c->what, d.rule ? d.rule->line : 0, c->line,
                              mbus_policy_decision_describe(&d, buf, sizeof(buf)));
                ck_assert_msg(d.rule || d.default_text, "%s: no reason given", c->what);
        }
}

START_TEST(test_system_scope_precedence) {
        run_cases(MBUS_POLICY_SCOPE_SYSTEM, system_cases, ELEMENTSOF(system_cases));
}
END_TEST

START_TEST(test_user_scope_precedence) {
        run_cases(MBUS_POLICY_SCOPE_USER, user_cases, ELEMENTSOF(user_cases));
}
END_TEST

START_TEST(test_namespace_without_rules_uses_the_defaults) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *sys = NULL, *usr = NULL;
        struct mbus_identity root = UNIX(0, 0), alice = UNIX(1000, 1000), me = UNIX(BROKER_UID, 1);
        struct mbus_policy_decision d;
        uid_t owner = 1000;

        ck_assert_int_eq(mbus_policy_new(&sys, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        ck_assert_int_eq(mbus_policy_new(&usr, MBUS_POLICY_SCOPE_USER, BROKER_UID), 0);

        ck_assert_int_eq(mbus_policy_check(sys, &root, MBUS_POLICY_OWN, "org.x.Y", NULL, NULL, &d), 0);
        ck_assert_ptr_null(d.rule);
        ck_assert_int_eq(mbus_policy_check(sys, &alice, MBUS_POLICY_OWN, "org.x.Y", NULL, NULL, &d), -EACCES);
        ck_assert_int_eq(mbus_policy_check(sys, &alice, MBUS_POLICY_CALL, "org.x.Y", "M", &owner, &d), 0);
        ck_assert_int_eq(mbus_policy_check(sys, &alice, MBUS_POLICY_SUBSCRIBE, "org.x.Y", "E", &owner, &d), 0);
        owner = 1001;
        ck_assert_int_eq(mbus_policy_check(sys, &alice, MBUS_POLICY_SUBSCRIBE, "org.x.Y", "E", &owner, &d), -EACCES);
        ck_assert_int_eq(mbus_policy_check(sys, &root, MBUS_POLICY_SUBSCRIBE, "org.x.Y", "E", &owner, &d), 0);

        ck_assert_int_eq(mbus_policy_check(usr, &me, MBUS_POLICY_OWN, "org.x.Y", NULL, NULL, &d), 0);
        ck_assert_int_eq(mbus_policy_check(usr, &root, MBUS_POLICY_CALL, "org.x.Y", "M", NULL, &d), -EACCES);
        ck_assert_int_eq(mbus_policy_check(usr, &alice, MBUS_POLICY_CALL, "org.x.Y", "M", NULL, &d), -EACCES);
        ck_assert_ptr_nonnull(d.default_text);
        ck_assert(!mbus_policy_has_namespace(usr, "org.x.Y"));
}
END_TEST

START_TEST(test_decision_names_rule_file_and_line) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = make_policy(MBUS_POLICY_SCOPE_SYSTEM);
        struct mbus_identity alice = UNIX(1005, 1005);
        struct mbus_policy_decision d;
        char buf[512];

        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_CALL, NS, "Reboot", NULL, &d), -EACCES);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "rule 'deny call Reboot user=*' at /test/" NS ".json:6");
        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_OWN, NS, NULL, NULL, &d), -EACCES);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "no rule matched; the system scope's default lets only root own a namespace");
        ck_assert(mbus_policy_has_namespace(p, NS));
        ck_assert_uint_eq(mbus_policy_n_namespaces(p), 1);
}
END_TEST

struct cidr_case {
        const char *text;
        int r;
        int family;
        unsigned prefixlen;
};

static const struct cidr_case cidr_cases[] = {
        { "192.0.2.0/24", 0, AF_INET, 24 },
        { "192.0.2.7", 0, AF_INET, 32 },
        { "0.0.0.0/0", 0, AF_INET, 0 },
        { "2001:db8::/32", 0, AF_INET6, 32 },
        { "2001:db8::7", 0, AF_INET6, 128 },
        { "::/0", 0, AF_INET6, 0 },
        { "::ffff:192.0.2.0/120", 0, AF_INET, 24 },
        { "::ffff:192.0.2.7", 0, AF_INET, 32 },
        { "::ffff:0:0/96", 0, AF_INET, 0 },
        { "192.0.2.0/33", -ERANGE, 0, 0 },
        { "2001:db8::/129", -ERANGE, 0, 0 },
        { "192.0.2.1/24", -EDOM, 0, 0 },
        { "2001:db8::1/32", -EDOM, 0, 0 },
        { "192.0.2.0/", -EINVAL, 0, 0 },
        { "192.0.2.0/+8", -EINVAL, 0, 0 },
        { "192.0.2.0/ 8", -EINVAL, 0, 0 },
        { "/8", -EINVAL, 0, 0 },
        { "", -EINVAL, 0, 0 },
        { "node1.example.org", -EINVAL, 0, 0 },
        { "192.0.2", -EINVAL, 0, 0 },
        { "fe80::1%eth0", -EINVAL, 0, 0 },
        { "10.0.0.0/0008", -EINVAL, 0, 0 },
};

START_TEST(test_cidr_parse) {
        for (size_t i = 0; i < ELEMENTSOF(cidr_cases); i++) {
                const struct cidr_case *c = &cidr_cases[i];
                struct mbus_policy_cidr cidr = { .family = -1 };
                int r = mbus_policy_cidr_parse(c->text, &cidr);

                ck_assert_msg(r == c->r, "'%s': got %d, expected %d", c->text, r, c->r);
                if (r < 0) {
                        ck_assert_int_eq(cidr.family, -1);      /* untouched */
                        continue;
                }
                ck_assert_msg(cidr.family == c->family && cidr.prefixlen == c->prefixlen, "'%s': family %d /%u",
                              c->text, cidr.family, cidr.prefixlen);
        }
}
END_TEST

START_TEST(test_decision_names_the_mapping) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = make_policy(MBUS_POLICY_SCOPE_SYSTEM);
        struct mbus_identity mapped = CN("mapped.example.org"), root = SANS(san_mapped);
        struct mbus_identity grouped = CN("grouped.example.org"), fp = { .cert_fingerprint = FP2 };
        struct mbus_policy_decision d;
        char buf[512];

        ck_assert_int_eq(mbus_policy_check(p, &mapped, MBUS_POLICY_CALL, NS, "Mapped1", NULL, &d), 0);
        ck_assert_ptr_nonnull(d.map);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "rule 'allow call Mapped1 user=daemon' at /test/" NS ".json:39 (certificate "
                         "CN=mapped.example.org mapped to user daemon by /test/@identities.json:2)");
        ck_assert_int_eq(mbus_policy_check(p, &grouped, MBUS_POLICY_CALL, NS, "Mapped3", NULL, &d), 0);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "rule 'allow call Mapped3 group=adm' at /test/" NS ".json:41 (certificate "
                         "CN=grouped.example.org mapped to user daemon and group adm by /test/@identities.json:7)");
        ck_assert_int_eq(mbus_policy_check(p, &root, MBUS_POLICY_CALL, NS, "Other", NULL, &d), 0);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "no rule matched; the system scope's default allows only root and the namespace owner's "
                         "uid (certificate SAN DNS:mapped-san.example.org mapped to user root by "
                         "/test/@identities.json:3)");
        ck_assert_int_eq(mbus_policy_check(p, &fp, MBUS_POLICY_CALL, NS, "Other", NULL, &d), 0);
        ck_assert_msg(strstr(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                             "(certificate SHA-256 " FP2 " mapped to user root by /test/@identities.json:6)"), "%s", buf);
        /* A rule that matched without the mapping does not name it. */
        ck_assert_int_eq(mbus_policy_check(p, &mapped, MBUS_POLICY_CALL, NS, "GetState", NULL, &d), 0);
        ck_assert_ptr_null(d.map);
        ck_assert_str_eq(mbus_policy_decision_describe(&d, buf, sizeof(buf)),
                         "rule 'allow call GetState user=*' at /test/" NS ".json:5");
        ck_assert_ptr_eq(mbus_policy_find_map(p, &fp), &mbus_policy_get_maps(p, NULL, NULL)[4]);
}
END_TEST

START_TEST(test_action_and_scope_names) {
        for (int a = 0; a < _MBUS_POLICY_ACTION_MAX; a++)
                ck_assert_int_eq(mbus_policy_action_from_string(mbus_policy_action_to_string(a)), a);
        ck_assert_int_eq(mbus_policy_action_from_string("fly"), _MBUS_POLICY_ACTION_INVALID);
        ck_assert_int_eq(mbus_policy_scope_from_string("system"), MBUS_POLICY_SCOPE_SYSTEM);
        ck_assert_int_eq(mbus_policy_scope_from_string("user"), MBUS_POLICY_SCOPE_USER);
        ck_assert_int_eq(mbus_policy_scope_from_string("world"), _MBUS_POLICY_SCOPE_INVALID);
}
END_TEST

static Suite *policy_suite(void) {
        Suite *s = suite_create("policy");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_system_scope_precedence);
        tcase_add_test(tc, test_user_scope_precedence);
        tcase_add_test(tc, test_namespace_without_rules_uses_the_defaults);
        tcase_add_test(tc, test_decision_names_rule_file_and_line);
        tcase_add_test(tc, test_action_and_scope_names);
        tcase_add_test(tc, test_cidr_parse);
        tcase_add_test(tc, test_decision_names_the_mapping);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(policy_suite)
