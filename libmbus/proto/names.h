/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Validation of every name that travels in a frame, and subscription pattern matching. */

/*
 * namespace   reverse-DNS, 2..32 labels joined by '.', each label [A-Za-z_][A-Za-z0-9_-]*,
 *             at most 255 bytes in all: org.example.Network
 * member      a procedure or event name, [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes: StateChanged
 * peer id     ":1." followed by a decimal number without leading zeros: ":1.42"
 * error name  like a namespace, with at least 2 labels: org.mbus.Error.Timeout
 * pattern     "*", a full event name "NAMESPACE.MEMBER", or a label prefix followed by ".*"
 *             ("org.example.*", "org.example.Network.*"): a wildcard matches whole labels only
 * All names are ASCII, so a byte >= 0x80 anywhere makes a name invalid.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBUS_NAME_MAX 255

bool mbus_namespace_is_valid(const char *s);
bool mbus_member_is_valid(const char *s);
bool mbus_peer_id_is_valid(const char *s);
bool mbus_error_name_is_valid(const char *s);
bool mbus_pattern_is_valid(const char *s);

/* True if s (len bytes) is well-formed UTF-8 with no overlong forms, surrogates or NUL. */
bool mbus_utf8_is_valid(const char *s, size_t len);
/* The length of the well-formed UTF-8 character (not NUL) at s (len bytes left), or 0 if none. */
size_t mbus_utf8_char_len(const char *s, size_t len);

/* True if s is valid UTF-8 without control characters (U+0000-U+001F, U+007F): free text from a
 * peer, such as a client name or a certificate CN, that may go into a caller_* field or a log. */
bool mbus_text_is_printable(const char *s);

/*
 * True if the event NAMESPACE.MEMBER matches pattern (which must be valid). For tests and for
 * clients that dispatch locally; the broker uses an index (daemon/match.c) instead of calling
 * this for every subscription.
 */
bool mbus_pattern_matches(const char *pattern, const char *ns, const char *member);

/* Formats ":1.<id>" into buf (at least MBUS_PEER_ID_MAX bytes). Returns buf. */
#define MBUS_PEER_ID_MAX 24
char *mbus_peer_id_format(char buf[static MBUS_PEER_ID_MAX], uint64_t id);

/* Parses ":1.<id>" into *ret. Returns 0, or -EINVAL if s is not a valid peer id. */
int mbus_peer_id_parse(const char *s, uint64_t *ret);
