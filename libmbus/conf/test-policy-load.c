/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the policy loaders (policy-load.c, policy-xml.c, policy-json.c) and the
 * directory reader (confdir.c): every construct and every error of both forms, XML and JSON
 * giving the same rules, directories overriding each other, and the files mbus ships.
 */

#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/confdir.h"
#include "conf/idl.h"
#include "conf/policy.h"
#include "conf/test-files.h"
#include "util/macro.h"
#include "util/test-util.h"

#ifndef MBUS_POLICY_SOURCE_DIR
#error "MBUS_POLICY_SOURCE_DIR must point at the policy/ directory of the source tree"
#endif

#define FP64 "3af29c11045b77e09d42aa136fc81e55900b3d7ac4e92861f50c8bd346a719e2"
#define FP64C "3A:F2:9C:11:04:5B:77:E0:9D:42:AA:13:6F:C8:1E:55:90:0B:3D:7A:C4:E9:28:61:F5:0C:8B:D3:46:A7:19:E2"

static void make_dir(char *buf, size_t size) {
        (void) snprintf(buf, size, "/tmp/mbus-test-policy.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* --- every construct, both forms ------------------------------------------------------------- */

static const char full_xml[] =
        "<?xml version=\"1.0\"?>\n"                                                     /* 1 */
        "<!-- a comment -->\n"                                                          /* 2 */
        "<policy namespace=\"org.example.Network\">\n"                                  /* 3 */
        "  <allow own=\"true\" user=\"root\"/>\n"                                       /* 4 */
        "  <allow call=\"*\" group=\"root\"/>\n"                                        /* 5 */
        "  <allow call=\"GetState\" user=\"*\"/>\n"                                     /* 6 */
        "  <deny call=\"Reboot\" user=\"*\"></deny>\n"                                  /* 7 */
        "  <allow subscribe=\"*\" user=\"1000\"/>\n"                                    /* 8 */
        "  <allow send=\"Refresh\" user=\"@broker\"/>\n"                                /* 9 */
        "  <allow call=\"*\" cert-cn=\"monitor.example.org\"/>\n"                       /* 10 */
        "  <deny subscribe=\"Secret\" cert-san=\"dns:agent.example.org\"/>\n"           /* 11 */
        "  <allow call=\"Stats\" cert-fingerprint=\"3A:F2:9C:11:04:5B:77:E0:9D:42:AA:13:6F:C8:1E:55:"
        "90:0B:3D:7A:C4:E9:28:61:F5:0C:8B:D3:46:A7:19:E2\"/>\n"                        /* 12 */
        "\n"                                                                            /* 13 */
        "  <deny own=\"true\" group=\"4\"/>\n"                                          /* 14 */
        "  <!-- addresses -->\n"                                                        /* 15 */
        "  <allow call=\"*\" address=\"10.0.0.0/8\"/>\n"                                /* 16 */
        "  <deny call=\"Reboot\" address=\"2001:db8::/32\" cert-cn=\"node1\"/>\n"       /* 17 */
        "</policy>\n";

static const char full_json[] =
        "{\"namespace\": \"org.example.Network\",\n"                                    /* 1 */
        " \"rules\": [\n"                                                               /* 2 */
        "\n"                                                                            /* 3 */
        "  {\"allow\": \"own\", \"user\": \"root\"},\n"                                 /* 4 */
        "  {\"allow\": \"call\", \"member\": \"*\", \"group\": \"root\"},\n"            /* 5 */
        "  {\"allow\": \"call\", \"member\": \"GetState\", \"user\": \"*\"},\n"         /* 6 */
        "  {\"deny\": \"call\", \"member\": \"Reboot\", \"user\": \"*\"},\n"            /* 7 */
        "  {\"allow\": \"subscribe\", \"user\": 1000},\n"                               /* 8 */
        "  {\"member\": \"Refresh\", \"allow\": \"send\", \"user\": \"@broker\"},\n"    /* 9 */
        "  {\"allow\": \"call\", \"cert-cn\": \"monitor.example.org\"},\n"              /* 10 */
        "  {\"deny\": \"subscribe\", \"member\": \"Secret\", \"cert-san\": \"dns:agent.example.org\"},\n" /* 11 */
        "  {\"allow\": \"call\", \"member\": \"Stats\",\n"                              /* 12 */
        "   \"cert-fingerprint\": \"3af29c11045b77e09d42aa136fc81e55900b3d7ac4e92861f50c8bd346a719e2\"},\n"
        "  {\"deny\": \"own\",\n"                                                       /* 14 */
        "   \"group\": 4},\n"
        "  {\"allow\": \"call\", \"address\": \"10.0.0.0/8\"},\n"                       /* 16 */
        "  {\"deny\": \"call\", \"member\": \"Reboot\", \"cert-cn\": \"node1\", \"address\": \"2001:db8::/32\"}\n"
        "]}\n";

#define XP_SAN                                                                  \
        "<policy namespace=\"org.example.Net\">\n"                                   \
        "  <allow call=\"*\" cert-san=\"dns:node1.example.org\"/>\n"                 \
        "  <allow call=\"*\" cert-san=\"Uri:spiffe://example.org/node1\"/>\n"        \
        "  <allow call=\"*\" cert-san=\"EMAIL:node1@example.org\"/>\n"               \
        "  <allow call=\"*\" cert-san=\"ip:2001:DB8:0:0::7\"/>\n"                    \
        "  <allow call=\"*\" cert-san=\"IP:192.0.2.7\"/>\n"                          \
        "  <allow call=\"*\" cert-san=\"node1.example.org\"/>\n"                     \
        "  <allow call=\"*\" cert-san=\"http://example.org/x\"/>\n"                  \
        "</policy>\n"

static struct mbus_policy *load_text(const char *path, const char *text) {
        struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};

        ck_assert_int_eq(mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        if (mbus_policy_add_text(p, path, text, strlen(text), &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        return p;
}

START_TEST(test_xml_every_construct) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = load_text("/x/org.example.Network.xml", full_xml);
        const struct mbus_policy_rule *r;
        const char *path;
        size_t n;

        r = mbus_policy_get_rules(p, "org.example.Network", &n, &path);
        ck_assert_uint_eq(n, 12);
        ck_assert_str_eq(path, "/x/org.example.Network.xml");

        ck_assert(r[0].allow && r[0].action == MBUS_POLICY_OWN && r[0].kind == MBUS_PRINCIPAL_USER && r[0].uid == 0);
        ck_assert_ptr_null(r[0].member);
        ck_assert_str_eq(r[0].text, "allow own user=root");
        ck_assert_uint_eq(r[0].line, 4);
        ck_assert(r[1].kind == MBUS_PRINCIPAL_GROUP && r[1].gid == 0 && !r[1].member);
        ck_assert_str_eq(r[1].text, "allow call * group=root");
        ck_assert(r[2].kind == MBUS_PRINCIPAL_ANY);
        ck_assert_str_eq(r[2].member, "GetState");
        ck_assert(!r[3].allow && r[3].action == MBUS_POLICY_CALL);
        ck_assert_str_eq(r[3].text, "deny call Reboot user=*");
        ck_assert_uint_eq(r[3].line, 7);
        ck_assert(r[4].action == MBUS_POLICY_SUBSCRIBE && r[4].kind == MBUS_PRINCIPAL_USER && r[4].uid == 1000);
        ck_assert(r[5].action == MBUS_POLICY_SEND && r[5].kind == MBUS_PRINCIPAL_BROKER_USER);
        ck_assert(r[6].kind == MBUS_PRINCIPAL_CERT_CN);
        ck_assert_str_eq(r[6].value, "monitor.example.org");
        ck_assert(r[7].kind == MBUS_PRINCIPAL_CERT_SAN && !r[7].allow);
        ck_assert_str_eq(r[7].value, "DNS:agent.example.org");
        ck_assert_str_eq(r[7].text, "deny subscribe Secret cert-san=DNS:agent.example.org");
        ck_assert(r[8].kind == MBUS_PRINCIPAL_CERT_FINGERPRINT);
        ck_assert_str_eq(r[8].value, "3af29c11045b77e09d42aa136fc81e55900b3d7ac4e92861f50c8bd346a719e2");
        ck_assert_uint_eq(r[8].line, 12);
        ck_assert(r[9].kind == MBUS_PRINCIPAL_GROUP && r[9].gid == 4 && !r[9].allow);
        ck_assert_int_eq(r[9].address.family, 0);
        ck_assert(r[10].kind == MBUS_PRINCIPAL_ADDRESS && r[10].address.family == AF_INET &&
                  r[10].address.prefixlen == 8 && r[10].address.addr[0] == 10);
        ck_assert_str_eq(r[10].text, "allow call * address=10.0.0.0/8");
        ck_assert(r[11].kind == MBUS_PRINCIPAL_CERT_CN && r[11].address.family == AF_INET6 &&
                  r[11].address.prefixlen == 32);
        ck_assert_str_eq(r[11].value, "node1");
        ck_assert_str_eq(r[11].text, "deny call Reboot cert-cn=node1 address=2001:db8::/32");
        ck_assert_uint_eq(r[11].line, 17);
}
END_TEST

START_TEST(test_xml_and_json_give_identical_rules) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *x = load_text("/x/org.example.Network.xml", full_xml);
        _cleanup_(mbus_policy_freep) struct mbus_policy *j = load_text("/j/org.example.Network.json", full_json);
        const struct mbus_policy_rule *a, *b;
        size_t na, nb;

        a = mbus_policy_get_rules(x, "org.example.Network", &na, NULL);
        b = mbus_policy_get_rules(j, "org.example.Network", &nb, NULL);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
                ck_assert_msg(a[i].allow == b[i].allow && a[i].action == b[i].action && a[i].kind == b[i].kind,
                              "rule %zu differs", i);
                ck_assert_uint_eq(a[i].uid, b[i].uid);
                ck_assert_uint_eq(a[i].gid, b[i].gid);
                ck_assert_uint_eq(a[i].line, b[i].line);
                ck_assert(!a[i].member == !b[i].member);
                if (a[i].member)
                        ck_assert_str_eq(a[i].member, b[i].member);
                ck_assert(memcmp(&a[i].address, &b[i].address, sizeof(a[i].address)) == 0);
                ck_assert(!a[i].value == !b[i].value);
                if (a[i].value)
                        ck_assert_str_eq(a[i].value, b[i].value);
                /* The text shows what the file says: only JSON's bare ids differ in quoting. */
                ck_assert_str_eq(a[i].text, b[i].text);
        }
}
END_TEST

START_TEST(test_cert_san_types_are_normalized) {
        static const char text[] = XP_SAN;
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = load_text("/x/org.example.Net.xml", text);
        static const char *const want[] = {
                "DNS:node1.example.org", "URI:spiffe://example.org/node1", "email:node1@example.org",
                "IP:2001:db8::7", "IP:192.0.2.7", "node1.example.org", "http://example.org/x",
        };
        const struct mbus_policy_rule *r;
        size_t n;

        r = mbus_policy_get_rules(p, "org.example.Net", &n, NULL);
        ck_assert_uint_eq(n, ELEMENTSOF(want));
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(r[i].value, want[i]);
}
END_TEST

/* --- mappings -------------------------------------------------------------------------------- */

static const char identities_xml[] =
        "<?xml version=\"1.0\"?>\n"                                                     /* 1 */
        "<identities>\n"                                                                /* 2 */
        "  <map cert-cn=\"node1.example.org\" user=\"daemon\"/>\n"                      /* 3 */
        "  <map cert-san=\"uri:spiffe://example.org/node2\" user=\"root\"/>\n"          /* 4 */
        "  <!-- a comment -->\n"                                                        /* 5 */
        "  <map user=\"daemon\" group=\"adm\" cert-fingerprint=\"" FP64C "\"/>\n"        /* 6 */
        "  <map cert-cn=\"ghost\" user=\"4000000\"></map>\n"                            /* 7 */
        "</identities>\n";

static const char identities_json[] =
        "{\"maps\": [\n"                                                                /* 1 */
        "\n"                                                                            /* 2 */
        "  {\"cert-cn\": \"node1.example.org\", \"user\": \"daemon\"},\n"                /* 3 */
        "  {\"user\": \"root\", \"cert-san\": \"uri:spiffe://example.org/node2\"},\n"    /* 4 */
        "\n"                                                                            /* 5 */
        "  {\"cert-fingerprint\": \"" FP64 "\", \"user\": \"daemon\", \"group\": 4},\n"  /* 6 */
        "  {\"cert-cn\": \"ghost\", \"user\": 4000000}\n"                               /* 7 */
        "]}\n";

static bool has_gid(const struct mbus_policy_map *m, gid_t gid) {
        for (size_t i = 0; i < m->n_groups; i++)
                if (m->groups[i] == gid)
                        return true;
        return false;
}

START_TEST(test_identities_both_forms) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *x = load_text("/x/@identities.xml", identities_xml);
        _cleanup_(mbus_policy_freep) struct mbus_policy *j = load_text("/j/@identities.json", identities_json);
        const struct mbus_policy_map *a, *b;
        const char *path;
        size_t na, nb;

        a = mbus_policy_get_maps(x, &na, &path);
        b = mbus_policy_get_maps(j, &nb, NULL);
        ck_assert_str_eq(path, "/x/@identities.xml");
        ck_assert_uint_eq(na, 4);
        ck_assert_uint_eq(nb, 4);
        ck_assert_uint_eq(mbus_policy_n_namespaces(x), 0);     /* mappings are no namespace */

        ck_assert(a[0].kind == MBUS_PRINCIPAL_CERT_CN && a[0].uid == 1 && a[0].gid == 1 && has_gid(&a[0], 1));
        ck_assert_str_eq(a[0].text, "certificate CN=node1.example.org mapped to user daemon");
        ck_assert_uint_eq(a[0].line, 3);
        ck_assert(a[1].kind == MBUS_PRINCIPAL_CERT_SAN && a[1].uid == 0 && a[1].gid == 0 && has_gid(&a[1], 0));
        ck_assert_str_eq(a[1].value, "URI:spiffe://example.org/node2");
        /* group= is the primary group, as User= and Group= of a service would make it. */
        ck_assert(a[2].kind == MBUS_PRINCIPAL_CERT_FINGERPRINT && a[2].uid == 1 && a[2].gid == 4 &&
                  has_gid(&a[2], 4));
        ck_assert_str_eq(a[2].value, FP64);
        ck_assert_uint_eq(a[2].line, 6);
        /* A uid without a passwd entry has no groups. */
        ck_assert(a[3].uid == 4000000 && a[3].gid == (gid_t) -1 && a[3].n_groups == 0);
        ck_assert_uint_eq(a[3].line, 7);

        for (size_t i = 0; i < na; i++) {
                ck_assert(a[i].kind == b[i].kind && a[i].uid == b[i].uid && a[i].gid == b[i].gid);
                ck_assert_uint_eq(a[i].line, b[i].line);
                ck_assert_uint_eq(a[i].n_groups, b[i].n_groups);
                ck_assert_str_eq(a[i].value, b[i].value);
        }
}
END_TEST

START_TEST(test_identities_admin_file_replaces_vendor_file) {
        char vendor[64], admin[64];
        const char *dirs[2];
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        const struct mbus_policy_map *m;
        size_t n;

        make_dir(vendor, sizeof(vendor));
        make_dir(admin, sizeof(admin));
        write_file(vendor, "@identities.xml", "<identities>\n<map cert-cn=\"a\" user=\"root\"/>\n"
                                               "<map cert-cn=\"b\" user=\"root\"/>\n</identities>\n");
        write_file(vendor, "org.example.A.xml", "<policy namespace=\"org.example.A\">\n"
                                                 "<allow call=\"*\" user=\"daemon\"/>\n</policy>\n");
        write_file(admin, "@identities.json", "{\"maps\": [\n{\"cert-cn\": \"c\", \"user\": \"daemon\"}]}\n");
        dirs[0] = vendor;
        dirs[1] = admin;

        if (mbus_policy_load(&p, dirs, 2, MBUS_POLICY_SCOPE_SYSTEM, 0, &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        ck_assert_uint_eq(mbus_policy_n_namespaces(p), 1);
        m = mbus_policy_get_maps(p, &n, NULL);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(m[0].value, "c");
        ck_assert_uint_eq(m[0].line, 2);

        /* Both forms in one directory are an error, as for a namespace. */
        write_file(admin, "@identities.xml", "<identities/>\n");
        mbus_policy_free(TAKE_PTR(p));
        ck_assert_int_eq(mbus_policy_load(&p, dirs, 2, MBUS_POLICY_SCOPE_SYSTEM, 0, &err), -EBADMSG);
        ck_assert(strstr(err.message, "both @identities.json and @identities.xml"));
        remove_dir(vendor);
        remove_dir(admin);
}
END_TEST

/* --- every error ------------------------------------------------------------------------------- */

struct load_error {
        const char *name;               /* file name: NAMESPACE.xml/.json */
        const char *text;
        unsigned line;
        const char *message;            /* a part of the message */
};

#define NSX "org.example.Net.xml"
#define NSJ "org.example.Net.json"
#define XP(body) "<policy namespace=\"org.example.Net\">\n" body "</policy>\n"
#define IDX "@identities.xml"
#define IDJ "@identities.json"
#define IX(body) "<identities>\n" body "</identities>\n"
#define IJ(maps) "{\"maps\": [\n" maps "]}\n"
#define JP(rules) "{\"namespace\": \"org.example.Net\",\n \"rules\": [\n" rules "]}\n"

static const struct load_error load_errors[] = {
        /* XML */
        { NSX, "<policy namespace=\"org.example.Net\">\n<allow own=\"true\" user=\"root\">\n</policy>\n", 3,
          "XML syntax error" },
        { NSX, "", 1, "XML syntax error" },
        { NSX, "<namespace name=\"org.example.Net\"/>\n", 1, "root element must be <policy>" },
        { NSX, "<policy>\n</policy>\n", 1, "no namespace attribute" },
        { NSX, "<policy namespace=\"org.example.Net\" owner=\"x\"/>\n", 1, "unknown attribute 'owner' on <policy>" },
        { NSX, "<policy namespace=\"org..Net\"/>\n", 1, "invalid namespace name" },
        { NSX, XP("  <permit call=\"*\" user=\"*\"/>\n"), 2, "unknown element <permit>" },
        { NSX, XP("  <allow call=\"*\" user=\"*\"><deny/></allow>\n"), 2, "inside a rule" },
        { NSX, XP("  hello\n"), 2, "unexpected text" },
        { NSX, "<!DOCTYPE policy [<!ENTITY x \"y\">]>\n<policy namespace=\"org.example.Net\"/>\n", 1,
          "entity declarations are not allowed" },
        { NSX, XP("  <?mbus allow-everything?>\n"), 2, "processing instructions are not allowed (<?mbus ...?>)" },
        { NSX, "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"x.xsl\"?>\n<policy namespace=\"org.example.Net\"/>\n",
          2, "processing instructions are not allowed (<?xml-stylesheet ...?>)" },
        { IDX, IX("<?pi?>\n"), 2, "processing instructions are not allowed" },
        { NSX, XP("\n  <allow user=\"*\"/>\n"), 3, "has no action" },
        { NSX, XP("  <allow call=\"*\" subscribe=\"*\" user=\"*\"/>\n"), 2, "has two actions" },
        { NSX, XP("  <allow own=\"yes\" user=\"*\"/>\n"), 2, "own must be \"true\"" },
        { NSX, XP("  <allow call=\"*\"/>\n"), 2, "has no principal" },
        { NSX, XP("  <allow call=\"*\" user=\"*\" group=\"root\"/>\n"), 2, "has two principals" },
        { NSX, XP("  <allow call=\"*\" user=\"*\" member=\"X\"/>\n"), 2, "unknown attribute 'member'" },
        { NSX, XP("  <allow call=\"Get-State\" user=\"*\"/>\n"), 2, "invalid member name 'Get-State'" },
        { NSX, XP("  <allow call=\"\" user=\"*\"/>\n"), 2, "invalid member name" },
        { NSX, XP("  <allow call=\"*\" user=\"no-such-user-mbus\"/>\n"), 2, "unknown user 'no-such-user-mbus'" },
        { NSX, XP("  <allow call=\"*\" group=\"no-such-group-mbus\"/>\n"), 2, "unknown group 'no-such-group-mbus'" },
        { NSX, XP("  <allow call=\"*\" group=\"*\"/>\n"), 2, "is not a group" },
        { NSX, XP("  <allow call=\"*\" user=\"\"/>\n"), 2, "invalid value for user" },
        { NSX, XP("  <allow call=\"*\" cert-fingerprint=\"abcd\"/>\n"), 2, "invalid cert-fingerprint" },
        { NSX, XP("  <allow call=\"*\" cert-san=\"DNS:\"/>\n"), 2, "invalid cert-san 'DNS:' (nothing after the type)" },
        { NSX, XP("  <allow call=\"*\" address=\"10.0.0.0/x\"/>\n"), 2,
          "invalid address '10.0.0.0/x' (expected an IPv4 or IPv6 address with an optional /PREFIX" },
        { NSX, XP("  <allow call=\"*\" address=\"\"/>\n"), 2, "invalid address ''" },
        { NSX, XP("\n  <allow call=\"*\" address=\"10.0.0.0/33\"/>\n"), 3,
          "invalid address '10.0.0.0/33': the prefix length is at most 32 for IPv4 and 128 for IPv6" },
        { NSX, XP("  <allow call=\"*\" address=\"2001:db8::/129\"/>\n"), 2,
          "invalid address '2001:db8::/129': the prefix length is at most" },
        { NSX, XP("  <allow call=\"*\" address=\"10.1.0.0/8\"/>\n"), 2,
          "invalid address '10.1.0.0/8': bits are set past the prefix" },
        { NSX, XP("  <allow call=\"*\" address=\"10.0.0.0/8\" address=\"10.0.0.0/8\"/>\n"), 2,
          "XML syntax error: duplicate attribute" },
        { NSX, XP("  <allow call=\"*\" cert-cn=\"a\" cert-san=\"b\" address=\"10.0.0.0/8\"/>\n"), 2,
          "<allow> has two principals (cert-cn and cert-san): write one rule each" },
        { NSX, XP("  <allow call=\"*\" user=\"*\" address=\"10.0.0.0/8\"/>\n"), 2,
          "address goes alone or with one of cert-cn, cert-san or cert-fingerprint, not with user" },
        { NSX, XP("  <deny call=\"*\"/>\n"), 2,
          "<deny> has no principal (user, group, cert-cn, cert-san, cert-fingerprint or address)" },
        { "org.example.Other.xml", XP(""), 0, "must be named org.example.Net.xml" },
        /* JSON */
        { NSJ, "{\"namespace\": \"org.example.Net\",\n \"rules\": [\n  {\"allow\": \"own\" \"user\": \"root\"}]}\n", 3,
          "JSON syntax error" },
        { NSJ, "{\"namespace\": \"org.example.Net\",\n", 2, "unexpected end of file" },
        { NSJ, "{\"namespace\": \"org.example.Net\"}\n{}\n", 2, "JSON syntax error" },
        { NSJ, "[]\n", 1, "must be a JSON object" },
        { NSJ, "{\"rules\": []}\n", 1, "missing key 'namespace'" },
        { NSJ, "{\"namespace\": 7}\n", 1, "'namespace' must be a string" },
        { NSJ, "{\"namespace\": \"org.example.Net\", \"doc\": \"x\"}\n", 1, "unknown key 'doc' in the policy object" },
        { NSJ, "{\"namespace\": \"org.example.Net\", \"rules\": {}}\n", 1, "'rules' must be an array" },
        { NSJ, "{\"namespace\": \"org.example.Net\",\n\"namespace\": \"org.example.Net\"}\n", 2,
          "duplicate key 'namespace'" },
        { NSJ, JP("  {\"allow\": \"own\", \"user\": \"root\"},\n  7\n"), 4, "rules[1] must be an object" },
        { NSJ, JP("  {\"allow\": \"call\", \"deny\": \"call\", \"user\": \"*\"}\n"), 3, "both 'allow' and 'deny'" },
        { NSJ, JP("  {\"user\": \"*\"}\n"), 3, "needs 'allow' or 'deny'" },
        { NSJ, JP("  {\"allow\": \"fly\", \"user\": \"*\"}\n"), 3, "unknown action 'fly'" },
        { NSJ, JP("  {\"allow\": \"own\", \"member\": \"X\", \"user\": \"*\"}\n"), 3, "an own rule takes no member" },
        { NSJ, JP("  {\"allow\": \"call\", \"user\": \"*\", \"colour\": \"red\"}\n"), 3, "unknown key 'colour'" },
        { NSJ, JP("  {\"allow\": \"call\", \"user\": \"*\", \"group\": \"root\"}\n"), 3, "two principals" },
        { NSJ, JP("  {\"allow\": \"call\"}\n"), 3, "needs a principal" },
        { NSJ, JP("  {\"allow\": \"call\", \"user\": \"*\",\n   \"user\": \"root\"}\n"), 4, "duplicate key 'user'" },
        { NSJ, JP("  {\"allow\": \"call\", \"user\": -1}\n"), 3, "must be a name or an id" },
        { NSJ, JP("  {\"allow\": \"call\", \"user\": true}\n"), 3, "'user' must be a string" },
        { NSJ, JP("  {\"allow\": \"call\", \"member\": 3, \"user\": \"*\"}\n"), 3, "'member' must be a string" },
        { NSJ, JP("\n  {\"allow\": \"call\", \"user\": \"no-such-user-mbus\"}\n"), 4, "unknown user" },
        { NSJ, JP("  {\"allow\": \"call\", \"group\": \"no-such-group-mbus\"}\n"), 3, "unknown group" },
        { NSJ, JP("  {\"allow\": \"call\", \"cert-san\": \"email:\"}\n"), 3, "invalid cert-san 'email:'" },
        { NSJ, JP("  {\"allow\": \"call\", \"address\": \"10.0.0.300\"}\n"), 3,
          "invalid address '10.0.0.300' (expected an IPv4 or IPv6 address with an optional /PREFIX" },
        { NSJ, JP("  {\"allow\": \"call\",\n   \"address\": \"10.0.0.0/33\"}\n"), 3,
          "invalid address '10.0.0.0/33': the prefix length is at most 32 for IPv4 and 128 for IPv6" },
        { NSJ, JP("  {\"allow\": \"call\", \"address\": \"::/129\"}\n"), 3, "invalid address '::/129': the prefix" },
        { NSJ, JP("  {\"allow\": \"call\", \"address\": \"10.0.0.0/8\",\n   \"address\": \"10.0.0.0/8\"}\n"), 4,
          "duplicate key 'address'" },
        { NSJ, JP("  {\"allow\": \"call\", \"cert-cn\": \"a\", \"cert-fingerprint\": \"" FP64 "\", "
                  "\"address\": \"10.0.0.0/8\"}\n"), 3,
          "a rule has two principals ('cert-cn' and 'cert-fingerprint'): write one rule each" },
        { NSJ, JP("  {\"allow\": \"call\", \"group\": \"root\", \"address\": \"10.0.0.0/8\"}\n"), 3,
          "address goes alone or with one of cert-cn, cert-san or cert-fingerprint, not with group" },
        { NSJ, JP("  {\"allow\": \"call\", \"address\": 10}\n"), 3, "'address' must be a string, not int" },
        { NSJ, JP("  {\"allow\": \"call\", \"member\": \"X\"}\n"), 3,
          "a rule needs a principal (user, group, cert-cn, cert-san, cert-fingerprint or address)" },
        { NSJ, "{\"namespace\": \"org.example.Net\", \"rules\": [{\"allow\": \"call\", \"user\": \"a\\u0000b\"}]}\n", 1,
          "NUL character" },
        /* @identities, XML */
        { IDX, IX("<map user=\"daemon\"/>\n"), 2,
          "<map> has no certificate (cert-cn, cert-san or cert-fingerprint)" },
        { IDX, IX("\n<map cert-cn=\"node1\"/>\n"), 3, "<map> has no user" },
        { IDX, IX("<map cert-cn=\"node1\" cert-fingerprint=\"" FP64 "\" user=\"daemon\"/>\n"), 2,
          "<map> has two certificate principals (cert-cn and cert-fingerprint): write one <map> each" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"daemon\" address=\"10.0.0.0/8\"/>\n"), 2,
          "unknown attribute 'address' on <map> (expected one of cert-cn, cert-san, cert-fingerprint, and user, "
          "group)" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"daemon\" user=\"root\"/>\n"), 2, "XML syntax error: duplicate attribute" },
        { IDX, IX("<allow call=\"*\" user=\"*\"/>\n"), 2, "unknown element <allow> in <identities> (expected <map>)" },
        { IDX, IX("<map cert-cn=\"a\" user=\"root\"><map/></map>\n"), 2, "inside <map>" },
        { IDX, XP(""), 1, "unknown element <policy>: the root element of @identities.xml must be <identities>" },
        { IDX, "<identities name=\"x\"/>\n", 1, "unknown attribute 'name' on <identities>" },
        { IDX, "<!-- nothing -->\n", 2, "XML syntax error: no element found" },
        { NSX, "<identities/>\n", 1, "<identities> belongs in a file named @identities.xml" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"no-such-user-mbus\"/>\n"), 2, "unknown user 'no-such-user-mbus'" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"daemon\" group=\"no-such-group-mbus\"/>\n"), 2,
          "unknown group 'no-such-group-mbus'" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"*\"/>\n"), 2, "invalid user '*' (expected a user name or uid)" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"@broker\"/>\n"), 2, "invalid user '@broker'" },
        { IDX, IX("<map cert-cn=\"node1\" user=\"root\" group=\"*\"/>\n"), 2, "invalid group '*'" },
        { IDX, IX("<map cert-fingerprint=\"12:34\" user=\"root\"/>\n"), 2, "invalid cert-fingerprint '12:34'" },
        { IDX, IX("<map cert-san=\"DNS:n\" user=\"root\"/>\n<map cert-san=\"dns:n\" user=\"daemon\"/>\n"), 3,
          "cert-san=dns:n is mapped twice (first at line 2)" },
        /* @identities, JSON */
        { IDJ, IJ("  {\"user\": \"daemon\"}\n"), 2, "a map needs a certificate (cert-cn, cert-san or cert-fingerprint)" },
        { IDJ, IJ("  {\"cert-cn\": \"node1\"}\n"), 2, "a map needs a user" },
        { IDJ, IJ("  {\"cert-cn\": \"node1\", \"cert-san\": \"node1\", \"user\": \"daemon\"}\n"), 2,
          "a map has two certificate principals ('cert-cn' and 'cert-san'): write one map each" },
        { IDJ, IJ("  {\"cert-cn\": \"node1\", \"user\": \"daemon\", \"address\": \"10.0.0.0/8\"}\n"), 2,
          "unknown key 'address' in a map (expected one of cert-cn, cert-san, cert-fingerprint, and user, group)" },
        { IDJ, IJ("  {\"cert-cn\": \"node1\", \"user\": \"daemon\",\n   \"user\": \"root\"}\n"), 3,
          "duplicate key 'user'" },
        { IDJ, IJ("  {\"cert-cn\": \"a\", \"user\": \"root\"},\n  []\n"), 3, "maps[1] must be an object" },
        { IDJ, IJ("  {\"cert-cn\": \"a\", \"user\": -5}\n"), 2, "'user' must be a name or an id" },
        { IDJ, IJ("  {\"cert-cn\": \"a\", \"user\": \"root\", \"group\": [1]}\n"), 2, "'group' must be a string" },
        { IDJ, IJ("\n  {\"cert-cn\": \"a\", \"user\": \"no-such-user-mbus\"}\n"), 3, "unknown user 'no-such-user-mbus'" },
        { IDJ, IJ("  {\"cert-cn\": \"a\", \"user\": \"root\"},\n  {\"cert-cn\": \"a\", \"user\": 0}\n"), 3,
          "cert-cn=a is mapped twice (first at line 2)" },
        { IDJ, "{\"rules\": []}\n", 1, "unknown key 'rules' in the mappings object (expected maps)" },
        { IDJ, "{\"maps\": {}}\n", 1, "'maps' must be an array" },
        { IDJ, "[]\n", 1, "the mappings must be a JSON object" },
        { IDJ, "{\"maps\": [\n", 2, "JSON syntax error" },
};

START_TEST(test_every_error_names_file_and_line) {
        const struct load_error *e = &load_errors[_i];
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        char path[256];
        int r;

        (void) snprintf(path, sizeof(path), "/etc/mbus/policy.d/%s", e->name);
        ck_assert_int_eq(mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        r = mbus_policy_add_text(p, path, e->text, strlen(e->text), &err);
        ck_assert_msg(r == -EBADMSG, "case %d (%s): loaded (%d)", _i, e->message, r);
        ck_assert_msg(err.line == e->line && strstr(err.message, e->message) && strcmp(err.path, path) == 0,
                      "case %d: expected line %u '%s', got %s:%u: %s", _i, e->line, e->message, err.path,
                      err.line, err.message);
        /* Nothing of a broken file is kept. */
        ck_assert(!mbus_policy_has_namespace(p, "org.example.Net"));
        ck_assert_ptr_null(mbus_policy_get_maps(p, NULL, NULL));
}
END_TEST

START_TEST(test_every_wrong_rule_of_a_file_is_reported) {
        static const struct {
                const char *name, *text;
                unsigned lines[5];
                const char *texts[5];
        } t[] = {
                { "org.example.Net.xml",
                  "<policy namespace=\"org.example.Net\">\n"                        /* 1 */
                  "  <allow call=\"*\" user=\"root\"/>\n"                            /* 2 */
                  "  <allow call=\"*\" flavour=\"x\" user=\"root\"/>\n"              /* 3 */
                  "  <allow call=\"*\"/>\n"                                         /* 4 */
                  "  <frob/><allow><oops/></allow>\n"                                /* 5 */
                  "</policy>\n",
                  { 3, 4, 5, 5, 5 },
                  { "unknown attribute 'flavour' on <allow>", "<allow> has no principal",
                    "unknown element <frob> in <policy>", "<allow> has no action",
                    "unexpected element <oops> inside a rule" } },
                { "org.example.Net.json",
                  "{\"namespace\": \"org.example.Net\", \"x\": 1, \"rules\": [\n"   /* 1 */
                  "  {\"allow\": \"call\", \"user\": \"root\"},\n"                   /* 2 */
                  "  {\"allow\": \"call\"},\n"                                       /* 3 */
                  "  {\"allow\": \"fly\", \"user\": \"root\"}]}\n",                   /* 4 */
                  { 1, 3, 4 },
                  { "unknown key 'x' in the policy object", "a rule needs a principal", "unknown action 'fly'" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
                struct mbus_file_errors all = {};
                struct mbus_file_error err = { .all = &all };
                size_t n = 0;
                char path[256], buf[600];

                while (n < ELEMENTSOF(t[i].texts) && t[i].texts[n])
                        n++;
                (void) snprintf(path, sizeof(path), "/etc/mbus/policy.d/%s", t[i].name);
                ck_assert_int_eq(mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
                ck_assert_int_eq(mbus_policy_add_text(p, path, t[i].text, strlen(t[i].text), &err), -EBADMSG);
                /* Broken all the same: nothing of it is kept. */
                ck_assert(!mbus_policy_has_namespace(p, "org.example.Net"));
                mbus_file_errors_sort(&all);
                ck_assert_msg(all.n_errors == n, "%s: %zu errors, want %zu", t[i].name, all.n_errors, n);
                for (size_t k = 0; k < n; k++)
                        ck_assert_msg(all.errors[k].line == t[i].lines[k] &&
                                      strstr(all.errors[k].message, t[i].texts[k]) &&
                                      strcmp(all.errors[k].path, path) == 0,
                                      "%s error %zu: want line %u '%s', got %s", t[i].name, k, t[i].lines[k],
                                      t[i].texts[k], mbus_file_error_format(&all.errors[k], buf, sizeof(buf)));
                mbus_file_errors_done(&all);
        }
}
END_TEST

/* --- directories ------------------------------------------------------------------------------ */

START_TEST(test_directories_load_in_order_and_override) {
        char vendor[64], admin[64];
        const char *dirs[3];
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        const struct mbus_policy_rule *r;
        const char *path;
        size_t n;

        make_dir(vendor, sizeof(vendor));
        make_dir(admin, sizeof(admin));
        write_file(vendor, "org.example.A.xml", "<policy namespace=\"org.example.A\">\n"
                                                 "<allow call=\"*\" user=\"*\"/>\n</policy>\n");
        write_file(vendor, "org.example.B.json", "{\"namespace\": \"org.example.B\", \"rules\": []}\n");
        write_file(vendor, "README", "not a policy\n");
        write_file(vendor, ".org.example.C.xml", "garbage");
        write_file(vendor, "org.example.D.xml~", "garbage");
        write_file(admin, "org.example.A.json", "{\"namespace\": \"org.example.A\",\n\"rules\": [\n"
                                                "{\"deny\": \"call\", \"user\": \"*\"}]}\n");
        dirs[0] = vendor;
        dirs[1] = "/nonexistent/mbus/policy.d";
        dirs[2] = admin;

        ck_assert_int_eq(mbus_policy_load(&p, dirs, 3, MBUS_POLICY_SCOPE_SYSTEM, 0, &err), 0);
        ck_assert_uint_eq(mbus_policy_n_namespaces(p), 2);
        r = mbus_policy_get_rules(p, "org.example.A", &n, &path);
        ck_assert_uint_eq(n, 1);
        ck_assert(!r[0].allow);                 /* the admin file replaced the vendor file whole */
        ck_assert_uint_eq(r[0].line, 3);
        ck_assert(strstr(path, admin) == path);
        ck_assert(mbus_policy_has_namespace(p, "org.example.B"));

        remove_dir(vendor);
        remove_dir(admin);
}
END_TEST

START_TEST(test_both_forms_in_one_directory_is_an_error) {
        char dir[64];
        const char *dirs[1];
        struct mbus_policy *p = (struct mbus_policy *) 0x1;
        struct mbus_file_error err = {};

        make_dir(dir, sizeof(dir));
        write_file(dir, "org.example.A.xml", "<policy namespace=\"org.example.A\"/>\n");
        write_file(dir, "org.example.A.json", "{\"namespace\": \"org.example.A\"}\n");
        dirs[0] = dir;
        ck_assert_int_eq(mbus_policy_load(&p, dirs, 1, MBUS_POLICY_SCOPE_SYSTEM, 0, &err), -EBADMSG);
        ck_assert_ptr_eq(p, (struct mbus_policy *) 0x1);        /* untouched */
        ck_assert(strstr(err.message, "both org.example.A.json and org.example.A.xml"));
        ck_assert(strstr(err.path, "org.example.A."));
        remove_dir(dir);
}
END_TEST

START_TEST(test_one_broken_file_rejects_the_whole_set) {
        char dir[64];
        const char *dirs[1];
        struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        char buf[600];

        make_dir(dir, sizeof(dir));
        write_file(dir, "org.example.A.xml", "<policy namespace=\"org.example.A\"/>\n");
        write_file(dir, "org.example.B.xml", "<policy namespace=\"org.example.B\">\n"
                                             "  <allow call=\"*\" user=\"nobody-at-all-mbus\"/>\n</policy>\n");
        dirs[0] = dir;
        ck_assert_int_eq(mbus_policy_load(&p, dirs, 1, MBUS_POLICY_SCOPE_SYSTEM, 0, &err), -EBADMSG);
        ck_assert_ptr_null(p);
        (void) mbus_file_error_format(&err, buf, sizeof(buf));
        ck_assert_msg(strstr(buf, "/org.example.B.xml:2: unknown user 'nobody-at-all-mbus'"), "%s", buf);
        remove_dir(dir);
}
END_TEST

/* --- the broker's lenient load ---------------------------------------------------------------- */

struct report_log {
        unsigned n_warnings, n_skipped;
        char warnings[4][300];
        char skipped[4][64];
        char skipped_at[4][300];
};

static void report_on_warning(const struct mbus_file_error *w, void *userdata) {
        struct report_log *l = userdata;

        if (l->n_warnings < ELEMENTSOF(l->warnings))
                (void) mbus_file_error_format(w, l->warnings[l->n_warnings], sizeof(l->warnings[0]));
        l->n_warnings++;
}

static void report_on_skipped(const char *name, const struct mbus_file_error *e, void *userdata) {
        struct report_log *l = userdata;

        if (l->n_skipped < ELEMENTSOF(l->skipped)) {
                snprintf(l->skipped[l->n_skipped], sizeof(l->skipped[0]), "%s", name ?: "(dir)");
                (void) mbus_file_error_format(e, l->skipped_at[l->n_skipped], sizeof(l->skipped_at[0]));
        }
        l->n_skipped++;
}

/*
 * A broken admin file is left out with the vendor file of its namespace (the default decides
 * then, not rules the admin meant to replace); the other files load; unknown names warn and
 * their rules match nobody.
 */
START_TEST(test_lenient_load_leaves_out_broken_files_and_warns_on_unknown_names) {
        char vendor[64], admin[64];
        const char *dirs[2];
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct report_log log = {};
        const struct mbus_conf_report report = { report_on_warning, report_on_skipped, &log };
        struct mbus_file_error err = {};
        const struct mbus_policy_rule *r;
        struct mbus_identity nobody = { .unix = true, .uid = 65534, .gid = 65534 };
        struct mbus_policy_decision d;
        size_t n;

        make_dir(vendor, sizeof(vendor));
        make_dir(admin, sizeof(admin));
        write_file(vendor, "org.example.A.xml", "<policy namespace=\"org.example.A\">\n"
                                                 "<allow call=\"*\" user=\"nobody\"/>\n</policy>\n");
        write_file(admin, "org.example.A.xml", "<policy namespace=\"org.example.A\">\n<allow/></wrong>\n");
        write_file(admin, "org.example.B.xml", "<policy namespace=\"org.example.B\">\n"
                                                "  <allow call=\"*\" user=\"nobody\"/>\n"
                                                "  <deny call=\"*\" user=\"no-such-user-mbus\"/>\n"
                                                "  <deny call=\"*\" group=\"no-such-group-mbus\"/>\n</policy>\n");
        write_file(admin, "org.example.C.xml", "<policy namespace=\"org.example.C\"/>\n");
        write_file(admin, "org.example.C.json", "{\"namespace\": \"org.example.C\"}\n");
        write_file(admin, "@identities.xml", "<identities>\n<map cert-cn=\"a\" user=\"no-such-user-mbus\"/>\n"
                                              "<map cert-cn=\"b\" user=\"root\"/>\n</identities>\n");
        dirs[0] = vendor;
        dirs[1] = admin;

        ck_assert_int_eq(mbus_policy_load_report(&p, dirs, 2, MBUS_POLICY_SCOPE_SYSTEM, 0, &report, &err), 0);
        ck_assert_uint_eq(log.n_skipped, 2);
        ck_assert_str_eq(log.skipped[0], "org.example.A");
        ck_assert_msg(strstr(log.skipped_at[0], "/org.example.A.xml:2: "), "%s", log.skipped_at[0]);
        ck_assert_str_eq(log.skipped[1], "org.example.C");
        ck_assert(strstr(log.skipped_at[1], "both org.example.C.json and org.example.C.xml"));
        ck_assert(!mbus_policy_has_namespace(p, "org.example.A"));
        ck_assert(!mbus_policy_has_namespace(p, "org.example.C"));
        ck_assert_int_eq(mbus_policy_check(p, &nobody, MBUS_POLICY_CALL, "org.example.A", "Get", NULL, &d), -EACCES);
        ck_assert_ptr_null(d.rule);

        ck_assert_uint_eq(log.n_warnings, 3);
        ck_assert_msg(strstr(log.warnings[0], "@identities.xml:2: unknown user 'no-such-user-mbus': the mapping is "
                                              "left out"), "%s", log.warnings[0]);
        ck_assert_msg(strstr(log.warnings[1], "org.example.B.xml:3: unknown user 'no-such-user-mbus': the rule "
                                              "matches nobody"), "%s", log.warnings[1]);
        ck_assert(strstr(log.warnings[2], "org.example.B.xml:4: unknown group 'no-such-group-mbus'"));
        r = mbus_policy_get_rules(p, "org.example.B", &n, NULL);
        ck_assert_uint_eq(n, 3);
        ck_assert(!r[0].unresolved && r[1].unresolved && r[2].unresolved);
        /* the denies match nobody, so the allow decides */
        ck_assert_int_eq(mbus_policy_check(p, &nobody, MBUS_POLICY_CALL, "org.example.B", "Get", NULL, &d), 0);
        ck_assert_ptr_eq(d.rule, &r[0]);
        (void) mbus_policy_get_maps(p, &n, NULL);
        ck_assert_uint_eq(n, 1);

        remove_dir(vendor);
        remove_dir(admin);
}
END_TEST

/* What a reload does with a left-out namespace: the running policy's rules move over. */
START_TEST(test_adopt_moves_a_namespace_or_leaves_none) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *old = NULL, *p = NULL;
        struct mbus_file_error err = {};
        size_t n;
        const char *a = "<policy namespace=\"org.example.A\">\n<allow call=\"*\" user=\"nobody\"/>\n</policy>\n";
        const char *b = "<policy namespace=\"org.example.B\"/>\n";

        ck_assert_int_eq(mbus_policy_new(&old, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        ck_assert_int_eq(mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        ck_assert_int_eq(mbus_policy_add_text(old, "/x/org.example.A.xml", a, strlen(a), &err), 0);
        ck_assert_int_eq(mbus_policy_add_text(p, "/y/org.example.B.xml", b, strlen(b), &err), 0);

        ck_assert_int_eq(mbus_policy_adopt(p, old, "org.example.A"), 0);
        ck_assert(!mbus_policy_has_namespace(old, "org.example.A"));
        ck_assert_ptr_nonnull(mbus_policy_get_rules(p, "org.example.A", &n, NULL));
        ck_assert_uint_eq(n, 1);
        /* the running set had nothing for B: neither has the new one */
        ck_assert_int_eq(mbus_policy_adopt(p, old, "org.example.B"), 0);
        ck_assert(!mbus_policy_has_namespace(p, "org.example.B"));
        ck_assert_uint_eq(mbus_policy_n_namespaces(p), 1);
}
END_TEST

START_TEST(test_confdir_lists_sorted_namespaces) {
        char dir[64];
        struct mbus_confdir_entry *e = NULL;
        size_t n = 0;

        make_dir(dir, sizeof(dir));
        write_file(dir, "org.b.X.json", "{}");
        write_file(dir, "org.a.X.xml", "<x/>");
        write_file(dir, ".hidden.xml", "");
        write_file(dir, "notes.txt", "");
        ck_assert_int_eq(mbus_confdir_list(dir, &e, &n, NULL), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(e[0].name, "org.a.X");
        ck_assert_str_eq(e[1].name, "org.b.X");
        ck_assert(strstr(e[1].path, "/org.b.X.json"));
        mbus_confdir_entries_free(e, n);

        ck_assert_int_eq(mbus_confdir_list("/nonexistent/dir", &e, &n, NULL), 0);
        ck_assert_uint_eq(n, 0);
        remove_dir(dir);
}
END_TEST

START_TEST(test_add_file_reads_and_checks_the_name) {
        char dir[64], path[128];
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};

        make_dir(dir, sizeof(dir));
        write_file(dir, "org.example.Net.json", JP("  {\"allow\": \"own\", \"user\": \"0\"}\n"));
        ck_assert_int_eq(mbus_policy_new(&p, MBUS_POLICY_SCOPE_USER, 1000), 0);
        (void) snprintf(path, sizeof(path), "%s/org.example.Net.json", dir);
        ck_assert_int_eq(mbus_policy_add_file(p, path, &err), 0);
        ck_assert(mbus_policy_has_namespace(p, "org.example.Net"));
        ck_assert_int_eq(mbus_policy_get_scope(p), MBUS_POLICY_SCOPE_USER);
        (void) snprintf(path, sizeof(path), "%s/missing.xml", dir);
        ck_assert_int_eq(mbus_policy_add_file(p, path, &err), -ENOENT);
        ck_assert(strstr(err.message, "cannot open"));
        ck_assert_int_eq(mbus_policy_add_file(p, "/etc/passwd", &err), -EBADMSG);
        ck_assert(strstr(err.message, "unknown file type"));
        remove_dir(dir);
}
END_TEST

START_TEST(test_guess_kind_by_directory_or_content) {
        char dir[64], path[128];

        ck_assert_int_eq(mbus_confdir_guess_kind("/etc/mbus/policy.d/org.x.Y.xml"), MBUS_CONFDIR_POLICY);
        ck_assert_int_eq(mbus_confdir_guess_kind("interfaces.d/org.x.Y.json"), MBUS_CONFDIR_INTERFACE);
        ck_assert_int_eq(mbus_confdir_guess_kind(MBUS_POLICY_SOURCE_DIR "/examples/org.example.Network.xml"),
                         MBUS_CONFDIR_POLICY);
        ck_assert_int_eq(mbus_confdir_guess_kind(MBUS_POLICY_SOURCE_DIR "/examples/org.example.Network.json"),
                         MBUS_CONFDIR_INTERFACE);
        make_dir(dir, sizeof(dir));
        write_file(dir, "a.xml", "<?xml version=\"1.0\"?>\n<!-- <policy> -->\n<namespace name=\"a\"/>\n");
        (void) snprintf(path, sizeof(path), "%s/a.xml", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), MBUS_CONFDIR_INTERFACE);
        write_file(dir, "b.json", "{\"namespace\": \"b\", \"rules\": []}");
        (void) snprintf(path, sizeof(path), "%s/b.json", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), MBUS_CONFDIR_POLICY);
        write_file(dir, "@identities.xml", "<!-- x -->\n<identities/>");
        (void) snprintf(path, sizeof(path), "%s/@identities.xml", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), MBUS_CONFDIR_POLICY);
        write_file(dir, "@identities.json", "{\"maps\": []}");
        (void) snprintf(path, sizeof(path), "%s/@identities.json", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), MBUS_CONFDIR_POLICY);
        write_file(dir, "c.xml", "<other/>");
        (void) snprintf(path, sizeof(path), "%s/c.xml", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), -EINVAL);
        (void) snprintf(path, sizeof(path), "%s/missing.xml", dir);
        ck_assert_int_eq(mbus_confdir_guess_kind(path), -ENOENT);
        remove_dir(dir);
}
END_TEST

/* --- the shipped files ------------------------------------------------------------------------ */

START_TEST(test_shipped_files_load) {
        const char *pdirs[] = { MBUS_POLICY_SOURCE_DIR "/policy.d" };
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL, *example = NULL;
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *broker = NULL, *net = NULL;
        struct mbus_identity alice = { .unix = true, .uid = 1000, .gid = 1000 }, root = { .unix = true };
        struct mbus_file_error err = {};
        uid_t zero = 0;

        if (mbus_policy_load(&p, pdirs, 1, MBUS_POLICY_SCOPE_SYSTEM, 0, &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        ck_assert(mbus_policy_has_namespace(p, "org.mbus.Broker"));
        /* Unprivileged users may use the read-only procedures and all events, not reload. */
        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_CALL, "org.mbus.Broker", "ListNamespaces", &zero,
                                           NULL), 0);
        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_CALL, "org.mbus.Broker", "Introspect", &zero,
                                           NULL), 0);
        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_SUBSCRIBE, "org.mbus.Broker", "PeerConnected",
                                           &zero, NULL), 0);
        ck_assert_int_eq(mbus_policy_check(p, &alice, MBUS_POLICY_CALL, "org.mbus.Broker", "ReloadConfig", &zero,
                                           NULL), -EACCES);
        ck_assert_int_eq(mbus_policy_check(p, &root, MBUS_POLICY_CALL, "org.mbus.Broker", "ReloadConfig", &zero,
                                           NULL), 0);

        ck_assert_int_eq(mbus_policy_new(&example, MBUS_POLICY_SCOPE_SYSTEM, 0), 0);
        if (mbus_policy_add_file(example, MBUS_POLICY_SOURCE_DIR "/examples/org.example.Network.xml", &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        ck_assert_int_eq(mbus_policy_check(example, &alice, MBUS_POLICY_CALL, "org.example.Network", "Reboot",
                                           NULL, NULL), -EACCES);

        if (mbus_idl_load_file(&broker, MBUS_POLICY_SOURCE_DIR "/interfaces.d/org.mbus.Broker.xml", &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        if (mbus_idl_load_file(&net, MBUS_POLICY_SOURCE_DIR "/examples/org.example.Network.json", &err) < 0)
                ck_abort_msg("%s:%u: %s", err.path, err.line, err.message);
        ck_assert_ptr_nonnull(mbus_idl_find_procedure(broker, "GetPeer"));
        ck_assert_ptr_nonnull(mbus_idl_find_event(net, "StateChanged"));
}
END_TEST

static Suite *policy_load_suite(void) {
        Suite *s = suite_create("policy-load");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_xml_every_construct);
        tcase_add_test(tc, test_xml_and_json_give_identical_rules);
        tcase_add_test(tc, test_cert_san_types_are_normalized);
        tcase_add_test(tc, test_identities_both_forms);
        tcase_add_test(tc, test_identities_admin_file_replaces_vendor_file);
        tcase_add_loop_test(tc, test_every_error_names_file_and_line, 0, (int) ELEMENTSOF(load_errors));
        tcase_add_test(tc, test_every_wrong_rule_of_a_file_is_reported);
        tcase_add_test(tc, test_directories_load_in_order_and_override);
        tcase_add_test(tc, test_both_forms_in_one_directory_is_an_error);
        tcase_add_test(tc, test_one_broken_file_rejects_the_whole_set);
        tcase_add_test(tc, test_lenient_load_leaves_out_broken_files_and_warns_on_unknown_names);
        tcase_add_test(tc, test_adopt_moves_a_namespace_or_leaves_none);
        tcase_add_test(tc, test_confdir_lists_sorted_namespaces);
        tcase_add_test(tc, test_add_file_reads_and_checks_the_name);
        tcase_add_test(tc, test_guess_kind_by_directory_or_content);
        tcase_add_test(tc, test_shipped_files_load);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(policy_load_suite)
