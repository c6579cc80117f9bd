#!/usr/bin/env bash
# Every Debian package the test services and clients need, installed in one apt transaction before anything
# starts: one `apt-get update` instead of one per service, and no two scripts racing for dpkg's lock when the
# client and deployment builds run in the background. Each service script still checks for what it uses.
#
#   tests/services/system-packages.sh   installs what is missing (nothing when all is there)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICE=system-packages.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

missing=()
need() { missing+=("$@"); }
have() { command -v "$1" >/dev/null 2>&1; }

compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need postgresql postgresql-client
[[ -x /usr/sbin/sshd ]] || need openssh-server
for c in ssh scp sftp ssh-keygen ssh-agent; do have "$c" || { need openssh-client; break; }; done
have python3 || need python3
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need python3-venv
ldconfig -p 2>/dev/null | grep -q libmagic.so.1 || need libmagic1
# Kafka and OpenSearch run on Java 17 and are fetched by Maven; pgjdbc's client test compiles with javac.
java --list-modules 2>/dev/null | grep -q '^jdk.compiler' || need openjdk-17-jdk-headless
have mvn || need maven
have curl || need curl
have chromium || need chromium fonts-dejavu-core
for c in buildah podman debootstrap runc; do have "$c" || need "$c"; done
have newuidmap || need uidmap

if ((${#missing[@]} == 0)); then
  log "every Debian package is installed"
  exit 0
fi
have apt-get || die "missing ${missing[*]} and apt-get is unavailable: install them with the system's package manager"
log "installing from Debian: ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
  || die "apt-get install ${missing[*]} failed"
