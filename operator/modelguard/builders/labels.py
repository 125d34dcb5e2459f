"""Standard labels and deterministic names for managed objects (pure)."""

from __future__ import annotations

import hashlib

MANAGED_BY = "app.kubernetes.io/managed-by"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
DEPLOYMENT_LABEL = "modelguard.io/aideployment"
DIGEST_ANNOTATION = "modelguard.io/model-digest"


def object_name(base: str, suffix: str = "") -> str:
    """A DNS-1123 label of at most 63 characters; long names are cut and get a hash suffix."""
    full = f"{base}-{suffix}" if suffix else base
    if len(full) <= 63:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:54].rstrip('-')}-{digest}"


def labels(deployment: str, component: str) -> dict[str, str]:
    return {
        NAME: "modelguard-model-server",
        INSTANCE: deployment,
        COMPONENT: component,
        PART_OF: "modelguard",
        MANAGED_BY: "modelguard",
        DEPLOYMENT_LABEL: deployment,
    }


def selector(deployment: str) -> dict[str, str]:
    return {DEPLOYMENT_LABEL: deployment, COMPONENT: "model-server"}


CACHE_COMPONENT = "model-cache"


def cache_selector(deployment: str) -> dict[str, str]:
    """The model cache's pods (builders/model_cache.py): not selected by the model server's Service or policies."""
    return {DEPLOYMENT_LABEL: deployment, COMPONENT: CACHE_COMPONENT}
