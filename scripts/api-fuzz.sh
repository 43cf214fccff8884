#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis (property-based):
# starts `leuko serve` on a free loopback port over a fresh temporary SQLite store, creates an
# admin key, runs schemathesis with a bounded number of examples per operation, stops the
# server, and exits non-zero when schemathesis found a failure. Loopback traffic only.
#
#   scripts/api-fuzz.sh                 # from the repository root
#   API_FUZZ_EXAMPLES=50 scripts/api-fuzz.sh
#
# Uses target/release/leuko (built here when missing) and a venv under target/.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 3
target=${CARGO_TARGET_DIR:-$root/target}
bin=${LEUKO_BIN:-$target/release/leuko}
venv=$target/api-fuzz-venv
st_version=4.32.5
examples=${API_FUZZ_EXAMPLES:-30}
max_time=${API_FUZZ_MAX_TIME:-170}
seed=${API_FUZZ_SEED:-}

say() { echo "api-fuzz: $*" >&2; }

if [ ! -x "$bin" ]; then
  say "building $bin"
  cargo build --release -p leuko-cli || { say "build failed"; exit 3; }
fi

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$st_version"; then
  say "installing schemathesis $st_version into $venv"
  python3 -m venv "$venv" || { say "python3 -m venv failed"; exit 3; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version" ||
    { say "pip install schemathesis failed"; exit 3; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leuko-api-fuzz.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db=$tmp/fuzz.db
key=$("$bin" keys create --role admin --db "$db" 2>/dev/null) || { say "keys create failed"; exit 3; }

# A free loopback port: bind port 0, read the port, release it.
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base=http://127.0.0.1:$port

LEUKO_LOG=${LEUKO_LOG:-warn} "$bin" serve --addr "127.0.0.1:$port" --db "$db" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS --max-time 1 "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { say "the server exited:"; cat "$tmp/server.log" >&2; exit 3; }
  sleep 0.1
done
curl -fsS --max-time 1 "$base/healthz" >/dev/null || { say "the server did not answer on $base"; exit 3; }

# positive_data_acceptance ("a schema-valid request is accepted") holds for every operation
# but the two that take a record or a FHIR resource: whether a result is plausible, a unit is
# known or a Bundle holds anything to assess is clinical knowledge, not JSON Schema, so a
# schema-valid body may rightly be refused with a 400 naming the field.
cat >"$tmp/schemathesis.toml" <<'TOML'
[[operations]]
include-path = ["/v1/assess", "/v1/patients/{id}/entries"]
include-method = "POST"
checks.positive_data_acceptance.enabled = false
TOML

report=$tmp/report
args=(
  --config-file "$tmp/schemathesis.toml"
  run "$base/openapi.json"
  --url "$base"
  --header "Authorization: Bearer $key"
  --checks all
  --exclude-checks object_level_authorization
  --max-examples "$examples"
  --max-time "$max_time"
  --request-timeout 20
  --workers 2
  --suppress-health-check too_slow,filter_too_much,data_too_large,large_base_example
  --report ndjson,junit --report-dir "$report"
  --output-truncate true
)
[ -n "$seed" ] && args+=(--seed "$seed")

say "schemathesis $st_version against $base ($examples examples per operation, at most ${max_time}s)"
"$venv/bin/st" "${args[@]}"
rc=$?

# A failure of the server itself (a panic, a 5xx) is in its log.
if grep -qiE 'panicked|internal error' "$tmp/server.log"; then
  say "the server logged faults:"
  grep -iE 'panicked|internal error' "$tmp/server.log" | head -20 >&2
  [ "$rc" -eq 0 ] && rc=1
fi

# The summary: operations, test cases, failures, from the JUnit report.
junit=$(find "$report" -name '*.xml' 2>/dev/null | head -1)
summary=$("$venv/bin/python" - "$junit" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("no report"); sys.exit()
cases = root.iter("testcase")
ops = failed = 0
for c in cases:
    ops += 1
    if c.find("failure") is not None or c.find("error") is not None:
        failed += 1
print(f"{ops} operations, {ops - failed} passed, {failed} failed")
EOF
)
cases=$(grep -c '"ScenarioFinished"' "$report"/*.ndjson 2>/dev/null || true)
status=ok
[ "$rc" -ne 0 ] && status=FAILED
echo "api-fuzz: $status: schemathesis $st_version, $summary (exit $rc)"
exit "$rc"
