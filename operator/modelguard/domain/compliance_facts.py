"""What the compliance checks read (pure): the cluster's objects and audit state, and small helpers over them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelguard.api.condition_types import Cond

Status = Literal["met", "not met", "not applicable", "organisational"]
Body = Mapping[str, Any]


@dataclass(frozen=True)
class AuditState:
    """The signed checkpoint of the audit trail, as the report found it."""

    seq: int | None
    problem: str | None  # None when the checkpoint exists and its signature verifies


@dataclass(frozen=True)
class LiveWorkload:
    """What runs for one AIDeployment, read from the cluster by the report (not from its status)."""

    deployment: Body | None  # the model server Deployment
    digest: str | None  # the model digest its pod template is pinned to
    network_policies: Sequence[Body] = ()  # the NetworkPolicies ModelGuard manages for it


@dataclass(frozen=True)
class Facts:
    models: Sequence[Body] = ()
    deployments: Sequence[Body] = ()
    policies: Sequence[Body] = ()
    certificates: Sequence[Body] = ()  # (already filtered to the scope)
    certificate_problems: Mapping[str, str] = field(default_factory=dict)  # name -> why it does not verify
    audit: AuditState = AuditState(None, "no audit checkpoint found")
    scan_reports: Sequence[Body] = ()
    audit_records: Sequence[Body] = ()  # the newest records kept in the cluster, about objects in scope
    live: Mapping[str, LiveWorkload] = field(default_factory=dict)  # by the AIDeployment's ref()


def ref(body: Body) -> str:
    """The evidence key of an object: Kind/namespace/name (Kind/name when cluster-scoped)."""
    meta = body.get("metadata") or {}
    kind = str(body.get("kind", "Object"))
    ns = meta.get("namespace")
    return f"{kind}/{ns}/{meta.get('name')}" if ns else f"{kind}/{meta.get('name')}"


def condition(body: Body, kind: str) -> tuple[str | None, str | None]:
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status"), cond.get("reason")
    return None, None


def card(body: Body) -> Mapping[str, Any]:
    return (body.get("spec") or {}).get("card") or {}


def model_of(facts: Facts, deployment: Body) -> Body | None:
    ns = (deployment.get("metadata") or {}).get("namespace")
    name = ((deployment.get("spec") or {}).get("modelRef") or {}).get("name")
    for m in facts.models:
        meta = m.get("metadata") or {}
        if meta.get("namespace") == ns and meta.get("name") == name:
            return m
    return None


Result = tuple[Status, str, tuple[str, ...]]
Check = Callable[[Facts], Result]


def all_pass(
    items: Iterable[Body], ok: Callable[[Body], bool], what: str, none: str | None = None
) -> tuple[Status, str, tuple[str, ...]]:
    """met when every item passes (evidence: all of them); not met naming those that fail; nothing to check
    is not applicable (never met by default)."""
    items = list(items)
    if not items:
        return "not applicable", none or f"nothing in scope to check: {what}", ()
    failing = [ref(i) for i in items if not ok(i)]
    refs = tuple(ref(i) for i in items)
    if failing:
        return "not met", f"{len(failing)} of {len(items)} fail: {what}: {', '.join(failing[:10])}", tuple(failing)
    return "met", f"all {len(items)}: {what}", refs


def record_ref(record: Body) -> str:
    return f"AuditRecord/{record.get('seq')}"


def verified(m: Body) -> bool:
    return condition(m, Cond.VERIFIED)[0] == "True" and bool(
        ((m.get("status") or {}).get("verified") or {}).get("digest")
    )


def enforcing_policy(facts: Facts) -> Callable[[Body], bool]:
    modes = {
        (p.get("metadata") or {}).get("name"): (p.get("spec") or {}).get("mode", "Enforce") for p in facts.policies
    }
    return lambda m: verified(m) and modes.get((m.get("spec") or {}).get("trustPolicy")) == "Enforce"
