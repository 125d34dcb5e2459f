"""The rollout gate: each check alone, then the order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelguard.api.aimodel import AIModelSpec, AIModelStatus, VerifiedRecord
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.deployment_gate import (
    GATE,
    GateFacts,
    ModelView,
    approved,
    evaluate,
    incident_response_declared,
    model_card_published,
    model_decommissioning,
    model_documented,
    model_exists,
    model_inspected,
    model_scan_clean,
    model_verified,
    model_verified_for_current_generation,
)
from tests.harness.samples import ai_model, verified_record

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SPEC = AIModelSpec.model_validate(ai_model("m")["spec"])
RECORD = verified_record(source="s", signature="g", at=NOW.isoformat())


def facts(
    *verdicts: Verdict, cond_gen: int = 1, gen: int = 1, record: VerifiedRecord | None = RECORD, warn: bool = False
) -> GateFacts:
    status = AIModelStatus(conditions=merge_conditions([], verdicts, cond_gen, NOW), verified=record)
    return GateFacts("m", ModelView(SPEC, status, gen, warn))


VERIFIED = Verdict("Verified", "True", "SignatureValid")


def test_model_exists() -> None:
    violation = model_exists(GateFacts("m", None))
    assert violation is not None and violation.reason == "ModelNotFound" and violation.distrusted
    assert model_exists(facts(VERIFIED)) is None


def test_verified_for_current_generation() -> None:
    assert model_verified_for_current_generation(facts(VERIFIED)) is None
    stale = model_verified_for_current_generation(facts(VERIFIED, cond_gen=1, gen=2))
    assert stale is not None and stale.reason == "WaitingForModel" and not stale.distrusted
    assert model_verified_for_current_generation(facts()).reason == "WaitingForModel"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("verdict", "reason", "distrusted"),
    [
        (Verdict("Verified", "False", "DigestMismatch"), "ModelNotVerified", True),
        (Verdict("Verified", "False", "SourceUnreachable"), "WaitingForModel", False),  # says what happens
        (Verdict("Verified", "Unknown", "Verifying"), "WaitingForModel", False),
        (Verdict("Verified", "Unknown", "Queued"), "WaitingForModel", False),
        (Verdict("Verified", "True", "SignatureValid"), "WaitingForModel", False),  # no record yet
    ],
)
def test_model_verified(verdict: Verdict, reason: str, distrusted: bool) -> None:
    violation = model_verified(facts(verdict, record=None))
    assert violation is not None and violation.reason == reason
    assert violation.distrusted is distrusted
    assert model_verified(facts(VERIFIED)) is None


def test_model_documented_unless_warn_mode() -> None:
    missing = Verdict("Documented", "False", "MissingDocumentation", "license")
    violation = model_documented(facts(VERIFIED, missing))
    assert violation is not None and violation.reason == "MissingDocumentation"
    assert model_documented(facts(VERIFIED, missing, warn=True)) is None


def test_order() -> None:
    assert (
        model_exists,
        model_decommissioning,
        model_verified_for_current_generation,
        model_verified,
        model_inspected,
        model_scan_clean,
        model_documented,
        model_card_published,
        incident_response_declared,
        approved,
    ) == GATE
    missing = Verdict("Documented", "False", "MissingDocumentation")
    assert evaluate(facts(Verdict("Verified", "False", "KeyRevoked"), missing)).reason == "ModelNotVerified"  # type: ignore[union-attr]
    assert evaluate(facts(VERIFIED, missing)).reason == "MissingDocumentation"  # type: ignore[union-attr]
    assert evaluate(facts(VERIFIED)) is None


@pytest.mark.parametrize(
    ("uri", "prefixes", "allowed"),
    [
        ("oci://registry.internal/models/m@sha256:1", ["oci://registry.internal"], True),
        ("oci://registry.internal:5000/m@sha256:1", ["oci://registry.internal"], True),
        ("oci://registry.internal.evil.example/m", ["oci://registry.internal"], False),
        ("https://127.0.0.1:8443/m", ["https://127.0.0.1:"], True),
        ("file:///models/a", ["file:///models/"], True),
        ("file:///modelsX/a", ["file:///models"], False),
        ("https://x/m", [], False),
    ],
)
def test_source_prefixes_match_at_boundaries(uri: str, prefixes: list[str], allowed: bool) -> None:
    from modelguard.domain.trust import source_allowed

    assert source_allowed(uri, prefixes) is allowed


def test_critical_scan_finding_stops_serving_unless_overridden() -> None:
    critical = Verdict("ScanPassed", "False", "CriticalFindings", "2 critical")
    violation = model_scan_clean(facts(VERIFIED, critical))
    assert violation is not None and violation.reason == "ScanFailed" and violation.stop_serving
    override = Verdict("QuarantineOverridden", "True", "OverrideAnnotation", "accepted risk, ticket SEC-1")
    assert model_scan_clean(facts(VERIFIED, critical, override)) is None
    assert model_scan_clean(facts(VERIFIED, Verdict("ScanPassed", "False", "HighFindings"))) is None


def test_external_exposure_needs_the_public_model_card() -> None:
    internal = GateFacts("m", facts(VERIFIED).model, "Internal")
    assert model_card_published(internal) is None
    external = GateFacts("m", facts(VERIFIED).model, "External")
    violation = model_card_published(external)
    assert violation is not None and violation.reason == "ModelCardIncomplete"
    assert "limitations, prohibitedUses, dataUsage" in violation.message  # the sample card has intendedUse only


def test_approved_counts_distinct_approvers_of_the_digest() -> None:
    base = facts(VERIFIED)
    need_two = GateFacts("m", base.model, approvals_required=2, approvers=("alice",))
    violation = approved(need_two)
    assert violation is not None and violation.reason == "AwaitingApproval"
    assert not violation.distrusted and not violation.stop_serving  # the approved digest keeps serving
    assert "1 of 2" in violation.message and RECORD.digest in violation.message and "alice" in violation.message
    assert approved(GateFacts("m", base.model, approvals_required=2, approvers=("alice", "bob"))) is None
    assert approved(base) is None  # none required


def test_a_model_being_decommissioned_says_so() -> None:
    """Issue 14, item 8: during a legal hold the deployment said its model 'has not been verified yet'."""
    held = Verdict("Decommissioned", "False", "LegalHold", "legal hold: case 2026-17")
    violation = model_decommissioning(facts(VERIFIED, held))
    assert violation is not None and violation.reason == "ModelDecommissioning"
    assert "legal hold: case 2026-17" in violation.message and not violation.distrusted
    assert model_decommissioning(facts(VERIFIED)) is None


def test_kstatus_conditions_follow_ready() -> None:
    from modelguard.domain.conditions import progress

    waiting = {"WaitingForModel"}
    assert [(v.type, v.status) for v in progress(Verdict("Ready", "True", "Serving"), waiting)] == [
        ("Reconciling", "False"),
        ("Stalled", "False"),
    ]
    busy = progress(Verdict("Ready", "False", "WaitingForModel", "verifying"), waiting)
    assert [(v.type, v.status, v.reason) for v in busy] == [
        ("Reconciling", "True", "WaitingForModel"),
        ("Stalled", "False", "InProgress"),
    ]
    stuck = progress(Verdict("Ready", "False", "NameConflict", "Service/svc is someone else's"), waiting)
    assert [(v.type, v.status, v.reason) for v in stuck] == [
        ("Reconciling", "False", "Stalled"),
        ("Stalled", "True", "NameConflict"),
    ]
    assert stuck[1].message == "Service/svc is someone else's"
