#!/usr/bin/env bash
# Checks the command-line contract of PRODUCT.md against a built binary: exit codes, one-line
# errors that name the field and the value, JSON on stdout, text output.
set -uo pipefail
bin=${1:-target/release/leuko}
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { # name, expected exit, expected stderr substring, command...
  local name=$1 want=$2 needle=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -eq "$want" ] && grep -q -- "$needle" "$tmp/err" "$tmp/out" && [ "$(wc -l <"$tmp/err")" -le 1 ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL $name: exit $got (want $want); stderr: $(cat "$tmp/err")"
  fi
}
printf '{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"6690-2"}]},"effectiveDateTime":"2026-01-01T08:00:00Z","valueQuantity":{"value":4000,"unit":"10*9/L"}}}]}' >"$tmp/implausible.json"
printf '{"results":[{"analyte":"anc","value":"400 cells/mm3","at":"2026-01-01T08:00:00Z"}],"conditions":[{"name":"fever"}]}' >"$tmp/own.json"
printf 'not json' >"$tmp/bad.json"
check "implausible value names field and value" 2 "valueQuantity.value" "$bin" assess --format json --asof 2026-01-02T00:00:00Z "$tmp/implausible.json"
check "not JSON" 2 "not valid JSON" "$bin" assess "$tmp/bad.json"
check "missing file" 2 "no-such-file" "$bin" assess no-such-file.json
check "bad --asof" 2 "--asof" "$bin" assess --asof yesterday "$tmp/own.json"
check "unknown profile" 2 "--profile" "$bin" assess --profile nope --asof 2026-01-02T00:00:00Z "$tmp/own.json"
check "own record, json" 0 '"level": "emergency"' "$bin" assess --format json --asof 2026-01-02T00:00:00Z "$tmp/own.json"
check "stdin, text" 0 "EMERGENCY" sh -c "\"$bin\" assess --asof 2026-01-02T00:00:00Z --color never - < \"$tmp/own.json\""
check "schema" 0 '"RecordJson"' "$bin" schema
# The service: starts on the embedded default, answers, and stops cleanly on SIGTERM.
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
( cd "$tmp" && exec "$bin" serve --addr "127.0.0.1:$port" ) >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
up=0
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
if [ "$up" = 1 ] && [ -f "$tmp/leuko.db" ] && curl -sf "http://127.0.0.1:$port/" | grep -q "<html"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL serve: not up with its page and leuko.db in the working folder"; fi
kill -TERM "$spid"; wait "$spid"; code=$?
if [ "$code" -eq 0 ] && grep -q "shutting down" "$tmp/serve.err"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL serve: SIGTERM exit $code"; fi
echo "cli-contract: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
