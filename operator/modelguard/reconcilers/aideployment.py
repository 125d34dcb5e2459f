"""AIDeployment reconciler: gather facts -> decide (domain) -> build (builders) -> apply -> status."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import AIDEPLOYMENTS, CONFIGMAPS, DEPLOYMENTS, SERVICEACCOUNTS, SERVICES
from modelguard.adapters.secrets import configmap_value, policy_keys
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.builders import workload
from modelguard.builders.labels import DIGEST_ANNOTATION
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.rollout import Decision, ModelView, decide
from modelguard.reconcilers.context import Context, spec_error, write_status

log = logging.getLogger(__name__)
QUARANTINE_MANAGER = "modelguard-quarantine"


def _parse(model_body: dict[str, Any] | None, policy_body: dict[str, Any] | None) -> ModelView | None:
    if model_body is None:
        return None
    try:
        spec: AIModelSpec | None = AIModelSpec.model_validate(model_body.get("spec") or {})
    except ValidationError:
        spec = None
    try:
        status = AIModelStatus.model_validate(model_body.get("status") or {})
    except ValidationError:
        status = AIModelStatus()
    warn = False
    if policy_body is not None:
        try:
            warn = TrustPolicySpec.model_validate(policy_body.get("spec") or {}).mode == "Warn"
        except ValidationError:
            warn = False
    return ModelView(spec, status, generation_of(model_body), warn)


def _availability(deployment: dict[str, Any] | None, replicas: int) -> Verdict:
    if deployment is None:
        return Verdict("Available", "False", "NotDeployed", "no workload is deployed")
    status = deployment.get("status") or {}
    if replicas == 0:
        return Verdict("Available", "False", "ScaledToZero", "the workload is scaled to zero")
    current = (status.get("observedGeneration") or 0) >= (deployment.get("metadata", {}).get("generation") or 0)
    available = int(status.get("availableReplicas") or 0)
    if current and available >= replicas:
        return Verdict("Available", "True", "MinimumReplicasAvailable", f"{available}/{replicas} replicas available")
    return Verdict("Available", "False", "ReplicasUnavailable", f"{available}/{replicas} replicas available")


async def _apply_workload(
    ctx: Context, key: Key, body: dict[str, Any], spec: AIDeploymentSpec, model: ModelView, decision: Decision
) -> list[str]:
    assert model.spec is not None
    assert decision.digest is not None
    record = model.status.verified
    if record is None or record.digest != decision.digest:
        raise Retry("WaitingForModel", "the model's verification record is not available yet")
    policy_body = ctx.store.get(Key("TrustPolicy", "", model.spec.trust_policy))
    if policy_body is None:
        raise Retry("TrustPolicyNotFound", f"TrustPolicy {model.spec.trust_policy!r} is gone")
    keys = await policy_keys(
        ctx.kube, ctx.operator_namespace, TrustPolicySpec.model_validate(policy_body.get("spec") or {})
    )
    signer = next((k for k in keys if k.id == record.signer), None)
    if signer is None:
        raise Retry("SignerNotFound", f"signing key {record.signer!r} is no longer in the TrustPolicy")
    if model.spec.signature.config_map_ref is not None:
        ref = model.spec.signature.config_map_ref
        signature = await configmap_value(ctx.kube, key.namespace, ref.name, ref.key)
    else:
        assert model.spec.signature.bundle_uri is not None
        signature = await ctx.verifier.signature(model.spec.signature.bundle_uri, None)
    creds = model.spec.source.credentials_secret_ref
    facts = workload.WorkloadFacts(
        name=key.name,
        namespace=key.namespace,
        uid=body["metadata"]["uid"],
        spec=spec,
        digest=record.digest,
        source=record.source,
        signature_format=model.spec.signature.format,
        signer=record.signer,
        operator_image=ctx.operator_image,
        credentials_secret=creds.name if creds else None,
        replicas=0 if decision.action == "Quarantine" else None,
    )
    objects = [
        (SERVICEACCOUNTS, workload.service_account(facts)),
        (CONFIGMAPS, workload.verify_config(facts, signature, signer.pem)),
        (DEPLOYMENTS, workload.deployment(facts)),
        (SERVICES, workload.service(facts)),
    ]
    if spec.service_account_name:
        objects = objects[1:]
    for resource, obj in objects:
        await ctx.kube.apply(resource, obj)
    return [f"{obj['kind']}/{obj['metadata']['name']}" for _, obj in objects]


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        return None
    try:
        current = AIDeploymentStatus.model_validate(body.get("status") or {})
    except ValidationError:
        current = AIDeploymentStatus()
    try:
        spec = AIDeploymentSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        invalid = Verdict("Ready", "False", "InvalidSpec", spec_error(exc))
        await _status(ctx, key, body, current, [invalid], current.served_digest, current.children)
        return None

    model_body = ctx.store.get(Key("AIModel", key.namespace, spec.model_ref.name))
    policy_name = ((model_body or {}).get("spec") or {}).get("trustPolicy")
    model = _parse(model_body, ctx.store.get(Key("TrustPolicy", "", policy_name)) if policy_name else None)
    deployment_name = workload.names(key.name)["deployment"]
    deployed = ctx.store.get(Key("Deployment", key.namespace, deployment_name))
    served = ((deployed or {}).get("metadata", {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    decision = decide(model, spec.model_ref.name, served)

    children = current.children
    if decision.action == "Quarantine" and deployed is not None:
        # the trusted record may be gone: scale the running workload to zero without rebuilding it
        await ctx.kube.merge_patch(
            DEPLOYMENTS, key.namespace, deployment_name, {"spec": {"replicas": 0}}, field_manager=QUARANTINE_MANAGER
        )
    elif decision.action == "Rollout" or (
        decision.action == "Keep"
        and model is not None
        and model.status.verified is not None
        and model.status.verified.digest == served
    ):
        try:
            children = await _apply_workload(ctx, key, body, spec, model, decision)  # type: ignore[arg-type]
        except VerificationError as exc:
            decision = Decision("Hold", None, exc.reason, exc.message)
        except KubeError as exc:
            if exc.conflict:
                raise Retry("Conflict", "a managed object changed while applying") from None
            raise
        else:
            served = decision.digest
    replicas = 0 if decision.action == "Quarantine" else spec.replicas
    available = _availability(deployed if served else None, replicas)
    ready = _ready(decision, available)
    verdicts = [*decision.verdicts(), available, ready]
    if await _status(ctx, key, body, current, verdicts, served, children):
        log.info("%s: %s %s (Ready=%s)", key, decision.action, decision.reason, ready.status)
        if decision.action == "Quarantine":
            await ctx.events.record(body, "Warning", "Quarantined", decision.message, action="Quarantine")
    return None


def _ready(decision: Decision, available: Verdict) -> Verdict:
    """Ready: serving a trusted digest with the replicas available."""
    if decision.action not in ("Rollout", "Keep"):
        return Verdict("Ready", "False", decision.reason, decision.message)
    if available.status != "True":
        return Verdict("Ready", "False", available.reason, available.message)
    if decision.action == "Keep":
        return Verdict("Ready", "True", decision.reason, decision.message)
    return Verdict("Ready", "True", "Serving", decision.message)


async def _status(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    current: AIDeploymentStatus,
    verdicts: list[Verdict],
    served: str | None,
    children: list[str],
) -> bool:
    conditions = merge_conditions(current.conditions, verdicts, generation_of(body), ctx.clock())
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
        },
    )
