#!/usr/bin/env bash
# The whole test suite: static checks, then every test against real services that this script starts.
# A service that cannot start fails the run; nothing is skipped for want of one.
set -euo pipefail
cd "$(dirname "$0")/.."
export TRAILGATE_TEST_STATE="${TRAILGATE_TEST_STATE:-$PWD/.test-state}"
mkdir -p "$TRAILGATE_TEST_STATE"

if [ ! -d node_modules ]; then
  npm ci
fi

echo "== typecheck and lint"
npm run --silent typecheck
npm run --silent lint
npm run --silent build

echo "== services"
builds_pid=""
cleanup() {
  [[ -n "$builds_pid" ]] && kill "$builds_pid" 2>/dev/null || true
  bash tests/services/kube.sh stop >/dev/null 2>&1 || true
  bash tests/services/opensearch.sh stop >/dev/null 2>&1 || true
  bash tests/services/kafka.sh stop >/dev/null 2>&1 || true
  bash tests/services/sshd.sh stop >/dev/null 2>&1 || true
  bash tests/services/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
source_env() {
  set -a
  for name in "$@"; do
    # shellcheck disable=SC1090
    . "$TRAILGATE_TEST_STATE/$name.env"
  done
  set +a
}
bash tests/services/system-packages.sh

# The client toolchains, the browser check and the deployment builds take minutes on a fresh machine and seconds
# from ~/.cache/trailgate: they build in the background, at low priority, while the suites that need only the
# servers run. Any of them failing fails the run.
builds_log="$TRAILGATE_TEST_STATE/builds.log"
(
  set -e
  nice -n 10 bash tests/services/chromium.sh install
  nice -n 10 bash tests/services/clients.sh install
  nice -n 10 bash tests/services/splunk-tools.sh install
  nice -n 10 bash tests/services/schemathesis.sh install
  # Deployment checks: helm and compose-go from Go modules; the image with buildah.
  nice -n 10 bash tests/services/go-tools.sh build
  nice -n 10 bash tests/services/container.sh build
) >"$builds_log" 2>&1 &
builds_pid=$!

bash tests/services/postgres.sh start
bash tests/services/sshd.sh start
bash tests/services/kafka.sh start
bash tests/services/opensearch.sh start
source_env postgres kafka opensearch sshd
# Kubernetes: the real etcd + kube-apiserver + kwok when their build is cached, or TRAILGATE_KUBE_REAL=1 to build
# it (a first build is long, see tests/services/kube.sh); otherwise the kubectl tests run against the stand-in.
if [ "${TRAILGATE_KUBE_REAL:-}" = 1 ] || bash tests/services/kube.sh cached; then
  bash tests/services/kube.sh build >/dev/null
  bash tests/services/kube.sh start
  source_env kube
  echo "== kubernetes: REAL tier (etcd, kube-apiserver, kwok from tests/services/kube.sh)"
else
  rm -f "$TRAILGATE_TEST_STATE/kube.env"
  echo "== kubernetes: SUBSET: etcd and kube-apiserver are not built in ~/.cache/trailgate/kube, so kubectl runs"
  echo "   against the kube-apiserver STAND-IN (tests/services/kube-standin.ts; no cluster audit log, no port-forward)."
  echo "   Build them once (over an hour at -p 1 on a 2-core machine): TRAILGATE_KUBE_REAL=1 npm test"
fi

# A hung test, or a test file whose process does not exit, fails after ten minutes instead of holding the run.
run_suites() {
  local tap="$1"
  shift
  node --import tsx --test --test-concurrency=1 --test-timeout=600000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
}

# Suites that use what the background builds make (their env files, or the browser through tests/support) run last.
late_pattern='TG_SCHEMATHESIS_BIN|TG_CHROMIUM|support/browser|TG_CLIENT_|TG_APPINSPECT|TG_CIM_DATA_MODELS|HELM_BIN|COMPOSE_CHECK_BIN|TRAILGATE_IMAGE|TRAILGATE_CONTAINER_'
mapfile -t files < <(find tests/unit tests/integration -name '*.test.ts' | sort)
mapfile -t late < <(grep -lE "$late_pattern" "${files[@]}" || true)
mapfile -t early < <(printf '%s\n' "${files[@]}" | grep -vxF -f <(printf '%s\n' "${late[@]}"))

status=0
echo "== tests (${#early[@]} files)"
rm -f "$TRAILGATE_TEST_STATE"/results-*.tap
run_suites "$TRAILGATE_TEST_STATE/results-early.tap" "${early[@]}" || status=$?

echo "== client and deployment builds"
if wait "$builds_pid"; then
  builds_pid=""
  cat "$builds_log"
  source_env chromium clients splunk-tools schemathesis go-tools container
  echo "== tests that use them (${#late[@]} files)"
  run_suites "$TRAILGATE_TEST_STATE/results-late.tap" "${late[@]}" || status=$?
else
  builds_pid=""
  cat "$builds_log"
  echo "a client or deployment build failed (above): the ${#late[@]} suites that need it did not run" >&2
  status=1
fi

# The plain closing line counts both runs.
sum() {
  local tap n=0
  for tap in "$TRAILGATE_TEST_STATE"/results-*.tap; do
    [[ -f "$tap" ]] && n=$((n + $(grep -E "^# $1 " "$tap" | awk '{print $3}' | tail -n1 | grep . || echo 0)))
  done
  echo "$n"
}
echo "$(sum pass) passed, $(sum fail) failed"
exit "$status"
