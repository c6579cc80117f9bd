#!/usr/bin/env bash
# The long fuzz run of every parser of untrusted input (tests/fuzz/), then a coverage pass, into bench/results/.
# Usage: bench/fuzz.sh [SECONDS] [INPUTS_PER_TARGET]   (defaults: 3600 s in all, 1,000,000 inputs per target).
# FUZZ_TARGETS=a,b limits the targets; FUZZ_COVERAGE_RUNS sets the inputs per target of the coverage pass.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/machine.sh
. bench/machine.sh
seconds="${1:-3600}"
inputs="${2:-1000000}"
mkdir -p bench/results bench/.work
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/fuzz-$stamp.md"
{
  echo "# Fuzzing the parsers of untrusted input"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)'); budget ${seconds} s, goal ${inputs} inputs per target."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "- Node: $(node -v); fast-check $(node -p 'require("fast-check/package.json").version')"
  started="$(uptime)"
  echo "- Load at start (uptime): $started"
  noisy_note "$started" "the fuzzed parsers, so rates are lower bounds"
  echo
  echo "## Inputs run (each slice: the whole corpus, then generated and mutated inputs under the watchdog)"
  echo
} > "$out"
status=0
node --import tsx bench/fuzz-run.ts --seconds "$seconds" --inputs "$inputs" ${FUZZ_TARGETS:+--targets "$FUZZ_TARGETS"} >> "$out" || status=$?
{
  echo
  echo "## Coverage (in-process pass, ${FUZZ_COVERAGE_RUNS:-20000} inputs per target, \`node --experimental-test-coverage\`: line %, branch %, function %)"
  echo
  echo '```'
} >> "$out"
TRAILGATE_FUZZ_RUNS="${FUZZ_COVERAGE_RUNS:-20000}" node --import tsx --experimental-test-coverage --test tests/fuzz/coverage.test.ts 2>&1 \
  | grep -a -E '^# (services/.*(client-handshake|frontend-framer|frontend-messages|backend-framer|buffer-reader|scram-client|sftp-codec|scp-observer|token-verifier|config/(load|schema)|statement-classifier)|file +\|)' | sed 's/^# //' >> "$out" || status=$?
{
  echo '```'
  echo
  echo "Load at end (uptime): $(uptime)"
} >> "$out"
echo "$out"
exit "$status"
