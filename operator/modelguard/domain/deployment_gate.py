"""The AIDeployment rollout gate: an ordered chain of small pure checks.

Each check looks at the facts and returns a Violation (with a distinct CamelCase reason) or None.
The first violation closes the gate; its reason becomes the condition reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.api.base import Condition
from modelguard.domain.conditions import find


@dataclass(frozen=True)
class Violation:
    """Why the gate is closed; `condition` is the condition type this check reports on."""

    condition: str
    reason: str
    message: str


@dataclass(frozen=True)
class GateFacts:
    """Everything the gate decides on, gathered by the reconciler."""

    namespace: str
    spec: AIDeploymentSpec
    model: dict[str, Any] | None
    model_generation: int
    model_conditions: Sequence[Condition]


Check = Callable[[GateFacts], Violation | None]


def model_exists(facts: GateFacts) -> Violation | None:
    if facts.model is None:
        return Violation(
            "ModelVerified",
            "ModelNotFound",
            f"AIModel {facts.spec.model_ref.name!r} does not exist in namespace {facts.namespace!r}",
        )
    return None


def model_verified(facts: GateFacts) -> Violation | None:
    verified = find(facts.model_conditions, "Verified")
    if verified is None or verified.observed_generation != facts.model_generation:
        return Violation(
            "ModelVerified",
            "WaitingForModel",
            f"AIModel {facts.spec.model_ref.name!r} has not been verified yet",
        )
    if verified.status != "True":
        return Violation(
            "ModelVerified",
            "ModelNotVerified",
            f"AIModel {facts.spec.model_ref.name!r} is not verified ({verified.reason}): {verified.message}",
        )
    return None


GATE: tuple[Check, ...] = (model_exists, model_verified)


def evaluate(facts: GateFacts, checks: Sequence[Check] = GATE) -> Violation | None:
    """The first violation in order, or None when the gate is open."""
    for check in checks:
        violation = check(facts)
        if violation is not None:
            return violation
    return None
