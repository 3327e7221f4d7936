#!/usr/bin/env bash
# Builds the Go smux peer used by the interop tests, offline, against Debian's
# golang-github-xtaci-smux-dev (apt-get install golang-go golang-github-xtaci-smux-dev).
# Usage: build-go-peer.sh OUTPUT_BINARY
set -euo pipefail

output=${1:?usage: build-go-peer.sh OUTPUT_BINARY}
source_dir=$(cd "$(dirname "$0")/go" && pwd)
smux_dir=/usr/share/gocode/src/github.com/xtaci/smux

if ! command -v go >/dev/null; then
  echo "go not found: install golang-go" >&2
  exit 1
fi
if [ ! -f "$smux_dir/session.go" ]; then
  echo "smux source not found in $smux_dir: install golang-github-xtaci-smux-dev" >&2
  exit 1
fi

# go.mod replaces the smux module with that directory, so no proxy or go.sum is needed.
cache_dir=${GOCACHE:-${TMPDIR:-/tmp}/bastionless-go-cache}
mkdir -p "$(dirname "$output")"
cd "$source_dir"
GOCACHE="$cache_dir" GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  go build -o "$output" .
