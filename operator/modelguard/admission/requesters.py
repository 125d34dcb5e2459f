"""Who asked for a decommission, recorded by admission (the requester, as a type from admission to the
certificate: api/certificate.Requester)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import CONFIGMAPS
from modelguard.api.certificate import Requester
from modelguard.domain.decommission import REQUESTS
from modelguard.reconcilers.context import Context


def requester_of(userinfo: Mapping[str, Any]) -> Requester:
    """The identity the API server authenticated (admission's userInfo)."""
    return Requester(username=str(userinfo.get("username", "")), groups=[str(g) for g in userinfo.get("groups") or []])


async def record_deletion_requester(ctx: Context, uid: str, requester: Requester) -> None:
    """Remember who deleted the model (the ConfigMap of decommissions in progress, by model uid): its
    decommission deletes data only as far as they may."""
    patch = {"data": {uid: requester.model_dump_json()}}
    try:
        await ctx.kube.merge_patch(CONFIGMAPS, ctx.operator_namespace, REQUESTS, patch)
    except KubeError as exc:
        if not exc.not_found:
            raise
        meta = {"name": REQUESTS, "namespace": ctx.operator_namespace}
        await ctx.kube.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **patch})
