"""The watch cache: the latest body of every watched object, fed by watch events, with indexes.

Reconcilers read other objects from here instead of asking the API server, the way informers
work in Go controllers. Bodies are kept as compact JSON (they arrive as JSON): a tenth of the memory of
the same dicts, and decoding a copy for a reader is cheaper than deep-copying one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Key:
    """Identity of a watched object; namespace is "" for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


Body = dict[str, Any]
Indexer = Callable[[Key, Mapping[str, Any]], Iterable[str]]


class Store:
    """Latest known bodies by key, plus secondary indexes (name -> value -> keys)."""

    def __init__(self) -> None:
        self._objects: dict[Key, bytes] = {}
        self._indexers: dict[str, tuple[str, Indexer]] = {}
        self._indexes: dict[str, defaultdict[str, set[Key]]] = {}
        self._reverse: dict[tuple[str, Key], tuple[str, ...]] = {}

    def add_index(self, name: str, kind: str, indexer: Indexer) -> None:
        self._indexers[name] = (kind, indexer)
        self._indexes[name] = defaultdict(set)

    def upsert(self, key: Key, body: Mapping[str, Any]) -> None:
        self._objects[key] = json.dumps(body, separators=(",", ":")).encode()
        self._reindex(key, body)

    def remove(self, key: Key) -> None:
        self._objects.pop(key, None)
        self._reindex(key, None)

    def _reindex(self, key: Key, body: Mapping[str, Any] | None) -> None:
        for name, (kind, indexer) in self._indexers.items():
            if kind != key.kind:
                continue
            for value in self._reverse.pop((name, key), ()):
                self._indexes[name][value].discard(key)
            if body is None:
                continue
            values = tuple(indexer(key, body))
            self._reverse[(name, key)] = values
            for value in values:
                self._indexes[name][value].add(key)

    def get(self, key: Key) -> Body | None:
        """A copy of the latest body (callers may not mutate the cache)."""
        raw = self._objects.get(key)
        return dict(json.loads(raw)) if raw is not None else None

    def lookup(self, index: str, value: str) -> list[Key]:
        return sorted(self._indexes[index].get(value, ()))

    def keys(self, kind: str) -> list[Key]:
        return sorted(k for k in self._objects if k.kind == kind)
