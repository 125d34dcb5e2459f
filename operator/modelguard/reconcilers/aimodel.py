"""AIModel reconciler: gather facts -> pre-checks (domain) -> verify (adapters, off-loop) -> status.

Verification runs once per set of inputs (AIModel generation, TrustPolicy generation); the inputs of
the last completed attempt are recorded in status, so a restart does not verify again and any input
change does. Transient problems (unreachable source) are retried with backoff and never recorded as a
verdict; nothing but a successful verification sets Verified=True.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.model_sources import Fetch
from modelguard.adapters.oci import Credentials, Reference
from modelguard.adapters.resources import AIMODELS
from modelguard.adapters.secrets import configmap_value, policy_keys, registry_credentials
from modelguard.adapters.verifier import Verified
from modelguard.api.aimodel import AIModelSpec, AIModelStatus, VerificationAttempt, VerifiedRecord
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.conditions import Verdict, find, generation_of, merge_conditions
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import (
    ModelFacts,
    first_problem,
    keeps_last_verified,
    missing_card_fields,
    signature_location,
)
from modelguard.reconcilers.context import Context, current_conditions, spec_error, write_status

log = logging.getLogger(__name__)
SLOW_VERIFICATION = 1.0  # seconds before "Verifying" is written to status


def _status(body: dict[str, Any]) -> AIModelStatus:
    try:
        return AIModelStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return AIModelStatus()


async def _credentials(ctx: Context, namespace: str, spec: AIModelSpec) -> Credentials | None:
    ref = spec.source.credentials_secret_ref
    if ref is None:
        return None
    host = Reference.parse(spec.source.uri).host if spec.source.uri.startswith("oci://") else None
    return await registry_credentials(ctx.kube, namespace, ref.name, host)


async def _signature(ctx: Context, namespace: str, spec: AIModelSpec, creds: Credentials | None) -> bytes:
    if spec.signature.config_map_ref is not None:
        ref = spec.signature.config_map_ref
        return await configmap_value(ctx.kube, namespace, ref.name, ref.key)
    assert spec.signature.bundle_uri is not None
    return await ctx.verifier.signature(spec.signature.bundle_uri, creds)


async def _verify(
    ctx: Context, key: Key, body: dict[str, Any], spec: AIModelSpec, policy: TrustPolicySpec, status: AIModelStatus
) -> Verified:
    creds = await _credentials(ctx, key.namespace, spec)
    signature = await _signature(ctx, key.namespace, spec, creds)
    keys = await policy_keys(ctx.kube, ctx.operator_namespace, policy)
    request = Fetch(spec.source.uri, spec.signature.format, keys, ctx.clock(), creds)
    task = asyncio.ensure_future(ctx.verifier.verify(request, signature))
    done, _ = await asyncio.wait({task}, timeout=SLOW_VERIFICATION)
    if not done:  # a big model: say so while hashing goes on
        verifying = Verdict("Verified", "Unknown", "Verifying", "verifying the model's signature and bytes")
        await _write(ctx, key, body, status, [verifying], status.verified, status.attempt)
    return await task


async def _write(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    status: AIModelStatus,
    verdicts: list[Verdict],
    verified: VerifiedRecord | None,
    attempt: VerificationAttempt | None,
) -> bool:
    generation = generation_of(body)
    conditions = merge_conditions(status.conditions, verdicts, generation, ctx.clock())
    wire: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": [c.wire() for c in conditions],
        "verified": verified.wire() if verified else None,
        "attempt": attempt.wire() if attempt else None,
    }
    before = find(current_conditions(body), "Verified")
    written = await write_status(ctx, AIMODELS, key, body, wire)
    after = find(conditions, "Verified")
    if (
        written
        and after is not None
        and (before is None or before.status != after.status)
        and after.status != "Unknown"
    ):
        await ctx.events.record(
            body, "Normal" if after.status == "True" else "Warning", after.reason, after.message, action="Verify"
        )
    return written


def _summary(verified: Verdict, documented: Verdict, warn_only: bool) -> Verdict:
    if verified.status != "True":
        return Verdict("Ready", "False", verified.reason, verified.message)
    if documented.status != "True" and not warn_only:
        return Verdict("Ready", "False", documented.reason, documented.message)
    return Verdict("Ready", "True", "Verified", verified.message)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    generation = generation_of(body)
    status = _status(body)
    try:
        spec = AIModelSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        invalid = Verdict("Verified", "False", "InvalidSpec", spec_error(exc))
        await _write(ctx, key, body, status, [invalid, _summary(invalid, invalid, False)], None, status.attempt)
        return None

    policy_body = ctx.store.get(Key("TrustPolicy", "", spec.trust_policy))
    policy = _policy(policy_body)
    namespace = ctx.store.get(Key("Namespace", "", key.namespace))
    labels = (namespace or {}).get("metadata", {}).get("labels") or {}
    policy_generation = generation_of(policy_body) if policy_body else 0
    now = ctx.clock()

    record, attempt = status.verified, status.attempt
    problem = first_problem(ModelFacts(key.namespace, labels if namespace else None, spec, policy))
    if problem is None and policy is not None:
        current = attempt is not None and (attempt.generation, attempt.policy_generation) == (
            generation,
            policy_generation,
        )
        if current:  # the last completed attempt covered exactly these inputs
            verdict = _verdict_from_status(status, generation)
        else:
            try:
                result = await _verify(ctx, key, body, spec, policy, status)
            except Retry as exc:
                waiting = Verdict("Verified", "False", exc.reason, f"{exc.message}; retrying with backoff")
                await _write(ctx, key, body, status, [waiting, _summary(waiting, waiting, False)], record, attempt)
                raise
            except VerificationError as exc:
                problem = exc
            else:
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
                attempt = VerificationAttempt(
                    generation=generation, policy_generation=policy_generation, at=now, reason="SignatureValid"
                )
                verdict = Verdict(
                    "Verified",
                    "True",
                    "SignatureValid",
                    f"{result.files} file(s) verified, signed by {result.signer}, digest {result.digest}",
                )
    if problem is not None:
        verdict = Verdict("Verified", "False", problem.reason, problem.message)
        attempt = VerificationAttempt(
            generation=generation, policy_generation=policy_generation, at=now, reason=problem.reason
        )
        if not keeps_last_verified(problem.reason, spec, record, policy, now):
            record = None

    documented = _documentation(spec, policy)
    warn_only = policy is not None and policy.mode == "Warn"
    if await _write(
        ctx, key, body, status, [verdict, documented, _summary(verdict, documented, warn_only)], record, attempt
    ):
        log.info("%s: Verified=%s %s", key, verdict.status, verdict.reason)
    return None


def _policy(body: dict[str, Any] | None) -> TrustPolicySpec | None:
    if body is None:
        return None
    try:
        return TrustPolicySpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None


def _verdict_from_status(status: AIModelStatus, generation: int) -> Verdict:
    condition = find(status.conditions, "Verified")
    if condition is not None and condition.observed_generation == generation:
        return Verdict("Verified", condition.status, condition.reason, condition.message)
    return Verdict("Verified", "Unknown", "AwaitingVerification", "verification has not completed yet")


def _documentation(spec: AIModelSpec, policy: TrustPolicySpec | None) -> Verdict:
    if policy is None:
        return Verdict("Documented", "Unknown", "TrustPolicyNotFound", "no policy to check the model card against")
    missing = missing_card_fields(spec, policy)
    if missing:
        return Verdict(
            "Documented",
            "False",
            "MissingDocumentation",
            f"the TrustPolicy requires model card fields: {', '.join(missing)}",
        )
    return Verdict("Documented", "True", "CardComplete", "the model card has every field the policy requires")
