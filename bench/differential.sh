#!/usr/bin/env bash
# The differential check of the statement classifier on the whole corpus (tests/differential/): every statement
# run on a scratch PostgreSQL in a rolled-back transaction and judged against what it really did.
# Usage: bench/differential.sh [PER_SOURCE]   (default: every statement; CI runs 7 per script)
# Writes bench/results/differential-<UTC stamp>.md; exits non-zero when a statement was under-classified.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/machine.sh
. bench/machine.sh
export TRAILGATE_TEST_STATE="$PWD/bench/.work/differential"
mkdir -p bench/results "$TRAILGATE_TEST_STATE"
trap 'bash tests/services/postgres.sh stop >/dev/null 2>&1 || true' EXIT
bash tests/services/postgres.sh start
set -a
# shellcheck disable=SC1091
. "$TRAILGATE_TEST_STATE/postgres.env"
set +a
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/differential-$stamp.md"
start_load="$(uptime)"
{
  echo "# Differential check: the statement classifier against PostgreSQL"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)'); corpus: ${1:-every statement}${1:+ per script}."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- PostgreSQL: $("$TG_PG_BINDIR/postgres" --version); Node: $(node -v)"
  echo "- Load at start (uptime): $start_load"
  noisy_note "$start_load" "the check's one connection and its PostgreSQL"
  echo
  echo "## Result"
  echo
} > "$out"
status=0
node --import tsx tests/differential/run.ts --markdown ${1:+"$1"} >> "$out" || status=$?
{ echo; echo "Load at end (uptime): $(uptime)"; } >> "$out"
echo "$out"
exit "$status"
