"""TrustPolicy reconciler: check that every key, CA and trust configuration loads, and report it in status."""

from __future__ import annotations

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import TRUSTPOLICIES
from modelguard.adapters.secrets import policy_keys, sigstore_trust_config
from modelguard.adapters.sigstore_keyless import check_trust_config
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.trustpolicy import TrustPolicySpec, TrustPolicyStatus
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.trust import TrustedCA, TrustedIdentity
from modelguard.reconcilers.context import Context, spec_error, write_status


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    try:
        status = TrustPolicyStatus.model_validate(body.get("status") or {})
    except ValidationError:
        status = TrustPolicyStatus()
    try:
        spec = TrustPolicySpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        verdict = Verdict(Cond.READY, "False", Reason.INVALID_SPEC, spec_error(exc))
    else:
        resolved = await policy_keys(ctx.kube, ctx.operator_namespace, spec)
        declared = {k.id for k in spec.keys} | {c.id for c in spec.certificate_authorities}
        missing = sorted(declared - {k.id for k in resolved})
        if spec.sigstore_trust_config is not None:
            try:
                check_trust_config(await sigstore_trust_config(ctx.kube, ctx.operator_namespace, spec) or b"")
            except (Retry, VerificationError):
                missing.append(f"sigstoreTrustConfig (ConfigMap {spec.sigstore_trust_config.name})")
        invalid = []
        for trusted in resolved:
            try:
                trusted.validate()
            except VerificationError:
                invalid.append(trusted.id)
        active = [k for k in resolved if not k.revoked and k.id not in invalid]
        if missing or invalid:
            problems = [f"unreadable: {', '.join(missing)}"] if missing else []
            problems += (
                [f"not ECDSA P-256/P-384/P-521 keys or PEM certificates: {', '.join(invalid)}"] if invalid else []
            )
            verdict = Verdict(Cond.READY, "False", Reason.INVALID_KEY, "; ".join(problems))
        elif not active:
            verdict = Verdict(
                Cond.READY,
                "False",
                Reason.NO_USABLE_KEY,
                "every key, certificate authority and Sigstore identity is revoked",
            )
        else:
            cas = sum(1 for k in active if isinstance(k, TrustedCA))
            identities = sum(1 for k in active if isinstance(k, TrustedIdentity))
            verdict = Verdict(
                Cond.READY,
                "True",
                Reason.KEYS_LOADED,
                f"{len(active) - cas - identities} usable key(s), {cas} certificate authorities, {identities} "
                f"Sigstore identities, {len(resolved) - len(active)} revoked",
            )
    conditions = merge_conditions(status.conditions, [verdict], generation_of(body), ctx.clock())
    await write_status(
        ctx,
        TRUSTPOLICIES,
        key,
        body,
        {"observedGeneration": generation_of(body), "conditions": [c.wire() for c in conditions]},
    )
    return None
