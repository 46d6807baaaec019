#!/usr/bin/env bash
# Prepares a Debian machine to build and run this project's Dockerfile with podman, with no
# container registry needed: installs podman + runc (+ debootstrap), relaxes the ulimits that
# sandboxed machines forbid, and builds a local Python base image from Debian packages.
#
#   source scripts/container-env.sh     # exports PODMAN, CONTAINERS_CONF, SATELLITE_BASE_IMAGE, BUILDAH_FORMAT
#   $PODMAN build --format docker --network host --volume /etc/ssl/certs:/etc/ssl/certs:ro \
#       --build-arg BASE_IMAGE="$SATELLITE_BASE_IMAGE" -t satellite:test .
#   $PODMAN run --rm --network host satellite:test --help
#
#   bash scripts/container-env.sh       # the same, then prints the four variables as NAME=value
#
# --format docker: podman's default image format (OCI) has no HEALTHCHECK and drops the
# Dockerfile's with a mere warning; BUILDAH_FORMAT=docker makes it the default for a
# `podman build` run after sourcing this script as well.
#
# Idempotent: a second run reuses the packages and the base image the first one made. Needs root
# (apt-get) only when podman, runc or debootstrap is missing. Users with Docker do not need it:
# `docker build .` uses the official python slim base image.
_satellite_container_env() {
  local need="" b
  for b in podman runc debootstrap; do command -v "$b" >/dev/null || need="$need $b"; done
  if [ -n "$need" ]; then
    echo "container-env: installing$need (apt-get)" >&2
    apt-get update -qq >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null || return 1
  fi
  local state="${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/sei-satellite"
  mkdir -p "$state" || return 1
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$state/containers.conf}"
  # Sandboxes refuse raising RLIMIT_NOFILE/NPROC; podman's default ulimits would fail every run.
  [ -f "$CONTAINERS_CONF" ] || printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"
  export PODMAN="podman --runtime runc"
  export BUILDAH_FORMAT=docker
  export SATELLITE_BASE_IMAGE="${SATELLITE_BASE_IMAGE:-localhost/satellite-base:bookworm}"
  (
    # One builder at a time (parallel test runs share the image store).
    exec 9>"$state/base-image.lock"
    flock 9
    $PODMAN image exists "$SATELLITE_BASE_IMAGE" && exit 0
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || { echo "container-env: no Debian mirror found in the apt sources" >&2; exit 1; }
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    echo "container-env: building $SATELLITE_BASE_IMAGE with debootstrap (1-2 minutes, once)" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$root" "$mirror" >/dev/null
    # Keep the base small: no apt lists, caches or docs.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
    tar -C "$root" -c . | $PODMAN import --quiet --change 'CMD ["/bin/bash"]' - "$SATELLITE_BASE_IMAGE" >/dev/null
  ) || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _satellite_container_env
  printf 'PODMAN=%s\nCONTAINERS_CONF=%s\nSATELLITE_BASE_IMAGE=%s\nBUILDAH_FORMAT=%s\n' \
    "$PODMAN" "$CONTAINERS_CONF" "$SATELLITE_BASE_IMAGE" "$BUILDAH_FORMAT"
else
  _satellite_container_env
fi
