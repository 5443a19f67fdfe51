/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Broker counters: GetStats and the sd_notify STATUS= line. */

#include <stddef.h>
#include <stdint.h>

struct mbus_broker;

/* Monotonic counters over the broker's life; current sizes are asked from the registries. */
struct mbus_stats {
        uint64_t calls_routed;
        uint64_t events_delivered;
        uint64_t events_dropped;
        uint64_t replies_dropped;       /* late or bogus RETURN/ERROR, not forwarded */
        uint64_t bytes_in;
        uint64_t bytes_out;
        uint64_t peers_accepted;
        uint64_t peers_refused;         /* over --max-peers or a user's connection quota */
        uint64_t quota_refusals;        /* requests and connections refused by a quota (user.h) */
        uint64_t errors_sent;           /* ERROR answers the broker built to requests (reply.c) */
};

/* Formats the STATUS= text (peers, namespaces, pending calls, totals) into buf. */
void mbus_stats_format_status(const struct mbus_broker *b, char *buf, size_t size);
