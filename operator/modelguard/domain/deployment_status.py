"""The AIDeployment's status verdicts besides the rollout decision (pure): availability, pod security,
authentication, Ready, the replicas shown, and the last reverted drift kept until the spec changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain.conditions import Verdict, find
from modelguard.domain.pod_security import template_violations
from modelguard.domain.rollout import STOPPING, Decision

RESTRICTED = "restricted"
PSA_LABEL = "pod-security.kubernetes.io/enforce"


def availability(deployment: dict[str, Any] | None, replicas: int) -> Verdict:
    if deployment is None:
        return Verdict(Cond.AVAILABLE, "False", Reason.NOT_DEPLOYED, "no workload is deployed")
    status = deployment.get("status") or {}
    if replicas == 0:
        return Verdict(Cond.AVAILABLE, "False", Reason.SCALED_TO_ZERO, "the workload is scaled to zero")
    current = (status.get("observedGeneration") or 0) >= (deployment.get("metadata", {}).get("generation") or 0)
    available = int(status.get("availableReplicas") or 0)
    if current and available >= replicas:
        return Verdict(
            Cond.AVAILABLE, "True", Reason.MINIMUM_REPLICAS_AVAILABLE, f"{available}/{replicas} replicas available"
        )
    return Verdict(Cond.AVAILABLE, "False", Reason.REPLICAS_UNAVAILABLE, f"{available}/{replicas} replicas available")


def pod_security(namespace: str, namespace_labels: Mapping[str, str], deployed: Mapping[str, Any] | None) -> Verdict:
    """From the live workload first: a status may claim only what the live objects have."""
    unsafe = template_violations(deployed) if deployed is not None else []
    if unsafe:
        return Verdict(
            Cond.POD_SECURITY,
            "False",
            Reason.LIVE_WORKLOAD_NOT_RESTRICTED,
            f"the live Deployment has fields that break the restricted level (being removed): {', '.join(unsafe[:8])}",
        )
    level = namespace_labels.get(PSA_LABEL)
    if level == RESTRICTED:
        return Verdict(
            Cond.POD_SECURITY, "True", Reason.RESTRICTED, "the namespace enforces the restricted Pod Security level"
        )
    return Verdict(
        Cond.POD_SECURITY,
        "False",
        Reason.NAMESPACE_NOT_RESTRICTED,
        f"namespace {namespace!r} does not set {PSA_LABEL}=restricted (found {level or 'none'}); the "
        "workload itself runs restricted",
    )


def authentication(spec: AIDeploymentSpec) -> Verdict:
    if spec.authentication:
        return Verdict(Cond.AUTHENTICATED, "True", Reason.API_KEYS, "clients authenticate with API keys")
    return Verdict(
        Cond.AUTHENTICATED,
        "False",
        Reason.AUTHENTICATION_DISABLED,
        "no authentication configured; the NetworkPolicy alone limits clients",
    )


def replicas_shown(decision: Decision, spec: AIDeploymentSpec, deployed: Mapping[str, Any] | None) -> int:
    """The replicas the workload should have now: none when quarantined; while a change awaits approval,
    what was approved (the live count) keeps serving."""
    if decision.action in STOPPING:
        return 0
    if decision.action == "Keep" and decision.reason == Reason.AWAITING_APPROVAL and deployed is not None:
        return int((deployed.get("spec") or {}).get("replicas") or 0)
    return spec.replicas


def left_stopped(current: AIDeploymentStatus) -> bool:
    """Whether the last pass left the children stopped (scaled to zero, all traffic denied), as its status says:
    quarantined, or stopped for the model's decommission (`Ready=False/ModelDecommissioning`; a workload a legal
    hold keeps serving is `Ready=True` with that reason). Part of what ModelGuard built (domain/drift.Built)."""
    quarantined = find(current.conditions, Cond.QUARANTINED)
    ready = find(current.conditions, Cond.READY)
    if quarantined is not None and quarantined.status == "True":
        return True
    return ready is not None and ready.status == "False" and ready.reason == Reason.MODEL_DECOMMISSIONING


def last_drift(current: AIDeploymentStatus, generation: int) -> Verdict | None:
    for c in current.conditions:
        if c.type == Cond.POLICY_ENFORCED and c.reason == Reason.DRIFT_REVERTED and c.observed_generation == generation:
            return Verdict(c.type, c.status, c.reason, c.message)
    return None


# Ready=False for these is work in flight or waiting for something that will happen (a model, pods, people)
IN_FLIGHT = frozenset(
    {
        Reason.WAITING_FOR_MODEL,
        Reason.REPLICAS_UNAVAILABLE,
        Reason.NOT_DEPLOYED,
        Reason.QUEUED,
        Reason.CONFLICT,
        Reason.MODEL_NOT_FOUND,
        Reason.MODEL_DECOMMISSIONING,
        Reason.AWAITING_APPROVAL,
    }
)


def ready(decision: Decision, available: Verdict) -> Verdict:
    """Ready: serving a trusted digest with the replicas available."""
    if decision.action not in ("Rollout", "Keep"):
        return Verdict(Cond.READY, "False", decision.reason, decision.message)
    if available.status != "True":
        return Verdict(Cond.READY, "False", available.reason, available.message)
    if decision.action == "Keep":
        return Verdict(Cond.READY, "True", decision.reason, decision.message)
    return Verdict(Cond.READY, "True", Reason.SERVING, decision.message)


EnforcementOutcome = Literal[
    "Applied", "Refused", "Quarantined", "QuarantineBlocked", "Stopped", "StopBlocked", "Untouched"
]


@dataclass(frozen=True)
class Enforcement:
    """What a pass did to the AIDeployment's children (reconcilers/deployment_children.enforce): the facts the
    PolicyEnforced verdict and a first rollout's hold are decided from."""

    outcome: EnforcementOutcome
    children: list[str]  # the children it owns now
    served: str | None  # the digest the model servers are pinned to now
    drift: tuple[str, ...] = ()  # reverted changes made by others, to report
    reason: str = ""  # why it was refused
    message: str = ""


def held(decision: Decision, enforcement: Enforcement) -> Decision:
    """A first rollout the API server or a name clash refused holds with that reason; one that serves keeps its
    decision (the old pods keep serving, PolicyEnforced says what failed)."""
    if enforcement.outcome == "Refused" and enforcement.served is None:
        return Decision("Hold", None, enforcement.reason, enforcement.message)
    return decision


def policy_enforced(enforcement: Enforcement, current: AIDeploymentStatus, generation: int) -> Verdict:
    outcome = enforcement.outcome
    if outcome in ("Quarantined", "Stopped"):  # what it is stays the condition; status.lastDrift keeps a revert
        quarantined = outcome == "Quarantined"
        stopped = "all traffic denied, scaled to zero"
        if enforcement.drift:
            message = "reverted changes made outside ModelGuard: " + "; ".join(enforcement.drift)
            message += f" ({'quarantined' if quarantined else 'stopped'}: {stopped})"
            return Verdict(Cond.POLICY_ENFORCED, "True", Reason.DRIFT_REVERTED, message)
        if quarantined:
            return Verdict(Cond.POLICY_ENFORCED, "True", Reason.QUARANTINED, stopped)
        return Verdict(
            Cond.POLICY_ENFORCED, "True", Reason.MODEL_DECOMMISSIONING, f"{stopped}: the model is being decommissioned"
        )
    if outcome == "QuarantineBlocked":
        return Verdict(Cond.POLICY_ENFORCED, "False", enforcement.reason, f"cannot quarantine: {enforcement.message}")
    if outcome == "StopBlocked":
        return Verdict(Cond.POLICY_ENFORCED, "False", enforcement.reason, f"cannot stop serving: {enforcement.message}")
    if outcome == "Refused":
        return Verdict(Cond.POLICY_ENFORCED, "False", enforcement.reason, enforcement.message)
    if outcome == "Applied" and enforcement.drift:
        message = "reverted changes made outside ModelGuard: " + "; ".join(enforcement.drift)
        return Verdict(Cond.POLICY_ENFORCED, "True", Reason.DRIFT_REVERTED, message)
    if outcome == "Applied":  # the last reverted drift stays reported until the spec changes
        enforced = Verdict(
            Cond.POLICY_ENFORCED, "True", Reason.ENFORCED, "network, access and pod security policy applied"
        )
        return last_drift(current, generation) or enforced
    shown = next((c for c in current.conditions if c.type == Cond.POLICY_ENFORCED), None)
    if shown is not None:  # nothing applied in this pass: what was last enforced still holds
        return Verdict(shown.type, shown.status, shown.reason, shown.message)
    return Verdict(Cond.POLICY_ENFORCED, "Unknown", Reason.NOT_DEPLOYED, "nothing deployed yet")
