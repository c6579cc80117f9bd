#!/usr/bin/env bash
# pgbench read-only throughput/latency: direct Postgres vs PgBouncer vs the Trailgate gateway.
#
#   npm run bench:pg            (or: bash bench/pgbench.sh)
#
# Env: BENCH_SECONDS (per run, default 20), BENCH_SCALE (default 10),
#      BENCH_WARMUP_SECONDS (default 5), BENCH_RECORDING (gateway recording: strict (default),
#      strict-fsync or async, or several separated by spaces - e.g. "strict async" - to run one
#      gateway per mode in the same run and compare them; read by bench/gateway-hook.sh).
# Needs bench/gateway-hook.sh defining gateway_start / gateway_stop (see bench/README.md).
# Results: bench/results/pgbench-<UTC timestamp>-<recording mode>.md (also printed to stdout).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
HOOK="$BENCH_DIR/gateway-hook.sh"
RESULTS_DIR="$BENCH_DIR/results"
SERVICES="$REPO_ROOT/tests/services"
export TRAILGATE_TEST_STATE="$BENCH_DIR/.work"
LOG_DIR="$TRAILGATE_TEST_STATE/logs"

SECS="${BENCH_SECONDS:-20}"
SCALE="${BENCH_SCALE:-10}"
WARMUP="${BENCH_WARMUP_SECONDS:-5}"
read -r -a RECORDINGS <<<"${BENCH_RECORDING:-strict}"
MODES=(simple prepared)
CLIENTS=(8 1)
PATHS=(direct pgbouncer)
for r in "${RECORDINGS[@]}"; do PATHS+=("gateway-$r"); done

log() { echo "[bench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for r in "${RECORDINGS[@]}"; do
  case "$r" in strict | strict-fsync | async) ;; *) die "BENCH_RECORDING must list strict, strict-fsync or async (got '$r')" ;; esac
done
RECORDING="${RECORDINGS[*]}"
RECORDING="${RECORDING// /+}"
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer (got '$SECS')"

# Load before we start anything: another workload on the machine makes the numbers noisy.
UPTIME_START="$(uptime)"
LOAD1_START="$(awk '{ print $1 }' /proc/loadavg)"

# Fail before starting anything: a benchmark without the gateway is not the benchmark.
[[ -f "$HOOK" ]] || die "bench/gateway-hook.sh missing: it must define gateway_start and gateway_stop (see bench/README.md)"
# shellcheck source=/dev/null
. "$HOOK"
if ! declare -F gateway_start >/dev/null || ! declare -F gateway_stop >/dev/null; then
  die "bench/gateway-hook.sh must define shell functions gateway_start and gateway_stop"
fi

GW_STARTED=0
declare -A GW_PIDS GW_PORTS GW_PASSWORDS GW_DESCRIPTIONS
cleanup() {
  local rc=$?
  set +e
  if (( GW_STARTED )); then
    for r in "${!GW_PIDS[@]}"; do GW_PID="${GW_PIDS[$r]}" gateway_stop; done
  fi
  bash "$SERVICES/pgbouncer.sh" stop
  bash "$SERVICES/postgres.sh" stop
  exit "$rc"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap tears everything down.
trap 'exit 130' INT TERM

bash "$SERVICES/postgres.sh" start
# Session pooling: the gateway is a session-level proxy (one server connection per client for
# the client's lifetime), so this is the like-for-like PgBouncer setup; it also lets PgBouncer
# < 1.21 run -M prepared. The pool must hold every client at once.
MAX_CLIENTS="$(printf '%s\n' "${CLIENTS[@]}" | sort -n | tail -n 1)"
TG_PGB_POOL_MODE=session TG_PGB_POOL_SIZE="$(( MAX_CLIENTS > 20 ? MAX_CLIENTS : 20 ))" \
  bash "$SERVICES/pgbouncer.sh" start
set -a
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/postgres.env"
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/pgbouncer.env"
set +a
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

# Debian ships pgbench in the server package dir, not always on PATH.
PGBENCH="$TG_PG_BINDIR/pgbench"
[[ -x "$PGBENCH" ]] || PGBENCH="$(command -v pgbench || true)"
[[ -x "$PGBENCH" ]] || die "pgbench not found (expected $TG_PG_BINDIR/pgbench)"

log "initialising pgbench data (scale $SCALE)"
PGPASSWORD="$TG_PG_APP_PASSWORD" "$PGBENCH" -i -q -s "$SCALE" \
  -h "$TG_PG_HOST" -p "$TG_PG_PORT" -U "$TG_PG_APP_USER" "$TG_PG_DB" >"$LOG_DIR/init.log" 2>&1 \
  || { cat "$LOG_DIR/init.log" >&2; die "pgbench -i failed"; }

GW_STARTED=1
for r in "${RECORDINGS[@]}"; do
  log "starting gateway ($r recording) via bench/gateway-hook.sh"
  # One build for all gateways of the run.
  if [[ "$r" != "${RECORDINGS[0]}" ]]; then export BENCH_SKIP_BUILD=1; fi
  GW_NAME="$r" BENCH_RECORDING="$r" gateway_start
  for v in TG_GW_PORT PGPASSWORD_GW TG_GW_TARGET; do
    [[ -n "${!v:-}" ]] || die "gateway_start did not export $v"
  done
  GW_PIDS[$r]="$GW_PID" GW_PORTS[$r]="$TG_GW_PORT" GW_PASSWORDS[$r]="$PGPASSWORD_GW" GW_DESCRIPTIONS[$r]="$TG_GW_DESCRIPTION"
done
GW_HOST="${TG_GW_HOST:-127.0.0.1}"
GW_USER="${TG_GW_USER:-$TG_PG_APP_USER}"

# Sets CONN_* for a path name.
connection_for() {
  case "$1" in
    direct) CONN_HOST="$TG_PG_HOST" CONN_PORT="$TG_PG_PORT" CONN_USER="$TG_PG_APP_USER" CONN_DB="$TG_PG_DB" CONN_PW="$TG_PG_APP_PASSWORD" ;;
    pgbouncer) CONN_HOST="$TG_PGB_HOST" CONN_PORT="$TG_PGB_PORT" CONN_USER="$TG_PG_APP_USER" CONN_DB="$TG_PG_DB" CONN_PW="$TG_PG_APP_PASSWORD" ;;
    gateway-*) CONN_HOST="$GW_HOST" CONN_PORT="${GW_PORTS[${1#gateway-}]}" CONN_USER="$GW_USER" CONN_DB="$TG_GW_TARGET" CONN_PW="${GW_PASSWORDS[${1#gateway-}]}" ;;
  esac
}

# -n: skip pgbench's pre-run VACUUM (done once by -i); it would otherwise run through each path.
# sslmode=disable on every path: libpq's default (prefer) would negotiate TLS with the gateway
# only (neither this Postgres nor this PgBouncer offers TLS), and measure encryption, not relaying.
run_pgbench() { # path mode clients seconds logfile
  local jobs=$(( $3 < 2 ? 1 : 2 ))
  connection_for "$1"
  PGSSLMODE=disable PGPASSWORD="$CONN_PW" "$PGBENCH" -n -S -M "$2" -c "$3" -j "$jobs" -T "$4" \
    -h "$CONN_HOST" -p "$CONN_PORT" -U "$CONN_USER" "$CONN_DB" >"$5" 2>&1
}

log "warm-up (${WARMUP}s, not recorded)"
run_pgbench direct simple 2 "$WARMUP" "$LOG_DIR/warmup.log" || { cat "$LOG_DIR/warmup.log" >&2; die "warm-up failed"; }

PGBOUNCER_BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
PGB_VERSION="$("$PGBOUNCER_BIN" --version 2>/dev/null | awk 'NR == 1 { print $2 }')"
PGB_POOL_MODE="${TG_PGB_POOL_MODE:-transaction}"
PGB_POOL_SIZE="${TG_PGB_POOL_SIZE:-20}"
# PgBouncer < 1.21 can't track protocol-level prepared statements in transaction mode. Session
# mode (what this script starts) has no such limit; the check only matters if that is changed.
PGB_PREPARED_OK=1
if [[ "$PGB_POOL_MODE" != session && "$(printf '%s\n' 1.21 "$PGB_VERSION" | sort -V | head -n 1)" != 1.21 ]]; then PGB_PREPARED_OK=0; fi

declare -A TPS LAT
FAILURES=0
UNSUPPORTED=0
for mode in "${MODES[@]}"; do
  for clients in "${CLIENTS[@]}"; do
    # Paths are interleaved per (mode, clients) so drift on the machine hits all of them alike.
    for path in "${PATHS[@]}"; do
      key="$mode|$path|$clients"
      logfile="$LOG_DIR/$path-$mode-c$clients.log"
      log "run: $path, -M $mode, $clients client(s), ${SECS}s"
      if run_pgbench "$path" "$mode" "$clients" "$SECS" "$logfile"; then
        # pgbench 15 counts failed transactions separately; any of them makes the run invalid.
        if ! grep -Eq '^number of failed transactions: [1-9]' "$logfile"; then
          TPS[$key]="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$logfile")"
          LAT[$key]="$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$logfile")"
        fi
      fi
      if [[ -z "${TPS[$key]:-}" && "$path/$mode" == pgbouncer/prepared ]] && (( ! PGB_PREPARED_OK )); then
        log "pgbouncer $PGB_VERSION cannot do -M prepared in $PGB_POOL_MODE mode here; marked unsupported"
        TPS[$key]='unsupported*' LAT[$key]='unsupported*'
        UNSUPPORTED=1
      elif [[ -z "${TPS[$key]:-}" || -z "${LAT[$key]:-}" ]]; then
        log "run failed: $key (log: $logfile); last lines:"
        tail -n 15 "$logfile" >&2 || true
        gwlog="$TRAILGATE_TEST_STATE/${path/gateway-/gateway-}/gateway.log"
        if [[ "$path" == gateway-* && -f "$gwlog" ]]; then
          log "gateway log tail ($gwlog):"
          tail -n 30 "$gwlog" >&2 || true
        fi
        TPS[$key]=FAILED LAT[$key]=FAILED
        FAILURES=$((FAILURES + 1))
      fi
    done
  done
done

ratio() { # a b -> a/b with 2 decimals, or n/a
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "n/a" }'
}

first_line() { "$@" 2>/dev/null | head -n 1 || true; }

COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo 'none (no commits)')"
if [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | head -n 1)" ]]; then COMMIT="$COMMIT (dirty tree)"; fi

UPTIME_END="$(uptime)"
NOISY=0
if awk -v l="$LOAD1_START" 'BEGIN { exit !(l > 0.5) }'; then NOISY=1; fi
GW_RECORDING="$RECORDING"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/pgbench-$STAMP-$GW_RECORDING.md"
n=2
while [[ -e "$OUT" ]]; do OUT="$RESULTS_DIR/pgbench-$STAMP-$GW_RECORDING-$n.md"; n=$((n + 1)); done

{
  echo "# pgbench: direct vs PgBouncer vs Trailgate gateway"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- PostgreSQL: $(first_line "$TG_PG_BINDIR/postgres" --version)"
  echo "- PgBouncer: $(first_line "$PGBOUNCER_BIN" --version)"
  echo "- Node: $(first_line node --version)"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  if (( NOISY )); then
    echo
    echo "**Noisy machine:** the 1-minute load average was $LOAD1_START (> 0.5) before the benchmark"
    echo "started, so other work was competing for the $(nproc) CPU(s). Treat these numbers, the 1-client"
    echo "cells especially, as rough; compare ratios only with care."
  fi
  echo
  echo "## Setup"
  echo
  echo "- Workload: \`pgbench -S\` (select-only), scale $SCALE, ${SECS}s per run, -j 2 for 8 clients / -j 1 for 1 client"
  echo "- Everything on one machine over 127.0.0.1 TCP; Postgres with fsync=off, max_connections=200"
  PGB_NOTE=""
  if [[ "$PGB_POOL_MODE" == session ]]; then PGB_NOTE=" (session pooling, like the gateway: one server connection per client)"; fi
  echo "- PgBouncer: pool_mode=$PGB_POOL_MODE, default_pool_size=$PGB_POOL_SIZE, auth scram-sha-256$PGB_NOTE"
  for r in "${RECORDINGS[@]}"; do
    echo "- Gateway \`gateway-$r\`: ${GW_DESCRIPTIONS[$r]}"
  done
  echo "- No TLS on any path (pgbench with sslmode=disable); the gateway would require TLS from non-loopback clients"
  echo "- TPS excludes initial connection time; latency is pgbench's average"
  echo
  echo "## Results"
  echo
  echo "| mode | path | clients | TPS | avg latency (ms) |"
  echo "|---|---|---:|---:|---:|"
  for mode in "${MODES[@]}"; do
    for clients in "${CLIENTS[@]}"; do
      for path in "${PATHS[@]}"; do
        key="$mode|$path|$clients"
        echo "| $mode | $path | $clients | ${TPS[$key]} | ${LAT[$key]} |"
      done
    done
  done
  if (( UNSUPPORTED )); then
    echo
    echo "\\* PgBouncer $PGB_VERSION (< 1.21) does not track protocol-level prepared statements in $PGB_POOL_MODE"
    echo "pooling mode, so \`-M prepared\` fails once a client lands on another server connection."
  fi
  echo
  for r in "${RECORDINGS[@]}"; do
    echo "## Gateway ratios (gateway-$r)"
    echo
    echo "TPS ratio > 1 means the gateway is faster; latency ratio > 1 means the gateway is slower."
    echo
    echo "| mode | clients | TPS gw/direct | TPS gw/pgbouncer | latency gw/direct | latency gw/pgbouncer |"
    echo "|---|---:|---:|---:|---:|---:|"
    for mode in "${MODES[@]}"; do
      for clients in "${CLIENTS[@]}"; do
        g="$mode|gateway-$r|$clients" d="$mode|direct|$clients" b="$mode|pgbouncer|$clients"
        echo "| $mode | $clients | $(ratio "${TPS[$g]}" "${TPS[$d]}") | $(ratio "${TPS[$g]}" "${TPS[$b]}") | $(ratio "${LAT[$g]}" "${LAT[$d]}") | $(ratio "${LAT[$g]}" "${LAT[$b]}") |"
      done
    done
    echo
  done
  if (( ${#RECORDINGS[@]} > 1 )); then
    base="${RECORDINGS[-1]}"
    echo "## Recording modes against gateway-$base (same run)"
    echo
    echo "| mode | clients |$(for r in "${RECORDINGS[@]}"; do [[ "$r" == "$base" ]] || printf ' TPS %s/%s |' "$r" "$base"; done)"
    echo "|---|---:|$(for r in "${RECORDINGS[@]}"; do [[ "$r" == "$base" ]] || printf -- '---:|'; done)"
    for mode in "${MODES[@]}"; do
      for clients in "${CLIENTS[@]}"; do
        echo "| $mode | $clients |$(for r in "${RECORDINGS[@]}"; do [[ "$r" == "$base" ]] || printf ' %s |' "$(ratio "${TPS[$mode|gateway-$r|$clients]}" "${TPS[$mode|gateway-$base|$clients]}")"; done)"
      done
    done
    echo
  fi
  if (( FAILURES )); then
    echo
    echo "**$FAILURES run(s) failed**; see the pgbench logs in bench/.work/logs (replaced by the next run)."
  fi
} >"$OUT"

cat "$OUT"
log "results written to ${OUT#"$REPO_ROOT"/}"
(( FAILURES == 0 )) || die "$FAILURES pgbench run(s) failed"
