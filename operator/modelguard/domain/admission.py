"""Admission decisions (pure): what to deny and what to warn about. Never fetches or hashes.

The webhook only reads the operator's watch cache. Rules the API server cannot enforce itself:
URIs without credentials or traversal, sources under the policy's allowed prefixes, a policy that
selects the namespace, and AIDeployments that do not reference a model already rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.api.aimodel import AIModelSpec
from modelguard.api.condition_types import Cond
from modelguard.domain import scheduling
from modelguard.domain.conditions import conditions_of, find, generation_of
from modelguard.domain.model_checks import TRANSIENT, ModelFacts, policy_applies, sources_allowed, uris_safe
from modelguard.domain.policy_reading import NOT_FOUND, read_policy


@dataclass
class Review:
    denials: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, message: str, enforce: bool) -> None:
        (self.denials if enforce else self.warnings).append(message)


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False)[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "spec"
        out.append(f"spec.{where}: {err['msg']}")
    return out


def review_model(
    spec: Mapping[str, Any],
    namespace: str,
    namespace_labels: Mapping[str, str] | None,
    policy: Mapping[str, Any] | None,
) -> Review:
    review = Review()
    try:
        model = AIModelSpec.model_validate(spec)
    except ValidationError as exc:
        review.denials.extend(_errors(exc))
        return review
    unsafe = uris_safe(ModelFacts(namespace, namespace_labels, model, None))
    if unsafe is not None:  # refused; the later checks would quote the URI (credentials and all) in their message
        review.denials.append(unsafe.message)
        return review
    reading = read_policy(model.trust_policy, policy)
    if reading.reason == NOT_FOUND:  # GitOps applies policies and models in any order: the model waits
        review.warnings.append(f"{reading.message}: the model will not verify until it does")
        return review
    if reading.spec is None:
        review.denials.append(reading.message)
        return review
    policy_spec = reading.spec
    enforce = policy_spec.mode == "Enforce"
    facts = ModelFacts(namespace, namespace_labels, model, policy_spec)
    for check in (policy_applies, sources_allowed):
        problem = check(facts)
        if problem is not None:
            review.add(problem.message, enforce)
    return review


def review_deployment(
    spec: Mapping[str, Any],
    namespace: str,
    model: Mapping[str, Any] | None,
    policy: Mapping[str, Any] | None = None,
) -> Review:
    """`policy`: the model's TrustPolicy, whose spec.scheduling grants what the pods may ask of the scheduler."""
    review = Review()
    try:
        deployment = AIDeploymentSpec.model_validate(spec)
    except ValidationError as exc:
        review.denials.extend(_errors(exc))
        return review
    reading = read_policy("", policy) if policy is not None else None
    grants = reading.spec.scheduling if reading is not None and reading.spec is not None else None
    review.denials.extend(scheduling.refusals(deployment.scheduling, grants))  # the reconciler checks again
    name = deployment.model_ref.name
    if model is None:
        review.warnings.append(
            f"AIModel {name!r} does not exist in namespace {namespace!r} yet: nothing rolls out until it is verified"
        )
        return review
    verified = find(conditions_of(model), Cond.VERIFIED)
    if (
        verified is not None
        and verified.status == "False"
        and verified.observed_generation == generation_of(model)
        and verified.reason not in TRANSIENT
    ):
        review.denials.append(f"AIModel {name!r} was rejected ({verified.reason}): {verified.message}")
    return review


def end_of_life_stamp(
    new: Mapping[str, Any], old: Mapping[str, Any] | None, requester: str, annotation: str
) -> str | None:
    """The value the requester annotation must have after this CREATE/UPDATE, or None to leave it.

    It is stamped from admission's userInfo when the end-of-life policy is set or changed; any other
    attempt to change it is undone, so nobody can claim someone else asked for a decommission.
    """
    if old is None or (old.get("spec") or {}).get("endOfLife") != (new.get("spec") or {}).get("endOfLife"):
        return requester
    before = ((old.get("metadata") or {}).get("annotations") or {}).get(annotation)
    after = ((new.get("metadata") or {}).get("annotations") or {}).get(annotation)
    if before != after:
        return str(before) if before is not None else ""
    return None
