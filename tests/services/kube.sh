#!/usr/bin/env bash
# A real Kubernetes control plane for the kubernetes-target tests: etcd, kube-apiserver and kwok (a simulated
# node whose exec runs a local process), built from their Go modules through a wrapper module that pins
# Kubernetes and its published staging modules (no release downloads), cached in ~/.cache/trailgate/kube.
#
#   tests/services/kube.sh build    # builds (once) etcd, kube-apiserver, kwok; prints the cache dir
#   tests/services/kube.sh cached   # exit 0 when etcd and kube-apiserver are built (the long part), 1 otherwise
#   tests/services/kube.sh start    # generated CA + certs, etcd, apiserver (audit log), kwok + one node; writes kube.env
#   tests/services/kube.sh stop
#
# The first build compiles ~2,600 packages; it runs at `nice -n 10` and `-p 1` (TRAILGATE_KUBE_BUILD_P) so the
# shared machine stays usable, and logs its measured duration into the cache dir (build-seconds).
# kwok is built with kwok-exec.patch (a kubelet's exec semantics: stdin's end reaches the process, the exit
# code reaches the client); its binary is named by the patch's hash, a minute's build from a warm cache.
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
KWOK_PATCH="$REPO_ROOT/tests/services/kwok-exec.patch"
KWOK_BIN="$BIN/kwok-$(sha256sum "$KWOK_PATCH" | cut -c1-10)"
KWOK_COMM="$(basename "$KWOK_BIN")" # 15 characters: /proc/PID/comm holds no more
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

cached() { [[ -x "$BIN/etcd" && -x "$BIN/kube-apiserver" ]]; }
built() { cached && [[ -x "$KWOK_BIN" ]]; }

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
  built && { echo "$BUILD_DIR"; return 0; }
  go_env
  mkdir -p "$BIN"
  local p="${TRAILGATE_KUBE_BUILD_P:-1}" started=$SECONDS t
  if ! cached; then
    write_wrapper
    log "building etcd $ETCD_VERSION and kube-apiserver $KUBE_VERSION from Go modules (once; -p $p; log $BUILD_DIR/build.log)"
    (
      cd "$BUILD_DIR/src"
      t=$SECONDS
      nice -n 10 go mod tidy >>"$BUILD_DIR/build.log" 2>&1 || exit 1
      echo "go mod tidy (downloads) $((SECONDS - t)) s" >>"$BUILD_DIR/build.log"
      # one binary at a time: shared packages compile once, and peak memory stays low
      for pair in "etcd go.etcd.io/etcd/server/v3" "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"; do
        set -- $pair
        t=$SECONDS
        nice -n 10 go build -p "$p" -trimpath -ldflags=-s -o "$BIN/$1.tmp" "$2" >>"$BUILD_DIR/build.log" 2>&1 || exit 1
        mv "$BIN/$1.tmp" "$BIN/$1"
        echo "built $1 in $((SECONDS - t)) s" >>"$BUILD_DIR/build.log"
      done
    ) || die "building the Kubernetes control plane failed; see $BUILD_DIR/build.log"
    echo "$((SECONDS - started))" >"$BUILD_DIR/build-seconds"
  fi
  build_kwok "$p"
  log "etcd, kube-apiserver and kwok built in $((SECONDS - started)) s into $BIN"
  echo "$BUILD_DIR"
}

# kwok from a copy of its module with kwok-exec.patch applied, in the wrapper's build list (same k8s.io packages).
build_kwok() { # parallelism
  local dir="$KWOK_BIN.src" t=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$BUILD_DIR/src/go.mod" "$BUILD_DIR/src/go.sum" "$dir/"
  cp -R "$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION" "$dir/kwok"
  chmod -R u+w "$dir/kwok"
  (cd "$dir/kwok" && git apply -p1 "$KWOK_PATCH") || die "kwok-exec.patch does not apply to kwok $KWOK_VERSION"
  printf '\nreplace sigs.k8s.io/kwok => ./kwok\n' >>"$dir/go.mod"
  (cd "$dir" && nice -n 10 go build -p "$1" -trimpath -ldflags=-s -o "$KWOK_BIN.tmp" sigs.k8s.io/kwok/cmd/kwok) >>"$BUILD_DIR/build.log" 2>&1 ||
    die "building kwok failed; see $BUILD_DIR/build.log"
  mv "$KWOK_BIN.tmp" "$KWOK_BIN"
  rm -rf "$dir"
  echo "built $(basename "$KWOK_BIN") (kwok $KWOK_VERSION + kwok-exec.patch) in $((SECONDS - t)) s" >>"$BUILD_DIR/build.log"
}

# ---- start / stop -------------------------------------------------------------------------------------

pidfile() { echo "$RUN/$1.pid"; }

running() { # name comm
  pid_from_file "$(pidfile "$1")" "$2" >/dev/null
}

launch() { # name log command...
  local name="$1" logf="$2"
  shift 2
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

# Whether the process just launched is alive: by pid alone, since it may not have exec'd its binary yet (a loaded machine).
alive() { # name
  local pid
  pid="$(cat "$(pidfile "$1")" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Waits (bounded) until the command succeeds; fails naming the log when the process died or time ran out.
wait_until() { # what pidname comm logfile seconds command...
  local what="$1" name="$2" logf="$4" secs="$5" deadline
  shift 5
  deadline=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    alive "$name" || { tail -n 30 "$logf" >&2 || true; die "$what exited while starting; see $logf"; }
    ((SECONDS < deadline)) || { tail -n 30 "$logf" >&2 || true; die "$what not ready within $secs s; see $logf"; }
    sleep 0.3
  done
}

make_certs() {
  local pki="$RUN/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=trailgate-test-kube-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    issue() { # name subject ext
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    }
    issue apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth,clientAuth"
    issue admin "/O=system:masters/CN=kube-admin" "extendedKeyUsage=clientAuth,serverAuth
subjectAltName=IP:127.0.0.1"
    # The gateway's own credential: may only impersonate (RBAC below), never act as itself.
    issue gateway "/CN=trailgate-gateway" "extendedKeyUsage=clientAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
}

admin_curl() { # method path [body]
  curl -fsS --cacert "$RUN/pki/ca.crt" --cert "$RUN/pki/admin.crt" --key "$RUN/pki/admin.key" -X "$1" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "https://127.0.0.1:$API_PORT$2"
}

# RBAC for the test cluster: the gateway impersonates (users, groups, uids, the trailgate.dev extras) and
# nothing else; jobs impersonated into the group trailgate:jobs get cluster-admin.
seed_cluster() {
  admin_curl POST /apis/rbac.authorization.k8s.io/v1/clusterroles '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"trailgate-impersonator"},"rules":[{"apiGroups":[""],"resources":["users","groups","serviceaccounts"],"verbs":["impersonate"]},{"apiGroups":["authentication.k8s.io"],"resources":["uids","userextras/trailgate.dev/repository","userextras/trailgate.dev/run-id","userextras/trailgate.dev/session-id","userextras/trailgate.dev/rule"],"verbs":["impersonate"]}]}' >/dev/null
  admin_curl POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"trailgate-impersonator"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"trailgate-impersonator"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"trailgate-gateway"}]}' >/dev/null
  admin_curl POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"trailgate-jobs"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"trailgate:jobs"}]}' >/dev/null
  admin_curl POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"kwok-node-0\",\"annotations\":{\"kwok.x-k8s.io/node\":\"fake\",\"node.alpha.kubernetes.io/ttl\":\"0\"},\"labels\":{\"kubernetes.io/hostname\":\"kwok-node-0\",\"type\":\"kwok\"}},\"status\":{\"allocatable\":{\"cpu\":\"32\",\"memory\":\"256Gi\",\"pods\":\"110\"},\"capacity\":{\"cpu\":\"32\",\"memory\":\"256Gi\",\"pods\":\"110\"}}}" >/dev/null
}

write_kwok_config() {
  local stages="$CACHE/go/mod/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  [[ -d "$stages" ]] || die "kwok's stages are missing from the module cache ($stages); run: $0 build"
  {
    cat <<'EOF'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageNodesWithAnnotationSelector: 'kwok.x-k8s.io/node=fake'
  # kwok's own defaults (kustomize/kwok/kwok.yaml); a config file without them leaves them at 0
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  enablePodsOnNodeSyncStreamWatch: true
  cidr: 10.0.0.0/24
  nodeLeaseDurationSeconds: 40
  # exec, attach, logs and port-forward (off by default)
  enableDebuggingHandlers: true
---
# exec runs a local process on this machine (kwok's local exec), in the pod's place
kind: ClusterExec
apiVersion: kwok.x-k8s.io/v1alpha1
metadata:
  name: local
spec:
  execs:
  - local:
      envs:
      - name: TRAILGATE_KWOK_POD
        value: "1"
---
kind: ClusterLogs
apiVersion: kwok.x-k8s.io/v1alpha1
metadata:
  name: logs
spec:
  logs:
  - logsFile: LOGS_FILE
    follow: true
---
kind: ClusterPortForward
apiVersion: kwok.x-k8s.io/v1alpha1
metadata:
  name: forward
spec:
  forwards:
  - target:
      port: FORWARD_PORT
      address: 127.0.0.1
EOF
    local f
    for f in "$stages"/node/fast/node-initialize.yaml "$stages"/node/heartbeat/node-heartbeat.yaml "$stages"/pod/fast/pod-ready.yaml "$stages"/pod/fast/pod-complete.yaml "$stages"/pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$f"
    done
  } | sed -e "s#LOGS_FILE#$RUN/pod.log#" -e "s#FORWARD_PORT#$FORWARD_PORT#" >"$RUN/kwok.yaml"
}

write_kubeconfig() { # file user-cert user-key
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $RUN/pki/ca.crt
users:
- name: u
  user:
    client-certificate: $2
    client-key: $3
contexts:
- name: test
  context: { cluster: test, user: u }
current-context: test
EOF
}

start() {
  built || die "the Kubernetes control plane is not built; run: $0 build (a first build takes long: see its log)"
  if running etcd etcd && running kube-apiserver kube-apiserver && running kwok "$KWOK_COMM" && [[ -f "$ENV_FILE" ]]; then
    log "already running (env: $ENV_FILE)"
    return 0
  fi
  stop >/dev/null 2>&1 || true
  rm -rf "$RUN"
  mkdir -p "$RUN"
  ETCD_PORT="$(free_port)"
  ETCD_PEER_PORT="$(free_port)"
  API_PORT="$(free_port)"
  KWOK_PORT="$(free_port)"
  FORWARD_PORT="$(free_port)"
  make_certs
  launch etcd "$RUN/etcd.log" "$BIN/etcd" --name test --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 1073741824
  wait_until etcd etcd etcd "$RUN/etcd.log" 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  cat >"$RUN/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF
  # The flags envtest and kwokctl use, trimmed: no controller-manager or scheduler (pods name their node).
  launch kube-apiserver "$RUN/apiserver.log" "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" --bind-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$RUN/pki/apiserver.crt" --tls-private-key-file "$RUN/pki/apiserver.key" \
    --client-ca-file "$RUN/pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$RUN/pki/sa.pub" --service-account-signing-key-file "$RUN/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --disable-admission-plugins ServiceAccount \
    --kubelet-client-certificate "$RUN/pki/admin.crt" --kubelet-client-key "$RUN/pki/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --audit-log-path "$RUN/audit.log" --audit-policy-file "$RUN/audit-policy.yaml" \
    --audit-log-mode blocking --allow-privileged=true --enable-priority-and-fairness=false \
    --endpoint-reconciler-type none
  wait_until kube-apiserver kube-apiserver kube-apiserver "$RUN/apiserver.log" 120 admin_curl GET /readyz
  seed_cluster
  write_kubeconfig "$RUN/admin.kubeconfig" "$RUN/pki/admin.crt" "$RUN/pki/admin.key"
  write_kwok_config
  : >"$RUN/pod.log"
  launch kwok "$RUN/kwok.log" "$KWOK_BIN" --kubeconfig "$RUN/admin.kubeconfig" --config "$RUN/kwok.yaml" \
    --tls-cert-file "$RUN/pki/admin.crt" --tls-private-key-file "$RUN/pki/admin.key" \
    --node-ip 127.0.0.1 --node-port "$KWOK_PORT" --server-address "127.0.0.1:$KWOK_PORT" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-lease-duration-seconds 40
  wait_until "kwok's node" kwok "$KWOK_COMM" "$RUN/kwok.log" 60 node_ready
  {
    echo "KUBE_APISERVER_URL=https://127.0.0.1:$API_PORT"
    echo "KUBE_CA_FILE=$RUN/pki/ca.crt"
    echo "KUBE_GATEWAY_CERT=$RUN/pki/gateway.crt"
    echo "KUBE_GATEWAY_KEY=$RUN/pki/gateway.key"
    echo "KUBE_ADMIN_CERT=$RUN/pki/admin.crt"
    echo "KUBE_ADMIN_KEY=$RUN/pki/admin.key"
    echo "KUBE_ADMIN_KUBECONFIG=$RUN/admin.kubeconfig"
    echo "KUBE_AUDIT_LOG=$RUN/audit.log"
    echo "KUBE_POD_LOG=$RUN/pod.log"
    echo "KUBE_FORWARD_PORT=$FORWARD_PORT"
    echo "KUBE_NODE=kwok-node-0"
    echo "KUBE_VERSION=$KUBE_VERSION"
    echo "KUBE_BUILD_SECONDS=$(cat "$BUILD_DIR/build-seconds" 2>/dev/null || echo unknown)"
  } >"$ENV_FILE"
  log "etcd, kube-apiserver $KUBE_VERSION and kwok up on https://127.0.0.1:$API_PORT (env: $ENV_FILE)"
}

node_ready() {
  admin_curl GET /api/v1/nodes/kwok-node-0 | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

stop() {
  local name comm pid
  for name in kwok kube-apiserver etcd; do
    comm="$name"
    [[ "$name" == kwok ]] && comm="$KWOK_COMM"
    if pid="$(pid_from_file "$(pidfile "$name")" "$comm")"; then stop_pid "$pid"; fi
    rm -f "$(pidfile "$name")"
  done
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  build) build ;;
  cached) cached ;;
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 build|cached|start|stop" >&2
    exit 2
    ;;
esac
