/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The JSON form of a frame: what a text WebSocket message carries (mbus-protocol(7)). */

/*
 * One JSON object per frame: "type" is the frame type's name ("CALL"), each header field that
 * is present is a key of its own (serial, reply_serial, namespace, member, destination,
 * sender, error_name, timeout in microseconds, pattern), and "body" is the body as a JSON
 * value (absent or null: no body), or "body_text" the body's bytes as a string, for a body
 * that is not JSON (the broker forwards bodies it was not asked to check). Any other key is
 * malformed, as an unknown field is in the binary form. The JSON form is only a spelling: a
 * frame read from it is checked by mbus_frame_parse() like any other, and a frame written as
 * JSON and read back is the same frame.
 */

#include <stddef.h>
#include <json-c/json.h>

struct mbus_frame;

/*
 * Builds a frame from the JSON text (len bytes). Returns 0 and the new frame in *ret, -EBADMSG
 * with *ret_reason naming the fault (not JSON, not an object, unknown type or key, a value of
 * the wrong kind), or the errors of mbus_frame_new()/mbus_frame_parse(). max_size limits the
 * frame as in mbus_frame_parse().
 */
int mbus_frame_from_json(struct mbus_frame **ret, const char *text, size_t len, size_t max_size,
                         const char **ret_reason);

/*
 * The JSON form of frame as a new object: "body" if the body is JSON text, else "body_text".
 * Header fields of value 0 are left out (they mean "absent"), but an ERROR's reply_serial.
 * Returns 0 or -ENOMEM.
 */
int mbus_frame_to_json(const struct mbus_frame *frame, json_object **ret);
