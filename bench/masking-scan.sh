#!/usr/bin/env bash
# Content scanning cost per cell (services/masking/detectors): typical cells and hostile 1 MiB values, with two
# baselines from the same run. Writes bench/results/masking-scan-<time>.md. Usage: bench/masking-scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/machine.sh
. bench/machine.sh
mkdir -p bench/results
start_load="$(uptime)"
out="bench/results/masking-scan-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# Content scanning cost per cell"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Node: $(node -v)"
  echo "- Load at start (uptime): $start_load"
  noisy_note "$start_load" "this one Node process"
  echo
  echo "## Method"
  echo
  echo "bench/masking-scan.ts: \`findSensitive\` over each set of cells for at least 150 ms (hostile values 100 ms),"
  echo "five rounds (hostile: three), median ns per cell. Trail default = card, iban, jwt, cloud-token, vcs-token, private-key;"
  echo "all = those and email. Baselines in the same process: native \`indexOf\` (SIMD) and a JS loop reading each"
  echo "character once. A hostile value's time is how long one scan holds the event loop."
  echo
  node --import tsx bench/masking-scan.ts
  echo
  echo "Load at end (uptime): $(uptime)"
} > "$out"
cat "$out"
