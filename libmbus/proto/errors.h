/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Internal helpers around struct mbus_error; the name <-> errno table lives in errors.c. */

#include <stdarg.h>

#include <mbus/mbus-errors.h>

#include "util/macro.h"

/*
 * Fills e (if not NULL, and freeing what it held) with name and a printf-formatted message.
 * Returns the negative errno that name maps to (mbus_error_name_to_errno()), so a caller can
 * write "return mbus_error_set(reterr, MBUS_ERROR_TIMEOUT, "...");". Should memory run out,
 * e keeps the name if it could be copied and the message is left NULL; the return value is
 * still the name's errno, as the error being reported matters more than its wording.
 */
int mbus_error_set(struct mbus_error *e, const char *name, const char *fmt, ...) _printf_(3, 4);

/* Like mbus_error_set() with the name mbus_errno_to_error_name(error); returns -abs(error). */
int mbus_error_set_errno(struct mbus_error *e, int error, const char *fmt, ...) _printf_(3, 4);

/* va_list flavour of mbus_error_set(); fmt may be NULL for no message. */
int mbus_error_setv(struct mbus_error *e, const char *name, const char *fmt, va_list ap) _printf_(3, 0);
