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
HELM_VERSION=v3.19.5

# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ -n "${MODELGUARD_TESTBIN:-}" ]]; then
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$MODELGUARD_TESTBIN/$b" ]] || { log "MODELGUARD_TESTBIN=$MODELGUARD_TESTBIN lacks $b"; exit 1; }
  done
  echo "$MODELGUARD_TESTBIN"; exit 0
fi

command -v go >/dev/null || { log "Go is required to build the local control plane (go >= 1.24); install it or set MODELGUARD_TESTBIN"; exit 1; }

key=$(cache_key "$here/build.sh" "$here"/{etcd,kube,kwok,helm}/go.{mod,sum})
cache=${MODELGUARD_CACHE:-$HOME/.cache/modelguard}
out="$cache/testbin/$key"
if [[ -f "$out/.complete" ]]; then
  log "reusing cached control plane $out"
  echo "$out"; exit 0
fi

mkdir -p "$out.tmp"
start=$(date +%s)
kv=$(kube_version_ldflags)
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}

build etcd "$here/etcd" "-s -w" "$out.tmp/etcd" go.etcd.io/etcd/server/v3
build kubernetes "$here/kube" "-s -w $kv" "$out.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build kwok "$here/kwok" "-s -w" "$out.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
hv="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do hv+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"; done
build helm "$here/helm" "-s -w $hv" "$out.tmp/helm" helm.sh/helm/v3/cmd/helm

echo "$(( $(date +%s) - start ))" > "$out.tmp/.build-seconds"
touch "$out.tmp/.complete"
rm -rf "$out"; mv "$out.tmp" "$out"
log "control plane built in $(( $(date +%s) - start ))s -> $out"
echo "$out"
