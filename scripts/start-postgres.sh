#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the test suite and print the
# connection URL on the last line. Usage: scripts/start-postgres.sh DIR [PORT]
# The server runs as the `postgres` user when this script runs as root, because
# PostgreSQL refuses to start as root.
set -euo pipefail

dir=${1:?usage: start-postgres.sh DIR [PORT]}
port=${2:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ]; then
  echo "PostgreSQL binaries not found under /usr/lib/postgresql; install the postgresql package" >&2
  exit 1
fi

run() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir"
fi
if [ ! -f "$dir/PG_VERSION" ]; then
  run "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
fi
run "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres"
