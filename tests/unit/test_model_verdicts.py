"""The AIModel reconcile's pure decisions (domain/model_verdicts): whether to verify again, what the status
says, when the next maintenance scan is due (issue 15 item 1: decisions tested as tables, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain import model_verdicts as mv
from modelguard.domain.conditions import Verdict
from modelguard.domain.policy_reading import read_policy
from tests.harness.samples import ai_model, trust_policy, verified_record

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=5)


def _status(attempt: tuple[int, int, str] | None, shown: tuple[str, int] | None) -> AIModelStatus:
    wire: dict[str, Any] = {}
    if attempt is not None:
        generation, policy_generation, reason = attempt
        wire["attempt"] = {
            "generation": generation,
            "policyGeneration": policy_generation,
            "at": NOW.isoformat(),
            "reason": reason,
        }
    if shown is not None:
        reason, observed = shown
        status = "True" if reason == Reason.SIGNATURE_VALID else "False"
        wire["conditions"] = [
            {
                "type": Cond.VERIFIED,
                "status": status,
                "reason": reason,
                "message": "m",
                "observedGeneration": observed,
                "lastTransitionTime": NOW.isoformat(),
            }
        ]
    return AIModelStatus.model_validate(wire)


@pytest.mark.parametrize(
    ("attempt", "shown", "current"),
    [
        ((3, 2, Reason.SIGNATURE_VALID), (Reason.SIGNATURE_VALID, 3), True),  # the same inputs: no new work
        ((3, 2, Reason.DIGEST_MISMATCH), (Reason.DIGEST_MISMATCH, 3), True),  # a verdict is a verdict
        ((2, 2, Reason.SIGNATURE_VALID), (Reason.SIGNATURE_VALID, 2), False),  # a new AIModel generation
        ((3, 1, Reason.SIGNATURE_VALID), (Reason.SIGNATURE_VALID, 3), False),  # a new TrustPolicy generation
        ((3, 2, Reason.SIGNATURE_VALID), (Reason.VERIFYING, 3), False),  # the condition shows something else
        ((3, 2, Reason.SIGNATURE_VALID), None, False),  # the condition was lost: say it again
        (None, (Reason.SIGNATURE_VALID, 3), False),  # no attempt on record
    ],
)
def test_verification_runs_again_only_when_an_input_changed(
    attempt: tuple[int, int, str] | None, shown: tuple[str, int] | None, current: bool
) -> None:
    assert mv.verification_current(_status(attempt, shown), 3, 2) is current


def test_a_recorded_verdict_is_shown_only_for_its_own_generation() -> None:
    status = _status((3, 2, Reason.KEY_REVOKED), (Reason.KEY_REVOKED, 3))
    assert mv.verdict_from_status(status, 3).reason == Reason.KEY_REVOKED
    assert mv.verdict_from_status(status, 4) == Verdict(
        Cond.VERIFIED, "Unknown", Reason.AWAITING_VERIFICATION, "verification has not completed yet"
    )


VERIFIED = Verdict(Cond.VERIFIED, "True", Reason.SIGNATURE_VALID, "ok")
REFUSED = Verdict(Cond.VERIFIED, "False", Reason.DIGEST_MISMATCH, "bytes differ")
DOCUMENTED = Verdict(Cond.DOCUMENTED, "True", Reason.CARD_COMPLETE, "")
UNDOCUMENTED = Verdict(Cond.DOCUMENTED, "False", Reason.MISSING_DOCUMENTATION, "no owner")


@pytest.mark.parametrize(
    ("verified", "documented", "warn_only", "ready", "reason"),
    [
        (VERIFIED, DOCUMENTED, False, "True", Reason.VERIFIED),
        (VERIFIED, UNDOCUMENTED, False, "False", Reason.MISSING_DOCUMENTATION),
        (VERIFIED, UNDOCUMENTED, True, "True", Reason.VERIFIED),  # Warn mode: the card does not block
        (REFUSED, DOCUMENTED, True, "False", Reason.DIGEST_MISMATCH),  # Warn never excuses the signature
        (REFUSED, UNDOCUMENTED, False, "False", Reason.DIGEST_MISMATCH),  # the signature speaks first
    ],
)
def test_ready_summarises_verified_then_documented(
    verified: Verdict, documented: Verdict, warn_only: bool, ready: str, reason: str
) -> None:
    summary = mv.summary(verified, documented, warn_only)
    assert (summary.type, summary.status, summary.reason) == (Cond.READY, ready, reason)


def test_the_card_is_checked_against_the_policy_and_an_unusable_policy_says_why() -> None:
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    strict = read_policy("p", trust_policy("p", requirements={"cardFields": ["intendedUse", "limitations"]}))
    assert mv.documentation(spec, strict, None, NOW).reason == Reason.MISSING_DOCUMENTATION
    assert "limitations" in mv.documentation(spec, strict, None, NOW).message
    assert mv.documentation(spec, read_policy("p", trust_policy("p")), None, NOW).status == "True"
    missing = mv.documentation(spec, read_policy("p", None), None, NOW)
    assert (missing.status, missing.reason) == ("Unknown", Reason.TRUST_POLICY_NOT_FOUND)


@pytest.mark.parametrize(
    ("annotations", "status", "reason"),
    [
        ({}, "False", Reason.NO_OVERRIDE),
        ({mv.OVERRIDE: "   "}, "False", Reason.NO_OVERRIDE),  # a justification is required
        ({mv.OVERRIDE: "INC-42: false positive"}, "True", Reason.OVERRIDE_ANNOTATION),
    ],
)
def test_a_quarantine_override_needs_a_justification(annotations: dict[str, str], status: str, reason: str) -> None:
    verdict = mv.override(annotations)
    assert (verdict.status, verdict.reason) == (status, reason)


def _timing(**kw: Any) -> mv.ScheduleFacts:
    base: dict[str, Any] = {
        "expression": "0 3 * * *",
        "uid": "u",
        "next_scan": LATER,
        "scanned": False,
        "spec_changed": False,
    }
    return mv.ScheduleFacts(**{**base, **kw})


@pytest.mark.parametrize(
    ("timing", "nothing_trusted", "expect"),
    [
        (_timing(), False, "kept"),  # nothing changed: the recorded time stands
        (_timing(scanned=True), False, "recomputed"),
        (_timing(spec_changed=True), False, "recomputed"),
        (_timing(next_scan=None), False, "recomputed"),
        (_timing(expression="not a schedule", scanned=True), False, None),
        (_timing(), True, None),  # nothing trusted, nothing served: no scans
    ],
)
def test_when_the_next_scan_is_due(timing: mv.ScheduleFacts, nothing_trusted: bool, expect: str | None) -> None:
    due = mv.next_scan(timing, nothing_trusted, NOW)
    if expect is None:
        assert due is None
    elif expect == "kept":
        assert due == LATER
    else:
        assert due is not None and due != LATER and NOW < due <= NOW + timedelta(days=2)


def test_the_status_plan_carries_every_verdict_once_and_a_scan_when_one_ran() -> None:
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    reading = read_policy("p", trust_policy("p"))
    scanned = Verdict(Cond.SCAN_PASSED, "True", Reason.NO_FINDINGS, "")
    record = verified_record("sha256:" + "a" * 64)
    plan = mv.status_plan(VERIFIED, record, spec, reading, {}, scanned, _timing(), NOW)
    types = [v.type for v in plan.verdicts]
    assert types == [
        Cond.VERIFIED,
        Cond.INSPECTED,
        Cond.DOCUMENTED,
        Cond.READY,
        Cond.QUARANTINE_OVERRIDDEN,
        Cond.SCAN_PASSED,
    ]
    assert plan.next_scan == LATER
    refused = mv.status_plan(REFUSED, None, spec, reading, {}, None, _timing(), NOW)
    assert Cond.SCAN_PASSED not in [v.type for v in refused.verdicts] and refused.next_scan is None
    kept = mv.status_plan(REFUSED, record, spec, reading, {}, None, _timing(), NOW)  # still serving the last
    assert kept.next_scan == LATER


def _with_inspection(findings: list[str], engine: str = "") -> Any:
    from modelguard.api.aimodel import InspectionRecord
    from modelguard.domain.inspection import ENGINE

    record = verified_record("sha256:" + "b" * 64)
    inspection = InspectionRecord(
        engine=engine or ENGINE, formats=["json", "pytorch"], files=2, bytes_read=10, findings=findings, at=NOW
    )
    return record.model_copy(update={"inspection": inspection})


INSPECTING = read_policy("p", trust_policy("p", inspection={"allowedFormats": ["safetensors"]}))


@pytest.mark.parametrize(
    ("record", "reading", "status", "reason"),
    [
        (None, read_policy("p", trust_policy("p")), "True", Reason.NOT_REQUIRED),
        (None, INSPECTING, "Unknown", Reason.AWAITING_VERIFICATION),
        (verified_record("sha256:" + "b" * 64), INSPECTING, "Unknown", Reason.AWAITING_VERIFICATION),
        (_with_inspection([]), INSPECTING, "True", Reason.FILES_SAFE),
        (_with_inspection(["m.bin (pytorch): would import posix.system"]), INSPECTING, "False", Reason.UNSAFE_FILES),
        (_with_inspection([], engine="old-engine/0"), INSPECTING, "Unknown", Reason.AWAITING_VERIFICATION),
    ],
)
def test_inspected_says_what_inspection_of_the_verified_files_found(
    record: Any, reading: Any, status: str, reason: str
) -> None:
    verdict = mv.inspected(record, reading)
    assert (verdict.status, verdict.reason) == (status, reason)


def test_unsafe_files_keep_a_verified_model_from_ready_unless_the_policy_only_warns() -> None:
    unsafe = mv.inspected(_with_inspection(["m.bin (pytorch): would import posix.system"]), INSPECTING)
    assert mv.summary(VERIFIED, DOCUMENTED, False, unsafe).reason == Reason.UNSAFE_FILES
    assert mv.summary(VERIFIED, DOCUMENTED, True, unsafe).status == "True"


def test_a_new_engine_or_a_record_without_inspection_verifies_and_inspects_again() -> None:
    status = _status((3, 2, Reason.SIGNATURE_VALID), (Reason.SIGNATURE_VALID, 3))
    assert mv.verification_current(status, 3, 2, inspect=True)  # no record at all: the attempt decides
    with_old = status.model_copy(update={"verified": _with_inspection([], engine="old-engine/0")})
    assert not mv.verification_current(with_old, 3, 2, inspect=True)
    assert mv.verification_current(with_old, 3, 2, inspect=False)
    current = status.model_copy(update={"verified": _with_inspection([])})
    assert mv.verification_current(current, 3, 2, inspect=True)
