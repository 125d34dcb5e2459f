"""The compliance report as a JSON document, with the evidence index its links point into (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelguard.domain.compliance import Assessment, Facts, record_ref, ref
from modelguard.domain.etsi_provisions import DISCLAIMER, PRINCIPLES

STATUSES = ("met", "not met", "not applicable", "organisational")


def evidence_index(facts: Facts, operator_namespace: str) -> dict[str, dict[str, Any]]:
    """What each evidence key refers to, and how to look at it yourself."""
    index: dict[str, dict[str, Any]] = {
        "AuditCheckpoint": {
            "kind": "ConfigMap",
            "namespace": operator_namespace,
            "name": "modelguard-audit",
            "facts": [
                f"signed checkpoint at record {facts.audit.seq}"
                if facts.audit.problem is None
                else f"problem: {facts.audit.problem}"
            ],
            "command": "modelguard audit verify <operator logs>",
        }
    }
    for record in facts.audit_records:
        obj, actor = record.get("object") or {}, record.get("actor") or {}
        where = f"{obj.get('namespace')}/{obj.get('name')}" if obj.get("namespace") else str(obj.get("name"))
        lines = [
            f"{record.get('type')} {record.get('action')} of {obj.get('kind')} {where} by {actor.get('username')} "
            f"at {record.get('time')}",
            f"old {record.get('oldHash')} -> new {record.get('newHash')}",
            *(f"{k}: {v}" for k, v in sorted((record.get("details") or {}).items())),
            f"record hash {record.get('hash')}",
        ]
        index[record_ref(record)] = {
            "kind": "AuditRecord",
            "namespace": operator_namespace,
            "name": str(record.get("seq")),
            "facts": lines,
            "command": "modelguard audit verify --ring",
        }
    for report in facts.scan_reports:
        spec = report.get("spec") or {}
        meta = report.get("metadata") or {}
        lines = [f"{spec.get('result')} ({spec.get('trigger')}) finished {spec.get('finishedAt')}"]
        lines += [f"[{f.get('severity')}] {f.get('check')}: {f.get('message')}" for f in spec.get("findings") or []][
            :10
        ]
        index[ref(report)] = {
            "kind": "ScanReport",
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "facts": lines,
            "command": f"kubectl get scanreport {meta.get('name')} -n {meta.get('namespace')} -o yaml",
        }
    for body in (*facts.models, *facts.deployments, *facts.policies, *facts.certificates):
        meta = body.get("metadata") or {}
        status = body.get("status") or {}
        lines = [f"{c.get('type')}={c.get('status')} ({c.get('reason')})" for c in status.get("conditions") or []]
        if (status.get("verified") or {}).get("digest"):
            lines.append(f"verified digest {status['verified']['digest']} signed by {status['verified'].get('signer')}")
        if status.get("servedDigest"):
            lines.append(f"serving {status['servedDigest']}")
        if (status.get("lastScan") or {}).get("report"):
            scan = status["lastScan"]
            lines.append(f"last scan {scan.get('result')} at {scan.get('at')}: ScanReport {scan['report']}")
        for approver in (status.get("approval") or {}).get("approvers") or []:
            lines.append(f"approved by {approver.get('username')} (ModelApproval {approver.get('approval')})")
        ns = meta.get("namespace")
        kind = str(body.get("kind"))
        where = f" -n {ns}" if ns else ""
        index[ref(body)] = {
            "kind": kind,
            "namespace": ns,
            "name": meta.get("name"),
            "facts": lines,
            "command": f"kubectl get {kind.lower()} {meta.get('name')}{where} -o yaml",
        }
    return index


def report_json(
    assessments: Sequence[Assessment],
    facts: Facts,
    *,
    namespace: str | None,
    generated_at: datetime,
    operator_namespace: str = "modelguard-system",
) -> dict[str, Any]:
    counts: Counter[str] = Counter(a.status for a in assessments)
    return {
        "title": "ModelGuard compliance report: ETSI TS 104 223 / EN 304 223",
        "disclaimer": DISCLAIMER,
        "generatedAt": generated_at.isoformat().replace("+00:00", "Z"),
        "scope": {"namespace": namespace or "(all namespaces)"},
        "summary": {status: counts.get(status, 0) for status in STATUSES},
        "principles": {p.clause: f"{p.number}. {p.title} ({p.clause}, {p.phase})" for p in PRINCIPLES},
        "provisions": [
            {
                "id": a.provision.id,
                "clause": a.provision.clause,
                "text": a.provision.text,
                "norm": a.provision.norm,
                "role": a.provision.role,
                "status": a.status,
                "checked": a.checked,
                "note": a.note,
                "evidence": list(a.evidence),
            }
            for a in assessments
        ],
        "evidence": evidence_index(facts, operator_namespace),
    }
