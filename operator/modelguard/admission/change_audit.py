"""Admitted changes of AIModels, AIDeployments and TrustPolicies become audit records (actor from admission).

A system prompt is audited by content hash: it must live in an immutable ConfigMap, so that changing the
prompt means pointing the AIDeployment at a new ConfigMap, a spec change with an actor and both hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import CONFIGMAPS
from modelguard.domain.audit import Actor, ObjectRef, change_entry, content_hash
from modelguard.reconcilers.context import Context

AUDITED_ANNOTATIONS = ("modelguard.io/quarantine-override",)


def actor_of(userinfo: Mapping[str, Any]) -> Actor:
    return Actor(str(userinfo.get("username", "")), tuple(str(g) for g in userinfo.get("groups") or []))


async def prompt_hash(ctx: Context, namespace: str, spec: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(content hash of the system prompt, or None) and a problem that must refuse the spec, or None."""
    ref = (spec or {}).get("systemPrompt")
    if not isinstance(ref, Mapping):
        return None, None
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    try:
        cm = await ctx.kube.get(CONFIGMAPS, namespace, name)
    except KubeError as exc:
        return None, f"spec.systemPrompt: cannot read ConfigMap {name!r} ({exc.reason})"
    if cm is None:
        return None, f"spec.systemPrompt: ConfigMap {name!r} does not exist"
    if not cm.get("immutable"):
        return None, (
            f"spec.systemPrompt: ConfigMap {name!r} must be immutable (immutable: true), so that every prompt "
            "change is an audited change of this AIDeployment"
        )
    value = (cm.get("data") or {}).get(key)
    if value is None:
        return None, f"spec.systemPrompt: ConfigMap {name!r} has no key {key!r}"
    return content_hash(str(value)), None


async def audit_change(
    ctx: Context,
    ref: ObjectRef,
    operation: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    userinfo: Mapping[str, Any],
    details: Mapping[str, str] | None = None,
) -> None:
    """Commit the record of an admitted change; raises AuditUnavailable (the change must then be refused)."""
    entry = change_entry(ref, operation, old, new, actor_of(userinfo), AUDITED_ANNOTATIONS, details)
    if entry is not None:
        await ctx.record([entry])


async def prompt_details(
    ctx: Context, namespace: str, old: Mapping[str, Any] | None, new_hash: str | None
) -> dict[str, str]:
    """The prompt hashes of an AIDeployment change (the old prompt's ConfigMap may be gone)."""
    details = {"systemPrompt": new_hash} if new_hash else {}
    if old is not None and (old.get("spec") or {}).get("systemPrompt"):
        before, _ = await prompt_hash(ctx, namespace, old.get("spec"))
        details["systemPromptBefore"] = before or "unreadable"
    return details
