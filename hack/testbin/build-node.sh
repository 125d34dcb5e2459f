#!/usr/bin/env bash
# Build (or reuse) the binaries of the real node used by `make e2e-local`: kubelet and kube-proxy 1.34
# (from the same Kubernetes module as the control plane), kube-router v2.1.0 (its network policy
# controller enforces NetworkPolicy; docs/adr/0010) and crictl v1.37.0 (debugging). containerd, runc and the CNI plugins come from Debian.
# Cached like the control plane (~/.cache/modelguard/node/<key>); prints the bin directory (last line).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=node
# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ -n "${MODELGUARD_NODEBIN:-}" ]]; then
  for b in kubelet kube-proxy kube-router crictl; do
    [[ -x "$MODELGUARD_NODEBIN/$b" ]] || { log "MODELGUARD_NODEBIN=$MODELGUARD_NODEBIN lacks $b"; exit 1; }
  done
  echo "$MODELGUARD_NODEBIN"; exit 0
fi

command -v go >/dev/null || { log "Go is required to build the node binaries (go >= 1.24); install it or set MODELGUARD_NODEBIN"; exit 1; }

key=$(cache_key "$here/build-node.sh" "$here"/node-{kube,kube-router,crictl}/go.{mod,sum})
cache=${MODELGUARD_CACHE:-$HOME/.cache/modelguard}
out="$cache/node/$key"
if [[ -f "$out/.complete" ]]; then
  log "reusing cached node binaries $out"
  echo "$out"; exit 0
fi

mkdir -p "$out.tmp"
start=$(date +%s)
build kubernetes-node "$here/node-kube" "-s -w $(kube_version_ldflags)" "$out.tmp/" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
build kube-router "$here/node-kube-router" "-s -w" "$out.tmp/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
build crictl "$here/node-crictl" "-s -w" "$out.tmp/crictl" sigs.k8s.io/cri-tools/cmd/crictl

echo "$(( $(date +%s) - start ))" > "$out.tmp/.build-seconds"
touch "$out.tmp/.complete"
rm -rf "$out"; mv "$out.tmp" "$out"
log "node binaries built in $(( $(date +%s) - start ))s -> $out"
echo "$out"
