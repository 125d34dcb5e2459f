"""Which status changes are operator decisions worth an audit record (pure).

A decision is recorded when the status that shows it is about to be written, so a decision is never
visible in the cluster without its record (and a crash before the write records it again on the retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.api.condition_types import Cond
from modelguard.domain.audit import Entry, ObjectRef
from modelguard.domain.model_checks import TRANSIENT


def _condition(status: Mapping[str, Any], kind: str) -> tuple[str | None, str | None]:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status"), cond.get("reason")
    return None, None


def _merged(before: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    return {**before, **patch}


def model_decisions(ref: ObjectRef, before: Mapping[str, Any], patch: Mapping[str, Any]) -> list[Entry]:
    after = _merged(before, patch)
    entries = []
    old_v, new_v = before.get("verified") or {}, after.get("verified") or {}
    if new_v.get("digest") and new_v.get("digest") != old_v.get("digest"):
        entries.append(
            Entry(
                "Decision",
                "Verified",
                ref,
                new_hash=str(new_v["digest"]),
                details={"signer": str(new_v.get("signer", "")), "source": str(new_v.get("source", ""))},
            )
        )
    old_c, new_c = _condition(before, Cond.VERIFIED), _condition(after, Cond.VERIFIED)
    if new_c[0] == "False" and new_c != old_c and new_c[1] not in TRANSIENT:
        entries.append(
            Entry(
                "Decision",
                "Rejected",
                ref,
                old_hash=old_v.get("digest"),
                new_hash=new_v.get("digest"),
                details={"reason": str(new_c[1])},
            )
        )
    old_d, new_d = before.get("decommission") or {}, after.get("decommission") or {}
    if new_d.get("certificate") and new_d.get("certificate") != old_d.get("certificate"):
        entries.append(
            Entry(
                "Decision",
                "Decommissioned",
                ref,
                old_hash=old_v.get("digest"),
                details={"certificate": str(new_d["certificate"]), "trigger": str(new_d.get("trigger", ""))},
            )
        )
    return entries


def deployment_decisions(ref: ObjectRef, before: Mapping[str, Any], patch: Mapping[str, Any]) -> list[Entry]:
    after = _merged(before, patch)
    entries = []
    old_digest, new_digest = before.get("servedDigest"), after.get("servedDigest")
    if new_digest and new_digest != old_digest:
        entries.append(Entry("Decision", "RolledOut", ref, old_hash=old_digest, new_hash=new_digest))
    old_q, new_q = _condition(before, Cond.QUARANTINED), _condition(after, Cond.QUARANTINED)
    if new_q[0] == "True" and old_q[0] != "True":
        entries.append(Entry("Decision", "Quarantined", ref, old_hash=old_digest, details={"reason": str(new_q[1])}))
    elif old_q[0] == "True" and new_q[0] == "False":
        entries.append(Entry("Decision", "Released", ref, new_hash=new_digest, details={"reason": str(new_q[1])}))
    old_drift, new_drift = before.get("lastDrift") or {}, after.get("lastDrift") or {}
    if new_drift.get("at") and new_drift != old_drift:  # someone else changed a child; the operator reverted it
        entries.append(
            Entry("Decision", "DriftReverted", ref, details={"objects": str(new_drift.get("objects", ""))[:1000]})
        )
    old_a, new_a = before.get("approval") or {}, after.get("approval") or {}
    old_ok, new_ok = _condition(before, Cond.APPROVED)[0], _condition(after, Cond.APPROVED)[0]
    if new_ok == "True" and (old_ok != "True" or old_a.get("digest") != new_a.get("digest")) and new_a.get("digest"):
        approvers = ",".join(str(a.get("username")) for a in new_a.get("approvers") or [])
        entries.append(
            Entry("Decision", "Approved", ref, new_hash=str(new_a["digest"]), details={"approvers": approvers})
        )
    return entries


def decisions(kind: str, ref: ObjectRef, before: Mapping[str, Any], patch: Mapping[str, Any]) -> list[Entry]:
    if kind == "AIModel":
        return model_decisions(ref, before, patch)
    if kind == "AIDeployment":
        return deployment_decisions(ref, before, patch)
    return []
