#!/usr/bin/env bash
# Event log benchmark: records per second from the gateway's recording path to Kafka to a null
# consumer, and end-to-end lag, against the embedded SQLite log as the baseline in the same run.
#
#   bash bench/kafka.sh          (env: BENCH_SECONDS per log, default 20; BENCH_SESSIONS, default 16;
#                                 BENCH_RATE, records/s of the paced phase, default 5000, for BENCH_PACED_SECONDS, default 10;
#                                 BENCH_FSYNC=1 compares with recording.fsync true (fdatasync per batch on both logs);
#                                 BENCH_CPU_PROF=1 also writes a CPU profile per log to bench/.work/prof)
#
# Starts its own Kafka broker (tests/services/kafka.sh) with state in bench/.work.
# Results: bench/results/kafka-<UTC timestamp>.md (also printed to stdout).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
export TRAILGATE_TEST_STATE="$REPO_ROOT/bench/.work"
mkdir -p "$TRAILGATE_TEST_STATE" bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/kafka-$STAMP.md"

UPTIME_START="$(uptime)"
LOAD1_START="$(awk '{ print $1 }' /proc/loadavg)"
trap 'bash tests/services/kafka.sh stop >/dev/null 2>&1 || true' EXIT
bash tests/services/kafka.sh start
set -a
# shellcheck disable=SC1091
. "$TRAILGATE_TEST_STATE/kafka.env"
set +a
PROF=()
if [ "${BENCH_CPU_PROF:-0}" = 1 ]; then
  rm -rf "$TRAILGATE_TEST_STATE/prof"
  PROF=(--cpu-prof --cpu-prof-dir "$TRAILGATE_TEST_STATE/prof")
fi
# The broker's CPU over each phase is read from /proc/<pid>/stat by the bench.
BENCH_BROKER_PID="$(cat "$TRAILGATE_TEST_STATE/kafka/broker.pid")"
export BENCH_BROKER_PID
TABLE="$(node "${PROF[@]}" --import tsx bench/kafka-log.ts)"
UPTIME_END="$(uptime)"

{
  echo "# Event log: gateway recording path -> log -> null consumer ($STAMP)"
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- Node: $(node -v); Java: $(java -version 2>&1 | head -n1)"
  echo "- Kafka: $TG_KAFKA_VERSION (KRaft, one node, heap 512 MiB, on the same machine); client: kafkajs $(node -p "require('kafkajs/package.json').version") (pure JavaScript)"
  echo "- Load at start (uptime): $UPTIME_START"
  echo "- Load at end (uptime): $UPTIME_END"
  echo
  if awk -v l="$LOAD1_START" 'BEGIN { exit !(l > 0.5) }'; then
    echo "**Noisy machine:** the 1-minute load average was $LOAD1_START (> 0.5) before the benchmark"
    echo "started, so other work was competing for the $(nproc) CPU(s). Compare the two logs of this run"
    echo "with each other, not with other runs."
    echo
  fi
  echo "## Setup"
  echo
  echo "- ${BENCH_SESSIONS:-16} concurrent sessions per log, first as fast as they go for ${BENCH_SECONDS:-20} s, then paced to ${BENCH_RATE:-5000} records/s in all for ${BENCH_PACED_SECONDS:-10} s; each statement records command.started + 300 client bytes, waits until that is durable (strict recording), then 1200 server bytes + command.completed"
  if [ "${BENCH_FSYNC:-0}" = 1 ]; then
    echo "- recording.fsync true on both logs: the spool fdatasyncs every batch, SQLite synchronous=FULL"
  else
    echo "- recording.fsync false (the default) on both logs: a batch is durable once written (survives a crash of the gateway); the spool fdatasyncs in the background every second, SQLite synchronous=NORMAL"
  fi
  echo "- Kafka: spool drained in transactions (idempotent, acks=all, no compression), 6 partitions, replication 1; consumer group with read_committed, batches of up to 1000"
  echo "- Baseline: the embedded SQLite log read by the embedded consumer"
  echo "- Records/s and events/s: what the recording path made durable, divided by the recording time"
  echo "- All consumed after: seconds from the start until the null consumer had every record"
  echo "- End-to-end lag: from a command.started record's timestamp to its arrival at the null sink"
  echo "- CPU ms per 1000 records: this process's user+system time (recording, log, drain, consumer) over the phase, steadier than rates on a shared machine"
  echo "- Where the CPUs went: per phase, CPU seconds from /proc of the bench process (its main thread and its other threads), the Kafka broker's JVM and the rest of the machine, over the phase's wall time"
  echo
  if [ "${BENCH_CPU_PROF:-0}" = 1 ]; then
    echo "- CPU profile on (node --cpu-prof) for the whole run, both logs alike"
  fi
  if [ -n "${BENCH_NOTE:-}" ]; then
    echo
    echo "$BENCH_NOTE"
  fi
  echo
  echo "## Results"
  echo
  echo "$TABLE"
} | tee "$OUT"
