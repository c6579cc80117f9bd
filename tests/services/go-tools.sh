#!/usr/bin/env bash
# Builds the Go tools the deployment tests run, from the Go module proxy, once into ~/.cache/trailgate:
# helm (helm.sh/helm/v3/cmd/helm at a pinned version) and compose-check (compose-go, the loader of
# Docker Compose, in tests/deploy/compose-check with its own pinned go.mod).
#
#   tests/services/go-tools.sh build      # writes ${state}/go-tools.env (HELM_BIN, COMPOSE_CHECK_BIN)
#
# A first helm build downloads and compiles a few hundred packages (about 14 minutes on the shared
# 2-core machine, most of it downloads); later runs take no time.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
ENV_FILE="$STATE/go-tools.env"
HELM_VERSION=v3.21.4

SERVICE=go-tools.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

ensure_go() {
  command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] || die "Go is needed to build helm and compose-check from the Go module proxy; install Go 1.24 or newer"
  command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
}

build_helm() {
  HELM_BIN="$CACHE/helm-$HELM_VERSION/helm"
  [[ -x "$HELM_BIN" ]] && return 0
  log "building helm $HELM_VERSION from helm.sh/helm/v3 (once)"
  local started=$SECONDS
  GOBIN="$CACHE/helm-$HELM_VERSION" GOFLAGS=-buildvcs=false go install -p 2 "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 \
    || die "building helm $HELM_VERSION failed"
  log "helm built in $((SECONDS - started)) s"
}

build_compose_check() {
  local src="$REPO_ROOT/tests/deploy/compose-check" sum
  sum="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)"
  COMPOSE_CHECK_BIN="$CACHE/compose-check-$sum/compose-check"
  [[ -x "$COMPOSE_CHECK_BIN" ]] && return 0
  log "building compose-check (compose-go, pinned in $src/go.mod; once)"
  (cd "$src" && GOFLAGS=-buildvcs=false go build -o "$COMPOSE_CHECK_BIN" .) >&2 || die "building compose-check failed"
}

case "${1:-}" in
  build)
    mkdir -p "$STATE"
    ensure_go
    build_helm
    build_compose_check
    {
      echo "HELM_BIN=$HELM_BIN"
      echo "COMPOSE_CHECK_BIN=$COMPOSE_CHECK_BIN"
    } >"$ENV_FILE"
    log "helm $HELM_VERSION and compose-check ready (env: $ENV_FILE)"
    ;;
  *)
    echo "usage: $0 build" >&2
    exit 2
    ;;
esac
