"""The AIDeployment rollout gate: an ordered chain of small pure checks on the model.

Each check returns a Violation (with a distinct CamelCase reason) or None; the first violation closes
the gate. `domain/rollout.py` then decides what a closed gate means for a workload that is already
serving (keep it, or quarantine it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain.conditions import find
from modelguard.domain.decommission import stops_serving
from modelguard.domain.gates import first_violation
from modelguard.domain.model_checks import TRANSIENT


@dataclass(frozen=True)
class ModelView:
    """The model as the deployment sees it."""

    spec: AIModelSpec | None
    status: AIModelStatus
    generation: int
    warn_only: bool = False
    requires_incident_response: bool = False  # its TrustPolicy's spec.requirements.incidentResponse


@dataclass(frozen=True)
class GateFacts:
    model_name: str
    model: ModelView | None
    exposure: str = "Internal"
    approvals_required: int = 0
    approvers: tuple[str, ...] = ()  # distinct, validly stamped approvers of the digest to roll out
    withdrawn: tuple[str, ...] = ()  # ModelApprovals that counted for the served digest and were deleted
    quarantine_withdrawn: bool = True  # the policy's onApprovalWithdrawn is Quarantine
    incident_response: bool = False  # the AIDeployment names an incident-response contact and runbook


@dataclass(frozen=True)
class Violation:
    reason: str
    message: str
    distrusted: bool = False  # the model no longer trusts any digest (vs. not verified *yet*)
    stop_serving: bool = False  # even the digest being served must stop (a critical scan finding)


Check = Callable[[GateFacts], Violation | None]


def model_exists(facts: GateFacts) -> Violation | None:
    if facts.model is None or facts.model.spec is None:
        return Violation(Reason.MODEL_NOT_FOUND, f"AIModel {facts.model_name!r} does not exist", distrusted=True)
    return None


def model_decommissioning(facts: GateFacts) -> Violation | None:
    """A model being decommissioned (or held for legal reasons) says so, not "not verified yet". Once its plan
    has begun, it asks its deployments to stop serving (`stop_serving`; domain/decommission.stops_serving)."""
    assert facts.model is not None
    if stops_serving(facts.model.spec, facts.model.status):
        return Violation(
            Reason.MODEL_DECOMMISSIONING,
            f"AIModel {facts.model_name!r} is being decommissioned: its deployments stop serving",
            distrusted=True,
            stop_serving=True,
        )
    ending = find(facts.model.status.conditions, Cond.DECOMMISSIONED)
    if ending is None or ending.status == "True":
        return None
    return Violation(
        Reason.MODEL_DECOMMISSIONING, f"AIModel {facts.model_name!r} is being decommissioned: {ending.message}"
    )


def model_verified_for_current_generation(facts: GateFacts) -> Violation | None:
    assert facts.model is not None
    verified = find(facts.model.status.conditions, Cond.VERIFIED)
    if verified is None or verified.observed_generation != facts.model.generation:
        return Violation(Reason.WAITING_FOR_MODEL, f"AIModel {facts.model_name!r} has not been verified yet")
    return None


def model_verified(facts: GateFacts) -> Violation | None:
    assert facts.model is not None
    verified = find(facts.model.status.conditions, Cond.VERIFIED)
    assert verified is not None
    if verified.status == "True":
        if facts.model.status.verified is not None:
            return None
        return Violation(Reason.WAITING_FOR_MODEL, f"AIModel {facts.model_name!r} has no verification record yet")
    if verified.status == "Unknown" or verified.reason in TRANSIENT:  # say what is happening
        return Violation(
            Reason.WAITING_FOR_MODEL, f"AIModel {facts.model_name!r}: {verified.reason}: {verified.message}"
        )
    message = f"AIModel {facts.model_name!r} is not verified ({verified.reason}): {verified.message}"
    return Violation(Reason.MODEL_NOT_VERIFIED, message, distrusted=True)


def model_scan_clean(facts: GateFacts) -> Violation | None:
    """A critical maintenance-scan finding stops serving until a scan passes or an override is annotated."""
    assert facts.model is not None
    scanned = find(facts.model.status.conditions, Cond.SCAN_PASSED)
    override = find(facts.model.status.conditions, Cond.QUARANTINE_OVERRIDDEN)
    if scanned is None or scanned.status != "False" or scanned.reason != Reason.CRITICAL_FINDINGS:
        return None
    if override is not None and override.status == "True":
        return None
    return Violation(
        Reason.SCAN_FAILED,
        f"the last scan of AIModel {facts.model_name!r} found critical problems: {scanned.message}",
        distrusted=True,
        stop_serving=True,
    )


def model_inspected(facts: GateFacts) -> Violation | None:
    """Files the TrustPolicy's inspection refused are not rolled out (what serves keeps serving; its pods
    inspect again when they start, so none starts on a forbidden file)."""
    assert facts.model is not None
    inspected = find(facts.model.status.conditions, Cond.INSPECTED)
    if inspected is None or inspected.status == "True" or facts.model.warn_only:
        return None
    if inspected.status == "Unknown":
        return Violation(Reason.WAITING_FOR_MODEL, f"AIModel {facts.model_name!r}: {inspected.message}")
    return Violation(Reason.UNSAFE_FILES, f"AIModel {facts.model_name!r}: {inspected.message}")


def model_documented(facts: GateFacts) -> Violation | None:
    assert facts.model is not None
    documented = find(facts.model.status.conditions, Cond.DOCUMENTED)
    if documented is not None and documented.status == "False" and not facts.model.warn_only:
        return Violation(documented.reason, documented.message)
    return None


PUBLIC_CARD = ("intendedUse", "limitations", "prohibitedUses", "dataUsage")


def model_card_published(facts: GateFacts) -> Violation | None:
    """Exposure outside the cluster needs what end users must be told (TS 104 223 5.3.1, 5.1.4-5)."""
    assert facts.model is not None
    assert facts.model.spec is not None
    if facts.exposure != "External":
        return None
    card = facts.model.spec.card.wire()
    missing = [name for name in PUBLIC_CARD if not card.get(name)]
    if missing:
        return Violation(
            Reason.MODEL_CARD_INCOMPLETE,
            f"External exposure needs the model card fields {', '.join(missing)} "
            "(published to end users at /model-card)",
        )
    return None


def incident_response_declared(facts: GateFacts) -> Violation | None:
    """Who answers incidents, and the runbook they follow, are named before anything rolls out when the
    policy requires it (TS 104 223 5.2.2-5); what serves keeps serving while they are missing."""
    assert facts.model is not None
    if facts.incident_response or not facts.model.requires_incident_response or facts.model.warn_only:
        return None
    return Violation(
        Reason.INCIDENT_RESPONSE_MISSING,
        "the TrustPolicy requires spec.incidentResponse (a contact and a digest-pinned runbook) before rollout",
    )


def approved(facts: GateFacts) -> Violation | None:
    """Enough distinct people approved the digest to roll out (TS 104 223 5.1.4-3); a new digest starts
    again from zero, while the approved digest keeps serving."""
    assert facts.model is not None
    if len(facts.approvers) >= facts.approvals_required:
        return None
    verified = facts.model.status.verified
    digest = verified.digest if verified else "?"
    who = f" (so far: {', '.join(facts.approvers)})" if facts.approvers else ""
    if facts.withdrawn:  # the digest being served lost approvals it had: the policy says what happens
        return Violation(
            Reason.APPROVAL_WITHDRAWN,
            f"approval(s) {', '.join(facts.withdrawn)} withdrawn: {len(facts.approvers)} of "
            f"{facts.approvals_required} for {digest}{who}",
            distrusted=facts.quarantine_withdrawn,
            stop_serving=facts.quarantine_withdrawn,
        )
    return Violation(
        Reason.AWAITING_APPROVAL,
        f"{len(facts.approvers)} of {facts.approvals_required} approvals for {digest}{who}; approve with a "
        "ModelApproval naming this AIDeployment and digest",
    )


GATE: tuple[Check, ...] = (
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
)


def evaluate(facts: GateFacts, checks: Sequence[Check] = GATE) -> Violation | None:
    """The first violation in order, or None when the gate is open."""
    return first_violation(checks, facts)
