#!/usr/bin/env bash
# What approvals cost: pgbench -S to a target with no rule vs one whose rule is not hit (same run,
# alternated), and 1,000 holds open at once. Env: BENCH_SECONDS (default 8), BENCH_ROUNDS (default 3).
# Results: bench/results/approvals-<UTC timestamp>.md (also printed).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TRAILGATE_TEST_STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/bench/.work}"
UPTIME_START="$(uptime)"
bash "$REPO_ROOT/tests/services/postgres.sh" start >&2
set -a
. "$TRAILGATE_TEST_STATE/postgres.env"
set +a
OUT="$REPO_ROOT/bench/results/approvals-$(date -u +%Y%m%dT%H%M%SZ).md"
BODY="$(cd "$REPO_ROOT" && node --expose-gc --import tsx bench/approvals-bench.ts)"
{
  echo "# Approvals: cost to sessions that need none, and of 1,000 holds"
  echo
  machine_lines
  echo "- Load at start: $UPTIME_START"
  noisy_note "$UPTIME_START" "the gateway, PostgreSQL and pgbench"
  echo
  echo "$BODY"
} | tee "$OUT"
