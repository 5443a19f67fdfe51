#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real original mBus clients against mbus's compat listeners (mbus-compat(7)): built from
# the tarball kept with the shared peers, in both of its builds (zlib, its default, and
# ZLIB_ENABLE=n), cached in the build directory. Its mbus-command calls a native service, a
# native mbus-call calls the command its mbus-test-execute-command registered (and
# mbus-introspect lists it), its mbus-subscribe receives native mbus-publish events and a
# native mbus-subscribe its mbus-publish events, and its MBusClient.py (over compat+tcp://,
# tests/compat-client.py) calls a native service and publishes to a native subscriber. Then
# mbus-bench measures rpc-seq through the compat listener and, with --peer mbus-orig, through the
# original broker in the same run.
# Usage: compat-original.sh SRCDIR BUILDDIR. Exit 77 (skipped) when the tarball or the
# original's build dependencies are missing (.ci/install-deps installs them).
set -euo pipefail

src=$1
build=$2
tarball=${MBUS_TEST_ORIG_TARBALL:-$src/../shared/peers/mbus-orig-684f749.tar.gz}
bindir=${MBUS_TEST_BINDIR:-$build/tools}
broker=${MBUS_TEST_BROKER:-$build/daemon/mbus-broker}
introspect=${MBUS_TEST_INTROSPECT:-$build/introspect/mbus-introspect}

skip() {
        echo "SKIP: $*" >&2
        exit 77
}

# Built once per build directory and tarball by mbus-bench's build script: the suite stays fast.
cache=$build/tests/mbus-orig-cache
build_variant() {
        local rc=0
        "$src/tools/bench/build-orig.sh" "$@" "$tarball" >/dev/null || rc=$?
        [ "$rc" -ne 77 ] || skip "the original mBus cannot be built here (see above)"
        [ "$rc" -eq 0 ] || { echo "FAIL: the original mBus did not build ($*)" >&2; exit 1; }
}
build_variant "$cache/zlib"
build_variant --without-zlib "$cache/plain"

tmp=$(mktemp -d /tmp/mbus-compat-orig-XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do
                kill "$p" 2>/dev/null || true
        done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        for f in "$tmp"/*.log; do
                echo "--- $f" >&2
                tail -20 "$f" >&2
        done
        exit 1
}

# Waits up to 20 s for a file to contain a string.
wait_for() {
        local file=$1 text=$2
        for _ in $(seq 200); do
                grep -qF -- "$text" "$file" 2>/dev/null && return 0
                sleep 0.1
        done
        fail "$file never showed '$text'"
}

free_port() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 40000))
                (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
        done
        fail "no free TCP port"
}

run_variant() {
        local variant=$1 orig=$cache/$1/mbus-orig
        local d=$tmp/$variant port
        local -a uds tcp
        mkdir -p "$d/conf/policy.d"
        # MBusClient.py connects over TCP, whose peers may do nothing by default: policy applies to
        # original clients as to native ones. Its identifier may be owned, the echo service called.
        cat >"$d/conf/policy.d/org.example.pyclient.xml" <<EOF
<?xml version="1.0"?>
<policy namespace="org.example.pyclient"><allow own="true" user="*"/></policy>
EOF
        cat >"$d/conf/policy.d/org.example.Echo.xml" <<EOF
<?xml version="1.0"?>
<policy namespace="org.example.Echo"><allow own="true" user="*"/><allow call="*" user="*"/></policy>
EOF
        port=$(free_port)
        "$broker" --log-target console --no-broker-config --config-dir "$d/conf" --listen "$d/sock" \
                --listen "compat+unix:$d/compat:0" --listen "compat+tcp://127.0.0.1:$port" \
                >"$tmp/broker-$variant.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 200); do
                [ -S "$d/sock" ] && [ -S "$d/compat:0" ] && break
                sleep 0.1
        done
        [ -S "$d/compat:0" ] || fail "broker did not listen on compat+unix:$d/compat:0"

        export LD_LIBRARY_PATH=$orig/dist/lib
        uds=(--mbus-client-server-protocol uds --mbus-client-server-address "$d/compat" --mbus-client-server-port 0)
        tcp=(--mbus-client-server-protocol tcp --mbus-client-server-address 127.0.0.1 --mbus-client-server-port "$port")

        # Its mbus-command calls a native service.
        "$bindir/mbus-bench" --address "$d/sock" serve-echo org.example.Echo >"$tmp/echo-$variant.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 200); do
                "$bindir/mbus-call" --address "$d/sock" org.example.Echo Echo '{}' >/dev/null 2>&1 && break
                sleep 0.1
        done
        out=$(timeout 20 "$orig/dist/bin/mbus-command" "${uds[@]}" --destination org.example.Echo --command Echo \
                --payload '{"greeting": "from the original"}') || fail "$variant: mbus-command to a native service"
        grep -q 'from the original' <<<"$out" || fail "$variant: mbus-command printed: $out"

        # A native mbus-call calls the command its test program registered; introspection lists it.
        "$orig/dist/bin/mbus-test-execute-command" "${uds[@]}" --mode receiver \
                --identifier org.mbus.client.execute-command >"$tmp/receiver-$variant.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 200); do
                "$introspect" --address "$d/sock" org.mbus.client.execute-command 2>/dev/null |
                        grep -q command__2eexecute && break
                sleep 0.1
        done
        out=$("$bindir/mbus-call" --address "$d/sock" org.mbus.client.execute-command command__2eexecute \
                '{"command": "echo hello-from-native"}') || fail "$variant: mbus-call to the original's command"
        grep -q 'hello-from-native' <<<"$out" || fail "$variant: mbus-call printed: $out"
        # ... and the original's own sender, through mbus.
        out=$(timeout 20 "$orig/dist/bin/mbus-test-execute-command" "${uds[@]}" --mode sender \
                --identifier org.mbus.client.execute-command --command 'echo hello-from-original' --timeout 5000 2>&1) ||
                fail "$variant: the original sender"
        grep -q 'hello-from-original' <<<"$out" || fail "$variant: the original sender printed: $out"

        # Its mbus-subscribe receives a native mbus-publish.
        stdbuf -oL "$orig/dist/bin/mbus-subscribe" "${uds[@]}" >"$tmp/osub-$variant.log" 2>&1 &
        pids+=($!)
        wait_for "$tmp/osub-$variant.log" "subscribe status: 0"
        "$bindir/mbus-publish" --address "$d/sock" org.example.Pub Tick '{"n": 1}' || fail "$variant: mbus-publish"
        wait_for "$tmp/osub-$variant.log" "org.example.Pub.Tick"

        # A native mbus-subscribe receives its mbus-publish. (No stdbuf for native tools: its
        # LD_PRELOAD would come before a sanitizer build's runtime; they flush each line.)
        "$bindir/mbus-subscribe" --address "$d/sock" 'org.example.orig-pub.*' >"$tmp/nsub-$variant.log" 2>&1 &
        pids+=($!)
        # It subscribes meanwhile: publish until one arrives (each run is a new client).
        for _ in $(seq 100); do
                timeout 20 "$orig/dist/bin/mbus-publish" "${uds[@]}" --mbus-client-identifier org.example.orig-pub \
                        --event state.changed --payload '{"on": 1}' >"$tmp/opub-$variant.log" 2>&1 ||
                        fail "$variant: the original mbus-publish"
                grep -qF '"event":"state__2echanged"' "$tmp/nsub-$variant.log" && break
                sleep 0.2
        done
        wait_for "$tmp/nsub-$variant.log" '"namespace":"org.example.orig-pub","event":"state__2echanged"'

        # MBusClient.py under python3, over compat+tcp://: a call, then an event to a native subscriber.
        if command -v python3 >/dev/null; then
                "$bindir/mbus-subscribe" --address "$d/sock" 'org.example.pyclient.*' \
                        >"$tmp/pysub-$variant.log" 2>&1 &
                pids+=($!)
                for _ in $(seq 100); do
                        out=$(PYTHONPATH=$orig/dist/lib timeout 20 python3 "$src/tests/compat-client.py" "$port" \
                                org.example.Echo Echo '{"from": "python"}' py.event 2>&1) ||
                                fail "$variant: MBusClient.py: $out"
                        grep -qF '"from": "python"' <<<"$out" || fail "$variant: MBusClient.py printed: $out"
                        grep -qF '"event":"py__2eevent"' "$tmp/pysub-$variant.log" && break
                        sleep 0.2
                done
                wait_for "$tmp/pysub-$variant.log" '"namespace":"org.example.pyclient","event":"py__2eevent"'
        else
                echo "python3 missing: MBusClient.py not run" >&2
        fi
        unset LD_LIBRARY_PATH
        # None of the real clients sent anything the translator had to refuse.
        ! grep -q 'Closing original mBus client' "$tmp/broker-$variant.log" ||
                fail "$variant: the broker refused a real client's frame"
        echo "ok: $variant build"
}

run_variant zlib
run_variant plain

# mbus-bench: rpc-seq through the compat listener beside native rpc-seq, and through the original
# broker (its default build) in the same run; each answers every call and gives its figures.
# 9000 calls and the 1000 of the warm-up take the sequence numbers past the original's 9998 and
# around again.
out=$("$bindir/mbus-bench" --broker "$broker" -s rpc-seq-compat --peer mbus-orig \
        --orig-broker "$cache/zlib/mbus-orig/dist/bin/mbus-broker" --calls 9000 --json) || fail "mbus-bench --peer mbus-orig"
for scenario in rpc-seq-compat mbus-orig; do
        grep -qE "\"$scenario\":\{\"calls_per_sec\":[0-9.]+,\"p50_usec\":[0-9.]+,\"p99_usec\":[0-9.]+,\"answered\":9000(\.0)?[,}]" \
                <<<"$out" || fail "mbus-bench gave no $scenario figures with every call answered: $out"
done
grep -qF '"peer":"mbus-orig","scenario":"rpc-seq-compat","name":"calls_per_sec"' <<<"$out" ||
        fail "mbus-bench compared no compat figure with the original broker: $out"
echo "ok: mbus-bench --peer mbus-orig"
