/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The argument forms of mbus-call and mbus-publish: JSON, -, @FILE, KEY=VALUE and KEY:=JSON. */

#include <stddef.h>
#include <json-c/json.h>

/*
 * Builds the JSON arguments from the n operands in args (n may be 0: no arguments, *ret NULL):
 *   one JSON value          as given, "{\"iface\": \"eth0\"}"
 *   -                       one JSON value read from standard input
 *   @FILE                   one JSON value read from FILE
 *   KEY=VALUE ...           an object with VALUE as a string for KEY
 *   KEY:=JSON ...           an object with the JSON value for KEY (both pair forms mix)
 * KEY is [A-Za-z_][A-Za-z0-9_.-]*, each at most once. what ("arguments", "payload") names them
 * in messages. Prints what is wrong and returns -EINVAL, or returns 0 and the value in *ret.
 */
int tool_args_parse(char *const *args, size_t n, const char *what, json_object **ret);
