#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#
#   tests/services/postgres.sh start|stop|status
#
# State lives in ${TRAILGATE_TEST_STATE:-<repo>/.test-state}. `start` writes
# ${state}/postgres.env (mode 600, KEY=value lines; load with `set -a; . file; set +a`).
# Passwords are never printed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
# Absolute, because commands run as the postgres user start from / (see as_pg).
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
ENV_FILE="$STATE/postgres.env"
# Written before initdb so `stop` can find the cluster even if `start` died halfway.
LOCATION_FILE="$STATE/postgres.location"
APP_USER=trailgate_app
RO_USER=trailgate_ro
APP_DB=appdb

SERVICE=postgres.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

# Highest installed version wins; prints nothing if there is none.
find_bindir() {
  local f newest=""
  for f in /usr/lib/postgresql/*/bin/initdb; do
    [[ -x "$f" ]] || continue
    newest="$(printf '%s\n' "$newest" "$f" | sort -V | tail -n 1)"
  done
  if [[ -n "$newest" ]]; then dirname "$newest"; fi
}

ensure_installed() {
  BINDIR="$(find_bindir)"
  if [[ -z "$BINDIR" ]]; then
    command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL server found and apt-get is unavailable"
    log "PostgreSQL server not found; installing via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql postgresql-client
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found"
  fi
  if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    # Normally created by the Debian package; needed because postgres won't run as root.
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

random_secret() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -hex 24
  else
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
  fi
}

# Sets PG_ROOT/BINDIR/SOCKDIR from the location file, if any.
load_location() {
  PG_ROOT="" BINDIR="" SOCKDIR=""
  [[ -f "$LOCATION_FILE" ]] || return 1
  PG_ROOT="$(sed -n 's/^PG_ROOT=//p' "$LOCATION_FILE")"
  BINDIR="$(sed -n 's/^BINDIR=//p' "$LOCATION_FILE")"
  SOCKDIR="$(sed -n 's/^SOCKDIR=//p' "$LOCATION_FILE")"
  [[ -n "$PG_ROOT" && -n "$BINDIR" ]]
}

is_running() {
  [[ -n "${PG_ROOT:-}" && -f "$PG_ROOT/data/PG_VERSION" && -x "$BINDIR/pg_ctl" ]] || return 1
  as_pg "$BINDIR/pg_ctl" status -D "$PG_ROOT/data" >/dev/null 2>&1
}

cmd_stop() {
  if load_location; then
    if is_running; then
      log "stopping cluster in $PG_ROOT/data"
      as_pg "$BINDIR/pg_ctl" stop -D "$PG_ROOT/data" -m fast -w -t 60 >/dev/null
    fi
    rm -rf "$PG_ROOT"
    [[ -n "$SOCKDIR" ]] && rm -rf "$SOCKDIR"
    # Remove the /tmp fallback parent too (only ever our own trailgate-test-* dir).
    case "$PG_ROOT" in /tmp/trailgate-test-*/postgres) rmdir "$(dirname "$PG_ROOT")" 2>/dev/null || true ;; esac
  fi
  rm -f "$LOCATION_FILE" "$ENV_FILE"
}

cmd_status() {
  if load_location && is_running; then
    echo "running (datadir $PG_ROOT/data)"
  else
    echo "not running"
    return 1
  fi
}

# Chooses PG_ROOT: <state>/postgres if the postgres OS user can use it, else a /tmp dir.
prepare_root() {
  local candidate="$STATE/postgres" hash
  mkdir -p "$candidate"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$candidate"
    if ! as_pg test -w "$candidate" -a -x "$candidate"; then
      # A parent dir (e.g. /root/...) isn't traversable by `postgres`; don't loosen its perms.
      rm -rf "$candidate"
      hash="$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
      candidate="/tmp/trailgate-test-$hash/postgres"
      log "state dir not accessible to the postgres user; using $candidate"
      # /tmp is shared: refuse a pre-existing dir someone else planted there.
      if [[ -e "$(dirname "$candidate")" && ! -O "$(dirname "$candidate")" ]]; then
        die "$(dirname "$candidate") exists and is not owned by us"
      fi
      rm -rf "$candidate"
      mkdir -p "$candidate"
      chown postgres: "$candidate"
    fi
  fi
  # 700 keeps the trust-auth unix socket away from other local users.
  chmod 700 "$candidate"
  PG_ROOT="$candidate"
}

write_conf() {
  local port="$1"
  cat >"$PG_ROOT/data/trailgate.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SOCKDIR'
password_encryption = 'scram-sha-256'
max_connections = 200
# Durability is irrelevant for a throwaway test cluster.
fsync = off
synchronous_commit = off
full_page_writes = off
# TLS so that the gateway's encrypted, verified path to targets is tested too.
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
# The application name on every line, so tests can read what the target logged under which run tag.
log_line_prefix = '%m [%p] [%a] '
EOF
  if [[ $EUID -eq 0 ]]; then chown postgres: "$PG_ROOT/data/trailgate.conf"; fi
}

# A self-signed certificate for 127.0.0.1; its copy in the state dir is the CA tests verify against.
make_server_certificate() {
  local data="$1"
  command -v openssl >/dev/null 2>&1 || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$data/server.key" -out "$data/server.crt" >/dev/null 2>&1 || die "could not create the test server certificate"
  chmod 600 "$data/server.key"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$data/server.key" "$data/server.crt"; fi
  cp "$data/server.crt" "$STATE/postgres-ca.crt"
}

cmd_start() {
  mkdir -p "$STATE"
  # Idempotence: stop and wipe whatever an earlier `start` left behind.
  cmd_stop
  ensure_installed

  prepare_root
  local data="$PG_ROOT/data" logfile="$PG_ROOT/server.log" pwfile="$PG_ROOT/pwfile"
  SOCKDIR="$PG_ROOT/socket"
  # Unix socket paths are limited to ~107 bytes; fall back to a short /tmp path.
  if (( ${#SOCKDIR} > 90 )); then
    SOCKDIR="/tmp/trailgate-sock-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
  fi
  printf 'PG_ROOT=%s\nBINDIR=%s\nSOCKDIR=%s\n' "$PG_ROOT" "$BINDIR" "$SOCKDIR" >"$LOCATION_FILE"
  as_pg mkdir -p -m 700 "$SOCKDIR"

  local super_pw app_pw ro_pw
  super_pw="$(random_secret)"
  app_pw="$(random_secret)"
  ro_pw="$(random_secret)"

  (umask 077; printf '%s\n' "$super_pw" >"$pwfile")
  if [[ $EUID -eq 0 ]]; then chown postgres: "$pwfile"; fi
  log "initdb ($("$BINDIR/postgres" --version))"
  if ! as_pg "$BINDIR/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1; then
    cat "$PG_ROOT/initdb.log" >&2
    rm -f "$pwfile"
    die "initdb failed"
  fi
  rm -f "$pwfile"
  echo "include = 'trailgate.conf'" >>"$data/postgresql.conf"
  make_server_certificate "$data"

  # Retry with a new port in case another process grabbed the one we picked.
  local port attempt started=0
  for attempt in 1 2 3; do
    port="$(free_port)"
    write_conf "$port"
    if as_pg "$BINDIR/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 >/dev/null; then
      started=1
      break
    fi
    if grep -q "could not bind" "$logfile" 2>/dev/null && (( attempt < 3 )); then
      log "port $port taken, retrying"
      continue
    fi
    break
  done
  if (( ! started )); then
    log "server failed to start; server log follows:"
    cat "$logfile" >&2 || true
    exit 1
  fi

  # Passwords go via stdin (not argv) so they never show up in `ps`; statement logging is off.
  as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$port" -U postgres -d postgres >/dev/null <<SQL
CREATE ROLE $APP_USER LOGIN PASSWORD '$app_pw';
CREATE ROLE $RO_USER LOGIN PASSWORD '$ro_pw';
CREATE DATABASE $APP_DB OWNER $APP_USER;
REVOKE ALL ON DATABASE $APP_DB FROM PUBLIC;
GRANT CONNECT ON DATABASE $APP_DB TO $RO_USER;
SQL

  (
    umask 077
    {
      printf '%s=%q\n' \
        TG_PG_HOST 127.0.0.1 \
        TG_PG_PORT "$port" \
        TG_PG_SUPERUSER postgres \
        TG_PG_SUPERPASSWORD "$super_pw" \
        TG_PG_DB "$APP_DB" \
        TG_PG_APP_USER "$APP_USER" \
        TG_PG_APP_PASSWORD "$app_pw" \
        TG_PG_RO_USER "$RO_USER" \
        TG_PG_RO_PASSWORD "$ro_pw" \
        TG_PG_BINDIR "$BINDIR" \
        TG_PG_DATADIR "$data" \
        TG_PG_SOCKETDIR "$SOCKDIR" \
        TG_PG_CA_FILE "$STATE/postgres-ca.crt" \
        TG_PG_LOG_FILE "$logfile"
    } >"$ENV_FILE.tmp"
  )
  chmod 600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "running on 127.0.0.1:$port (env: $ENV_FILE)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
