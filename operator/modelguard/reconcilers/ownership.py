"""Reading a child before writing it: the watch cache holds only objects labelled as ModelGuard's, so an
object someone else made with a child's name is read from the API (domain/ownership.py decides)."""

from __future__ import annotations

from typing import Any

from modelguard.adapters.cache import Key
from modelguard.adapters.resources import BY_CHILD_KIND
from modelguard.domain.ownership import controlled_by
from modelguard.reconcilers.context import Context


async def live(ctx: Context, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    cached = ctx.store.get(Key(kind, namespace, name))
    if cached is not None:
        return cached
    return await ctx.kube.get(BY_CHILD_KIND[kind], namespace, name)


async def foreign(ctx: Context, namespace: str, uid: str, objects: list[dict[str, Any]]) -> list[str]:
    """`Kind/name` of every desired object whose name is taken by an object this owner did not create."""
    clashes = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        current = await live(ctx, kind, namespace, name)
        if current is not None and not controlled_by(current, uid):
            clashes.append(f"{kind}/{name}")
    return clashes


async def delete_child(ctx: Context, kind: str, namespace: str, name: str, uid: str) -> str:
    """Delete a child only if this owner controls it, with the uid as precondition: Done, AlreadyGone or
    NotOwned (left alone)."""
    current = await ctx.kube.get(BY_CHILD_KIND[kind], namespace, name)
    if current is None:
        return "AlreadyGone"
    if not controlled_by(current, uid):
        return "NotOwned"
    gone = not await ctx.kube.delete(BY_CHILD_KIND[kind], namespace, name, uid=current["metadata"]["uid"])
    return "AlreadyGone" if gone else "Done"
