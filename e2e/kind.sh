#!/usr/bin/env bash
# make e2e-kind: a kind cluster, the images built with Docker (Dockerfile, hack/images/*.Dockerfile) and
# loaded, the chart installed as the README says, the e2e suite run. Needs Docker, kind, kubectl and helm.
# The same suite runs without Docker on a local node: make e2e-local (hack/e2e_local.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${KIND_CLUSTER:-modelguard-e2e}
command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "e2e-kind needs a running Docker engine" >&2; exit 1; }
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
docker build -t modelguard/operator:e2e .
docker build -t modelguard/gateway:e2e -f hack/images/gateway.Dockerfile .
docker build -t modelguard/model-server:e2e -f hack/images/model-server.Dockerfile .
for image in operator gateway model-server; do kind load docker-image "modelguard/$image:e2e" --name "$cluster"; done
export KUBECONFIG=$(mktemp)
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"
ca=$(mktemp -d)/source-ca
.venv/bin/python -c "import sys; sys.path.insert(0, '.'); from pathlib import Path; from tests.harness.certs import LocalCA; LocalCA.create('e2e-source-ca').save(Path('$ca').parent, 'source-ca')"
kubectl create namespace modelguard-system --dry-run=client -o yaml | kubectl apply -f -
kubectl create configmap modelguard-e2e-ca -n modelguard-system --from-file=ca.crt="$ca.crt" --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install modelguard charts/modelguard --namespace modelguard-system --wait \
  --set image.repository=modelguard/operator --set image.tag=e2e --set image.pullPolicy=Never \
  --set gateway.image=modelguard/gateway:e2e --set operator.caBundleConfigMap=modelguard-e2e-ca
export MODELGUARD_E2E_MODEL_SERVER_IMAGE=modelguard/model-server:e2e MODELGUARD_E2E_SOURCE_CA=$ca
export MODELGUARD_E2E_OPERATOR_IMAGE_REF=docker-daemon:modelguard/operator:e2e
export MODELGUARD_E2E_GATEWAY_IMAGE_REF=docker-daemon:modelguard/gateway:e2e
export MODELGUARD_E2E_MODEL_SERVER_IMAGE_REF=docker-daemon:modelguard/model-server:e2e
.venv/bin/pytest e2e -v -p no:cacheprovider
