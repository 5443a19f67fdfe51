/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus page in a real browser: the broker serves www/ over HTTP on its ws:// listener
 * (--http-root), Debian's chromium loads / headless, and what the page shows is read back
 * from its DOM: the broker's namespace and a UNIX service's, the peers, and an event a UNIX
 * client keeps emitting; then the call form, driven as an administrator would: procedures and
 * arguments pre-filled from the introspection, a call's result, a call the policy refuses
 * shown as AccessDenied, and the page in a narrow and a wide window without horizontal
 * overflow. Also the HTTP side alone: index.html at /, content types, no way out of the
 * directory. Screenshots go to page-screenshot.png, page-narrow.png and page-wide.png in the
 * test's working directory.
 * Skipped (77) without chromium or node.
 */

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/agent-util.h"
#include "helpers/broker-util.h"
#include "helpers/raw-util.h"
#include "helpers/ws-util.h"
#include "util/test-util.h"

#define NS "org.example.Echo"
#define TICKER_NS "org.example.Ticker"
#define DOM_MAX (1024 * 1024)

static const char *chromium = "/usr/bin/chromium";

static const char policy[] =
        "<policy namespace=\"" NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow call=\"*\" user=\"*\"/>\n"
        "  <allow call=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";
static const char ticker_policy[] =
        "<policy namespace=\"" TICKER_NS "\">\n"
        "  <allow own=\"true\" user=\"*\"/>\n"
        "  <allow subscribe=\"*\" address=\"127.0.0.0/8\"/>\n"
        "</policy>\n";

struct env {
        struct test_config c;
        struct test_broker b;
        unsigned port;
};

static void env_init(struct env *e) {
        ck_assert_int_eq(test_config_new(&e->c, /* with_shipped= */ true), 0);
        test_config_write(&e->c, "policy.d/" NS ".xml", policy);
        test_config_write(&e->c, "policy.d/" TICKER_NS ".xml", ticker_policy);
        e->port = test_free_tcp_port();
        ck_assert_uint_gt(e->port, 0);
}

/* Starts the broker with its ws:// listener serving root (NULL: the source tree's www/). */
static void env_launch(struct env *e, const char *root_dir) {
        char ws[64], root[512];
        const char *args[] = { "--config-dir", e->c.dir, "--scope", "system", "--listen", ws, "--http-root", root,
                               NULL };

        (void) snprintf(ws, sizeof(ws), "ws://127.0.0.1:%u", e->port);
        if (root_dir)
                (void) snprintf(root, sizeof(root), "%s", root_dir);
        else
                (void) snprintf(root, sizeof(root), "%s/www", getenv("MBUS_TEST_SRCDIR"));
        ck_assert_int_eq(test_broker_start_full(&e->b, args, e->c.log, true), 0);
}

static void env_start(struct env *e) {
        env_init(e);
        env_launch(e, NULL);
}

static void env_done(struct env *e) {
        ck_assert_broker_stops_cleanly(&e->b);
        test_config_remove(&e->c);
}

static void http_get(unsigned port, const char *path, char *buf, size_t size) {
        ck_assert_int_gt(http_client_request(port, "GET", path, NULL, buf, size), 0);
}

START_TEST(test_page_and_client_are_served_with_their_content_types) {
        struct env e;
        char *r = malloc(256 * 1024);

        ck_assert_ptr_nonnull(r);
        env_start(&e);
        http_get(e.port, "/", r, 256 * 1024);
        ck_assert_msg(strncmp(r, "HTTP/1.1 200", 12) == 0, "%.80s", r);
        ck_assert_ptr_nonnull(strcasestr(r, "content-type: text/html"));
        ck_assert_ptr_nonnull(strstr(r, "bus-page.js"));

        http_get(e.port, "/mbus.js", r, 256 * 1024);
        ck_assert_msg(strstr(r, " 200 "), "%.80s", r);
        ck_assert_ptr_nonnull(strcasestr(r, "content-type: text/javascript") ?: strcasestr(r, "content-type: application/javascript"));
        ck_assert_ptr_nonnull(strstr(r, "export function connect"));

        http_get(e.port, "/bus-page.css", r, 256 * 1024);
        ck_assert_ptr_nonnull(strcasestr(r, "content-type: text/css"));

        http_get(e.port, "/nonexistent.html", r, 256 * 1024);
        ck_assert_msg(strstr(r, " 404 "), "%.80s", r);
        free(r);
        env_done(&e);
}
END_TEST

/* A root next to a secret: no spelling of the path reaches the secret. */
START_TEST(test_no_path_leads_out_of_the_http_root) {
        static const char *const outside[] = { "/../secret.html", "/%2e%2e/secret.html", "/..%2fsecret.html",
                                               "/x/../../secret.html", "//../secret.html", "/./../secret.html" };
        struct env e;
        char root[512], r[4096];

        env_init(&e);
        ck_assert_int_eq(mkdir(test_config_path(&e.c, "root", root, sizeof(root)), 0755), 0);
        test_config_write(&e.c, "root/index.html", "<p>inside</p>\n");
        test_config_write(&e.c, "secret.html", "<p>SECRET</p>\n");
        env_launch(&e, test_config_path(&e.c, "root", root, sizeof(root)));

        http_get(e.port, "/", r, sizeof(r));
        ck_assert_ptr_nonnull(strstr(r, "inside"));
        for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
                http_get(e.port, outside[i], r, sizeof(r));
                ck_assert_msg(!strstr(r, "SECRET"), "%s served a file outside the root", outside[i]);
                ck_assert_msg(strstr(r, " 404 ") || strstr(r, " 403 ") || strstr(r, " 400 "), "%s: %.80s",
                              outside[i], r);
        }
        env_done(&e);
}
END_TEST

/* A daemon that owns TICKER_NS and emits Tick every 100 ms until killed. */
static int ticker_main(void *userdata) {
        const char *address = userdata;
        struct mbus_conn *c = test_connect(address, "ticker");
        struct mbus_error error = MBUS_ERROR_NULL;

        /* Check's SIGTERM handler, inherited, would take the whole test's process group along. */
        (void) signal(SIGTERM, SIG_DFL);
        child_assert(mbus_register(c, TICKER_NS, NULL, 0, NULL, NULL, &error) == 0);
        for (int i = 1; i < 600; i++) {
                json_object *p = json_object_new_object();

                json_object_object_add(p, "n", json_object_new_int(i));
                child_assert(mbus_emit_wait(c, NULL, TICKER_NS, "Tick", p, 0, &error) == 0);
                json_object_put(p);
                usleep(100 * 1000);
        }
        return 0;
}

#define BY_ID(id) "document.getElementById('" id "')"
#define PICK(proc) "(() => { const s = " BY_ID("call-proc") "; s.value = '" proc "'; s.dispatchEvent(new Event('change')); })()"
/* The page neither overflows sideways nor squeezes its tables below a readable width. */
#define FITS "document.documentElement.scrollWidth <= window.innerWidth && " \
             "[...document.querySelectorAll('td.name')].every((td) => td.getBoundingClientRect().width >= 100)"

/*
 * The call form, as steps for tests/js/page-snapshot.mjs: the broker's procedures are listed
 * from its introspection, picking GetNamespaceOwner fills its one argument with its type; the
 * call's result is shown (and copied to data-ok-result for the DOM check); ReloadConfig, which
 * the policy keeps for root, is refused with AccessDenied; then a narrow and a wide window.
 */
static const char form_steps[] =
        "["
        "{\"wait\": \"[...document.querySelectorAll('#call-proc option')].some((o) => o.value === 'GetNamespaceOwner')\","
        " \"what\": \"the broker's procedures in the call form\"},"
        "{\"do\": \"" PICK("GetNamespaceOwner") "\"},"
        "{\"wait\": \"" BY_ID("call-types") ".textContent === 'namespace: string' && "
        "JSON.parse(" BY_ID("call-args") ".value).namespace === ''\", \"what\": \"arguments pre-filled from the introspection\"},"
        "{\"do\": \"" BY_ID("call-args") ".value = JSON.stringify({ namespace: '" NS "' }); "
        BY_ID("call-form") ".requestSubmit()\"},"
        "{\"wait\": \"" BY_ID("call-result") ".classList.contains('ok') && "
        "JSON.parse(" BY_ID("call-result") ".textContent).owner.startsWith(':1.')\", \"what\": \"the call's result\"},"
        "{\"do\": \"document.body.dataset.okResult = " BY_ID("call-result") ".textContent; " PICK("ReloadConfig") "; "
        BY_ID("call-form") ".requestSubmit()\"},"
        "{\"wait\": \"" BY_ID("call-result") ".classList.contains('error') && "
        BY_ID("call-result") ".textContent.startsWith('org.mbus.Error.AccessDenied: ')\","
        " \"what\": \"AccessDenied for a call the policy refuses\"},"
        "{\"width\": 360},"
        "{\"wait\": \"window.innerWidth === 360 && " FITS "\", \"what\": \"a readable page 360 px wide\"},"
        "{\"screenshot\": \"page-narrow.png\"},"
        "{\"width\": 1400},"
        "{\"wait\": \"window.innerWidth === 1400 && " FITS " && "
        "getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length === 2\","
        " \"what\": \"a readable page 1400 px wide, in two columns\"},"
        "{\"screenshot\": \"page-wide.png\"}"
        "]";

START_TEST(test_bus_page_in_chromium_shows_namespaces_peers_and_live_events) {
        struct test_service svc;
        struct env e;
        char url[128];
        char *dom = malloc(DOM_MAX), *err = malloc(64 * 1024);
        pid_t ticker;
        struct stat st;
        int r;

        ck_assert_ptr_nonnull(dom);
        ck_assert_ptr_nonnull(err);
        env_start(&e);
        ck_assert_int_eq(test_service_start(&svc, e.b.address, NS), 0);
        ticker = test_fork(ticker_main, e.b.address);
        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%u/", e.port);

        /*
         * What an administrator sees: connected, both namespaces with their owners, the daemon
         * among the peers, the ticker's events arriving. --dump-dom would dump the page when
         * chromium's virtual time runs out, which WebSocket traffic does not hold back, so on a
         * loaded machine the page may not have its answers yet: tests/js/page-snapshot.mjs
         * waits in real time (60 s at most) until the page shows them, through chromium's
         * DevTools protocol, then writes the DOM and a screenshot. The DOM is checked here.
         */
        {
                static const char condition[] =
                        "document.body.dataset.ready === 'true'"
                        " && document.querySelector('[data-namespace=\"" NS "\"]')"
                        " && [...document.querySelectorAll('#peers td')].some((td) => td.textContent === 'ticker')"
                        " && document.getElementById('events').textContent.includes('" TICKER_NS ".Tick')";
                char script[512], dom_path[512];
                const char *argv[] = { "/usr/bin/env", "node", "--experimental-websocket", script, chromium, url,
                                       condition, dom_path, "page-screenshot.png", form_steps, NULL };
                FILE *f;
                size_t n;

                (void) snprintf(script, sizeof(script), "%s/tests/js/page-snapshot.mjs", getenv("MBUS_TEST_SRCDIR"));
                (void) test_config_path(&e.c, "page.html", dom_path, sizeof(dom_path));
                (void) unlink("page-screenshot.png");
                (void) unlink("page-narrow.png");
                (void) unlink("page-wide.png");
                r = test_run(argv, NULL, 0, err, 64 * 1024, 120000);
                f = fopen(dom_path, "re");
                ck_assert_msg(f, "no DOM: %d: %s", r, err);
                n = fread(dom, 1, DOM_MAX - 1, f);
                dom[n] = 0;
                fclose(f);
                ck_assert_msg(r == 0, "%.1000s: %.2000s", err, dom);
        }
        ck_assert_ptr_nonnull(strstr(dom, "online as :1."));
        ck_assert_ptr_nonnull(strstr(dom, "data-namespace=\"org.mbus.Broker\""));
        ck_assert_ptr_nonnull(strstr(dom, "data-namespace=\"" NS "\""));
        ck_assert_ptr_nonnull(strstr(dom, "<td data-label=\"name\">ticker</td>"));
        ck_assert_ptr_nonnull(strstr(dom, TICKER_NS ".Tick"));
        /* The form's two answers: GetNamespaceOwner's result, then the refusal in its place. */
        ck_assert_msg(strstr(dom, "data-ok-result=\"{\n  &quot;namespace&quot;: &quot;" NS "&quot;,\n  &quot;owner&quot;: &quot;:1."),
                      "%.2000s", strstr(dom, "id=\"call-section\"") ?: dom);
        ck_assert_ptr_nonnull(strstr(dom, "class=\"result error\">org.mbus.Error.AccessDenied: Access denied: call "
                                          "org.mbus.Broker.ReloadConfig by ws peer 127.0.0.1:"));
        ck_assert_int_eq(stat("page-screenshot.png", &st), 0);
        ck_assert_int_gt(st.st_size, 10000);
        ck_assert_int_eq(stat("page-narrow.png", &st), 0);
        ck_assert_int_gt(st.st_size, 10000);
        ck_assert_int_eq(stat("page-wide.png", &st), 0);
        ck_assert_int_gt(st.st_size, 10000);

        kill(ticker, SIGTERM);
        (void) test_wait(ticker, 5000);
        ck_assert_int_eq(test_service_quit(&svc, e.b.address, NS), 0);
        free(dom);
        free(err);
        env_done(&e);
}
END_TEST

static Suite *page_suite(void) {
        Suite *s = suite_create("page");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 3 * TEST_TIMEOUT_SEC);
        tcase_add_test(tc, test_page_and_client_are_served_with_their_content_types);
        tcase_add_test(tc, test_no_path_leads_out_of_the_http_root);
        tcase_add_test(tc, test_bus_page_in_chromium_shows_namespaces_peers_and_live_events);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (getenv("MBUS_TEST_CHROMIUM"))
                chromium = getenv("MBUS_TEST_CHROMIUM");
        if (access(chromium, X_OK) < 0 ||
            system("node --experimental-websocket -e 'if (typeof WebSocket !== \"function\") process.exit(1)' "
                   ">/dev/null 2>&1") != 0) {
                fprintf(stderr, "%s or node with WebSocket support is not installed: skipped\n", chromium);
                return 77;
        }
        return test_config_main(page_suite);
}
