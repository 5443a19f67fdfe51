/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for libmbus's intake of what a broker sends: the input is the byte stream a
 * broker writes to a client, played over a socketpair to a real connection handle. The fake
 * broker first answers the setup (WELCOME, two SUBSCRIBEs and a REGISTER, so events and calls
 * have somewhere to go), then writes the input as it is, then hangs up. Meanwhile the client has
 * made a few asynchronous calls (serials 5 and up; the first input byte says how many, and one
 * of them has a deadline already past) and runs mbus_conn_process() until the connection ends.
 *
 * For any input: no crash, no leak; every call completes exactly once, with a result or a
 * named error, whatever arrived (replies to unknown serials, duplicates, garbage, a hang-up in
 * the middle of a frame); the connection always ends, and then reports itself closed; events
 * reach the handlers with a namespace and member, and the count of events the library could not
 * parse never goes down. Calls to the registered service are answered, refused, or left for the
 * library to answer when the request is dropped.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "client/conn-internal.h"
#include "proto/frame.h"
#include "util/fd-util.h"
#include "util/fuzz-util.h"
#include "util/macro.h"

#define FUZZ_CALLS_MAX 8
#define FUZZ_FIRST_CALL_SERIAL 5        /* HELLO 1, SUBSCRIBE 2 and 3, REGISTER 4 */
#define FUZZ_STEPS_MAX 100000

static unsigned completions[FUZZ_CALLS_MAX];
static struct mbus_request *held;       /* a request left unanswered until the end */

static int on_reply(struct mbus_conn *conn, json_object *result, const struct mbus_error *error, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        check(!error || (mbus_error_is_set(error) && error->name));
        check(!(error && result));
        return 0;
}

static int on_event(struct mbus_conn *conn, const struct mbus_event *event, void *userdata) {
        check(event->ns && event->event);
        return 0;
}

static int on_call(struct mbus_request *request, json_object *args, void *userdata) {
        const char *p = mbus_request_get_procedure(request);

        check(p && mbus_request_get_namespace(request));
        if (strcmp(p, "Echo") == 0)
                return mbus_request_reply(request, args);
        if (strcmp(p, "Hold") == 0 && !held) {
                held = mbus_request_ref(request);
                return 0;
        }
        if (strcmp(p, "Fail") == 0)
                return mbus_request_reply_error(request, "org.example.Error.Failed", "as asked");
        return 0;       /* unanswered: the library answers when the request goes */
}

static const struct mbus_procedure procedures[] = {
        { "Echo", on_call },
        { "Hold", on_call },
        { "Fail", on_call },
        { "Ignore", on_call },
};

/* Appends frame's bytes to the buffer being written. */
static void append_frame(uint8_t **buf, size_t *len, enum mbus_frame_type type, const struct mbus_frame_fields *f,
                         const char *body) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *frame = NULL;
        uint8_t *b;

        check(mbus_frame_new(&frame, type, f, body, body ? strlen(body) : 0) == 0);
        b = realloc(*buf, *len + mbus_frame_size(frame));
        check(b);
        memcpy(b + *len, frame->head, frame->head_len);
        memcpy(b + *len + frame->head_len, frame->body, frame->body_len);
        *len += mbus_frame_size(frame);
        *buf = b;
}

/* Writes what the socket takes of data[*pos..size); returns true once all is written. */
static bool feed(int fd, const uint8_t *data, size_t size, size_t *pos) {
        while (*pos < size) {
                ssize_t n = write(fd, data + *pos, size - *pos);

                if (n < 0) {
                        check(errno == EAGAIN);
                        return false;
                }
                *pos += (size_t) n;
        }
        return true;
}

/* Reads and forgets what the client wrote (HELLO, calls, PONGs, replies), so it never blocks. */
static void drain(int fd) {
        uint8_t buf[65536];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *preamble = NULL;
        struct mbus_slot *calls[FUZZ_CALLS_MAX] = {}, *sub1 = NULL, *sub2 = NULL;
        struct mbus_conn *conn = NULL;
        size_t preamble_len = 0, pos = 0, input_pos = 0;
        unsigned n_calls, steps;
        uint64_t unparsed = 0;
        bool hung_up = false;
        int fds[2], r;

        if (size < 1)
                return 0;
        n_calls = 1 + data[0] % FUZZ_CALLS_MAX;
        data++;
        size--;
        memset(completions, 0, sizeof(completions));
        held = NULL;

        append_frame(&preamble, &preamble_len, MBUS_FRAME_WELCOME, &(const struct mbus_frame_fields) { .reply_serial = 1 },
                     "{\"id\":\":1.7\",\"protocol\":1,\"max_frame_size\":65536,\"features\":[\"caller\"]}");
        for (uint64_t serial = 2; serial <= 4; serial++)
                append_frame(&preamble, &preamble_len, MBUS_FRAME_RETURN,
                             &(const struct mbus_frame_fields) { .reply_serial = serial }, NULL);

        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        check(feed(fds[1], preamble, preamble_len, &pos));

        check(mbus_conn_open_fd(&conn, fds[0], "fuzz", 5 * USEC_PER_SEC, NULL) == 0);
        check(mbus_subscribe(conn, "org.example.*", on_event, NULL, &sub1, NULL) == 0);
        check(mbus_subscribe(conn, "*", on_event, NULL, &sub2, NULL) == 0);
        check(mbus_register(conn, "org.example.Fuzz", procedures, ELEMENTSOF(procedures), NULL, NULL, NULL) == 0);

        for (unsigned i = 0; i < n_calls; i++)
                check(mbus_call_async(conn, "org.example.Fuzz", "Get", NULL,
                                      /* timeout_usec= */ i == 1 ? 1 : 60 * USEC_PER_SEC, on_reply,
                                      &completions[i], &calls[i]) == 0);

        for (steps = 0; steps < FUZZ_STEPS_MAX; steps++) {
                uint64_t u;

                if (!hung_up && feed(fds[1], data, size, &input_pos)) {
                        (void) shutdown(fds[1], SHUT_WR);
                        hung_up = true;
                }
                drain(fds[1]);
                r = mbus_conn_process(conn);
                check(mbus_conn_get_unparsed_events(conn, &u) == 0);
                check(u >= unparsed);
                unparsed = u;
                if (r < 0)
                        break;
        }
        /* The broker hung up: the connection ends, within a bounded number of steps. */
        check(steps < FUZZ_STEPS_MAX);
        check(!mbus_conn_is_open(conn));
        check(mbus_conn_process(conn) == -ENOTCONN);
        for (unsigned i = 0; i < n_calls; i++) {
                check(completions[i] == 1);
                calls[i] = mbus_slot_free(calls[i]);
        }
        if (held)
                check(mbus_request_reply(held, NULL) < 0);      /* too late: no connection */
        held = mbus_request_unref(held);
        mbus_slot_free(sub1);
        mbus_slot_free(sub2);
        mbus_conn_unref(conn);
        safe_close(fds[1]);
        return 0;
}
