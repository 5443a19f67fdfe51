/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters live in struct mbus_stats on the broker; this formats the sd_notify STATUS= line. */

#include <inttypes.h>
#include <stdio.h>

#include "broker.h"
#include "namespace.h"
#include "pending.h"
#include "stats.h"

void mbus_stats_format_status(const struct mbus_broker *b, char *buf, size_t size) {
        /* A configuration problem leads: systemctl status shows this line, and it is what matters. */
        (void) snprintf(buf, size, "%s%s%zu peers, %zu namespaces, %zu pending calls; %" PRIu64 " calls routed, %"
                        PRIu64 " events delivered, %" PRIu64 " dropped",
                        b->config_problem, b->config_problem[0] ? "; " : "",
                        b->n_peers, mbus_namespace_registry_size(b->namespaces), mbus_pending_size(b->pending),
                        b->stats.calls_routed, b->stats.events_delivered, b->stats.events_dropped);
}
