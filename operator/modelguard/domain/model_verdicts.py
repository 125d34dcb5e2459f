"""What an AIModel's status says, decided from its observation and the verification outcome (pure).

The AIModel reconcile (reconcilers/aimodel.py) observes, asks `verification_current` whether the recorded
attempt already covers the inputs, verifies if not (reconcilers/model_verify.py), then writes once what
`status_plan` decides: Verified, Documented, Ready, QuarantineOverridden, a scan's ScanPassed, and when the
next maintenance scan is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from modelguard.api.aimodel import AIModelSpec, AIModelStatus, InspectionRecord, VerifiedRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain import schedule
from modelguard.domain.conditions import Verdict, find, progress
from modelguard.domain.inspection import ENGINE, FileReport, Rules
from modelguard.domain.inspection import summary as inspection_summary
from modelguard.domain.model_checks import TRANSIENT, missing_assurance, missing_card_fields
from modelguard.domain.policy_reading import PolicyReading

OVERRIDE = "modelguard.io/quarantine-override"
IN_FLIGHT = TRANSIENT | {Reason.IN_PROGRESS, Reason.LEGAL_HOLD}


def verification_current(status: AIModelStatus, generation: int, policy_generation: int, inspect: bool = False) -> bool:
    """Whether the last completed verification covered exactly these inputs (AIModel and TrustPolicy
    generations, and the inspection engine when inspection is required) and the Verified condition still shows
    its outcome: then nothing is verified again."""
    attempt = status.attempt
    shown = find(status.conditions, Cond.VERIFIED)
    record = status.verified
    if inspect and record is not None and (record.inspection is None or record.inspection.engine != ENGINE):
        return False  # a new engine (or a record from before inspection was required) inspects again
    if record is not None and record.generation == generation and record.signature_ref.digest is None:
        return False  # a record from before the digest of the signature bytes was kept: verify again to learn it
    return (
        attempt is not None
        and (attempt.generation, attempt.policy_generation) == (generation, policy_generation)
        and shown is not None
        and shown.reason == attempt.reason
        and shown.observed_generation == generation
    )


def verdict_from_status(status: AIModelStatus, generation: int) -> Verdict:
    condition = find(status.conditions, Cond.VERIFIED)
    if condition is not None and condition.observed_generation == generation:
        return Verdict(Cond.VERIFIED, condition.status, condition.reason, condition.message)
    return Verdict(Cond.VERIFIED, "Unknown", Reason.AWAITING_VERIFICATION, "verification has not completed yet")


def documentation(spec: AIModelSpec, reading: PolicyReading, digest: str | None, now: datetime) -> Verdict:
    """The card fields and the assurance evidence the policy requires (evaluations of `digest`, the digest
    verified or being verified)."""
    policy = reading.spec
    if policy is None:
        return Verdict(
            Cond.DOCUMENTED, "Unknown", reading.reason, f"no policy to check the model card against: {reading.message}"
        )
    missing_card = missing_card_fields(spec, policy)
    missing_evidence = missing_assurance(spec, policy, digest, now)
    if missing_card or missing_evidence:
        said = [f"model card fields: {', '.join(missing_card)}"] if missing_card else []
        said += [f"assurance evidence: {'; '.join(missing_evidence)}"] if missing_evidence else []
        return Verdict(
            Cond.DOCUMENTED, "False", Reason.MISSING_DOCUMENTATION, f"the TrustPolicy requires {' and '.join(said)}"
        )
    what = "every field and all assurance evidence" if policy.requirements.assurance else "every field"
    return Verdict(Cond.DOCUMENTED, "True", Reason.CARD_COMPLETE, f"the model card has {what} the policy requires")


def override(annotations: Mapping[str, str]) -> Verdict:
    justification = annotations.get(OVERRIDE, "").strip()
    if justification:
        return Verdict(
            Cond.QUARANTINE_OVERRIDDEN,
            "True",
            Reason.OVERRIDE_ANNOTATION,
            f"scan quarantine lifted by annotation {OVERRIDE}: {justification[:300]}",
        )
    return Verdict(Cond.QUARANTINE_OVERRIDDEN, "False", Reason.NO_OVERRIDE, "no override")


def summary(verified: Verdict, documented: Verdict, warn_only: bool, inspected: Verdict | None = None) -> Verdict:
    """Ready: verified, inspected (when required) and documented, the last two unless the policy only warns."""
    if verified.status != "True":
        return Verdict(Cond.READY, "False", verified.reason, verified.message)
    for check in (inspected, documented):
        if check is not None and check.status != "True" and not warn_only:
            return Verdict(Cond.READY, "False", check.reason, check.message)
    return Verdict(Cond.READY, "True", Reason.VERIFIED, verified.message)


def inspection_required(reading: PolicyReading) -> bool:
    return reading.spec is not None and reading.spec.inspection is not None


def inspected(record: VerifiedRecord | None, reading: PolicyReading) -> Verdict:
    """Inspected: the verified files' inspection, when the TrustPolicy requires one."""
    if not inspection_required(reading):
        return Verdict(Cond.INSPECTED, "True", Reason.NOT_REQUIRED, "the TrustPolicy does not require inspection")
    found = record.inspection if record is not None else None
    if found is None or found.engine != ENGINE:
        return Verdict(Cond.INSPECTED, "Unknown", Reason.AWAITING_VERIFICATION, "inspection follows verification")
    if found.findings:
        return Verdict(Cond.INSPECTED, "False", Reason.UNSAFE_FILES, "; ".join(found.findings[:3])[:1500])
    formats = ", ".join(found.formats) or "none"
    return Verdict(
        Cond.INSPECTED, "True", Reason.FILES_SAFE, f"{found.files} file(s) may be loaded ({formats}; {ENGINE})"
    )


def kstatus(verdicts: list[Verdict]) -> list[Verdict]:
    """Reconciling and Stalled (kstatus) from what this write says: a decommission's state when there is one
    (a blocked step needs a change), else Ready, else the Verified verdict alone (verifying)."""
    by_type = {v.type: v for v in verdicts}
    ending = by_type.get(Cond.DECOMMISSIONED)
    if ending is not None:
        return progress(Verdict(Cond.READY, ending.status, ending.reason, ending.message), IN_FLIGHT)
    basis = by_type.get(Cond.READY) or by_type.get(Cond.VERIFIED)
    return progress(basis, IN_FLIGHT) if basis is not None else []


@dataclass(frozen=True)
class ScheduleFacts:
    expression: str  # spec.maintenance.schedule
    uid: str  # spreads objects on the same schedule (jitter)
    next_scan: datetime | None  # as recorded in status
    scanned: bool  # a scan ran in this pass
    spec_changed: bool  # status.observedGeneration is behind the spec


def next_scan(facts: ScheduleFacts, nothing_trusted: bool, now: datetime) -> datetime | None:
    """When the next maintenance scan is due: recomputed after a scan, on a new spec or when none is set;
    none while nothing is trusted (nothing is served, so there is nothing to scan until a version verifies)."""
    if nothing_trusted:
        return None
    if not (facts.scanned or facts.next_scan is None or facts.spec_changed):
        return facts.next_scan
    return schedule.next_due(facts.expression, now, facts.uid) if schedule.valid(facts.expression) else None


@dataclass(frozen=True)
class StatusPlan:
    verdicts: list[Verdict]
    next_scan: datetime | None


def status_plan(
    verified: Verdict,
    record: VerifiedRecord | None,
    spec: AIModelSpec,
    reading: PolicyReading,
    annotations: Mapping[str, str],
    scan_verdict: Verdict | None,
    timing: ScheduleFacts,
    now: datetime,
) -> StatusPlan:
    """Everything one status write says, from the verification outcome (the verification record that survives
    it, with its inspection) and the scan's verdict when one ran."""
    documented = documentation(spec, reading, record.digest if record is not None else None, now)
    checked = inspected(record, reading)
    ready = summary(verified, documented, reading.warn_only, checked if verified.status == "True" else None)
    verdicts = [verified, checked, documented, ready, override(annotations)]
    if scan_verdict is not None:
        verdicts.append(scan_verdict)
    nothing_trusted = record is None and verified.status == "False"
    return StatusPlan(verdicts, next_scan(timing, nothing_trusted, now))


def inspection_rules(reading: PolicyReading) -> Rules | None:
    """The TrustPolicy's inspection as rules, or None when it does not require inspection."""
    policy = reading.spec.inspection if reading.spec is not None else None
    if policy is None:
        return None
    return Rules.parse(policy.allowed_formats, policy.allowed_globals, refuse_pickles=policy.pickles == "Refuse")


def inspection_record(reports: Sequence[FileReport], rules: Rules, at: datetime) -> InspectionRecord:
    formats, refused = inspection_summary(reports, rules)
    return InspectionRecord(
        engine=ENGINE,
        formats=formats[:32],
        files=len(reports),
        bytes_read=sum(r.bytes_read for r in reports),
        findings=[line[:700] for line in refused[:20]],
        at=at,
    )
