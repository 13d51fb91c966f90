#!/usr/bin/env bash
# Builds, with no container registry, the base image the Dockerfile names (BASE_IMAGE,
# python:3.11-slim-bookworm by default): a Debian bookworm rootfs from the Debian mirror (debootstrap
# --variant=minbase) with Python 3.11, pip, nginx and its stream module (for the Dockerfile's
# `ingress` target) and the project's dependencies from PyPI, `docker import`ed under that tag.
# Elsewhere the real image is pulled and this script is not needed. Idempotent: does nothing when
# the tag exists and was built for the same Debian packages and Python dependencies (their hash is
# kept in the image's env); FORCE=1 rebuilds.
#   usage: scripts/build-base-image.sh [TAG]        (needs root, debootstrap, docker)
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-${BASE_IMAGE:-python:3.11-slim-bookworm}}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-pip,ca-certificates,nginx,libnginx-mod-stream
DEPS=$(python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
DEPS_HASH=$(printf '%s\n' "$PACKAGES" "$DEPS" | sha256sum | cut -c1-16)
if [ -z "${FORCE:-}" ] && docker image inspect -f '{{.Config.Env}}' "$TAG" 2>/dev/null \
    | grep -q "PYCONSUL_BASE_DEPS=$DEPS_HASH"; then
  echo "$TAG already present for these dependencies"; exit 0
fi
WORK=$(mktemp -d /tmp/pyconsul-base.XXXXXX)
cleanup() {
  for m in proc dev; do umount "$WORK/rootfs/$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
R=$WORK/rootfs
debootstrap --variant=minbase --include=$PACKAGES \
  bookworm "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
# The wheels are fetched by this host's pip (its index, proxy and CA settings; same Python 3.11
# and glibc as the rootfs) and installed inside the rootfs with no index at all.
printf '%s\n' "$DEPS" >"$WORK/requirements.txt"
python3 -m pip download -q --disable-pip-version-check --only-binary=:all: -d "$R/tmp/wheels" \
  -r "$WORK/requirements.txt" 2> >(grep -v "^WARNING: Location" >&2)
cp "$WORK/requirements.txt" "$R/tmp/requirements.txt"
mount -t proc proc "$R/proc"
chroot "$R" env PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_CONFIG_FILE=/dev/null \
  python3 -m pip install -q --no-cache-dir --disable-pip-version-check --no-index \
  --find-links=/tmp/wheels -r /tmp/requirements.txt
umount "$R/proc"
rm -rf "$R/tmp/wheels"
# What python:3.11-slim-bookworm offers to a Dockerfile: `python` and `pip` on PATH, pip allowed to
# install system-wide; nginx not started by the package's own service scripts.
ln -sf python3 "$R/usr/bin/python"
ln -sf pip3 "$R/usr/bin/pip"
printf '[global]\nbreak-system-packages = true\n' >"$R/etc/pip.conf"
rm -f "$R/etc/nginx/sites-enabled/default" "$R/tmp/requirements.txt"
# Left-overs a running container never reads.
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* \
  "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/locale/*
find "$R/usr/lib/python3" "$R/usr/local/lib" -name __pycache__ -prune -exec rm -rf {} +
tar --numeric-owner -C "$R" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  -c "ENV PYCONSUL_BASE_DEPS=$DEPS_HASH" \
  -c 'CMD ["python3"]' - "$TAG" >/dev/null
echo "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
