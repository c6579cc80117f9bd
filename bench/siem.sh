#!/usr/bin/env bash
# Every forwarding sink in one run over one synthetic log, on the consumer framework: events per
# second into a real OpenSearch node (tests/services/opensearch.sh, Maven Central jars), into the
# Splunk HEC stand-in (ack required) and into the Logs Ingestion (Sentinel) stand-in, with the
# forwarder's NDJSON file sink as the baseline of the same run; written to
# bench/results/siem-<time>.md with the machine it ran on. The stand-ins are not Splunk or Azure.
#
#   npm run bench:siem
#
# Env: BENCH_SESSIONS (synthetic sessions, 21 records each; default 1000), BENCH_BATCH (the
# consumers' batchSize; default 1000), TG_OPENSEARCH_HEAP.
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
cd "$(dirname "$0")/.."
export TRAILGATE_TEST_STATE="$PWD/bench/.work/siem-state"
mkdir -p "$TRAILGATE_TEST_STATE" bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/siem-$STAMP.md"

[ -d node_modules ] || npm ci

cleanup() { bash tests/services/opensearch.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
bash tests/services/opensearch.sh start
set -a
# shellcheck disable=SC1091
. "$TRAILGATE_TEST_STATE/opensearch.env"
set +a

UPTIME_START="$(uptime)"
RESULTS="$(node --import tsx bench/siem-ingest.ts)"
UPTIME_END="$(uptime)"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')"

{
  echo "# Forwarding sinks: events per second into OpenSearch and the Splunk and Sentinel stand-ins"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S') UTC, commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Java: $(java -version 2>&1 | head -n1)"
  echo "- OpenSearch: $TG_OPENSEARCH_VERSION, single node from Maven Central jars, heap ${TG_OPENSEARCH_HEAP:-768m}, on the same machine over 127.0.0.1"
  echo "- HEC stand-in and Logs Ingestion stand-in: tests/services/hec-standin.ts and tests/services/sentinel-standin.ts, each in its own Node process on 127.0.0.1, same machine"
  echo "- Node: $(node --version)"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  noisy_note "$UPTIME_START" "OpenSearch, the stand-ins and the sinks"
  echo
  echo "$RESULTS"
} >"$OUT"
cat "$OUT"
echo "written to $OUT"
