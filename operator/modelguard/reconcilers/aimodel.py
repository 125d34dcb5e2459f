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
from modelguard.adapters.kube import KubeError
from modelguard.adapters.model_sources import Fetch
from modelguard.adapters.resources import AIMODELS
from modelguard.adapters.secrets import policy_keys
from modelguard.adapters.source_slots import SourceBusy
from modelguard.adapters.verifier import Verified
from modelguard.api.aimodel import AIModelSpec, AIModelStatus, ScanSummary, VerificationAttempt, VerifiedRecord
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import decommission as decommission_plan
from modelguard.domain import schedule
from modelguard.domain.conditions import Verdict, find, generation_of, merge_conditions, progress
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import (
    TRANSIENT,
    ModelFacts,
    first_problem,
    keeps_last_verified,
    missing_card_fields,
    signature_location,
)
from modelguard.domain.policy_reading import PolicyReading, read_policy
from modelguard.reconcilers import decommission, model_access, scan
from modelguard.reconcilers.context import Context, current_conditions, lookup, spec_error, status_view, write_status

log = logging.getLogger(__name__)
SLOW_VERIFICATION = 1.0  # seconds before "Verifying" is written to status
OVERRIDE = "modelguard.io/quarantine-override"
FINALIZER = "modelguard.io/decommission"
EVENT_CONDITIONS = ("Verified", "ScanPassed", "QuarantineOverridden", "Decommissioned")


@dataclass
class Outcome:
    verdict: Verdict
    record: VerifiedRecord | None
    attempt: VerificationAttempt | None


def _status(status: dict[str, Any]) -> AIModelStatus:
    try:
        return AIModelStatus.model_validate(status)
    except ValidationError:
        return AIModelStatus()


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
            verifying = Verdict("Verified", "Unknown", "Verifying", "verifying the model's signature and bytes")
            await _write(ctx, key, body, status, [verifying], {})
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
        shown = find(status.conditions, "Verified")
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
            shown = find(status.conditions, "Verified")
            if shown is None or shown.observed_generation != generation:  # a new spec: say it waits (once)
                queued = Verdict("Verified", "Unknown", exc.reason, exc.message)
                await _write(ctx, key, body, status, [queued], {})
            raise  # else the last attempt's verdict (a timeout, say) stays: it says more
        except Retry as exc:
            if force:  # a scan still reports the unreachable source
                return Outcome(
                    Verdict("Verified", "False", exc.reason, f"{exc.message}; retrying with backoff"), record, attempt
                )
            waiting = Verdict("Verified", "False", exc.reason, f"{exc.message}; retrying with backoff")
            await _write(ctx, key, body, status, [waiting, _summary(waiting, waiting, False)], {})
            raise
        except VerificationError as exc:
            problem = exc
            verified_by_attempt = True
        else:
            ctx.metrics.verifications.labels("SignatureValid").inc()
            ctx.metrics.verification_duration.labels("SignatureValid").observe(result.seconds)
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
                    "Verified",
                    "True",
                    "SignatureValid",
                    f"{result.files} file(s) verified, signed by {result.signer}, digest {result.digest}",
                ),
                record,
                VerificationAttempt(
                    generation=generation, policy_generation=policy_generation, at=now, reason="SignatureValid"
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
    return Outcome(Verdict("Verified", "False", problem.reason, problem.message), record, attempt)


async def _write(
    ctx: Context, key: Key, body: dict[str, Any], status: AIModelStatus, verdicts: list[Verdict], fields: dict[str, Any]
) -> bool:
    generation = generation_of(body)
    conditions = merge_conditions(status.conditions, [*verdicts, *_progress(verdicts)], generation, ctx.clock())
    wire: dict[str, Any] = {"observedGeneration": generation, "conditions": [c.wire() for c in conditions], **fields}
    before = {c.type: c.status for c in current_conditions(body)}
    written = await write_status(ctx, AIMODELS, key, body, wire)
    if written:
        for cond in conditions:
            if (
                cond.type in EVENT_CONDITIONS
                and before.get(cond.type) != cond.status
                and cond.status != "Unknown"
                and (cond.type != "ScanPassed")  # scans post their own Event
                and not (cond.type == "QuarantineOverridden" and cond.status == "False" and cond.type not in before)
            ):  # (no override at all is not news: only setting or lifting one is)
                good = cond.status == "True" and cond.type != "QuarantineOverridden"
                await ctx.events.record(
                    body, "Normal" if good else "Warning", cond.reason, cond.message, action=cond.type
                )
    return written


IN_FLIGHT = TRANSIENT | {"InProgress", "LegalHold"}


def _progress(verdicts: list[Verdict]) -> list[Verdict]:
    """Reconciling and Stalled (kstatus) from what this write says: a decommission's state when there is one
    (a blocked step needs a change), else Ready, else the Verified verdict alone (verifying)."""
    by_type = {v.type: v for v in verdicts}
    ending = by_type.get("Decommissioned")
    if ending is not None:
        return progress(Verdict("Ready", ending.status, ending.reason, ending.message), IN_FLIGHT)
    basis = by_type.get("Ready") or by_type.get("Verified")
    return progress(basis, IN_FLIGHT) if basis is not None else []


def _summary(verified: Verdict, documented: Verdict, warn_only: bool) -> Verdict:
    if verified.status != "True":
        return Verdict("Ready", "False", verified.reason, verified.message)
    if documented.status != "True" and not warn_only:
        return Verdict("Ready", "False", documented.reason, documented.message)
    return Verdict("Ready", "True", "Verified", verified.message)


def _wire(model: Any) -> Any:
    return model.wire() if model is not None else None


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        ctx.metrics.forget(key.namespace, key.name)
        return None
    status = _status(status_view(ctx, key, body))
    try:
        spec = AIModelSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        invalid = Verdict("Verified", "False", "InvalidSpec", spec_error(exc))
        await _write(ctx, key, body, status, [invalid, _summary(invalid, invalid, False)], {})
        return None

    meta = body.get("metadata") or {}
    deleting = bool(meta.get("deletionTimestamp"))
    end = decommission_plan.trigger(spec, deleting, ctx.clock())
    if end is not None or status.decommission is not None:
        return await _end_of_life(ctx, key, body, spec, status, end or status.decommission.trigger)  # type: ignore[union-attr]
    if FINALIZER not in (meta.get("finalizers") or []):
        await _add_finalizer(ctx, key, meta)
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
    verdicts = [outcome.verdict, documented, _summary(outcome.verdict, documented, warn_only), _override(annotations)]
    if scan_verdict is not None:
        verdicts.append(scan_verdict)
    fields = {
        "verified": _wire(outcome.record),
        "attempt": _wire(outcome.attempt),
        "lastScan": _wire(last_scan),
        "nextScan": next_scan.isoformat().replace("+00:00", "Z") if next_scan else None,
    }
    if await _write(ctx, key, body, status, verdicts, fields):
        log.info("%s: Verified=%s %s", key, outcome.verdict.status, outcome.verdict.reason)
    if next_scan is None:
        return None
    return max(1.0, (next_scan - ctx.clock()).total_seconds())


async def _add_finalizer(ctx: Context, key: Key, meta: dict[str, Any]) -> None:
    """Deleting the model must run its decommission first (TS 104 223 5.5.1)."""
    finalizers = [*(meta.get("finalizers") or []), FINALIZER]
    try:
        await ctx.kube.merge_patch(
            AIMODELS,
            key.namespace,
            key.name,
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}},
        )
    except KubeError as exc:
        if exc.conflict:
            raise Retry("Conflict", "the AIModel changed while adding the finalizer") from None
        raise


async def _release_finalizer(ctx: Context, key: Key, meta: dict[str, Any]) -> None:
    current = list(meta.get("finalizers") or [])
    if FINALIZER not in current:
        return
    ops = [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": [f for f in current if f != FINALIZER]},
    ]
    try:
        await ctx.kube.json_patch(AIMODELS, key.namespace, key.name, ops)
    except KubeError as exc:
        if exc.not_found:  # released already and gone
            return
        if exc.status == 422:  # the finalizers changed meanwhile: look again
            raise Retry("Conflict", "the finalizers changed while releasing ours") from None
        raise


async def _end_of_life(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIModelSpec,
    status: AIModelStatus,
    trigger: decommission_plan.Trigger,
) -> float | None:
    """Decommission: legal hold blocks everything; otherwise run the plan step by step, recording progress."""
    meta = body.get("metadata") or {}
    if spec.end_of_life.legal_hold and not (status.decommission and status.decommission.completed_at):
        hold = Verdict(
            "Decommissioned",
            "False",
            "LegalHold",
            f"{trigger}: blocked by a legal hold (spec.endOfLife.legalHold); nothing is deleted",
        )
        await _write(ctx, key, body, status, [hold, Verdict("Ready", "False", "LegalHold", hold.message)], {})
        return None
    progress = await decommission.start(ctx, body, status, trigger)
    current_body, current_status = body, status
    while decommission_plan.next_step(progress.steps) is not None:
        try:
            progress = await decommission.step(ctx, key, current_body, spec, progress)
        except decommission.StepFailed as failed:
            name = decommission_plan.next_step(failed.progress.steps) or "Step"
            blocked = Verdict(
                "Decommissioned", "False", f"{name}Failed", f"{failed.cause.reason}: {failed.cause.message}"
            )
            shown = find(current_status.conditions, "Decommissioned")
            if shown is None or shown.reason != blocked.reason:  # False before and after: say it once, here
                await ctx.events.record(current_body, "Warning", blocked.reason, blocked.message, action="Decommission")
            await _write(
                ctx,
                key,
                current_body,
                current_status,
                [blocked, Verdict("Ready", "False", "Decommissioning", blocked.message)],
                {"decommission": failed.progress.wire()},
            )
            raise Retry(failed.cause.reason, failed.cause.message) from None
        pending = decommission_plan.next_step(progress.steps)
        verdict = (
            Verdict(
                "Decommissioned",
                "True",
                "CertificateIssued",
                f"decommissioned; DecommissionCertificate {progress.certificate}",
            )
            if pending is None
            else Verdict("Decommissioned", "False", "InProgress", f"next step: {pending}")
        )
        await _write(
            ctx,
            key,
            current_body,
            current_status,
            [
                verdict,
                Verdict("Ready", "False", "Decommissioned" if pending is None else "Decommissioning", verdict.message),
            ],
            {"decommission": progress.wire()},
        )
        current_body = ctx.store.get(key) or current_body
        current_status = _status(status_view(ctx, key, current_body))
        if pending is not None and ctx.decommission_step_delay:
            await asyncio.sleep(ctx.decommission_step_delay)
    if trigger == "Deletion" or meta.get("deletionTimestamp"):
        await decommission.forget_requester(ctx, str(meta.get("uid", "")))  # it is in the certificate now
        await _release_finalizer(ctx, key, (ctx.store.get(key) or body).get("metadata") or meta)
    return None


def _override(annotations: dict[str, str]) -> Verdict:
    justification = annotations.get(OVERRIDE, "").strip()
    if justification:
        return Verdict(
            "QuarantineOverridden",
            "True",
            "OverrideAnnotation",
            f"scan quarantine lifted by annotation {OVERRIDE}: {justification[:300]}",
        )
    return Verdict("QuarantineOverridden", "False", "NoOverride", "no override")


def _verdict_from_status(status: AIModelStatus, generation: int) -> Verdict:
    condition = find(status.conditions, "Verified")
    if condition is not None and condition.observed_generation == generation:
        return Verdict("Verified", condition.status, condition.reason, condition.message)
    return Verdict("Verified", "Unknown", "AwaitingVerification", "verification has not completed yet")


def _documentation(spec: AIModelSpec, reading: PolicyReading) -> Verdict:
    policy = reading.spec
    if policy is None:
        return Verdict(
            "Documented", "Unknown", reading.reason, f"no policy to check the model card against: {reading.message}"
        )
    missing = missing_card_fields(spec, policy)
    if missing:
        return Verdict(
            "Documented",
            "False",
            "MissingDocumentation",
            f"the TrustPolicy requires model card fields: {', '.join(missing)}",
        )
    return Verdict("Documented", "True", "CardComplete", "the model card has every field the policy requires")
