"""An AIModel's status as every part of its reconcile writes it: one write of verdicts and fields, the kstatus
conditions derived from them, and the Events of condition changes."""

from __future__ import annotations

from typing import Any

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import AIMODELS
from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.condition_types import Cond
from modelguard.domain import verified_record
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions
from modelguard.domain.model_verdicts import kstatus
from modelguard.reconcilers.context import Context, current_conditions, write_status

EVENT_CONDITIONS = (Cond.VERIFIED, Cond.INSPECTED, Cond.SCAN_PASSED, Cond.QUARANTINE_OVERRIDDEN, Cond.DECOMMISSIONED)


def as_status(status: dict[str, Any], spec: AIModelSpec | None) -> AIModelStatus:
    """The status as this release reads it (a record an older release stored is upgraded, with the spec's
    signature format: domain/verified_record.py); unreadable reads as empty."""
    return verified_record.model_status(status, spec.signature.format if spec is not None else "model-signing")


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


def wire(model: Any) -> Any:
    return model.wire() if model is not None else None
