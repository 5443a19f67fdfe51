/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-broker: parse the command line, read broker.conf under it, make the one sd-event loop,
 * listen (sockets from systemd, or our own), tell systemd we are ready, run until
 * SIGTERM/SIGINT, free everything and exit 0. All the work happens in struct mbus_broker; the
 * parsed command line stays here for the broker's reloads, which read broker.conf again.
 */

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "broker-conf.h"
#include "broker.h"
#include "conf/file-error.h"
#include "config.h"
#include "log-ids.h"
#include "log.h"
#include "options.h"

/*
 * Every peer is a file descriptor: raise the soft limit towards the hard one so that
 * --max-peers, not RLIMIT_NOFILE (often 1024), is what bounds connections. The broker never
 * uses select(), so large fd numbers are harmless.
 */
static void bump_nofile(size_t max_peers) {
        struct rlimit rl;
        rlim_t want = (rlim_t) max_peers + 64;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
                (void) mbus_log(LOG_NOTICE, 0, NULL, "RLIMIT_NOFILE allows %llu files, fewer than --max-peers %zu needs",
                                (unsigned long long) rl.rlim_cur, max_peers);
}

/* SIGHUP: re-read the configuration; a broken set is logged and changes nothing. */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct mbus_broker *b = userdata;

        (void) mbus_broker_reload_config(b, /* err= */ NULL, NULL, NULL);
        mbus_broker_dispatch_done(b);
        return 0;
}

static void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

static int run(struct mbus_options *options, const struct mbus_options *cmdline) {
        _cleanup_(strv_freep) char **fd_names = NULL;
        _cleanup_(mbus_broker_freep) struct mbus_broker *b = NULL;
        struct mbus_file_error ferr = {};
        sd_event *event = NULL;
        sigset_t mask;
        int n_fds, r;

        /* Blocked so that sd-event's signalfd gets them; a NULL handler exits the loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);      /* activated commands are reaped by sd-event (activation.c) */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return mbus_log(LOG_ERR, errno, NULL, "Failed to block signals: %m");
        (void) signal(SIGPIPE, SIG_IGN);
        bump_nofile(options->max_peers);

        r = sd_event_new(&event);
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "Failed to create the event loop: %s", strerror(-r));
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0) {
                sd_event_unref(event);
                return mbus_log(LOG_ERR, r, NULL, "Failed to watch signals: %s", strerror(-r));
        }
        (void) sd_event_set_watchdog(event, true);

        r = mbus_broker_new(&b, event, options);
        sd_event_unref(event);          /* the broker holds its own reference */
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "Failed to set up the broker: %s", strerror(-r));
        b->cmdline = cmdline;

        /*
         * A broken policy or interface file is left out and logged; only what the broker cannot
         * run without (memory, the TLS files broker.conf names) refuses the start.
         */
        r = mbus_broker_reload_config(b, &ferr, NULL, NULL);
        if (r > 0 && mbus_log_get_target() != MBUS_LOG_TARGET_CONSOLE) {
                char text[600];

                fprintf(stderr, "mbus-broker: left out %s\n", mbus_file_error_format(&ferr, text, sizeof(text)));
        }
        if (r < 0) {
                char text[600];

                if (mbus_log_get_target() != MBUS_LOG_TARGET_CONSOLE)
                        fprintf(stderr, "mbus-broker: %s\n", mbus_file_error_format(&ferr, text, sizeof(text)));
                return mbus_log(LOG_ERR, r, NULL, "Refusing to start with a broken configuration");
        }
        r = sd_event_add_signal(b->event, NULL, SIGHUP, on_sighup, b);
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "Failed to watch SIGHUP: %s", strerror(-r));

        r = mbus_broker_load_tls(b);
        if (r < 0)
                return r;

        n_fds = sd_listen_fds_with_names(/* unset_environment= */ true, &fd_names);
        if (n_fds < 0)
                return mbus_log(LOG_ERR, n_fds, NULL, "Failed to read passed sockets: %s", strerror(-n_fds));

        /* Addresses on the command line replace the sockets systemd passed. */
        if (n_fds > 0 && options->n_listen == 0) {
                int fds[n_fds];

                for (int i = 0; i < n_fds; i++)
                        fds[i] = SD_LISTEN_FDS_START + i;
                r = mbus_broker_listen_fds(b, fds, fd_names, (size_t) n_fds);
        } else {
                for (int i = 0; i < n_fds; i++)
                        (void) close(SD_LISTEN_FDS_START + i);
                /* Network listeners first: once a UNIX socket accepts, every listener does, so
                 * whoever waits for the socket to appear may use any of them. */
                r = 0;
                for (unsigned pass = 0; pass < 2; pass++)
                        for (size_t i = 0; r >= 0 && i < MAX(options->n_listen, (size_t) 1); i++) {
                                const char *a = options->n_listen > 0 ? options->listen[i] : NULL;
                                bool unix_socket = !a || a[0] == '/' || strncmp(a, "unix:", 5) == 0;

                                if (unix_socket == (pass == 1))
                                        r = mbus_broker_listen_address(b, a);
                        }
        }
        if (r < 0)
                return r;

        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_BROKER_STARTED),
                        "mbus-broker %s started on %s", MBUS_VERSION, b->listen_desc);
        mbus_broker_notify_status(b);
        (void) sd_notify(false, "READY=1");

        r = sd_event_loop(b->event);

        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return mbus_log(LOG_ERR, r, NULL, "Event loop failed: %s", strerror(-r));
        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_BROKER_STOPPED), "mbus-broker stopped");
        return 0;
}

static void main_conf_warn(const char *path, unsigned line, const char *message, void *userdata) {
        (void) mbus_log(LOG_WARNING, 0, NULL, "%s:%u: %s", path, line, message);
}

int main(int argc, char *argv[]) {
        struct mbus_options cmdline, options = {};
        struct mbus_file_error ferr;
        enum mbus_options_action action;
        char errbuf[600] = "";
        int r;

        /*
         * A fixed threshold: with the default, glibc raises it each time a large block is freed,
         * and large input buffers then come from the heap, which keeps the memory after a peer
         * that sent huge frames is gone. Blocks this large are mapped and unmapped instead.
         * Fixing it also fixes the trim threshold, which would then give the top of the heap
         * back (and take it again) for every 64 KiB read buffer of a busy peer: keep a few MiB.
         */
        (void) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);

        mbus_options_init(&cmdline);
        r = mbus_options_parse_argv(&cmdline, argc, argv, &action, errbuf, sizeof(errbuf));
        if (r < 0) {
                fprintf(stderr, "%s\n", errbuf[0] ? errbuf : strerror(-r));
                mbus_options_done(&cmdline);
                return EXIT_FAILURE;
        }

        switch (action) {
        case MBUS_OPTIONS_HELP:
                mbus_options_help(program_invocation_short_name);
                r = 0;
                break;
        case MBUS_OPTIONS_VERSION:
                printf("mbus-broker %s\n", MBUS_VERSION);
                r = 0;
                break;
        default:
                /* The target is the command line's alone, so the file's warnings land there. */
                mbus_log_set_target(cmdline.log_target);
                r = mbus_broker_conf_read(&options, &cmdline, main_conf_warn, NULL, &ferr);
                if (r < 0) {
                        (void) mbus_file_error_format(&ferr, errbuf, sizeof(errbuf));
                        if (mbus_log_get_target() != MBUS_LOG_TARGET_CONSOLE)
                                fprintf(stderr, "mbus-broker: %s\n", errbuf[0] ? errbuf : strerror(-r));
                        (void) mbus_log(LOG_ERR, r, MBUS_FIELDS(.msgid = MBUS_MSGID_CONFIG_INVALID),
                                        "Refusing to start: %s", errbuf[0] ? errbuf : strerror(-r));
                        break;
                }
                mbus_log_set_max_level(options.log_level);
                r = run(&options, &cmdline);
        }

        mbus_options_done(&options);
        mbus_options_done(&cmdline);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
