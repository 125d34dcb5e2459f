"""An AIModel's status as every part of its reconcile writes it: one write of verdicts and fields, the kstatus
conditions derived from them, and the Events of condition changes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import AIMODELS
from modelguard.api.aimodel import AIModelStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions, progress
from modelguard.domain.model_checks import TRANSIENT
from modelguard.reconcilers.context import Context, current_conditions, write_status

EVENT_CONDITIONS = (Cond.VERIFIED, Cond.SCAN_PASSED, Cond.QUARANTINE_OVERRIDDEN, Cond.DECOMMISSIONED)
IN_FLIGHT = TRANSIENT | {Reason.IN_PROGRESS, Reason.LEGAL_HOLD}


def as_status(status: dict[str, Any]) -> AIModelStatus:
    try:
        return AIModelStatus.model_validate(status)
    except ValidationError:
        return AIModelStatus()


async def write(
    ctx: Context, key: Key, body: dict[str, Any], status: AIModelStatus, verdicts: list[Verdict], fields: dict[str, Any]
) -> bool:
    generation = generation_of(body)
    conditions = merge_conditions(status.conditions, [*verdicts, *kstatus(verdicts)], generation, ctx.clock())
    wire: dict[str, Any] = {"observedGeneration": generation, "conditions": [c.wire() for c in conditions], **fields}
    before = {c.type: c.status for c in current_conditions(body)}
    written = await write_status(ctx, AIMODELS, key, body, wire)
    if written:
        for cond in conditions:
            if (
                cond.type in EVENT_CONDITIONS
                and before.get(cond.type) != cond.status
                and cond.status != "Unknown"
                and (cond.type != Cond.SCAN_PASSED)  # scans post their own Event
                and not (cond.type == Cond.QUARANTINE_OVERRIDDEN and cond.status == "False" and cond.type not in before)
            ):  # (no override at all is not news: only setting or lifting one is)
                good = cond.status == "True" and cond.type != Cond.QUARANTINE_OVERRIDDEN
                await ctx.events.record(
                    body, "Normal" if good else "Warning", cond.reason, cond.message, action=cond.type
                )
    return written


def kstatus(verdicts: list[Verdict]) -> list[Verdict]:
    """Reconciling and Stalled (kstatus) from what this write says: a decommission's state when there is one
    (a blocked step needs a change), else Ready, else the Verified verdict alone (verifying)."""
    by_type = {v.type: v for v in verdicts}
    ending = by_type.get(Cond.DECOMMISSIONED)
    if ending is not None:
        return progress(Verdict(Cond.READY, ending.status, ending.reason, ending.message), IN_FLIGHT)
    basis = by_type.get(Cond.READY) or by_type.get(Cond.VERIFIED)
    return progress(basis, IN_FLIGHT) if basis is not None else []


def summary(verified: Verdict, documented: Verdict, warn_only: bool) -> Verdict:
    if verified.status != "True":
        return Verdict(Cond.READY, "False", verified.reason, verified.message)
    if documented.status != "True" and not warn_only:
        return Verdict(Cond.READY, "False", documented.reason, documented.message)
    return Verdict(Cond.READY, "True", Reason.VERIFIED, verified.message)


def wire(model: Any) -> Any:
    return model.wire() if model is not None else None
