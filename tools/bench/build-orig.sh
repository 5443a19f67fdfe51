#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the original mBus from its tarball into DIR and prints the path of its broker, for
# mbus-bench --peer mbus-orig --orig-broker PATH (mbus-bench(1)) and for the tests that run its
# clients (tests/compat-original.sh). Its own build, flags and all (no sanitizers: it is an
# external program here); about 15 s on an idle machine. A build is kept and reused while the
# tarball and the options stay the same.
#
# Usage: build-orig.sh [--without-zlib] DIR [TARBALL]
#   --without-zlib  build it with ZLIB_ENABLE=n (its default build always asks for zlib)
#   DIR             where it goes: DIR/mbus-orig/dist/{bin,lib}; made if missing
#   TARBALL         default: $MBUS_TEST_ORIG_TARBALL, else ../shared/peers/mbus-orig-684f749.tar.gz
#                   beside the source tree
# Exits 77 when the tarball or one of its build dependencies is missing (gcc, make,
# pkg-config and the development files of openssl, zlib, libwebsockets and readline, which
# .ci/install-deps installs), saying which; 1 when its build fails, with the end of its log.
set -euo pipefail

make_args=()
if [ "${1:-}" = "--without-zlib" ]; then
        make_args+=(ZLIB_ENABLE=n)
        shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
        echo "Usage: $0 [--without-zlib] DIR [TARBALL]" >&2
        exit 2
fi
dir=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tarball=${2:-${MBUS_TEST_ORIG_TARBALL:-$src/../shared/peers/mbus-orig-684f749.tar.gz}}

missing() {
        echo "$0: $*" >&2
        exit 77
}

[ -f "$tarball" ] || missing "the original mBus tarball is not at $tarball (set MBUS_TEST_ORIG_TARBALL)"
for tool in gcc make pkg-config; do
        command -v "$tool" >/dev/null || missing "building the original mBus needs $tool"
done
for pc in openssl zlib libwebsockets; do
        pkg-config --exists "$pc" || missing "building the original mBus needs the $pc development files"
done
[ -f /usr/include/readline/readline.h ] || missing "building the original mBus needs libreadline-dev"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stamp="$(stat -c '%s %Y' "$tarball") ${make_args[*]:-}"
# One build at a time per directory: parallel tests share it.
exec 9>"$dir/.lock"
flock 9
if ! [ -f "$dir/.stamp" ] || [ "$(cat "$dir/.stamp")" != "$stamp" ]; then
        rm -rf "$dir/mbus-orig" "$dir/.stamp"
        tar -xzf "$tarball" -C "$dir"
        env -u CFLAGS -u LDFLAGS make -C "$dir/mbus-orig" -j2 ${make_args[@]+"${make_args[@]}"} >"$dir/build.log" 2>&1 || {
                tail -30 "$dir/build.log" >&2
                echo "$0: the original mBus did not build (${make_args[*]:-its default build}); log: $dir/build.log" >&2
                exit 1
        }
        echo "$stamp" >"$dir/.stamp"
fi
echo "$dir/mbus-orig/dist/bin/mbus-broker"
