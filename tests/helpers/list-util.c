/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Paged broker lists for tests: one page on a raw connection, where the reply frame's size can
 * be seen before it is read, and whole walks that follow "next" as every in-tree caller does.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>

#include <mbus/mbus-errors.h>

#include "helpers/broker-util.h"
#include "helpers/list-util.h"
#include "helpers/raw-util.h"
#include "proto/frame.h"

size_t test_raw_peek_frame_size(int fd) {
        uint8_t h[MBUS_FRAME_HEADER_SIZE];
        struct pollfd p = { .fd = fd, .events = POLLIN };

        ck_assert_int_eq(poll(&p, 1, 20000), 1);
        ck_assert_int_eq(recv(fd, h, sizeof(h), MSG_PEEK | MSG_WAITALL), (ssize_t) sizeof(h));
        return MBUS_FRAME_HEADER_SIZE + ((size_t) h[4] | (size_t) h[5] << 8 | (size_t) h[6] << 16 | (size_t) h[7] << 24) +
               ((size_t) h[8] | (size_t) h[9] << 8 | (size_t) h[10] << 16 | (size_t) h[11] << 24);
}

json_object *test_raw_broker_call(int fd, uint64_t serial, const char *member, const char *args, size_t frame_limit,
                                  const char **ret_error) {
        struct raw_frame r = {};
        json_object *o;

        ck_assert_int_eq(raw_send_simple(fd, MBUS_FRAME_CALL, serial, 0, MBUS_BROKER_NAMESPACE, member, NULL, NULL, NULL,
                                         args), 0);
        ck_assert_uint_le(test_raw_peek_frame_size(fd), frame_limit);
        ck_assert_int_eq(raw_recv(fd, 20000, &r), 0);
        ck_assert_uint_eq(r.reply_serial, serial);
        *ret_error = NULL;
        if (r.type == MBUS_FRAME_ERROR) {
                static char name[128];

                snprintf(name, sizeof(name), "%s", r.error_name);
                *ret_error = name;
                raw_frame_done(&r);
                return NULL;
        }
        ck_assert_int_eq(r.type, MBUS_FRAME_RETURN);
        o = json_tokener_parse(r.body);
        ck_assert_ptr_nonnull(o);
        raw_frame_done(&r);
        return o;
}

/* Moves the entries of page's KEY to all; returns how many there were. The cursor for the next
 * page (malloc'd, NULL at the end) in *ret_next. */
static size_t list_take_page(json_object *page, const char *key, json_object *all, char **ret_next) {
        json_object *list;
        const char *next;
        size_t n;

        ck_assert_msg(json_object_object_get_ex(page, key, &list), "no \"%s\" in %s", key,
                      json_object_to_json_string(page));
        n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(json_object_array_add(all, json_object_get(json_object_array_get_idx(list, i))), 0);
        next = test_json_str(page, "next");
        *ret_next = next ? strdup(next) : NULL;
        ck_assert(!next || *ret_next);
        return n;
}

/* {"after": after, "limit": limit}, leaving out what is not given; NULL if neither is. */
static char *list_args(const char *after, int64_t limit) {
        json_object *o = json_object_new_object();
        char *s;

        if (after)
                json_object_object_add(o, "after", json_object_new_string(after));
        if (limit > 0)
                json_object_object_add(o, "limit", json_object_new_int64(limit));
        s = json_object_object_length(o) > 0 ? strdup(json_object_to_json_string(o)) : NULL;
        json_object_put(o);
        return s;
}

json_object *test_raw_list_all(int fd, uint64_t *serial, const char *member, const char *key, int64_t limit,
                               size_t frame_limit, size_t *ret_pages) {
        json_object *all = json_object_new_array();
        char *after = NULL;
        size_t pages = 0;

        ck_assert_ptr_nonnull(all);
        do {
                const char *error;
                char *args = list_args(after, limit);
                json_object *page = test_raw_broker_call(fd, (*serial)++, member, args, frame_limit, &error);
                size_t n;

                ck_assert_msg(page, "%s %s: %s", member, args ? args : "", error);
                free(args);
                free(after);
                n = list_take_page(page, key, all, &after);
                json_object_put(page);
                pages++;
                ck_assert_msg(!after || n > 0, "%s: an empty page names a next one", member);
                ck_assert_msg(limit <= 0 || n <= (size_t) limit, "%s: %zu entries over limit %" PRId64, member, n,
                              limit);
                ck_assert_uint_lt(pages, 10000);
        } while (after);
        if (ret_pages)
                *ret_pages = pages;
        return all;
}

json_object *test_list_all(struct mbus_conn *conn, const char *member, const char *key) {
        json_object *all = json_object_new_array();
        char *after = NULL;
        size_t pages = 0;

        ck_assert_ptr_nonnull(all);
        do {
                struct mbus_error error = MBUS_ERROR_NULL;
                char *args_text = list_args(after, 0);
                json_object *args = args_text ? json_tokener_parse(args_text) : NULL, *page = NULL;
                size_t n;
                int r;

                r = mbus_call(conn, MBUS_BROKER_NAMESPACE, member, args, 0, &page, &error);
                ck_assert_msg(r >= 0, "%s: %s", member, error.message ? error.message : strerror(-r));
                mbus_error_free(&error);
                json_object_put(args);
                free(args_text);
                free(after);
                n = list_take_page(page, key, all, &after);
                json_object_put(page);
                ck_assert_msg(!after || n > 0, "%s: an empty page names a next one", member);
                ck_assert_uint_lt(++pages, 10000);
        } while (after);
        return all;
}
