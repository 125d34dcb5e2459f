"""Verify one AIModel: the Verified verdict, the trusted record and the attempt, from its observation.

Verification runs once per set of inputs (AIModel generation, TrustPolicy generation): when the recorded
attempt covers them (domain/model_verdicts.verification_current) the recorded verdict stands, unless a
maintenance scan forces a deep re-verification. Transient problems (unreachable source) are retried with
backoff and never recorded as a verdict; nothing but a successful verification sets Verified=True.
Interim status writes say what is going on while it lasts (`Verifying` for a big model, `Queued` while
the source's slots are taken, the retried reason); the verdict itself is written once by the caller.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from modelguard.adapters.cache import Key
from modelguard.adapters.secrets import policy_keys, sigstore_trust_config
from modelguard.adapters.sigstore_keyless import is_keyless
from modelguard.adapters.source_slots import SourceBusy
from modelguard.adapters.sources import Fetch
from modelguard.adapters.verifier import Verified
from modelguard.api.aimodel import (
    InspectionRecord,
    SignatureReference,
    VerificationAttempt,
    VerifiedBy,
    VerifiedRecord,
)
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import model_verdicts
from modelguard.domain.conditions import Verdict, find
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import ModelFacts, first_problem, keeps_last_verified
from modelguard.domain.policy_reading import PolicyReading
from modelguard.domain.statement import unpack_signature
from modelguard.domain.trust import SignedBy
from modelguard.domain.verified_record import signature_digest
from modelguard.reconcilers import model_access, model_status, references
from modelguard.reconcilers.context import Context
from modelguard.reconcilers.model_observation import ModelObservation

SLOW_VERIFICATION = 1.0  # seconds before "Verifying" is written to status


@dataclass
class Outcome:
    verdict: Verdict
    record: VerifiedRecord | None
    attempt: VerificationAttempt | None


async def _verify(
    ctx: Context, key: Key, obs: ModelObservation, policy: TrustPolicySpec, deep: bool
) -> tuple[Verified, bytes]:
    """The verification and the signature bytes that verified."""
    spec = obs.spec
    await references.require(ctx, "AIModel", obs.body, "credentials")  # never on the tenant's word alone
    await references.require(ctx, "AIModel", obs.body, "signatureConfigMap")
    with ctx.verifier.slots.hold(key.namespace, key):  # or SourceBusy: woken when a slot frees
        creds = await model_access.credentials(ctx, key.namespace, spec)
        allowed = tuple(policy.allowed_sources)
        signature = await model_access.signature(ctx, key, spec, allowed, creds)
        keys = await policy_keys(ctx.kube, ctx.operator_namespace, policy)
        # a private Sigstore's trust configuration matters only to a keyless signature (a missing one must not
        # hold models signed with a key or a certificate)
        keyless = spec.signature.format == "model-signing" and is_keyless(unpack_signature(signature))
        trust_config = await sigstore_trust_config(ctx.kube, ctx.operator_namespace, policy) if keyless else None
        request = Fetch(
            spec.source.uri,
            spec.signature.format,
            keys,
            obs.now,
            creds,
            deep=deep,
            trust_config=trust_config,
            inspect=model_verdicts.inspection_rules(obs.reading),
        )
        task = asyncio.ensure_future(ctx.verifier.verify(request, signature, allowed=allowed))
        done, _ = await asyncio.wait({task}, timeout=SLOW_VERIFICATION)
        if not done and not deep:  # a big model: say so while hashing goes on (scans write once, at the end)
            verifying = Verdict(Cond.VERIFIED, "Unknown", Reason.VERIFYING, "verifying the model's signature and bytes")
            await model_status.write(ctx, key, obs.body, obs.status, [verifying], {})
        return await task, signature


async def evaluate(ctx: Context, key: Key, obs: ModelObservation, force: bool) -> Outcome:
    """The Verified verdict, the trusted record and the attempt, verifying if the inputs changed (or forced)."""
    spec, status, reading, now = obs.spec, obs.status, obs.reading, obs.now
    generation, policy_generation = obs.generation, obs.policy_generation
    record, attempt = status.verified, status.attempt
    policy = reading.spec
    facts = ModelFacts(key.namespace, obs.namespace_labels, spec, policy, None if reading.usable else reading.problem())
    problem = first_problem(facts)
    verified_by_attempt = False
    if problem is None and policy is not None:
        inspect = model_verdicts.inspection_required(reading)
        if model_verdicts.verification_current(status, generation, policy_generation, inspect) and not force:
            return Outcome(model_verdicts.verdict_from_status(status, generation), record, attempt)
        try:
            result, signature = await _verify(ctx, key, obs, policy, deep=force)
        except SourceBusy as exc:  # not a failure: wait to be woken
            shown = find(status.conditions, Cond.VERIFIED)
            if shown is None or shown.observed_generation != generation:  # a new spec: say it waits (once)
                queued = Verdict(Cond.VERIFIED, "Unknown", exc.reason, exc.message)
                await model_status.write(ctx, key, obs.body, status, [queued], {})
            raise  # else the last attempt's verdict (a timeout, say) stays: it says more
        except Retry as exc:
            waiting = Verdict(Cond.VERIFIED, "False", exc.reason, f"{exc.message}; retrying with backoff")
            if force:  # a scan still reports the unreachable source
                return Outcome(waiting, record, attempt)
            await model_status.write(
                ctx, key, obs.body, status, [waiting, model_verdicts.summary(waiting, waiting, False)], {}
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
                signature_ref=SignatureReference.of(spec.signature, signature_digest(signature)),
                verified_by=_verified_by(result.signed_by),
                signer=result.signed_by.signer,
                inspection=_inspection(result, reading, now),
                files=result.files,
                bytes=result.bytes,
                duration_seconds=round(result.seconds, 3),
                policy_generation=policy_generation,
                generation=generation,
                at=now,
            )
            message = f"{result.files} file(s) verified, signed by {record.signer}, digest {result.digest}"
            return Outcome(
                Verdict(Cond.VERIFIED, "True", Reason.SIGNATURE_VALID, message),
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


def _verified_by(signed_by: SignedBy) -> VerifiedBy:
    return VerifiedBy(
        method=signed_by.method,
        trusted=signed_by.anchor,
        subject=signed_by.subject,
        issuer=signed_by.issuer,
        log_index=signed_by.log_index,
    )


def _inspection(result: Verified, reading: PolicyReading, now: datetime) -> InspectionRecord | None:
    rules = model_verdicts.inspection_rules(reading)
    if rules is None or result.inspection is None:
        return None
    return model_verdicts.inspection_record(result.inspection, rules, now)
