/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading journal entries back with libsystemd's sd-journal reader; see journal-util.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "helpers/broker-util.h"
#include "helpers/journal-util.h"

bool test_journal_available(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = TEST_JOURNAL_SOCKET };
        int fd;
        bool ok;

        /* a datagram connect() is refused at once when nobody is bound to the file */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        ok = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

uint64_t test_journal_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void entry_done(struct test_journal_entry *e) {
        for (size_t i = 0; i < e->n_fields; i++)
                free(e->fields[i]);
        free(e->fields);
        *e = (struct test_journal_entry) {};
}

void test_journal_entries_done(struct test_journal_entries *e) {
        for (size_t i = 0; i < e->n; i++)
                entry_done(&e->entries[i]);
        free(e->entries);
        *e = (struct test_journal_entries) {};
}

/* Copies the fields of j's current entry into e. */
static int entry_read(sd_journal *j, struct test_journal_entry *e) {
        const void *data;
        size_t len;
        int r;

        *e = (struct test_journal_entry) {};
        sd_journal_restart_data(j);
        while ((r = sd_journal_enumerate_data(j, &data, &len)) > 0) {
                char **f = realloc(e->fields, (e->n_fields + 1) * sizeof(char *));
                if (!f)
                        return -ENOMEM;
                e->fields = f;
                e->fields[e->n_fields] = strndup(data, len);
                if (!e->fields[e->n_fields])
                        return -ENOMEM;
                e->n_fields++;
        }
        return r;
}

/* Opens the journal, positioned before the first matching entry written at or after since. */
static int journal_open(const char *const *matches, uint64_t since, sd_journal **ret) {
        sd_journal *j = NULL;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        for (size_t i = 0; matches && matches[i]; i++) {
                r = sd_journal_add_match(j, matches[i], 0);
                if (r < 0)
                        goto fail;
        }
        r = sd_journal_seek_realtime_usec(j, since);
        if (r < 0)
                goto fail;
        *ret = j;
        return 0;
fail:
        sd_journal_close(j);
        return r;
}

/* The next matching entry at or after since: 1, 0 at the end, or a negative errno. */
static int journal_next(sd_journal *j, uint64_t since) {
        uint64_t t;
        int r;

        while ((r = sd_journal_next(j)) > 0) {
                r = sd_journal_get_realtime_usec(j, &t);
                if (r < 0)
                        return r;
                if (t >= since)
                        return 1;
        }
        return r;
}

int test_journal_wait(const char *const *matches, uint64_t since, size_t min, int timeout_ms,
                      struct test_journal_entries *ret) {
        long long deadline = test_now_ms() + timeout_ms;
        sd_journal *j;
        size_t n;
        int r;

        *ret = (struct test_journal_entries) {};
        for (;;) {
                r = journal_open(matches, since, &j);
                if (r < 0)
                        return r;
                n = 0;
                while ((r = journal_next(j, since)) > 0)
                        n++;
                if (r < 0 || n >= min || test_now_ms() >= deadline)
                        break;
                sd_journal_close(j);
                (void) usleep(20 * 1000);
        }
        if (r < 0)
                goto out;

        /* read again: the journal may have grown, and that is what the caller should see */
        r = sd_journal_seek_realtime_usec(j, since);
        while (r >= 0 && (r = journal_next(j, since)) > 0) {
                struct test_journal_entry *e = realloc(ret->entries, (ret->n + 1) * sizeof(*e));
                if (!e) {
                        r = -ENOMEM;
                        break;
                }
                ret->entries = e;
                r = entry_read(j, &ret->entries[ret->n]);
                ret->n++;
        }
out:
        sd_journal_close(j);
        return r < 0 ? r : (int) ret->n;
}

const char *test_journal_get(const struct test_journal_entry *e, const char *field) {
        size_t len = strlen(field);

        for (size_t i = 0; i < e->n_fields; i++)
                if (strncmp(e->fields[i], field, len) == 0 && e->fields[i][len] == '=')
                        return e->fields[i] + len + 1;
        return NULL;
}

const char *test_journal_format(const struct test_journal_entry *e) {
        static char buf[16384];
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; e && i < e->n_fields && n < sizeof(buf) - 1; i++) {
                int k = snprintf(buf + n, sizeof(buf) - n, "  %s\n", e->fields[i]);
                if (k < 0)
                        break;
                n += (size_t) k;
        }
        return buf;
}
