#!/usr/bin/env bash
# Cost per statement of the relay's per-statement steps (classification, trail scan): the process's CPU time over a
# warm pass of N statements, minus the step `none` (BENCH_TOOL=cpu, the default), or instructions counted by callgrind
# (BENCH_TOOL=callgrind; per statement = (Ir(step, N) - Ir(none, N)) / N). Callgrind also counts the one-time JIT
# compilation of the step's code, which outweighs a cached lookup unless N is large, and runs the parser's
# WebAssembly so slowly that each step takes minutes on a loaded 2-core machine. Usage: bench/statement-cost.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20000}" tool="${BENCH_TOOL:-cpu}"
[ "$tool" = cpu ] || command -v valgrind >/dev/null || { echo "statement-cost: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
mkdir -p bench/.work bench/results
npx esbuild bench/statement-cost.ts --bundle --platform=node --format=esm --log-level=warning --external:libpg-query --outfile=bench/.work/statement-cost.mjs

count() { # step n -> instructions (all threads), or with BENCH_TOOL=cpu CPU nanoseconds per statement
  if [ "$tool" = cpu ]; then node bench/.work/statement-cost.mjs "$@" cpu | awk '{ printf "%d", $1 * 1000 * '"$N"' }'; return; fi
  valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/.work/statement-cost.mjs "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

out="bench/results/statement-cost-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  if [ "$tool" = cpu ]; then unit="CPU ns per statement (process CPU time, load-dependent)"; else unit="instructions per statement (callgrind)"; fi
  echo "# Per-statement steps of the Postgres relay: $unit"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "- Node: $(node -v); tool: $tool"
  echo "- Load at start (uptime): $(uptime)"
  echo "- Shared: other builds and tests ran on the same 2 cores; instruction counts do not depend on that, wall time would."
  echo
  echo "## Method"
  echo
  echo "bench/statement-cost.ts runs one step over N = $N \`pgbench -S\` statements, each with a new aid; per"
  echo "statement = (cost(step) - cost(none)) / N, where none builds the same texts and messages and does nothing"
  echo "with them; callgrind: instructions over all of node's threads (JIT and GC included); cpu: the process's"
  echo "CPU time over a second, warm pass of N statements."
  echo
  echo "| step | $unit |"
  echo "|---|---:|"
} > "$out"
base=$(count none "$N")
for step in parse shape trail-simple trail-prepared; do
  c=$(count "$step" "$N")
  echo "| $step | $(( (c - base) / N )) |" >> "$out"
done
echo >> "$out"
echo "Load at end (uptime): $(uptime)" >> "$out"
cat "$out"
