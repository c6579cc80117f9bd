#!/usr/bin/env bash
# Builds the Trailgate image from the repository's Dockerfile without a Docker engine: buildah and
# podman from Debian's packages, on a Node 20 base made here (no registry serves images to CI).
# Containers run as root with runc: crun refuses this machine's hybrid cgroup hierarchy.
#
#   tests/services/container.sh base      # only the base image (cached)
#   tests/services/container.sh build     # base (cached) + image; writes ${state}/container.env
#
# The base stands in for node:20-bookworm-slim: Debian bookworm (debootstrap --variant=minbase from
# Debian's archive) with this machine's Node 20 (/usr/bin/node, its headers and npm) under /usr/local,
# as the official image has them. It is cached in ~/.cache/trailgate/container-base. Images live in a
# storage of their own (~/.cache/trailgate/containers) so layers stay cached between runs.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${TRAILGATE_TEST_STATE:-$REPO_ROOT/.test-state}"
CACHE="${TRAILGATE_CACHE:-$HOME/.cache/trailgate}"
BASE_DIR="$CACHE/container-base"
STORAGE="$CACHE/containers/overlay"
# Beside the storage it belongs to: podman records the runroot in that storage and refuses another
# one, so a per-checkout runroot breaks the next checkout that shares the cached images.
RUNROOT="$CACHE/containers/run"
ENV_FILE="$STATE/container.env"
NODE_VERSION="$(node -p 'process.versions.node')"
BASE_TAR="$BASE_DIR/bookworm-node-$NODE_VERSION.tar"
BASE_IMAGE="localhost/trailgate-base:bookworm-node-$NODE_VERSION"
IMAGE="localhost/trailgate:test"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

SERVICE=container.sh
# shellcheck source=tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

# Same flags for both tools: our storage root, overlay (vfs works too, but copies every layer whole:
# minutes per build step and per container), chroot builds.
DRIVER="${TRAILGATE_CONTAINER_DRIVER:-overlay}"
STORE_FLAGS=(--root "$STORAGE" --runroot "$RUNROOT" --storage-driver "$DRIVER")
bh() { buildah "${STORE_FLAGS[@]}" "$@"; }

ensure_tools() {
  local missing=()
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # crun (podman's default) refuses hybrid cgroup hierarchies; runc runs the tests' containers.
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" uidmap >&2 \
      || die "apt-get install ${missing[*]} failed"
  fi
  [[ "$NODE_VERSION" == 20.* ]] || die "the base image takes this machine's Node, which must be 20.x (found $NODE_VERSION)"
}

# Debian bookworm minbase plus this machine's Node 20, as a tar of the root file system.
make_base_tar() {
  [[ -f "$BASE_TAR" ]] && return 0
  local root="$BASE_DIR/rootfs"
  mkdir -p "$BASE_DIR"
  if [[ ! -x "$root/bin/sh" || ! -f "$root/.debootstrap-done" ]]; then
    rm -rf "$root"
    log "debootstrap bookworm (minbase) into $root (once; a few minutes)"
    as_root debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >&2 || die "debootstrap failed"
    touch "$root/.debootstrap-done"
  fi
  local nodebin npmdir incdir
  nodebin="$(readlink -f "$(command -v node)")"
  npmdir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  incdir="$(dirname "$(dirname "$nodebin")")/include/node"
  [[ -d "$npmdir" && -f "$npmdir/package.json" ]] || die "cannot find npm's directory next to $nodebin"
  [[ -d "$incdir" ]] || die "Node's headers are not at $incdir (native addons build against them)"
  log "adding Node $NODE_VERSION ($nodebin), its headers and npm under /usr/local"
  install -D -m 0755 "$nodebin" "$root/usr/local/bin/node"
  rm -rf "$root/usr/local/include/node" "$root/usr/local/lib/node_modules/npm"
  mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules"
  cp -a "$incdir" "$root/usr/local/include/node"
  cp -a "$npmdir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The official image has a `node` user (1000); images built FROM it may rely on that.
  grep -q '^node:' "$root/etc/passwd" || chroot "$root" /usr/sbin/useradd --uid 1000 --user-group --create-home --shell /bin/bash node
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
  tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
}

ensure_base_image() {
  if bh inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  make_base_tar
  log "importing the base as $BASE_IMAGE"
  local ctr
  ctr="$(bh from --pull=never scratch)"
  bh add "$ctr" "$BASE_TAR" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$NODE_VERSION" \
    --cmd node --label org.opencontainers.image.description="Debian bookworm minbase with Node $NODE_VERSION (a local stand-in for node:20-bookworm-slim)" "$ctr"
  bh commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
}

build_image() {
  log "building $IMAGE from the Dockerfile (buildah bud, chroot isolation)"
  local started=$SECONDS secret=()
  # The machine's CA bundle, for registries reached through a TLS-intercepting proxy (see the Dockerfile).
  local ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  [[ -s "$ca" ]] && secret=(--secret "id=ca-certificates,src=$ca")
  bh bud --pull=never --layers --isolation chroot --network host "${secret[@]}" \
    --build-arg NODE_IMAGE="$BASE_IMAGE" -f "$REPO_ROOT/Dockerfile" -t "$IMAGE" "$REPO_ROOT" >&2 \
    || die "buildah bud failed (the Dockerfile did not build)"
  log "image built in $((SECONDS - started)) s"
}

# podman's own database (containers, not images) records the runroot it was first used with and
# refuses any other; one made under another runroot is dropped, the cached images stay.
claim_runroot() {
  local marker="$STORAGE/.trailgate-runroot"
  if [[ "$(cat "$marker" 2>/dev/null)" != "$RUNROOT" ]]; then
    rm -f "$STORAGE/libpod/bolt_state.db" "$STORAGE/libpod/db.sql"
    mkdir -p "$STORAGE"
    echo "$RUNROOT" >"$marker"
  fi
}

case "${1:-}" in
  base)
    mkdir -p "$STATE" "$RUNROOT"
    claim_runroot
    ensure_tools
    ensure_base_image
    ;;
  build)
    mkdir -p "$STATE" "$RUNROOT"
    claim_runroot
    ensure_tools
    ensure_base_image
    build_image
    umask 077
    {
      echo "TRAILGATE_IMAGE=$IMAGE"
      echo "TRAILGATE_CONTAINER_STORAGE=$STORAGE"
      echo "TRAILGATE_CONTAINER_RUNROOT=$RUNROOT"
      echo "TRAILGATE_CONTAINER_DRIVER=$DRIVER"
    } >"$ENV_FILE"
    log "image $IMAGE ready (env: $ENV_FILE)"
    ;;
  *)
    echo "usage: $0 base|build" >&2
    exit 2
    ;;
esac
