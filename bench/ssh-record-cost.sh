#!/usr/bin/env bash
# What recording an SSH download costs per MiB, without SSH (bench/ssh-record-cost.ts): CPU of the whole
# process and of its main thread, and system calls, for the recorder -> log writer -> embedded log path,
# against a baseline that makes the same buffers without recording them; variants interleaved.
#
#   bash bench/ssh-record-cost.sh        (env: BENCH_MB, default 100; BENCH_REPS, default 3)
#
# Results: bench/results/ssh-record-cost-<UTC timestamp>.md (also printed).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
cd "$(dirname "$0")/.."
MB="${BENCH_MB:-100}"
REPS="${BENCH_REPS:-3}"
[[ "$MB" =~ ^[1-9][0-9]*$ ]] || { echo "ssh-record-cost: BENCH_MB must be a positive integer" >&2; exit 1; }
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || { echo "ssh-record-cost: BENCH_REPS must be a positive integer" >&2; exit 1; }
UPTIME_START="$(uptime)"

# name|mode|env
VARIANTS=(
  "baseline (buffers only)|baseline|"
  "strict: inline commits (the default)|record|"
  "strict, one 64 KiB chunk per turn (one commit per chunk)|record|BENCH_PARTS_PER_TURN=2"
  "strict, recording.chunkBytes 256 KiB|record|BENCH_CHUNK_BYTES=262144"
  "async: the log writer thread|record|BENCH_SINK=threaded"
  "strict, a log file with 16 KiB SQLite pages|record|BENCH_PAGE_SIZE=16384"
  "strict, a log file with 64 KiB SQLite pages|record|BENCH_PAGE_SIZE=65536"
)
FIELDS=(cpuMsPerMiB mainThreadMsPerMiB systemMsPerMiB writeCallsPerMiB readCallsPerMiB)
declare -A VAL
for rep in $(seq 1 "$REPS"); do
  for i in "${!VARIANTS[@]}"; do
    IFS='|' read -r name mode envs <<<"${VARIANTS[$i]}"
    # shellcheck disable=SC2086
    line="$(env $envs node --import tsx bench/ssh-record-cost.ts "$MB" "$mode")"
    echo "[ssh-record-cost] #$rep $name: $line" >&2
    for f in "${FIELDS[@]}"; do VAL["$i|$f|$rep"]="$(node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$line" "$f")"; done
  done
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { # variant field
  local v=()
  for rep in $(seq 1 "$REPS"); do v+=("${VAL["$1|$2|$rep"]}"); done
  median "${v[@]}"
}

OUT="bench/results/ssh-record-cost-$(date -u +%Y%m%dT%H%M%SZ).md"
mkdir -p bench/results
{
  echo "# What recording an SSH download costs per MiB (recorder, log writer, embedded log; no SSH)"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Node: $(node --version); better-sqlite3 $(node -p 'require("better-sqlite3/package.json").version'), SQLite $(node -p 'new (require("better-sqlite3"))(":memory:").prepare("select sqlite_version() v").get().v')"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): $(uptime | sed 's/^ //')"
  noisy_note "$UPTIME_START" "this benchmark"
  echo
  echo "## Method"
  echo
  echo "bench/ssh-record-cost.ts feeds ${MB} MiB as fresh 32 KiB buffers (ssh2's channel data), 8 per turn of the"
  echo "event loop unless said otherwise, to a SessionRecorder on a LogWriter and the embedded log as the gateway"
  echo "builds them (strict: InlineLogSink and its WAL checkpoint thread; synchronous=NORMAL). CPU is the"
  echo "process's user + system time (every thread) and the main thread's alone; system calls from /proc/self/io."
  echo "Medians of $REPS runs per variant, interleaved. Recording cost = variant - baseline."
  echo
  echo "| variant | CPU ms/MiB | recording ms/MiB | main thread ms/MiB | system ms/MiB | write calls/MiB | read calls/MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  base="$(med 0 cpuMsPerMiB)"
  for i in "${!VARIANTS[@]}"; do
    IFS='|' read -r name _ _ <<<"${VARIANTS[$i]}"
    c="$(med "$i" cpuMsPerMiB)"
    echo "| $name | $c | $(awk -v a="$c" -v b="$base" 'BEGIN { printf "%.2f", a - b }') | $(med "$i" mainThreadMsPerMiB) | $(med "$i" systemMsPerMiB) | $(med "$i" writeCallsPerMiB) | $(med "$i" readCallsPerMiB) |"
  done
} >"$OUT"
cat "$OUT"
echo "[ssh-record-cost] results written to $OUT" >&2
