"""Reading a model's signature with the model's own credentials (shared by the AIModel and AIDeployment
reconcilers). Credentials come only from the model's namespace."""

from __future__ import annotations

from modelguard.adapters.cache import Key
from modelguard.adapters.secrets import configmap_value, source_credentials
from modelguard.adapters.sources import source_origin
from modelguard.api.aimodel import AIModelSpec
from modelguard.domain.credentials import Credentials
from modelguard.reconcilers.context import Context


async def credentials(ctx: Context, namespace: str, spec: AIModelSpec) -> Credentials | None:
    """The source's credentials (a credentials Secret of the model's namespace, or CredentialsRefused), bound to
    the origin of spec.source.uri: nothing sends them anywhere else (domain/credentials.may_carry)."""
    ref = spec.source.credentials_secret_ref
    if ref is None:
        return None
    origin = source_origin(spec.source.uri, ctx.verifier.settings)
    return await source_credentials(ctx.kube, namespace, ref.name, origin)


async def signature(
    ctx: Context,
    who: Key,
    spec: AIModelSpec,
    allowed: tuple[str, ...],
    creds: Credentials | None = None,
) -> bytes:
    """The signature bytes for the reconcile of `who` (an AIModel or AIDeployment, in the model's namespace):
    fetched in its namespace's share of source slots (or SourceBusy); redirects must stay under `allowed`
    (the TrustPolicy's allowed sources)."""
    if spec.signature.config_map_ref is not None:
        ref = spec.signature.config_map_ref
        return await configmap_value(ctx.kube, who.namespace, ref.name, ref.key)
    assert spec.signature.bundle_uri is not None
    if creds is None:
        creds = await credentials(ctx, who.namespace, spec)
    with ctx.verifier.slots.hold(who.namespace, who):
        return await ctx.verifier.signature(spec.signature.bundle_uri, creds, allowed=allowed)
