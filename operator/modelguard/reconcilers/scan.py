"""The maintenance scan of one AIModel: gather facts, run the checks (domain/scan.py), write a
ScanReport, prune old ones, update metrics and Events. The AIModel reconciler calls it when a scan
is due, inside the cluster-wide scan slots, right after a forced re-verification."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import CONFIGMAPS, SCANREPORTS
from modelguard.api.aideployment import AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec, ScanSummary, VerifiedRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.scanreport import ScanReportSpec, ScanTarget
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.builders.scanreport import TARGET_LABEL, scan_report, to_prune
from modelguard.builders.workload import names
from modelguard.domain import scan as checks
from modelguard.domain.advisories import Component, parse_advisories, parse_sbom
from modelguard.domain.conditions import Verdict
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.trust import source_allowed
from modelguard.reconcilers.context import Context

log = logging.getLogger(__name__)
MAX_SBOM = 32 * 1024 * 1024
SCAN_NOW = "modelguard.io/scan-now"

Trigger = Literal["Schedule", "Manual"]


@dataclass(frozen=True)
class ScanOutcome:
    summary: ScanSummary
    verdict: Verdict


def due(
    annotations: dict[str, str], last: ScanSummary | None, next_scan: datetime | None, now: datetime
) -> Trigger | None:
    token = annotations.get(SCAN_NOW)
    if token and (last is None or last.token != token):
        return "Manual"
    if next_scan is not None and now >= next_scan:
        return "Schedule"
    return None


def _serving(ctx: Context, key: Key) -> list[checks.ServingFacts]:
    out = []
    for dep_key in ctx.store.lookup("deployments-by-model", f"{key.namespace}/{key.name}"):
        body = ctx.store.get(dep_key) or {}
        try:
            status = AIDeploymentStatus.model_validate(body.get("status") or {})
        except ValidationError:
            status = AIDeploymentStatus()
        workload = ctx.store.get(Key("Deployment", dep_key.namespace, names(dep_key.name)["deployment"]))
        out.append(checks.ServingFacts(dep_key.name, status, workload))
    return out


async def _sbom(
    ctx: Context, spec: AIModelSpec, policy: TrustPolicySpec | None
) -> tuple[list[Component] | None, str | None]:
    if spec.sbom is None:
        return None, None
    allowed = tuple(policy.allowed_sources) if policy is not None else ()
    if not source_allowed(spec.sbom.uri, allowed):  # a URI a tenant writes is a source like any other
        return None, f"SourceNotAllowed: {spec.sbom.uri[:200]} is not under an allowed source"
    try:
        raw = await ctx.verifier.document(spec.sbom.uri, "sbom", MAX_SBOM, allowed=allowed)
    except (VerificationError, Retry) as exc:
        return None, f"{exc.reason}: {exc.message}"
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if digest != spec.sbom.digest:
        return None, f"SBOM digest {digest} is not the pinned {spec.sbom.digest}"
    try:
        return parse_sbom(raw), None
    except ValueError as exc:
        return None, str(exc)


async def _advisories(ctx: Context) -> list[dict[str, Any]] | None:
    if not ctx.advisories_configmap:
        return None
    cm = await ctx.kube.get(CONFIGMAPS, ctx.operator_namespace, ctx.advisories_configmap)
    if cm is None:
        return None
    return parse_advisories((cm.get("data") or {}).values())


async def run(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIModelSpec,
    policy: TrustPolicySpec | None,
    verified: Verdict,
    record: VerifiedRecord | None,
    previous: ScanSummary | None,
    trigger: Trigger,
    started: datetime,
) -> ScanOutcome:
    clock = time.monotonic()
    sbom, sbom_problem = await _sbom(ctx, spec, policy)
    advisories = await _advisories(ctx)
    if sbom is not None and advisories is None:
        sbom_problem = f"no advisory feed: ConfigMap {ctx.advisories_configmap!r} in {ctx.operator_namespace!r}"
    facts = checks.ScanFacts(
        spec=spec,
        now=started,
        verification_reason=verified.reason,
        verification_message=verified.message,
        record=record,
        policy=policy,
        serving=_serving(ctx, key),
        sbom=sbom,
        sbom_problem=sbom_problem,
        advisories=advisories or [],
        previous_scan=previous.at if previous else None,
    )
    ran, findings = checks.run(facts)
    result = checks.result(findings)
    finished = ctx.clock()
    report = ScanReportSpec(
        target=ScanTarget(name=key.name),
        trigger=trigger,
        started_at=started,
        finished_at=finished,
        result=result,
        model_digest=record.digest if record else None,
        checks=ran,
        findings=findings,
    )
    nonce = hashlib.sha256(f"{body['metadata']['uid']}{time.time_ns()}".encode()).hexdigest()[:6]
    obj = scan_report(key.name, key.namespace, body["metadata"]["uid"], report, nonce)
    await ctx.kube.create(SCANREPORTS, obj)
    await _prune(ctx, key, spec.maintenance.reports_to_keep)
    counts = checks.counts(findings)
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    summary = ScanSummary(
        at=finished,
        result=result,
        report=obj["metadata"]["name"],
        token=annotations.get(SCAN_NOW) if trigger == "Manual" else (previous.token if previous else None),
        **counts,
    )
    ctx.metrics.record_scan(key.namespace, key.name, result, time.monotonic() - clock, counts, finished.timestamp())
    if counts["critical"]:
        verdict = Verdict(
            Cond.SCAN_PASSED,
            "False",
            Reason.CRITICAL_FINDINGS,
            f"{counts['critical']} critical finding(s), see ScanReport {summary.report}",
        )
    elif result == "Failed":
        verdict = Verdict(
            Cond.SCAN_PASSED,
            "False",
            Reason.HIGH_FINDINGS,
            f"{counts['high']} high finding(s), see ScanReport {summary.report}",
        )
    else:
        verdict = Verdict(
            Cond.SCAN_PASSED,
            "True",
            Reason.NO_FINDINGS if not findings else Reason.MINOR_FINDINGS,
            f"{len(findings)} finding(s) below High, see ScanReport {summary.report}",
        )
    await ctx.events.record(
        body,
        "Normal" if result == "Passed" else "Warning",
        Reason.SCAN_PASSED if result == "Passed" else Reason.SCAN_FAILED,
        verdict.message,
        action="Scan",
    )
    log.info("%s: scan %s (%s)", key, result, ", ".join(f"{k}={v}" for k, v in counts.items()))
    return ScanOutcome(summary, verdict)


async def _prune(ctx: Context, key: Key, keep: int) -> None:
    reports = await ctx.kube.list(SCANREPORTS, key.namespace, label_selector=f"{TARGET_LABEL}={key.name[:63]}")
    mine = [r for r in reports if any(o.get("name") == key.name for o in r["metadata"].get("ownerReferences", []))]
    for name in to_prune(mine, keep):
        await ctx.kube.delete(SCANREPORTS, key.namespace, name)
