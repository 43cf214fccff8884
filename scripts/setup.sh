#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine (idempotent).
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is required (rustup toolchain)" >&2
  exit 1
fi
if ! command -v python3 >/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest || echo "setup: cargo-nextest unavailable; falling back to cargo test"
fi
rustup component add clippy rustfmt >/dev/null 2>&1 || true
cargo fetch --locked
