/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Arguments checked against the namespace's introspection before a tool sends them. */

#include <stdbool.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "util/time-util.h"

/*
 * Fetches the description of ns (org.mbus.Broker.Introspect) and, if it gives member (a
 * procedure, or an event if is_event) typed arguments (an interface file; or argument lists
 * its owner declared), checks args (NULL: none) against them as the broker would. Nothing to
 * check against (no such namespace yet, a namespace whose owner declared only names, a member
 * the description does not list, a refused Introspect) is no fault: the broker has the last
 * word. timeout 0: libmbus's default.
 * Returns 0, -EINVAL after printing which argument is wrong and the type expected, or the
 * negative errno of the connection (not printed).
 */
int tool_check_args(struct mbus_conn *conn, const char *ns, const char *member, bool is_event, json_object *args,
                    usec_t timeout);
