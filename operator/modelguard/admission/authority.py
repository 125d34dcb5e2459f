"""Authority stamps at admission (ADR 0020): each reference a tenant writes is authorised for the requester with a
SubjectAccessReview, and what held is signed onto the object (domain/authority.py). The mutating webhook
writes the stamp; the validating webhook refuses a change whose references the stamp does not cover, naming why."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelguard.adapters.kube import may
from modelguard.domain import authority
from modelguard.domain.authority import CLEAR_HOLD, HOLD, Access, Entry, Reference
from modelguard.domain.crypto import public_pem
from modelguard.reconcilers.context import Context


def _requester(userinfo: Mapping[str, Any]) -> tuple[str, list[str]]:
    return str(userinfo.get("username", "")), [str(g) for g in userinfo.get("groups") or []]


async def allowed(ctx: Context, userinfo: Mapping[str, Any], access: Access, namespace: str, name: str) -> bool:
    """May the requester do this themselves? A failing review is a refusal (fail closed)."""
    user, groups = _requester(userinfo)
    try:
        ok, _why = await may(
            ctx.kube, user, groups, access.verb, access.resource, namespace, name, access.group, access.subresource
        )
    except Exception:
        return False
    return ok


async def _authorised(
    ctx: Context, userinfo: Mapping[str, Any], reference: Reference, spec: Mapping[str, Any], namespace: str
) -> bool:
    return await allowed(ctx, userinfo, reference.access, namespace, authority.access_name(reference, spec))


async def stamp_for(
    ctx: Context, kind: str, body: Mapping[str, Any], old: Mapping[str, Any] | None, userinfo: Mapping[str, Any]
) -> str | None:
    """The authority annotation the object must carry after this change (None: it makes no reference). Entries
    whose covered values did not change are carried over from the old object's valid stamp; the rest are
    authorised for this requester now, and left out when the requester may not."""
    if ctx.operator_key is None:
        return None
    private = await ctx.operator_key.get()
    public = public_pem(private.public_key())
    spec = body.get("spec") or {}
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    before = authority.read(kind, old, public)[0] if old is not None else None
    user, _groups = _requester(userinfo)
    # A write that changes neither the spec nor asks to be re-authorised (finalizers, the operator's own metadata,
    # labels) only carries entries over: the operator's own writes never authorise anything on its rights.
    asked = old is None or authority.asks_for_authority(body, old)
    entries: dict[str, Entry] = {}
    for reference in authority.references_of(kind, spec):
        if before is not None and before.holds(reference, spec):
            entries[reference.entry] = before.entries[reference.entry]
        elif asked and await _authorised(ctx, userinfo, reference, spec, namespace):
            entries[reference.entry] = Entry(authority.covered(reference, spec), user)
    if kind == "AIModel":
        held = before.hold if before is not None else None
        if held is None and old is not None and authority.value_at(old.get("spec") or {}, "endOfLife.legalHold"):
            held = Entry("held", "")  # a hold from before stamps existed holds too
        holds_now = authority.value_at(spec, "endOfLife.legalHold") is True
        may_clear = (
            asked and held is not None and not holds_now and await allowed(ctx, userinfo, CLEAR_HOLD, namespace, "")
        )
        hold = authority.hold_entry(held, holds_now, user, may_clear)
        if hold is not None:
            entries[HOLD] = hold
    if not entries:
        return None
    return authority.sign(private, kind, meta, entries, datetime.now(UTC))


async def refusals(ctx: Context, kind: str, body: Mapping[str, Any], userinfo: Mapping[str, Any]) -> list[str]:
    """Why this change may not be admitted: each reference the stamp does not cover (with the reason the
    requester may not), and a legal hold cleared by someone who may not clear it."""
    public = public_pem((await ctx.operator_key.get()).public_key()) if ctx.operator_key is not None else None
    spec = body.get("spec") or {}
    namespace = str((body.get("metadata") or {}).get("namespace") or "")
    user, _groups = _requester(userinfo)
    out = []
    for reference, why in authority.unauthorised(kind, body, public):
        if await _authorised(ctx, userinfo, reference, spec, namespace):
            out.append(f"spec.{reference.present} was not stamped by admission ({why}); try again")
        else:
            out.append(authority.refusal(reference, spec, user, namespace))
    if kind == "AIModel" and authority.value_at(spec, "endOfLife.legalHold") is not True:
        held = authority.legal_hold(body, public)
        if held is not None:
            out.append(
                f"spec.endOfLife.legalHold: {user or 'the requester'} may not clear {held}: only someone who may "
                f"update aimodels/legalhold in {namespace!r} may; the hold stays in effect"
            )
    return out
