#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's C example compiles and links as ISO C11 without a warning
# (-std=c11 -Wall -Wextra -pedantic -Werror) against the build's headers and libmbus.so, so
# that what a newcomer copies first works under strict flags.
# Usage: readme-example.sh SOURCE_ROOT BUILD_ROOT CC [B_SANITIZE]
set -euo pipefail
src="$1" build="$2" cc="$3"
case "${4:-none}" in
none|"") ;;
*) echo "readme-example: skipped in a sanitizer build (${4}); the plain build runs it"; exit 77 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src/README.md" "$tmp/demo.c" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("```c\n") + len("```c\n")
open(sys.argv[2], "w").write(text[start:text.index("```", start)])
PY
grep -q "mbus_conn_open" "$tmp/demo.c" || { echo "readme-example: no C example in README.md"; exit 1; }
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -pedantic -Werror -I "$src/libmbus/include" $(pkg-config --cflags json-c) \
        "$tmp/demo.c" -o "$tmp/demo" -L "$build/libmbus/client" -lmbus $(pkg-config --libs json-c)
echo "readme-example: the README's C example compiles with -std=c11 -Wall -Wextra -pedantic"
