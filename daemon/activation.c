/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * On-demand activation. A namespace whose interface file names a systemd unit
 * (systemd-service=) or a command line (exec=) is activatable: a CALL to it while it has no
 * owner lands here instead of failing with NoSuchNamespace. The first such call starts the
 * service; it and the calls after it wait in a queue of their namespace (one struct
 * activation per namespace being started, so concurrent calls trigger one start) until:
 *
 *   - the service registers: mbus_activation_registered() routes every held call again, in
 *     order, exactly as if it had just arrived (policy with the real owner's uid, queue
 *     limits, the call's own deadline);
 *   - a call's own deadline passes: that call gets Timeout, the start goes on;
 *   - the start fails: StartUnit refused, the unit's job did not end in "done", the unit
 *     failed or stopped, the command could not run or exited (non-zero, a signal; exit 0 is a
 *     launcher that left a daemon behind, so waiting goes on), or --activation-timeout passed:
 *     every held call gets ActivationFailed naming that cause, and the next call starts anew.
 *
 * Every held call thus leaves by exactly one of these, and each path owes it its one answer
 * (a caller gone by then needs none). The queue is bounded per namespace and over all, so a
 * flood of calls to a service that never comes costs a bounded amount of memory and time.
 *
 * systemd units are started over the manager's D-Bus API with sd-bus, attached to the
 * broker's event loop: StartUnit(unit, "replace") returns a job, whose JobRemoved signal
 * carries its result; the unit's PropertiesChanged tells when it later fails or stops. exec
 * children run as the broker's user with MBUS_ADDRESS naming the broker's UNIX socket and are
 * reaped by an sd-event child source that outlives the activation (a child that registered
 * may run for as long as it likes).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "activation.h"
#include "broker.h"
#include "conf/idl.h"
#include "conf/introspection.h"
#include "driver.h"
#include "listener.h"
#include "log-ids.h"
#include "peer.h"
#include "proto/frame.h"
#include "reply.h"
#include "router.h"
#include "util/fd-util.h"
#include "util/hashmap.h"
#include "util/json-util.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

struct activation;

/* A held call, or (call NULL) a StartNamespace to answer with the broker's RETURN. */
struct activation_call {
        struct activation_call *next;
        uint64_t caller;
        uint64_t serial;                        /* StartNamespace's; a call's is in its frame */
        struct mbus_frame *call;                /* owned reference, or NULL */
        usec_t deadline;
};

/* An exec child: outlives its activation, until reaped. */
struct activation_child {
        struct mbus_activation_table *table;
        struct activation_child *prev, *next;
        struct activation *activation;          /* borrowed; NULL once the activation ended */
        sd_event_source *source;                /* owned */
        pid_t pid;
};

struct activation {
        struct mbus_activation_table *table;
        char *ns;                               /* key in table->starting */
        char *unit;                             /* systemd: the unit, else NULL */
        char *job;                              /* systemd: the job's object path, once known */
        char *unit_path;                        /* systemd: the unit's object path */
        bool job_done;                          /* systemd: the job ended in "done" */
        sd_bus_slot *start_slot, *unit_slot, *result_slot;
        struct activation_child *child;         /* exec: borrowed, NULL once reaped */
        struct activation_call *first, **last;
        size_t n_calls;
        usec_t deadline;                        /* the service must register by then */
        sd_event_source *timer;                 /* owned: earliest of deadline and the calls' */
};

struct mbus_activation_table {
        struct mbus_broker *broker;             /* borrowed */
        struct mbus_hashmap *starting;          /* ns -> struct activation */
        size_t n_calls;                         /* held, over all activations */
        struct activation_child *children;
        sd_bus *bus;                            /* the service manager's bus, opened on first use */
        sd_bus_slot *job_removed_slot;
};

static void activation_arm(struct activation *a);

/* --- answers ---------------------------------------------------------------------------------- */

static void activation_call_free(struct activation_call *c) {
        mbus_frame_unref(c->call);
        free(c);
}

static uint64_t activation_call_serial(const struct activation_call *c) {
        return c->call ? c->call->f.serial : c->serial;
}

static void activation_answer_error(struct mbus_activation_table *t, struct activation_call *c, int error,
                                    const char *message) {
        struct mbus_peer *caller = mbus_broker_find_peer(t->broker, c->caller);

        if (mbus_peer_is_running(caller))
                (void) mbus_reply_error(t->broker, caller, activation_call_serial(c), error, "%s", message);
}

/* Takes a out of the table and frees it; its calls must have been answered. */
static void activation_free(struct activation *a) {
        if (!a)
                return;
        assert(!a->first);
        (void) mbus_hashmap_remove(a->table->starting, a->ns);
        if (a->child)
                a->child->activation = NULL;
        sd_bus_slot_unref(a->start_slot);
        sd_bus_slot_unref(a->unit_slot);
        sd_bus_slot_unref(a->result_slot);
        sd_event_source_disable_unref(a->timer);
        free(a->unit_path);
        free(a->job);
        free(a->unit);
        free(a->ns);
        free(a);
}

/* The start failed: every held call gets ActivationFailed with the cause, then a is freed. */
static void activation_fail(struct activation *a, const char *format, ...) _printf_(2, 3);
static void activation_fail(struct activation *a, const char *format, ...) {
        struct mbus_activation_table *t = a->table;
        char cause[512], message[768];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(cause, sizeof(cause), format, ap);
        va_end(ap);

        (void) mbus_log(LOG_WARNING, -ENOEXEC, MBUS_FIELDS(.msgid = MBUS_MSGID_ACTIVATION_FAILED, .ns = a->ns),
                        "Activation of %s failed: %s (%zu calls answered ActivationFailed)", a->ns, cause,
                        a->n_calls);
        (void) snprintf(message, sizeof(message), "Could not start %s: %s", a->ns, cause);
        while (a->first) {
                struct activation_call *c = a->first;

                a->first = c->next;
                a->n_calls--;
                t->n_calls--;
                activation_answer_error(t, c, -ENOEXEC, message);
                activation_call_free(c);
        }
        a->last = &a->first;
        activation_free(a);
}

/* --- timing ----------------------------------------------------------------------------------- */

static int activation_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct activation *a = userdata;
        struct mbus_activation_table *t = a->table;
        usec_t now = mbus_broker_now(t->broker);

        if (now >= a->deadline) {
                /* A command that is still running but never registered would pile up with retries. */
                if (a->child)
                        (void) kill(a->child->pid, SIGTERM);
                activation_fail(a, "it did not register within %.1f s",
                                (double) t->broker->options->activation_timeout / USEC_PER_SEC);
                mbus_broker_dispatch_done(t->broker);
                return 0;
        }

        /* Calls whose own deadline passed: Timeout, as for any call; the start goes on. */
        for (struct activation_call **p = &a->first; *p;) {
                struct activation_call *c = *p;

                if (c->deadline > now) {
                        p = &c->next;
                        continue;
                }
                *p = c->next;
                a->n_calls--;
                t->n_calls--;
                activation_answer_error(t, c, -ETIMEDOUT, "Call timed out while its service was being started");
                activation_call_free(c);
        }
        a->last = &a->first;
        while (*a->last)
                a->last = &(*a->last)->next;
        activation_arm(a);
        mbus_broker_dispatch_done(t->broker);
        return 0;
}

static void activation_arm(struct activation *a) {
        usec_t when = a->deadline;

        for (struct activation_call *c = a->first; c; c = c->next)
                when = MIN(when, c->deadline);
        (void) sd_event_source_set_time(a->timer, when);
        (void) sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
}

/* --- exec ------------------------------------------------------------------------------------- */

static void activation_child_free(struct activation_child *ch) {
        if (ch->activation)
                ch->activation->child = NULL;
        if (ch->prev)
                ch->prev->next = ch->next;
        else
                ch->table->children = ch->next;
        if (ch->next)
                ch->next->prev = ch->prev;
        sd_event_source_disable_unref(ch->source);
        free(ch);
}

static int activation_on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct activation_child *ch = userdata;
        struct activation *a = ch->activation;
        struct mbus_broker *b = ch->table->broker;

        activation_child_free(ch);
        if (!a)
                return 0;               /* registered (or already failed) before it ended */
        if (si->si_code == CLD_EXITED && si->si_status == 0)
                return 0;               /* a launcher: the daemon it left may still register */
        if (si->si_code == CLD_EXITED)
                activation_fail(a, "its command exited with status %d before registering", si->si_status);
        else
                activation_fail(a, "its command was killed by signal %s before registering",
                                sigabbrev_np(si->si_status) ?: "?");
        mbus_broker_dispatch_done(b);
        return 0;
}

/* The path of the broker's first UNIX socket, for the child's MBUS_ADDRESS; "" if none. */
static void activation_broker_address(struct mbus_broker *b, char *buf, size_t size) {
        buf[0] = 0;
        for (size_t i = 0; i < b->n_listeners; i++) {
                struct sockaddr_un sa = {};
                socklen_t len = sizeof(sa);

                if (b->listeners[i]->ops != &mbus_listener_uds_ops)
                        continue;
                if (getsockname(b->listeners[i]->fd, (struct sockaddr *) &sa, &len) < 0 ||
                    len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == 0)
                        continue;
                (void) snprintf(buf, size, "%.*s", (int) (len - offsetof(struct sockaddr_un, sun_path)),
                                sa.sun_path);
                return;
        }
}

/* Splits command at spaces into a NULL-terminated argv in one allocation. */
static char **activation_split(const char *command) {
        size_t n = 2, len = strlen(command);
        char **argv, *copy;
        size_t i = 0;

        for (const char *p = command; *p; p++)
                n += *p == ' ';
        argv = malloc(n * sizeof(char *) + len + 1);
        if (!argv)
                return NULL;
        copy = (char *) (argv + n);
        memcpy(copy, command, len + 1);
        for (char *tok, *save = NULL, *p = copy; (tok = strtok_r(p, " ", &save)); p = NULL)
                argv[i++] = tok;
        argv[i] = NULL;
        return argv;
}

static int activation_exec(struct activation *a, const char *command, char *why, size_t why_size) {
        struct mbus_activation_table *t = a->table;
        _cleanup_free_ char **argv = NULL;
        struct activation_child *ch;
        char address[sizeof(((struct sockaddr_un *) NULL)->sun_path) + 1];
        pid_t pid;
        int r;

        argv = activation_split(command);
        if (!argv)
                return -ENOMEM;
        if (!argv[0]) {         /* the file check refuses this; the analyzer cannot know */
                (void) snprintf(why, why_size, "empty command");
                return -ENOEXEC;
        }
        activation_broker_address(t->broker, address, sizeof(address));
        ch = calloc(1, sizeof(*ch));
        if (!ch)
                return -ENOMEM;

        pid = fork();
        if (pid < 0) {
                r = -errno;
                free(ch);
                (void) snprintf(why, why_size, "fork failed: %s", strerror(-r));
                return -ENOEXEC;
        }
        if (pid == 0) {
                /* The child: a clean signal state, no stdin, its own session; then the command. */
                sigset_t none;
                int fd;

                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                (void) setsid();
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        (void) dup2(fd, STDIN_FILENO);
                if (address[0])
                        (void) setenv("MBUS_ADDRESS", address, 1);
                (void) setenv("MBUS_ACTIVATION_NAMESPACE", a->ns, 1);
                execv(argv[0], argv);
                _exit(127);     /* like a shell: the command could not be run */
        }

        ch->table = t;
        ch->pid = pid;
        r = sd_event_add_child(t->broker->event, &ch->source, pid, WEXITED, activation_on_child, ch);
        if (r < 0) {
                /* Unsupervised it would never be reaped nor time out cleanly: stop it. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                free(ch);
                (void) snprintf(why, why_size, "cannot watch its process: %s", strerror(-r));
                return -ENOEXEC;
        }
        (void) sd_event_source_set_description(ch->source, "activation-child");
        ch->next = t->children;
        if (t->children)
                t->children->prev = ch;
        t->children = ch;
        ch->activation = a;
        a->child = ch;
        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_ACTIVATION_STARTED, .ns = a->ns),
                        "Activating %s: started %s (pid %d)", a->ns, argv[0], (int) pid);
        return 0;
}

/* --- systemd ---------------------------------------------------------------------------------- */

static struct activation *activation_find_job(struct mbus_activation_table *t, const char *job) {
        size_t state = 0;
        void *v;

        while (mbus_hashmap_iterate(t->starting, &state, &v, NULL)) {
                struct activation *a = v;

                if (a->job && strcmp(a->job, job) == 0)
                        return a;
        }
        return NULL;
}

static int activation_on_result(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct activation *a = userdata;
        struct mbus_broker *b = a->table->broker;
        const char *result = NULL;

        a->result_slot = sd_bus_slot_unref(a->result_slot);
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) sd_bus_message_read(m, "v", "s", &result);
        if (result && strcmp(result, "success") == 0)
                activation_fail(a, "unit %s stopped before registering (result: success)", a->unit);
        else
                activation_fail(a, "unit %s failed (result: %s)", a->unit, result ?: "unknown");
        mbus_broker_dispatch_done(b);
        return 0;
}

/* The unit is state after its start job was done: "failed" or "inactive" means it is gone. */
static void activation_unit_state(struct activation *a, const char *state) {
        struct mbus_broker *b = a->table->broker;
        int r;

        if (!state || (strcmp(state, "failed") != 0 && strcmp(state, "inactive") != 0))
                return;
        /* Ask for the service's Result= to name the cause (exit-code, signal, timeout, ...). */
        r = sd_bus_call_method_async(a->table->bus, &a->result_slot, SYSTEMD_DEST, a->unit_path,
                                     "org.freedesktop.DBus.Properties", "Get", activation_on_result, a, "ss",
                                     "org.freedesktop.systemd1.Service", "Result");
        if (r < 0) {
                activation_fail(a, "unit %s is %s", a->unit, state);
                mbus_broker_dispatch_done(b);
        }
}

static int activation_on_active_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct activation *a = userdata;
        const char *state = NULL;

        a->result_slot = sd_bus_slot_unref(a->result_slot);
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) sd_bus_message_read(m, "v", "s", &state);
        activation_unit_state(a, state);
        return 0;
}

/* The unit's PropertiesChanged: after its job is done, "failed" or "inactive" means it is gone. */
static int activation_on_unit_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct activation *a = userdata;
        const char *iface, *state = NULL;

        /* Before the job is done the job's own result speaks; while a query is out, its answer. */
        if (!a->job_done || a->result_slot)
                return 0;
        if (sd_bus_message_read(m, "s", &iface) < 0 || sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char *name;

                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (strcmp(name, "ActiveState") == 0) {
                        if (sd_bus_message_read(m, "v", "s", &state) < 0)
                                return 0;
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        activation_unit_state(a, state);
        return 0;
}

static int activation_on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct mbus_activation_table *t = userdata;
        const char *job, *unit, *result;
        struct activation *a;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        a = activation_find_job(t, job);
        if (!a)
                return 0;
        if (strcmp(result, "done") != 0) {
                activation_fail(a, "the start job of unit %s ended with result '%s'", a->unit, result);
                mbus_broker_dispatch_done(t->broker);
                return 0;
        }
        a->job_done = true;     /* running; now it must register, or fail */
        /* A unit that failed just after its job ended may have sent the PropertiesChanged that says
         * so before JobRemoved, when it was still ignored: ask for its state once now. If asking
         * fails, PropertiesChanged still tells of a later failure and the deadline of any other. */
        (void) sd_bus_call_method_async(t->bus, &a->result_slot, SYSTEMD_DEST, a->unit_path,
                                        "org.freedesktop.DBus.Properties", "Get", activation_on_active_state, a,
                                        "ss", "org.freedesktop.systemd1.Unit", "ActiveState");
        return 0;
}

static int activation_on_started(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct activation *a = userdata;
        struct mbus_broker *b = a->table->broker;      /* a is freed by activation_fail() */
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job;

        a->start_slot = sd_bus_slot_unref(a->start_slot);
        if (e) {
                activation_fail(a, "StartUnit(%s) failed: %s", a->unit, e->message ?: e->name);
                mbus_broker_dispatch_done(b);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &job) < 0 || !(a->job = strdup(job))) {
                activation_fail(a, "StartUnit(%s) gave an unreadable reply", a->unit);
                mbus_broker_dispatch_done(b);
        }
        return 0;
}

static int activation_open_bus(struct mbus_activation_table *t) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (t->bus)
                return 0;
        /* The manager that runs the broker: the system one for root, the user's one otherwise. */
        r = t->broker->uid == 0 ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, t->broker->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(bus, &t->job_removed_slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", activation_on_job_removed, NULL, t);
        if (r < 0)
                return r;
        /* Without a subscriber the manager may not send JobRemoved at all. */
        r = sd_bus_call_method_async(bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", NULL,
                                     NULL, "");
        if (r < 0)
                return r;
        t->bus = TAKE_PTR(bus);
        return 0;
}

static int activation_systemd(struct activation *a, const char *unit, char *why, size_t why_size) {
        struct mbus_activation_table *t = a->table;
        int r;

        r = activation_open_bus(t);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                t->job_removed_slot = sd_bus_slot_unref(t->job_removed_slot);
                (void) snprintf(why, why_size, "cannot reach the service manager to start %s: %s", unit,
                                strerror(-r));
                return -ENOEXEC;
        }
        a->unit = strdup(unit);
        if (!a->unit)
                return -ENOMEM;
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &a->unit_path);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(t->bus, &a->unit_slot, SYSTEMD_DEST, a->unit_path,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      activation_on_unit_changed, NULL, a);
        if (r >= 0)
                r = sd_bus_call_method_async(t->bus, &a->start_slot, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                             "StartUnit", activation_on_started, a, "ss", unit, "replace");
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (void) snprintf(why, why_size, "cannot ask the service manager to start %s: %s", unit,
                                strerror(-r));
                return -ENOEXEC;
        }
        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.msgid = MBUS_MSGID_ACTIVATION_STARTED, .ns = a->ns),
                        "Activating %s: starting unit %s", a->ns, unit);
        return 0;
}

/* --- the table -------------------------------------------------------------------------------- */

int mbus_activation_table_new(struct mbus_activation_table **ret, struct mbus_broker *b) {
        struct mbus_activation_table *t;
        int r;

        assert(ret && b);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->broker = b;
        r = mbus_hashmap_new(&t->starting, &mbus_string_hash_ops);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

struct mbus_activation_table *mbus_activation_table_free(struct mbus_activation_table *t) {
        void *v;

        if (!t)
                return NULL;
        /* Shutdown: held calls go unanswered, like every other pending call at exit. */
        for (size_t state = 0; mbus_hashmap_iterate(t->starting, &state, &v, NULL); state = 0) {
                struct activation *a = v;

                while (a->first) {
                        struct activation_call *c = a->first;

                        a->first = c->next;
                        activation_call_free(c);
                }
                activation_free(a);
        }
        while (t->children)
                activation_child_free(t->children);
        mbus_hashmap_free(t->starting);
        sd_bus_slot_unref(t->job_removed_slot);
        sd_bus_flush_close_unref(t->bus);
        free(t);
        return NULL;
}

bool mbus_activation_is_activatable(struct mbus_broker *b, const char *ns) {
        const struct mbus_idl_namespace *file = mbus_introspection_get(b->interfaces, ns);

        return file && (file->systemd_service || file->exec);
}

bool mbus_activation_is_starting(const struct mbus_activation_table *t, const char *ns) {
        return mbus_hashmap_get(t->starting, ns);
}

size_t mbus_activation_queued(const struct mbus_activation_table *t) {
        return t->n_calls;
}

/* The activation of ns: the one under way, or a new one whose start has begun. */
static int activation_get(struct mbus_activation_table *t, const char *ns, struct activation **ret, char *why,
                          size_t why_size) {
        const struct mbus_idl_namespace *file;
        struct activation *a;
        int r;

        a = mbus_hashmap_get(t->starting, ns);
        if (a) {
                *ret = a;
                return 0;
        }
        file = mbus_introspection_get(t->broker->interfaces, ns);
        if (!file || (!file->systemd_service && !file->exec)) {
                (void) snprintf(why, why_size, "%s is not activatable", ns);
                return -ENOEXEC;
        }

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->table = t;
        a->last = &a->first;
        a->deadline = usec_add(mbus_broker_now(t->broker), t->broker->options->activation_timeout);
        a->ns = strdup(ns);
        if (!a->ns) {
                free(a);
                return -ENOMEM;
        }
        r = mbus_hashmap_put(t->starting, a->ns, a);
        if (r < 0) {
                free(a->ns);
                free(a);
                return r;
        }
        r = sd_event_add_time(t->broker->event, &a->timer, CLOCK_MONOTONIC, a->deadline, 0, activation_on_timer, a);
        if (r >= 0) {
                (void) sd_event_source_set_description(a->timer, "activation-deadline");
                r = file->systemd_service ? activation_systemd(a, file->systemd_service, why, why_size)
                                          : activation_exec(a, file->exec, why, why_size);
        }
        if (r < 0) {
                if (r == -ENOEXEC)
                        (void) mbus_log(LOG_WARNING, r,
                                        MBUS_FIELDS(.msgid = MBUS_MSGID_ACTIVATION_FAILED, .ns = ns),
                                        "Activation of %s failed: %s", ns, why);
                activation_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

static int activation_queue(struct mbus_activation_table *t, const char *ns, struct mbus_peer *caller,
                            struct mbus_frame *call, uint64_t serial, usec_t deadline, char *why, size_t why_size) {
        struct activation_call *c;
        struct activation *a;
        int r;

        assert(t && ns && caller);

        a = mbus_hashmap_get(t->starting, ns);
        if ((a && a->n_calls >= MBUS_ACTIVATION_QUEUE_PER_NAMESPACE) || t->n_calls >= MBUS_ACTIVATION_QUEUE_MAX) {
                (void) snprintf(why, why_size, "Too many calls waiting for services to start (limits %u for %s, "
                                "%u in all)", MBUS_ACTIVATION_QUEUE_PER_NAMESPACE, ns, MBUS_ACTIVATION_QUEUE_MAX);
                return -ENOBUFS;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = activation_get(t, ns, &a, why, why_size);
        if (r < 0) {
                free(c);
                return r;
        }
        c->caller = caller->id;
        c->serial = serial;
        c->call = call ? mbus_frame_ref(call) : NULL;
        c->deadline = deadline;
        *a->last = c;
        a->last = &c->next;
        a->n_calls++;
        t->n_calls++;
        activation_arm(a);
        return 0;
}

int mbus_activation_queue_call(struct mbus_activation_table *t, const char *ns, struct mbus_peer *caller,
                               struct mbus_frame *call, usec_t deadline, char *why, size_t why_size) {
        assert(call);
        return activation_queue(t, ns, caller, call, 0, deadline, why, why_size);
}

int mbus_activation_queue_start(struct mbus_activation_table *t, const char *ns, struct mbus_peer *caller,
                                uint64_t serial, usec_t deadline, char *why, size_t why_size) {
        return activation_queue(t, ns, caller, NULL, serial, deadline, why, why_size);
}

void mbus_activation_registered(struct mbus_activation_table *t, const char *ns) {
        struct activation_call *first;
        struct activation *a;
        size_t n;

        assert(t && ns);

        a = mbus_hashmap_get(t->starting, ns);
        if (!a)
                return;
        first = TAKE_PTR(a->first);
        n = a->n_calls;
        t->n_calls -= n;
        a->n_calls = 0;
        a->last = &a->first;
        (void) mbus_log(LOG_INFO, 0, MBUS_FIELDS(.ns = ns), "Activated %s: delivering %zu held calls", ns, n);
        /* Freed first, so that a held call that routes back to ns cannot find it half-done. */
        activation_free(a);

        while (first) {
                struct activation_call *c = first;
                struct mbus_peer *caller = mbus_broker_find_peer(t->broker, c->caller);

                first = c->next;
                if (mbus_peer_is_running(caller)) {
                        int r = c->call ? mbus_router_route_call(t->broker, caller, c->call, c->deadline)
                                        : mbus_driver_answer_started(t->broker, caller, c->serial, ns);
                        if (r < 0)
                                mbus_broker_condemn_peer(t->broker, caller, r);
                }
                activation_call_free(c);
        }
}
