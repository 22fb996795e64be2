#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cli_e2e_test.sh NAOS FAKE_NODE: drive the real `naos` binary against
# fake_node (canned answers) and check output and exit codes.
set -u
NAOS=$1
FAKE=$2
fails=0
tmp=$(mktemp -d) || exit 111
fake_pid=
cleanup() {
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/run"
"$FAKE" "ipc://$tmp/run/ctl.sock" &
fake_pid=$!
i=0
while [ ! -S "$tmp/run/ctl.sock" ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
export NAOS_RUN_DIR="$tmp/run"

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# wait_for FILE NEEDLE: polls until FILE holds NEEDLE (true) or 10 s pass
# (false). Never a fixed sleep where a condition can be polled. Remove FILE
# before starting the command that writes it: the shell truncates it in
# the child, maybe after the first look here, and old content would let a
# signal go before the command has set its handlers (a background command
# of sh starts with SIGINT ignored, so that one would be lost).
wait_for() {
    n=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        [ $n -ge 200 ] && return 1
        sleep 0.05
        n=$((n + 1))
    done
}

# check CODE STDOUT_NEEDLE STDERR_NEEDLE CMD...
check() {
    want=$1 out_needle=$2 err_needle=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$* exited $got, want $want; out: $(cat "$tmp/out") err: $(cat "$tmp/err")"
    elif [ -n "$out_needle" ] && ! grep -qF -- "$out_needle" "$tmp/out"; then
        fail "$*: stdout lacks '$out_needle': $(cat "$tmp/out")"
    elif [ -n "$err_needle" ] && ! grep -qF -- "$err_needle" "$tmp/err"; then
        fail "$*: stderr lacks '$err_needle': $(cat "$tmp/err")"
    else
        echo "ok   $*"
    fi
}

check 0 "pong" "" "$NAOS" ping
check 0 '{"message":"pong"}' "" "$NAOS" ping --json
check 0 "research  running  one-for-one 1/5 in 5m" "" "$NAOS" status
check 0 "└─ fetcher  running  pid 4242  up 3m12s  restarts 1  last exit:1" "" "$NAOS" status research
check 0 '"restarts_in_window": 1' "" "$NAOS" status --json
check 0 '"at": "2026-11-21T10:12:03.123Z"' "" "$NAOS" --json status research
check 100 "" "naos: fatal: no deployment named ghost (see \`naos status\`)" "$NAOS" status ghost

check 0 "deployed agent: one-for-one x0, 1 children, argv0 python3" "" \
    "$NAOS" deploy agent --no-wait -- python3 agent.py
check 0 "deployed pool: simple-one-for-one x4, 1 children" "" \
    "$NAOS" deploy pool --no-wait --replicas 4 -- worker
check 0 "deployed crew: rest-for-one x0, 3 children" "" \
    "$NAOS" deploy crew --no-wait --supervisor rest-for-one --replicas 3 -- worker
check 100 "" "naos: fatal: deployment exists already exists: run \`naos rm exists\` first" \
    "$NAOS" deploy exists --no-wait -- x

cat >"$tmp/ok.yaml" <<'YAML'
name: research
supervisor: {strategy: rest-for-one, max_restarts: 5, window: 300s}
children:
  - id: fetcher
    command: ["python3", "fetch.py"]
  - id: tools
    supervisor: {strategy: one-for-one, max_restarts: 3, window: 60s}
    children:
      - {id: scraper, command: "./scraper --headless", watchdog: 30s}
YAML
check 0 "deployed research: rest-for-one x0, 2 children, argv0 python3" "" \
    "$NAOS" apply --no-wait -f "$tmp/ok.yaml"
check 0 "deployed research" "" sh -c "\"$NAOS\" apply --no-wait -f - <\"$tmp/ok.yaml\""
sed 's/^name: research/name: exists/' "$tmp/ok.yaml" >"$tmp/ex.yaml"
check 100 "" "deployment exists already exists: run \`naos rm exists\` first" \
    "$NAOS" apply --no-wait -f "$tmp/ex.yaml"

check 0 "ok 3 research" "" "$NAOS" stop research
check 0 "ok 4 research" "" "$NAOS" start research
check 0 "ok 5 research" "" "$NAOS" restart research
check 0 "ok 6 research" "" "$NAOS" rm research
check 100 "" "naos: fatal: no deployment named other" "$NAOS" stop other
check 1 "" "naos: busy is stopping; try again" "$NAOS" stop busy
# --json: the node's errors are JSON on stderr, with its code as "status"
check 1 "" '{"error":"busy is stopping; try again","code":1,"status":"busy"}' \
    "$NAOS" stop busy --json
check 111 "" '"code":111,"status":"internal"}' "$NAOS" --json rm boom
check 111 "" "naos: fatal: naos-node: store failed" "$NAOS" rm boom
# a command the node did not answer in time may have been carried out:
# retried with the same id until --timeout, then exit 112 (unknown)
check 112 "" "outcome unknown: naos-node at" "$NAOS" --timeout 300ms stop mute
check 112 "" '"status":"unknown-outcome"}' "$NAOS" --json --timeout 300ms \
    stop mute
# an unknown outcome is retried with the first attempt's id
check 0 "flaky: carried out once" "" "$NAOS" stop flaky
# the fake node answers `mute` 1 s late, one request at a time: a ping that
# gets its pong shows it is serving again
check 0 "pong" "" "$NAOS" ping

check 0 "2026-11-21T10:12:03.124Z  restart  research/fetcher  exit:1  restarts=3" \
    "5 events were dropped" "$NAOS" events
check 0 '"seq":1,"at":"2026-11-21T10:12:03.123Z","kind":"exit"' "" "$NAOS" events --json --since 0
check 0 "" "" "$NAOS" events --since 9
[ -s "$tmp/out" ] && fail "events --since 9 printed something"
check 0 "line2" "" "$NAOS" logs research/fetcher --tail 10
[ "$(cat "$tmp/out")" = "$(printf 'line1\nline2')" ] || fail "logs output: $(cat "$tmp/out")"

# follow: SIGTERM / SIGINT end it with 0. The signal is sent once the
# first batch is out, so it lands while the command is following.
for sig in TERM INT; do
    rm -f "$tmp/f.out" "$tmp/l.out"
    "$NAOS" events -f >"$tmp/f.out" 2>"$tmp/f.err" &
    p=$!
    wait_for "$tmp/f.out" "restart  research/fetcher" ||
        fail "events -f printed nothing: $(cat "$tmp/f.out" "$tmp/f.err")"
    kill -$sig $p
    wait $p
    rc=$?
    [ $rc -eq 0 ] || fail "events -f after SIG$sig exited $rc"
    "$NAOS" logs -f research >"$tmp/l.out" 2>&1 &
    p=$!
    wait_for "$tmp/l.out" "line2" ||
        fail "logs -f printed nothing: $(cat "$tmp/l.out")"
    kill -$sig $p
    wait $p
    rc=$?
    [ $rc -eq 0 ] || fail "logs -f after SIG$sig exited $rc"
done

# follow: the node goes away while it is followed -> 111
rm -f "$tmp/f.out"
"$NAOS" events -f --timeout 1s >"$tmp/f.out" 2>"$tmp/f.err" &
p=$!
wait_for "$tmp/f.out" "restart  research/fetcher" ||
    fail "events -f printed nothing: $(cat "$tmp/f.out" "$tmp/f.err")"
kill "$fake_pid"
wait "$fake_pid" 2>/dev/null
fake_pid=
wait $p
rc=$?
[ $rc -eq 111 ] || fail "events -f after the node died exited $rc: $(cat "$tmp/f.err")"
grep -q "naos: fatal:" "$tmp/f.err" || fail "events -f: no message: $(cat "$tmp/f.err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
