#!/usr/bin/env bash
# A real Kubernetes control plane for the kubernetes-target tests: etcd, kube-apiserver and kwok (a simulated
# node whose exec runs a local process), built from their Go modules through a wrapper module that pins
# Kubernetes and its published staging modules (no release downloads), cached in ~/.cache/trailgate/kube.
#
#   tests/services/kube.sh build    # builds (once) etcd, kube-apiserver, kwok; prints the cache dir
#   tests/services/kube.sh cached   # exit 0 when the binaries are built (a warm cache), 1 otherwise
#   tests/services/kube.sh start    # generated CA + certs, etcd, apiserver (audit log), kwok + one node; writes kube.env
#   tests/services/kube.sh stop
#
# The first build compiles ~2,600 packages; it runs at `nice -n 10` and `-p 1` (TRAILGATE_KUBE_BUILD_P) so the
# shared machine stays usable, and logs its measured duration into the cache dir (build-seconds).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
KUBE_VERSION=v1.36.3 # kwok v0.8.0 supports Kubernetes <= 1.36
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.8 # the etcd that k8s.io/kubernetes v1.36.3 itself requires
KWOK_VERSION=v0.8.0
BUILD_DIR="$CACHE/kube/$KUBE_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION"
BIN="$BUILD_DIR/bin"
RUN="$STATE/kube"
ENV_FILE="$STATE/kube.env"

SERVICE=kube.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap
  code-generator component-base component-helpers controller-manager cri-api cri-client cri-streaming
  csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission
  sample-apiserver sample-cli-plugin sample-controller streaming)

go_env() {
  command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
  command -v go >/dev/null 2>&1 || die "Go 1.26 or newer is needed to build kube-apiserver $KUBE_VERSION from its Go module"
  export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
}

cached() { [[ -x "$BIN/etcd" && -x "$BIN/kube-apiserver" && -x "$BIN/kwok" ]]; }

write_wrapper() {
  mkdir -p "$BUILD_DIR/src"
  {
    echo "module trailgate.test/kube"
    echo
    echo "go 1.26.0"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $KUBE_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo "	sigs.k8s.io/kwok $KWOK_VERSION"
    echo ")"
    echo
    echo "// k8s.io/kubernetes requires its staging modules at v0.0.0 (replaced by ./staging in its own repository):"
    echo "// point each at the published module of the same release."
    echo "replace ("
    local m
    for m in "${STAGING[@]}"; do echo "	k8s.io/$m => k8s.io/$m $STAGING_VERSION"; done
    echo ")"
  } >"$BUILD_DIR/src/go.mod"
  # Blank imports keep the three main packages' modules in the build list.
  cat >"$BUILD_DIR/src/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
EOF
}

build() {
  cached && { echo "$BUILD_DIR"; return 0; }
  go_env
  write_wrapper
  mkdir -p "$BIN"
  local p="${TRAILGATE_KUBE_BUILD_P:-1}" started=$SECONDS t
  log "building etcd $ETCD_VERSION, kube-apiserver $KUBE_VERSION and kwok $KWOK_VERSION from Go modules (once; -p $p; log $BUILD_DIR/build.log)"
  (
    cd "$BUILD_DIR/src"
    t=$SECONDS
    nice -n 10 go mod tidy >>"$BUILD_DIR/build.log" 2>&1 || exit 1
    echo "go mod tidy (downloads) $((SECONDS - t)) s" >>"$BUILD_DIR/build.log"
    # one binary at a time: shared packages compile once, and peak memory stays low
    for pair in "etcd go.etcd.io/etcd/server/v3" "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver" "kwok sigs.k8s.io/kwok/cmd/kwok"; do
      set -- $pair
      t=$SECONDS
      nice -n 10 go build -p "$p" -trimpath -ldflags=-s -o "$BIN/$1.tmp" "$2" >>"$BUILD_DIR/build.log" 2>&1 || exit 1
      mv "$BIN/$1.tmp" "$BIN/$1"
      echo "built $1 in $((SECONDS - t)) s" >>"$BUILD_DIR/build.log"
    done
  ) || die "building the Kubernetes control plane failed; see $BUILD_DIR/build.log"
  echo "$((SECONDS - started))" >"$BUILD_DIR/build-seconds"
  log "etcd, kube-apiserver and kwok built in $((SECONDS - started)) s into $BIN"
  echo "$BUILD_DIR"
}

case "${1:-}" in
  build) build ;;
  cached) cached ;;
  *)
    echo "usage: $0 build|cached|start|stop" >&2
    exit 2
    ;;
esac
