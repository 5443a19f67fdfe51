/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* What every libFuzzer target (fuzz-*.c) shares. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the target promises: abort() is what libFuzzer (and fuzz-replay) report as a
 * crash, with the input kept. Not assert(): it must hold in every build. */
#define check(x)                                                                \
        do {                                                                    \
                if (!(x)) {                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                \
                }                                                               \
        } while (0)

/* Lines of text as any of our parsers counts them, at most: XML also ends a line at a lone CR. */
static inline unsigned fuzz_n_lines(const uint8_t *data, size_t size) {
        unsigned n = 1;

        for (size_t i = 0; i < size; i++)
                n += data[i] == '\n' || data[i] == '\r';
        return n;
}
