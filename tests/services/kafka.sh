#!/usr/bin/env bash
# Throwaway single-node Apache Kafka broker (KRaft) for tests and benchmarks, from Maven Central jars.
#
#   tests/services/kafka.sh start|stop|status|kill|restart|fetch
#
#   fetch    resolve the broker jars with Maven into ~/.cache/trailgate/kafka-<version>/libs (once)
#   start    format a fresh data dir, start the broker on 127.0.0.1 with free ports, wait until it serves
#   stop     SIGTERM (controlled shutdown), wipe the data dir
#   kill     SIGKILL the broker, keep its data (for broker-crash tests)
#   restart  start the broker again on the same data dir and ports, wait until it serves
#
# State lives in ${TRAILGATE_TEST_STATE:-<repo>/.test-state}/kafka. `start` writes
# ${state}/kafka.env (KEY=value lines; load with `set -a; . file; set +a`): TG_KAFKA_BROKERS and
# the paths tests need to kill and restart the broker themselves.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
ROOT="$STATE/kafka"
ENV_FILE="$STATE/kafka.env"
POM="$REPO_ROOT/tests/services/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
CACHE="${TRAILGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trailgate}/kafka-$KAFKA_VERSION"
LIBS="$CACHE/libs"
HEAP="${TG_KAFKA_HEAP:-512m}"

SERVICE=kafka.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "no java and apt-get is unavailable"
    log "java not found; installing a headless JRE via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless
  fi
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${major%%.*}" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer; found $major"
}

# Resolves kafka_2.13 and its runtime dependencies from Maven Central, once per version.
cmd_fetch() {
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  ensure_java
  if ! command -v mvn >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "no mvn and apt-get is unavailable"
    log "maven not found; installing via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends maven
  fi
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  local attempt ok=0
  # A registry hiccup should not fail the run: retry the resolution a few times.
  for attempt in 1 2 3; do
    if mvn -q -B -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DoutputDirectory="$LIBS" -DincludeScope=runtime >"$CACHE/mvn.log" 2>&1; then
      ok=1
      break
    fi
    log "maven resolution failed (attempt $attempt)"
    sleep $((attempt * 5))
  done
  if (( ! ok )); then
    tail -n 40 "$CACHE/mvn.log" >&2
    die "could not resolve the Kafka jars"
  fi
  [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "maven resolved no kafka_2.13-$KAFKA_VERSION.jar"
  touch "$LIBS/.complete"
}

pid_of() { [[ -f "$ROOT/broker.pid" ]] && cat "$ROOT/broker.pid"; }

is_running() {
  local pid
  pid="$(pid_of 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

write_config() {
  local port="$1" cport="$2"
  cat >"$ROOT/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$ROOT/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Tests kill the broker and start it again: come back fast (a killed broker's registration
# otherwise blocks the new one for the default 9 s session).
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
controlled.shutdown.enable=true
unclean.leader.election.enable=false
log.flush.interval.messages=9223372036854775807
EOF
  cat >"$ROOT/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = info
EOF
}

# Starts the JVM on the existing config and data dir; records its pid.
launch() {
  # setsid: the broker gets its own process group, so stopping the test run's group leaves it be
  # and `kill` hits exactly the broker.
  LAUNCH_LINE="$(wc -l <"$ROOT/broker.log" 2>/dev/null || echo 0)"
  setsid java -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/log4j2.properties" -Dkafka.logs.dir="$ROOT/logs" \
    -cp "$LIBS/*" kafka.Kafka "$ROOT/server.properties" >>"$ROOT/broker.log" 2>&1 </dev/null &
  echo $! >"$ROOT/broker.pid"
}

# Waits until the broker answers on its port and has finished starting (or died).
wait_ready() {
  local port="$1" deadline=$((SECONDS + ${TG_KAFKA_START_TIMEOUT:-120}))
  while (( SECONDS < deadline )); do
    if ! is_running; then
      log "broker exited during start; log follows:"
      tail -n 60 "$ROOT/broker.log" >&2 || true
      return 1
    fi
    if tail -n +"$((LAUNCH_LINE + 1))" "$ROOT/broker.log" 2>/dev/null | grep -q 'Kafka Server started' \
        && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  log "broker did not become ready in time; log follows:"
  tail -n 60 "$ROOT/broker.log" >&2 || true
  return 1
}

cmd_kill() {
  if is_running; then
    local pid
    pid="$(pid_of)"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    log "broker killed (pid $pid); data kept in $ROOT/data"
  fi
}

cmd_stop() {
  if is_running; then
    local pid deadline
    pid="$(pid_of)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$ROOT"
  rm -f "$ENV_FILE"
}

cmd_status() {
  if is_running; then
    echo "running (pid $(pid_of), $(sed -n 's/^TG_KAFKA_BROKERS=//p' "$ENV_FILE" 2>/dev/null))"
  else
    echo "not running"
    return 1
  fi
}

cmd_restart() {
  [[ -f "$ROOT/server.properties" ]] || die "no broker to restart: run start first"
  cmd_kill
  local port
  port="$(sed -n 's/^TG_KAFKA_PORT=//p' "$ENV_FILE")"
  echo "---- restart $(date -u +%FT%TZ)" >>"$ROOT/broker.log"
  # The old process may have left its listening port in TIME_WAIT; the broker sets SO_REUSEADDR.
  launch
  wait_ready "$port" || die "broker did not come back"
  log "broker restarted on 127.0.0.1:$port"
}

cmd_start() {
  mkdir -p "$STATE"
  cmd_stop
  cmd_fetch
  ensure_java
  mkdir -p "$ROOT/data" "$ROOT/logs"
  local port cport cluster_id attempt started=0
  # A base64url id may start with '-', which kafka-storage's argument parser takes for an option (1 in 64
  # starts); Kafka's own random-uuid never makes one, so neither does this.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  for attempt in 1 2 3; do
    port="$(free_port)"
    cport="$(free_port)"
    [[ "$port" != "$cport" ]] || continue
    rm -rf "$ROOT/data" && mkdir -p "$ROOT/data"
    : >"$ROOT/broker.log"
    write_config "$port" "$cport"
    if ! java -Xmx256m -Dlog4j2.configurationFile="$ROOT/log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$ROOT/server.properties" >"$ROOT/format.log" 2>&1; then
      cat "$ROOT/format.log" >&2
      die "kafka-storage format failed"
    fi
    launch
    if wait_ready "$port"; then
      started=1
      break
    fi
    cmd_kill
    if grep -q 'Address already in use' "$ROOT/broker.log" && (( attempt < 3 )); then
      log "port taken, retrying"
      continue
    fi
    break
  done
  (( started )) || die "broker failed to start"
  {
    printf '%s=%q\n' \
      TG_KAFKA_BROKERS "127.0.0.1:$port" \
      TG_KAFKA_PORT "$port" \
      TG_KAFKA_SCRIPT "$REPO_ROOT/tests/services/kafka.sh" \
      TG_KAFKA_VERSION "$KAFKA_VERSION"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "Kafka $KAFKA_VERSION (KRaft) running on 127.0.0.1:$port (env: $ENV_FILE)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill) cmd_kill ;;
  restart) cmd_restart ;;
  fetch) cmd_fetch ;;
  *) echo "usage: $0 start|stop|status|kill|restart|fetch" >&2; exit 2 ;;
esac
