#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the replay UI's browser tests (driven by playwright-core).
#
#   tests/services/chromium.sh install   installs it when missing; writes ${state}/chromium.env
#
# playwright-core never downloads a browser: the tests launch this one by path.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
SERVICE=chromium.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

find_chromium() {
  local c
  for c in /usr/bin/chromium /usr/bin/chromium-browser; do
    [[ -x "$c" ]] && { echo "$c"; return 0; }
  done
  return 1
}

cmd_install() {
  local bin
  if ! bin="$(find_chromium)"; then
    command -v apt-get >/dev/null 2>&1 || die "no Chromium found and apt-get is unavailable"
    log "Chromium not found; installing Debian's package via apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core
    bin="$(find_chromium)" || die "chromium installed but not found in /usr/bin"
  fi
  # A browser that cannot start fails here, with its own words, not later in a test.
  "$bin" --headless --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>"$STATE/chromium-check.log" || die "$bin does not start headless; see $STATE/chromium-check.log"
  mkdir -p "$STATE"
  echo "TG_CHROMIUM=$bin" > "$STATE/chromium.env"
  log "$("$bin" --version 2>/dev/null || echo "$bin") ready"
}

case "${1:-}" in
  install) cmd_install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
