/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* On-demand activation: start an ownerless namespace's service, hold its calls until it registers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"
#include "util/time-util.h"

struct mbus_activation_table;
struct mbus_broker;
struct mbus_frame;
struct mbus_peer;

/* Queued calls at most, per namespace being started and over all of them. */
#define MBUS_ACTIVATION_QUEUE_PER_NAMESPACE 256u
#define MBUS_ACTIVATION_QUEUE_MAX 4096u

/* Lifecycle. Blocks SIGCHLD (the broker is single-threaded) so that exec children can be reaped. */
int mbus_activation_table_new(struct mbus_activation_table **ret, struct mbus_broker *b);
struct mbus_activation_table *mbus_activation_table_free(struct mbus_activation_table *t);

/* Whether ns's interface file says how to start it (systemd-service= or exec=). */
bool mbus_activation_is_activatable(struct mbus_broker *b, const char *ns);

/*
 * Holds caller's CALL frame (a reference is taken) to ns, which has no owner, until ns
 * registers, starting its service unless a start is under way. deadline is the call's own
 * (CLOCK_MONOTONIC µs). Returns 0 if queued (the activation now owes the call its one answer),
 * -ENOBUFS over a queue bound, -ENOEXEC if the start could not even begin (with a reason in
 * why), -ENOMEM; on errors the caller answers.
 */
int mbus_activation_queue_call(struct mbus_activation_table *t, const char *ns, struct mbus_peer *caller,
                               struct mbus_frame *call, usec_t deadline, char *why, size_t why_size);

/*
 * org.mbus.Broker.StartNamespace: like a queued call, but the answer is the broker's own
 * RETURN {"namespace", "owner"} to serial once ns registers (or ActivationFailed). Same
 * returns as mbus_activation_queue_call().
 */
int mbus_activation_queue_start(struct mbus_activation_table *t, const char *ns, struct mbus_peer *caller,
                                uint64_t serial, usec_t deadline, char *why, size_t why_size);

/* ns was registered: its held calls are routed now, in the order they came. */
void mbus_activation_registered(struct mbus_activation_table *t, const char *ns);

/* Queries. */
bool mbus_activation_is_starting(const struct mbus_activation_table *t, const char *ns);
size_t mbus_activation_queued(const struct mbus_activation_table *t);

MBUS_DEFINE_CLEANUP(struct mbus_activation_table *, mbus_activation_table_free);
