#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cli_exit_test.sh NAOS: exit codes and messages of the built `naos` binary
# without a node: unreachable node -> 111, usage errors -> 100.
set -u
NAOS=$1
fails=0
tmp=$(mktemp -d) || exit 111
trap 'rm -rf "$tmp"' EXIT INT TERM

# expect CODE NEEDLE CMD...: run CMD, check its exit code and that stderr
# contains NEEDLE (a fixed string).
expect() {
    want=$1 needle=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $* exited $got, want $want; stderr: $(cat "$tmp/err")"
        fails=$((fails + 1))
    elif ! grep -qF -- "$needle" "$tmp/err"; then
        echo "FAIL: $*: stderr lacks '$needle': $(cat "$tmp/err")"
        fails=$((fails + 1))
    else
        echo "ok   $*"
    fi
}

missing=$tmp/no/such/dir
expect 111 "naos: fatal: unable to reach naos-node at ipc://$missing/ctl.sock: Connection refused (is \`naos-node start\` running? check --run / NAOS_RUN_DIR)" \
    "$NAOS" --run "$missing" ping
expect 111 "unable to reach naos-node at ipc://$missing/ctl.sock" \
    env NAOS_RUN_DIR="$missing" "$NAOS" status
expect 111 "Connection refused" "$NAOS" status --run "$missing" research
# a socket file nobody listens on
mkdir -p "$tmp/run" && : >"$tmp/run/ctl.sock"
expect 111 "Connection refused" "$NAOS" --run "$tmp/run" stop x

expect 100 "put the command after \`--\`" \
    "$NAOS" --run "$missing" deploy a python3 x.py
expect 100 "--max-restarts: \"-1\"" \
    "$NAOS" --run "$missing" deploy a --max-restarts -1 -- x
expect 100 "(see \`naos deploy --help\`)" \
    "$NAOS" deploy a --supervisor nope -- x
expect 100 "unknown command \"frob\"" "$NAOS" frob
expect 100 "missing COMMAND" "$NAOS"
expect 100 "unknown option --bogus" "$NAOS" status --bogus
expect 100 "missing NAME" "$NAOS" stop
expect 100 "missing -f FILE" "$NAOS" apply
expect 100 "--timeout" "$NAOS" --timeout soon ping
expect 100 "--since" "$NAOS" events --since -3

# YAML errors point at FILE:LINE:COL
printf 'name: x\nbogus_key: 1\n' >"$tmp/bad.yaml"
expect 100 "naos: $tmp/bad.yaml:" "$NAOS" --run "$missing" apply -f "$tmp/bad.yaml"
# a missing or unreadable file is permanent (100): retrying cannot help
expect 100 "unable to open $tmp/none.yaml" "$NAOS" apply -f "$tmp/none.yaml"
expect 100 "unable to read $tmp" "$NAOS" apply -f "$tmp"
expect 100 "unable to open $tmp/none" "$NAOS" checkpoint save x -f "$tmp/none"
# --epoch: a positive whole number, for save only (checked before a node
# is asked)
expect 100 '--epoch: "0" is not an epoch' \
    "$NAOS" --run "$missing" checkpoint save x --epoch 0 -f /dev/null
expect 100 '--epoch: "-3" is not an epoch' \
    "$NAOS" --run "$missing" checkpoint save x --epoch -3 -f /dev/null
expect 100 '--epoch: "7x" is not an epoch' \
    "$NAOS" --run "$missing" checkpoint save x --epoch 7x -f /dev/null
expect 100 '--epoch: "18446744073709551616" is not an epoch' \
    "$NAOS" --run "$missing" checkpoint save x --epoch 18446744073709551616
expect 100 "--epoch is for save" \
    "$NAOS" --run "$missing" checkpoint load x --epoch 3
# a valid one gets as far as the node
expect 111 "unable to reach naos-node" \
    "$NAOS" --run "$missing" checkpoint save x --epoch 18446744073709551615 -f /dev/null

# with --json every error is one JSON object on stderr, wherever --json is
expect 100 '{"error":"unable to open '"$tmp"'/none.yaml: No such file or directory","code":100}' \
    "$NAOS" --json apply -f "$tmp/none.yaml"
expect 100 '"code":100}' "$NAOS" apply -f "$tmp/none.yaml" --json
expect 100 '{"error":"status: unknown option --bogus (see `naos status --help`)","code":100}' \
    "$NAOS" status --bogus --json
expect 111 '"code":111}' "$NAOS" --json --run "$missing" ping
expect 100 '{"error":"unknown command \"frob\" (see `naos --help`)","code":100}' \
    "$NAOS" --json frob
# after `--` it is the worker's argument, not ours
expect 100 "naos: fatal: deploy:" "$NAOS" deploy a --supervisor nope -- x --json

# keygen says which flag replaces a key; a missing directory is permanent
"$NAOS" keygen "$tmp/k" >/dev/null 2>&1
expect 100 "remove it first, or give --force to replace it" "$NAOS" keygen "$tmp/k"
expect 100 "No such file or directory" "$NAOS" keygen "$tmp/no/dir/k"

# help and version go to stdout with exit 0
for c in "" deploy apply status stop start restart rm events logs ping; do
    if ! "$NAOS" $c --help >"$tmp/out" 2>&1 || ! grep -q '^Usage: naos' "$tmp/out"; then
        echo "FAIL: naos $c --help"
        fails=$((fails + 1))
    fi
done
"$NAOS" help deploy | grep -q 'max-restarts' || { echo "FAIL: naos help deploy"; fails=$((fails + 1)); }
for h in "help --help" "help -h" "help help"; do
    if ! "$NAOS" $h >"$tmp/out" 2>&1 || ! grep -q '^Usage: naos' "$tmp/out"; then
        echo "FAIL: naos $h: $(cat "$tmp/out")"
        fails=$((fails + 1))
    fi
done
# the exit-code table is in the main help, once
"$NAOS" --help | grep -q '^  111  temporary' || { echo "FAIL: exit code table in naos --help"; fails=$((fails + 1)); }
"$NAOS" --version | grep -q '^naos [0-9]' || { echo "FAIL: --version"; fails=$((fails + 1)); }

echo "$fails failed"
[ "$fails" -eq 0 ]
