#!/usr/bin/env bash
# Splunk's own offline tooling, for the add-on tests: splunk-appinspect (PyPI) in a venv, and the CIM
# data model definitions shipped in the pytest-splunk-addon wheel (read as JSON, never run).
#
#   tests/services/splunk-tools.sh install   installs them when missing; writes ${state}/splunk-tools.env
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
SERVICE=splunk-tools.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

APPINSPECT_VERSION=4.3.1
PSA_VERSION=7.0.5
CACHE="${HOME}/.cache/trailgate/splunk-tools"
VENV="$CACHE/appinspect-$APPINSPECT_VERSION"
CIM="$CACHE/pytest-splunk-addon-$PSA_VERSION"

cmd_install() {
  command -v python3 >/dev/null 2>&1 || die "python3 is required (Debian: python3, python3-venv)"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q libmagic.so.1; then
    command -v apt-get >/dev/null 2>&1 || die "python3-venv and libmagic1 are missing and apt-get is unavailable"
    log "installing python3-venv and libmagic1 from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv libmagic1
  fi
  mkdir -p "$CACHE"
  if [[ ! -x "$VENV/bin/splunk-appinspect" ]]; then
    log "installing splunk-appinspect $APPINSPECT_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "splunk-appinspect==$APPINSPECT_VERSION" >"$CACHE/pip-appinspect.log" 2>&1 \
      || die "pip could not install splunk-appinspect $APPINSPECT_VERSION; see $CACHE/pip-appinspect.log"
  fi
  "$VENV/bin/splunk-appinspect" --help >/dev/null 2>&1 || die "$VENV/bin/splunk-appinspect does not run"
  if [[ ! -d "$CIM/data_models" ]]; then
    log "downloading the pytest-splunk-addon $PSA_VERSION wheel for its CIM data model definitions"
    rm -rf "$CIM" && mkdir -p "$CIM/wheel"
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$CIM/wheel" "pytest-splunk-addon==$PSA_VERSION" >"$CACHE/pip-psa.log" 2>&1 \
      || die "pip could not download pytest-splunk-addon $PSA_VERSION; see $CACHE/pip-psa.log"
    "$VENV/bin/python" - "$CIM" <<'PY'
import glob, os, sys, zipfile
root = sys.argv[1]
wheel = glob.glob(os.path.join(root, 'wheel', '*.whl'))[0]
out = os.path.join(root, 'data_models')
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith('pytest_splunk_addon/') and '/data_models/' in name and name.endswith('.json'):
            with open(os.path.join(out, os.path.basename(name)), 'wb') as f:
                f.write(z.read(name))
PY
  fi
  [[ -f "$CIM/data_models/Authentication.json" ]] || die "the pytest-splunk-addon wheel held no Authentication.json data model"
  mkdir -p "$STATE"
  { echo "TG_APPINSPECT=$VENV/bin/splunk-appinspect"; echo "TG_CIM_DATA_MODELS=$CIM/data_models"; } > "$STATE/splunk-tools.env"
  log "splunk-appinspect $APPINSPECT_VERSION and $(ls "$CIM/data_models" | wc -l) CIM data models ready"
}

case "${1:-}" in
  install) cmd_install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
