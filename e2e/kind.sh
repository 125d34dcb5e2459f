#!/usr/bin/env bash
# make e2e-kind: a kind cluster, the operator image built and loaded, the chart installed, the e2e suite run.
# Needs Docker, kind, kubectl and helm on PATH. Not runnable on machines without a Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${KIND_CLUSTER:-modelguard-e2e}
image=modelguard/operator:e2e
command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "e2e-kind needs a running Docker engine" >&2; exit 1; }
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"
export KUBECONFIG=$(mktemp)
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"
helm upgrade --install modelguard charts/modelguard --namespace modelguard-system --create-namespace --wait \
  --set image.repository=modelguard/operator --set image.tag=e2e --set image.pullPolicy=Never --set replicaCount=1
.venv/bin/pytest e2e -v
