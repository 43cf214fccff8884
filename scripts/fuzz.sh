#!/usr/bin/env bash
# Runs every cargo-fuzz target (FHIR bundle reader, unit text parser, JSON record reader,
# HL7 v2 parser and ORU reader) for a bounded time. The machine has one stable toolchain;
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags it needs.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-${FUZZ_SECONDS:-30}}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz || exit 3
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O || exit 3
pass=0; fail=0
for target in $(cargo fuzz list); do
  if cargo fuzz run -O "$target" -- -max_total_time="$secs" >"target/$target.log" 2>&1; then
    pass=$((pass + 1)); echo "ok   $target: $(grep -E '^Done' "target/$target.log" | tail -1)"
  else
    fail=$((fail + 1)); echo "FAIL $target"; tail -30 "target/$target.log"
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
