#!/usr/bin/env bash
# Throwaway OpenSSH server for tests and benchmarks: the SSH target behind the gateway.
#
#   tests/services/sshd.sh start|stop|status
#
# Runs /usr/sbin/sshd as the current user on 127.0.0.1 with its own host keys, one authorized key
# (the key the gateway holds for this target), UsePAM no and a free port. Installs openssh-server,
# openssh-client (and python3, which drives the pty tests) from apt when they are missing. State lives in
# ${TRAILGATE_TEST_STATE:-<repo>/.test-state}/sshd; `start` writes ${state}/sshd.env (mode 600,
# KEY=value lines; load with `set -a; . file; set +a`):
#   TG_SSH_HOST, TG_SSH_PORT, TG_SSH_USER          where to log in, as whom
#   TG_SSH_KEY_FILE                                private key the gateway (and direct ssh) uses
#   TG_SSH_HOST_KEY_FILE                           the server's public host key, to pin
#   TG_SSH_OTHER_HOST_KEY_FILE                     some other host key, for mismatch tests
#   TG_SSH_KNOWN_HOSTS                             known_hosts for direct ssh to the server
#   TG_SSH_LOG                                     the server's log
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
DIR="$STATE/sshd"
ENV_FILE="$STATE/sshd.env"
SSHD=/usr/sbin/sshd

SERVICE=sshd.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

ensure_installed() {
  local missing=()
  [[ -x "$SSHD" ]] || missing+=(openssh-server)
  for c in ssh scp sftp ssh-keygen ssh-agent; do command -v "$c" >/dev/null 2>&1 || { missing+=(openssh-client); break; }; done
  # The interactive-shell tests drive ssh on a real pty with tests/support/pty-driver.py.
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  if (( ${#missing[@]} )); then
    command -v apt-get >/dev/null 2>&1 || die "${missing[*]} missing and apt-get is unavailable"
    log "installing ${missing[*]} via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  [[ -x "$SSHD" ]] || die "$SSHD not found after install"
  # sshd started as root insists on its privilege separation directory.
  if [[ $EUID -eq 0 ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
}

running_pid() { pid_from_file "$DIR/sshd.pid" sshd; }

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    log "stopping sshd (pid $pid)"
    stop_pid "$pid"
  fi
  rm -rf "$DIR"
  rm -f "$ENV_FILE"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then echo "running (pid $pid)"; else echo "not running"; return 1; fi
}

write_config() { # port
  cat >"$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1:$1
HostKey $DIR/ssh_host_ed25519_key
HostKey $DIR/ssh_host_rsa_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
# Only the gateway's key gets in: no passwords, no PAM, no keyboard-interactive.
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
# The state directory lives wherever the checkout is; its permissions are not sshd's business here.
StrictModes no
# The run's tags reach commands as environment variables (see the gateway's sendEnv).
AcceptEnv LANG LC_* TRAILGATE_*
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
CONF
}

cmd_start() {
  mkdir -p "$STATE"
  cmd_stop
  ensure_installed
  mkdir -p "$DIR"
  chmod 700 "$DIR"

  ssh-keygen -q -t ed25519 -N '' -C trailgate-test-host -f "$DIR/ssh_host_ed25519_key"
  ssh-keygen -q -t rsa -b 2048 -N '' -C trailgate-test-host -f "$DIR/ssh_host_rsa_key"
  ssh-keygen -q -t ed25519 -N '' -C trailgate-test-other -f "$DIR/other_host_key"
  ssh-keygen -q -t ed25519 -N '' -C trailgate-gateway -f "$DIR/gateway_key"
  cp "$DIR/gateway_key.pub" "$DIR/authorized_keys"
  chmod 600 "$DIR/authorized_keys"

  local port started=0 user
  user="$(id -un)"
  for attempt in 1 2 3; do
    port="$(free_port)"
    write_config "$port"
    "$SSHD" -t -f "$DIR/sshd_config" 2>"$DIR/config-check.log" || { cat "$DIR/config-check.log" >&2; die "sshd rejects its configuration"; }
    if "$SSHD" -f "$DIR/sshd_config" -E "$DIR/sshd.log"; then
      printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$DIR/ssh_host_ed25519_key.pub")" >"$DIR/known_hosts"
      printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$DIR/ssh_host_rsa_key.pub")" >>"$DIR/known_hosts"
      for _ in $(seq 1 100); do
        if ssh -q -p "$port" -i "$DIR/gateway_key" -o BatchMode=yes -o IdentitiesOnly=yes \
            -o UserKnownHostsFile="$DIR/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=2 \
            "$user@127.0.0.1" true 2>"$DIR/probe.log"; then
          started=1
          break
        fi
        running_pid >/dev/null || break
        sleep 0.1
      done
    fi
    (( started )) && break
    if grep -qs "Address already in use" "$DIR/sshd.log" && (( attempt < 3 )); then
      log "port $port taken, retrying"
      continue
    fi
    break
  done
  if (( ! started )); then
    log "sshd failed to start or to accept the gateway's key; logs follow:"
    cat "$DIR/probe.log" "$DIR/sshd.log" >&2 2>/dev/null || true
    cmd_stop
    exit 1
  fi

  (
    umask 077
    printf '%s=%q\n' \
      TG_SSH_HOST 127.0.0.1 \
      TG_SSH_PORT "$port" \
      TG_SSH_USER "$user" \
      TG_SSH_KEY_FILE "$DIR/gateway_key" \
      TG_SSH_HOST_KEY_FILE "$DIR/ssh_host_ed25519_key.pub" \
      TG_SSH_OTHER_HOST_KEY_FILE "$DIR/other_host_key.pub" \
      TG_SSH_KNOWN_HOSTS "$DIR/known_hosts" \
      TG_SSH_LOG "$DIR/sshd.log" >"$ENV_FILE.tmp"
  )
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "running on 127.0.0.1:$port as $user ($("$SSHD" -V 2>&1 | head -n 1 || true); env: $ENV_FILE)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
