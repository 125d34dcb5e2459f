"""End of life (TS 104 223 5.5.1): the plan of an AIModel's decommission, and its certificate (pure).

The plan is an ordered list of idempotent steps; progress is recorded in the AIModel's status after each
step, so an operator that crashes resumes where it stopped and never repeats a finished step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from modelguard.api.aimodel import AIModelSpec, AIModelStatus, DecommissionStep
from modelguard.api.certificate import Requester
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain import signed_json
from modelguard.domain.conditions import Verdict

REQUESTS = "modelguard-decommission-requests"  # ConfigMap (operator namespace): model uid -> who deleted it
SET_BY = "modelguard.io/end-of-life-set-by"  # annotation: who set the end-of-life policy (a later retire's requester)
UNKNOWN = Requester(username="unknown")


def parse_requester(raw: str | None) -> Requester:
    """A requester as admission recorded it; anything else (absent, edited into garbage) is `unknown`, who may
    delete nothing of the tenant's."""
    if not raw:
        return UNKNOWN
    try:
        requester = Requester.model_validate_json(raw)
    except ValidationError:
        return UNKNOWN
    return requester if requester.username else UNKNOWN


STEPS = (
    "StopServing",
    "DeleteWorkloads",
    "DeleteData",
    "DeleteArtifacts",
    "DestroyKeys",
    "ConfirmDeleted",
    "IssueCertificate",
)
Trigger = Literal["Deletion", "Retire", "RetireAfter"]


def trigger(spec: AIModelSpec | None, deleting: bool, now: datetime) -> Trigger | None:
    """Why the model is being decommissioned, if it is."""
    if deleting:
        return "Deletion"
    if spec is None:
        return None
    if spec.end_of_life.retire:
        return "Retire"
    if spec.end_of_life.retire_after is not None and now >= spec.end_of_life.retire_after:
        return "RetireAfter"
    return None


def stops_serving(spec: AIModelSpec | None, status: AIModelStatus) -> bool:
    """Whether the model asks its AIDeployments to stop serving: its decommission has begun (the plan is in its
    status, written before StopServing runs) and `endOfLife.deployments` is Delete (with Wait they serve until
    their owners delete them). Each AIDeployment's reconcile, the one writer of its children's replicas and
    NetworkPolicies, then scales them to zero and denies all traffic; StopServing only waits for it."""
    return status.decommission is not None and (spec is None or spec.end_of_life.deployments == "Delete")


def still_serving(deployment: Mapping[str, Any], pods: int) -> str | None:
    """What still serves in one live Deployment (and the `pods` matching its selector, terminating ones too:
    they finish their open requests), or None when nothing does: StopServing is done only then, so its
    `ScaleToZero Done` is true of the cluster when it is recorded."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))  # the API server sets 1 when nobody says
    if wanted:
        return f"{wanted} replicas wanted"
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return "scaled to zero, not yet seen by its controller"
    running = int(status.get("replicas") or 0)
    if running:
        return f"{running} replicas running"
    if pods:
        return f"{pods} pod{'s' if pods != 1 else ''} left"
    return None


def plan() -> list[DecommissionStep]:
    return [DecommissionStep(name=name, state="Pending") for name in STEPS]


def next_step(steps: list[DecommissionStep]) -> str | None:
    return next((s.name for s in steps if s.state != "Done"), None)


def sign(private: ec.EllipticCurvePrivateKey, spec: Mapping[str, Any]) -> dict[str, str]:
    return signed_json.sign(private, spec)


def verify(public_key_pem: bytes, spec: Mapping[str, Any]) -> str | None:
    """None when the certificate spec is signed by this key and unchanged; otherwise why not."""
    return signed_json.verify(public_key_pem, spec, "certificate")


def hold_verdicts(trigger: str, held: str = "spec.endOfLife.legalHold") -> list[Verdict]:
    """A legal hold blocks the whole decommission: nothing is deleted while it is set (`held` says which)."""
    hold = Verdict(
        Cond.DECOMMISSIONED,
        "False",
        Reason.LEGAL_HOLD,
        f"{trigger}: blocked by a legal hold ({held}); nothing is deleted",
    )
    return [hold, Verdict(Cond.READY, "False", Reason.LEGAL_HOLD, hold.message)]


def failed_verdicts(steps: list[DecommissionStep], reason: str, message: str) -> list[Verdict]:
    """A step failed: the decommission is blocked at that step (`<Step>Failed`) until the cause goes away."""
    blocked = Verdict(Cond.DECOMMISSIONED, "False", f"{next_step(steps) or 'Step'}Failed", f"{reason}: {message}")
    return [blocked, Verdict(Cond.READY, "False", Reason.DECOMMISSIONING, blocked.message)]


def waiting_verdicts(steps: list[DecommissionStep], reason: str, message: str) -> list[Verdict]:
    """A step waits for something that will happen (the AIDeployments scaling to zero): in progress, not
    failed; the message says what it waits for."""
    going = Verdict(Cond.DECOMMISSIONED, "False", Reason.IN_PROGRESS, f"{next_step(steps)}: {reason}: {message}")
    return [going, Verdict(Cond.READY, "False", Reason.DECOMMISSIONING, going.message)]


def progress_verdicts(steps: list[DecommissionStep], certificate: str | None) -> list[Verdict]:
    """After a step: in progress (the next step named), or done with its certificate."""
    pending = next_step(steps)
    if pending is None:
        done = Verdict(
            Cond.DECOMMISSIONED,
            "True",
            Reason.CERTIFICATE_ISSUED,
            f"decommissioned; DecommissionCertificate {certificate}",
        )
        return [done, Verdict(Cond.READY, "False", Reason.DECOMMISSIONED, done.message)]
    going = Verdict(Cond.DECOMMISSIONED, "False", Reason.IN_PROGRESS, f"next step: {pending}")
    return [going, Verdict(Cond.READY, "False", Reason.DECOMMISSIONING, going.message)]
