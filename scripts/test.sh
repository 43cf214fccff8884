#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust test suite (unit, property, snapshot, golden),
# the public clinical vignettes, and a short fuzz-style run of the parsers.
# Usage: scripts/test.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== setup"
scripts/setup.sh

echo "== rustfmt"
cargo fmt --all -- --check

echo "== clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== build (release)"
cargo build --release --locked -p leuko-cli

echo "== tests (the store suite runs on SQLite and on a real PostgreSQL started here)"
if cargo nextest --version >/dev/null 2>&1; then
  scripts/with-postgres.sh cargo nextest run --workspace --locked --no-fail-fast
else
  scripts/with-postgres.sh cargo test --workspace --locked --no-fail-fast
fi

bin="${CARGO_TARGET_DIR:-target}/release/leuko"

echo "== public vignettes"
shared="$(pwd)/../shared"
out="target/vignettes/public"
rm -rf "$out"
python3 "$shared/vignettes/make_bundles.py" "$shared/vignettes/public.toml" "$out"
python3 "$shared/vignettes/check.py" --bin "$bin" "$out"

echo "== FHIR R4 output validated by Python fhir.resources (R4 4.0.1)"
scripts/fhir-validate.sh

echo "== command-line contract"
scripts/cli-contract.sh "$bin"

echo "== browser tests (Playwright driving Debian's Chromium against leuko serve)"
scripts/browser-tests.sh

echo "== API fuzzing (schemathesis against /openapi.json of a running leuko serve)"
scripts/api-fuzz.sh
