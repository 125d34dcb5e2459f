"""One typed observation of an AIDeployment, gathered once per reconcile: the object, its model and the one
reading of its TrustPolicy, its namespace, the approval facts, the live model server Deployment and the digest
it serves, the signature bytes already shipped; and the pure rollout decision taken from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec
from modelguard.api.condition_types import Cond
from modelguard.builders import workload
from modelguard.builders.labels import COMPONENT, DIGEST_ANNOTATION
from modelguard.domain import verified_record
from modelguard.domain.conditions import generation_of
from modelguard.domain.policy_reading import PolicyReading, read_policy
from modelguard.domain.rollout import Decision, ModelView, decide
from modelguard.reconcilers import approvals
from modelguard.reconcilers.context import Context, lookup


def _parse(model_body: dict[str, Any] | None, reading: PolicyReading) -> ModelView | None:
    if model_body is None:
        return None
    try:
        spec: AIModelSpec | None = AIModelSpec.model_validate(model_body.get("spec") or {})
    except ValidationError:
        spec = None
    status = verified_record.model_status(
        model_body.get("status") or {}, spec.signature.format if spec is not None else "model-signing"
    )
    incident = reading.spec is not None and reading.spec.requirements.incident_response
    return ModelView(spec, status, generation_of(model_body), reading.warn_only, incident)


@dataclass(frozen=True)
class Observation:
    """What one pass decides and acts from, gathered once (cert-manager's gatherer): the object, its model and the
    one reading of the model's TrustPolicy, its namespace's labels, the approvals, the live model server
    Deployment with the digest it serves, and the verification ConfigMaps this AIDeployment shipped (the
    signature bytes the pods verify with). Read from the watch cache, and through to the API for the model, its
    policy and the namespace (after a start or a takeover the cache may not hold them yet; a missing model
    quarantines). Every step takes what it needs from here and reads none of these again."""

    body: dict[str, Any]
    spec: AIDeploymentSpec
    current: AIDeploymentStatus
    model_body: dict[str, Any] | None
    model: ModelView | None
    policy: PolicyReading  # the model's TrustPolicy as everyone reads it (domain/policy_reading)
    namespace_labels: Mapping[str, str] | None  # None: the Namespace is not known
    approval: approvals.ApprovalFacts
    deployed: dict[str, Any] | None  # the live model server Deployment
    served: str | None  # the digest it is pinned to
    shipped: tuple[dict[str, Any], ...] = ()  # this AIDeployment's verification ConfigMaps, as cached

    @property
    def generation(self) -> int:
        return generation_of(self.body)

    @property
    def uid(self) -> str:
        return str(self.body["metadata"]["uid"])

    @property
    def quarantined(self) -> bool:
        return any(c.type == Cond.QUARANTINED and c.status == "True" for c in self.current.conditions)


async def observe(
    ctx: Context, key: Key, body: dict[str, Any], spec: AIDeploymentSpec, current: AIDeploymentStatus
) -> Observation:
    model_body = await lookup(ctx, Key("AIModel", key.namespace, spec.model_ref.name))
    policy_name = ((model_body or {}).get("spec") or {}).get("trustPolicy")
    policy_body = await lookup(ctx, Key("TrustPolicy", "", policy_name)) if policy_name else None
    reading = read_policy(str(policy_name or ""), policy_body)
    namespace = await lookup(ctx, Key("Namespace", "", key.namespace))
    labels = ((namespace.get("metadata") or {}).get("labels") or {}) if namespace is not None else None
    model = _parse(model_body, reading)
    approval = await approvals.gather(ctx, key, body, spec, model, reading)
    deployed = ctx.store.get(Key("Deployment", key.namespace, workload.names(key.name)["deployment"]))
    served = ((deployed or {}).get("metadata", {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    shipped = tuple(
        cm
        for kind, _, name in (ref.partition("/") for ref in current.children)
        if kind == "ConfigMap"
        and (cm := ctx.store.get(Key("ConfigMap", key.namespace, name))) is not None
        and ((cm.get("metadata") or {}).get("labels") or {}).get(COMPONENT) == "verification"
    )
    return Observation(body, spec, current, model_body, model, reading, labels, approval, deployed, served, shipped)


def rollout_decision(obs: Observation) -> Decision:
    """The pure decision (domain/rollout.decide) from the observation."""
    approval = obs.approval
    return decide(
        obs.model,
        obs.spec.model_ref.name,
        obs.served,
        obs.spec.access.exposure,
        approval.required,
        approval.approvers,
        obs.quarantined,
        approval.withdrawn if obs.served == approval.digest else (),
        approval.quarantine_withdrawn,
        obs.spec.incident_response is not None,
    )
