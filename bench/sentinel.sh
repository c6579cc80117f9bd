#!/usr/bin/env bash
# Sentinel sink benchmark: rows per second into the Logs Ingestion stand-in, with the Azure SDK alone
# as the baseline measured in the same run; written to bench/results/sentinel-<time>.md with the machine.
#
#   npm run bench:sentinel
#
# Env: BENCH_SESSIONS (synthetic sessions, 19 records each; default 2000), BENCH_BATCH (rows per upload; default 1000).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
cd "$(dirname "$0")/.."
mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/sentinel-$STAMP.md"
[ -d node_modules ] || npm ci

UPTIME_START="$(uptime)"
RESULTS="$(node --import tsx bench/sentinel-ingest.ts)"
UPTIME_END="$(uptime)"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')"

{
  echo "# Sentinel sink: rows per second into the Logs Ingestion stand-in"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S') UTC, commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Node: $(node --version); @azure/monitor-ingestion $(node -p "require('@azure/monitor-ingestion/package.json').version"), @azure/identity $(node -p "require('@azure/identity/package.json').version")"
  echo "- Stand-in: tests/services/sentinel-standin.ts in a child process on the same machine (not Azure: no network latency, no service-side limits but the 1 MB request cap)"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  noisy_note "$UPTIME_START" "the sink and the stand-in"
  echo
  echo "$RESULTS"
} >"$OUT"
cat "$OUT"
echo "written to $OUT"
