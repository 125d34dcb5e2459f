"""An AIModel's status as this release reads it, and the digest that binds a verified signature's bytes.

The verified record is the typed hand-off from verification to deployments (ADR 0013): what vouched for the
signature (`verifiedBy`), where the signature came from with the digest of its bytes (`signatureRef`). A record
stored by an older release lacks them and carries strings instead; `upgrade` reads those strings, here and
nowhere else, the way that release wrote them. Such a record has no digest of its signature bytes: a model whose
record is for its current generation is verified again (domain/model_verdicts.verification_current) to learn it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from modelguard.api.aimodel import AIModelStatus

LEGACY_CONFIGMAP = "configmap/"  # how releases before signatureRef wrote a ConfigMap location


def signature_digest(signature: bytes) -> str:
    """sha256:<hex> of a signature's bytes, as the verified record holds it."""
    return "sha256:" + hashlib.sha256(signature).hexdigest()


def _legacy_verified_by(signer: str) -> dict[str, Any]:
    # verifiedBy came with Sigstore identities (issue 16); before it only keys (`<key id>`) and certificate
    # authorities (`<CA id>:<certificate subject>`) signed, and policy ids cannot hold a colon
    anchor, colon, subject = signer.partition(":")
    if colon:
        return {"method": "certificate", "trusted": anchor, "subject": subject}
    return {"method": "key", "trusted": signer}


def _legacy_location(location: str) -> dict[str, Any]:
    if location.startswith(LEGACY_CONFIGMAP):
        name, _, key = location.removeprefix(LEGACY_CONFIGMAP).partition("/")
        return {"configMapRef": {"name": name, "key": key}}
    return {"bundleUri": location}


def upgrade(status: Mapping[str, Any], signature_format: str) -> dict[str, Any]:
    """`status` with its verified record in this release's shape. The typed parts a record stored by an older
    release lacks are read from its strings; `signature_format` is the spec's (what that release shipped to pods
    with the recorded signature). Nothing else reads those strings."""
    verified = status.get("verified")
    if not isinstance(verified, Mapping) or ("verifiedBy" in verified and "signatureRef" in verified):
        return dict(status)
    record = dict(verified)
    if "verifiedBy" not in record:
        record["verifiedBy"] = _legacy_verified_by(str(record.get("signer") or ""))
    if "signatureRef" not in record:
        record["signatureRef"] = {"format": signature_format, **_legacy_location(str(record.get("signature") or ""))}
    return {**status, "verified": record}


def model_status(status: Mapping[str, Any], signature_format: str = "model-signing") -> AIModelStatus:
    """An AIModel's status, upgraded; an unreadable one reads as empty (nothing verified yet)."""
    try:
        return AIModelStatus.model_validate(upgrade(status, signature_format))
    except ValidationError:
        return AIModelStatus()
