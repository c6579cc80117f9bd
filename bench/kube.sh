#!/usr/bin/env bash
# Kubernetes front door: REST GET added latency and exec stdout throughput with recording, direct vs
# through the gateway, against the same API server in the same run (bench/kube-bench.ts).
#
#   bash bench/kube.sh
#
# Env: BENCH_REQUESTS (sequential GETs per row, default 2000), BENCH_EXEC_MB (exec payload, default 100),
#      BENCH_RECORDING (strict (default) or async), BENCH_CPU_PROF (a directory: the gateway's node --cpu-prof profile).
# The API server is the real kube-apiserver + kwok when tests/services/kube.sh has them built (cached);
# otherwise the stand-in (tests/services/kube-standin.ts), and the result says which.
# Results: bench/results/kube-<UTC timestamp>.md (also printed to stdout).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS_DIR="$REPO_ROOT/bench/results"
export TRAILGATE_TEST_STATE="$REPO_ROOT/bench/.work"
UPTIME_START="$(uptime)"
STARTED_KUBE=0

cleanup() {
  if [[ "$STARTED_KUBE" == 1 ]]; then bash "$REPO_ROOT/tests/services/kube.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TRAILGATE_TEST_STATE" "$RESULTS_DIR"
if bash "$REPO_ROOT/tests/services/kube.sh" cached; then
  bash "$REPO_ROOT/tests/services/kube.sh" build >/dev/null # the patched kwok, a minute once when missing
  STARTED_KUBE=1 # also a start that fails half-way leaves nothing running
  bash "$REPO_ROOT/tests/services/kube.sh" start
  set -a
  # shellcheck source=/dev/null
  . "$TRAILGATE_TEST_STATE/kube.env"
  set +a
  # a pod on kwok's node for both rows; its exec runs a local process
  KUBECTL="${KUBECTL:-$(command -v kubectl || ls /usr/lib/google-cloud-sdk/bin/kubectl 2>/dev/null || true)}"
  [[ -x "$KUBECTL" ]] || { echo "[kube-bench] ERROR: kubectl is needed to create the benchmark pod" >&2; exit 1; }
  printf 'apiVersion: v1\nkind: Pod\nmetadata: { name: web-0, namespace: default }\nspec:\n  nodeName: %s\n  containers: [{ name: app, image: bench }]\n' "$KUBE_NODE" |
    "$KUBECTL" --kubeconfig "$KUBE_ADMIN_KUBECONFIG" apply -f - >/dev/null
  "$KUBECTL" --kubeconfig "$KUBE_ADMIN_KUBECONFIG" wait --for=condition=Ready pod/web-0 --timeout=60s >/dev/null
fi

OUT="$RESULTS_DIR/kube-$(date -u +%Y%m%dT%H%M%SZ).md"
TABLES="$(cd "$REPO_ROOT" && node --import tsx bench/kube-bench.ts)"
{
  echo "# Kubernetes front door: REST latency and exec throughput ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  machine_lines
  echo "- Node: $(node --version)"
  echo "- Load at start: ${UPTIME_START##*load average: }"
  noisy_note "$UPTIME_START" "the API server, the gateway (a child process) and the client"
  echo
  echo "$TABLES"
} | tee "$OUT"
