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

cmd_install() {
  local venv
  venv="$(pinned_venv schemathesis "$REPO_ROOT/tests/clients/schemathesis/requirements.txt")" || exit 1
  "$venv/bin/schemathesis" --version >/dev/null || die "the venv $venv cannot run schemathesis"
  mkdir -p "$STATE"
  (umask 077; printf '%s=%q\n' TG_SCHEMATHESIS_BIN "$venv/bin/schemathesis" >"$STATE/schemathesis.env")
  log "schemathesis ready (env: $STATE/schemathesis.env)"
}

case "${1:-}" in
  install) cmd_install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
