#!/usr/bin/env bash
# Load figure for POST /v1/assess: requests per second and latency percentiles with wrk on
# loopback, against a release build. Bounded: 2 connections per core... see the flags below.
# Usage: scripts/load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
bin="${CARGO_TARGET_DIR:-target}/release/leuko"
[ -x "$bin" ] || cargo build --release --locked -p leuko-cli
tmp=$(mktemp -d)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
LEUKO_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --db "$tmp/load.db" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
body=$(cat examples/clozapine-week-10.json | python3 -c 'import json,sys;print(json.dumps(json.load(sys.stdin)))')
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$body]]
LUA
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk -t2 -c$conns -d${secs}s --latency -s post.lua http://127.0.0.1:$port/v1/assess?asof=2026-04-15T10:00:00Z"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$port/v1/assess?asof=2026-04-15T10:00:00Z"
