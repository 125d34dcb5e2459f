"""What an AIDeployment should do about its model right now (pure).

The gate (domain/deployment_gate.py) says whether the model may be rolled out. This module adds the
serving policy for a workload that already runs (docs/adr/0004-serving-when-a-model-stops-being-verified.md):
- a closed gate that means "not yet" (waiting, transient, undocumented) keeps the running digest, and keeps
  a quarantined workload quarantined (only an open gate lifts a quarantine);
- a closed gate for a newer generation keeps the last verified digest while the model still trusts it;
- when the model trusts no digest any more, a running workload is quarantined (scaled to zero,
  network cut) if the model's maintenance.onFailure is Quarantine, or kept with a warning (Report);
- when the model's decommission asks its deployments to stop serving (docs/adr/0007-decommissioning.md),
  the workload stops: scaled to zero, network cut, whatever onFailure says (`Stop`, not a quarantine).
The AIDeployment reconcile carries out every one of these decisions: it alone writes the replicas and the
NetworkPolicies of its children (one writer per field, docs/adr/0013-reconcile-shape.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain.conditions import Verdict
from modelguard.domain.deployment_gate import GateFacts, ModelView, evaluate

Action = Literal["Rollout", "Hold", "Keep", "Quarantine", "Stop"]
STOPPING: tuple[Action, ...] = ("Quarantine", "Stop")  # the children are scaled to zero, all traffic denied

__all__ = ["Decision", "ModelView", "decide"]


@dataclass(frozen=True)
class Decision:
    action: Action
    digest: str | None
    reason: str
    message: str
    quarantined: bool = False  # a Stop of a quarantined workload: it stays quarantined (nothing was released)

    def verdicts(self) -> list[Verdict]:
        model_ok = self.action == "Rollout"
        return [
            Verdict(
                Cond.MODEL_VERIFIED,
                "True" if model_ok else "False",
                Reason.MODEL_VERIFIED if model_ok else self.reason,
                self.message,
            ),
            self._quarantined(),
        ]

    def _quarantined(self) -> Verdict:
        if self.action == "Quarantine":
            return Verdict(Cond.QUARANTINED, "True", self.reason, self.message)
        if self.action == "Stop":
            return Verdict(
                Cond.QUARANTINED,
                "True" if self.quarantined else "False",
                self.reason if self.quarantined else Reason.NOT_QUARANTINED,
                "quarantined, and stopped for the model's decommission"
                if self.quarantined
                else "not quarantined: stopped for the model's decommission",
            )
        return Verdict(Cond.QUARANTINED, "False", Reason.NOT_QUARANTINED, "serving normally or waiting")


def decide(
    model: ModelView | None,
    model_name: str,
    served_digest: str | None,
    exposure: str = "Internal",
    approvals_required: int = 0,
    approvers: tuple[str, ...] = (),
    quarantined: bool = False,
    withdrawn: tuple[str, ...] = (),
    quarantine_withdrawn: bool = True,
    incident_response: bool = False,
) -> Decision:
    """`quarantined`: the workload is quarantined now; only an open gate lifts that, never a "keep".
    `withdrawn`: approvals of the served digest that were deleted (the policy's onApprovalWithdrawn decides)."""
    facts = GateFacts(
        model_name, model, exposure, approvals_required, approvers, withdrawn, quarantine_withdrawn, incident_response
    )
    decision = _decide(model, model_name, served_digest, facts)
    if quarantined and decision.action == "Keep":
        return Decision("Quarantine", served_digest, decision.reason, f"{decision.message}; stays quarantined")
    if quarantined and decision.action == "Stop":
        return replace(decision, quarantined=True)
    return decision


def _decide(model: ModelView | None, model_name: str, served_digest: str | None, facts: GateFacts) -> Decision:
    violation = evaluate(facts)
    if violation is not None and violation.reason == Reason.MODEL_DECOMMISSIONING and violation.stop_serving:
        # the decommission asks: whatever was deployed (a model cache too) stops, and nothing new rolls out
        return Decision("Stop", served_digest, violation.reason, f"{violation.message}: scaled to zero, network cut")
    if violation is None:
        assert model is not None
        verified = model.status.verified
        assert verified is not None
        return Decision(
            "Rollout",
            verified.digest,
            Reason.MODEL_VERIFIED,
            f"serving {verified.digest} (signed by {verified.signer})",
        )
    if served_digest is None:
        return Decision("Hold", None, violation.reason, violation.message)
    if not violation.distrusted:
        return Decision("Keep", served_digest, violation.reason, f"{violation.message}; still serving {served_digest}")
    if violation.reason == Reason.APPROVAL_WITHDRAWN:  # the policy's choice, not the model's onFailure
        return Decision(
            "Quarantine",
            served_digest,
            violation.reason,
            f"{violation.message}; quarantined: scaled to zero, network cut",
        )
    record = model.status.verified if model is not None else None
    if record is not None and record.digest == served_digest and not violation.stop_serving:
        return Decision(
            "Keep",
            served_digest,
            Reason.SERVING_LAST_VERIFIED,
            f"{violation.message}; still serving the last verified digest {record.digest}",
        )
    on_failure = model.spec.maintenance.on_failure if model is not None and model.spec is not None else "Quarantine"
    if on_failure == "Quarantine":
        return Decision(
            "Quarantine",
            served_digest,
            violation.reason,
            f"{violation.message}; quarantined: scaled to zero, network cut",
        )
    return Decision(
        "Keep",
        served_digest,
        violation.reason,
        f"{violation.message}; still serving {served_digest} (onFailure: Report)",
    )
