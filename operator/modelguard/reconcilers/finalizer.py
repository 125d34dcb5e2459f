"""The AIModel's finalizer: deleting a model must run its decommission first (TS 104 223 5.5.1)."""

from __future__ import annotations

from typing import Any

from modelguard.adapters.cache import Key
from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import AIMODELS
from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import Retry
from modelguard.reconcilers.context import Context

FINALIZER = "modelguard.io/decommission"


async def add(ctx: Context, key: Key, meta: dict[str, Any]) -> None:
    """Deleting the model must run its decommission first (TS 104 223 5.5.1)."""
    finalizers = [*(meta.get("finalizers") or []), FINALIZER]
    try:
        await ctx.kube.merge_patch(
            AIMODELS,
            key.namespace,
            key.name,
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}},
        )
    except KubeError as exc:
        if exc.conflict:
            raise Retry(Reason.CONFLICT, "the AIModel changed while adding the finalizer") from None
        raise


async def release(ctx: Context, key: Key, meta: dict[str, Any]) -> None:
    current = list(meta.get("finalizers") or [])
    if FINALIZER not in current:
        return
    ops = [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": [f for f in current if f != FINALIZER]},
    ]
    try:
        await ctx.kube.json_patch(AIMODELS, key.namespace, key.name, ops)
    except KubeError as exc:
        if exc.not_found:  # released already and gone
            return
        if exc.status == 422:  # the finalizers changed meanwhile: look again
            raise Retry(Reason.CONFLICT, "the finalizers changed while releasing ours") from None
        raise
