#!/usr/bin/env bash
# Result masking on the wire, in one run:
#   1. pgbench -S through the gateway to a target without masking and to one whose masking rules the query does
#      not touch (interleaved, same gateway): the cost of having rules at all;
#   2. a 1,000,000-row result (pgbench_accounts at scale 10) read with psql through the unmasked target and
#      through one masking two of its four columns: added time per row, the gateway's CPU, masked cells per
#      CPU-second, and the gateway's RSS sampled while the rows stream;
#   3. the ResultMasker alone in one process (bench/masking-rows.ts): masked cells per CPU-second.
#
#   bash bench/masking-rows.sh
#
# Env: BENCH_SECONDS (per pgbench run, default 10), BENCH_ROUNDS (pgbench rounds per target, default 2),
#      BENCH_SKIP_BUILD=1 (use the existing dist/). Results: bench/results/masking-rows-<UTC stamp>.md.
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
SERVICES="$REPO_ROOT/tests/services"
export TRAILGATE_TEST_STATE="$BENCH_DIR/.work/masking-rows"
LOG_DIR="$TRAILGATE_TEST_STATE/logs"
SECS="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-2}"

log() { echo "[masking-rows] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer (got '$SECS')"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$ROUNDS')"

UPTIME_START="$(uptime)"

# shellcheck source=bench/gateway-hook.sh
. "$BENCH_DIR/gateway-hook.sh"
SAMPLER=""
cleanup() {
  local rc=$?
  set +e
  [[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null
  gateway_stop
  bash "$SERVICES/postgres.sh" stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$SERVICES/postgres.sh" start
set -a
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/postgres.env"
set +a
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
PGBENCH="$TG_PG_BINDIR/pgbench"
PSQL="$TG_PG_BINDIR/psql"

log "initialising pgbench data (scale 10: 1,000,000 accounts)"
PGPASSWORD="$TG_PG_APP_PASSWORD" "$PGBENCH" -i -q -s 10 -h "$TG_PG_HOST" -p "$TG_PG_PORT" -U "$TG_PG_APP_USER" "$TG_PG_DB" >"$LOG_DIR/init.log" 2>&1 \
  || { cat "$LOG_DIR/init.log" >&2; die "pgbench -i failed"; }
PGPASSWORD="$TG_PG_APP_PASSWORD" "$PSQL" -X -q -h "$TG_PG_HOST" -p "$TG_PG_PORT" -U "$TG_PG_APP_USER" "$TG_PG_DB" \
  -c 'create table if not exists bench_secrets (id int, email text)' >/dev/null

target_block() { # name rules-yaml
  cat <<TARGET
  $1:
    host: $TG_PG_HOST
    port: $TG_PG_PORT
    database: $TG_PG_DB
    user: $TG_PG_APP_USER
    password: { env: TG_PG_APP_PASSWORD }
    tls: disable
    masking:
      unattributed: scan
      rules:
$2
TARGET
}
GW_EXTRA_TARGETS="$(target_block bench-untouched '        - { match: public.bench_secrets.email, strategy: partial, keepLast: 4 }')
$(target_block bench-masked '        - { match: public.pgbench_accounts.filler, strategy: partial, keepLast: 4 }
        - { match: public.pgbench_accounts.abalance, strategy: redact }')"
GW_EXTRA_TARGET_NAMES="bench-untouched, bench-masked"
export GW_EXTRA_TARGETS GW_EXTRA_TARGET_NAMES
BENCH_RECORDING=strict gateway_start

run_pgbench() { # target logfile
  PGSSLMODE=disable PGPASSWORD="$PGPASSWORD_GW" "$PGBENCH" -n -S -M simple -c 4 -j 2 -T "$SECS" \
    -h 127.0.0.1 -p "$TG_GW_PORT" -U "$TG_GW_USER" "$1" >"$2" 2>&1 || { tail -n 20 "$2" >&2; die "pgbench through $1 failed"; }
  sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$2"
}

declare -A TPS_SUM=([bench]=0 [bench-untouched]=0)
TPS_LINES=""
for round in $(seq 1 "$ROUNDS"); do
  for target in bench bench-untouched; do
    log "pgbench -S through $target, round $round (${SECS}s)"
    tps="$(run_pgbench "$target" "$LOG_DIR/pgbench-$target-$round.log")"
    [[ -n "$tps" ]] || die "no tps in $LOG_DIR/pgbench-$target-$round.log"
    TPS_SUM[$target]="$(awk -v a="${TPS_SUM[$target]}" -v b="$tps" 'BEGIN { print a + b }')"
    TPS_LINES+="| $round | $target | $tps |"$'\n'
  done
done
TPS_PLAIN="$(awk -v s="${TPS_SUM[bench]}" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }')"
TPS_RULES="$(awk -v s="${TPS_SUM[bench-untouched]}" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }')"

TICKS="$(getconf CLK_TCK)"
cpu_seconds() { awk -v t="$TICKS" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$GW_PID/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status"; }

# Reads the 1,000,000 rows through a target; sets WALL, CPU (gateway), RSS_MIN/RSS_MAX (gateway, every 0.2 s).
read_million() { # target
  local rss_file="$LOG_DIR/rss-$1.txt" c0 t0 t1
  : >"$rss_file"
  ( while kill -0 "$GW_PID" 2>/dev/null; do rss_kib >>"$rss_file"; sleep 0.2; done ) &
  SAMPLER=$!
  c0="$(cpu_seconds)"
  t0="$(date +%s.%N)"
  PGSSLMODE=disable PGPASSWORD="$PGPASSWORD_GW" "$PSQL" -X -A -t -h 127.0.0.1 -p "$TG_GW_PORT" -U "$TG_GW_USER" "$1" \
    -c 'select aid, bid, abalance, filler from pgbench_accounts' -o "$LOG_DIR/rows-$1.txt" 2>"$LOG_DIR/psql-$1.err" \
    || { cat "$LOG_DIR/psql-$1.err" >&2; die "reading the rows through $1 failed"; }
  t1="$(date +%s.%N)"
  CPU="$(awk -v a="$c0" -v b="$(cpu_seconds)" 'BEGIN { printf "%.3f", b - a }')"
  kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=""
  WALL="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  RSS_MIN="$(sort -n "$rss_file" | head -n 1)"
  RSS_MAX="$(sort -n "$rss_file" | tail -n 1)"
  ROWS="$(wc -l <"$LOG_DIR/rows-$1.txt")"
}

log "1,000,000 rows through bench (no masking)"
read_million bench
WALL_PLAIN="$WALL" CPU_PLAIN="$CPU" RSS_PLAIN="$RSS_MIN-$RSS_MAX" ROWS_PLAIN="$ROWS"
log "1,000,000 rows through bench-masked (filler partial, abalance redact)"
read_million bench-masked
WALL_MASKED="$WALL" CPU_MASKED="$CPU" RSS_MASKED="$RSS_MIN-$RSS_MAX" ROWS_MASKED="$ROWS"
SAMPLE="$(head -n 1 "$LOG_DIR/rows-bench-masked.txt" | cut -c1-40)"
[[ "$ROWS_MASKED" == 1000000 && "$SAMPLE" == *'|[masked]|'* ]] || die "the masked result is not what the rules say (rows $ROWS_MASKED, first: $SAMPLE)"
rm -f "$LOG_DIR"/rows-*.txt

log "ResultMasker alone (bench/masking-rows.ts)"
MICRO="$(cd "$REPO_ROOT" && node --import tsx bench/masking-rows.ts)"

calc() { awk "BEGIN { $1 }"; }
PER_ROW_US="$(calc "printf \"%.2f\", ($WALL_MASKED - $WALL_PLAIN) * 1e6 / 1000000")"
CPU_PER_ROW_US="$(calc "printf \"%.2f\", ($CPU_MASKED - $CPU_PLAIN) * 1e6 / 1000000")"
CELLS_PER_CORE="$(calc "d = $CPU_MASKED - $CPU_PLAIN; if (d > 0) printf \"%.0f\", 2000000 / d; else printf \"n/a\"")"
TPS_RATIO="$(calc "printf \"%.3f\", $TPS_RULES / $TPS_PLAIN")"
MICRO_CELLS="$(node -p 'JSON.parse(process.argv[1]).cellsPerCpuSecond' "$MICRO")"
MICRO_NS="$(node -p 'const m = JSON.parse(process.argv[1]); (m.cpuMs * 1e6 / m.rows).toFixed(0)' "$MICRO")"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/masking-rows-$STAMP.md"
{
  echo "# Result masking on the wire"
  echo
  echo "Run $STAMP, commit $(git -C "$REPO_ROOT" rev-parse --short HEAD). $TG_GW_DESCRIPTION."
  echo
  echo "## Machine"
  machine_lines
  echo "- Load at start: ${UPTIME_START##*load average: }; at end: $(uptime | sed 's/.*load average: //')"
  noisy_note "$UPTIME_START" "PostgreSQL, the gateway, pgbench and psql"
  echo
  echo "## pgbench -S: masking rules the query does not touch vs no rules (same gateway, interleaved)"
  echo
  echo "4 clients, 2 threads, ${SECS}s per run, simple protocol. \`bench-untouched\` masks \`public.bench_secrets.email\`."
  echo
  echo "| round | target | tps |"
  echo "|---|---|---:|"
  printf '%s' "$TPS_LINES"
  echo
  echo "Mean: $TPS_PLAIN tps without rules, $TPS_RULES tps with untouched rules (ratio $TPS_RATIO)."
  echo
  echo "## 1,000,000-row result through the gateway (psql, text format)"
  echo
  echo "\`select aid, bid, abalance, filler from pgbench_accounts\`; \`bench-masked\` masks filler (char(84), partial keep 4) and abalance (int4, redact): 2,000,000 masked cells."
  echo
  echo "| target | rows | wall s | gateway CPU s | gateway RSS KiB (min-max while streaming) |"
  echo "|---|---:|---:|---:|---|"
  echo "| bench | $ROWS_PLAIN | $WALL_PLAIN | $CPU_PLAIN | $RSS_PLAIN |"
  echo "| bench-masked | $ROWS_MASKED | $WALL_MASKED | $CPU_MASKED | $RSS_MASKED |"
  echo
  echo "- Added wall time per row: $PER_ROW_US µs; added gateway CPU per row: $CPU_PER_ROW_US µs."
  echo "- Masked cells per gateway CPU-second added: $CELLS_PER_CORE (goal >= 1,000,000 per core)."
  echo
  echo "## ResultMasker alone (bench/masking-rows.ts, one process)"
  echo
  echo "- \`$MICRO\`"
  echo "- $MICRO_CELLS masked cells per CPU-second; $MICRO_NS ns CPU per row of 4 columns (2 masked)."
} | tee "$OUT"
log "results: $OUT"
