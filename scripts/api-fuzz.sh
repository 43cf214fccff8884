#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis (property-based):
# starts `leuko serve` on a free loopback port over a fresh temporary SQLite store, creates an
# admin key, runs schemathesis with a bounded number of examples per operation, always stops
# the server, and exits non-zero when schemathesis found a failure. Loopback traffic only.
#
#   scripts/api-fuzz.sh                       # from the repository root; about 2 minutes
#   API_FUZZ_EXAMPLES=30 scripts/api-fuzz.sh  # quicker
#   API_FUZZ_SEED=123 scripts/api-fuzz.sh     # reproduce a run (its seed is printed)
#   API_FUZZ_MAX_TIME=600 scripts/api-fuzz.sh # fuzz until the time is spent instead
#
# Uses target/release/leuko (built here when missing; LEUKO_BIN overrides) and a Python venv
# under target/. schemathesis keeps the failures it found under target/api-fuzz-cache and
# replays them first on the next run. Exit: 0 clean, 1 failures, 3 the run could not start.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 3
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
bin=${LEUKO_BIN:-$target/release/leuko}
venv=$target/api-fuzz-venv
st_version=4.32.5
examples=${API_FUZZ_EXAMPLES:-500}
max_time=${API_FUZZ_MAX_TIME:-}
seed=${API_FUZZ_SEED:-}
# A hard stop for the whole schemathesis run, whatever happens.
deadline=${API_FUZZ_DEADLINE:-$((${max_time:-0} + 270))}

say() { echo "api-fuzz: $*" >&2; }

if [ ! -x "$bin" ]; then
  say "building $bin"
  cargo build --release -p leuko-cli || { say "build failed"; exit 3; }
fi

if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$st_version"; then
  say "installing schemathesis $st_version into $venv"
  python3 -m venv "$venv" || { say "python3 -m venv failed"; exit 3; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version" ||
    { say "pip install schemathesis==$st_version failed"; exit 3; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leuko-api-fuzz.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db=$tmp/fuzz.db
key=$("$bin" keys create --role admin --db "$db" 2>"$tmp/keys.err") ||
  { say "keys create failed: $(cat "$tmp/keys.err")"; exit 3; }

# A free loopback port: bind port 0, read the port, release it; retried if taken meanwhile.
for _ in 1 2 3; do
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  base=http://127.0.0.1:$port
  LEUKO_LOG=${LEUKO_LOG:-warn} "$bin" serve --addr "127.0.0.1:$port" --db "$db" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS --max-time 1 "$base/healthz" >/dev/null 2>&1 && break 2
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=
done
[ -n "$server_pid" ] || { say "the server did not start:"; cat "$tmp/server.log" >&2; exit 3; }

# Every check schemathesis has runs (not_a_server_error, status_code_conformance,
# content_type_conformance, response_headers_conformance, response_schema_conformance,
# negative_data_rejection, positive_data_acceptance, missing_required_header,
# unsupported_method, allow_header_conformance, use_after_free, ensure_resource_availability,
# ignored_auth), with two exceptions set in the configuration below (a `--checks` option would
# override its per-operation part):
# - object_level_authorization needs a second identity whose data the first must not see;
#   keys here have roles, not owners.
# - positive_data_acceptance ("a schema-valid request is accepted") holds for every operation
#   but the two that take a record or a FHIR resource: whether a result is plausible, a unit is
#   known or an analyte exists is clinical knowledge, not JSON Schema, so a schema-valid body
#   may rightly be refused with a 400 naming the field.
# - The CDS Hooks service call and feedback are described by the JSON Schema of the CDS Hooks
#   2.0 tables (schema/cds-hooks/): a schema-valid call may rightly be refused (412 when the
#   prefetch lacks the patient or the counts, 400 when a prefetched resource is not usable
#   FHIR), and the service reads some fields more leniently than the spec's tables (a
#   whitespace-only string, an accepted feedback without acceptedSuggestions), so neither
#   positive_data_acceptance nor negative_data_rejection is asked of them; every other check
#   is (no 5xx, answers that follow the schemas, status codes, content types).
cat >"$tmp/schemathesis.toml" <<TOML
[cache]
directory = "$target/api-fuzz-cache"

[checks]
object_level_authorization.enabled = false

[[operations]]
include-path = ["/v1/assess", "/v1/patients/{id}/entries"]
include-method = "POST"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = ["/cds-services/{id}", "/cds-services/{id}/feedback"]
include-method = "POST"
checks.positive_data_acceptance.enabled = false
checks.negative_data_rejection.enabled = false
TOML

report=$tmp/report
args=(
  --config-file "$tmp/schemathesis.toml"
  run "$base/openapi.json"
  --url "$base"
  --header "Authorization: Bearer $key"
  --max-examples "$examples"
  --request-timeout 20
  --workers 1
  --suppress-health-check too_slow,filter_too_much,data_too_large,large_base_example
  --report junit --report-dir "$report"
  --output-truncate true
  --no-color
)
[ -n "$max_time" ] && args+=(--max-time "$max_time")
[ -n "$seed" ] && args+=(--seed "$seed")

say "schemathesis $st_version against $base, $examples examples per operation${max_time:+, for ${max_time}s}"
# From the temporary directory: hypothesis keeps its database in the working directory.
(cd "$tmp" && timeout -s INT -k 20 "$deadline" "$venv/bin/st" "${args[@]}") | tee "$tmp/st.log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 124 ] && say "schemathesis ran past ${deadline}s and was stopped"

# A fault of the server (a panic, a 5xx) is in its log even when no check saw it.
if grep -qE 'panicked|internal error' "$tmp/server.log"; then
  say "the server logged faults:"
  grep -E 'panicked|internal error' "$tmp/server.log" | head -20 >&2
  [ "$rc" -eq 0 ] && rc=1
fi
kill -0 "$server_pid" 2>/dev/null || { say "the server died during the run"; [ "$rc" -eq 0 ] && rc=1; }

# The summary line, from schemathesis's own summary.
ops=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$tmp/st.log" | tail -1)
cases=$(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$tmp/st.log" | tail -1)
failures=$(sed -n 's/^ *[0-9]* generated, \([0-9]*\) found .*/\1/p' "$tmp/st.log" | tail -1)
errors=$(sed -n 's/^=* .*\b\([0-9][0-9]*\) errors\{0,1\} in .*/\1/p' "$tmp/st.log" | tail -1)
stateful=$(sed -n 's/^ *Scenarios: *\([0-9]*\).*/\1/p' "$tmp/st.log" | tail -1)
run_seed=$(sed -n 's/^Seed: *\([0-9]*\).*/\1/p' "$tmp/st.log" | tail -1)
status=passed
[ "$rc" -ne 0 ] && status=FAILED
echo "api-fuzz: $status: schemathesis $st_version, ${ops:-?} operations, ${cases:-?} test cases (${stateful:-0} stateful scenarios), ${failures:-0} failures, ${errors:-0} errors, seed ${run_seed:-?}"
exit "$rc"
