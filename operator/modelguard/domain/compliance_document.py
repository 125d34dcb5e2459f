"""The compliance report as a JSON document, with the evidence index its links point into (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from modelguard.domain import pod_security
from modelguard.domain.compliance import Assessment, Facts, record_ref, ref
from modelguard.domain.compliance_facts import LiveWorkload
from modelguard.domain.etsi_provisions import DISCLAIMER, PRINCIPLES, PROVISIONS
from modelguard.domain.framework_crosswalk import FRAMEWORK_KEYS, FRAMEWORKS, READING, references

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
    for workload in facts.live.values():
        index.update(live_evidence(workload))
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
        lines += declared_evidence(body.get("spec") or {})
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


def framework_summary(assessments: Sequence[Assessment]) -> dict[str, Any]:
    """Per framework, per article / subcategory / control: how many of the provisions that support it are in
    each status (ModelGuard's reading of the cross-references)."""
    result: dict[str, Any] = {}
    for framework in FRAMEWORKS:
        by_ref: dict[str, Counter[str]] = {}
        for a in assessments:
            for key in references(a.provision).get(framework.key, ()):
                by_ref.setdefault(key, Counter())[a.status] += 1
        result[framework.key] = {
            "title": framework.title,
            "unit": framework.unit,
            "references": {
                key: {status: counts.get(status, 0) for status in STATUSES}
                for key, counts in sorted(by_ref.items(), key=lambda item: _natural(item[0]))
            },
        }
    return result


def _natural(key: str) -> tuple[Any, ...]:
    """Art. 9 before Art. 10, A.6.2.4 before A.6.2.10, GOVERN before MAP as written."""
    parts = key.replace(".", " ").split()
    return tuple(int(part) if part.isdigit() else RMF_FUNCTIONS.get(part, part) for part in parts)


RMF_FUNCTIONS = {"GOVERN": "0", "MAP": "1", "MEASURE": "2", "MANAGE": "3"}  # the RMF's own order


def parse_framework(text: str) -> tuple[str, str | None]:
    """`KEY` or `KEY=REFERENCE` (`iso-27001=8.15`): ValueError names what is accepted."""
    key, _, reference = text.partition("=")
    key, reference = key.strip(), reference.strip()
    if key not in FRAMEWORK_KEYS:
        raise ValueError(f"unknown framework {key!r}: one of {', '.join(FRAMEWORK_KEYS)}")
    if reference and not any(reference in references(p).get(key, ()) for p in PROVISIONS):
        raise ValueError(f"no provision supports {reference!r} of {key} in ModelGuard's reading")
    return key, reference or None


def live_evidence(workload: LiveWorkload) -> dict[str, dict[str, Any]]:
    """The live model server Deployment and its NetworkPolicies, as the report found them."""
    entries: dict[str, dict[str, Any]] = {}
    if workload.deployment is not None:
        meta = workload.deployment.get("metadata") or {}
        pod = ((workload.deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        broken = pod_security.violations(pod)
        lines = [
            f"pod template pinned to model digest {workload.digest}",
            f"automountServiceAccountToken={pod.get('automountServiceAccountToken')}",
            "restricted pod: " + ("yes" if not broken else "no: " + ", ".join(broken[:5])),
            *(f"container {c.get('name')}: {c.get('image')}" for c in pod.get("containers") or []),
        ]
        entries[ref(workload.deployment)] = {
            "kind": "Deployment",
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "facts": lines,
            "command": f"kubectl get deployment {meta.get('name')} -n {meta.get('namespace')} -o yaml",
        }
    for policy in workload.network_policies:
        meta, spec = policy.get("metadata") or {}, policy.get("spec") or {}
        selector = ",".join(
            f"{k}={v}" for k, v in sorted(((spec.get("podSelector") or {}).get("matchLabels") or {}).items())
        )
        entries[ref(policy)] = {
            "kind": "NetworkPolicy",
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "facts": [
                f"selects pods {selector or '(all)'}; policy types {', '.join(spec.get('policyTypes') or [])}",
                f"{len(spec.get('ingress') or [])} ingress and {len(spec.get('egress') or [])} egress rules",
            ],
            "command": f"kubectl get networkpolicy {meta.get('name')} -n {meta.get('namespace')} -o yaml",
        }
    return entries


def _document_line(what: str, doc: Mapping[str, Any]) -> str:
    return f"{what}: {doc.get('uri')} ({doc.get('digest')}), reviewed {doc.get('reviewedAt')} by {doc.get('reviewer')}"


def declared_evidence(spec: Mapping[str, Any]) -> list[str]:
    """The documents an object declares (spec.assurance, spec.incidentResponse), each with the digest an auditor
    compares after fetching it."""
    lines = []
    assurance = spec.get("assurance") or {}
    incident = spec.get("incidentResponse") or {}
    for key, what in (("threatModel", "threat model"), ("riskAssessment", "risk assessment")):
        if assurance.get(key):
            lines.append(_document_line(what, assurance[key]))
    for e in assurance.get("evaluations") or []:
        covers = f", covers {', '.join(e['covers'])}" if e.get("covers") else ""
        lines.append(
            f"{e.get('kind')} of {e.get('modelDigest')}: {e.get('result')} ({e.get('completedAt')}, "
            f"{e.get('assessor')}{covers}): {e.get('uri')} ({e.get('digest')})"
        )
    if assurance.get("vulnerabilityDisclosure"):
        lines.append(f"vulnerability disclosure policy: {assurance['vulnerabilityDisclosure']}")
    if incident:
        lines.append(f"incident response: {incident.get('contact')}")
        for key, what in (("runbook", "incident runbook"), ("recoveryPlan", "recovery plan")):
            if incident.get(key):
                lines.append(_document_line(what, incident[key]))
    return lines


HISTORY_KEPT = 100  # summaries kept in report.json, newest last


def by_principle(assessments: Sequence[Assessment]) -> list[dict[str, Any]]:
    """Per principle, in the standard's order: its phase and how many of its provisions are in each status."""
    result = []
    for p in PRINCIPLES:
        counts: Counter[str] = Counter(a.status for a in assessments if a.provision.clause == p.clause)
        if counts:
            result.append(
                {
                    "clause": p.clause,
                    "number": p.number,
                    "title": p.title,
                    "phase": p.phase,
                    "counts": {status: counts.get(status, 0) for status in STATUSES},
                }
            )
    return result


def with_history(document: dict[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The document with the summaries of earlier reports of the same scope (from the previous report.json),
    newest last: the trend an auditor reads. A previous report of another scope starts a new history."""
    entry = {"generatedAt": document["generatedAt"], "summary": document["summary"]}
    earlier: list[dict[str, Any]] = []
    if previous is not None and previous.get("scope") == document["scope"]:
        earlier = list(previous.get("history") or [])
        if not earlier and previous.get("summary"):
            earlier = [{"generatedAt": previous.get("generatedAt"), "summary": previous["summary"]}]
    return {**document, "history": [*earlier, entry][-HISTORY_KEPT:]}


def report_json(
    assessments: Sequence[Assessment],
    facts: Facts,
    *,
    namespace: str | None,
    generated_at: datetime,
    operator_namespace: str = "modelguard-system",
    framework: str | None = None,
) -> dict[str, Any]:
    """The report; with `framework` (a key of FRAMEWORKS, or KEY=REFERENCE such as `eu-ai-act=Art. 15`), only
    the provisions that support that framework (or that article / subcategory / control), summarised by its
    references."""
    key, reference = parse_framework(framework) if framework else (None, None)
    if key is not None:
        assessments = [
            a
            for a in assessments
            if references(a.provision).get(key) and (reference is None or reference in references(a.provision)[key])
        ]
    counts: Counter[str] = Counter(a.status for a in assessments)
    frameworks = framework_summary(assessments)
    return {
        "title": "ModelGuard compliance report: ETSI TS 104 223 / EN 304 223",
        "disclaimer": DISCLAIMER,
        "generatedAt": generated_at.isoformat().replace("+00:00", "Z"),
        "scope": {"namespace": namespace or "(all namespaces)", "framework": framework or "(all)"},
        "summary": {status: counts.get(status, 0) for status in STATUSES},
        "byPrinciple": by_principle(assessments),
        "crossReferences": {
            "reading": READING,
            "frameworks": frameworks if key is None else {key: frameworks[key]},
        },
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
                "frameworks": {k: list(v) for k, v in references(a.provision).items()},
            }
            for a in assessments
        ],
        "evidence": evidence_index(facts, operator_namespace),
    }
