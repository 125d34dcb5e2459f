"""Maintenance scan checks (pure): facts in, findings out. Each finding names TS 104 223 provisions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from modelguard.api.aideployment import AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec, VerifiedRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.scanreport import SEVERITIES, Finding, Severity
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.builders.labels import DIGEST_ANNOTATION
from modelguard.domain.advisories import Component, match
from modelguard.domain.conditions import find
from modelguard.domain.model_checks import TRANSIENT, missing_assurance, missing_card_fields

INTEGRITY = ["5.2.1-2", "5.2.3-1", "5.2.4-1.2", "5.4.1-1"]
DRIFT = ["5.1.3-4", "5.2.1-2", "5.2.2-1"]
SUPPLY = ["5.2.3-1", "5.4.1-1"]
DOCS = ["5.2.4-1", "5.2.4-1.1", "5.1.3-1"]
CRITICAL_REASONS = frozenset(
    {
        Reason.DIGEST_MISMATCH,
        Reason.MISSING_FILE,
        Reason.UNSIGNED_FILE,
        Reason.FILE_CHANGED,
        Reason.KEY_REVOKED,
        Reason.KEY_EXPIRED,
        Reason.SIGNATURE_INVALID,
        Reason.UNKNOWN_SIGNER,
        Reason.MANIFEST_DIGEST_MISMATCH,
        Reason.SYMLINK_ESCAPES,
        Reason.SYMLINK_NOT_ALLOWED,
        Reason.UNEXPECTED_DIGEST,
    }
)


@dataclass(frozen=True)
class ServingFacts:
    """One AIDeployment of the model and its workload as cached."""

    name: str
    status: AIDeploymentStatus
    deployment: dict[str, Any] | None


@dataclass(frozen=True)
class ScanFacts:
    spec: AIModelSpec
    now: datetime
    verification_reason: str  # SignatureValid or the failure reason of the forced re-verification
    verification_message: str
    record: VerifiedRecord | None
    policy: TrustPolicySpec | None
    serving: Sequence[ServingFacts] = ()
    sbom: list[Component] | None = None
    sbom_problem: str | None = None
    advisories: Sequence[dict[str, Any]] = ()
    previous_scan: datetime | None = None
    checks: tuple[str, ...] = field(default=())


Check = Callable[[ScanFacts], list[Finding]]


def signature_and_integrity(facts: ScanFacts) -> list[Finding]:
    reason = facts.verification_reason
    if reason == Reason.SIGNATURE_VALID:
        return []
    if reason == Reason.SOURCE_NOT_FOUND:  # the bytes are gone (deleted or moved): nothing serves from them again
        return [
            Finding(
                check="signature-and-integrity",
                severity="High",
                provisions=INTEGRITY,
                message=f"the model's source no longer has it: {facts.verification_message}",
                evidence={"reason": reason},
            )
        ]
    if reason in TRANSIENT:
        return [
            Finding(
                check="signature-and-integrity",
                severity="Medium",
                provisions=INTEGRITY,
                message=f"the model could not be re-verified: {facts.verification_message}",
                evidence={"reason": reason},
            )
        ]
    severity: Severity = "Critical" if reason in CRITICAL_REASONS else "High"
    return [
        Finding(
            check="signature-and-integrity",
            severity=severity,
            provisions=INTEGRITY,
            message=facts.verification_message,
            evidence={"reason": reason, **({"digest": facts.record.digest} if facts.record else {})},
        )
    ]


def serving_matches(facts: ScanFacts) -> list[Finding]:
    out: list[Finding] = []
    for serving in facts.serving:
        served = serving.status.served_digest
        quarantined = find(serving.status.conditions, Cond.QUARANTINED)
        if quarantined is not None and quarantined.status == "True":
            continue
        if served and facts.record is not None and served != facts.record.digest:
            out.append(
                Finding(
                    check="serving-matches",
                    severity="High",
                    provisions=DRIFT,
                    message=f"AIDeployment {serving.name!r} serves {served}, not the verified {facts.record.digest}",
                    evidence={"deployment": serving.name, "served": served},
                )
            )
        live = ((serving.deployment or {}).get("metadata") or {}).get("annotations") or {}
        if served and serving.deployment is None:
            out.append(
                Finding(
                    check="serving-matches",
                    severity="High",
                    provisions=DRIFT,
                    evidence={"deployment": serving.name},
                    message=f"the workload of AIDeployment {serving.name!r} is missing",
                )
            )
        elif served and live.get(DIGEST_ANNOTATION) not in (None, served):
            out.append(
                Finding(
                    check="serving-matches",
                    severity="High",
                    provisions=DRIFT,
                    evidence={"deployment": serving.name},
                    message=f"the workload of {serving.name!r} is pinned to "
                    f"{live.get(DIGEST_ANNOTATION)}, not {served}",
                )
            )
        drift = serving.status.last_drift
        if drift is not None and (facts.previous_scan is None or drift.at >= facts.previous_scan):
            out.append(
                Finding(
                    check="serving-matches",
                    severity="Medium",
                    provisions=DRIFT,
                    message=f"changes to managed objects were reverted: {drift.objects}",
                    evidence={"deployment": serving.name, "at": drift.at.isoformat()},
                )
            )
    return out


def images_pinned(facts: ScanFacts) -> list[Finding]:
    out: list[Finding] = []
    for serving in facts.serving:
        pod = (((serving.deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            image = str(container.get("image") or "")
            if "@sha256:" not in image:
                out.append(
                    Finding(
                        check="images-pinned",
                        severity="High",
                        provisions=SUPPLY,
                        message=f"container {container.get('name')!r} of {serving.name!r} runs {image}, "
                        "not pinned by digest",
                        evidence={"deployment": serving.name, "image": image},
                    )
                )
    return out


def documentation(facts: ScanFacts) -> list[Finding]:
    if facts.policy is None:
        return []
    out: list[Finding] = []
    missing = missing_card_fields(facts.spec, facts.policy)
    if missing:
        out.append(
            Finding(
                check="documentation",
                severity="Medium",
                provisions=DOCS,
                message=f"model card lacks required fields: {', '.join(missing)}",
                evidence={"missing": ",".join(missing)},
            )
        )
    evidence = missing_assurance(facts.spec, facts.policy, facts.record.digest if facts.record else None, facts.now)
    if evidence:
        out.append(
            Finding(
                check="documentation",
                severity="Medium",
                provisions=DOCS,
                message=f"assurance evidence the policy requires is missing or out of date: {'; '.join(evidence)}",
                evidence={"missing": "; ".join(evidence)[:1000]},
            )
        )
    max_age = facts.policy.requirements.review_max_age_days
    reviewed = facts.spec.card.reviewed()
    if max_age is not None and (reviewed is None or facts.now - reviewed > timedelta(days=max_age)):
        out.append(
            Finding(
                check="documentation",
                severity="Medium",
                provisions=DOCS,
                message=f"re-evaluation overdue: last reviewed {reviewed.date() if reviewed else 'never'}, "
                f"policy asks every {max_age} days",
                evidence={"lastReviewed": reviewed.isoformat() if reviewed else "never"},
            )
        )
    return out


def vulnerabilities(facts: ScanFacts) -> list[Finding]:
    if facts.sbom_problem is not None:
        return [
            Finding(
                check="vulnerabilities",
                severity="High",
                provisions=SUPPLY,
                message=f"the SBOM could not be checked: {facts.sbom_problem}",
            )
        ]
    if facts.sbom is None:
        return []
    return [
        Finding(
            check="vulnerabilities",
            severity=m.severity,
            provisions=SUPPLY,
            message=f"{m.component.name} {m.component.version} is affected by {m.advisory}"
            + (f" (fixed in {m.fixed})" if m.fixed else "")
            + (f": {m.summary}" if m.summary else ""),
            evidence={
                "purl": f"{m.component.purl}@{m.component.version}",
                "advisory": m.advisory,
                **({"fixed": m.fixed} if m.fixed else {}),
            },
        )
        for m in match(facts.sbom, facts.advisories)
    ]


CHECKS: tuple[tuple[str, Check], ...] = (
    ("signature-and-integrity", signature_and_integrity),
    ("serving-matches", serving_matches),
    ("images-pinned", images_pinned),
    ("documentation", documentation),
    ("vulnerabilities", vulnerabilities),
)


def run(facts: ScanFacts) -> tuple[list[str], list[Finding]]:
    findings: list[Finding] = []
    for _, check in CHECKS:
        findings.extend(check(facts))
    return [name for name, _ in CHECKS], sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.check))


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {s.lower(): sum(1 for f in findings if f.severity == s) for s in SEVERITIES if s != "Info"}


def result(findings: Sequence[Finding]) -> Literal["Passed", "Failed"]:
    return "Failed" if any(f.severity in ("Critical", "High") for f in findings) else "Passed"
