/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Test helpers: org.mbus.Broker's paged lists, a page at a time or walked whole. */

/*
 * The list procedures (ListPeers, ListNamespaces, ListActivatable, GetUserStats) answer a page:
 * {KEY: [...], "next": CURSOR or null}, called with {"after": CURSOR, "limit": N}. These walk
 * them as a caller must, following "next" until it is null, and assert (Check) what every page
 * promises: a reply frame no larger than the frame size the broker announced, and entries on
 * every page that names a next one.
 */

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

/* The size of the frame waiting to be read on fd (header included), peeked within 20 s. */
size_t test_raw_peek_frame_size(int fd);

/*
 * Calls member of org.mbus.Broker with args (JSON text, NULL: none) as serial on the raw
 * connection fd, asserts the reply frame is at most frame_limit bytes, and returns the RETURN's
 * body parsed (the caller puts it), or NULL with the ERROR's name in *ret_error (static storage).
 */
json_object *test_raw_broker_call(int fd, uint64_t serial, const char *member, const char *args, size_t frame_limit,
                                  const char **ret_error);

/*
 * Walks member's pages on the raw connection fd from the start, with "limit": limit (0: none
 * given), serials from *serial on: every reply frame at most frame_limit bytes, every page at
 * most limit entries (if given), and none empty that names a next one. Returns the entries of
 * KEY of all pages in order, in a new array, and the number of pages in *ret_pages (may be NULL).
 */
json_object *test_raw_list_all(int fd, uint64_t *serial, const char *member, const char *key, int64_t limit,
                               size_t frame_limit, size_t *ret_pages);

/* The same walk with libmbus on conn, default page size (libmbus checks frame sizes itself). */
json_object *test_list_all(struct mbus_conn *conn, const char *member, const char *key);
