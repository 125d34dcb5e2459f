#!/usr/bin/env bash
# Build (or reuse) the binaries of the real node used by `make e2e-local`: kubelet and kube-proxy 1.34
# (from the same Kubernetes module as the control plane), kube-network-policies v0.8.0 (NetworkPolicy
# enforcement) and crictl v1.37.0 (debugging). containerd, runc and the CNI plugins come from Debian.
# Cached like the control plane (~/.cache/modelguard/node/<key>); prints the bin directory (last line).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=node
# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ -n "${MODELGUARD_NODEBIN:-}" ]]; then
  for b in kubelet kube-proxy kube-network-policies crictl; do
    [[ -x "$MODELGUARD_NODEBIN/$b" ]] || { log "MODELGUARD_NODEBIN=$MODELGUARD_NODEBIN lacks $b"; exit 1; }
  done
  echo "$MODELGUARD_NODEBIN"; exit 0
fi

command -v go >/dev/null || { log "Go is required to build the node binaries (go >= 1.24); install it or set MODELGUARD_NODEBIN"; exit 1; }

key=$(cache_key "$here/build-node.sh" "$here"/node-{kube,netpol,crictl}/go.{mod,sum})
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
build kube-network-policies "$here/node-netpol" "-s -w" "$out.tmp/kube-network-policies" sigs.k8s.io/kube-network-policies/cmd
build crictl "$here/node-crictl" "-s -w" "$out.tmp/crictl" sigs.k8s.io/cri-tools/cmd/crictl

echo "$(( $(date +%s) - start ))" > "$out.tmp/.build-seconds"
touch "$out.tmp/.complete"
rm -rf "$out"; mv "$out.tmp" "$out"
log "node binaries built in $(( $(date +%s) - start ))s -> $out"
echo "$out"
