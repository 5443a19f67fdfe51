/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the interface file parsers (man mbus-introspection(5)): built twice,
 * as fuzz-idl-xml (the input is an .xml file) and fuzz-idl-json (-DFUZZ_IDL_JSON, a .json file).
 * Interface files are read by the broker at every reload and by mbus-introspect --check, so any
 * bytes must give either a namespace or a refusal with a file:line reason, never a crash, a
 * leak or an error without words. An accepted file must also mean the same in both forms: its
 * canonical JSON reads back to the same namespace, and so does its XML form, which is what
 * "the two forms map one to one" promises.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/idl.h"
#include "util/fuzz-util.h"
#include "util/json-util.h"
#include "util/macro.h"

#ifdef FUZZ_IDL_JSON
#  define FUZZ_PATH "org.example.Fuzz.json"
#  define fuzz_parse mbus_idl_parse_json
#else
#  define FUZZ_PATH "org.example.Fuzz.xml"
#  define fuzz_parse mbus_idl_parse_xml
#endif

/* The canonical JSON of ns as text (a new string). */
static char *canonical(const struct mbus_idl_namespace *ns) {
        _cleanup_json_ json_object *o = NULL;
        char *s;

        check(mbus_idl_to_json(ns, &o) == 0);
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        check(s);
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(mbus_idl_namespace_freep) struct mbus_idl_namespace *ns = NULL, *from_json = NULL,
                                                                     *from_xml = NULL;
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL, *xml = NULL, *via_xml = NULL;
        struct mbus_file_error err = {};
        int r;

        r = fuzz_parse(&ns, FUZZ_PATH, (const char *) data, size, &err);
        if (r < 0) {
                check(!ns);
                check(r == -EBADMSG || r == -ENOMEM);
                if (r == -EBADMSG) {
                        check(err.message[0]);
                        check(strcmp(err.path, FUZZ_PATH) == 0);
                        /* The line is one the file has (or the one after its last line end). */
                        check(err.line <= fuzz_n_lines(data, size));
                }
                return 0;
        }
        check(ns && ns->name && strcmp(ns->path, FUZZ_PATH) == 0);
        check(!(ns->systemd_service && ns->exec));

        /* The canonical JSON form reads back to the same namespace. */
        text = canonical(ns);
        check(mbus_idl_to_json(ns, &o) == 0);
        r = mbus_idl_from_json(&from_json, o, &err);
        if (r != 0)
                fprintf(stderr, "canonical JSON refused: %s:%u: %s\n%s\n", err.path, err.line, err.message, text);
        check(r == 0);
        again = canonical(from_json);
        check(strcmp(text, again) == 0);

        /* So does the XML form. */
        check(mbus_idl_to_xml(ns, &xml) == 0);
        r = mbus_idl_parse_xml(&from_xml, "org.example.Fuzz.xml", xml, strlen(xml), &err);
        if (r != 0)
                fprintf(stderr, "XML form refused: %s:%u: %s\n%s\n", err.path, err.line, err.message, xml);
        check(r == 0);
        via_xml = canonical(from_xml);
        check(strcmp(text, via_xml) == 0);
        return 0;
}
