#!/usr/bin/env bash
# Validates leuko's FHIR R4 output with an independent implementation: the pydantic models of
# PyPI fhir.resources 6.4.0, the last release whose top-level package models R4 4.0.1 (6.5.0
# moved it to R4B 4.3.0; 7.x and 8.x default to R5), imported as `fhir.resources.<resource>`.
#
#   scripts/fhir-validate.sh        # from anywhere; about a minute once the venv exists
#
# Builds the public vignette bundles into target/vignettes/public, runs
# `leuko assess --format fhir` on each (or, while the CLI has no FHIR output, the example
# crates/leuko-fhir/examples/fhir_out.rs), and checks every Bundle and resource (see
# scripts/fhir_validate.py). Uses target/release/leuko (built here when missing; LEUKO_BIN
# overrides) and a Python venv under target/ (CARGO_TARGET_DIR is honoured).
# Last line: `fhir-validate: N passed, M failed`. Exit: 0 all passed, 1 failures, 3 set-up.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 3
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
bin=${LEUKO_BIN:-$target/release/leuko}
venv=$target/fhir-validate-venv
fr_version=6.4.0
pydantic_version=1.10.27 # fhir.resources 6.x is written for pydantic 1
cases=$target/vignettes/public

say() { echo "fhir-validate: $*" >&2; }

if ! "$venv/bin/python" -c "import fhir.resources as f; assert f.__version__ == '$fr_version'" 2>/dev/null; then
  say "installing fhir.resources $fr_version into $venv"
  python3 -m venv "$venv" || { say "python3 -m venv failed"; exit 3; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "fhir.resources==$fr_version" "pydantic[email]==$pydantic_version" ||
    { say "pip install failed"; exit 3; }
fi

if [ ! -x "$bin" ]; then
  say "building $bin"
  cargo build --release -p leuko-cli || { say "build failed"; exit 3; }
fi

# The CLI has FHIR output when `--format fhir` is accepted (clap rejects an unknown value
# before it prints the help).
if "$bin" assess --format fhir --help >/dev/null 2>&1; then
  mode=cli
  run_bin=$bin
else
  mode=example
  run_bin=$target/release/examples/fhir_out
  say "leuko assess has no --format fhir yet; using the example fhir_out"
  cargo build --quiet --release -p leuko-fhir --example fhir_out || { say "build failed"; exit 3; }
fi

rm -rf "$cases"
python3 ../shared/vignettes/make_bundles.py ../shared/vignettes/public.toml "$cases" >/dev/null ||
  { say "make_bundles.py failed"; exit 3; }

exec "$venv/bin/python" "$root/scripts/fhir_validate.py" --mode "$mode" --bin "$run_bin" \
  --out "$target/fhir-validate" "$cases"
