/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the policy file parsers (man mbus-policy(5)): built twice, as
 * fuzz-policy-xml and fuzz-policy-json (-DFUZZ_POLICY_JSON). Each input is read both as a
 * namespace's policy file and as the @identities file, the two grammars of a form. Any bytes
 * must give a loaded policy or a refusal with a file:line reason, never a crash or a leak; a
 * refused file must leave the policy as it was; and a loaded policy must answer every question
 * (each action, for a UNIX peer of each kind and for network peers with and without a
 * certificate) with allow or deny and a rule or default that says why.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/policy.h"
#include "util/fuzz-util.h"
#include "util/macro.h"

#ifdef FUZZ_POLICY_JSON
#  define FUZZ_SUFFIX ".json"
#else
#  define FUZZ_SUFFIX ".xml"
#endif
#define FUZZ_NAMESPACE "org.example.Network"

static void check_decisions(const struct mbus_policy *p) {
        static const gid_t groups[] = { 0, 4, 100 };
        static const char *const sans[] = { "DNS:node1.example.org", "IP:192.0.2.7" };
        struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc0000207) };
        const struct mbus_identity who[] = {
                { .unix = true, .uid = 0, .gid = 0, .groups = groups, .n_groups = 1 },
                { .unix = true, .uid = 65534, .gid = 65534 },
                { .unix = true, .uid = 1000, .gid = 100, .groups = groups + 1, .n_groups = 2 },
                { .addr = (const struct sockaddr *) &in4 },
                { .addr = (const struct sockaddr *) &in4, .cert_cn = "node1", .cert_sans = sans,
                  .n_cert_sans = ELEMENTSOF(sans),
                  .cert_fingerprint = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" },
        };
        static const char *const members[] = { "GetState", "Reboot", "StateChanged" };
        const uid_t owner = 0;

        for (size_t i = 0; i < ELEMENTSOF(who); i++)
                for (int a = 0; a < _MBUS_POLICY_ACTION_MAX; a++)
                        for (size_t m = 0; m < ELEMENTSOF(members); m++) {
                                struct mbus_policy_decision d = {};
                                char buf[1024];
                                int r;

                                r = mbus_policy_check(p, &who[i], (enum mbus_policy_action) a, FUZZ_NAMESPACE,
                                                      a == MBUS_POLICY_OWN ? NULL : members[m],
                                                      m == 0 ? &owner : NULL, &d);
                                check(r == 0 || r == -EACCES);
                                check(d.allow == (r == 0));
                                check(d.rule || d.default_text);
                                check(mbus_policy_decision_describe(&d, buf, sizeof(buf))[0]);
                        }
}

static void fuzz_one(const char *path, const uint8_t *data, size_t size, bool identities) {
        _cleanup_(mbus_policy_freep) struct mbus_policy *p = NULL;
        struct mbus_file_error err = {};
        size_t n_before = 0, n_after = 0;
        int r;

        check(mbus_policy_new(&p, MBUS_POLICY_SCOPE_SYSTEM, /* broker_uid= */ 0) == 0);
        r = mbus_policy_add_text(p, path, (const char *) data, size, &err);
        if (r < 0) {
                check(r == -EBADMSG || r == -ENOMEM);
                if (r == -EBADMSG) {
                        check(err.message[0]);
                        check(strcmp(err.path, path) == 0);
                        check(err.line <= fuzz_n_lines(data, size));
                }
                /* Nothing of a refused file is kept. */
                check(mbus_policy_n_namespaces(p) == 0);
                check(!mbus_policy_get_maps(p, &n_before, NULL) && n_before == 0);
                return;
        }
        if (identities)
                check(mbus_policy_get_maps(p, &n_after, NULL) || n_after == 0);
        else
                check(mbus_policy_has_namespace(p, FUZZ_NAMESPACE));
        check_decisions(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_one(FUZZ_NAMESPACE FUZZ_SUFFIX, data, size, /* identities= */ false);
        fuzz_one(MBUS_POLICY_IDENTITIES_NAME FUZZ_SUFFIX, data, size, /* identities= */ true);
        return 0;
}
