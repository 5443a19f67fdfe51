/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a libFuzzer target's LLVMFuzzerTestOneInput() over every file of the directories named
 * on the command line, without libFuzzer: how the default test suite keeps each target's seed
 * corpus (and its found crashes, once kept as regressions) passing the target's checks in every
 * build, sanitized or not, so a target cannot rot between fuzzing runs. Exits 1 if a directory
 * holds no file (a corpus that went missing must not pass as an empty success).
 */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char *argv[]);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "re");
        uint8_t *buf = NULL;
        size_t n = 0, cap = 0;

        if (!f)
                return -errno;
        for (;;) {
                if (n == cap) {
                        uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 4096);

                        if (!b) {
                                free(buf);
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf = b;
                }
                size_t k = fread(buf + n, 1, cap - n, f);
                if (k == 0)
                        break;
                n += k;
        }
        fclose(f);
        (void) LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        return 0;
}

int main(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++) {
                struct dirent **names = NULL;
                int n, done = 0;

                n = scandir(argv[i], &names, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                for (int k = 0; k < n; k++) {
                        char path[4096];

                        if (names[k]->d_name[0] != '.') {
                                snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                                if (replay_file(path) < 0) {
                                        fprintf(stderr, "%s: cannot read it\n", path);
                                        return EXIT_FAILURE;
                                }
                                done++;
                        }
                        free(names[k]);
                }
                free(names);
                printf("%s: %d inputs passed\n", argv[i], done);
                if (done == 0) {
                        fprintf(stderr, "%s: no input files\n", argv[i]);
                        return EXIT_FAILURE;
                }
        }
        return EXIT_SUCCESS;
}
