/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-test-sd-service: a libmbus service as a system service is written, for the tests that
 * run one under a real service manager (tests/test-nspawn) or next to a test broker. It drives
 * its connection from an sd-event loop (mbus_conn_attach_event()) and asks the library to end
 * that loop when the connection breaks (mbus_conn_set_exit_on_disconnect()), so that when the
 * broker goes away sd_event_loop() returns the error, the process exits with a failure and
 * systemd's Restart=on-failure starts it anew, instead of a healthy-looking process that
 * serves nothing. SIGTERM ends it cleanly (exit 0).
 *
 * It declares its types from C (mbus_register_with_interface()): Add takes two ints and returns
 * their sum, the event Added carries it, and Echo is declared by name alone, so one namespace
 * shows both typed and untyped members.
 *
 * Usage: mbus-test-sd-service [--address ADDRESS] NAMESPACE
 * Serves NAMESPACE with Echo (answers with its arguments) and Add ({"a": INT, "b": INT} ->
 * {"sum": INT}, then emits Added {"sum": INT}). Exit status: 0 after SIGTERM, 1 when the
 * connection broke or could not be made.
 */

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <mbus/mbus.h>

static int sd_service_echo(struct mbus_request *request, json_object *args, void *userdata) {
        return mbus_request_reply(request, args);
}

/* The broker has checked the arguments against the declaration below: both are ints. */
static int sd_service_add(struct mbus_request *request, json_object *args, void *userdata) {
        json_object *a = NULL, *b = NULL, *result;
        int64_t sum;
        int r;

        (void) json_object_object_get_ex(args, "a", &a);
        (void) json_object_object_get_ex(args, "b", &b);
        sum = json_object_get_int64(a) + json_object_get_int64(b);
        result = json_object_new_object();
        if (!result || json_object_object_add(result, "sum", json_object_new_int64(sum)) < 0) {
                json_object_put(result);
                return -ENOMEM;
        }
        r = mbus_request_reply(request, result);
        if (r >= 0)
                r = mbus_emit(mbus_request_get_conn(request), mbus_request_get_namespace(request), "Added", result);
        json_object_put(result);
        return r;
}

static const struct mbus_procedure sd_service_procedures[] = {
        { "Echo", sd_service_echo },
        { "Add", sd_service_add },
};

static const struct mbus_arg_decl sd_service_add_in[] = {
        { "a", "int", false },
        { "b", "int", false },
        { NULL, NULL, false },
};

static const struct mbus_arg_decl sd_service_sum[] = {
        { "sum", "int", false },
        { NULL, NULL, false },
};

static const struct mbus_member_decl sd_service_typed_procedures[] = {
        { "Add", "Adds two integers.", sd_service_add_in, sd_service_sum },
        { NULL, NULL, NULL, NULL },
};

static const struct mbus_member_decl sd_service_events[] = {
        { "Added", "A sum was computed.", sd_service_sum, NULL },
        { NULL, NULL, NULL, NULL },
};

static const struct mbus_interface sd_service_interface = {
        .doc = "A test service on an sd-event loop.",
        .procedures = sd_service_typed_procedures,
        .events = sd_service_events,
};

static void sd_service_on_disconnect(struct mbus_conn *conn, int error, void *userdata) {
        /* The loop ends right after this (exit-on-disconnect); say why for the journal. */
        fprintf(stderr, "mbus-test-sd-service: the connection to the broker broke: %s\n", strerror(-error));
}

int main(int argc, char **argv) {
        const char *address = NULL, *ns;
        struct mbus_conn *conn = NULL;
        struct mbus_error error = {};
        sd_event *event = NULL;
        sigset_t mask;
        int r;

        if (argc == 4 && strcmp(argv[1], "--address") == 0) {
                address = argv[2];
                ns = argv[3];
        } else if (argc == 2)
                ns = argv[1];
        else {
                fprintf(stderr, "usage: mbus-test-sd-service [--address ADDRESS] NAMESPACE\n");
                return 2;
        }

        /* SIGTERM is handled by the loop: block it before any thread could take it. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0) {
                fprintf(stderr, "mbus-test-sd-service: event loop: %s\n", strerror(-r));
                goto finish;
        }

        r = mbus_conn_open_with_error(&conn, address, "mbus-test-sd-service", &error);
        if (r < 0) {
                fprintf(stderr, "mbus-test-sd-service: cannot connect: %s\n", error.message ?: strerror(-r));
                goto finish;
        }
        r = mbus_conn_attach_event(conn, event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = mbus_conn_set_disconnect_handler(conn, sd_service_on_disconnect, NULL);
        if (r >= 0)
                r = mbus_conn_set_exit_on_disconnect(conn, true);
        if (r < 0) {
                fprintf(stderr, "mbus-test-sd-service: %s\n", strerror(-r));
                goto finish;
        }

        r = mbus_register_with_interface(conn, ns, sd_service_procedures,
                                         sizeof(sd_service_procedures) / sizeof(sd_service_procedures[0]),
                                         &sd_service_interface, /* userdata= */ NULL, &error);
        if (r < 0) {
                fprintf(stderr, "mbus-test-sd-service: cannot register %s: %s\n", ns, error.message ?: strerror(-r));
                goto finish;
        }
        fprintf(stderr, "mbus-test-sd-service: serving %s\n", ns);

        /* Returns 0 after SIGTERM, the connection's negative errno when it broke. */
        r = sd_event_loop(event);
        if (r < 0)
                fprintf(stderr, "mbus-test-sd-service: exiting: %s\n", strerror(-r));

finish:
        mbus_error_free(&error);
        mbus_conn_unref(conn);
        sd_event_unref(event);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
