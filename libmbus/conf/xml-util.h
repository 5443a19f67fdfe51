/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The expat parser both XML loaders (interfaces.d, policy.d) read a configuration file with. */

#include <expat.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/file-error.h"
#include "util/macro.h"

/*
 * One XML file being read. A loader embeds this as the FIRST member of its own state, which
 * is what its handlers get as userdata, so the handlers here can find it there too.
 */
struct mbus_xml {
        XML_Parser parser;                      /* owned, only while mbus_xml_parse() runs */
        const char *path;                       /* borrowed, for messages */
        struct mbus_file_error *err;            /* borrowed, may be NULL */
        int error;                              /* the first error; 0 while all is well */
        bool stopped;                           /* the parse ends: handlers return at once */
        unsigned skip;                          /* > 0: inside an element being skipped, this deep */
        XML_StartElementHandler on_start;       /* the loader's handlers */
        XML_EndElementHandler on_end;
        XML_CharacterDataHandler on_text;
};

/*
 * Parses text (len bytes) whole with a new parser whose user data is x (the loader's state
 * begins with it) and whose element and text handlers are the loader's. Entity declarations
 * are refused, as "entity declarations are not allowed" at their line, and end the parse:
 * nothing in either format needs them, and they are how XML files attack parsers (billion
 * laughs, external entities). A processing instruction is an error too ("processing
 * instructions are not allowed"), reported and gone past: the formats allow only comments and
 * blanks beside their elements, and an instruction meant for some other program would be
 * silently ignored. A syntax error ends it too ("XML syntax error: ..." at its line),
 * after whatever the handlers reported before it. Returns the first error (-EBADMSG for a file
 * with any error, even if the handlers went on), else 0; -ENOMEM if no parser could be made.
 */
int mbus_xml_parse(struct mbus_xml *x, const char *path, struct mbus_file_error *err, const char *text, size_t len,
                   XML_StartElementHandler on_start, XML_EndElementHandler on_end,
                   XML_CharacterDataHandler on_text);

/* The line the parser is at, for the handler running now. */
unsigned mbus_xml_line(const struct mbus_xml *x);

/*
 * For handlers: records r if it is the first error (r < 0) and stops the parser; nothing for
 * r >= 0. Meant for what ends the file (out of memory); handlers are not called after it.
 */
void mbus_xml_stop(struct mbus_xml *x, int r);

/*
 * For handlers: reports PATH:LINE: message at the current line (mbus_file_error_add()) and
 * marks the file broken with -EBADMSG; the parse goes on, so later errors are reported too.
 */
_printf_(2, 3) void mbus_xml_fail(struct mbus_xml *x, const char *format, ...);

/*
 * For a start handler: the element it was called for is ignored with everything inside it (its
 * end handler is not called either). For an element that is wrong in itself after reporting it,
 * so that its content is neither checked against the wrong parent nor reported again.
 */
void mbus_xml_skip(struct mbus_xml *x);
