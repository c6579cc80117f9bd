#!/usr/bin/env bash
# A single OpenSearch node for tests and benchmarks, from the jars on Maven Central, on this
# machine's Java (17+). No Docker, no tarball: tests/services/opensearch/pom.xml names the jars,
# Maven copies them into the cache, and OpenSearchNode.java (run by the Java source launcher)
# starts a node with the HTTP transport, the common analysis, mapper-extras and Painless modules.
#
#   tests/services/opensearch.sh start|stop|restart|status
#
# `start` wipes any earlier node and starts a fresh one on 127.0.0.1 on a free port, and writes
# ${state}/opensearch.env (TG_OPENSEARCH_URL, TG_OPENSEARCH_VERSION, TG_OPENSEARCH_HOME,
# TG_OPENSEARCH_ISM). `restart` stops the node and starts it again on the same port and data
# directory (what the restart test needs). `stop` ends it and removes its data.
#
# There is no security plugin on the classpath: plain HTTP, no authentication.
# The index-management plugin (ISM) is not published on Maven Central (only its job-scheduler
# dependency is), so the node has no ISM: TG_OPENSEARCH_ISM=absent says so to the tests.
#
# Env: TG_OPENSEARCH_HEAP (default 768m), TRAILGATE_CACHE (default ~/.cache/trailgate).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
ENV_FILE="$STATE/opensearch.env"
HOME_DIR="$STATE/opensearch"
PID_FILE="$HOME_DIR/node.pid"
PORTS_FILE="$HOME_DIR/ports"
LOG_FILE="$HOME_DIR/node.log"
POM="$REPO_ROOT/tests/services/opensearch/pom.xml"
LAUNCHER="$REPO_ROOT/tests/services/opensearch/OpenSearchNode.java"
VERSION="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$POM")"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
# Keyed by the POM's content, so that a changed jar list is fetched anew.
LIBS="$CACHE/opensearch-$VERSION-$(sha256sum "$POM" | cut -c1-12)/libs"
HEAP="${TG_OPENSEARCH_HEAP:-768m}"
START_TIMEOUT=120

SERVICE=opensearch.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

ensure_java() {
  # A JDK, not a JRE: the launcher is a Java source file run by the source launcher (javac inside).
  if ! command -v java >/dev/null 2>&1 || ! java --list-modules 2>/dev/null | grep -q '^jdk.compiler'; then
    log "no JDK found; installing openjdk-17-jdk-headless via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jdk-headless
  fi
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "OpenSearch $VERSION needs Java 17 or newer; found ${major:-none}"
}

ensure_jars() {
  # The marker is written last, so a fetch that died halfway is redone.
  [[ -f "$LIBS/.complete" ]] && return 0
  if ! command -v mvn >/dev/null 2>&1; then
    log "mvn not found; installing maven via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends maven
  fi
  log "fetching OpenSearch $VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$POM" -Dmaven.repo.local="$CACHE/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$LIBS" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2 || die "could not fetch the OpenSearch jars (mvn copy-dependencies failed)"
  ls "$LIBS"/opensearch-"$VERSION".jar >/dev/null 2>&1 || die "opensearch-$VERSION.jar missing after the fetch"
  touch "$LIBS/.complete"
}

running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid that is not our node is not ours to stop.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "OpenSearchNode.java $HOME_DIR" || return 1
  echo "$pid"
}

stop_node() {
  local pid i
  pid="$(running_pid)" || return 0
  log "stopping node (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "node did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

wait_until_ready() {
  local pid="$1" url="$2" deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "node exited during start; its log follows:"
      tail -n 80 "$LOG_FILE" >&2 || true
      return 1
    fi
    # Yellow is what a single node reaches once replicas cannot be placed; green is fine too.
    if curl -fsS "$url/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  log "node not ready within $START_TIMEOUT s; its log follows:"
  tail -n 80 "$LOG_FILE" >&2 || true
  return 1
}

launch() {
  local http_port="$1" transport_port="$2" pid
  mkdir -p "$HOME_DIR"
  printf 'HTTP_PORT=%s\nTRANSPORT_PORT=%s\n' "$http_port" "$transport_port" >"$PORTS_FILE"
  # setsid: the node outlives this script and is stopped by pid, never by name.
  setsid java -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.disable.jmx=true -Dopensearch.set.netty.runtime.available.processors=false \
    -cp "$LIBS/*" "$LAUNCHER" "$HOME_DIR" "$http_port" "$transport_port" >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_until_ready "$pid" "http://127.0.0.1:$http_port"
}

write_env() {
  local http_port="$1" ism
  if curl -fsS "http://127.0.0.1:$http_port/_plugins/_ism/policies" >/dev/null 2>&1; then ism=present; else ism=absent; fi
  (
    umask 077
    printf '%s=%q\n' \
      TG_OPENSEARCH_URL "http://127.0.0.1:$http_port" \
      TG_OPENSEARCH_VERSION "$VERSION" \
      TG_OPENSEARCH_HOME "$HOME_DIR" \
      TG_OPENSEARCH_ISM "$ism" >"$ENV_FILE.tmp"
  )
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "OpenSearch $VERSION running on http://127.0.0.1:$http_port (ISM $ism; env: $ENV_FILE)"
}

cmd_start() {
  mkdir -p "$STATE"
  cmd_stop
  if ! command -v curl >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl
  fi
  ensure_java
  ensure_jars
  local attempt http_port transport_port
  for attempt in 1 2 3; do
    http_port="$(free_port)"
    transport_port="$(free_port)"
    log "starting node (heap $HEAP, attempt $attempt)"
    if launch "$http_port" "$transport_port"; then
      write_env "$http_port"
      return 0
    fi
    stop_node
    grep -q 'BindException\|Address already in use' "$LOG_FILE" 2>/dev/null || break
    log "port taken; retrying on another"
  done
  die "OpenSearch did not start (log: $LOG_FILE)"
}

cmd_restart() {
  [[ -f "$PORTS_FILE" ]] || die "no node to restart; run start first"
  local http_port transport_port
  http_port="$(sed -n 's/^HTTP_PORT=//p' "$PORTS_FILE")"
  transport_port="$(sed -n 's/^TRANSPORT_PORT=//p' "$PORTS_FILE")"
  stop_node
  log "restarting node on port $http_port with its data"
  launch "$http_port" "$transport_port" || die "OpenSearch did not come back after a restart (log: $LOG_FILE)"
}

cmd_stop() {
  stop_node
  rm -rf "$HOME_DIR"
  rm -f "$ENV_FILE"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running (pid $pid, $(sed -n 's/^HTTP_PORT=/port /p' "$PORTS_FILE"))"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_restart ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
