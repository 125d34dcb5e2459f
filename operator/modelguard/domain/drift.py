"""Drift: where a live object no longer has what we applied (pure).

The desired object is compared as a subset of the live one, because the API server adds defaults;
empty lists and maps count as absent (the API server drops them). Secrets are compared by a hash of
their data so that the watch cache need not hold secret values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths (dotted) where `live` lacks or changed what `desired` says."""
    if isinstance(desired, Mapping):
        if _empty(desired) and _empty(live):
            return []
        if not isinstance(live, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in desired.items():
            out.extend(differences(value, live.get(key), f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(desired, list):
        if _empty(desired) and _empty(live):
            return []
        if not isinstance(live, list) or len(live) != len(desired):
            return [path]
        out = []
        for i, (d, v) in enumerate(zip(desired, live, strict=True)):
            out.extend(differences(d, v, f"{path}[{i}]"))
        return out
    return [] if desired == live else [path]


def data_hash(data: Mapping[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(dict(data or {}), sort_keys=True).encode()).hexdigest()


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def cache_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the watch cache keeps of any object: all but the bookkeeping nobody here reads (managedFields and
    kubectl's copy of the last applied object), which is most of an object's size after server-side apply."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    if LAST_APPLIED in (meta.get("annotations") or {}):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
    return {**body, "metadata": meta}


def secret_view(secret: Mapping[str, Any]) -> dict[str, Any]:
    """What the cache keeps of a Secret: metadata, type and a hash of the data (never the values)."""
    return {
        "metadata": dict(secret.get("metadata") or {}),
        "type": secret.get("type"),
        "dataHash": data_hash(secret.get("data")),
    }


def comparable(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired object in the shape the cache holds it."""
    if desired.get("kind") == "Secret":
        return {
            "metadata": desired["metadata"],
            "type": desired.get("type"),
            "dataHash": data_hash(desired.get("data")),
        }
    return dict(desired)


DELETED = "deleted"  # the path reported for a managed object that is gone


def summarize(kind: str, name: str, paths: list[str]) -> str:
    """`Kind/name (field, field)` with the top-level fields that drifted, or `Kind/name (deleted)`."""
    if DELETED in paths:
        return f"{kind}/{name} (deleted)"
    fields = sorted({p.split("[")[0].rsplit(".", 1)[0] if p.count(".") > 2 else p.split("[")[0] for p in paths})
    return f"{kind}/{name} ({', '.join(fields[:4])}{', …' if len(fields) > 4 else ''})"
