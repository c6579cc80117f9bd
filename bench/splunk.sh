#!/usr/bin/env bash
# Splunk sink benchmark: events per second into the HEC stand-in (tests/services/hec-standin.ts, a
# local server written to Splunk's HEC protocol, not Splunk), with the NDJSON file sink as the
# baseline of the same run; written to bench/results/splunk-<time>.md with the machine it ran on.
#
#   npm run bench:splunk
#
# Env: BENCH_SESSIONS (synthetic sessions, 19 records each; default 3000), BENCH_BATCH (records per
# write, as the consumer's batchSize; default 1000).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
cd "$(dirname "$0")/.."
mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/splunk-$STAMP.md"

[ -d node_modules ] || npm ci

UPTIME_START="$(uptime)"
RESULTS="$(node --import tsx bench/splunk-hec.ts)"
UPTIME_END="$(uptime)"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')"

{
  echo "# Splunk sink: events per second into the HEC stand-in"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S') UTC, commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Node: $(node --version)"
  echo "- HEC stand-in: tests/services/hec-standin.ts in its own Node process on 127.0.0.1, same machine"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  noisy_note "$UPTIME_START" "the sink and the stand-in"
  echo
  echo "$RESULTS"
} >"$OUT"
cat "$OUT"
echo "written to $OUT"
