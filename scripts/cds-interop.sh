#!/usr/bin/env bash
# End-to-end CDS Hooks 2.0 test with an independent client, npm @medplum/core (pinned by
# cds-interop/package-lock.json): discovery with MedplumClient.getCdsServices, each request
# built by buildCdsRequest (prefetch read from a small FHIR server in cds-interop/run.mjs),
# both services called with MedplumClient.callCdsService, feedback posted, every call signed
# with an ES384 JWT, `leuko serve` in strict mode. The answers are then checked against
# schema/cds-hooks/cds-hooks.schema.json (scripts/cds_schema_check.py, Python jsonschema).
# Usage: scripts/cds-interop.sh   (from the repository root). Loopback traffic only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bin="${LEUKO_BIN:-$target/release/leuko}"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing Node.js and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
want=$(node -p 'require("./cds-interop/package-lock.json").packages["node_modules/@medplum/core"].version')
have=$(node -p 'try { require("./cds-interop/node_modules/@medplum/core/package.json").version } catch (_) { "" }')
if [ "$want" != "$have" ]; then
  echo "== npm ci (@medplum/core $want)"
  (cd cds-interop && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  echo "== pip install jsonschema"
  python3 -m pip install --quiet --disable-pip-version-check jsonschema
fi
if [ ! -x "$bin" ] || [ -n "$(find crates knowledge -newer "$bin" -type f -print -quit)" ]; then
  echo "== cargo build --release -p leuko-cli"
  cargo build --release --locked -p leuko-cli
fi

# @medplum/core 5 expects a global WebSocket: built into Node 22, behind a flag in Node 20/21.
node_flags=""
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null ||
  node_flags="--experimental-websocket"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leuko-cds-interop.XXXXXX")
pid=""
cleanup() {
  local rc=$?
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# The CDS client's key pair: the private key signs here, the public key is leuko's JWK Set.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/client.pem" 2>/dev/null
node -e '
const { createPublicKey } = require("node:crypto");
const fs = require("node:fs");
const jwk = createPublicKey(fs.readFileSync(process.argv[1])).export({ format: "jwk" });
fs.writeFileSync(process.argv[2], JSON.stringify({ keys: [{ ...jwk, kid: "interop-es384", alg: "ES384", use: "sig" }] }));
' "$tmp/client.pem" "$tmp/client.jwks.json"

mkdir -p "$tmp/out"
for _ in 1 2 3; do
  port=$(free_port)
  base="http://127.0.0.1:$port"
  cat >"$tmp/issuers.toml" <<TOML
base_url = "$base"
[[issuer]]
iss = "https://ehr.interop.example"
jwks = "client.jwks.json"
TOML
  LEUKO_LOG=${LEUKO_LOG:-warn} "$bin" serve --addr "127.0.0.1:$port" --db "$tmp/cds.db" \
    --cds-auth strict --cds-issuers "$tmp/issuers.toml" >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -fsS --max-time 1 "$base/healthz" >/dev/null 2>&1 && break 2
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
done
[ -n "$pid" ] || { echo "cds-interop: the server did not start:"; cat "$tmp/server.log"; exit 3; }

echo "== @medplum/core $want against leuko serve (strict JWT) at $base"
LEUKO_BASE=$base CDS_KEY=$tmp/client.pem CDS_ISS=https://ehr.interop.example CDS_KID=interop-es384 \
  FHIR_PORT=$(free_port) OUT=$tmp/out node $node_flags cds-interop/run.mjs
echo "== leuko's answers against the CDS Hooks 2.0 JSON Schema"
python3 scripts/cds_schema_check.py \
  DiscoveryResponse="$tmp/out/discovery.json" \
  ServiceResponse="$tmp/out/patient-view.json" \
  ServiceResponse="$tmp/out/patient-view-fetched.json" \
  ServiceResponse="$tmp/out/order-select.json"
if grep -qE 'panicked|internal error' "$tmp/server.log"; then
  echo "cds-interop: the server logged faults:"; grep -E 'panicked|internal error' "$tmp/server.log" | head
  exit 1
fi
