"""The runtime object built once at start-up and passed down: no module-level mutable globals."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelguard.adapters.cache import Key, Store
from modelguard.adapters.events import EventRecorder
from modelguard.adapters.kube import Kube
from modelguard.engine.workqueue import WorkQueue
from modelguard.reconcilers import aideployment, aimodel
from modelguard.reconcilers.context import Context

log = logging.getLogger(__name__)

Reconcile = Callable[[Context, Key], Awaitable[float | None]]

RECONCILERS: dict[str, Reconcile] = {
    "AIModel": aimodel.reconcile,
    "AIDeployment": aideployment.reconcile,
}


def _model_ref(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    name = (body.get("spec") or {}).get("modelRef", {}).get("name")
    return [f"{key.namespace}/{name}"] if isinstance(name, str) else []


def _policy_ref(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    name = (body.get("spec") or {}).get("trustPolicy")
    return [name] if isinstance(name, str) else []


@dataclass
class Settings:
    """Operator settings (from the command line or environment)."""

    namespace: str = "modelguard-system"
    workers: int = 8


@dataclass
class Runtime:
    kube: Kube
    settings: Settings = field(default_factory=Settings)
    store: Store = field(default_factory=Store)
    queue: WorkQueue[Key] = field(init=False)
    context: Context = field(init=False)

    def __post_init__(self) -> None:
        self.context = Context(kube=self.kube, store=self.store, events=EventRecorder(self.kube))
        self.queue = WorkQueue(self._dispatch, workers=self.settings.workers, name="reconcile")
        self.store.add_index("deployments-by-model", "AIDeployment", _model_ref)
        self.store.add_index("models-by-policy", "AIModel", _policy_ref)

    async def _dispatch(self, key: Key) -> float | None:
        reconcile = RECONCILERS.get(key.kind)
        if reconcile is None:
            return None
        return await reconcile(self.context, key)

    def observe(self, key: Key, body: Mapping[str, Any] | None) -> None:
        """Feed one watch event (body None for a deletion) and enqueue whatever it affects."""
        if body is None:
            self.store.remove(key)
            self.queue.forget(key)
        else:
            self.store.upsert(key, body)
        if key.kind in RECONCILERS and body is not None:
            self.queue.add(key)
        for dependent in self.dependents(key):
            self.queue.add(dependent)

    def dependents(self, key: Key) -> list[Key]:
        if key.kind == "AIModel":
            return self.store.lookup("deployments-by-model", f"{key.namespace}/{key.name}")
        if key.kind == "TrustPolicy":
            return self.store.lookup("models-by-policy", key.name)
        return []
