/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the frame parser, the code that meets untrusted bytes first. For any
 * input: peek and parse must not crash or leak, a refusal must carry a reason and one of the
 * documented errnos, and peek and parse must agree on the size. For an accepted frame the
 * encoder must reproduce it: re-encoding the decoded fields gives a frame of the same size
 * that parses to the same fields, re-encodes byte-identically, and, when the input already
 * had its fields in code order (the encoder's canonical order), equals the input byte for byte.
 *
 * The JSON form (frame-json.h) is fuzzed by the same input read as a text message: it is
 * either refused with a reason, or becomes a frame that parses as binary, whose JSON form
 * reads back to the same frame and is a fixed point, and that keeps every non-zero header
 * value the input gave. An accepted binary frame, in turn, goes to JSON and back unchanged.
 *
 * The same input also goes through a frame stream whose transport hands it over in pieces
 * of every size, as a socket or TLS does (TLS decrypts into the same buffer by records): the
 * stream must cut out exactly the frames that parsing the input front to back finds, and fail
 * where that fails.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame-json.h"
#include "proto/frame.h"
#include "proto/stream.h"
#include "util/fuzz-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#define FUZZ_MAX_FRAME_SIZE (1024u * 1024u)

static bool str_eq(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool fields_eq(const struct mbus_frame_fields *a, const struct mbus_frame_fields *b) {
        return a->serial == b->serial && a->reply_serial == b->reply_serial &&
               a->timeout_usec == b->timeout_usec && str_eq(a->namespace, b->namespace) &&
               str_eq(a->member, b->member) && str_eq(a->destination, b->destination) &&
               str_eq(a->sender, b->sender) && str_eq(a->error_name, b->error_name) &&
               str_eq(a->pattern, b->pattern) && a->has_caller_ids == b->has_caller_ids &&
               a->caller_uid == b->caller_uid && a->caller_gid == b->caller_gid &&
               a->caller_pid == b->caller_pid && str_eq(a->caller_groups, b->caller_groups) &&
               str_eq(a->caller_name, b->caller_name) && str_eq(a->caller_cert_cn, b->caller_cert_cn) &&
               str_eq(a->caller_cert_fingerprint, b->caller_cert_fingerprint) &&
               str_eq(a->caller_address, b->caller_address);
}

static uint8_t *wire(const struct mbus_frame *f) {
        uint8_t *buf = malloc(mbus_frame_size(f));

        check(buf);
        memcpy(buf, f->head, f->head_len);
        if (f->body_len > 0)
                memcpy(buf + f->head_len, f->body, f->body_len);
        return buf;
}

/* True if the (already validated) fields of a frame appear in ascending code order. */
static bool fields_in_code_order(const struct mbus_frame *f) {
        const uint8_t *p = f->head + MBUS_FRAME_HEADER_SIZE, *end = f->head + f->head_len;
        unsigned last = 0;

        while (p < end) {
                if (p[0] <= last)
                        return false;
                last = p[0];
                p += 4 + (size_t) (p[2] | (p[3] << 8));
        }
        return true;
}

/* A transport reading from the fuzz input, in pieces sized by a generator seeded from it. */
static struct {
        const uint8_t *data;
        size_t size, pos;
        uint32_t seed;
} feed;

static ssize_t feed_read(struct mbus_transport *t, void *buf, size_t size) {
        size_t n;

        if (feed.pos == feed.size)
                return 0;
        feed.seed = feed.seed * 1103515245u + 12345u;
        n = 1 + (feed.seed >> 8) % (feed.seed & 0x10000 ? 7 : 16384);
        n = MIN(MIN(n, size), feed.size - feed.pos);
        memcpy(buf, feed.data + feed.pos, n);
        feed.pos += n;
        return (ssize_t) n;
}

static uint32_t feed_events(const struct mbus_transport *t, bool have_output) {
        return 1;
}

static const struct mbus_transport_ops feed_ops = {
        .name = "fuzz",
        .read = feed_read,
        .events = feed_events,
};

/* Frames front to back, whole input at once vs. through a stream in pieces: the same. */
static void check_stream(const uint8_t *data, size_t size) {
        struct mbus_stream s;
        size_t offset = 0;
        int r = 0;

        feed.data = data;
        feed.size = size;
        feed.pos = 0;
        feed.seed = size > 0 ? data[0] * 2654435761u : 1;
        mbus_stream_init(&s, -1, FUZZ_MAX_FRAME_SIZE);
        s.transport.ops = &feed_ops;

        for (;;) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *got = NULL, *want = NULL;
                size_t frame_size = 0;
                int expect;

                r = mbus_stream_pop(&s, &got, NULL);
                if (r == 0) {
                        r = mbus_stream_read(&s);
                        if (r > 0 || r == -ENOBUFS)
                                continue;
                        if (r == -ECONNRESET)   /* the end of the input */
                                break;
                        if (r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT) {
                                r = mbus_stream_pop(&s, &got, NULL);
                                check(r < 0);
                                break;
                        }
                        check(!"unexpected read error");
                }
                if (r < 0)
                        break;
                /* The stream found a frame: parsing the input there finds the same one. */
                expect = mbus_frame_peek_size(data + offset, size - offset, FUZZ_MAX_FRAME_SIZE, &frame_size, NULL);
                check(expect == 0 && frame_size == mbus_frame_size(got));
                check(mbus_frame_parse(&want, data + offset, frame_size, FUZZ_MAX_FRAME_SIZE, NULL) == 0);
                check(want->type == got->type && fields_eq(&want->f, &got->f));
                check(want->body_len == got->body_len && memcmp(want->body, got->body, got->body_len) == 0);
                offset += frame_size;
        }

        /* Where the stream stopped, parsing fails too, or the input ends (maybe mid-frame). */
        if (r < 0) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *bad = NULL;
                size_t frame_size = 0;

                if (mbus_frame_peek_size(data + offset, size - offset, FUZZ_MAX_FRAME_SIZE, &frame_size, NULL) == 0)
                        check(frame_size > size - offset ||
                              mbus_frame_parse(&bad, data + offset, frame_size, FUZZ_MAX_FRAME_SIZE, NULL) < 0);
        } else
                check(offset <= size);
        s.transport.ops = NULL;
        mbus_stream_done(&s);
}

static bool frames_eq(const struct mbus_frame *a, const struct mbus_frame *b) {
        return a->type == b->type && a->head_len == b->head_len && memcmp(a->head, b->head, a->head_len) == 0 &&
               a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0;
}

/* The same header, and the same body bytes or, for a JSON body, the same JSON value: the JSON
 * form carries the body as a value, so its spacing and number spelling may change. */
static bool frames_eq_json(const struct mbus_frame *a, const struct mbus_frame *b) {
        _cleanup_json_ json_object *ja = NULL, *jb = NULL;

        if (a->type != b->type || !fields_eq(&a->f, &b->f))
                return false;
        if (a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0)
                return true;
        return json_parse_bytes((const char *) a->body, a->body_len, &ja) == 0 &&
               json_parse_bytes((const char *) b->body, b->body_len, &jb) == 0 && json_object_equal(ja, jb);
}

/* f's JSON form as text (a new string), checked to read back to f. */
static char *json_of(const struct mbus_frame *f) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *back = NULL;
        _cleanup_json_ json_object *o = NULL;
        const char *reason = NULL;
        char *text;

        check(mbus_frame_to_json(f, &o) == 0);
        text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        check(text);
        check(mbus_frame_from_json(&back, text, strlen(text), SIZE_MAX, &reason) == 0);
        check(frames_eq_json(f, back));
        return text;
}

/* The input as a text message. */
static void check_json(const uint8_t *data, size_t size) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL, *bin = NULL;
        _cleanup_json_ json_object *in = NULL, *out = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        _cleanup_free_ uint8_t *w = NULL;
        const char *reason = NULL;
        int r;

        r = mbus_frame_from_json(&f, (const char *) data, size, FUZZ_MAX_FRAME_SIZE, &reason);
        if (r < 0) {
                check(!f);
                check(r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT || r == -ENOMEM);
                check(reason && reason[0]);
                return;
        }

        /* A frame like any other: its bytes parse as binary to the same frame. */
        w = wire(f);
        check(mbus_frame_parse(&bin, w, mbus_frame_size(f), FUZZ_MAX_FRAME_SIZE, NULL) == 0);
        check(frames_eq(f, bin));

        /* Its JSON form reads back to it and is a fixed point. */
        text = json_of(f);
        {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f2 = NULL;

                check(mbus_frame_from_json(&f2, text, strlen(text), SIZE_MAX, NULL) == 0);
                again = json_of(f2);
                check(strcmp(text, again) == 0);
        }

        /* It says what the input said: every key of the input with a value that is not
         * "absent" (0, null) is there, the same. (The input was a valid object.) */
        check(json_parse_bytes((const char *) data, size, &in) == 0);
        check(json_parse_bytes(text, strlen(text), &out) == 0);
        json_object_object_foreach(in, key, value) {
                json_object *v = NULL;

                if (strcmp(key, "body") == 0 || strcmp(key, "body_text") == 0 || !value)
                        continue;       /* the body's bytes were compared above, by frame */
                if (json_object_is_type(value, json_type_int) && json_object_get_uint64(value) == 0)
                        continue;
                check(json_object_object_get_ex(out, key, &v));
                check(json_object_equal(value, v));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL, *enc = NULL, *again = NULL,
                                                       *enc2 = NULL, *shared = NULL;
        _cleanup_free_ uint8_t *w = NULL, *w2 = NULL;
        const char *reason = NULL, *peek_reason = NULL;
        size_t peeked = 0;
        int r, rp;

        check_stream(data, size);
        check_json(data, size);

        rp = mbus_frame_peek_size(data, size, FUZZ_MAX_FRAME_SIZE, &peeked, &peek_reason);
        check(rp == 0 || peek_reason);
        check(rp == 0 || rp == -EAGAIN || rp == -EBADMSG || rp == -EMSGSIZE || rp == -EPROTONOSUPPORT);
        if (rp == 0)
                check(peeked >= MBUS_FRAME_HEADER_SIZE);

        r = mbus_frame_parse(&f, data, size, FUZZ_MAX_FRAME_SIZE, &reason);
        if (r < 0) {
                check(!f);
                check(reason && reason[0]);
                check(r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT || r == -ENOMEM);
                return 0;
        }

        check(rp == 0 && peeked == size);
        check(f->n_ref == 1);
        check(mbus_frame_type_to_string(f->type));
        check(mbus_frame_size(f) == size);
        check(f->body[f->body_len] == 0);

        /* Re-encode the decoded frame. */
        r = mbus_frame_new(&enc, f->type, &f->f, f->body, f->body_len);
        check(r == 0);
        check(mbus_frame_size(enc) == size);
        check(fields_eq(&enc->f, &f->f));
        w = wire(enc);
        if (fields_in_code_order(f))
                check(memcmp(w, data, size) == 0);

        /* The encoding parses back to the same frame and is a fixed point. */
        r = mbus_frame_parse(&again, w, size, FUZZ_MAX_FRAME_SIZE, &reason);
        check(r == 0);
        check(again->type == f->type && fields_eq(&again->f, &f->f));
        check(again->body_len == f->body_len && memcmp(again->body, f->body, f->body_len) == 0);
        r = mbus_frame_new(&enc2, again->type, &again->f, again->body, again->body_len);
        check(r == 0);
        w2 = wire(enc2);
        check(memcmp(w, w2, size) == 0);

        /* Forwarding with a shared body yields the same bytes. */
        r = mbus_frame_new_with_body_of(&shared, f->type, &f->f, f);
        check(r == 0);
        check(shared->body == f->body && f->n_ref == 2);
        check(shared->head_len == enc->head_len && memcmp(shared->head, w, shared->head_len) == 0);

        /* Binary to JSON and back: the same frame (json_of() checks). */
        free(json_of(f));
        return 0;
}
