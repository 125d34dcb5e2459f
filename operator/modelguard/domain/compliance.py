"""Assess each provision of the ETSI map against what the cluster shows (pure: objects in, verdicts out).

Every verdict is one of met, not met, not applicable or organisational, with the evidence it rests on
(references into the evidence index: objects, conditions, ScanReports, certificates, the audit checkpoint).
A provision ModelGuard cannot see is `not met` with `checked: false`: no evidence is not compliance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelguard.api.condition_types import Cond
from modelguard.domain import compliance_live as live
from modelguard.domain.compliance_assurance import ASSURANCE_CHECKS, ORGANISATIONAL
from modelguard.domain.compliance_facts import AuditState, Body, Check, Facts, Status, record_ref, ref
from modelguard.domain.compliance_facts import all_pass as _all
from modelguard.domain.compliance_facts import card as _card
from modelguard.domain.compliance_facts import condition as _condition
from modelguard.domain.compliance_facts import enforcing_policy as _enforcing_policy
from modelguard.domain.compliance_facts import model_of as _model_of
from modelguard.domain.compliance_facts import verified as _verified
from modelguard.domain.etsi_provisions import PROVISIONS, Provision

__all__ = ["Assessment", "AuditState", "Facts", "assess", "record_ref", "ref"]


@dataclass(frozen=True)
class Assessment:
    provision: Provision
    status: Status
    note: str
    evidence: tuple[str, ...] = ()
    checked: bool = True


def _audit_trail(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
    if facts.audit.problem:
        return "not met", f"audit trail: {facts.audit.problem}", ("AuditCheckpoint",)
    recent = tuple(record_ref(r) for r in list(facts.audit_records)[-20:])
    return (
        "met",
        f"hash-chained audit trail with a signed checkpoint at record {facts.audit.seq}; "
        "verify a log with `modelguard audit verify`",
        ("AuditCheckpoint", *recent),
    )


def _deployed_card(field_name: str, what: str, external_only: bool = False) -> Check:
    def check(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
        deployments = [
            d
            for d in facts.deployments
            if not external_only or ((d.get("spec") or {}).get("access") or {}).get("exposure") == "External"
        ]
        none = "no externally exposed deployments" if external_only else "no deployments"
        return _all(deployments, lambda d: bool(_card(_model_of(facts, d) or {}).get(field_name)), what, none)

    return check


def _approvals_required(d: Body) -> bool:
    return bool(((d.get("spec") or {}).get("approval") or {}).get("required")) or bool(
        (d.get("status") or {}).get("approval")
    )


def _oversight(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
    gated = [d for d in facts.deployments if _approvals_required(d)]
    if not gated:
        return "not applicable", "no deployment relies on human approval", ()
    return _all(
        gated,
        _serves_only_approved,
        "rollout gated on recorded approvals (status.approval lists who approved which digest), and no "
        "deployment serves a digest whose approvals were withdrawn",
    )


def _serves_only_approved(d: Body) -> bool:
    """Approved, or waiting for approval of a digest it does not serve (or quarantined): serving a digest
    without its approvals (withdrawn under onApprovalWithdrawn: Keep) fails."""
    approved, _ = _condition(d, Cond.APPROVED)
    if approved == "True":
        return True
    if approved != "False":
        return False
    status = d.get("status") or {}
    quarantined, _ = _condition(d, Cond.QUARANTINED)
    serving = status.get("servedDigest")
    return quarantined == "True" or serving is None or serving != (status.get("approval") or {}).get("digest")


def _prompts(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
    prompted = [d for d in facts.deployments if (d.get("spec") or {}).get("systemPrompt")]
    if not prompted:
        return "not applicable", "no deployment uses a system prompt", ()
    status, note, _ = _audit_trail(facts)
    changes = tuple(record_ref(r) for r in facts.audit_records if "systemPrompt" in (r.get("details") or {}))
    note = f"{len(prompted)} deployment(s) with prompts in immutable ConfigMaps, audited by hash; {note}"
    return status, note, ("AuditCheckpoint", *changes, *(ref(d) for d in prompted))


def _scanned_clean(m: Body) -> bool:
    last = (m.get("status") or {}).get("lastScan") or {}
    return last.get("result") == "Passed" or (bool(last) and not last.get("critical") and not last.get("high"))


def _scans(ok: Callable[[Body], bool], what: str) -> Check:
    """Like _models, with each model's last ScanReport as evidence too."""

    def check(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
        status, note, evidence = _all(facts.models, ok, what)
        reports = {ref(r) for r in facts.scan_reports}
        scanned = []
        for m in facts.models:
            name = ((m.get("status") or {}).get("lastScan") or {}).get("report")
            candidate = f"ScanReport/{(m.get('metadata') or {}).get('namespace')}/{name}"
            if name and candidate in reports:
                scanned.append(candidate)
        return status, note, (*evidence, *scanned)

    return check


def _datasets(m: Body) -> bool:
    data = _card(m).get("trainingData") or []
    return bool(data) and all(d.get("uri") and d.get("retrievedAt") for d in data)


def _certificates(facts: Facts) -> tuple[Status, str, tuple[str, ...]]:
    if not facts.certificates:
        return "not applicable", "no model has been decommissioned in scope", ()
    bad = [c for c in facts.certificates if (c.get("metadata") or {}).get("name") in facts.certificate_problems]
    if bad:
        return "not met", f"{len(bad)} certificate(s) do not verify", tuple(ref(c) for c in bad)
    return (
        "met",
        f"{len(facts.certificates)} signed DecommissionCertificate(s) record deleted models, data and keys",
        tuple(ref(c) for c in facts.certificates),
    )


def _deployments(ok: Callable[[Body], bool], what: str) -> Check:
    return lambda facts: _all(facts.deployments, ok, what, "no deployments")


def _models(ok: Callable[[Body], bool], what: str) -> Check:
    return lambda facts: _all(facts.models, ok, what)


def _external_protected(d: Body) -> bool:
    spec = d.get("spec") or {}
    return bool(spec.get("authentication")) and bool(spec.get("rateLimit"))


CHECKS: dict[str, Check] = {
    "5.1.2-2": live.check(
        live.enforced, "behind the gateway (body-size limit, per-client rate limit) with restricted pods (partial)"
    ),
    "5.1.2-3": _audit_trail,
    "5.1.2-6": live.check(
        live.enforced, "token-less ServiceAccount without RBAC, default-deny NetworkPolicies with declared egress only"
    ),
    "5.1.4-1": _deployments(_approvals_required, "a human approval gate before each new digest rolls out"),
    "5.1.4-3": _oversight,
    "5.1.4-5": _deployed_card("prohibitedUses", "prohibited uses published at /model-card"),
    "5.2.1-1": lambda facts: (
        "met",
        f"{len(facts.models)} model(s) and {len(facts.deployments)} deployment(s) registered as custom resources; "
        "`modelguard register export` writes them as a CycloneDX ML-BOM",
        tuple(ref(b) for b in (*facts.models, *facts.deployments)),
    ),
    "5.2.1-2": _models(_verified, "verified signature and digest (status.verified)"),
    "5.2.2-1": live.check(
        lambda facts, d: live.enforced(facts, d) and _condition(d, Cond.AUTHENTICATED)[0] == "True",
        "NetworkPolicy-restricted and authenticated at the gateway",
    ),
    "5.2.2-2": lambda facts: _all(
        [d for d in facts.deployments if ((d.get("spec") or {}).get("access") or {}).get("exposure") == "External"],
        _external_protected,
        "externally exposed with authentication and a per-client rate limit",
        "no externally exposed deployments",
    ),
    "5.2.3-1": lambda facts: _all(
        facts.models, _enforcing_policy(facts), "verified under a TrustPolicy in Enforce mode"
    ),
    "5.2.3-2": _models(lambda m: _condition(m, Cond.DOCUMENTED)[0] == "True", "documented as the policy requires"),
    "5.2.4-1.1": _models(lambda m: _condition(m, Cond.DOCUMENTED)[0] == "True", "model card complete per policy"),
    "5.2.4-1.2": _models(_verified, "component digests verified against the signed manifest"),
    "5.2.4-2": _models(_datasets, "training data sources recorded (uri, retrievedAt)"),
    "5.2.4-2.1": _models(_datasets, "training data source URL and retrieval time recorded"),
    "5.2.4-3": _prompts,
    "5.3.1-1": _deployed_card("dataUsage", "data usage published to end users at /model-card"),
    "5.3.1-2.1": _deployed_card("limitations", "limitations published to end users at /model-card"),
    "5.4.1-1": _scans(_scanned_clean, "last maintenance scan without critical or high findings"),
    "5.4.2-1": _audit_trail,
    "5.4.2-2": _scans(
        lambda m: bool((m.get("status") or {}).get("lastScan")),
        "scheduled scans re-verify, compare serving state with the desired state and check advisories",
    ),
    "5.5.1-1": _certificates,  # a model handed over ends its life here with a certificate
    "5.5.1-2": _certificates,
    **ASSURANCE_CHECKS,
}


def assess(facts: Facts) -> list[Assessment]:
    """One assessment per provision, in the standard's order."""
    result = []
    for provision in PROVISIONS:
        check = CHECKS.get(provision.id)
        if check is not None:
            status, note, evidence = check(facts)
            result.append(Assessment(provision, status, note, evidence))
        elif provision.id in ORGANISATIONAL:
            result.append(Assessment(provision, "organisational", ORGANISATIONAL[provision.id], checked=False))
        elif provision.role == "ORG":
            result.append(Assessment(provision, "organisational", "an organisational measure", checked=False))
        else:
            note = "ModelGuard collects no evidence for this provision yet"
            result.append(Assessment(provision, "not met", note, checked=False))
    return result
