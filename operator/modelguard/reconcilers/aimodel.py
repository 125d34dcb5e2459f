"""AIModel reconciler: observe -> end of life, or verify (and scan when due) -> decide status -> write once.

observe (reconcilers/model_observation)       the object, its TrustPolicy reading, namespace labels, clock
  -> decommission.run_end_of_life              when a decommission is due or under way (its own loop)
  -> model_verify.evaluate                     verify unless the recorded attempt covers these inputs
  -> scan.run                                  when a maintenance scan is due (forces a deep verification)
  -> domain/model_verdicts.status_plan         every verdict and the next scan time (pure)
  -> model_status.write                        one status write, with the Events of condition changes
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.api.aimodel import AIModelSpec, ScanSummary
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain import decommission as decommission_plan
from modelguard.domain import model_verdicts
from modelguard.domain.conditions import Verdict
from modelguard.reconcilers import decommission, finalizer, model_status, model_verify, scan
from modelguard.reconcilers.context import Context, spec_error, status_view
from modelguard.reconcilers.model_observation import observe

log = logging.getLogger(__name__)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        ctx.metrics.forget(key.namespace, key.name)
        return None
    try:
        spec = AIModelSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        status = model_status.as_status(status_view(ctx, key, body), None)
        invalid = Verdict(Cond.VERIFIED, "False", Reason.INVALID_SPEC, spec_error(exc))
        await model_status.write(ctx, key, body, status, [invalid, model_verdicts.summary(invalid, invalid, False)], {})
        return None
    status = model_status.as_status(status_view(ctx, key, body), spec)

    meta = body.get("metadata") or {}
    end = decommission_plan.trigger(spec, bool(meta.get("deletionTimestamp")), ctx.clock())
    if end is not None or status.decommission is not None:
        trigger = end or status.decommission.trigger  # type: ignore[union-attr]
        return await decommission.run_end_of_life(ctx, key, body, spec, status, trigger)
    if finalizer.FINALIZER not in (meta.get("finalizers") or []):
        await finalizer.add(ctx, key, meta)

    obs = await observe(ctx, key, body, spec, status)
    last_scan: ScanSummary | None = status.last_scan
    scan_verdict: Verdict | None = None
    if obs.scan_trigger is not None:
        with ctx.verifier.slots.hold(key.namespace, key), ctx.metrics.scan_running():  # or SourceBusy
            outcome = await model_verify.evaluate(ctx, key, obs, force=True)
            result = await scan.run(
                ctx,
                key,
                body,
                spec,
                obs.reading.spec,
                outcome.verdict,
                outcome.record,
                status.last_scan,
                obs.scan_trigger,
                obs.now,
            )
        last_scan, scan_verdict = result.summary, result.verdict
    else:
        outcome = await model_verify.evaluate(ctx, key, obs, force=False)

    plan = model_verdicts.status_plan(
        outcome.verdict,
        outcome.record,
        spec,
        obs.reading,
        obs.annotations,
        scan_verdict,
        obs.schedule_facts(scanned=obs.scan_trigger is not None),
        obs.now,
    )
    fields = {
        "verified": model_status.wire(outcome.record),
        "attempt": model_status.wire(outcome.attempt),
        "lastScan": model_status.wire(last_scan),
        "nextScan": plan.next_scan.isoformat().replace("+00:00", "Z") if plan.next_scan else None,
    }
    if await model_status.write(ctx, key, body, status, plan.verdicts, fields):
        log.info("%s: Verified=%s %s", key, outcome.verdict.status, outcome.verdict.reason)
    if plan.next_scan is None:
        return None
    return max(1.0, (plan.next_scan - ctx.clock()).total_seconds())
