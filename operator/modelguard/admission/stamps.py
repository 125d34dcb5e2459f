"""The signed stamps only admission may write, from the requester's identity: the approver of a ModelApproval
and the last editor of an AIDeployment (separation of duties); the authority stamp is admission/authority.py.
Users can neither set nor carry them over: on every change they are written again or restored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.adapters.cache import Key
from modelguard.domain import approvals
from modelguard.domain.approvals import LAST_CHANGED_BY, change_stamp
from modelguard.reconcilers.context import Context, lookup


async def stamp_for(
    ctx: Context, namespace: str, spec: dict[str, Any], username: str, groups: list[str]
) -> dict[str, str]:
    """The signed approver annotations of a new approval of the AIDeployment as it is now (admission only)."""
    assert ctx.operator_key is not None
    deployment = await lookup(ctx, Key("AIDeployment", namespace, str(spec.get("deployment", ""))))
    return approvals.stamp(await ctx.operator_key.get(), namespace, spec, username, groups, deployment)


def restore_stamp(old: dict[str, Any] | None) -> dict[str, str]:
    """On update the stamp stays as it was (an approval without one stays without a valid one)."""
    notes = ((old or {}).get("metadata") or {}).get("annotations") or {}
    return {k: str(notes.get(k, "")) for k in approvals.STAMP}


async def last_change_for(
    ctx: Context, body: dict[str, Any], old: Any, userinfo: Mapping[str, Any], namespace: str
) -> str | None:
    """Who changed the spec to what it is now: this requester, or (spec unchanged) whoever admission said before."""
    before = dict(old) if old is not None else None
    if before is not None and dict(before.get("spec") or {}) == dict(body.get("spec") or {}):
        return ((before.get("metadata") or {}).get("annotations") or {}).get(LAST_CHANGED_BY)
    if ctx.operator_key is None:
        return None
    meta = body.get("metadata") or {}
    return change_stamp(
        await ctx.operator_key.get(),
        namespace,
        str(meta.get("name", "")),
        body.get("spec") or {},
        str(userinfo.get("username", "")),
    )
