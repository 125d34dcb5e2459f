#!/usr/bin/env bash
# Build (or reuse) the local Kubernetes control plane used by tests and `make demo`:
# etcd 3.6, kube-apiserver / kube-controller-manager / kube-scheduler / kubectl 1.34, kwok, helm.
# Everything is built from Go modules through the module proxy (no release downloads), cached
# outside the repo under $MODELGUARD_CACHE (default ~/.cache/modelguard), keyed by the wrapper
# go.mod/go.sum files, this script and the Go version. Prints the bin directory on stdout (last line).
#
# Fallback order: $MODELGUARD_TESTBIN (existing binaries) -> cached build -> fresh build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_VERSION=v1.34.4
HELM_VERSION=v3.19.5

log() { printf '[testbin] %s\n' "$*" >&2; }

if [[ -n "${MODELGUARD_TESTBIN:-}" ]]; then
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$MODELGUARD_TESTBIN/$b" ]] || { log "MODELGUARD_TESTBIN=$MODELGUARD_TESTBIN lacks $b"; exit 1; }
  done
  echo "$MODELGUARD_TESTBIN"; exit 0
fi

command -v go >/dev/null || { log "Go is required to build the local control plane (go >= 1.24); install it or set MODELGUARD_TESTBIN"; exit 1; }

key=$( { go env GOVERSION GOARCH; cat "$here/build.sh"; for m in etcd kube kwok helm; do cat "$here/$m/go.mod" "$here/$m/go.sum"; done; } | sha256sum | cut -c1-16)
cache=${MODELGUARD_CACHE:-$HOME/.cache/modelguard}
out="$cache/testbin/$key"
if [[ -f "$out/.complete" ]]; then
  log "reusing cached control plane $out"
  echo "$out"; exit 0
fi

mkdir -p "$out.tmp"
logdir=$(mktemp -d)
start=$(date +%s)
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# go build -v prints each package as it is compiled: turn that into a progress line every 100.
build() { # name dir ldflags output packages...
  local name=$1 dir=$2 ldflags=$3 output=$4; shift 4
  log "building $name ..."
  local n=0
  if ! ( cd "$here/$dir" && go build -v -trimpath -ldflags "$ldflags" -o "$output" "$@" ) 2> >(tee "$logdir/$name.log" | while read -r _; do
        n=$((n + 1)); if (( n % 100 == 0 )); then log "  $name: $n packages compiled ($(( $(date +%s) - start ))s elapsed)"; fi
      done); then
    log "building $name FAILED; last lines of its log:"; tail -n 40 "$logdir/$name.log" >&2; exit 1
  fi
  log "built $name ($(( $(date +%s) - start ))s elapsed)"
}

bdate=$(date -u +%Y-%m-%dT%H:%M:%SZ)
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kv=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kv+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$bdate"
done

build etcd etcd "-s -w" "$out.tmp/etcd" go.etcd.io/etcd/server/v3
build kubernetes kube "-s -w$kv" "$out.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build kwok kwok "-s -w" "$out.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
hv="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do hv+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"; done
build helm helm "-s -w $hv" "$out.tmp/helm" helm.sh/helm/v3/cmd/helm

echo "$(( $(date +%s) - start ))" > "$out.tmp/.build-seconds"
touch "$out.tmp/.complete"
rm -rf "$out"; mv "$out.tmp" "$out"
log "control plane built in $(( $(date +%s) - start ))s -> $out"
echo "$out"
