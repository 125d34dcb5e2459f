"""Human approval of a model digest before rollout (TS 104 223 5.1.4-1, 5.1.4-3), pure.

The admission webhook stamps each ModelApproval with its creator's identity and signs the stamp with the
operator's key; only stamped, correctly signed approvals for the current digest count, once per person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.domain import signed_json

APPROVED_BY = "modelguard.io/approved-by"
APPROVED_BY_GROUPS = "modelguard.io/approved-by-groups"
SIGNATURE = "modelguard.io/approval-signature"
STAMP = (APPROVED_BY, APPROVED_BY_GROUPS, SIGNATURE)


def _document(namespace: str, spec: Mapping[str, Any], username: str, groups: list[str]) -> dict[str, Any]:
    return {
        "kind": "ModelApproval",
        "namespace": namespace,
        "deployment": str(spec.get("deployment", "")),
        "digest": str(spec.get("digest", "")),
        "username": username,
        "groups": groups,
    }


def stamp(
    private: ec.EllipticCurvePrivateKey, namespace: str, spec: Mapping[str, Any], username: str, groups: list[str]
) -> dict[str, str]:
    """The annotations the webhook writes on a new approval."""
    signature = signed_json.sign(private, _document(namespace, spec, username, groups))
    return {
        APPROVED_BY: username,
        APPROVED_BY_GROUPS: json.dumps(groups, separators=(",", ":")),
        SIGNATURE: json.dumps(signature, separators=(",", ":"), sort_keys=True),
    }


@dataclass(frozen=True)
class Approval:
    name: str
    username: str


def approver_of(body: Mapping[str, Any], public_pem: bytes) -> Approval | None:
    """The approval's verified approver, or None when its stamp is missing, forged or altered."""
    meta = body.get("metadata") or {}
    notes = meta.get("annotations") or {}
    try:
        groups = json.loads(notes.get(APPROVED_BY_GROUPS, "null"))
        signature = json.loads(notes.get(SIGNATURE, "null"))
    except ValueError:
        return None
    username = notes.get(APPROVED_BY)
    if not username or not isinstance(groups, list) or not isinstance(signature, dict):
        return None
    document = {
        **_document(str(meta.get("namespace", "")), body.get("spec") or {}, str(username), groups),
        "signature": signature,
    }
    if signed_json.verify(public_pem, document, "approval") is not None:
        return None
    return Approval(str(meta.get("name", "")), str(username))


def count(
    approvals: Iterable[Mapping[str, Any]], deployment: str, digest: str | None, public_pem: bytes
) -> list[Approval]:
    """Valid approvals of `digest` for `deployment`, one per person (the oldest name when several)."""
    if digest is None:
        return []
    found: dict[str, Approval] = {}
    for body in sorted(approvals, key=lambda b: str((b.get("metadata") or {}).get("name", ""))):
        spec = body.get("spec") or {}
        if spec.get("deployment") != deployment or spec.get("digest") != digest:
            continue
        approval = approver_of(body, public_pem)
        if approval is not None and approval.username not in found:
            found[approval.username] = approval
    return sorted(found.values(), key=lambda a: a.username)
