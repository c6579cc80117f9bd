#!/usr/bin/env bash
# Helpers shared by the service scripts; each sets SERVICE before sourcing this file.

log() { echo "[$SERVICE] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs a command with root privileges (for apt), or fails clearly.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Installs Debian packages a script finds missing (tests/run.sh installs them all up front; this is for a
# script run on its own).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get is unavailable"
  log "installing $* via apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# A venv under $CACHE with the pins of a requirements file from PyPI (wheels only), keyed by the file's hash so
# a changed pin makes a new one; prints its path. Usage: venv="$(pinned_venv NAME REQUIREMENTS)" || exit 1
pinned_venv() {
  local name="$1" req="$2" venv
  venv="$CACHE/$name-$(sha256sum "$req" | cut -c1-12)"
  if [[ ! -f "$venv/.complete" ]]; then
    command -v python3 >/dev/null 2>&1 || apt_install python3 >&2
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv >&2
    rm -rf "$venv"
    mkdir -p "$CACHE"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed: install python3-venv"
    log "installing $(tr '\n' ' ' <"$req")from PyPI into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$req" >&2 \
      || die "pip could not install $req from PyPI"
    touch "$venv/.complete"
  fi
  echo "$venv"
}

# PostgreSQL and PgBouncer refuse to run as root, so as root we act as the `postgres` OS user;
# as any other user we simply run as ourselves.
as_pg() {
  if [[ $EUID -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    # cd /: our cwd (e.g. under /root) may be unreadable for postgres, which makes initdb/pg_ctl fail.
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
  fi
}

# A TCP port on loopback that nothing listens on right now.
free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
  else
    local p
    for p in $(shuf -i 20000-60000 -n 200); do
      ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    die "no free TCP port found"
  fi
}

# Prints the pid in PIDFILE if that process runs and is COMM (not a recycled pid); fails otherwise.
pid_from_file() { # pidfile comm
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]] || return 1
  echo "$pid"
}

# SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() { # pid
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
}
