"""AIDeployment reconciler: gather facts -> gate (domain) -> write status."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import AIDEPLOYMENTS
from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.deployment_gate import GateFacts, evaluate
from modelguard.reconcilers.context import (
    Context,
    current_conditions,
    generation_of,
    spec_error,
    write_status,
)

log = logging.getLogger(__name__)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    generation = generation_of(body)
    verdicts: list[Verdict]
    try:
        spec = AIDeploymentSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        verdicts = [Verdict("Ready", "False", "InvalidSpec", spec_error(exc))]
    else:
        model = ctx.store.get(Key("AIModel", key.namespace, spec.model_ref.name))
        facts = GateFacts(
            namespace=key.namespace,
            spec=spec,
            model=model,
            model_generation=generation_of(model) if model else 0,
            model_conditions=current_conditions(model) if model else [],
        )
        violation = evaluate(facts)
        if violation is not None:
            verdicts = [
                Verdict(violation.condition, "False", violation.reason, violation.message),
                Verdict("Ready", "False", violation.reason, violation.message),
            ]
        else:
            verdicts = [
                Verdict("ModelVerified", "True", "ModelVerified", "the model is verified"),
                Verdict("Ready", "False", "RolloutPending", "the rollout is not implemented by this build yet"),
            ]
    conditions = merge_conditions(current_conditions(body), verdicts, generation, ctx.clock())
    status = {"observedGeneration": generation, "conditions": [c.wire() for c in conditions]}
    if await write_status(ctx, AIDEPLOYMENTS, key, body, status):
        log.info("%s: Ready=%s %s", key, verdicts[-1].status, verdicts[-1].reason)
    return None
