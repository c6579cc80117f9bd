#!/usr/bin/env bash
# System libraries the native npm packages build against, installed from Debian's packages when missing.
#
#   bash scripts/install-system-deps.sh
#
# @confluentinc/kafka-javascript (the Kafka client, librdkafka) has no prebuilt binary that can be
# fetched here, so it is built from source at `npm ci` time. With CKJS_LINKING=dynamic its build
# links the system's OpenSSL, SASL, zlib, zstd, lz4 and curl instead of downloading their sources.
# Run this before `CKJS_LINKING=dynamic npm ci`; .ci/run does.
set -euo pipefail

PACKAGES=(libssl-dev zlib1g-dev libzstd-dev libsasl2-dev liblz4-dev libcurl4-openssl-dev pkg-config make g++ python3)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "install-system-deps: apt-get is unavailable; install ${missing[*]} by other means" >&2; exit 1; }
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "install-system-deps: need root (or sudo) to install ${missing[*]}" >&2; exit 1
  fi
}
echo "install-system-deps: installing ${missing[*]}" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
