#!/usr/bin/env bash
# PgBouncer in front of the throwaway cluster from tests/services/postgres.sh.
#
#   tests/services/pgbouncer.sh start|stop|status
#
# Needs ${state}/postgres.env (run `postgres.sh start` first). `start` writes
# ${state}/pgbouncer.env (mode 600) with TG_PGB_HOST, TG_PGB_PORT, TG_PGB_POOL_MODE
# and TG_PGB_POOL_SIZE.
#
# Env for `start`: TG_PGB_POOL_MODE (session | transaction | statement, default
# transaction) and TG_PGB_POOL_SIZE (default_pool_size, default 20).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
# Absolute, because commands run as the postgres user start from / (see as_pg).
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
PG_ENV_FILE="$STATE/postgres.env"
ENV_FILE="$STATE/pgbouncer.env"
# Remembers where the run dir is, so `stop` works even when it had to live in /tmp.
LOCATION_FILE="$STATE/pgbouncer.location"
POOL_MODE="${TG_PGB_POOL_MODE:-transaction}"
POOL_SIZE="${TG_PGB_POOL_SIZE:-20}"

SERVICE=pgbouncer.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

ensure_installed() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]]; then
    command -v apt-get >/dev/null 2>&1 || die "pgbouncer not found and apt-get is unavailable"
    log "pgbouncer not found; installing via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pgbouncer
  fi
  # /usr/sbin is often not on a non-root user's PATH.
  PGBOUNCER="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
  [[ -x "$PGBOUNCER" ]] || die "pgbouncer binary not found after install"
}

pgbouncer_version() { "$PGBOUNCER" --version 2>/dev/null | awk 'NR == 1 { print $2 }'; }

supports_prepared() {
  local v
  v="$(pgbouncer_version)"
  [[ -n "$v" && "$(printf '%s\n' 1.21 "$v" | sort -V | head -n 1)" == 1.21 ]]
}

load_location() {
  RUN_DIR=""
  [[ -f "$LOCATION_FILE" ]] && RUN_DIR="$(sed -n 's/^RUN_DIR=//p' "$LOCATION_FILE")"
  [[ -n "$RUN_DIR" ]]
}

running_pid() { [[ -n "${RUN_DIR:-}" ]] && pid_from_file "$RUN_DIR/pgbouncer.pid" pgbouncer; }

cmd_stop() {
  local pid
  if load_location; then
    if pid="$(running_pid)"; then
      log "stopping pgbouncer (pid $pid)"
      stop_pid "$pid"
    fi
    rm -rf "$RUN_DIR"
    case "$RUN_DIR" in /tmp/trailgate-test-*/pgbouncer) rmdir "$(dirname "$RUN_DIR")" 2>/dev/null || true ;; esac
  fi
  rm -f "$LOCATION_FILE" "$ENV_FILE"
}

cmd_status() {
  local pid
  if load_location && pid="$(running_pid)"; then
    echo "running (pid $pid)"
  else
    echo "not running"
    return 1
  fi
}

# Chooses RUN_DIR: <state>/pgbouncer if the postgres OS user can use it, else a /tmp dir.
prepare_run_dir() {
  local candidate="$STATE/pgbouncer" parent
  mkdir -p "$candidate"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$candidate"
    if ! as_pg test -w "$candidate" -a -x "$candidate"; then
      rm -rf "$candidate"
      parent="/tmp/trailgate-test-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
      candidate="$parent/pgbouncer"
      log "state dir not accessible to the postgres user; using $candidate"
      if [[ -e "$parent" && ! -O "$parent" ]]; then
        die "$parent exists and is not owned by us"
      fi
      rm -rf "$candidate"
      mkdir -p "$candidate"
      chown postgres: "$candidate"
    fi
  fi
  # The auth file holds plaintext passwords.
  chmod 700 "$candidate"
  RUN_DIR="$candidate"
}

write_config() {
  local port="$1"
  cat >"$RUN_DIR/pgbouncer.ini" <<EOF
[databases]
$TG_PG_DB = host=$TG_PG_HOST port=$TG_PG_PORT dbname=$TG_PG_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
; empty = no unix socket (it would otherwise land in /tmp)
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $RUN_DIR/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = $POOL_SIZE
max_client_conn = 200
logfile = $RUN_DIR/pgbouncer.log
pidfile = $RUN_DIR/pgbouncer.pid
; JDBC and some drivers send this; pgbouncer would reject the connection otherwise.
ignore_startup_parameters = extra_float_digits
EOF
  # Protocol-level prepared statements in transaction mode need >= 1.21 (older versions reject the key).
  if supports_prepared; then echo "max_prepared_statements = 200" >>"$RUN_DIR/pgbouncer.ini"; fi
  if [[ $EUID -eq 0 ]]; then chown postgres: "$RUN_DIR/pgbouncer.ini"; fi
}

# True once a real SCRAM login through pgbouncer succeeds.
can_login() {
  PGPASSWORD="$TG_PG_APP_PASSWORD" PGCONNECT_TIMEOUT=2 "$PSQL" -X -At -h 127.0.0.1 -p "$1" \
    -U "$TG_PG_APP_USER" -d "$TG_PG_DB" -c 'SELECT 1' >/dev/null 2>&1
}

cmd_start() {
  case "$POOL_MODE" in session | transaction | statement) ;; *) die "TG_PGB_POOL_MODE must be session, transaction or statement (got '$POOL_MODE')" ;; esac
  [[ "$POOL_SIZE" =~ ^[1-9][0-9]*$ ]] || die "TG_PGB_POOL_SIZE must be a positive integer (got '$POOL_SIZE')"
  [[ -f "$PG_ENV_FILE" ]] || die "$PG_ENV_FILE missing; run tests/services/postgres.sh start first"
  set -a
  # shellcheck source=/dev/null
  . "$PG_ENV_FILE"
  set +a
  PSQL="$TG_PG_BINDIR/psql"
  [[ -x "$PSQL" ]] || PSQL="$(command -v psql)"

  cmd_stop
  ensure_installed
  prepare_run_dir
  printf 'RUN_DIR=%s\n' "$RUN_DIR" >"$LOCATION_FILE"

  # Plaintext entries let pgbouncer answer client SCRAM and also log in to the server via SCRAM.
  (
    umask 077
    printf '"%s" "%s"\n' \
      "$TG_PG_APP_USER" "$TG_PG_APP_PASSWORD" \
      "$TG_PG_RO_USER" "$TG_PG_RO_PASSWORD" >"$RUN_DIR/userlist.txt"
  )
  if [[ $EUID -eq 0 ]]; then chown postgres: "$RUN_DIR/userlist.txt"; fi

  # Retry with a new port in case another process grabbed the one we picked.
  local port pid started=0
  for _ in 1 2 3; do
    port="$(free_port)"
    write_config "$port"
    # Pre-start errors go to stderr, so capture them separately from pgbouncer's own log file.
    if as_pg "$PGBOUNCER" -d "$RUN_DIR/pgbouncer.ini" >"$RUN_DIR/startup.out" 2>&1; then
      for _ in $(seq 1 100); do
        if can_login "$port"; then started=1; break; fi
        running_pid >/dev/null || break
        sleep 0.1
      done
    fi
    (( started )) && break
    if ! grep -qs "Address already in use" "$RUN_DIR/startup.out" "$RUN_DIR/pgbouncer.log"; then break; fi
    log "port $port taken, retrying"
    if pid="$(running_pid)"; then kill "$pid" 2>/dev/null || true; fi
  done
  if (( ! started )); then
    log "pgbouncer failed to start or to accept a login; log follows:"
    cat "$RUN_DIR/startup.out" "$RUN_DIR/pgbouncer.log" >&2 2>/dev/null || true
    cmd_stop
    exit 1
  fi

  (
    umask 077
    printf '%s=%q\n' TG_PGB_HOST 127.0.0.1 TG_PGB_PORT "$port" \
      TG_PGB_POOL_MODE "$POOL_MODE" TG_PGB_POOL_SIZE "$POOL_SIZE" >"$ENV_FILE"
  )
  chmod 600 "$ENV_FILE"
  log "running on 127.0.0.1:$port, pool_mode=$POOL_MODE, default_pool_size=$POOL_SIZE (env: $ENV_FILE)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
