"""Whose is an object? ModelGuard writes only objects it created for that very owner (issue 13, class 1).

An object is a child of an AIDeployment when its controller owner reference names the AIDeployment's uid.
Anything else with a child's name (a Service, Secret, ConfigMap or Deployment someone else made, or one
of another AIDeployment) is a name clash: it is never adopted, patched, scaled or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def controlled_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") is True and ref.get("uid") == uid for ref in refs)


def clash_message(refs: list[str]) -> str:
    return (
        f"objects with the names this AIDeployment's children need exist and are not its own: {', '.join(refs)}; "
        "ModelGuard never takes over objects it did not create: rename the AIDeployment or remove them"
    )
