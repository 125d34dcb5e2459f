"""What every reconciler is given: the API adapter, the watch cache and a clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelguard.adapters.audit_log import AuditLog
from modelguard.adapters.cache import Key, Store
from modelguard.adapters.events import EventRecorder
from modelguard.adapters.kube import Kube, KubeError, Resource
from modelguard.adapters.metrics import Metrics
from modelguard.adapters.resources import BY_KIND
from modelguard.adapters.signing_key import OperatorKey
from modelguard.adapters.verification_service import ModelVerifier
from modelguard.builders.network import EventsRoute
from modelguard.builders.workload import DEFAULT_GATEWAY_IMAGE
from modelguard.domain.audit import Entry, ObjectRef
from modelguard.domain.audit_decisions import decisions
from modelguard.domain.conditions import conditions_of


def utcnow() -> datetime:
    """Now, at the one-second precision Kubernetes keeps."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Context:
    kube: Kube
    store: Store
    events: EventRecorder
    verifier: ModelVerifier
    operator_namespace: str = "modelguard-system"
    operator_image: str = "ghcr.io/modelguard/operator:0.1.0"
    gateway_image: str = DEFAULT_GATEWAY_IMAGE
    ca_bundle_pem: str | None = None  # the operator's extra CAs for sources, passed on to init containers
    monitoring_namespace: str | None = "monitoring"
    gateway_events: EventsRoute | None = None  # where gateways send the requests they refuse (ADR 0018)
    advisories_configmap: str | None = "modelguard-advisories"
    metrics: Metrics = field(default_factory=Metrics)
    operator_key: OperatorKey | None = None
    decommission_step_delay: float = 0.0
    # with restricted writes (docs/rbac.md): deploy only in namespaces labelled this ("true"), and delete
    # tenant data and keys only when they are marked for it
    enabled_namespace_label: str | None = None
    clock: Callable[[], datetime] = utcnow
    audit: AuditLog | None = None
    # our last status write per object, until the watch cache shows it: (cached status then, status written)
    written: dict[Key, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    # managed children this operator wrote, until the watch cache shows the write: the resourceVersion the cache
    # held before it (None: nothing, a create); see child_writes.current
    child_writes: dict[Key, str | None] = field(default_factory=dict)
    # drift a pass reverted but could not report (its status write failed): the next pass reports it
    unreported_drift: dict[Key, list[str]] = field(default_factory=dict)
    # when the compliance evidence (AIModels, AIDeployments, TrustPolicies) last changed, and when each
    # ComplianceReport was last generated (wall-clock seconds)
    evidence_changed: float = 0.0
    reported_at: dict[str, tuple[float, int]] = field(default_factory=dict)  # name -> (time, generation)
    reports_woken: set[str] = field(default_factory=set)  # woken by a change since their last regeneration

    async def record(self, entries: list[Entry]) -> None:
        """Commit audit records before acting on what they say (raises AuditUnavailable, a Retry)."""
        if entries and self.audit is not None:
            await self.audit.append(entries)


def drift_to_report(ctx: Context, key: Key, found: list[str]) -> list[str]:
    """The drift this pass must report: what it reverted, and what an earlier pass reverted but could not
    report (its status write failed after the revert; the next pass finds nothing left to revert)."""
    pending = ctx.unreported_drift.get(key, [])
    drift = pending + [d for d in found if d not in pending]
    if drift:
        ctx.unreported_drift[key] = drift
    return drift


def drift_reported(ctx: Context, key: Key) -> None:
    ctx.unreported_drift.pop(key, None)


current_conditions = conditions_of


async def lookup(ctx: Context, key: Key) -> dict[str, Any] | None:
    """The cached object, or when the cache does not have it (yet: a replica that just started) the API's.
    Admission decides on this: an empty cache must not refuse what exists, nor admit what does not."""
    cached = ctx.store.get(key)
    if cached is not None:
        return cached
    return await ctx.kube.get(BY_KIND[key.kind], key.namespace or None, key.name)


def status_view(ctx: Context, key: Key, body: Mapping[str, Any]) -> dict[str, Any]:
    """The object's status as a reconcile must see it: the watch cache lags behind our own writes, so while it
    still shows the status our last write replaced, that write is the status. (Without this, a reconcile
    right after a write decided from the older status: a reported drift was overwritten as Enforced.)"""
    cached = dict(body.get("status") or {})
    seen = ctx.written.get(key)
    if seen is not None and seen[0] == cached:
        return {**cached, **seen[1]}
    return cached


async def write_status(
    ctx: Context, res: Resource, key: Key, body: Mapping[str, Any], status: Mapping[str, Any]
) -> bool:
    """Patch the status fields we own, only when they differ from what is stored. True if written.
    The decisions the new status shows are audited first.

    The watch cache lags behind our own writes: while it still shows the status our last write replaced,
    that write counts as stored, so a quick second reconcile neither writes nor records it again."""
    cached = dict(body.get("status") or {})
    current = status_view(ctx, key, body)
    if all(current.get(field) == value for field, value in status.items()):
        return False
    await ctx.record(decisions(key.kind, ObjectRef(key.kind, key.namespace, key.name), current, status))
    try:
        await ctx.kube.patch_status(res, key.namespace or None, key.name, status)
    except KubeError as exc:
        if exc.not_found:  # deleted meanwhile: nothing to report on
            return False
        raise
    ctx.written[key] = (cached, {**current, **status})
    return True


def spec_error(exc: ValidationError) -> str:
    """A short, secret-free description of what is wrong with a spec (locations and messages only)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "spec"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
