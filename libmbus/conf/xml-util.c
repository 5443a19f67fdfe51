/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Both XML loaders, interface files (idl-xml.c) and policy files (policy-xml.c), read through
 * the one parser set up here, so they cannot differ in how hostile input is refused: entity
 * declarations and processing instructions stop the parse with the same message in both, and a
 * syntax error reads the same.
 * The loaders keep only their grammar, as handlers that report the first problem with
 * mbus_xml_fail() and return at once after it; the first error wins, later ones are dropped,
 * because expat may still call a handler or two after XML_StopParser().
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>

#include "conf/xml-util.h"

unsigned mbus_xml_line(const struct mbus_xml *x) {
        return (unsigned) XML_GetCurrentLineNumber(x->parser);
}

void mbus_xml_stop(struct mbus_xml *x, int r) {
        if (x->error < 0 || r >= 0)
                return;
        x->error = r;
        (void) XML_StopParser(x->parser, /* resumable= */ XML_FALSE);
}

void mbus_xml_fail(struct mbus_xml *x, const char *format, ...) {
        va_list ap;

        if (x->error < 0)
                return;
        va_start(ap, format);
        (void) mbus_file_error_setv(x->err, x->path, mbus_xml_line(x), format, ap);
        va_end(ap);
        mbus_xml_stop(x, -EBADMSG);
}

static void XMLCALL xml_on_entity_decl(void *userdata, const XML_Char *name, int is_parameter_entity,
                                       const XML_Char *value, int value_length, const XML_Char *base,
                                       const XML_Char *system_id, const XML_Char *public_id,
                                       const XML_Char *notation_name) {
        struct mbus_xml *x = userdata;          /* the first member of the loader's state */

        mbus_xml_fail(x, "entity declarations are not allowed");
}

/* The XML declaration (<?xml ...?>) is not a processing instruction to expat: it stays allowed. */
static void XMLCALL xml_on_processing_instruction(void *userdata, const XML_Char *target, const XML_Char *data) {
        struct mbus_xml *x = userdata;

        mbus_xml_fail(x, "processing instructions are not allowed (<?%s ...?>): only comments and blanks may "
                      "stand beside the elements", target);
}

int mbus_xml_parse(struct mbus_xml *x, const char *path, struct mbus_file_error *err, const char *text, size_t len,
                   XML_StartElementHandler on_start, XML_EndElementHandler on_end,
                   XML_CharacterDataHandler on_text) {
        enum XML_Status status;

        assert(x && on_start && on_end && on_text);

        *x = (struct mbus_xml) { .path = path, .err = err };
        x->parser = XML_ParserCreate(NULL);
        if (!x->parser)
                return -ENOMEM;
        XML_SetUserData(x->parser, x);
        XML_SetElementHandler(x->parser, on_start, on_end);
        XML_SetCharacterDataHandler(x->parser, on_text);
        XML_SetEntityDeclHandler(x->parser, xml_on_entity_decl);
        XML_SetProcessingInstructionHandler(x->parser, xml_on_processing_instruction);

        status = XML_Parse(x->parser, text ?: "", (int) len, /* isFinal= */ XML_TRUE);
        if (status != XML_STATUS_OK && x->error == 0)
                x->error = mbus_file_error_set(err, path, mbus_xml_line(x), "XML syntax error: %s",
                                               XML_ErrorString(XML_GetErrorCode(x->parser)));
        XML_ParserFree(x->parser);
        x->parser = NULL;
        return x->error;
}
