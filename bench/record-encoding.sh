#!/usr/bin/env bash
# Instructions per record for the recorder's serialise-and-hash step, before and after the canonical
# encoder, counted by callgrind (deterministic enough on a shared machine, unlike wall time).
# Per record = (Ir with N records - Ir with none) / N, all in one run. Usage: bench/record-encoding.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20000}"
command -v valgrind >/dev/null || { echo "record-encoding: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
mkdir -p bench/.work bench/results
npx esbuild bench/record-encoding.ts --bundle --platform=node --format=esm --log-level=warning --outfile=bench/.work/record-encoding.mjs

count() { # path kind records -> instructions (all threads)
  valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/.work/record-encoding.mjs "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

out="bench/results/record-encoding-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# Recorder serialise-and-hash: instructions per record (callgrind)"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "- Node: $(node -v); valgrind: $(valgrind --version)"
  echo "- Load at start (uptime): $(uptime)"
  echo "- Shared: other builds and tests ran on the same 2 cores; instruction counts do not depend on that, wall time would."
  echo
  echo "## Method"
  echo
  echo "bench/record-encoding.ts builds N records as \`pgbench -S -M prepared\` produces them and runs the"
  echo "recorder's step over each: before = canonicalize(chainedFields({v, ...r})) into a createHash object,"
  echo "then JSON.stringify(data) for the store; after = canonicalJson(data) once (hashed and stored),"
  echo "chainedJsonOf (known key order), crypto.hash one-shot. Per record = (Ir(N) - Ir(0)) / N, N = $N,"
  echo "counted over all of node's threads (JIT and GC included)."
  echo
  echo "| record | before (instr/record) | after (instr/record) | after/before |"
  echo "|---|---|---|---|"
} > "$out"
base=$(count after started 0)
for kind in started completed bytes; do
  b=$(count before "$kind" "$N"); a=$(count after "$kind" "$N")
  pb=$(( (b - base) / N )); pa=$(( (a - base) / N ))
  echo "| $kind | $pb | $pa | $(awk -v a="$pa" -v b="$pb" 'BEGIN { printf "%.2f", a / b }') |" >> "$out"
done
echo >> "$out"
echo "Load at end (uptime): $(uptime)" >> "$out"
cat "$out"
