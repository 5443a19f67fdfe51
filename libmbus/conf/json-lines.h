/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* JSON configuration text read with json-c, which keeps no positions, and its line numbers. */

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "conf/file-error.h"

/* The scanner's stack: deeper text is refused (a json-c tokener made with a lower depth
 * limit never accepts it). */
#define MBUS_JSON_LINES_DEPTH_MAX 32

/* One open container on the way from the top-level value to an array element. */
struct mbus_json_lines_step {
        bool object;                    /* an object, else an array */
        unsigned key;                   /* object: the key being read, an index into keys (0: any other) */
        const char *key_text;           /* object: that key as written (escapes kept); NULL before one */
        size_t key_len;
        size_t index;                   /* array: index of the current element */
};

/* Called where an element of an array begins: path[0] is the top-level container,
 * path[n_path - 1] the array holding the element (its index there). A negative return ends
 * the scan with it. */
typedef int (*mbus_json_lines_element_fn)(const struct mbus_json_lines_step *path, size_t n_path, unsigned line,
                                          void *userdata);

struct mbus_json_lines {
        const char *path;               /* file name for errors */
        struct mbus_file_error *err;    /* may be NULL */
        /* The keys that have an id: keys[0] stands for every other key and is never matched,
         * so an enum with X_OTHER = 0 indexes the table. At most 32 entries. */
        const char *const *keys;
        size_t n_keys;
        mbus_json_lines_element_fn on_element;   /* may be NULL */
        void *userdata;
};

/*
 * Walks text, which json-c has accepted as valid JSON, once: calls on_element for the start of
 * every array element, in document order, and fails with -EBADMSG ("duplicate key 'K'" at its
 * line, in err) when a key of the table appears twice in one object, which json-c would
 * silently collapse to the last value. *ret_top_line (may be NULL) gets the line of the
 * outermost '{' or '[' (1 if the text holds no container).
 */
int mbus_json_lines_scan(const struct mbus_json_lines *s, const char *text, size_t len, unsigned *ret_top_line);

/* Index of the key s[0..len) in keys[1..n_keys), or 0. */
unsigned mbus_json_lines_key(const char *const *keys, size_t n_keys, const char *s, size_t len);

/*
 * Parses text (len bytes; a NUL byte is refused) as one strict JSON value nested at most
 * max_depth deep and followed by nothing but white space. A syntax error is -EBADMSG with its
 * line in err (may be NULL): "JSON syntax error: ...", or "... unexpected text after WHAT"
 * (what: "the policy"). *ret is written only on success.
 */
int mbus_json_lines_parse(json_object **ret, const char *path, const char *text, size_t len, int max_depth,
                          const char *what, struct mbus_file_error *err);
