#!/usr/bin/env bash
# Memory per idle session: N authenticated sessions held open through PgBouncer, then through the
# Trailgate gateway (`trailgate gateway`, via bench/gateway-hook.sh), in one run; the RSS (and, for
# the gateway, the post-GC heap) of each server process before and with them, per session = delta / N.
#
#   bash bench/idle-sessions.sh
#
# Env: BENCH_SESSIONS (default 2000), BENCH_CONCURRENCY (connects in flight, default 16),
#      BENCH_RECORDING (gateway recording mode, default strict), BENCH_HEAP_SNAPSHOT=1 (also write V8
#      heap snapshots of the gateway with the sessions and after they closed into bench/.work/idle-sessions/run,
#      and add what the sessions added, by constructor, to the results),
#      BENCH_SKIP_BUILD=1 (use the existing dist/).
# The benchmark PostgreSQL gets max_connections = N + 100: both PgBouncer (session pooling) and the
# gateway hold one backend per client. Results: bench/results/idle-sessions-<UTC stamp>.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
SERVICES="$REPO_ROOT/tests/services"
export TRAILGATE_TEST_STATE="$BENCH_DIR/.work/idle-sessions"
WORK="$TRAILGATE_TEST_STATE/run"
N="${BENCH_SESSIONS:-2000}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
SNAPSHOT="${BENCH_HEAP_SNAPSHOT:-0}"

log() { echo "[idle-sessions] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SESSIONS must be a positive integer (got '$N')"

UPTIME_START="$(uptime)"
LOAD1_START="$(awk '{ print $1 }' /proc/loadavg)"

# The gateway holds two sockets per session (client and backend), PgBouncer too, the driver one.
NEED_FDS=$(( 2 * N + 512 ))
if (( $(ulimit -n) < NEED_FDS )); then
  HARD="$(ulimit -Hn)"
  [[ "$HARD" == unlimited ]] || (( HARD >= NEED_FDS )) || die "ulimit -Hn is $HARD; $NEED_FDS open files are needed for $N sessions (lower BENCH_SESSIONS or raise the hard limit)"
  ulimit -n "$NEED_FDS"
fi

as_pg() { if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

GW_STARTED=0
PGB_RUN_DIR=""
cleanup() {
  local rc=$?
  set +e
  # The services' logs are removed with them: keep copies for a failed run.
  [[ -n "$PGB_RUN_DIR" ]] && cp "$PGB_RUN_DIR/pgbouncer.log" "$WORK/" 2>/dev/null
  [[ -n "${TG_PG_LOG_FILE:-}" ]] && cp "$TG_PG_LOG_FILE" "$WORK/postgres.log" 2>/dev/null
  (( GW_STARTED )) && gateway_stop
  bash "$SERVICES/pgbouncer.sh" stop
  bash "$SERVICES/postgres.sh" stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$WORK"
bash "$SERVICES/postgres.sh" start
set -a
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/postgres.env"
set +a
# postgresql.auto.conf is read after the include that sets max_connections = 200.
MAX_CONN=$(( N + 100 ))
log "PostgreSQL: max_connections = $MAX_CONN (restart)"
as_pg "$TG_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$TG_PG_SOCKETDIR" -p "$TG_PG_PORT" -U postgres -d postgres \
  -c "ALTER SYSTEM SET max_connections = $MAX_CONN" >/dev/null
as_pg "$TG_PG_BINDIR/pg_ctl" restart -D "$TG_PG_DATADIR" -l "$TG_PG_LOG_FILE" -m fast -w -t 120 >/dev/null \
  || { tail -n 20 "$TG_PG_LOG_FILE" >&2; die "PostgreSQL did not restart with max_connections = $MAX_CONN (shared memory?)"; }
psql_super() { as_pg "$TG_PG_BINDIR/psql" -X -At -h "$TG_PG_SOCKETDIR" -p "$TG_PG_PORT" -U postgres -d postgres -c "$1"; }
[[ "$(psql_super 'SHOW max_connections')" == "$MAX_CONN" ]] || die "max_connections did not take effect"

backends() { psql_super "SELECT count(*) FROM pg_stat_activity WHERE usename = '$TG_PG_APP_USER'"; }
# Bounded wait until the previous path's backends are gone, so each path gets the whole budget.
wait_backends_gone() {
  for _ in $(seq 1 120); do (( $(backends) < 5 )) && return 0; sleep 0.5; done
  die "$(backends) backends of $TG_PG_APP_USER still open 60 s after the sessions closed"
}

drive() { # label pid password port db user [probe file]
  log "$1: opening $N sessions (concurrency $CONCURRENCY)"
  IDLE_PORT="$4" IDLE_DB="$5" IDLE_USER="$6" IDLE_PASSWORD="$3" IDLE_PID="$2" IDLE_PROBE_FILE="${7:-}" \
    IDLE_SESSIONS="$N" IDLE_CONCURRENCY="$CONCURRENCY" IDLE_SNAPSHOT="$([[ -n "${7:-}" ]] && echo "$SNAPSHOT" || echo 0)" \
    node --import tsx "$BENCH_DIR/idle-sessions.ts" >"$WORK/$1.json" 2>"$WORK/$1.err" \
    || { cat "$WORK/$1.err" >&2; die "$1: the sessions could not be held"; }
}

PGBOUNCER_BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
# --- PgBouncer, session pooling (one server connection per client, like the gateway) ---------------
# Once more if its first login misses pgbouncer.sh's 10 s window on a loaded machine.
TG_PGB_POOL_MODE=session TG_PGB_POOL_SIZE="$(( N + 10 ))" bash "$SERVICES/pgbouncer.sh" start \
  || TG_PGB_POOL_MODE=session TG_PGB_POOL_SIZE="$(( N + 10 ))" bash "$SERVICES/pgbouncer.sh" start
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/pgbouncer.env"
PGB_RUN_DIR="$(sed -n 's/^RUN_DIR=//p' "$TRAILGATE_TEST_STATE/pgbouncer.location")"
PGB_PID="$(cat "$PGB_RUN_DIR/pgbouncer.pid")"
# pgbouncer.sh allows 200 clients, and runuser's PAM session gives PgBouncer a soft limit of 1,024
# files: restart it on the same configuration with this shell's limit (setpriv keeps rlimits).
sed -i "s/^max_client_conn = .*/max_client_conn = $(( N + 100 ))/" "$PGB_RUN_DIR/pgbouncer.ini"
kill -TERM "$PGB_PID"
for _ in $(seq 1 100); do kill -0 "$PGB_PID" 2>/dev/null || break; sleep 0.1; done
if [[ $EUID -eq 0 ]]; then
  (cd / && setpriv --reuid postgres --regid postgres --init-groups "$PGBOUNCER_BIN" -d "$PGB_RUN_DIR/pgbouncer.ini")
else
  "$PGBOUNCER_BIN" -d "$PGB_RUN_DIR/pgbouncer.ini"
fi
for _ in $(seq 1 100); do [[ -s "$PGB_RUN_DIR/pgbouncer.pid" && "$(cat "$PGB_RUN_DIR/pgbouncer.pid")" != "$PGB_PID" ]] && break; sleep 0.1; done
PGB_PID="$(cat "$PGB_RUN_DIR/pgbouncer.pid")"
[[ "$(awk '/^Max open files/ { print $4 }' "/proc/$PGB_PID/limits")" == "$(ulimit -n)" ]] || die "PgBouncer did not restart with $(ulimit -n) open files"
drive pgbouncer "$PGB_PID" "$TG_PG_APP_PASSWORD" "$TG_PGB_PORT" "$TG_PG_DB" "$TG_PG_APP_USER"
cp "$PGB_RUN_DIR/pgbouncer.log" "$WORK/"
bash "$SERVICES/pgbouncer.sh" stop
PGB_RUN_DIR=""
wait_backends_gone

# --- The gateway as production runs it -----------------------------------------------------------
# shellcheck source=bench/gateway-hook.sh
. "$BENCH_DIR/gateway-hook.sh"
export TG_BENCH_MEMORY_FILE="$WORK/gateway-memory.json"
if [[ "$SNAPSHOT" == 1 ]]; then export TG_BENCH_HEAP_SNAPSHOT_DIR="$WORK" TG_BENCH_HEAP_SNAPSHOT_AT=3,4; fi
GW_NODE_FLAGS="--expose-gc --import file://$BENCH_DIR/memory-probe.mjs"
GW_STARTED=1
GW_NAME=idle BENCH_RECORDING="${BENCH_RECORDING:-strict}" gateway_start
drive gateway "$GW_PID" "$PGPASSWORD_GW" "$TG_GW_PORT" "$TG_GW_TARGET" "$TG_GW_USER" "$TG_BENCH_MEMORY_FILE"
wait_backends_gone

SNAPSHOT_SUMMARY=""
if [[ "$SNAPSHOT" == 1 ]]; then
  # Reading 3 holds the sessions, reading 4 is the same process after they closed (the baseline).
  SNAPSHOT_SUMMARY="$(node "$BENCH_DIR/heap-snapshot-summary.mjs" "$WORK/gateway-3.heapsnapshot" "$WORK/gateway-4.heapsnapshot" "$(node -p 'require(process.argv[1]).opened' "$WORK/gateway.json")" 25)" \
    || die "could not summarise the heap snapshots in $WORK"
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$BENCH_DIR/results/idle-sessions-$STAMP.md"
COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD)$(git -C "$REPO_ROOT" diff --quiet || echo ' (dirty tree)')"
first_line() { "$@" 2>/dev/null | head -n 1 || true; }
{
  echo "# Idle sessions: memory per authenticated session, PgBouncer vs the Trailgate gateway"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $COMMIT."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "- Memory total (free -m): $(free -m | awk '/^Mem:/ { print $2 }') MiB; kernel $(uname -r)"
  echo "- PostgreSQL: $(first_line "$TG_PG_BINDIR/postgres" --version); PgBouncer: $(first_line "$PGBOUNCER_BIN" --version); Node: $(node --version)"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): $(uptime)"
  if awk -v l="$LOAD1_START" 'BEGIN { exit !(l > 0.5) }'; then
    echo
    echo "**Shared machine:** the 1-minute load was $LOAD1_START at the start; other builds and tests ran on the same cores."
    echo "Memory per session does not depend on CPU contention much; the connect time does."
  fi
  echo
  echo "## Setup"
  echo
  echo "- $N sessions per path, opened $CONCURRENCY at a time by node-postgres (bench/idle-sessions.ts) over 127.0.0.1 TCP,"
  echo "  each answering \`SELECT 1\` once when opened and once after the idle period, then closed."
  echo "- 20 sessions opened and closed first (code loaded, caches filled); readings 3 s after opening, 20 s after closing."
  echo "- PostgreSQL: max_connections = $MAX_CONN; PgBouncer: pool_mode=session, default_pool_size=$(( N + 10 )), scram-sha-256"
  echo "  (one server connection per client, as the gateway holds one backend per session); PgBouncer measured first, then stopped."
  echo "- Gateway: $TG_GW_DESCRIPTION; one development token for every session"
  echo "  (tokenReuse same-client); the gateway's heap read after two full GCs by bench/memory-probe.mjs (--expose-gc)."
  echo "- RSS from /proc/<pid>/status (VmRSS; RssAnon is its anonymous part). Per session = (held - before) / sessions held."
  echo
  echo "## Results"
  echo
  node --input-type=module -e '
    import { readFileSync } from "node:fs";
    const [work, n] = [process.argv[1], Number(process.argv[2])];
    const kb = (b) => (b / 1024).toFixed(1);
    console.log("| path | sessions | open time (s) | RSS before (MiB) | RSS held (MiB) | RSS after close (MiB) | RSS per session (KiB) | RssAnon per session (KiB) | goal <= 64 KiB |");
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    const rows = {};
    for (const path of ["pgbouncer", "gateway"]) {
      const r = JSON.parse(readFileSync(`${work}/${path}.json`, "utf8"));
      rows[path] = r;
      const per = (r.held.rssKiB - r.before.rssKiB) / r.opened;
      console.log(`| ${path} | ${r.opened}${r.opened < n ? ` of ${n}` : ""} (${r.answered} answered after idling) | ${r.openSeconds.toFixed(1)} | ${(r.before.rssKiB / 1024).toFixed(1)} | ${(r.held.rssKiB / 1024).toFixed(1)} | ${(r.after.rssKiB / 1024).toFixed(1)} | ${per.toFixed(1)} | ${((r.held.anonKiB - r.before.anonKiB) / r.opened).toFixed(1)} | ${path === "gateway" ? (per <= 64 ? "met" : "not met") : "reference"} |`);
    }
    for (const [path, r] of Object.entries(rows)) {
      if (r.failure) console.log(`\n**${path}: ${r.failure}** (per session is over the ${r.opened} held).`);
      if (r.lostCount) console.log(`\n**${path}: ${r.lostCount} sessions dropped by the server while idle**, e.g. ${r.lost.join("; ")}.`);
    }
    const g = rows.gateway;
    const gn = g.opened;
    console.log("");
    const pgbDelta = (rows.pgbouncer.held.rssKiB - rows.pgbouncer.before.rssKiB) / rows.pgbouncer.opened;
    // PgBouncer allocates in slabs: at small N its RSS may not move at all.
    console.log(pgbDelta > 0 ? `Gateway RSS per session / PgBouncer RSS per session: ${((g.held.rssKiB - g.before.rssKiB) / gn / pgbDelta).toFixed(1)}x.` : "The PgBouncer RSS did not grow with the sessions (slab allocation; raise BENCH_SESSIONS).");
    console.log("");
    console.log("### Gateway heap per session (post-GC, KiB)");
    console.log("");
    console.log("| reading | before | held | after close | per session |");
    console.log("|---|---:|---:|---:|---:|");
    for (const k of ["heapUsed", "heapTotal", "external", "arrayBuffers"]) {
      console.log(`| ${k} | ${kb(g.before.heap[k])} | ${kb(g.held.heap[k])} | ${kb(g.after.heap[k])} | ${kb((g.held.heap[k] - g.before.heap[k]) / gn)} |`);
    }
    for (const s of Object.keys(g.held.heap.spaces)) {
      const d = (g.held.heap.spaces[s] - g.before.heap.spaces[s]) / gn;
      if (Math.abs(d) >= 0.05 * 1024) console.log(`| space ${s} | ${kb(g.before.heap.spaces[s])} | ${kb(g.held.heap.spaces[s])} | ${kb(g.after.heap.spaces[s])} | ${kb(d)} |`);
    }
    const rssPer = (g.held.rssKiB - g.before.rssKiB) / gn;
    const heapPer = (g.held.heap.heapTotal - g.before.heap.heapTotal) / gn / 1024;
    const extPer = (g.held.heap.external - g.before.heap.external) / gn / 1024;
    console.log("");
    console.log(`Of ${rssPer.toFixed(1)} KiB RSS per session: V8 heap (heapTotal) ${heapPer.toFixed(1)} KiB, external (Buffers, native objects V8 knows of) ${extPer.toFixed(1)} KiB, the rest (${(rssPer - heapPer - extPer).toFixed(1)} KiB) outside the V8 accounting (libuv handles, native modules, malloc arenas). Kernel socket buffers are in no process RSS.${process.argv[3] === "1" ? " The RSS after close includes what writing the heap snapshots allocated." : ""}`);
  ' "$WORK" "$N" "$SNAPSHOT"
  if [[ -n "$SNAPSHOT_SUMMARY" ]]; then
    echo
    echo "### Gateway heap snapshot: what the sessions added, by constructor (self size; held minus after close)"
    echo
    echo "$SNAPSHOT_SUMMARY"
  fi
} >"$OUT"
cat "$OUT"
log "results written to ${OUT#"$REPO_ROOT"/}"
