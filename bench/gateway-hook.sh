# shellcheck shell=bash
# Sourced by bench/pgbench.sh (and bench/idle-sessions.sh, bench/profile-gateway.sh): starts and
# stops the Trailgate gateway in front of the benchmark PostgreSQL (see bench/README.md, "Gateway hook").
# The gateway runs as production runs it: `trailgate gateway` on a configuration file written here
# (embedded event log, the real PostgreSQL target), no demo target in the process. Tokens come from a
# static-JWKS issuer (`identity.issuers[].jwksFile`) whose key the development issuer keeps in the data
# dir, so `trailgate token` can mint them; the gateway itself holds only the public JWKS.
#
# Env: BENCH_RECORDING (strict | strict-fsync | async, default strict) sets recording.mode (and
#      recording.fsync for strict-fsync); GW_NAME names the gateway when several run at once;
#      BENCH_SKIP_BUILD=1 skips `npm run build` (then dist/ must be current);
#      GW_EXTRA_TARGETS: more YAML target entries (indented 2 spaces) whose names GW_EXTRA_TARGET_NAMES lists
#      (comma-separated), opened by the same rule (bench/masking-rows.sh adds masked targets).
# Expects from pgbench.sh: TRAILGATE_TEST_STATE, REPO_ROOT, and the exported TG_PG_* variables.
# The target password reaches the gateway only as the TG_PG_APP_PASSWORD environment variable;
# it is never written to the config file or a log.

GW_PID=""

_gw_log() { echo "[gateway-hook] $*" >&2; }
_gw_fail() {
  _gw_log "ERROR: $*"
  if [[ -n "${GW_LOG:-}" && -f "$GW_LOG" ]]; then
    _gw_log "gateway log tail ($GW_LOG):"
    tail -n 40 "$GW_LOG" >&2 || true
  fi
  return 1
}

_gw_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# True once something accepts TCP connections on 127.0.0.1:$1.
_gw_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_gw_write_config() { # port
  # dataDir is relative to the config file. Only an env reference to the password goes in here.
  cat >"$GW_CONFIG" <<EOF
# Written by bench/gateway-hook.sh for one benchmark run; replaced on every run.
dataDir: data
instance: bench
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
      jwksFile: $GW_JWKS
postgres:
  listen:
    host: 127.0.0.1
    port: $1
targets:
  bench:
    host: $TG_PG_HOST
    port: $TG_PG_PORT
    database: $TG_PG_DB
    user: $TG_PG_APP_USER
    password: { env: TG_PG_APP_PASSWORD }
    tls: disable
${GW_EXTRA_TARGETS:-}
policy:
  rules:
    # What pgbench -S needs and nothing more, so every statement is classified and checked.
    - name: bench-read
      issuers: [dev]
      repository: acme/payments
      targets: [bench${GW_EXTRA_TARGET_NAMES:+, $GW_EXTRA_TARGET_NAMES}]
      rights: [read, transaction, session]
recording:
  mode: ${GW_RECORDING%-fsync}
  fsync: $GW_FSYNC
EOF
}

gateway_start() {
  local root="${REPO_ROOT:?}" dir="${TRAILGATE_TEST_STATE:?}/gateway${GW_NAME:+-$GW_NAME}" port attempt up=0 ttl
  GW_RECORDING="${BENCH_RECORDING:-strict}"
  case "$GW_RECORDING" in strict | async) GW_FSYNC=false ;; strict-fsync) GW_FSYNC=true ;; *) _gw_fail "BENCH_RECORDING must be strict, strict-fsync or async (got '$GW_RECORDING')"; return 1 ;; esac
  command -v node >/dev/null 2>&1 || { _gw_fail "node not found"; return 1; }
  : "${TG_PG_APP_PASSWORD:?TG_PG_APP_PASSWORD must be exported for the gateway}"

  # A fresh data dir each run: the event log from an earlier run would only add noise.
  rm -rf "$dir"
  mkdir -p "$dir"
  chmod 700 "$dir"
  GW_CONFIG="$dir/trailgate.yaml"
  GW_LOG="$dir/gateway.log"
  GW_JWKS="$dir/data/dev-issuer/jwks.json"

  if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    _gw_log "npm run build (log: $dir/build.log)"
    if ! (cd "$root" && npm run build) >"$dir/build.log" 2>&1; then
      tail -n 30 "$dir/build.log" >&2 || true
      _gw_fail "npm run build failed"
      return 1
    fi
  fi

  # The token issuer's key pair (private half only for `trailgate token`, public JWKS for the gateway).
  if ! (cd "$root" && node --input-type=module -e 'const { DevIssuer } = await import(process.argv[1]); await DevIssuer.openOrCreate(process.argv[2]);' \
      "$root/dist/services/dev/dev-issuer.js" "$dir/data") >"$dir/issuer.err" 2>&1 || [[ ! -s "$GW_JWKS" ]]; then
    cat "$dir/issuer.err" >&2 || true
    _gw_fail "could not create the token issuer's keys in $dir/data/dev-issuer"
    return 1
  fi

  # Retry with a new port if another process grabbed the one we picked.
  for attempt in 1 2 3; do
    port="$(_gw_free_port)"
    _gw_write_config "$port"
    _gw_log "starting gateway on 127.0.0.1:$port (recording.mode=$GW_RECORDING; log: $GW_LOG)"
    # TG_PG_APP_PASSWORD is already exported by pgbench.sh (`set -a` on postgres.env).
    (cd "$root" && exec node ${GW_NODE_FLAGS:-} bin/trailgate.js --config "$GW_CONFIG" gateway) >"$GW_LOG" 2>&1 &
    GW_PID=$!
    up=0
    # Up to 90 s on a loaded machine (it starts in about a second).
    for _ in $(seq 1 180); do
      if ! kill -0 "$GW_PID" 2>/dev/null; then break; fi
      if grep -q "is up" "$GW_LOG" 2>/dev/null && _gw_port_open "$port"; then up=1; break; fi
      sleep 0.5
    done
    (( up )) && break
    if kill -0 "$GW_PID" 2>/dev/null; then
      # Still running but not ready: not a port race, so don't retry.
      kill -TERM "$GW_PID" 2>/dev/null || true
      wait "$GW_PID" 2>/dev/null || true
      GW_PID=""
      _gw_fail "gateway not listening on 127.0.0.1:$port after 90 s"
      return 1
    fi
    wait "$GW_PID" 2>/dev/null || true
    GW_PID=""
    if grep -q "EADDRINUSE" "$GW_LOG" 2>/dev/null && (( attempt < 3 )); then
      _gw_log "port $port taken, retrying"
      continue
    fi
    _gw_fail "gateway exited during startup"
    return 1
  done
  (( up )) || { _gw_fail "gateway did not start"; return 1; }

  # Tokens are checked at connection time; give every run of the benchmark room, generously.
  ttl=$(( 3600 + 30 * ${BENCH_SECONDS:-20} ))
  if ! PGPASSWORD_GW="$(cd "$root" && node bin/trailgate.js --config "$GW_CONFIG" token --ttl "$ttl" 2>"$dir/token.err")" \
      || [[ -z "$PGPASSWORD_GW" ]]; then
    cat "$dir/token.err" >&2 || true
    _gw_fail "could not mint a development token"
    return 1
  fi

  local version build="built from the working tree"
  version="$(cd "$root" && node -p 'require("./package.json").version' 2>/dev/null || echo '?')"
  if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then build="existing dist/ (BENCH_SKIP_BUILD=1)"; fi
  # The tree may be dirty (or change during a run): identify the compiled code by content.
  local digest
  digest="$(cd "$root" && find dist -type f -name '*.js' -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
  build="$build (dist/ digest $digest)"
  export TG_GW_PORT="$port" TG_GW_HOST=127.0.0.1 TG_GW_TARGET=bench TG_GW_USER="$TG_PG_APP_USER" PGPASSWORD_GW
  export TG_GW_RECORDING="$GW_RECORDING" TG_GW_LOG="$GW_LOG"
  export TG_GW_DESCRIPTION="trailgate $version $build, \`trailgate gateway\` (embedded event log; static-JWKS issuer; no demo target), recording.mode=${GW_RECORDING%-fsync}, recording.fsync=$GW_FSYNC, policy rule granting read/transaction/session (every statement classified), target \`bench\` over plain TCP (tls: disable) with SCRAM to Postgres"
  _gw_log "gateway up (pid $GW_PID)"
}

gateway_stop() {
  [[ -n "${GW_PID:-}" ]] || return 0
  if kill -0 "$GW_PID" 2>/dev/null; then
    _gw_log "stopping gateway (pid $GW_PID)"
    kill -TERM "$GW_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
      kill -0 "$GW_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$GW_PID" 2>/dev/null; then
      _gw_log "gateway did not exit within 10 s of SIGTERM; killing it"
      kill -KILL "$GW_PID" 2>/dev/null || true
    fi
  fi
  wait "$GW_PID" 2>/dev/null || true
  GW_PID=""
}
