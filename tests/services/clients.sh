#!/usr/bin/env bash
# The Postgres client libraries of the driver matrix (tests/integration/postgres-clients.test.ts),
# installed from their own registries and cached in ~/.cache/trailgate:
#   psycopg 3 and asyncpg   PyPI, pinned in tests/clients/python/requirements.txt, in a venv
#   pgx                     Go modules, pinned by tests/clients/pgx/go.mod and go.sum, built once
#   pgjdbc                  the driver jar from Maven Central, run by Java's single-file source launcher
#   ssh-setenv              Go's x/crypto/ssh (Go modules, tests/clients/ssh-setenv), for the SSH
#                           environment tests: a client that asks for each env request's reply
# node-postgres is a dev dependency of the project already.
#
#   tests/services/clients.sh install   sets them up when missing; writes ${state}/clients.env
#
# A toolchain that cannot be set up fails here, with what to install, never as a skipped test.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
CLIENTS="$REPO_ROOT/tests/clients"
PGJDBC_VERSION=42.7.14
SERVICE=clients.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

# psycopg (with its binary build, which bundles a recent libpq) and asyncpg in a venv keyed by the pins.
python_clients() {
  local venv
  venv="$(pinned_venv python-clients "$CLIENTS/python/requirements.txt")" || exit 1
  "$venv/bin/python" -c 'import psycopg, asyncpg' || die "the venv $venv cannot import psycopg and asyncpg"
  PYTHON_BIN="$venv/bin/python"
}

# A Go program in tests/clients/NAME, built against its pinned modules; keyed by its sources.
go_client() { # name -> prints the binary's path
  local src="$CLIENTS/$1" key out
  command -v go >/dev/null 2>&1 || die "no Go toolchain: install Go $(sed -n 's/^go //p' "$src/go.mod") or newer (https://go.dev/doc/install)"
  key="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-12)"
  out="$CACHE/$1-client-$key/$1-client"
  if [[ ! -x "$out" ]]; then
    log "building the $1 client ($(go version | cut -d' ' -f3)) into $out"
    mkdir -p "$(dirname "$out")"
    (cd "$src" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" \
      go build -o "$out.tmp" .) >&2 || die "go build of tests/clients/$1 failed (Go modules from the module proxy)"
    mv "$out.tmp" "$out"
  fi
  printf '%s\n' "$out"
}

# The pgx program, built against the pinned modules; keyed by its sources.
pgx_client() {
  local src="$CLIENTS/pgx" key out
  command -v go >/dev/null 2>&1 || die "no Go toolchain: install Go $(sed -n 's/^go //p' "$src/go.mod") or newer (https://go.dev/doc/install)"
  key="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-12)"
  out="$CACHE/pgx-client-$key/pgx-client"
  if [[ ! -x "$out" ]]; then
    log "building the pgx client ($(go version | cut -d' ' -f3)) into $out"
    mkdir -p "$(dirname "$out")"
    (cd "$src" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" \
      go build -o "$out.tmp" .) >&2 || die "go build of tests/clients/pgx failed (Go modules from the module proxy)"
    mv "$out.tmp" "$out"
  fi
  PGX_BIN="$out"
}

# pgjdbc is one jar with no dependencies: fetched from Maven Central, checked against Central's SHA-1.
pgjdbc_client() {
  local dir="$CACHE/pgjdbc-$PGJDBC_VERSION" url jar
  jar="$dir/postgresql-$PGJDBC_VERSION.jar"
  if ! command -v java >/dev/null 2>&1 || ! java --list-modules 2>/dev/null | grep -q '^jdk.compiler'; then
    apt_install openjdk-17-jdk-headless
  fi
  if [[ ! -f "$jar" ]]; then
    command -v curl >/dev/null 2>&1 || apt_install curl
    url="https://repo1.maven.org/maven2/org/postgresql/postgresql/$PGJDBC_VERSION/postgresql-$PGJDBC_VERSION.jar"
    mkdir -p "$dir"
    log "fetching pgjdbc $PGJDBC_VERSION from Maven Central"
    curl -fsSL --retry 3 -o "$jar.tmp" "$url" || die "could not fetch $url"
    curl -fsSL --retry 3 -o "$jar.sha1" "$url.sha1" || die "could not fetch $url.sha1"
    [[ "$(sha1sum "$jar.tmp" | cut -d' ' -f1)" == "$(cut -c1-40 "$jar.sha1")" ]] || die "pgjdbc jar does not match Maven Central's checksum"
    mv "$jar.tmp" "$jar"
  fi
  PGJDBC_JAR="$jar"
}

cmd_install() {
  mkdir -p "$STATE" "$CACHE"
  python_clients
  pgx_client
  pgjdbc_client
  SSH_SETENV_BIN="$(go_client ssh-setenv)"
  {
    printf '%s=%q\n' TG_CLIENT_PYTHON "$PYTHON_BIN" TG_CLIENT_PGX "$PGX_BIN" TG_CLIENT_PGJDBC_JAR "$PGJDBC_JAR" TG_CLIENT_SSH_SETENV "$SSH_SETENV_BIN"
  } >"$STATE/clients.env"
  log "psycopg, asyncpg, pgx, pgjdbc and the Go SSH client ready (env: $STATE/clients.env)"
}

case "${1:-}" in
  install) cmd_install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
