"""Sample objects for tests (plain dicts, as users write them)."""

from __future__ import annotations

import hashlib
from typing import Any

from modelguard.api.aimodel import VerifiedRecord

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


def verified_record(
    digest: str = DIGEST,
    source: str = "file:///models/m",
    signature: str = "file:///models/m.sig",
    signer: str = "k",
    at: str = "2026-11-25T00:00:00Z",
    signature_bytes: bytes = b"the verified signature",
    verified_by: dict[str, Any] | None = None,
) -> VerifiedRecord:
    """An AIModel's status.verified as the operator writes it (the typed record): signed by the key `signer`
    unless `verified_by` says otherwise; `signature` is the bundle URI verified, whose bytes were
    `signature_bytes`."""
    return VerifiedRecord.model_validate(
        {
            "digest": digest,
            "source": source,
            "signatureRef": {
                "format": "model-signing",
                "bundleUri": signature,
                "digest": "sha256:" + hashlib.sha256(signature_bytes).hexdigest(),
            },
            "verifiedBy": verified_by or {"method": "key", "trusted": signer},
            "signer": signer,
            "files": 1,
            "bytes": 1,
            "durationSeconds": 0,
            "policyGeneration": 1,
            "generation": 1,
            "at": at,
        }
    )
