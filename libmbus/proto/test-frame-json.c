/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON form of a frame (frame-json.h): every frame type written as JSON and read back is
 * the same frame, and every malformed JSON frame is refused with a reason a WebSocket client
 * is told.
 */

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "proto/frame-json.h"
#include "proto/frame.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/test-util.h"

#define MAX_SIZE (1024u * 1024u)

/* A frame of each type with every field its type allows. */
static const struct {
        enum mbus_frame_type type;
        struct mbus_frame_fields f;
        const char *body;
} samples[] = {
        { MBUS_FRAME_HELLO, { .serial = 1 }, "{\"name\":\"page\"}" },
        { MBUS_FRAME_WELCOME, { .reply_serial = 1 }, "{\"id\":\":1.7\",\"protocol\":1}" },
        { MBUS_FRAME_REGISTER, { .serial = 2, .namespace = "org.example.Echo" }, "{\"procedures\":[]}" },
        { MBUS_FRAME_UNREGISTER, { .serial = 3, .namespace = "org.example.Echo" }, NULL },
        { MBUS_FRAME_CALL, { .serial = UINT64_MAX, .namespace = "org.example.Echo", .member = "Echo",
                             .timeout_usec = 1500000, .sender = ":1.4" }, "[1,\"two\",{\"3\":null}]" },
        { MBUS_FRAME_RETURN, { .reply_serial = 5, .destination = ":1.4", .sender = ":1.9" }, "\"caf\xc3\xa9\"" },
        { MBUS_FRAME_ERROR, { .reply_serial = 6, .error_name = "org.mbus.Error.Timeout", .destination = ":1.4",
                              .sender = ":1.0" }, "{\"message\":\"too slow\"}" },
        { MBUS_FRAME_EVENT, { .serial = 7, .namespace = "org.example.Net", .member = "Changed",
                              .destination = ":1.2", .sender = ":1.3" }, "{\"up\":true}" },
        { MBUS_FRAME_SUBSCRIBE, { .serial = 8, .pattern = "org.example.*" }, NULL },
        { MBUS_FRAME_UNSUBSCRIBE, { .serial = 9, .pattern = "org.example.Net.Changed" }, NULL },
        { MBUS_FRAME_PING, { .serial = 10 }, NULL },
        { MBUS_FRAME_PONG, { .reply_serial = 10 }, NULL },
        /* A body that is not JSON travels as body_text. */
        { MBUS_FRAME_EVENT, { .serial = 11, .namespace = "org.example.Raw", .member = "Bytes" }, "not json {" },
};

static bool same_frame(const struct mbus_frame *a, const struct mbus_frame *b) {
        return a->type == b->type && a->head_len == b->head_len && memcmp(a->head, b->head, a->head_len) == 0 &&
               a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0;
}

START_TEST(test_every_frame_type_round_trips_through_json) {
        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL, *back = NULL;
                _cleanup_json_ json_object *o = NULL, *o2 = NULL;
                const char *reason = NULL, *text, *type;
                char *copy;
                int r;

                ck_assert_int_eq(mbus_frame_new(&f, samples[i].type, &samples[i].f, samples[i].body,
                                                samples[i].body ? strlen(samples[i].body) : 0), 0);
                ck_assert_int_eq(mbus_frame_to_json(f, &o), 0);
                type = json_get_string(o, "type");
                ck_assert_str_eq(type, mbus_frame_type_to_string(samples[i].type));
                ck_assert(json_object_object_get_ex(o, "body", NULL) ==
                          (samples[i].body && strcmp(samples[i].body, "not json {") != 0));
                ck_assert(json_object_object_get_ex(o, "body_text", NULL) ==
                          (samples[i].body && strcmp(samples[i].body, "not json {") == 0));

                text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                copy = strdup(text);
                r = mbus_frame_from_json(&back, copy, strlen(copy), MAX_SIZE, &reason);
                ck_assert_msg(r == 0, "%s: %s", copy, reason ?: "?");
                ck_assert_msg(same_frame(f, back), "%s changed on the way", copy);

                /* And the JSON form is a fixed point. */
                ck_assert_int_eq(mbus_frame_to_json(back, &o2), 0);
                ck_assert_str_eq(json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN), copy);
                free(copy);
        }
}
END_TEST

START_TEST(test_json_spelling_of_a_call) {
        static const char text[] = "{\"type\":\"CALL\",\"serial\":2,\"namespace\":\"org.mbus.Broker\","
                                   "\"member\":\"ListNamespaces\",\"timeout\":250000,\"body\":{\"a\": [1, 2]}}";
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

        ck_assert_int_eq(mbus_frame_from_json(&f, text, strlen(text), MAX_SIZE, NULL), 0);
        ck_assert_int_eq(f->type, MBUS_FRAME_CALL);
        ck_assert_uint_eq(f->f.serial, 2);
        ck_assert_uint_eq(f->f.timeout_usec, 250000);
        ck_assert_str_eq(f->f.namespace, "org.mbus.Broker");
        ck_assert_str_eq(f->f.member, "ListNamespaces");
        ck_assert_str_eq((const char *) f->body, "{\"a\":[1,2]}");
}
END_TEST

START_TEST(test_null_body_is_no_body) {
        static const char text[] = "{\"type\":\"PING\",\"serial\":1,\"body\":null}";
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

        ck_assert_int_eq(mbus_frame_from_json(&f, text, strlen(text), MAX_SIZE, NULL), 0);
        ck_assert_uint_eq(f->body_len, 0);
}
END_TEST

START_TEST(test_malformed_json_frames_are_refused_with_a_reason) {
        static const struct {
                const char *text;
                const char *reason;
        } cases[] = {
                { "", "text message is not valid JSON" },
                { "{\"type\":", "text message is not valid JSON" },
                { "{\"type\":\"PING\",\"serial\":1} trailing", "text message is not valid JSON" },
                { "[\"PING\"]", "text message is not a JSON object" },
                { "\"PING\"", "text message is not a JSON object" },
                { "{\"serial\":1}", "JSON frame without a type" },
                { "{\"type\":\"NOPE\",\"serial\":1}", "unknown frame type in JSON" },
                { "{\"type\":8,\"serial\":1}", "unknown frame type in JSON" },
                { "{\"type\":\"ping\",\"serial\":1}", "unknown frame type in JSON" },
                { "{\"type\":\"PING\",\"serial\":1,\"colour\":\"red\"}", "unknown key in JSON frame" },
                { "{\"type\":\"PING\",\"serial\":\"1\"}", "JSON frame field is not an integer" },
                { "{\"type\":\"PING\",\"serial\":1.5}", "JSON frame field is not an integer" },
                { "{\"type\":\"PING\",\"serial\":-1}", "JSON frame field is negative" },
                { "{\"type\":\"SUBSCRIBE\",\"serial\":1,\"pattern\":7}", "JSON frame field is not a string" },
                { "{\"type\":\"SUBSCRIBE\",\"serial\":1,\"pattern\":\"org.a\\u0000b\"}",
                  "JSON frame field contains a NUL character" },
                { "{\"type\":\"PING\",\"serial\":1,\"body\":1,\"body_text\":\"x\"}",
                  "JSON frame with both body and body_text" },
                { "{\"type\":\"PING\",\"serial\":1,\"body_text\":{}}", "JSON frame body_text is not a string" },
                /* Held to the binary form's rules: mbus_frame_parse()'s reasons. */
                { "{\"type\":\"PING\"}", "missing serial field" },
                { "{\"type\":\"PING\",\"serial\":0}", "missing serial field" },
                { "{\"type\":\"CALL\",\"serial\":1,\"namespace\":\"nodots\",\"member\":\"M\"}", NULL },
                { "{\"type\":\"PING\",\"serial\":1,\"namespace\":\"org.example.X\"}", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct mbus_frame *f = NULL;
                const char *reason = NULL;
                int r;

                r = mbus_frame_from_json(&f, cases[i].text, strlen(cases[i].text), MAX_SIZE, &reason);
                ck_assert_msg(r == -EBADMSG, "%s: %d", cases[i].text, r);
                ck_assert_ptr_null(f);
                ck_assert_msg(reason && reason[0], "%s: no reason", cases[i].text);
                if (cases[i].reason)
                        ck_assert_msg(strcmp(reason, cases[i].reason) == 0, "%s: \"%s\"", cases[i].text, reason);
        }
}
END_TEST

START_TEST(test_json_frame_over_the_size_limit_is_refused) {
        _cleanup_free_ char *text = malloc(9000);
        struct mbus_frame *f = NULL;
        const char *reason = NULL;
        int r;

        ck_assert_ptr_nonnull(text);
        (void) snprintf(text, 9000, "{\"type\":\"PING\",\"serial\":1,\"body_text\":\"%08000d\"}", 0);
        r = mbus_frame_from_json(&f, text, strlen(text), 4096, &reason);
        ck_assert_int_eq(r, -EMSGSIZE);
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(reason);
}
END_TEST

START_TEST(test_uint64_fields_keep_their_full_range) {
        static const char text[] = "{\"type\":\"PING\",\"serial\":18446744073709551615}";
        _cleanup_(mbus_frame_unrefp) struct mbus_frame *f = NULL;

        ck_assert_int_eq(mbus_frame_from_json(&f, text, strlen(text), MAX_SIZE, NULL), 0);
        ck_assert_uint_eq(f->f.serial, UINT64_MAX);
}
END_TEST

static Suite *frame_json_suite(void) {
        Suite *s = suite_create("frame-json");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_every_frame_type_round_trips_through_json);
        tcase_add_test(tc, test_json_spelling_of_a_call);
        tcase_add_test(tc, test_null_body_is_no_body);
        tcase_add_test(tc, test_malformed_json_frames_are_refused_with_a_reason);
        tcase_add_test(tc, test_json_frame_over_the_size_limit_is_refused);
        tcase_add_test(tc, test_uint64_fields_keep_their_full_range);
        suite_add_tcase(s, tc);
        return s;
}

MBUS_TEST_MAIN(frame_json_suite)
