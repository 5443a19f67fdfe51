/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One entry per call. To the journal: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, ERRNO, MESSAGE_ID,
 * the caller's CODE_FILE/CODE_LINE/CODE_FUNC, and MBUS_PEER/MBUS_PEER_NAME/MBUS_UID/MBUS_PID/
 * MBUS_TRANSPORT (MBUS_REMOTE_ADDRESS/MBUS_CERT_CN for network peers)/MBUS_NAMESPACE/
 * MBUS_MEMBER (and MBUS_ACTION/MBUS_RULE for access decisions) when known, so
 * `journalctl MBUS_PEER=:1.7` finds one peer's story. Without a journal: one readable line on
 * stderr. The target and level are the only process-wide state of the daemon besides parsed
 * argv.
 */

#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "peer.h"
#include "util/fd-util.h"

#define LOG_IDENTIFIER_FIELD "SYSLOG_IDENTIFIER=mbus-broker"

static enum mbus_log_target log_target = MBUS_LOG_TARGET_CONSOLE;
static int log_max_level = LOG_INFO;

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",
        [LOG_ALERT] = "alert",
        [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",
        [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

/*
 * A socket file alone proves nothing: a journald that exited leaves it behind, and every entry
 * sent there would be lost. Connecting proves someone listens, as systemd's own log code does.
 */
static bool log_journal_listens(void) {
        static const struct sockaddr_un sa = {
                .sun_family = AF_UNIX,
                .sun_path = "/run/systemd/journal/socket",
        };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        return connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) >= 0;
}

void mbus_log_set_target(enum mbus_log_target target) {
        if (target == MBUS_LOG_TARGET_AUTO)
                target = log_journal_listens() ? MBUS_LOG_TARGET_JOURNAL : MBUS_LOG_TARGET_CONSOLE;
        log_target = target;
}

void mbus_log_set_max_level(int level) {
        log_max_level = level;
}

enum mbus_log_target mbus_log_get_target(void) {
        return log_target;
}

int mbus_log_get_max_level(void) {
        return log_max_level;
}

enum mbus_log_target mbus_log_target_from_string(const char *s) {
        if (!s)
                return _MBUS_LOG_TARGET_INVALID;
        if (strcmp(s, "auto") == 0)
                return MBUS_LOG_TARGET_AUTO;
        if (strcmp(s, "journal") == 0)
                return MBUS_LOG_TARGET_JOURNAL;
        if (strcmp(s, "console") == 0)
                return MBUS_LOG_TARGET_CONSOLE;
        return _MBUS_LOG_TARGET_INVALID;
}

const char *mbus_log_level_to_string(int level) {
        return level >= 0 && level < (int) ELEMENTSOF(log_level_names) && log_level_names[level] ?
                log_level_names[level] : "?";
}

int mbus_log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(log_level_names); i++)
                if (strcmp(s, log_level_names[i]) == 0)
                        return (int) i;
        if (strcmp(s, "error") == 0)
                return LOG_ERR;
        if (strcmp(s, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

static int log_to_journal(int level, int err, const struct mbus_log_fields *fields, const char *file,
                           int line, const char *func, const char *message) {
        char priority[32], errno_field[32], code_file[256], code_line[32], code_func[128], msgid[64],
                peer_field[48], uid_field[32], pid_field[32], name_field[300], ns_field[300],
                member_field[300], action_field[64], rule_field[600], transport_field[32],
                remote_field[MBUS_SOCKADDR_FORMAT_MAX + 32], cn_field[300];
        _cleanup_free_ char *message_field = NULL;
        struct iovec iov[24];
        size_t n = 0;

#define ADD(buf, ...)                                                               \
        do {                                                                        \
                (void) snprintf(buf, sizeof(buf), __VA_ARGS__);                     \
                iov[n++] = (struct iovec) { .iov_base = buf, .iov_len = strlen(buf) }; \
        } while (0)

        if (asprintf(&message_field, "MESSAGE=%s", message) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { .iov_base = message_field, .iov_len = strlen(message_field) };
        ADD(priority, "PRIORITY=%i", level);
        iov[n++] = (struct iovec) { .iov_base = (char *) LOG_IDENTIFIER_FIELD,
                                    .iov_len = sizeof(LOG_IDENTIFIER_FIELD) - 1 };
        if (err != 0)
                ADD(errno_field, "ERRNO=%i", abs(err));
        ADD(code_file, "CODE_FILE=%s", file);
        ADD(code_line, "CODE_LINE=%i", line);
        ADD(code_func, "CODE_FUNC=%s", func);
        if (fields) {
                if (fields->msgid)
                        ADD(msgid, "MESSAGE_ID=%s", fields->msgid);
                if (fields->peer) {
                        ADD(peer_field, "MBUS_PEER=:1.%" PRIu64, fields->peer->id);
                        if (fields->peer->creds.uid != (uid_t) -1)
                                ADD(uid_field, "MBUS_UID=%u", (unsigned) fields->peer->creds.uid);
                        if (fields->peer->creds.pid > 0)
                                ADD(pid_field, "MBUS_PID=%i", (int) fields->peer->creds.pid);
                        if (fields->peer->name)
                                ADD(name_field, "MBUS_PEER_NAME=%s", fields->peer->name);
                        ADD(transport_field, "MBUS_TRANSPORT=%s", fields->peer->creds.transport);
                        if (fields->peer->creds.remote) {
                                ADD(remote_field, "MBUS_REMOTE_ADDRESS=%s", fields->peer->creds.remote->address);
                                if (fields->peer->creds.remote->cert.cn)
                                        ADD(cn_field, "MBUS_CERT_CN=%s", fields->peer->creds.remote->cert.cn);
                        }
                }
                if (fields->ns)
                        ADD(ns_field, "MBUS_NAMESPACE=%s", fields->ns);
                if (fields->member)
                        ADD(member_field, "MBUS_MEMBER=%s", fields->member);
                if (fields->action)
                        ADD(action_field, "MBUS_ACTION=%s", fields->action);
                if (fields->rule)
                        ADD(rule_field, "MBUS_RULE=%s", fields->rule);
        }
#undef ADD
        return sd_journal_sendv(iov, (int) n);
}

static void log_to_console(int level, int err, const struct mbus_log_fields *fields, const char *message) {
        char peer[128] = "";

        if (fields && fields->peer) {
                if (fields->peer->creds.uid != (uid_t) -1)
                        (void) snprintf(peer, sizeof(peer), " [peer :1.%" PRIu64 " uid=%u pid=%i]",
                                        fields->peer->id, (unsigned) fields->peer->creds.uid,
                                        (int) fields->peer->creds.pid);
                else
                        (void) snprintf(peer, sizeof(peer), " [peer :1.%" PRIu64 "]", fields->peer->id);
        }
        (void) fprintf(stderr, "mbus-broker[%i]: %s: %s%s\n", (int) getpid(),
                       level >= 0 && level < (int) ELEMENTSOF(log_level_names) ? log_level_names[level] : "?",
                       message, peer);
}

int mbus_log_internal(int level, int err, const struct mbus_log_fields *fields, const char *file,
                      int line, const char *func, const char *format, ...) {
        char buf[1024];
        va_list ap;
        int saved_errno = errno;

        if (level > log_max_level)
                return -abs(err);

        va_start(ap, format);
        (void) vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        /* An entry the journal refused goes to stderr rather than nowhere. */
        if (log_target != MBUS_LOG_TARGET_JOURNAL || log_to_journal(level, err, fields, file, line, func, buf) < 0)
                log_to_console(level, err, fields, buf);

        errno = saved_errno;
        return -abs(err);
}

bool mbus_ratelimit_below(struct mbus_ratelimit *rl, usec_t now) {
        if (rl->begin == 0 || now >= rl->begin + rl->interval) {
                rl->begin = now;
                rl->n = 0;
        }
        if (rl->n < rl->burst) {
                rl->n++;
                return true;
        }
        rl->n_suppressed++;
        return false;
}
