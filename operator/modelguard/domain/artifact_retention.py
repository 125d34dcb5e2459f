"""Whether a decommission may delete a registry artifact (pure; issue 13 class 10, issue 27 item 7).

A registry deletes a manifest by its digest, and one manifest answers to many names: `localhost:5000`,
`LOCALHOST:5000`, `127.1:5000` and `127.0.0.1:05000` are one registry, and a mirror or a second name of a
registry serves the same manifest under another host or repository. So an artifact is compared by its digest
alone: it is kept while any other AIModel, in any namespace, names that digest in its spec or in what it was
verified at (`status.verified`: the artifact it serves may be one its spec has moved on from). Two
registries holding the same digest can only make ModelGuard keep an artifact, never delete one someone uses.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from modelguard.api.aimodel import VerifiedRecord

DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.IGNORECASE)
NEVER_VERIFIED = "this model never verified it: ModelGuard deletes only artifacts it verified for this model"


def digests_named(value: Any) -> frozenset[str]:
    """Every sha256 digest written anywhere in a value (strings inside mappings and lists), lower-cased."""
    found: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.update(d.lower() for d in DIGEST.findall(item))
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return frozenset(found)


def digests_in_use(models: Iterable[Mapping[str, Any]], except_uid: str) -> list[frozenset[str]]:
    """For each AIModel but the one with `except_uid`, the digests it names in its spec or was verified at."""
    return [
        digests_named([body.get("spec"), (body.get("status") or {}).get("verified")])
        for body in models
        if (body.get("metadata") or {}).get("uid") != except_uid
    ]


def verified_at(record: VerifiedRecord | None) -> frozenset[str]:
    """The URIs a verified record says the model was verified at: its source and its signature bundle."""
    if record is None:
        return frozenset()
    return frozenset(u for u in (record.source, record.signature_ref.bundle_uri) if u is not None)


def keep_reason(uri: str, verified: Collection[str], others: Iterable[frozenset[str]]) -> str | None:
    """Why the artifact at `uri` (`oci://host/repository@digest`) must stay, or None when it may be deleted:
    this model never verified it (`verified`: the URIs it was verified at), it names no digest, or another
    AIModel names its digest."""
    if uri not in verified:
        return NEVER_VERIFIED
    digest = uri.rpartition("@")[2].lower()
    if DIGEST.fullmatch(digest) is None:
        return "not pinned by a sha256 digest"
    users = sum(1 for named in others if digest in named)
    if users:
        return f"still referenced by {users} other AIModel(s)"
    return None
