#!/usr/bin/env bash
# The soak: mixed Postgres and SSH sessions for a while across both event logs with every consumer
# running: `trailgate up` on the embedded log (gateway, indexer into OpenSearch, Splunk forwarder to
# the HEC stand-in, replay) and the roles on Kafka (gateway, indexer, forwarder, replay store). Each
# minute: RSS, live heap (after a forced collection) and event-loop delay of every process
# (bench/soak-probe.mjs, the processes run with --expose-gc), its open files, and
# each log's consumer lag; at the end the consumers catch up and `trailgate verify --all` runs on both,
# and the report says whether memory and lag stayed flat within the bounds stated in it (bench/soak.ts,
# BOUNDS); errors, a failed verify or growth beyond them make the script exit 1.
#
#   bash bench/soak.sh [minutes]        # default 60; the full hour wants a quiet machine
#
# Env: BENCH_SKIP_BUILD=1 (use the existing dist/). Results: bench/results/soak-<UTC stamp>.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
SERVICES="$REPO_ROOT/tests/services"
export TRAILGATE_TEST_STATE="$BENCH_DIR/.work/soak"
export SOAK_WORK="$TRAILGATE_TEST_STATE/run"
export SOAK_MINUTES="${1:-${SOAK_MINUTES:-60}}"
# shellcheck source=bench/machine.sh
. "$BENCH_DIR/machine.sh"

log() { echo "[soak] $*" >&2; }
[[ "$SOAK_MINUTES" =~ ^[1-9][0-9]*$ ]] || { log "ERROR: minutes must be a positive integer (got '$SOAK_MINUTES')"; exit 1; }

UPTIME_START="$(uptime)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$BENCH_DIR/results/soak-$STAMP.md"

cleanup() {
  local rc=$?
  set +e
  for s in opensearch kafka sshd postgres; do bash "$SERVICES/$s.sh" stop >/dev/null 2>&1; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$SOAK_WORK"
mkdir -p "$SOAK_WORK"
cd "$REPO_ROOT"
[[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] || npm run build >/dev/null
for s in postgres sshd kafka opensearch; do bash "$SERVICES/$s.sh" start >&2; done
set -a
for s in postgres sshd kafka opensearch; do
  # shellcheck source=/dev/null
  . "$TRAILGATE_TEST_STATE/$s.env"
done
set +a

log "running $SOAK_MINUTES minute(s); work directory $SOAK_WORK"
node --import tsx "$BENCH_DIR/soak.ts" > "$SOAK_WORK/result.json"

node - "$SOAK_WORK/result.json" "$SOAK_MINUTES" "$OUT" "$UPTIME_START" "$(machine_lines)" "$(noisy_note "$UPTIME_START" "PostgreSQL, sshd, a Kafka broker, an OpenSearch node and five Trailgate processes")" <<'JS'
const [file, minutes, out, uptime, machine, noisy] = process.argv.slice(2);
const r = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
const lines = [
  `# Soak: ${minutes} minute(s), ${new Date().toISOString()}`,
  '',
  '## Machine',
  machine,
  `- Load at start: ${uptime.trim()}`,
  noisy,
  '',
  `Sessions: ${r.counts.pgSessions} Postgres (${r.counts.statements} statements), ${r.counts.sshSessions} SSH; events at the HEC stand-in: ${r.hecEvents ?? '?'}; errors: ${r.errorCount}.`,
  '',
  'Per minute: per process RSS/live heap (MB; heap in use after a forced collection), open files, event-loop delay p99/max over the last 10 s (ms); consumer lag in records.',
  '',
  '| minute | pg sessions | ssh sessions | errors | processes | consumer lag |',
  '|---|---|---|---|---|---|',
  ...r.samples,
  '',
  '## Flat within bounds?',
  `Memory: ${r.flatness?.memoryFlat ? 'flat' : 'NOT flat'}; consumer lag: ${r.flatness?.lagFlat ? 'flat' : 'NOT flat'}. Bounds: a process's median RSS over the last third of the minutes at most ${r.flatness?.bounds.rssMB} MB or ${(r.flatness?.bounds.rssShare ?? 0) * 100}% above the first third's, its heap at most ${r.flatness?.bounds.heapMB} MB or ${(r.flatness?.bounds.heapShare ?? 0) * 100}%; every consumer's lag at every sample at most ${r.flatness?.bounds.lagRecords} records.`,
  ...(r.flatness?.lines ?? []),
  '',
  '## verify --all',
  ...r.verdicts,
  ...(r.errors.length ? ['', '## First errors', ...r.errors.map((e) => `- ${e.replace(/\n/g, ' ')}`)] : []),
  ...(r.fatal ? ['', `**The soak stopped early:** ${r.fatal.split('\n')[0]}`] : []),
];
require('node:fs').writeFileSync(out, lines.join('\n') + '\n');
JS
log "results: $OUT"
cat "$OUT"
[[ "$(node -e 'const r=require(process.argv[1]); process.stdout.write(String(r.errorCount))' "$SOAK_WORK/result.json")" == 0 ]]
# Memory or lag that did not stay flat fails the soak as errors do.
node -e 'const r=require(process.argv[1]); process.exit(r.flatness && r.flatness.memoryFlat && r.flatness.lagFlat ? 0 : 1)' "$SOAK_WORK/result.json" || { log "memory or consumer lag not flat within the stated bounds (see $OUT)"; exit 1; }
