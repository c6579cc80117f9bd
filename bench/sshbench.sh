#!/usr/bin/env bash
# SSH throughput: a 200 MB transfer over exec, direct to sshd vs through the Trailgate gateway, same run.
#
#   npm run bench:ssh            (or: bash bench/sshbench.sh)
#
# Env: BENCH_MB (payload size, default 200), BENCH_REPS (runs per cell, default 3),
#      BENCH_RECORDING (gateway recording.mode: strict (default) or async),
#      BENCH_DIRECTIONS ("upload download" by default; one of them for a profile of one direction),
#      BENCH_SKIP_BUILD=1 (use the existing dist/).
# Results: bench/results/sshbench-<UTC timestamp>-<recording mode>.md (also printed to stdout).
set -euo pipefail
# shellcheck source=bench/machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/machine.sh"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS_DIR="$REPO_ROOT/bench/results"
export TRAILGATE_TEST_STATE="$REPO_ROOT/bench/.work"
WORK="$TRAILGATE_TEST_STATE/ssh"
MB="${BENCH_MB:-200}"
REPS="${BENCH_REPS:-3}"
RECORDING="${BENCH_RECORDING:-strict}"
DIRS="${BENCH_DIRECTIONS:-upload download}"

log() { echo "[sshbench] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
case "$RECORDING" in strict | async) ;; *) die "BENCH_RECORDING must be strict or async (got '$RECORDING')" ;; esac
[[ "$MB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_MB must be a positive integer"
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer"
[[ "$DIRS" =~ ^(upload|download)( (upload|download))*$ ]] || die "BENCH_DIRECTIONS must be upload, download or both (got '$DIRS')"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (it measures the ssh client's CPU): apt-get install time"

UPTIME_START="$(uptime)"
LOAD1_START="$(awk '{ print $1 }' /proc/loadavg)"

GW_PID=""
SAMPLER_PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; fi
  if [[ -n "$GW_PID" ]]; then
    kill -TERM "$GW_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GW_PID" 2>/dev/null
    wait "$GW_PID" 2>/dev/null
  fi
  bash "$REPO_ROOT/tests/services/sshd.sh" stop
  rm -f "$WORK/payload.bin"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$REPO_ROOT/tests/services/sshd.sh" start
set -a
# shellcheck source=/dev/null
. "$TRAILGATE_TEST_STATE/sshd.env"
set +a

rm -rf "$WORK"
mkdir -p "$WORK"
chmod 700 "$WORK"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "npm run build"
  (cd "$REPO_ROOT" && npm run build) >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; die "npm run build failed"; }
fi

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PG_PORT="$(free_port)"
SSH_GW_PORT="$(free_port)"
# The token issuer's key pair (as bench/gateway-hook.sh): the gateway reads only its public JWKS,
# `trailgate token` mints with the private half.
(cd "$REPO_ROOT" && node --input-type=module -e 'const { DevIssuer } = await import(process.argv[1]); await DevIssuer.openOrCreate(process.argv[2]);' \
  "$REPO_ROOT/dist/services/dev/dev-issuer.js" "$WORK/data") >"$WORK/issuer.err" 2>&1 && [[ -s "$WORK/data/dev-issuer/jwks.json" ]] \
  || { cat "$WORK/issuer.err" >&2; die "could not create the token issuer's keys in $WORK/data/dev-issuer"; }
cat >"$WORK/trailgate.yaml" <<YAML
# Written by bench/sshbench.sh for one run.
dataDir: data
instance: sshbench
log:
  kind: embedded
identity:
  issuers:
    # A static-JWKS issuer, as for a CI system the gateway cannot reach; same iss/aud as \`trailgate token\` mints.
    - name: dev
      issuer: https://trailgate.invalid/dev
      audience: trailgate
      profile: github
      algorithms: [RS256]
      jwksFile: $WORK/data/dev-issuer/jwks.json
postgres:
  listen: { host: 127.0.0.1, port: $PG_PORT }
ssh:
  listen: { host: 127.0.0.1, port: $SSH_GW_PORT }
targets:
  bench:
    kind: ssh
    host: $TG_SSH_HOST
    port: $TG_SSH_PORT
    user: $TG_SSH_USER
    privateKey: { file: $TG_SSH_KEY_FILE }
    hostKey: "$(cut -d' ' -f1,2 "$TG_SSH_HOST_KEY_FILE")"
policy:
  rules:
    - name: bench-exec
      issuers: [dev]
      repository: acme/payments
      targets: [bench]
      rights: [exec]
recording:
  mode: $RECORDING
  fsync: false
YAML

GW_LOG="$WORK/gateway.log"
log "starting the gateway (recording.mode=$RECORDING; log: $GW_LOG)"
# As production runs it: `trailgate gateway`, no development issuer or demo target in the process.
(cd "$REPO_ROOT" && exec node ${GW_NODE_FLAGS:-} bin/trailgate.js --config "$WORK/trailgate.yaml" gateway) >"$GW_LOG" 2>&1 &
GW_PID=$!
for _ in $(seq 1 180); do
  kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$GW_LOG" >&2; die "the gateway exited during startup"; }
  if grep -q "is up" "$GW_LOG" 2>/dev/null; then break; fi
  sleep 0.5
done
grep -q "is up" "$GW_LOG" || die "the gateway did not start within 90 s"
TRAILGATE_TOKEN="$(cd "$REPO_ROOT" && node bin/trailgate.js --config "$WORK/trailgate.yaml" token --ttl 7200)"
export TRAILGATE_TOKEN
printf '[127.0.0.1]:%s %s\n' "$SSH_GW_PORT" "$(cut -d' ' -f1,2 "$WORK/data/ssh/ssh_host_ed25519_key.pub")" >"$WORK/gateway_known_hosts"

log "writing a ${MB} MB random payload"
head -c "$((MB * 1024 * 1024))" /dev/urandom >"$WORK/payload.bin"
BYTES="$((MB * 1024 * 1024))"

COMMON=(-F /dev/null -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o ControlMaster=no -o ControlPath=none)
DIRECT=("${COMMON[@]}" -p "$TG_SSH_PORT" -i "$TG_SSH_KEY_FILE" -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile="$TG_SSH_KNOWN_HOSTS" "$TG_SSH_USER@127.0.0.1")
GATEWAY=("${COMMON[@]}" -p "$SSH_GW_PORT" -o PubkeyAuthentication=no -o UserKnownHostsFile="$WORK/gateway_known_hosts" bench@127.0.0.1)
export SSH_ASKPASS="$REPO_ROOT/bin/trailgate-askpass" SSH_ASKPASS_REQUIRE=force

ssh_to() { # path args...
  local path="$1"
  shift
  if [[ "$path" == direct ]]; then ssh "${DIRECT[@]}" "$@"; else ssh "${GATEWAY[@]}" "$@"; fi
}
# The same, under /usr/bin/time: the ssh client's own CPU (with its askpass) goes to $WORK/client.time.
ssh_timed() { # path args...
  local path="$1" a
  shift
  if [[ "$path" == direct ]]; then a=("${DIRECT[@]}"); else a=("${GATEWAY[@]}"); fi
  /usr/bin/time -f '%U %S' -o "$WORK/client.time" ssh "${a[@]}" "$@"
}

# What each hop negotiated: the cipher decides much of the cost.
cipher_of() { ssh_to "$1" -v true 2>&1 </dev/null | sed -n 's/.*kex: server->client cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 (MAC \2)/p' | head -n 1; }
DIRECT_CIPHER="$(cipher_of direct)"
GATEWAY_CIPHER="$(cipher_of gateway)"

gw_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$GW_PID/stat"; }
# CPU of every process a run needs, to say what this machine's 2 CPUs allow at all (see "CPU ceiling").
TCK="$(getconf CLK_TCK)"
SSHD_PID="$(cat "$TRAILGATE_TEST_STATE/sshd/sshd.pid")"
# ticks VAR STATFILE [self|children|all]: user + system clock ticks from a stat line, into VAR (no subshell:
# the shell's own child time is one of the readings).
ticks() {
  local line rest f
  read -r line <"$2" || return 1
  rest="${line##*) }"
  read -ra f <<<"$rest"
  case "${3:-self}" in
    self) printf -v "$1" '%d' $((f[11] + f[12])) ;;
    children) printf -v "$1" '%d' $((f[13] + f[14])) ;;
    all) printf -v "$1" '%d' $((f[11] + f[12] + f[13] + f[14])) ;;
  esac
}
mkfifo "$WORK/tick.fifo"
exec {TICK_FD}<>"$WORK/tick.fifo"
pause() { read -r -t "$1" -u "$TICK_FD" _ || true; } # a sleep without a fork
# sshd's processes for a connection are reaped by sshd itself; this samples each one's CPU every 50 ms
# (the last sample is up to 50 ms short, so the busiest sshd process is a lower bound) until $2 exists.
sshd_sampler() { # out-file stop-file
  local pid kids t queue
  declare -A seen=()
  while [[ ! -e "$2" ]]; do
    queue=("$SSHD_PID")
    while ((${#queue[@]})); do
      pid="${queue[0]}"
      queue=("${queue[@]:1}")
      kids=""
      read -r kids 2>/dev/null <"/proc/$pid/task/$pid/children" || true
      # shellcheck disable=SC2206
      queue+=($kids)
      if [[ "$pid" != "$SSHD_PID" ]] && ticks t "/proc/$pid/stat" 2>/dev/null; then seen[$pid]="$t"; fi
    done
    pause 0.05
  done
  for pid in "${!seen[@]}"; do echo "${seen[$pid]}"; done | sort -n | tail -n 1 >"$1"
}
# Waits (bounded) until sshd has reaped every process of the runs so far, so its child time counts them.
sshd_settle() {
  local kids
  for _ in $(seq 1 100); do
    kids=""
    read -r kids <"/proc/$SSHD_PID/task/$SSHD_PID/children" || true
    [[ -z "$kids" ]] && return 0
    pause 0.02
  done
  log "sshd still has children after 2 s; its CPU for this run may be short"
}
secs() { awk -v t="$1" -v k="$TCK" 'BEGIN { printf "%.2f", t / k }'; }
# Write-type system calls of the gateway (sockets, and the event log's pages): counts, not times, so load does not move them.
gw_writes() { awk '/^syscw:/ { print $2 }' "/proc/$GW_PID/io"; }

declare -A SECS CPU WRITES CLIENT CLIENTS SSHD SSHD1 GWMAIN
FAILURES=0
run() { # path direction rep
  local path="$1" dir="$2" start end got cpu0 cpu1 w0 w1 sh0 sh1 sd0 sd1 gm0 gm1
  local key="$path|$dir|$3"
  rm -f "$WORK/sampler.stop" "$WORK/client.time"
  sshd_sampler "$WORK/sampler.out" "$WORK/sampler.stop" &
  SAMPLER_PID=$!
  sshd_settle
  w0="$(gw_writes)"
  cpu0="$(gw_cpu)"
  ticks gm0 "/proc/$GW_PID/task/$GW_PID/stat"
  ticks sd0 "/proc/$SSHD_PID/stat" all
  ticks sh0 "/proc/$$/stat" children
  start="$EPOCHREALTIME"
  if [[ "$dir" == upload ]]; then
    got="$(ssh_timed "$path" 'cat > /dev/null; echo done' <"$WORK/payload.bin")" || got=""
    [[ "$got" == done ]] || got=""
  else
    got="$(ssh_timed "$path" "cat $WORK/payload.bin" </dev/null | wc -c)" || got=""
    [[ "$got" == "$BYTES" ]] || got=""
  fi
  end="$EPOCHREALTIME"
  ticks sh1 "/proc/$$/stat" children
  cpu1="$(gw_cpu)"
  ticks gm1 "/proc/$GW_PID/task/$GW_PID/stat"
  w1="$(gw_writes)"
  sshd_settle
  ticks sd1 "/proc/$SSHD_PID/stat" all
  touch "$WORK/sampler.stop"
  wait "$SAMPLER_PID"
  SAMPLER_PID=""
  if [[ -z "$got" ]]; then
    log "run failed: $path $dir"
    FAILURES=$((FAILURES + 1))
    SECS[$key]=FAILED
  else
    SECS[$key]="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')"
  fi
  CPU[$key]="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')"
  WRITES[$key]="$(awk -v a="$w0" -v b="$w1" -v mb="$MB" 'BEGIN { printf "%.0f", (b - a) / mb }')"
  GWMAIN[$key]="$(secs $((gm1 - gm0)))"
  CLIENTS[$key]="$(secs $((sh1 - sh0)))"
  CLIENT[$key]="$(awk '{ printf "%.2f", $1 + $2 }' "$WORK/client.time" 2>/dev/null || echo 0)"
  SSHD[$key]="$(secs $((sd1 - sd0)))"
  SSHD1[$key]="$(secs "$(cat "$WORK/sampler.out" 2>/dev/null || echo 0)")"
  log "$path $dir #$3: ${SECS[$key]} s (CPU s: gateway ${CPU[$key]} (main thread ${GWMAIN[$key]}), ssh client ${CLIENT[$key]} (with wc ${CLIENTS[$key]}), sshd ${SSHD[$key]} (busiest process ${SSHD1[$key]}); gateway ${WRITES[$key]} write calls per MiB)"
}

log "warm-up"
ssh_to direct true </dev/null
# 16 MiB each way through the gateway first: the first bulk transfer pays for compiling ssh2's data path and
# a full GC after start (0.3 s of gateway CPU and more), which is not what a transfer costs.
head -c $((16 * 1024 * 1024)) "$WORK/payload.bin" | ssh_to gateway 'cat > /dev/null'
ssh_to gateway "head -c $((16 * 1024 * 1024)) $WORK/payload.bin" </dev/null >/dev/null
for rep in $(seq 1 "$REPS"); do
  for dir in $DIRS; do
    # Interleaved, so drift on the machine hits both paths alike.
    for path in direct gateway; do run "$path" "$dir" "$rep"; done
  done
done

median() { printf '%s\n' "$@" | grep -v FAILED | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "FAILED"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mbps() { awk -v s="$1" -v mb="$MB" 'BEGIN { if (s ~ /^[0-9.]+$/ && s > 0) printf "%.1f", mb / s; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

LOG_BYTES="$(du -cb "$WORK"/data/trailgate.db* | tail -n 1 | cut -f1)"
UPTIME_END="$(uptime)"
COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
if [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | head -n 1)" ]]; then COMMIT="$COMMIT (dirty tree)"; fi
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/sshbench-$STAMP-$RECORDING.md"

{
  echo "# sshbench: ${MB} MB over exec, direct sshd vs Trailgate gateway"
  echo
  echo "Run at $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $COMMIT."
  echo
  echo "## Machine"
  echo
  machine_lines
  echo "- OpenSSH: $(ssh -V 2>&1)"
  echo "- Node: $(node --version)"
  echo "- ssh2: $(node -p 'require("ssh2/package.json").version' 2>/dev/null) (native crypto binding: $(cd "$REPO_ROOT" && node -p 'require("ssh2/lib/protocol/crypto.js").bindingAvailable' 2>/dev/null))"
  echo "- Load at start (uptime): ${UPTIME_START# }"
  echo "- Load at end (uptime): ${UPTIME_END# }"
  if awk -v l="$LOAD1_START" 'BEGIN { exit !(l > 0.5) }'; then
    echo
    echo "**Noisy machine:** the 1-minute load average was $LOAD1_START (> 0.5) before the benchmark started."
  fi
  echo
  echo "## Setup"
  echo
  echo "- Payload: ${MB} MiB of random bytes; upload: \`ssh target 'cat > /dev/null' < payload\`; download: \`ssh target 'cat payload' | wc -c\`"
  echo "- Everything on one machine over 127.0.0.1: the client, the gateway (one Node process) and sshd share the CPUs"
  echo "- Direct: OpenSSH client to sshd with the gateway's key; cipher ${DIRECT_CIPHER:-unknown}"
  echo "- Gateway: OpenSSH client to the gateway (token by keyboard-interactive, bin/trailgate-askpass), the gateway's ssh2 client to the same sshd; client side cipher ${GATEWAY_CIPHER:-unknown}"
  echo "- Gateway recording.mode: **$RECORDING**, recording.fsync=false, recording.sshInput=false: download output is recorded in full, upload input is not (the default)"
  echo "- $REPS runs per cell, interleaved, after a 16 MiB warm-up transfer each way through the gateway; times are wall clock for the whole ssh command including login"
  echo "- Gateway CPU: user + system time of the gateway process (every thread) over the run; write calls: its write, writev and pwrite system calls (\`/proc/PID/io\` syscw) per MiB moved, toward both sockets and into the event log (the direct rows show the idle gateway)"
  echo "- Event log after the run: $((LOG_BYTES / 1024 / 1024)) MiB (trailgate.db and its WAL)"
  echo
  echo "## Results"
  echo
  echo "| direction | path | runs (s) | median (s) | MiB/s | gateway CPU per run (s) | gateway CPU per MiB (ms, median) | gateway write calls per MiB |"
  echo "|---|---|---|---:|---:|---|---:|---|"
  for dir in $DIRS; do
    for path in direct gateway; do
      runs=() cpus=() writes=()
      for rep in $(seq 1 "$REPS"); do runs+=("${SECS["$path|$dir|$rep"]}"); cpus+=("${CPU["$path|$dir|$rep"]}"); writes+=("${WRITES["$path|$dir|$rep"]}"); done
      m="$(median "${runs[@]}")"
      echo "| $dir | $path | ${runs[*]} | $m | $(mbps "$m") | ${cpus[*]} | $(awk -v c="$(median "${cpus[@]}")" -v mb="$MB" 'BEGIN { printf "%.1f", c * 1000 / mb }') | ${writes[*]} |"
    done
  done
  echo
  echo "## Gateway / direct"
  echo
  echo "| direction | throughput gateway/direct | time gateway/direct |"
  echo "|---|---:|---:|"
  for dir in $DIRS; do
    d=() g=()
    for rep in $(seq 1 "$REPS"); do d+=("${SECS["direct|$dir|$rep"]}"); g+=("${SECS["gateway|$dir|$rep"]}"); done
    md="$(median "${d[@]}")" mg="$(median "${g[@]}")"
    echo "| $dir | $(ratio "$md" "$mg") | $(ratio "$mg" "$md") |"
  done
  echo
  echo "## CPU ceiling"
  echo
  echo "CPU seconds per run (medians) of every process a run needs: the ssh client (OpenSSH, with its askpass; \"with wc\""
  echo "adds the \`wc -c\` of the download), sshd (every process of the connection, and the command it runs: sshd's child"
  echo "time), and the gateway (every thread; its main thread, which relays and records, on its own). The $(nproc) CPUs of"
  echo "this machine run at most $(nproc) of them at a time and one process's thread at most one, so a run cannot finish"
  echo "in less than the bound max(C / $(nproc), the busiest single process or thread), with C the total. The busiest sshd"
  echo "process is sampled every 50 ms (a lower bound). Gateway/direct can be at most the direct run's wall time over the"
  echo "gateway run's bound."
  echo
  echo "| direction | path | wall (s) | ssh client | ssh client with wc | sshd (busiest process) | gateway (main thread) | total C | bound (s) | wall / bound |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  declare -A BOUND
  for dir in $DIRS; do
    for path in direct gateway; do
      walls=() cl=() cls=() sd=() sd1=() gw=() gwm=() tot=() bnd=()
      for rep in $(seq 1 "$REPS"); do
        k="$path|$dir|$rep"
        walls+=("${SECS[$k]}") cl+=("${CLIENT[$k]}") cls+=("${CLIENTS[$k]}") sd+=("${SSHD[$k]}") sd1+=("${SSHD1[$k]}") gw+=("${CPU[$k]}") gwm+=("${GWMAIN[$k]}")
        t="$(awk -v a="${CLIENTS[$k]}" -v b="${SSHD[$k]}" -v c="${CPU[$k]}" 'BEGIN { printf "%.2f", a + b + c }')"
        tot+=("$t")
        bnd+=("$(awk -v t="$t" -v n="$(nproc)" -v a="${CLIENT[$k]}" -v b="${SSHD1[$k]}" -v c="${GWMAIN[$k]}" 'BEGIN { m = t / n; if (a > m) m = a; if (b > m) m = b; if (c > m) m = c; printf "%.2f", m }')")
      done
      BOUND["$path|$dir"]="$(median "${bnd[@]}")"
      mw="$(median "${walls[@]}")"
      echo "| $dir | $path | $mw | $(median "${cl[@]}") | $(median "${cls[@]}") | $(median "${sd[@]}") ($(median "${sd1[@]}")) | $(median "${gw[@]}") ($(median "${gwm[@]}")) | $(median "${tot[@]}") | ${BOUND["$path|$dir"]} | $(ratio "$mw" "${BOUND["$path|$dir"]}") |"
    done
  done
  echo
  echo "\"At direct's efficiency\" is what gateway/direct would be if the gateway path got as close to its bound as the"
  echo "direct path did to its own (direct bound / gateway bound); 0.9 there needs the gateway path's CPU within 11%"
  echo "of the direct path's."
  echo
  echo "| direction | direct wall (s) | direct bound (s) | gateway bound (s) | gateway/direct at most | at direct's efficiency | measured |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for dir in $DIRS; do
    d=() g=()
    for rep in $(seq 1 "$REPS"); do d+=("${SECS["direct|$dir|$rep"]}"); g+=("${SECS["gateway|$dir|$rep"]}"); done
    md="$(median "${d[@]}")" mg="$(median "${g[@]}")"
    echo "| $dir | $md | ${BOUND["direct|$dir"]} | ${BOUND["gateway|$dir"]} | $(ratio "$md" "${BOUND["gateway|$dir"]}") | $(ratio "${BOUND["direct|$dir"]}" "${BOUND["gateway|$dir"]}") | $(ratio "$md" "$mg") |"
  done
  if (( FAILURES )); then
    echo
    echo "**$FAILURES run(s) failed.**"
  fi
} >"$OUT"

cat "$OUT"
log "results written to ${OUT#"$REPO_ROOT"/}"
(( FAILURES == 0 )) || die "$FAILURES run(s) failed"
