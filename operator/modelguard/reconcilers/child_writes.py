"""Writing one managed child, and seeing it as it is (issue 27, item 9).

`current` is the child as the watch cache holds it, except right after this operator wrote it: until the cache
shows that write, the cache still holds the object the write replaced (with the very fields a revert removed),
so the API is read instead. Without this, the pass after a revert found the reverted drift again and reverted
(and reported) its own write. `write` server-side applies, after replacing what the object does whole where
someone else added fields apply would keep; `scale_to_zero` is a stopped Deployment's one write (its replicas);
`read_back` is the evidence a revert is judged by. Every write is under the operator's one field manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.adapters.cache import Key
from modelguard.adapters.kube import FIELD_MANAGER
from modelguard.adapters.resources import BY_CHILD_KIND
from modelguard.domain.drift import child_view, replacement
from modelguard.reconcilers.context import Context


def _version(body: Mapping[str, Any] | None) -> str | None:
    version = ((body or {}).get("metadata") or {}).get("resourceVersion")
    return str(version) if version is not None else None


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return Key(str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


async def read_back(ctx: Context, key: Key) -> dict[str, Any] | None:
    """The child as the API server has it now, in the shape the cache holds it (None: it does not exist)."""
    body = await ctx.kube.get(BY_CHILD_KIND[key.kind], key.namespace or None, key.name)
    return None if body is None else child_view(key.kind, body)


async def current(ctx: Context, key: Key) -> dict[str, Any] | None:
    """The child as it is: the cached object, or the API's while the cache has not yet seen our last write."""
    cached = ctx.store.get(key)
    if key in ctx.child_writes:
        if _version(cached) == ctx.child_writes[key]:  # still what our write replaced (nothing, for a create)
            return await read_back(ctx, key)
        del ctx.child_writes[key]
    return cached


async def write(ctx: Context, obj: Mapping[str, Any], replacing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Server-side apply `obj`. With `replacing` (the live object, which holds fields someone else added), first
    replace what the object does whole (domain/drift.replacement: a JSON patch under our field manager, the
    live resourceVersion as precondition): apply alone keeps fields another manager owns. A patch needs the
    `patch` verb only, as apply does. Returns what the API server stored."""
    res = BY_CHILD_KIND[str(obj["kind"])]
    meta = obj["metadata"]
    if replacing is not None:
        await ctx.kube.request(
            "PATCH",
            res.path(meta.get("namespace"), meta["name"]),
            body=replacement(obj, replacing),
            query=[("fieldManager", FIELD_MANAGER)],
            content_type="application/json-patch+json",
        )
    stored: dict[str, Any] = await ctx.kube.apply(res, obj)  # our labels and owner, and apply's ownership back
    _wrote(ctx, _key(obj), stored)
    return stored


async def scale_to_zero(ctx: Context, key: Key, live: Mapping[str, Any]) -> dict[str, Any]:
    """The write of a stopped (quarantined, or decommissioned) Deployment: `spec.replicas` 0 by a merge patch
    under our one field manager, the live uid as precondition. Only the replicas: a quarantine may have no
    verification record left to build the rest from, and the rest stays as the last apply left it (the next
    apply, when the quarantine is lifted, takes the replicas back)."""
    patch = {"metadata": {"uid": (live.get("metadata") or {}).get("uid")}, "spec": {"replicas": 0}}
    stored = await ctx.kube.merge_patch(BY_CHILD_KIND["Deployment"], key.namespace, key.name, patch)
    _wrote(ctx, key, stored)
    return stored


def _wrote(ctx: Context, key: Key, stored: Mapping[str, Any]) -> None:
    seen = _version(ctx.store.get(key))
    if _version(stored) != seen:  # a write that changed nothing leaves nothing for the cache to catch up with
        ctx.child_writes[key] = seen
