#!/usr/bin/env bash
# schemathesis (PyPI, pinned in tests/clients/schemathesis/requirements.txt) in a venv cached in
# ~/.cache/trailgate, for tests/integration/replay-api-schemathesis.test.ts: it reads the replay API's
# served OpenAPI document and sends generated requests against it.
#
#   tests/services/schemathesis.sh install   sets it up when missing; writes ${state}/schemathesis.env
#
# A venv that cannot be made fails here, with what to install, never as a skipped test.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
[[ "$STATE" == /* ]] || STATE="$PWD/$STATE"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
SERVICE=schemathesis.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get is unavailable"
  log "installing $* via apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

cmd_install() {
  local req="$REPO_ROOT/tests/clients/schemathesis/requirements.txt" venv
  venv="$CACHE/schemathesis-$(sha256sum "$req" | cut -c1-12)"
  if [[ ! -f "$venv/.complete" ]]; then
    command -v python3 >/dev/null 2>&1 || apt_install python3
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    rm -rf "$venv"
    mkdir -p "$CACHE"
    python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
    log "installing $(tr '\n' ' ' <"$req")from PyPI into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$req" >&2 \
      || die "pip could not install $req from PyPI"
    touch "$venv/.complete"
  fi
  "$venv/bin/schemathesis" --version >/dev/null || die "the venv $venv cannot run schemathesis"
  mkdir -p "$STATE"
  (umask 077; printf '%s=%q\n' TG_SCHEMATHESIS_BIN "$venv/bin/schemathesis" >"$STATE/schemathesis.env")
  log "schemathesis ready (env: $STATE/schemathesis.env)"
}

case "${1:-}" in
  install) cmd_install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
