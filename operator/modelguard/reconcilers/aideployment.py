"""AIDeployment reconciler: observe -> decide (domain) -> enforce (apply, revert drift, or quarantine) -> one
status write.

    observe (reconcilers/deployment_observation)   the object, its model and policy, namespace, approvals, live
                                                   workload, shipped signature: read once, handed to every step
      -> rollout_decision (domain/rollout.decide)   Rollout, Keep, Hold or Quarantine, and why (pure)
      -> deployment_children.enforce                apply what the verified record calls for, report drift
      -> domain/deployment_status                   PolicyEnforced, Available, Ready, ... (pure)
      -> _status                                    one status write; then the Events of what happened
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import AIDEPLOYMENTS
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus, DriftRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.builders import workload
from modelguard.domain import deployment_status
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions, progress
from modelguard.reconcilers import deployment_children
from modelguard.reconcilers.context import Context, drift_reported, spec_error, status_view, write_status
from modelguard.reconcilers.deployment_observation import observe, rollout_decision

log = logging.getLogger(__name__)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    try:
        current = AIDeploymentStatus.model_validate(status_view(ctx, key, body))
    except ValidationError:
        current = AIDeploymentStatus()
    try:
        spec = AIDeploymentSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        invalid = Verdict(Cond.READY, "False", Reason.INVALID_SPEC, spec_error(exc))
        await _status(ctx, key, body, current, [invalid], current.served_digest, current.children, None)
        return None

    obs = await observe(ctx, key, body, spec, current)
    decision = rollout_decision(obs)
    done = await deployment_children.enforce(ctx, key, obs, decision)
    decision = deployment_status.held(decision, done)
    enforced = deployment_status.policy_enforced(done, current, obs.generation)

    served, deployed = done.served, obs.deployed
    replicas = deployment_status.replicas_shown(decision, spec, deployed)
    available = deployment_status.availability(deployed if served else None, replicas)
    verdicts = [
        *decision.verdicts(),
        available,
        enforced,
        deployment_status.authentication(spec),
        deployment_status.pod_security(key.namespace, obs.namespace_labels or {}, deployed if served else None),
        obs.approval.verdict(),
        deployment_status.ready(decision, available),
    ]
    drift = done.drift
    drift_record = DriftRecord(at=ctx.clock(), objects="; ".join(drift)[:2048]) if drift else current.last_drift
    newly_quarantined = decision.action == "Quarantine" and not obs.quarantined
    if newly_quarantined:  # counted before the status shows it: whoever sees the condition sees the count
        ctx.metrics.quarantines.labels(key.namespace).inc()
    serving = {
        "replicas": replicas if served else 0,
        "availableReplicas": int(((deployed or {}).get("status") or {}).get("availableReplicas") or 0) if served else 0,
        "endpoint": workload.endpoint(key.name, key.namespace) if served else None,
    }
    children = done.children
    if await _status(ctx, key, body, current, verdicts, served, children, drift_record, obs.approval.status(), serving):
        log.info("%s: %s %s", key, decision.action, decision.reason)
    drift_reported(ctx, key)  # the status holds it (a failed write raised above)
    if drift:
        await ctx.events.record(body, "Warning", Reason.DRIFT_REVERTED, enforced.message, action="Enforce")
    if newly_quarantined:
        await ctx.events.record(body, "Warning", Reason.QUARANTINED, decision.message, action="Quarantine")
    return None


async def _status(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    current: AIDeploymentStatus,
    verdicts: list[Verdict],
    served: str | None,
    children: list[str],
    drift: DriftRecord | None,
    approval: dict[str, Any] | None = None,
    serving: dict[str, Any] | None = None,
) -> bool:
    ready = next((v for v in verdicts if v.type == Cond.READY), None)
    kstatus = progress(ready, deployment_status.IN_FLIGHT) if ready is not None else []
    conditions = merge_conditions(current.conditions, [*verdicts, *kstatus], generation_of(body), ctx.clock())
    return await write_status(
        ctx,
        AIDEPLOYMENTS,
        key,
        body,
        {
            "observedGeneration": generation_of(body),
            "conditions": [c.wire() for c in conditions],
            "servedDigest": served,
            "children": children,
            "lastDrift": drift.wire() if drift else None,
            "approval": approval,
            **(serving or {}),
        },
    )
