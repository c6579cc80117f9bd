#!/usr/bin/env bash
# Search indexer benchmark: documents per second and command-to-searchable lag against a real
# OpenSearch node started from Maven Central jars (tests/services/opensearch.sh), written to
# bench/results/search-<time>.md with the machine it ran on.
#
#   npm run bench:search
#
# Env: BENCH_SESSIONS (synthetic sessions, 9 records each; default 4000), BENCH_STATEMENTS (lag
# probes; default 40), BENCH_LAG=0 (documents per second only), TG_OPENSEARCH_HEAP, TG_OPENSEARCH_URL
# (use a node already running instead of starting one).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
cd "$(dirname "$0")/.."
export TRAILGATE_TEST_STATE="$PWD/bench/.work/search-state"
mkdir -p "$TRAILGATE_TEST_STATE" bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/search-$STAMP.md"

[ -d node_modules ] || npm ci
npm run --silent build

if [ -n "${TG_OPENSEARCH_URL:-}" ]; then
  # A node already running (e.g. the test suite's): its version from its own answer.
  TG_OPENSEARCH_VERSION="$(curl -s "$TG_OPENSEARCH_URL" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).version.number))')"
else
  cleanup() { bash tests/services/opensearch.sh stop >/dev/null 2>&1 || true; }
  trap cleanup EXIT
  bash tests/services/opensearch.sh start
  set -a
  # shellcheck disable=SC1091
  . "$TRAILGATE_TEST_STATE/opensearch.env"
  set +a
fi

UPTIME_START="$(uptime)"
RESULTS="$(node --import tsx bench/search-index.ts)"
UPTIME_END="$(uptime)"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')"

{
  echo "# Search indexer: documents per second and command-to-searchable lag"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S') UTC, commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Java: $(java -version 2>&1 | head -n1)"
  echo "- OpenSearch: $TG_OPENSEARCH_VERSION, single node from Maven Central jars, heap ${TG_OPENSEARCH_HEAP:-768m}, on the same machine over 127.0.0.1"
  echo "- Node: $(node --version)"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  noisy_note "$UPTIME_START" "the node and the client"
  echo
  echo "$RESULTS"
} >"$OUT"
cat "$OUT"
echo "written to $OUT"
