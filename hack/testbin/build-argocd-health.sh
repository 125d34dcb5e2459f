#!/usr/bin/env bash
# Build (or reuse) argocd-health: Argo CD's way of running a resource health check (gopher-lua v1.1.1, the
# interpreter Argo CD embeds), used by the tests of manifests/argocd/*.lua. Cached like the control plane
# (~/.cache/modelguard/argocd-health/<key>); prints the binary's path (last line).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=argocd-health
# shellcheck source=lib.sh
source "$here/lib.sh"

command -v go >/dev/null || { log "Go is required to build argocd-health (go >= 1.24)"; exit 1; }

key=$(cache_key "$here/build-argocd-health.sh" "$here"/argocd-health/{main.go,go.mod,go.sum})
cache=${MODELGUARD_CACHE:-$HOME/.cache/modelguard}
out="$cache/argocd-health/$key"
if [[ -f "$out/.complete" ]]; then
  echo "$out/argocd-health"; exit 0
fi
mkdir -p "$out.tmp"
start=$(date +%s)
build argocd-health "$here/argocd-health" "-s -w" "$out.tmp/argocd-health" .
touch "$out.tmp/.complete"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out/argocd-health"
