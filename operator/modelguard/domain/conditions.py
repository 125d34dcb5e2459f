"""Pure helpers for the status language: conditions with stable transition times."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelguard.api.base import Condition, ConditionStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond


@dataclass(frozen=True)
class Verdict:
    """A condition's desired value, before transition bookkeeping."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def progress(ready: Verdict, in_flight: Collection[str]) -> list[Verdict]:
    """The kstatus conditions Flux, Argo CD and `kubectl wait` read, from the Ready verdict: Reconciling while
    work is in flight or will be retried (`in_flight` reasons), Stalled when nothing changes without a change
    to the object or its inputs (every other reason Ready is False for), neither when Ready."""
    if ready.status == "True":
        return [Verdict(Cond.RECONCILING, "False", Reason.READY, ""), Verdict(Cond.STALLED, "False", Reason.READY, "")]
    if ready.reason in in_flight or ready.status == "Unknown":
        return [
            Verdict(Cond.RECONCILING, "True", ready.reason, ready.message),
            Verdict(Cond.STALLED, "False", Reason.IN_PROGRESS, ""),
        ]
    return [
        Verdict(Cond.RECONCILING, "False", Reason.STALLED, ""),
        Verdict(Cond.STALLED, "True", ready.reason, ready.message),
    ]


def merge_conditions(
    current: Sequence[Condition], verdicts: Iterable[Verdict], generation: int, now: datetime
) -> list[Condition]:
    """Apply verdicts to the current conditions.

    lastTransitionTime moves only when a condition's status flips; conditions not named by a verdict
    are kept as they are. The result is ordered by type so that equal states compare equal.
    """
    by_type = {c.type: c for c in current}
    for verdict in verdicts:
        old = by_type.get(verdict.type)
        since = old.last_transition_time if old is not None and old.status == verdict.status else now
        by_type[verdict.type] = Condition(
            type=verdict.type,
            status=verdict.status,
            reason=verdict.reason,
            message=verdict.message,
            observed_generation=generation,
            last_transition_time=since,
        )
    return [by_type[name] for name in sorted(by_type)]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of this type, if present."""
    return next((c for c in conditions if c.type == type_), None)


def is_true_for(conditions: Sequence[Condition], type_: str, generation: int) -> bool:
    """True when the condition holds and was computed for this generation."""
    condition = find(conditions, type_)
    return condition is not None and condition.status == "True" and condition.observed_generation == generation


def conditions_of(body: Mapping[str, Any]) -> list[Condition]:
    """Conditions from an object's status; entries that do not parse are ignored (and later replaced)."""
    out = []
    for raw in (body.get("status") or {}).get("conditions") or []:
        try:
            out.append(Condition.model_validate(raw))
        except ValidationError:
            continue
    return out


def generation_of(body: Mapping[str, Any]) -> int:
    return int((body.get("metadata") or {}).get("generation") or 0)
