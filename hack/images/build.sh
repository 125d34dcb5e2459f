#!/usr/bin/env bash
# Build (or reuse) the images of `make e2e-local` without Docker, from Debian packages:
#   pause         busybox-static's sleep (the pod sandbox)
#   operator      Debian bookworm (mmdebstrap) + python3 + a venv at /opt/modelguard with the pinned
#                 dependencies (operator-requirements.txt) and this checkout's modelguard wheel; user
#                 65532, no pip, no compilers: the same image the Dockerfile describes
#   gateway       Debian bookworm + nginx-light, logs to stdout/stderr, user 65532
#   model-server  Debian bookworm + python3 + hack/images/model-server.py (e2e only)
# Root file systems come from mmdebstrap, images are assembled with umoci into one OCI layout under
# ~/.cache/modelguard/images/<key>/oci (keyed by everything that goes into them). Needs root.
# Prints the layout directory (last line); tags: pause, operator, gateway, model-server.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf '[images] %s\n' "$*" >&2; }
SUITE=bookworm
export SOURCE_DATE_EPOCH=1767225600  # 2026-01-01: reproducible file times in the root file systems

for tool in mmdebstrap umoci skopeo busybox; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run hack/install-system-deps.sh --node"; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { log "building root file systems needs root (chroot)"; exit 1; }

cache=${MODELGUARD_CACHE:-$HOME/.cache/modelguard}/images
src_hash() { # the operator's sources as git sees them (tracked and untracked, not ignored)
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard -- operator pyproject.toml README.md \
    | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}
key=$( { cat "$here/build.sh" "$here/operator-requirements.txt" "$here/model-server.py"; src_hash; } | sha256sum | cut -c1-16)
out="$cache/$key"
if [[ -f "$out/.complete" ]]; then
  log "reusing cached images $out/oci"
  echo "$out/oci"; exit 0
fi
start=$(date +%s)
work=$(mktemp -d "$cache.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache.tmp.XXXXXX"; })
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

# Debian root file systems, cached by their package lists (they do not depend on this checkout)
rootfs() { # name packages [mmdebstrap options...] -> path of a tar
  local name=$1 packages=$2; shift 2
  local k tar
  k=$( { echo "$SUITE $packages $*"; cat "$here/build.sh"; } | sha256sum | cut -c1-16)
  tar="$cache/rootfs-$name-$k.tar"
  if [[ ! -f $tar ]]; then
    log "mmdebstrap $SUITE: $name ($packages) ..."
    mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
      "$@" "$SUITE" "$tar.tmp" >&2 || { rm -f "$tar.tmp"; log "mmdebstrap failed for $name"; exit 1; }
    mv "$tar.tmp" "$tar"
    log "  $name root file system: $(( $(stat -c %s "$tar") / 1048576 )) MiB ($(( $(date +%s) - start ))s elapsed)"
  fi
  echo "$tar"
}

# the images run as 65532: name it (Kopf and getpass look the user up) as distroless does
nonroot='echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >> "$1"/etc/passwd; echo "nonroot:x:65532:" >> "$1"/etc/group'
python_tar=$(rootfs python "python3,ca-certificates" --customize-hook="$nonroot")
nginx_tar=$(rootfs nginx "nginx-light,ca-certificates" --customize-hook="$nonroot" \
  --customize-hook='ln -sf /dev/stdout "$1"/var/log/nginx/access.log; ln -sf /dev/stderr "$1"/var/log/nginx/error.log')

# The operator's venv, built inside the Debian root file system (its python3), from wheels only
log "operator venv: wheels for operator-requirements.txt and this checkout ..."
wheels="$work/wheels"
python3 -m pip download --quiet --only-binary=:all: --no-deps --python-version 3.11 --implementation cp \
  --abi cp311 --abi abi3 --abi none --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  --platform any -d "$wheels" -r "$here/operator-requirements.txt" pip
python3 -m pip wheel --quiet --no-deps -w "$wheels" "$repo" 2>&1 | grep -v "^$" >&2 || true
ls "$wheels"/modelguard-*.whl >/dev/null
chroot_dir="$work/venv-root"
mkdir -p "$chroot_dir"
tar -xf "$python_tar" -C "$chroot_dir"
cp -r "$wheels" "$chroot_dir/tmp/wheels"
cp "$here/operator-requirements.txt" "$chroot_dir/tmp/wheels/requirements.txt"
pip_whl=$(cd "$chroot_dir/tmp/wheels" && ls pip-*.whl)
mod_whl=$(cd "$chroot_dir/tmp/wheels" && ls modelguard-*.whl)
chroot "$chroot_dir" /usr/bin/python3 -m venv --without-pip /opt/modelguard
env -u PIP_FIND_LINKS -u PIP_CERT chroot "$chroot_dir" /opt/modelguard/bin/python "/tmp/wheels/$pip_whl/pip" install --quiet --no-index \
  --no-compile --find-links /tmp/wheels --no-deps -r /tmp/wheels/requirements.txt "/tmp/wheels/$mod_whl" >&2
chroot "$chroot_dir" /opt/modelguard/bin/python -m pip --version >/dev/null 2>&1 && { log "pip leaked into the venv"; exit 1; }
find "$chroot_dir/opt/modelguard" -name __pycache__ -prune -exec rm -rf {} +
# the layer holds exactly /opt/modelguard, owned by root, with fixed times
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$chroot_dir" -cf "$work/operator-layer.tar" opt/modelguard
mkdir -p "$work/ms/usr/local/bin" "$work/pause/bin"
install -m 0755 "$here/model-server.py" "$work/ms/usr/local/bin/model-server"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -C "$work/ms" -cf "$work/ms-layer.tar" usr
install -m 0755 "$(command -v busybox)" "$work/pause/bin/busybox"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -C "$work/pause" -cf "$work/pause-layer.tar" bin

oci="$work/oci"
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
image() { # tag layer-tars... -- umoci config options...
  local tag=$1; shift
  umoci new --image "$oci:$tag"
  while [[ $1 != -- ]]; do
    umoci raw add-layer --image "$oci:$tag" --history.created "$created" --history.created_by "hack/images/build.sh" "$1"
    shift
  done
  shift
  umoci config --image "$oci:$tag" --created "$created" --os linux --architecture amd64 "$@"
  log "  image $tag assembled"
}
umoci init --layout "$oci"
path=/opt/modelguard/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
image pause "$work/pause-layer.tar" -- --config.entrypoint=/bin/busybox --config.entrypoint=sleep \
  --config.entrypoint=2147483647 --config.user=65535:65535
image operator "$python_tar" "$work/operator-layer.tar" -- --config.user=65532:65532 \
  --config.entrypoint=modelguard --config.cmd=run --config.env="PATH=$path" \
  --config.env=PYTHONDONTWRITEBYTECODE=1 --config.env=PYTHONUNBUFFERED=1
image gateway "$nginx_tar" -- --config.user=65532:65532 --config.cmd=nginx --config.cmd=-g \
  --config.cmd="daemon off;" --config.stopsignal=SIGQUIT
image model-server "$python_tar" "$work/ms-layer.tar" -- --config.user=65532:65532 \
  --config.entrypoint=/usr/local/bin/model-server --config.env=PYTHONDONTWRITEBYTECODE=1 --config.env=PYTHONUNBUFFERED=1
umoci gc --layout "$oci"

rm -rf "$out"; mkdir -p "$out"; mv "$oci" "$out/oci"
echo "$(( $(date +%s) - start ))" > "$out/.build-seconds"
touch "$out/.complete"
log "images built in $(( $(date +%s) - start ))s -> $out/oci"
echo "$out/oci"
