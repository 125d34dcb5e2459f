"""The approvals an AIDeployment has for the digest it would roll out (facts for the gate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus, ApprovalStatus, Approver
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain import approvals
from modelguard.domain.conditions import Verdict
from modelguard.domain.crypto import public_pem
from modelguard.domain.deployment_gate import ModelView
from modelguard.domain.policy_reading import PolicyReading
from modelguard.reconcilers.context import Context

INDEX = "approvals-by-deployment"


@dataclass(frozen=True)
class ApprovalFacts:
    required: int
    digest: str | None
    approvals: tuple[approvals.Approval, ...]
    withdrawn: tuple[str, ...] = ()  # ModelApprovals counted for this digest before, deleted since
    quarantine_withdrawn: bool = True

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.username for a in self.approvals)

    def status(self) -> dict[str, Any] | None:
        if not self.required or self.digest is None:
            return None
        approvers = [Approver(username=a.username, approval=a.name) for a in self.approvals]
        return ApprovalStatus(
            digest=self.digest, required=self.required, approvers=approvers, withdrawn=list(self.withdrawn)
        ).wire()

    def verdict(self) -> Verdict:
        if not self.required:
            return Verdict(Cond.APPROVED, "True", Reason.NOT_REQUIRED, "no approval required")
        if self.digest is None:
            return Verdict(Cond.APPROVED, "Unknown", Reason.WAITING_FOR_MODEL, "no verified digest to approve yet")
        have = len(self.approvals)
        who = ", ".join(self.approvers) or "nobody"
        if have >= self.required:
            return Verdict(Cond.APPROVED, "True", Reason.APPROVED, f"{self.digest} approved by {who}")
        if self.withdrawn:
            return Verdict(
                Cond.APPROVED,
                "False",
                Reason.APPROVAL_WITHDRAWN,
                f"approval(s) {', '.join(self.withdrawn)} withdrawn: {have} of {self.required} for {self.digest} "
                f"({who})",
            )
        return Verdict(
            Cond.APPROVED,
            "False",
            Reason.AWAITING_APPROVAL,
            f"{have} of {self.required} approvals for {self.digest} ({who})",
        )


UNMEETABLE = 11  # more approvals than the API lets anyone require (10): no number of approvals is enough


def _policy_requires(reading: PolicyReading) -> tuple[int, bool, bool]:
    """(approvals required, separation of duties, quarantine when withdrawn) of the policy. A policy that is
    missing or unreadable cannot be met (domain/policy_reading.py); its model has no trusted digest anyway."""
    if reading.spec is None:
        return UNMEETABLE, True, True
    requirements = reading.spec.requirements
    return requirements.approvals, requirements.separate_approvers, requirements.on_approval_withdrawn == "Quarantine"


def withdrawn_since(
    ctx: Context, key: Key, body: dict[str, Any], digest: str, counted: int, required: int
) -> tuple[str, ...]:
    """ModelApprovals the last status counted for this digest that no longer exist, when too few remain. An
    approval that merely stopped counting (the spec changed since) is not withdrawn: it awaits a new one."""
    if counted >= required:
        return ()
    try:
        before = AIDeploymentStatus.model_validate(body.get("status") or {}).approval
    except ValidationError:
        return ()
    if before is None or before.digest != digest:
        return ()
    names = [*before.withdrawn, *(a.approval for a in before.approvers)]  # withdrawn stays withdrawn
    return tuple(dict.fromkeys(n for n in names if ctx.store.get(Key("ModelApproval", key.namespace, n)) is None))


async def gather(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIDeploymentSpec,
    model: ModelView | None,
    reading: PolicyReading,
) -> ApprovalFacts:
    """`reading`: the model's TrustPolicy, as the pass read it (deployment_observation)."""
    by_policy, separate, quarantine = _policy_requires(reading)
    required = max(spec.approval.required, by_policy)
    digest = model.status.verified.digest if model is not None and model.status.verified is not None else None
    if not required or digest is None or ctx.operator_key is None:
        return ApprovalFacts(required, digest, ())
    pem = public_pem((await ctx.operator_key.get()).public_key())
    editor = approvals.last_editor(body, pem) if separate else None
    counted: tuple[approvals.Approval, ...] = ()
    if not (separate and editor is None):  # nobody recorded: nobody can be told apart from the editor
        bodies = [ctx.store.get(k) or {} for k in ctx.store.lookup(INDEX, f"{key.namespace}/{key.name}")]
        counted = tuple(approvals.count(bodies, body, digest, pem, not_by=editor))
    withdrawn = withdrawn_since(ctx, key, body, digest, len(counted), required)
    return ApprovalFacts(required, digest, counted, withdrawn, quarantine)


async def approved_spec(
    ctx: Context, key: Key, body: dict[str, Any], digest: str | None, required: int
) -> AIDeploymentSpec | None:
    """The AIDeploymentSpec last approved for the served digest (the approval-free fields as they are now), or
    None when no approved spec can be shown: the workload is then left as it is, never built from the change."""
    if ctx.operator_key is None:
        return None
    pem = public_pem((await ctx.operator_key.get()).public_key())
    bodies = [ctx.store.get(k) or {} for k in ctx.store.lookup(INDEX, f"{key.namespace}/{key.name}")]
    document = approvals.last_approved(bodies, body, digest, max(required, 1), pem)
    if document is None:
        return None
    now = body.get("spec") or {}
    free = {k: now[k] for k in ("approval", "incidentResponse") if k in now}  # approvals do not cover them
    try:
        return AIDeploymentSpec.model_validate({**document, **free})
    except ValidationError:
        return None
