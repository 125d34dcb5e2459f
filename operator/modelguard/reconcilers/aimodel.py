"""AIModel reconciler: gather facts -> pre-checks (domain) -> verify (adapters, off-loop) -> scan -> status.

Verification runs once per set of inputs (AIModel generation, TrustPolicy generation); the inputs of
the last completed attempt are recorded in status, so a restart does not verify again and any input
change does. Transient problems (unreachable source) are retried with backoff and never recorded as a
verdict; nothing but a successful verification sets Verified=True. When a maintenance scan is due
(schedule or the scan-now annotation) the model is re-verified regardless of the recorded inputs and
the scan's checks run; everything lands in one status write.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.model_sources import Fetch
from modelguard.adapters.secrets import policy_keys
from modelguard.adapters.source_slots import SourceBusy
from modelguard.adapters.verifier import Verified
from modelguard.api.aimodel import AIModelSpec, AIModelStatus, ScanSummary, VerificationAttempt, VerifiedRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import decommission as decommission_plan
from modelguard.domain import schedule
from modelguard.domain.conditions import Verdict, find, generation_of
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import (
    ModelFacts,
    first_problem,
    keeps_last_verified,
    missing_card_fields,
    signature_location,
)
from modelguard.domain.policy_reading import PolicyReading, read_policy
from modelguard.reconcilers import decommission, finalizer, model_access, model_status, scan
from modelguard.reconcilers.context import Context, lookup, spec_error, status_view

log = logging.getLogger(__name__)
SLOW_VERIFICATION = 1.0  # seconds before Reason.VERIFYING is written to status
OVERRIDE = "modelguard.io/quarantine-override"


@dataclass
class Outcome:
    verdict: Verdict
    record: VerifiedRecord | None
    attempt: VerificationAttempt | None


async def _verify(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIModelSpec,
    policy: TrustPolicySpec,
    status: AIModelStatus,
    deep: bool,
) -> Verified:
    with ctx.verifier.slots.hold(key.namespace, key):  # or SourceBusy: woken when a slot frees
        creds = await model_access.credentials(ctx, key.namespace, spec)
        allowed = tuple(policy.allowed_sources)
        signature = await model_access.signature(ctx, key, spec, allowed, creds)
        keys = await policy_keys(ctx.kube, ctx.operator_namespace, policy)
        request = Fetch(spec.source.uri, spec.signature.format, keys, ctx.clock(), creds, deep=deep)
        task = asyncio.ensure_future(ctx.verifier.verify(request, signature, allowed=allowed))
        done, _ = await asyncio.wait({task}, timeout=SLOW_VERIFICATION)
        if not done and not deep:  # a big model: say so while hashing goes on (scans write once, at the end)
            verifying = Verdict(Cond.VERIFIED, "Unknown", Reason.VERIFYING, "verifying the model's signature and bytes")
            await model_status.write(ctx, key, body, status, [verifying], {})
        return await task


async def _evaluate(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIModelSpec,
    reading: PolicyReading,
    labels: dict[str, str] | None,
    policy_generation: int,
    status: AIModelStatus,
    now: datetime,
    force: bool,
) -> Outcome:
    """The Verified verdict, the trusted record and the attempt, verifying if the inputs changed (or forced)."""
    generation = generation_of(body)
    record, attempt = status.verified, status.attempt
    policy = reading.spec
    problem = first_problem(
        ModelFacts(key.namespace, labels, spec, policy, None if reading.usable else reading.problem())
    )
    verified_by_attempt = False
    if problem is None and policy is not None:
        shown = find(status.conditions, Cond.VERIFIED)
        current = (
            attempt is not None
            and (attempt.generation, attempt.policy_generation) == (generation, policy_generation)
            and shown is not None
            and shown.reason == attempt.reason
            and shown.observed_generation == generation
        )
        if current and not force:  # the last completed verification covered exactly these inputs
            return Outcome(_verdict_from_status(status, generation), record, attempt)
        try:
            result = await _verify(ctx, key, body, spec, policy, status, deep=force)
        except SourceBusy as exc:  # not a failure: wait to be woken
            shown = find(status.conditions, Cond.VERIFIED)
            if shown is None or shown.observed_generation != generation:  # a new spec: say it waits (once)
                queued = Verdict(Cond.VERIFIED, "Unknown", exc.reason, exc.message)
                await model_status.write(ctx, key, body, status, [queued], {})
            raise  # else the last attempt's verdict (a timeout, say) stays: it says more
        except Retry as exc:
            if force:  # a scan still reports the unreachable source
                return Outcome(
                    Verdict(Cond.VERIFIED, "False", exc.reason, f"{exc.message}; retrying with backoff"),
                    record,
                    attempt,
                )
            waiting = Verdict(Cond.VERIFIED, "False", exc.reason, f"{exc.message}; retrying with backoff")
            await model_status.write(
                ctx, key, body, status, [waiting, model_status.summary(waiting, waiting, False)], {}
            )
            raise
        except VerificationError as exc:
            problem = exc
            verified_by_attempt = True
        else:
            ctx.metrics.verifications.labels(Reason.SIGNATURE_VALID).inc()
            ctx.metrics.verification_duration.labels(Reason.SIGNATURE_VALID).observe(result.seconds)
            ctx.metrics.verified_bytes.inc(result.bytes)
            record = VerifiedRecord(
                digest=result.digest,
                source=spec.source.uri,
                signature=signature_location(spec),
                signer=result.signer,
                files=result.files,
                bytes=result.bytes,
                duration_seconds=round(result.seconds, 3),
                policy_generation=policy_generation,
                generation=generation,
                at=now,
            )
            return Outcome(
                Verdict(
                    Cond.VERIFIED,
                    "True",
                    Reason.SIGNATURE_VALID,
                    f"{result.files} file(s) verified, signed by {result.signer}, digest {result.digest}",
                ),
                record,
                VerificationAttempt(
                    generation=generation, policy_generation=policy_generation, at=now, reason=Reason.SIGNATURE_VALID
                ),
            )
    assert problem is not None
    ctx.metrics.verifications.labels(problem.reason).inc()
    if not keeps_last_verified(problem.reason, spec, record, policy, now):
        record = None
    if verified_by_attempt:  # pre-check verdicts (policy, namespace, sources) are re-evaluated every time
        attempt = VerificationAttempt(
            generation=generation, policy_generation=policy_generation, at=now, reason=problem.reason
        )
    return Outcome(Verdict(Cond.VERIFIED, "False", problem.reason, problem.message), record, attempt)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        ctx.metrics.forget(key.namespace, key.name)
        return None
    status = model_status.as_status(status_view(ctx, key, body))
    try:
        spec = AIModelSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        invalid = Verdict(Cond.VERIFIED, "False", Reason.INVALID_SPEC, spec_error(exc))
        await model_status.write(ctx, key, body, status, [invalid, model_status.summary(invalid, invalid, False)], {})
        return None

    meta = body.get("metadata") or {}
    deleting = bool(meta.get("deletionTimestamp"))
    end = decommission_plan.trigger(spec, deleting, ctx.clock())
    if end is not None or status.decommission is not None:
        return await decommission.run_end_of_life(ctx, key, body, spec, status, end or status.decommission.trigger)  # type: ignore[union-attr]
    if finalizer.FINALIZER not in (meta.get("finalizers") or []):
        await finalizer.add(ctx, key, meta)
    # read through the cache: right after a start or a takeover it may not hold them yet
    policy_body = await lookup(ctx, Key("TrustPolicy", "", spec.trust_policy))
    reading = read_policy(spec.trust_policy, policy_body)
    namespace = await lookup(ctx, Key("Namespace", "", key.namespace))
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {} if namespace else None
    policy_generation = generation_of(policy_body) if policy_body else 0
    now = ctx.clock()
    annotations = meta.get("annotations") or {}
    trigger = scan.due(annotations, status.last_scan, status.next_scan, now)

    last_scan: ScanSummary | None = status.last_scan
    scan_verdict: Verdict | None = None
    if trigger is not None:
        with ctx.verifier.slots.hold(key.namespace, key), ctx.metrics.scan_running():  # or SourceBusy
            outcome = await _evaluate(ctx, key, body, spec, reading, labels, policy_generation, status, now, True)
            result = await scan.run(
                ctx, key, body, spec, reading.spec, outcome.verdict, outcome.record, status.last_scan, trigger, now
            )
        last_scan, scan_verdict = result.summary, result.verdict
    else:
        outcome = await _evaluate(ctx, key, body, spec, reading, labels, policy_generation, status, now, False)

    generation = generation_of(body)
    next_scan = status.next_scan
    if trigger is not None or next_scan is None or status.observed_generation != generation:
        next_scan = (
            schedule.next_due(spec.maintenance.schedule, now, meta.get("uid", key.name))
            if schedule.valid(spec.maintenance.schedule)
            else None
        )
    if outcome.record is None and outcome.verdict.status == "False":
        next_scan = None  # nothing trusted, nothing served: no maintenance scans until a version verifies
    documented = _documentation(spec, reading)
    warn_only = reading.warn_only
    verdicts = [
        outcome.verdict,
        documented,
        model_status.summary(outcome.verdict, documented, warn_only),
        _override(annotations),
    ]
    if scan_verdict is not None:
        verdicts.append(scan_verdict)
    fields = {
        "verified": model_status.wire(outcome.record),
        "attempt": model_status.wire(outcome.attempt),
        "lastScan": model_status.wire(last_scan),
        "nextScan": next_scan.isoformat().replace("+00:00", "Z") if next_scan else None,
    }
    if await model_status.write(ctx, key, body, status, verdicts, fields):
        log.info("%s: Verified=%s %s", key, outcome.verdict.status, outcome.verdict.reason)
    if next_scan is None:
        return None
    return max(1.0, (next_scan - ctx.clock()).total_seconds())


def _override(annotations: dict[str, str]) -> Verdict:
    justification = annotations.get(OVERRIDE, "").strip()
    if justification:
        return Verdict(
            Cond.QUARANTINE_OVERRIDDEN,
            "True",
            Reason.OVERRIDE_ANNOTATION,
            f"scan quarantine lifted by annotation {OVERRIDE}: {justification[:300]}",
        )
    return Verdict(Cond.QUARANTINE_OVERRIDDEN, "False", Reason.NO_OVERRIDE, "no override")


def _verdict_from_status(status: AIModelStatus, generation: int) -> Verdict:
    condition = find(status.conditions, Cond.VERIFIED)
    if condition is not None and condition.observed_generation == generation:
        return Verdict(Cond.VERIFIED, condition.status, condition.reason, condition.message)
    return Verdict(Cond.VERIFIED, "Unknown", Reason.AWAITING_VERIFICATION, "verification has not completed yet")


def _documentation(spec: AIModelSpec, reading: PolicyReading) -> Verdict:
    policy = reading.spec
    if policy is None:
        return Verdict(
            Cond.DOCUMENTED, "Unknown", reading.reason, f"no policy to check the model card against: {reading.message}"
        )
    missing = missing_card_fields(spec, policy)
    if missing:
        return Verdict(
            Cond.DOCUMENTED,
            "False",
            Reason.MISSING_DOCUMENTATION,
            f"the TrustPolicy requires model card fields: {', '.join(missing)}",
        )
    return Verdict(Cond.DOCUMENTED, "True", Reason.CARD_COMPLETE, "the model card has every field the policy requires")
