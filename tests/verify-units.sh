#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd-analyze verify and security --offline on every shipped unit, with ExecStart= and
# ExecReload= pointing at this build's programs (verify checks that they exist and run).
# Usage: verify-units.sh SRCDIR BROKER CALL. Skips (77) without systemd-analyze.
set -eu
src=$1 broker=$2 call=$3
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user" "$tmp/runtime"
chmod 700 "$tmp/runtime"
for kind in system user; do
        dir=$src/units
        [ $kind = user ] && dir=$src/units/user
        sed -e "s|@bindir@/mbus-broker|$broker|" -e "s|@bindir@/mbus-call|$call|" \
                "$dir/mbus.service.in" > "$tmp/$kind/mbus.service"
        cp "$dir"/*.socket "$tmp/$kind/"
done

# verify prints its findings and fails on errors; any finding at all fails here.
out=$(systemd-analyze verify --man=no "$tmp"/system/* 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
out=$(XDG_RUNTIME_DIR=$tmp/runtime systemd-analyze verify --user --man=no "$tmp"/user/* 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }

# The hardening must not slip back: the exposure of mbus.service stays "OK" (below 2.0).
score=$(systemd-analyze security --offline=yes "$tmp/system/mbus.service" 2>&1 |
        sed -n 's/.*Overall exposure level for mbus.service: \([0-9.]*\).*/\1/p')
echo "mbus.service exposure: $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s < 2.0) }'
