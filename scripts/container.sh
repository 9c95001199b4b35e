#!/usr/bin/env bash
# Builds terraseg's container image (docker/Dockerfile) with whatever engine works on this machine:
#   scripts/container.sh build     the image, tagged $IMAGE (default terraseg:latest)
#   scripts/container.sh engine    makes an engine work (below) and prints the command that runs it
#   scripts/container.sh run ARGS  runs that engine with ARGS, e.g. scripts/container.sh run run --rm terraseg --help
# The engine: docker where `docker info` answers (a daemon, not only the client); else podman, as root,
# installed from Debian packages when missing (podman, runc, mmdebstrap; idempotent, like setup.sh) and run
# as `podman --runtime runc --cgroup-manager cgroupfs` (crun fails on cgroup v1 hybrid hosts and on raising
# RLIMIT_NOFILE), with `default_ulimits = []` in /etc/containers/containers.conf (podman raises the open
# files limit above the hard limit otherwise) and --network host for the build's apt.
# The base image: docker.io/library/debian:bookworm as the engine has it; where no registry serves it, made
# from the Debian archive with mmdebstrap --variant=minbase and imported under that name, so the
# Dockerfile's FROM line resolves locally (podman build --pull=never). Made once: delete it to remake it.
# Exit status 3 (engine, or 'build' before it builds): no engine can work here; the reason is on stderr.
# Environment: IMAGE (terraseg:latest), ENGINE (docker or podman: skip the detection).
set -euo pipefail
cd "$(dirname "$0")/.."
image="${IMAGE:-terraseg:latest}"
base=docker.io/library/debian:bookworm

say() { echo "container.sh: $*" >&2; }
unavailable() { say "no container engine: $*"; exit 3; }
sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"

install_packages() {  # Debian packages not yet installed, as scripts/setup.sh does
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

engine=()
pick_engine() {
  if [ "${ENGINE:-docker}" = docker ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=(docker)
    return
  fi
  [ "${ENGINE:-podman}" = podman ] || unavailable "ENGINE=$ENGINE does not answer ('$ENGINE info' fails)"
  if [ "$(id -u)" -ne 0 ]; then
    # Rootless podman needs subordinate ids and a user session: not set up by this script.
    command -v podman >/dev/null || unavailable "no working docker daemon, no podman, and not root to install it"
    unavailable "no working docker daemon; podman is set up by this script as root only (see docker/README.md)"
  fi
  command -v apt-get >/dev/null || unavailable "no working docker daemon and no apt-get to install podman"
  install_packages podman runc mmdebstrap || unavailable "could not install podman from Debian packages"
  local conf=/etc/containers/containers.conf
  if ! grep -qsE '^[[:space:]]*default_ulimits[[:space:]]*=' "$conf"; then
    say "setting default_ulimits = [] in $conf"
    mkdir -p /etc/containers
    if grep -qs '^\[containers\]' "$conf"; then
      sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
    else
      printf '[containers]\ndefault_ulimits = []\n' >> "$conf"
    fi
  fi
  engine=(podman --runtime runc --cgroup-manager cgroupfs)
  "${engine[@]}" info >/dev/null 2>&1 || unavailable "'${engine[*]} info' fails: $("${engine[@]}" info 2>&1 | tail -1)"
}

ensure_base() {
  "${engine[@]}" image inspect "$base" >/dev/null 2>&1 && return 0
  if [ "${engine[0]}" = docker ] && docker pull -q "$base" >/dev/null 2>&1; then return 0; fi
  say "no $base here and none pulled: making it from the Debian archive (mmdebstrap --variant=minbase)"
  install_packages mmdebstrap || unavailable "could not install mmdebstrap"
  local dir start=$SECONDS
  dir="$(mktemp -d)"
  # As Debian's own images: merged /usr made by the hook (no usrmerge package, hence no perl), the sources
  # on deb.debian.org.
  if ! mmdebstrap --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr bookworm "$dir/base.tar" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main" > "$dir/mmdebstrap.log" 2>&1; then
    tail -20 "$dir/mmdebstrap.log" >&2
    rm -rf "$dir"
    say "mmdebstrap failed"
    exit 1
  fi
  "${engine[@]}" import --change 'CMD ["bash"]' "$dir/base.tar" "$base" >/dev/null
  rm -rf "$dir"
  say "made $base in $((SECONDS - start)) s"
}

check_runs() {  # the engine starts a container (cgroups, runtime, rlimits)
  local out
  out="$("${engine[@]}" run --rm --network host "$base" true 2>&1)" ||
    unavailable "'${engine[*]} run $base true' fails: $(echo "$out" | tail -1)"
}

build() {
  local start=$SECONDS
  local flags=()
  # podman: the base is local (--pull=never); RUN steps use the host's network (no bridge network to set up).
  [ "${engine[0]}" = podman ] && flags+=(--pull=never --layers --network host)
  say "building $image with ${engine[*]}"
  "${engine[@]}" build "${flags[@]}" -f docker/Dockerfile -t "$image" .
  say "built $image in $((SECONDS - start)) s: $("${engine[@]}" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

case "${1:-build}" in
  engine) pick_engine; ensure_base; check_runs; echo "${engine[*]}" ;;
  build) pick_engine; ensure_base; check_runs; build ;;
  run) shift; pick_engine; "${engine[@]}" "$@" ;;
  *) echo "usage: scripts/container.sh build|engine|run ARGS" >&2; exit 2 ;;
esac
