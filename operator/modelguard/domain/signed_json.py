"""Signatures over canonical JSON documents made with the operator's key (certificates, audit checkpoints)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.domain.crypto import load_public_key, public_pem

ALGORITHM = "ECDSA-P256-SHA256"


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the document without its `signature`, as canonical JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(public_pem(key)).hexdigest()


def sign(private: ec.EllipticCurvePrivateKey, document: Mapping[str, Any]) -> dict[str, str]:
    value = private.sign(canonical(document), ec.ECDSA(hashes.SHA256()))
    return {"keyId": key_id(private.public_key()), "algorithm": ALGORITHM, "value": base64.b64encode(value).decode()}


def verify(public_key_pem: bytes, document: Mapping[str, Any], what: str) -> str | None:
    """None when `document` is signed by this key and unchanged; otherwise why not (`what` names it)."""
    signature = document.get("signature") or {}
    if not isinstance(signature, Mapping) or not signature.get("value"):
        return f"the {what} carries no signature"
    key = load_public_key(public_key_pem)
    if signature.get("keyId") != key_id(key):
        return f"the {what} was signed by another key"
    try:
        key.verify(base64.b64decode(str(signature["value"])), canonical(document), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return f"the signature does not match the {what}'s content (altered)"
    return None
