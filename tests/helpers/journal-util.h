/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Test helpers: reading the broker's entries back from the systemd journal. */

/*
 * journald writes asynchronously, so a test that made the broker log something waits for the
 * entry: test_journal_wait() reopens the journal (libsystemd's sd-journal reader) every few
 * milliseconds until enough entries match. Entries are read from a start time on
 * (test_journal_now() taken before the broker started), so those of earlier runs never count.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEST_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* True if a journald listens on TEST_JOURNAL_SOCKET (a socket file left behind by a journald
 * that has exited is not enough). */
bool test_journal_available(void);
/* CLOCK_REALTIME in microseconds, the clock of the journal's entries. */
uint64_t test_journal_now(void);

/* One entry: its fields as "NAME=value" strings (a value's bytes as journald stored them). */
struct test_journal_entry {
        char **fields;
        size_t n_fields;
};
struct test_journal_entries {
        struct test_journal_entry *entries;
        size_t n;
};

/*
 * Waits up to timeout_ms until at least min entries written at or after since (µs of
 * CLOCK_REALTIME) match every one of matches ("FIELD=value", NULL-terminated; two of the same
 * field mean either), then collects all that match, oldest first, into ret (which the caller
 * frees with test_journal_entries_done(), also on failure). Returns the number collected, which
 * is below min if the time ran out, or a negative errno.
 */
int test_journal_wait(const char *const *matches, uint64_t since, size_t min, int timeout_ms,
                      struct test_journal_entries *ret);
void test_journal_entries_done(struct test_journal_entries *e);

/* The value of field (NUL-terminated), or NULL if the entry does not have it. */
const char *test_journal_get(const struct test_journal_entry *e, const char *field);
/* The whole entry, one "NAME=value" a line, for failure messages (static storage). */
const char *test_journal_format(const struct test_journal_entry *e);
