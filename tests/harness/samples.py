"""Sample objects for tests (plain dicts, as users write them)."""

from __future__ import annotations

from typing import Any

DIGEST = "sha256:" + "a" * 64
IMAGE = "registry.example/model-server@sha256:" + "b" * 64


def trust_policy(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "keys": [{"id": "test-key", "publicKey": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"}],
            "allowedSources": ["file:///"],
            **spec,
        },
    }


def ai_model(name: str, policy: str = "test-policy", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIModel",
        "metadata": {"name": name},
        "spec": {
            "version": "1.0.0",
            "source": {"uri": f"file:///models/{name}"},
            "signature": {"bundleUri": f"file:///models/{name}.sig"},
            "trustPolicy": policy,
            "card": {"owner": "ml-team@example.com", "intendedUse": "testing"},
            **spec,
        },
    }


def ai_deployment(name: str, model: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIDeployment",
        "metadata": {"name": name},
        "spec": {"modelRef": {"name": model}, "runtime": {"image": IMAGE}, **spec},
    }
