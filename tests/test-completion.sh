#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion (shell-completion/bash/mbus) as a user meets it: sourced into bash,
# completing against a real broker with a service on it, as bash would call it on TAB
# (COMP_LINE, COMP_POINT, COMP_WORDS split at bash's word breaks, COMP_CWORD).
#   test-completion.sh SRCDIR BUILDDIR BROKER
set -u
src=$1 build=$2 broker=$3
dir=$(mktemp -d /tmp/mbus-completion.XXXXXX)
sock=$dir/socket
fail=0
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/conf"
cp -r "$src/policy/interfaces.d" "$src/policy/policy.d" "$dir/conf/"
"$broker" --listen "$sock" --config-dir "$dir/conf" --log-target console --log-level warning 2>"$dir/broker.log" &
pids+=($!)
for _ in $(seq 200); do [[ -S $sock ]] && break; sleep 0.05; done
"$build/tools/mbus-bench" --address "$sock" serve-echo org.example.Echo &
pids+=($!)
"$build/tools/mbus-wait" --address "$sock" --timeout 20 org.example.Echo || { echo "no service"; exit 1; }

export PATH=$build/tools:$build/introspect:$PATH
source "$src/shell-completion/bash/mbus"

# complete LINE: what TAB at the end of LINE offers, in COMPREPLY
complete_line() {
    local line=$1 breaks='[=:]'
    COMP_LINE=$line
    COMP_POINT=${#line}
    # bash's own split: at blanks, and around its word breaks = and :
    COMP_WORDS=()
    read -ra words <<< "$line"
    for w in "${words[@]}"; do
        while [[ $w =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
            [[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
            COMP_WORDS+=("${BASH_REMATCH[2]}")
            w=${BASH_REMATCH[3]}
        done
        [[ -n $w ]] && COMP_WORDS+=("$w")
    done
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    local spec
    spec=$(complete -p "${COMP_WORDS[0]}" 2>/dev/null) || { echo "no completion for ${COMP_WORDS[0]}"; return 1; }
    [[ $spec == *"-F _mbus_complete"* ]] || { echo "$spec"; return 1; }
    _mbus_complete "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}

# expect LINE WORD...: TAB at the end of LINE offers exactly the WORDs (in any order)
expect() {
    local line=$1
    shift
    complete_line "$line" || { fail=1; return; }
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    if [[ $got != "$want" ]]; then
        echo "FAIL: '$line' offers [$got], expected [$want]"
        fail=1
    else
        echo "ok: '$line' -> [$got]"
    fi
}

# namespaces and members come from the running broker
expect "mbus-call -a $sock org.ex" org.example.Echo
expect "mbus-call --address=$sock org." org.example.Echo org.mbus.Broker
expect "mbus-call -a $sock org.mbus.Broker ListN" ListNamespaces
expect "mbus-call -a $sock org.example.Echo " Echo
expect "mbus-call -a $sock -t 2 -- org.mbus.Broker Vers" Version
expect "mbus-publish -a $sock org.mbus.Broker NamespaceO" NamespaceOwnerChanged
expect "mbus-subscribe -a $sock org.mbus.Broker.PeerC" org.mbus.Broker.PeerConnected
expect "mbus-subscribe -a $sock org.exa" 'org.example.Echo.*'
expect "mbus-wait -a $sock org.example" org.example.Echo
expect "mbus-introspect -a $sock org.mbus" org.mbus.Broker
expect "mbus-monitor -a $sock org.example.E" org.example.Echo 'org.example.Echo.*'
# options, and values after = (bash replaces only what follows the =)
expect "mbus-call --no-" --no-check
expect "mbus-call --json=p" pretty
expect "mbus-subscribe --json " short pretty
expect "mbus-monitor type=ret" return
expect "mbus-bench --scenario rpc-" rpc-seq rpc-pipelined rpc-callers rpc-seq-ws rpc-seq-compat
expect "mbus-bench --peer " dbus dbus-daemon dbus-broker nats mbus-orig
expect "mbus-bench --transport " unix ws compat
# no broker there: nothing, and at once
start=$SECONDS
expect "mbus-call -a $dir/nothing org." 
((SECONDS - start < 5)) || { echo "FAIL: completion without a broker took $((SECONDS - start)) s"; fail=1; }

exit $fail
