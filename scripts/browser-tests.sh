#!/usr/bin/env bash
# Browser tests of the web page served by `leuko serve`: headless Debian Chromium driven by
# playwright-core (browser-tests/run.mjs). Starts a release build on a free loopback port with
# a temporary SQLite database and a write key, runs the tests, always stops the server.
# Screenshots go to target/screenshots/NAME.png (or $CARGO_TARGET_DIR/screenshots).
# Usage: scripts/browser-tests.sh [TEST-NAME-SUBSTRING]   (from the repository root)
# The last line is always `browser-tests: N passed, M failed`; the exit code is 0 only when
# every test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bin="$target/release/leuko"
shots="$target/screenshots"
chromium_bin=/usr/bin/chromium

summary_line() { echo "browser-tests: $1 passed, $2 failed"; }

# ---------------------------------------------------------------- what the tests need

if [ ! -x "$chromium_bin" ]; then
  echo "== installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing Node.js and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# playwright-core, pinned by browser-tests/package-lock.json; never a browser download.
want=$(node -p 'require("./browser-tests/package-lock.json").packages["node_modules/playwright-core"].version')
have=$(node -p 'try { require("./browser-tests/node_modules/playwright-core/package.json").version } catch (_) { "" }')
if [ "$want" != "$have" ]; then
  echo "== npm ci (playwright-core $want)"
  (cd browser-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# The release binary: built when missing, or when the page's assets or the server's sources
# are newer than it (the page is compiled into the binary).
if [ ! -x "$bin" ] || [ -n "$(find crates/leuko-server knowledge -newer "$bin" -type f -print -quit)" ]; then
  echo "== cargo build --release -p leuko-cli"
  cargo build --release --locked -p leuko-cli
fi

# ---------------------------------------------------------------- the server

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db="$tmp/leuko.db"
key=$("$bin" keys create --role write --db "$db" 2>/dev/null | head -n1)
case "$key" in lk_*) ;; *) echo "could not create an API key" >&2; summary_line 0 1; exit 1 ;; esac

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})')
LEUKO_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --db "$db" >"$tmp/server.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
up=no
for _ in $(seq 100); do
  if curl -sf "$url/healthz" >/dev/null 2>&1; then up=yes; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$up" != yes ]; then
  echo "the server did not start:" >&2
  cat "$tmp/server.log" >&2
  summary_line 0 1
  exit 1
fi
echo "== leuko serve on $url (SQLite in $tmp)"

# ---------------------------------------------------------------- the tests

mkdir -p "$shots"
status=0
LEUKO_URL="$url" LEUKO_KEY="$key" CHROMIUM="$chromium_bin" SCREENSHOTS="$shots" \
  SUMMARY="$tmp/summary" BROWSER_TESTS_ONLY="${1:-}" \
  node browser-tests/run.mjs || status=$?

if [ -s "$tmp/summary" ]; then
  read -r passed failed <"$tmp/summary"
else
  # The runner itself failed before it could count (browser did not start, ...).
  passed=0
  failed=1
fi
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
  echo "-- server log (last 40 lines)"
  tail -n 40 "$tmp/server.log" || true
  [ "$failed" -gt 0 ] || failed=1
  summary_line "$passed" "$failed"
  exit 1
fi
summary_line "$passed" "$failed"
