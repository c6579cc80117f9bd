#!/usr/bin/env bash
# CPU profile (node --cpu-prof) of the gateway under `pgbench -S -c 8`, for one or more built trees in
# the same run (e.g. a baseline and this tree); the gateway process's CPU per transaction (all its
# threads, user + system, from /proc) and shares of its main thread's busy time per area.
# Usage: bench/profile-gateway.sh [TREE...] (default: this tree; each TREE has dist/ and node_modules/).
# Needs the test Postgres (TRAILGATE_TEST_STATE with postgres.env). Env: BENCH_RECORDING (async),
# BENCH_SECONDS (15), BENCH_CLIENTS (8), BENCH_MODES (query modes, `prepared`; e.g. "simple prepared").
set -euo pipefail
cd "$(dirname "$0")/.."
here="$PWD"
: "${TRAILGATE_TEST_STATE:?start tests/services/postgres.sh with TRAILGATE_TEST_STATE set first}"
set -a
# shellcheck disable=SC1091
. "$TRAILGATE_TEST_STATE/postgres.env"
set +a
export BENCH_SKIP_BUILD=1 BENCH_RECORDING="${BENCH_RECORDING:-async}"
seconds="${BENCH_SECONDS:-15}" clients="${BENCH_CLIENTS:-8}" modes="${BENCH_MODES:-prepared}"
ticks="$(getconf CLK_TCK)"
# utime + stime of a process, all threads, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
PGPASSWORD="$TG_PG_APP_PASSWORD" pgbench -i -q -s 1 -h "$TG_PG_HOST" -p "$TG_PG_PORT" -U "$TG_PG_APP_USER" "$TG_PG_DB" >/dev/null 2>&1
# shellcheck disable=SC1091
. bench/gateway-hook.sh
trap 'gateway_stop' EXIT
trees=("$@")
[ ${#trees[@]} -gt 0 ] || trees=("$here")
out="$here/bench/results/profile-$(date -u +%Y%m%dT%H%M%SZ)-$BENCH_RECORDING.md"
{
  echo "# Gateway CPU profile under pgbench -S -c $clients, -M $modes ($BENCH_RECORDING recording)"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); Node $(node -v); $(pgbench --version)"
  echo "- Load at start (uptime): $(uptime)"
  echo "- Shared: other builds and tests ran on the same 2 cores. TPS here means nothing; the shares of the gateway's own busy time do."
  echo
} > "$out"
summary=()
n=0
for mode in $modes; do
for tree in "${trees[@]}"; do
  n=$((n + 1))
  prof="$TRAILGATE_TEST_STATE/cpu-prof-$n"
  rm -rf "$prof" && mkdir -p "$prof"
  # --cpu-prof is refused in NODE_OPTIONS: a `node` first on PATH adds it for the hook's processes.
  mkdir -p "$prof/bin"
  printf '#!/bin/sh\nexec %s --cpu-prof --cpu-prof-dir=%s "$@"\n' "$(command -v node)" "$prof" > "$prof/bin/node"
  chmod +x "$prof/bin/node"
  PATH="$prof/bin:$PATH" GW_NAME="profile-$n" REPO_ROOT="$tree" gateway_start
  before="$(cpu_ticks "$GW_PID")"
  result="$(PGPASSWORD="$PGPASSWORD_GW" PGSSLMODE=disable pgbench -n -S -M "$mode" -c "$clients" -j 2 -T "$seconds" -h 127.0.0.1 -p "$TG_GW_PORT" -U "$TG_GW_USER" "$TG_GW_TARGET" 2>&1)"
  after="$(cpu_ticks "$GW_PID")"
  gateway_stop
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$result" | tail -1)"
  txns="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$result" | tail -1)"
  # Gateway CPU per transaction: the process's CPU seconds (every thread, user + system) over pgbench's transactions.
  per="?"
  if [[ -n "$txns" && "$txns" -gt 0 ]]; then per="$(awk -v t="$((after - before))" -v hz="$ticks" -v n="$txns" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"; fi
  summary+=("| $mode | $tree | ${txns:-?} | $(awk -v t="$((after - before))" -v hz="$ticks" 'BEGIN { printf "%.2f", t / hz }') | $per |")
  # The gateway's profile is the largest (the token minting process writes a small one).
  file="$(ls -S "$prof"/*.cpuprofile | head -1)"
  {
    echo "## -M $mode: $tree ($(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo 'built apart'))"
    echo
    echo "pgbench TPS during the profile (shared machine, not comparable): ${tps:-?}; transactions: ${txns:-?}; gateway CPU (all threads, user + system): $per us per transaction. $TG_GW_DESCRIPTION"
    echo
    node --import tsx bench/profile-summary.ts "$file" 20 "$seconds" "${txns:-0}"
    echo
  } >> "$out"
done
done
{
  echo "## Gateway CPU per transaction (the process, every thread, user + system)"
  echo
  echo "| mode | tree | transactions | gateway CPU s | CPU us per transaction |"
  echo "|---|---|---:|---:|---:|"
  printf '%s\n' "${summary[@]}"
  echo
} >> "$out"
echo "Load at end (uptime): $(uptime)" >> "$out"
cat "$out"
