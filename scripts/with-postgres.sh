#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server: LEUKO_TEST_POSTGRES_URL is exported to it.
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#   e.g. scripts/with-postgres.sh cargo test -p leuko-store
#
# Finds initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin, installing Debian's
# `postgresql` package with apt-get when neither is there. Creates a cluster in a fresh temporary
# directory (owned by the system user `leukotest` when run as root, since PostgreSQL refuses to
# run as root), with trust authentication, listening on 127.0.0.1 only, on a free port from
# 54329 up, and its Unix socket inside that directory; creates the database `leuko_test`; runs
# the command; then always stops the server and removes the directory. Exits with the
# command's status.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

log() { echo "with-postgres: $*" >&2; }

find_bindir() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  # The newest installed major version.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! bindir="$(find_bindir)"; then
  if [ "$(id -u)" -ne 0 ]; then
    log "initdb/pg_ctl not found and not root: install PostgreSQL (Debian: apt-get install postgresql)"
    exit 1
  fi
  log "installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  bindir="$(find_bindir)" || { log "initdb/pg_ctl still not found after installing postgresql"; exit 1; }
fi
initdb="$bindir/initdb"
pg_ctl="$bindir/pg_ctl"
createdb="$bindir/createdb"
[ -x "$createdb" ] || createdb="$(command -v createdb)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/leuko-pg.XXXXXX")"
pguser="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  pguser=leukotest
  if ! id -u "$pguser" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pguser"
  fi
  chown "$pguser" "$tmp"
  # The temporary directory's parents must be traversable by that user (/tmp is).
fi

# Runs a PostgreSQL program as the cluster's owner, from inside the temporary directory.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      (cd "$tmp" && runuser -u "$pguser" -- "$@")
    else
      (cd "$tmp" && su -s /bin/sh "$pguser" -c "$(printf '%q ' "$@")")
    fi
  else
    (cd "$tmp" && "$@")
  fi
}

started=0
cleanup() {
  local status=$?
  if [ "$started" -eq 1 ]; then
    as_pg "$pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || log "could not stop the server cleanly"
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

as_pg "$initdb" -D "$tmp/data" -U "$pguser" --auth=trust --encoding=UTF8 --no-locale >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; log "initdb failed"; exit 1; }
as_pg mkdir -p "$tmp/sock"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=""
for candidate in $(seq 54329 54429); do
  port_in_use "$candidate" && continue
  if as_pg "$pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $candidate -k $tmp/sock" start >/dev/null 2>&1; then
    port="$candidate"
    started=1
    break
  fi
  # Another server may have taken the port between the check and the start: try the next.
done
if [ -z "$port" ]; then
  [ -f "$tmp/server.log" ] && tail -n 20 "$tmp/server.log" >&2
  log "could not start PostgreSQL on any port from 54329 to 54429"
  exit 1
fi

as_pg "$createdb" -h 127.0.0.1 -p "$port" -U "$pguser" leuko_test
export LEUKO_TEST_POSTGRES_URL="postgres://$pguser@127.0.0.1:$port/leuko_test"
log "PostgreSQL $("$pg_ctl" --version | awk '{print $3}') at $LEUKO_TEST_POSTGRES_URL (data in $tmp)"

# The command runs as a child that the script waits for, so that a TERM or INT sent to the
# script reaches it at once (and the server is stopped after it ends), rather than after it.
set +e
"$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  status=$?
done
set -e
exit "$status"
