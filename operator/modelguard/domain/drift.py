"""Drift: where a live object no longer has what we applied because someone else changed it (pure).

The desired object is compared as a subset of the live one, because the API server adds defaults;
empty lists and maps count as absent (the API server drops them). Secrets are compared by a hash of
their data so that the watch cache need not hold secret values.

A difference is drift only where another field manager wrote it: the watch cache keeps, of each
object's managedFields, the field paths managers other than ModelGuard's own own (`foreign_fields`).
A difference in a field only ModelGuard ever wrote is ModelGuard's own change (the owner changed the
spec, the verified digest moved, the operator was upgraded): applied, never announced as drift.

The subset comparison alone misses what someone *adds* (an external IP or a port on a Service, an allow-all
rule on a NetworkPolicy, a data key), and server-side apply keeps such fields when another manager owns
them. So every managed kind but the Deployment (whose pod template `pod_security` judges) is also compared
the other way, whole (`SHAPES`, `additions`): what the live object holds beyond the desired one, the API
server's defaults and the values it assigns (cluster IPs, node ports), is someone else's, and those fields
are replaced whole (`replacement`, a JSON patch) to remove it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Shape:
    """What of a managed kind is compared whole: its top-level `fields` (what the object does; metadata is not
    among them), the values the API server fills in when nobody sets them (`defaults`, by path without list
    indices) and the paths it assigns itself (`assigned`: nobody's change)."""

    fields: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    assigned: frozenset[str] = frozenset()


SHAPES: dict[str, Shape] = {
    "Service": Shape(
        ("spec",),
        defaults={
            "spec.type": "ClusterIP",
            "spec.sessionAffinity": "None",
            "spec.internalTrafficPolicy": "Cluster",
            "spec.ipFamilyPolicy": "SingleStack",
            "spec.externalTrafficPolicy": "Cluster",  # NodePort and LoadBalancer only
            "spec.allocateLoadBalancerNodePorts": True,  # LoadBalancer only
            "spec.ports.protocol": "TCP",
        },
        assigned=frozenset(
            {"spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies", "spec.ports.nodePort", "spec.healthCheckNodePort"}
        ),
    ),
    "NetworkPolicy": Shape(
        ("spec",), defaults={"spec.ingress.ports.protocol": "TCP", "spec.egress.ports.protocol": "TCP"}
    ),
    "ConfigMap": Shape(("data", "binaryData", "immutable")),
    "ServiceAccount": Shape(("automountServiceAccountToken", "secrets", "imagePullSecrets")),
    "Secret": Shape(("type", "data")),  # the cache holds a hash of the data: compared whole, by it (additions)
}
_ABSENT = object()


def _added(desired: Any, live: Any, path: str, shape: Shape) -> list[str]:
    plain = _unindexed(path)
    if plain in shape.assigned or _empty(live):
        return []
    if desired is None:  # nothing of ours here: someone's, unless the API server's default
        return [] if shape.defaults.get(plain, _ABSENT) == live else [path]
    if isinstance(live, Mapping) and isinstance(desired, Mapping):
        out: list[str] = []
        for key, value in live.items():
            out.extend(_added(desired.get(key), value, f"{path}.{key}", shape))
        return out
    if isinstance(live, list) and isinstance(desired, list):
        if len(live) > len(desired):  # an item added (or one of ours replaced by two)
            return [path]
        out = []
        for i, (d, v) in enumerate(zip(desired, live, strict=False)):
            out.extend(_added(d, v, f"{path}[{i}]", shape))
        return out
    return []  # a changed value: `differences` reports it, and apply sets it back


def additions(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Paths where the live object (as the cache holds it) has what the desired one (as built) does not say
    and the API server did not fill in: fields server-side apply would keep if another manager owns them, so
    only a replacement removes them. For a Secret, any other data (its hash differs) counts: a key someone
    added cannot be told from a changed one without the values. [] for kinds without a `Shape`."""
    kind = str(desired.get("kind"))
    shape = SHAPES.get(kind)
    if shape is None:
        return []
    wanted = comparable(desired)
    if kind == "Secret":
        return ["dataHash"] if wanted.get("dataHash") != live.get("dataHash") else []
    out: list[str] = []
    for name in shape.fields:
        out.extend(_added(wanted.get(name), live.get(name), name, shape))
    return out


def replacement(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch that sets what the object does (its compared fields, whole: the spec of a Deployment, a
    Service or a NetworkPolicy) to `desired` and removes such fields `desired` does not have, whoever owns what
    is there now: unlike server-side apply, a patch keeps nothing another manager added. The live
    resourceVersion in it is the precondition (409 when the object changed since). Metadata (annotations,
    finalizers, other controllers' bookkeeping) is left as it is; labels and owner references are apply's."""
    kind = str(desired.get("kind"))
    fields = SHAPES[kind].fields if kind in SHAPES else ("spec",)
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]}
    ]
    for name in fields:
        if name in desired:
            ops.append({"op": "add", "path": f"/{name}", "value": desired[name]})  # add replaces a member whole
        elif name in live:
            ops.append({"op": "remove", "path": f"/{name}"})
    return ops


def mismatches(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Everything that makes the live object (as the cache holds it) other than the desired one (as built):
    what it lacks or changed, then what it added. [] is the only "it is what ModelGuard builds"."""
    changed = differences(comparable(desired), live)
    return changed + [p for p in additions(desired, live) if p not in changed]


def data_hash(data: Mapping[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(dict(data or {}), sort_keys=True).encode()).hexdigest()


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# the operator's field manager; "modelguard-quarantine" wrote replicas before issue 28 (one writer, one field
# manager since) and may still own them on a Deployment quarantined then: still ours, never drift
OUR_MANAGERS = frozenset({"modelguard", "modelguard-quarantine"})
FOREIGN_FIELDS = "foreignFields"  # in the cache view: dotted paths other managers own (list items unindexed)


def _paths(trie: Mapping[str, Any], prefix: str) -> list[str]:
    """Dotted paths of a managedFields fieldsV1 trie; list items (k:, v:, i:) add no segment."""
    out: list[str] = []
    for key, sub in trie.items():
        if key.startswith("f:"):
            path = f"{prefix}.{key[2:]}" if prefix else key[2:]
        elif key.startswith(("k:", "v:", "i:")):
            path = prefix
        else:  # "." marks the element itself
            continue
        below = _paths(sub, path) if isinstance(sub, Mapping) else []
        out.extend(below or [path])
    return out


def foreign_fields(managed_fields: Any) -> list[str]:
    """The fields of an object that field managers other than ours own (status excluded: not ours to set)."""
    paths: set[str] = set()
    for entry in managed_fields if isinstance(managed_fields, list) else []:
        if not isinstance(entry, Mapping) or entry.get("manager") in OUR_MANAGERS:
            continue
        if entry.get("subresource") == "status":
            continue
        fields = entry.get("fieldsV1")
        if isinstance(fields, Mapping):
            paths.update(p for p in _paths(fields, "") if p and not p.startswith("status"))
    return sorted(paths)


def _unindexed(path: str) -> str:
    parts = []
    for part in path.split("."):
        parts.append(part.split("[", 1)[0])
    return ".".join(p for p in parts if p)


@dataclass(frozen=True)
class Built:
    """What ModelGuard builds an AIDeployment's children from, as far as whose change a difference is goes: the
    owner's generation, the digest the model servers are pinned to, and whether the children are stopped
    (quarantined, or asked to stop by a decommission: scaled to zero, all traffic denied)."""

    generation: int | None
    digest: str | None
    stopped: bool


def ours_changed(before: Built, now: Built) -> bool:
    """Whether what ModelGuard builds changed since the last pass (the owner's spec, the served digest, a
    quarantine imposed or lifted): then a difference may be its own change, and only those in fields another
    field manager owns (and deletions) are drift. Otherwise every difference is someone else's, even a removed
    field nobody owns now."""
    return before != now


def by_others(changed: list[str], foreign: list[str]) -> list[str]:
    """The differences (paths from `differences`) that another field manager wrote: the drift among them.
    A path counts when a foreign path is it, lies below it, or lies above it."""
    out = []
    for path in changed:
        plain = "data" if path == "dataHash" else _unindexed(path)
        if any(f == plain or f.startswith(plain + ".") or plain.startswith(f + ".") for f in foreign):
            out.append(path)
    return out


def cache_view(body: Mapping[str, Any], foreign: bool = False) -> dict[str, Any]:
    """What the watch cache keeps of any object: all but the bookkeeping nobody here reads (managedFields and
    kubectl's copy of the last applied object), which is most of an object's size after server-side apply.
    With `foreign` (the objects ModelGuard manages), of managedFields the paths other managers own (usually
    none, or a controller's annotation): what drift is attributed by."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    if LAST_APPLIED in (meta.get("annotations") or {}):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
    view = {**body, "metadata": meta}
    paths = foreign_fields((body.get("metadata") or {}).get("managedFields")) if foreign else []
    if paths:
        view[FOREIGN_FIELDS] = paths
    return view


def secret_view(secret: Mapping[str, Any]) -> dict[str, Any]:
    """What the cache keeps of a Secret: metadata, type and a hash of the data (never the values)."""
    view = {
        "metadata": dict(secret.get("metadata") or {}),
        "type": secret.get("type"),
        "dataHash": data_hash(secret.get("data")),
    }
    if secret.get(FOREIGN_FIELDS):
        view[FOREIGN_FIELDS] = secret[FOREIGN_FIELDS]
    return view


def child_view(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A managed child as the watch cache holds it (handlers/registry.py), from an API answer."""
    view = cache_view(body, foreign=True)
    return secret_view(view) if kind == "Secret" else view


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
