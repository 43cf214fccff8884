#!/usr/bin/env bash
# HL7 v2 interoperability with independent clients: messages built by Python `hl7apy`, sent
# with the `hl7` package's MLLP client to a real `leuko mllp`, ACKs parsed back with `hl7`;
# prints the throughput figure. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/leuko"
[ -x "$bin" ] || cargo build --release --locked -p leuko-cli
venv="$target/hl7-venv"
if ! "$venv/bin/python" -c 'import hl7, hl7apy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q hl7==0.4.5 hl7apy==1.3.5
fi
tmp=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
LEUKO_LOG=warn "$bin" mllp --listen "127.0.0.1:$port" --db "$tmp/hl7.db" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do python3 -c "import socket;socket.create_connection(('127.0.0.1',$port)).close()" 2>/dev/null && break; sleep 0.1; done
"$venv/bin/python" scripts/hl7_interop.py "$port"
