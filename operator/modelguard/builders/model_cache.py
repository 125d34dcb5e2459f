"""The model cache of an AIDeployment (pure): the one pod that reaches the model source.

NetworkPolicy works per pod, so a model server whose own init container fetched the model would keep the
egress to the source for as long as it runs. Instead one small pod per AIDeployment (the operator's image)
fetches and verifies the model, exactly as an init container did, and serves the verified files read-only
inside the namespace; the model server pods fetch from it, verify again, and have no other way out
(docs/adr/0012-model-cache.md).
"""

from __future__ import annotations

from typing import Any

from modelguard.builders.labels import CACHE_COMPONENT, DIGEST_ANNOTATION, cache_selector, labels
from modelguard.builders.network import CACHE_PORT as PORT
from modelguard.builders.workload import WorkloadFacts, meta, names, pod_security_context, restricted, verify_container

MODEL_DIR = "/var/lib/modelguard/model"


def url(cluster_ip: str) -> str:
    """Where the model server pods fetch from: the cache Service's cluster IP (no DNS needed, none allowed)."""
    host = f"[{cluster_ip}]" if ":" in cluster_ip else cluster_ip
    return f"http://{host}:{PORT}"


def service(facts: WorkloadFacts) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(facts, names(facts.name)["cache"], CACHE_COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": cache_selector(facts.name),
            "ports": [{"name": "cache", "port": PORT, "targetPort": "cache", "protocol": "TCP"}],
        },
    }


def deployment(facts: WorkloadFacts) -> dict[str, Any]:
    """One pod: the init container fetches from the source and verifies; `serve-model` serves the result."""
    n = names(facts.name)
    init, init_volumes = verify_container(facts, "fetch-model", MODEL_DIR, None)
    server = {
        "name": "serve-model",
        "image": facts.operator_image,
        "args": ["serve-model", MODEL_DIR, "--port", str(PORT)],
        "ports": [{"name": "cache", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "cache"}, "periodSeconds": 5},
        "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR, "readOnly": True}],
        "securityContext": restricted(),
        "resources": {"requests": {"cpu": "50m", "memory": "48Mi"}, "limits": {"memory": "128Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**meta(facts, n["cache"], CACHE_COMPONENT), "annotations": {DIGEST_ANNOTATION: facts.digest}},
        "spec": {
            "replicas": 0 if facts.replicas == 0 else 1,
            "selector": {"matchLabels": cache_selector(facts.name)},
            "strategy": {"type": "Recreate"},  # one copy of the model at a time; model servers wait for it
            "template": {
                "metadata": {
                    "labels": {**labels(facts.name, CACHE_COMPONENT), **cache_selector(facts.name)},
                    "annotations": {DIGEST_ANNOTATION: facts.digest},
                },
                "spec": {
                    "serviceAccountName": facts.spec.service_account_name or n["serviceaccount"],
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "initContainers": [init],
                    "containers": [server],
                    "volumes": [
                        {"name": "model", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        *init_volumes,
                    ],
                },
            },
        },
    }
