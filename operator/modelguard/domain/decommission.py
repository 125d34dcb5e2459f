"""End of life (TS 104 223 5.5.1): the plan of an AIModel's decommission, and its certificate (pure).

The plan is an ordered list of idempotent steps; progress is recorded in the AIModel's status after each
step, so an operator that crashes resumes where it stopped and never repeats a finished step.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.api.aimodel import AIModelSpec, DecommissionStep
from modelguard.domain.crypto import load_public_key, public_pem

STEPS = (
    "StopServing",
    "DeleteWorkloads",
    "DeleteData",
    "DeleteArtifacts",
    "DestroyKeys",
    "ConfirmDeleted",
    "IssueCertificate",
)
Trigger = Literal["Deletion", "Retire", "RetireAfter"]
PLURALS = {"PersistentVolumeClaim": "persistentvolumeclaims", "Secret": "secrets", "ConfigMap": "configmaps"}


def trigger(spec: AIModelSpec | None, deleting: bool, now: datetime) -> Trigger | None:
    """Why the model is being decommissioned, if it is."""
    if deleting:
        return "Deletion"
    if spec is None:
        return None
    if spec.end_of_life.retire:
        return "Retire"
    if spec.end_of_life.retire_after is not None and now >= spec.end_of_life.retire_after:
        return "RetireAfter"
    return None


def plan() -> list[DecommissionStep]:
    return [DecommissionStep(name=name, state="Pending") for name in STEPS]


def next_step(steps: list[DecommissionStep]) -> str | None:
    return next((s.name for s in steps if s.state != "Done"), None)


def canonical(spec: Mapping[str, Any]) -> bytes:
    """The bytes a certificate signature covers: the spec without its signature, as canonical JSON."""
    body = {k: v for k, v in spec.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(public_pem(key)).hexdigest()


def sign(private: ec.EllipticCurvePrivateKey, spec: Mapping[str, Any]) -> dict[str, str]:
    value = private.sign(canonical(spec), ec.ECDSA(hashes.SHA256()))
    return {
        "keyId": key_id(private.public_key()),
        "algorithm": "ECDSA-P256-SHA256",
        "value": base64.b64encode(value).decode(),
    }


def verify(public_key_pem: bytes, spec: Mapping[str, Any]) -> str | None:
    """None when the certificate spec is signed by this key and unchanged; otherwise why not."""
    signature = spec.get("signature") or {}
    if not isinstance(signature, Mapping) or not signature.get("value"):
        return "the certificate carries no signature"
    key = load_public_key(public_key_pem)
    if signature.get("keyId") != key_id(key):
        return "the certificate was signed by another key"
    try:
        key.verify(base64.b64decode(str(signature["value"])), canonical(spec), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return "the signature does not match the certificate's content (altered)"
    return None
