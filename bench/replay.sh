#!/usr/bin/env bash
# Replay benchmarks (see bench/README.md): cast build speed on a 50 MB session, time to first frame of a one-hour cast.
set -euo pipefail
cd "$(dirname "$0")/.."
export TRAILGATE_TEST_STATE="${TRAILGATE_TEST_STATE:-$PWD/bench/.work}"
mkdir -p "$TRAILGATE_TEST_STATE"
[ "${BENCH_SKIP_BUILD:-}" = 1 ] || npm run --silent build
bash tests/services/chromium.sh install
set -a
# shellcheck disable=SC1091
. "$TRAILGATE_TEST_STATE/chromium.env"
set +a
exec node --import tsx bench/replay-bench.ts
