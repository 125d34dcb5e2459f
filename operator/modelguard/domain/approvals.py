"""Human approval of a model digest before rollout (TS 104 223 5.1.4-1, 5.1.4-3), pure.

The admission webhook stamps each ModelApproval with its creator's identity and with what was approved (the
AIDeployment's uid and a hash of every spec field that changes what runs or who can reach it) and
signs the stamp with the operator's key. Only stamped, correctly signed approvals for the current digest,
the same AIDeployment (not one re-created under its name) and the same spec count, once per person; with
separation of duties, never the person who last changed the AIDeployment's spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.domain import safe_json, signed_json

APPROVED_BY = "modelguard.io/approved-by"
APPROVED_BY_GROUPS = "modelguard.io/approved-by-groups"
SIGNATURE = "modelguard.io/approval-signature"
APPROVED_UID = "modelguard.io/approved-deployment-uid"
APPROVED_SPEC = "modelguard.io/approved-spec"
# the approved spec itself (covered_document, canonical JSON): its digest is APPROVED_SPEC, which the signature
# covers, so it needs no signature of its own; while a later change awaits approval, the workload is built from it
APPROVED_DOCUMENT = "modelguard.io/approved-spec-document"
STAMP = (APPROVED_BY, APPROVED_BY_GROUPS, SIGNATURE, APPROVED_UID, APPROVED_SPEC, APPROVED_DOCUMENT)


# Fields of an AIDeployment's spec that change neither what runs nor who can reach it: every other field, present
# or added later, is covered by an approval (issue 27 item 6: runtime args, scheduling, egress, clients...).
NOT_APPROVED = frozenset({"approval", "incident_response"})


def covered_document(deployment_spec: Mapping[str, Any]) -> dict[str, Any]:
    """What an approval covers besides the digest: every field of the spec that changes what runs or who can
    reach it, with defaults filled in (so writing a default out does not withdraw an approval). A spec that does
    not parse is covered as written: it matches nothing an approval was given for."""
    try:
        parsed = AIDeploymentSpec.model_validate(dict(deployment_spec))
        return {"v": 2, **parsed.model_dump(mode="json", by_alias=True, exclude=set(NOT_APPROVED))}
    except ValidationError:
        return {"v": 2, "unparsed": dict(deployment_spec)}


def _canonical(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def approved_spec(deployment_spec: Mapping[str, Any]) -> str:
    """The digest of what an approval covers (covered_document)."""
    return "sha256:" + hashlib.sha256(_canonical(covered_document(deployment_spec)).encode()).hexdigest()


def _document(
    namespace: str, spec: Mapping[str, Any], username: str, groups: list[str], uid: str, covered: str
) -> dict[str, Any]:
    return {
        "kind": "ModelApproval",
        "namespace": namespace,
        "deployment": str(spec.get("deployment", "")),
        "digest": str(spec.get("digest", "")),
        "username": username,
        "groups": groups,
        "deploymentUid": uid,
        "approvedSpec": covered,
    }


def stamp(
    private: ec.EllipticCurvePrivateKey,
    namespace: str,
    spec: Mapping[str, Any],
    username: str,
    groups: list[str],
    deployment: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The annotations the webhook writes on a new approval of (the current state of) `deployment`."""
    uid = str(((deployment or {}).get("metadata") or {}).get("uid", ""))
    document = _canonical(covered_document((deployment or {}).get("spec") or {})) if deployment else ""
    covered = "sha256:" + hashlib.sha256(document.encode()).hexdigest() if deployment else ""
    signature = signed_json.sign(private, _document(namespace, spec, username, groups, uid, covered))
    return {
        APPROVED_BY: username,
        APPROVED_BY_GROUPS: json.dumps(groups, separators=(",", ":")),
        SIGNATURE: json.dumps(signature, separators=(",", ":"), sort_keys=True),
        APPROVED_UID: uid,
        APPROVED_SPEC: covered,
        APPROVED_DOCUMENT: document,
    }


@dataclass(frozen=True)
class Approval:
    name: str
    username: str
    deployment_uid: str = ""
    approved_spec: str = ""
    document: str = ""  # the approved spec (covered_document) when its digest matches approved_spec, else ""
    created: str = ""


def approver_of(body: Mapping[str, Any], public_pem: bytes) -> Approval | None:
    """The approval's verified approver, or None when its stamp is missing, forged or altered."""
    meta = body.get("metadata") or {}
    notes = meta.get("annotations") or {}
    try:
        groups = safe_json.loads(notes.get(APPROVED_BY_GROUPS, "null"))
        signature = safe_json.loads(notes.get(SIGNATURE, "null"))
    except ValueError:
        return None
    username = notes.get(APPROVED_BY)
    if not username or not isinstance(groups, list) or not isinstance(signature, dict):
        return None
    uid, covered = str(notes.get(APPROVED_UID, "")), str(notes.get(APPROVED_SPEC, ""))
    document = {
        **_document(str(meta.get("namespace", "")), body.get("spec") or {}, str(username), groups, uid, covered),
        "signature": signature,
    }
    if signed_json.verify(public_pem, document, "approval") is not None:
        return None
    text = str(notes.get(APPROVED_DOCUMENT, ""))
    matches = bool(text) and "sha256:" + hashlib.sha256(text.encode()).hexdigest() == covered
    created = str(meta.get("creationTimestamp") or "")
    return Approval(str(meta.get("name", "")), str(username), uid, covered, text if matches else "", created)


def count(
    approvals: Iterable[Mapping[str, Any]],
    deployment: Mapping[str, Any],
    digest: str | None,
    public_pem: bytes,
    *,
    not_by: str | None = None,
) -> list[Approval]:
    """Valid approvals of `digest` for this very AIDeployment (uid) as it is now (its approval-relevant
    spec), one per person (the oldest name when several), none by `not_by` (separation of duties)."""
    if digest is None:
        return []
    meta = deployment.get("metadata") or {}
    name, uid, covered = meta.get("name"), meta.get("uid"), approved_spec(deployment.get("spec") or {})
    found: dict[str, Approval] = {}
    for body in sorted(approvals, key=lambda b: str((b.get("metadata") or {}).get("name", ""))):
        spec = body.get("spec") or {}
        if spec.get("deployment") != name or spec.get("digest") != digest:
            continue
        approval = approver_of(body, public_pem)
        if approval is None or approval.deployment_uid != uid or approval.approved_spec != covered:
            continue
        if approval.username != not_by and approval.username not in found:
            found[approval.username] = approval
    return sorted(found.values(), key=lambda a: a.username)


LAST_CHANGED_BY = "modelguard.io/last-changed-by"


def _change(namespace: str, name: str, spec: Mapping[str, Any], username: str) -> dict[str, Any]:
    spec_hash = hashlib.sha256(json.dumps(dict(spec), sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return {"kind": "SpecChange", "namespace": namespace, "name": name, "spec": spec_hash, "username": username}


def change_stamp(
    private: ec.EllipticCurvePrivateKey, namespace: str, name: str, spec: Mapping[str, Any], username: str
) -> str:
    """Who changed an AIDeployment's spec to what it is now, signed (written by the admission webhook)."""
    document = _change(namespace, name, spec, username)
    return json.dumps({**document, "signature": signed_json.sign(private, document)}, separators=(",", ":"))


def last_editor(body: Mapping[str, Any], public_pem: bytes) -> str | None:
    """Who admission says last changed this spec, or None when no valid stamp covers the spec as it is."""
    meta = body.get("metadata") or {}
    try:
        document = safe_json.loads((meta.get("annotations") or {}).get(LAST_CHANGED_BY) or "null")
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    expected = _change(str(meta.get("namespace", "")), str(meta.get("name", "")), body.get("spec") or {}, "")
    if any(document.get(k) != expected[k] for k in ("kind", "namespace", "name", "spec")):
        return None
    if signed_json.verify(public_pem, document, "change stamp") is not None:
        return None
    return str(document.get("username") or "") or None


def last_approved(
    approvals: Iterable[Mapping[str, Any]],
    deployment: Mapping[str, Any],
    digest: str | None,
    required: int,
    public_pem: bytes,
) -> dict[str, Any] | None:
    """The spec (covered_document) that `required` distinct people last approved for this very AIDeployment and
    digest, or None: while a later change awaits approval, the workload stays what they approved."""
    if digest is None:
        return None
    meta = deployment.get("metadata") or {}
    groups: dict[str, dict[str, Approval]] = {}
    for body in approvals:
        spec = body.get("spec") or {}
        if spec.get("deployment") != meta.get("name") or spec.get("digest") != digest:
            continue
        approval = approver_of(body, public_pem)
        if approval is None or approval.deployment_uid != meta.get("uid") or not approval.document:
            continue
        groups.setdefault(approval.document, {}).setdefault(approval.username, approval)
    enough = [(max(a.created for a in by.values()), text) for text, by in groups.items() if len(by) >= required]
    if not enough:
        return None
    try:
        document = safe_json.loads(max(enough)[1])
    except ValueError:
        return None
    if not isinstance(document, dict) or "unparsed" in document:
        return None
    return {k: v for k, v in document.items() if k != "v"}
