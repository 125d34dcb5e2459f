"""AIModel reconciler: gather facts -> decide (domain) -> write status."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import AIMODELS
from modelguard.api.aimodel import AIModelSpec
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.reconcilers.context import (
    Context,
    current_conditions,
    generation_of,
    spec_error,
    write_status,
)

log = logging.getLogger(__name__)


def _summary(verified: Verdict) -> Verdict:
    return Verdict("Ready", "True" if verified.status == "True" else "False", verified.reason, verified.message)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    generation = generation_of(body)
    try:
        spec = AIModelSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        verified = Verdict("Verified", "False", "InvalidSpec", spec_error(exc))
    else:
        policy = ctx.store.get(Key("TrustPolicy", "", spec.trust_policy))
        if policy is None:
            verified = Verdict(
                "Verified",
                "False",
                "TrustPolicyNotFound",
                f"TrustPolicy {spec.trust_policy!r} does not exist",
            )
        else:
            verified = Verdict(
                "Verified",
                "Unknown",
                "AwaitingVerification",
                "the model's signature and digests have not been verified yet",
            )
    conditions = merge_conditions(current_conditions(body), [verified, _summary(verified)], generation, ctx.clock())
    status = {
        "observedGeneration": generation,
        "conditions": [c.wire() for c in conditions],
    }
    if await write_status(ctx, AIMODELS, key, body, status):
        log.info("%s: Verified=%s %s", key, verified.status, verified.reason)
    return None
