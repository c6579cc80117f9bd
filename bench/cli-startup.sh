#!/usr/bin/env bash
# `trailgate sessions` on a log of 10,000 sessions, this tree against a baseline commit, in one run.
# Usage: bench/cli-startup.sh [BASE_REV]   (default: main; each tree as published, bin/trailgate.js). BENCH_SKIP_BUILD=1 keeps dist/ as it is;
# BASE_DIST=<dir> uses an already built baseline (a tree with dist/ and node_modules/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/machine.sh
. bench/machine.sh
base_rev="${1:-main}"
work="bench/.work/cli"
mkdir -p "$work" bench/results
command -v hyperfine >/dev/null || { echo "cli-startup: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
[ "${BENCH_SKIP_BUILD:-}" = 1 ] || npm run --silent build
base="${BASE_DIST:-$work/base}"
if [ -z "${BASE_DIST:-}" ]; then
  rm -rf "$base" && mkdir -p "$base"
  git archive "$base_rev" | tar -x -C "$base"
  ln -s "$PWD/node_modules" "$base/node_modules"
  (cd "$base" && npm run --silent build)
fi
printf 'dataDir: %s\n' "$PWD/$work/data" > "$work/trailgate.yaml"
[ -f "$work/data/trailgate.db" ] || node --import tsx bench/cli-sessions-log.ts "$work/data" 10000
out="bench/results/cli-startup-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# trailgate sessions: start-up on a log of 10,000 sessions"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)'), baseline ${BASE_REV_NOTE:-$base_rev ($(git rev-parse --short "$base_rev"))}."
  echo
  echo "## Machine"
  echo
  echo "- CPUs (nproc): $(nproc); model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "- Node: $(node -v); $(hyperfine --version)"
  started="$(uptime)"
  echo "- Load at start (uptime): $started"
  noisy_note "$started" "the runs; the rows were measured one after another in the same minute or two"
  echo
  echo "## Results (wall time, \`sessions --limit 50\`; node-alone is \`node -e 0\`, Node's own start)"
  echo
} > "$out"
# Each tree as it is published (its bin/trailgate.js), and this tree's tsc output without the bundle.
hyperfine --warmup 2 --runs "${BENCH_RUNS:-20}" --export-markdown "$work/hyperfine.md" --export-json "$work/hyperfine.json" \
  -n baseline "node $base/bin/trailgate.js -c $work/trailgate.yaml sessions" \
  -n unbundled "node dist/services/cli/main.js -c $work/trailgate.yaml sessions" \
  -n bundled "node bin/trailgate.js -c $work/trailgate.yaml sessions" \
  -n node-alone "node -e 0" >/dev/null
cat "$work/hyperfine.md" >> "$out"
echo >> "$out"
echo "CPU time per run (user + system, mean; less sensitive to the shared machine than wall time):" >> "$out"
node -e 'for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results) console.log(`- ${r.command}: ${((r.user + r.system) * 1000).toFixed(0)} ms`)' "$work/hyperfine.json" >> "$out"
echo >> "$out"
# Both builds read the same file, which has the sessions_started index this tree adds; its own share:
cp "$work/data/trailgate.db" "$work/no-index.db"
node -e '
const Database = require("better-sqlite3");
const q = `SELECT s.session_id, s.context, s.started_at, s.ended_at, s.end_reason, s.sealed,
  (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id AND r.type = '"'command.started'"') AS commands,
  (SELECT COUNT(*) FROM records r WHERE r.session_id = s.session_id) AS records
  FROM sessions s ORDER BY s.started_at DESC, s.session_id DESC LIMIT 50`;
const cpu = (db) => { const st = db.prepare(q); st.all(); const t = process.cpuUsage(); for (let i = 0; i < 5; i++) st.all(); const u = process.cpuUsage(t); return ((u.user + u.system) / 5000).toFixed(1); };
const db = new Database(process.argv[1]);
const withIndex = cpu(db);
db.exec("DROP INDEX IF EXISTS sessions_started");
console.log(`The listing query alone (CPU per run, both builds run it): ${cpu(db)} ms without the sessions_started index, ${withIndex} ms with it.`);
' "$work/no-index.db" >> "$out"
rm -f "$work/no-index.db"
echo >> "$out"
echo "Load at end (uptime): $(uptime)" >> "$out"
cat "$out"
