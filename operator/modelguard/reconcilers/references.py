"""The reconciler's half of the authority rule (ADR 0020): act on a tenant's reference only under a valid
authority stamp that covers the live spec; honour a legal hold the stamp recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.api.condition_reasons import Reason
from modelguard.domain import authority
from modelguard.domain.crypto import public_pem
from modelguard.domain.errors import VerificationError
from modelguard.reconcilers.context import Context


async def _public(ctx: Context) -> bytes | None:
    return public_pem((await ctx.operator_key.get()).public_key()) if ctx.operator_key is not None else None


async def require(
    ctx: Context,
    kind: str,
    body: Mapping[str, Any],
    entry: str,
    reason: Reason = Reason.REFERENCE_NOT_AUTHORISED,
    prefix: str = "",
) -> None:
    """Raise (a condition that needs a person to act) unless the reference `entry` is absent or authorised."""
    problem = authority.not_honoured(kind, body, await _public(ctx), entry)
    if problem is not None:
        raise VerificationError(reason, prefix + problem)


async def legal_hold(ctx: Context, body: Mapping[str, Any]) -> str | None:
    """What holds the model (the spec, or a hold the stamp keeps), or None."""
    return authority.legal_hold(body, await _public(ctx))
