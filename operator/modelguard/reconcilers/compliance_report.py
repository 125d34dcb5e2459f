"""ComplianceReport reconciler: regenerate the report from the cluster's evidence, on its interval and (no
sooner than its minimum gap) after the evidence changed; keep its history and the metrics per phase."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.compliance_evidence import gather
from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import COMPLIANCE_REPORTS
from modelguard.api.compliancereport import ComplianceReportSpec, ComplianceReportStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.domain.compliance import assess
from modelguard.domain.compliance_document import parse_framework, report_json
from modelguard.domain.compliance_status import COUNTS, report_status, seconds_until_due
from modelguard.domain.conditions import Verdict, generation_of, merge_conditions
from modelguard.reconcilers.context import Context, spec_error, status_view, write_status

log = logging.getLogger(__name__)


async def reconcile(ctx: Context, key: Key) -> float | None:
    body = ctx.store.get(key)
    if body is None:
        ctx.reported_at.pop(key.name, None)
        return None
    try:
        status = ComplianceReportStatus.model_validate(status_view(ctx, key, body))  # our last write counts
    except ValidationError:
        status = ComplianceReportStatus()
    generation = generation_of(body)
    try:
        spec = ComplianceReportSpec.model_validate(body.get("spec") or {})
        if spec.framework is not None:
            parse_framework(spec.framework)
    except (ValidationError, ValueError) as exc:
        why = spec_error(exc) if isinstance(exc, ValidationError) else str(exc)
        await _write(ctx, key, body, status, Verdict(Cond.READY, "False", Reason.INVALID_SPEC, why))
        return None
    started = time.time()  # wall clock, sub-second (a change in the same second as a regeneration counts)
    last = last_generated(ctx, key.name, status, generation)
    wait = seconds_until_due(
        last, ctx.evidence_changed, started, spec.interval_minutes * 60.0, float(spec.minimum_gap_seconds)
    )
    if wait > 0:
        log.debug("ComplianceReport %s: next regeneration in %.0f s", key.name, wait)
        return wait
    now = ctx.clock()
    try:
        facts = await asyncio.to_thread(gather, _getter(ctx), spec.namespace, ctx.operator_namespace)
    except (KubeError, OSError) as exc:
        verdict = Verdict(Cond.READY, "False", Reason.EVIDENCE_UNREADABLE, f"cannot read the evidence: {exc}")
        await _write(ctx, key, body, status, verdict)
        return 60.0
    document = report_json(assess(facts), facts, namespace=spec.namespace, generated_at=now, framework=spec.framework)
    summary = ", ".join(f"{n} {s}" for s, n in document["summary"].items())
    verdict = Verdict(Cond.READY, "True", Reason.REPORT_GENERATED, summary)
    conditions = [c.wire() for c in merge_conditions(status.conditions, [verdict], generation, now)]
    wire = report_status(document, status, spec.history_limit, generation, now, conditions)
    await write_status(ctx, COMPLIANCE_REPORTS, key, body, wire)
    log.info("ComplianceReport %s: %s", key.name, summary)
    ctx.reported_at[key.name] = (started, generation)
    ctx.reports_woken.discard(key.name)  # the next change wakes it again (changes during the read: `now` is
    # when reading started, so the pass its own status write triggers sees them and waits out the gap)
    for phase in wire["byPhase"]:
        for status_name, field in COUNTS.items():
            ctx.metrics.compliance.labels(key.name, phase["phase"], status_name).set(phase[field])
    return spec.interval_minutes * 60.0


def last_generated(ctx: Context, name: str, status: ComplianceReportStatus, generation: int) -> float | None:
    """When this spec (generation) was last generated: by this process (the watch cache may not show the
    status yet), else as the status says; None when never or for an older spec."""
    mine = ctx.reported_at.get(name)
    if mine is not None and mine[1] == generation:
        return mine[0]
    if status.observed_generation == generation and status.generated_at is not None:
        return status.generated_at.timestamp()
    return None


def _getter(ctx: Context) -> Any:
    return lambda path: ctx.kube.call("GET", path)


async def _write(
    ctx: Context, key: Key, body: dict[str, Any], status: ComplianceReportStatus, verdict: Verdict
) -> None:
    generation = generation_of(body)
    conditions = merge_conditions(status.conditions, [verdict], generation, ctx.clock())
    await write_status(
        ctx,
        COMPLIANCE_REPORTS,
        key,
        body,
        {"observedGeneration": generation, "conditions": [c.wire() for c in conditions]},
    )
