/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Structured logging: the journal with MBUS_* fields, or one readable stderr line. */

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

#include "util/macro.h"
#include "util/time-util.h"

struct mbus_peer;

enum mbus_log_target {
        MBUS_LOG_TARGET_AUTO,
        MBUS_LOG_TARGET_JOURNAL,
        MBUS_LOG_TARGET_CONSOLE,
        _MBUS_LOG_TARGET_MAX,
        _MBUS_LOG_TARGET_INVALID = -EINVAL,
};

/* What one entry is about; every member is optional. */
struct mbus_log_fields {
        const char *msgid;
        const struct mbus_peer *peer;
        const char *ns, *member;
        const char *action, *rule;      /* access decisions: MBUS_ACTION=, MBUS_RULE= */
};
#define MBUS_FIELDS(...) (&(const struct mbus_log_fields){ __VA_ARGS__ })

/* Process-wide settings (the one global besides parsed argv). AUTO resolves at set time. */
void mbus_log_set_target(enum mbus_log_target target);
void mbus_log_set_max_level(int level);
enum mbus_log_target mbus_log_get_target(void);   /* JOURNAL or CONSOLE once set */
int mbus_log_get_max_level(void);
enum mbus_log_target mbus_log_target_from_string(const char *s);
int mbus_log_level_from_string(const char *s);   /* LOG_ERR..LOG_DEBUG, or -EINVAL */
const char *mbus_log_level_to_string(int level);  /* "err".."debug", or "?" */

/*
 * Writes one entry if level passes the maximum level. err (a negative or positive errno, or 0)
 * adds ERRNO= and is what the function returns, as -abs(err), so callers can write
 * "return mbus_log(...);".
 */
int mbus_log_internal(int level, int err, const struct mbus_log_fields *fields, const char *file,
                      int line, const char *func, const char *format, ...) _printf_(7, 8);

#define mbus_log(level, err, fields, ...) \
        mbus_log_internal((level), (err), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)

static inline bool mbus_log_enabled(int level) {
        return level <= mbus_log_get_max_level();
}

/* At most burst entries per interval; counts what it suppressed. */
struct mbus_ratelimit {
        usec_t interval;
        unsigned burst;
        usec_t begin;
        unsigned n;
        unsigned n_suppressed;
};
#define MBUS_RATELIMIT_INIT(i, b) ((struct mbus_ratelimit) { .interval = (i), .burst = (b) })

/* True if one more entry may be written now; false means suppress it (and it is counted). */
bool mbus_ratelimit_below(struct mbus_ratelimit *rl, usec_t now);
