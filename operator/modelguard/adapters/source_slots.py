"""Fair shares of source work (fetching and hashing what a tenant's URLs serve): at most `per_namespace`
at a time for one namespace and `total` for the operator.

Nothing waits for a slot: a reconcile that finds none raises SourceBusy (Deferred: the work queue's
worker is free at once, without backoff) and is remembered; when a slot frees, the longest-waiting reconcile of the next
namespace in turn that may run is woken. One tenant with many slow sources therefore holds at most
`per_namespace` slots and workers, and cannot make another tenant's reconciles, scans or the API calls
(which run on another thread pool) wait for it.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import Deferred


class SourceBusy(Deferred):
    """No slot for source work now; the reconcile is woken when one frees."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.QUEUED, message)


class SourceSlots:
    def __init__(self, per_namespace: int = 2, total: int = 4, wake: Callable[[Hashable], None] | None = None) -> None:
        if per_namespace < 1 or total < 1:
            raise ValueError("source slots must be at least 1")
        self.per_namespace, self.total = per_namespace, total
        self.wake = wake
        self._used: dict[str, int] = {}
        self._holders: dict[Hashable, int] = {}  # who holds a slot, and how deeply (nested holds are free)
        self._waiting: OrderedDict[str, OrderedDict[Hashable, None]] = OrderedDict()

    @property
    def in_use(self) -> int:
        return sum(self._used.values())

    def used(self, namespace: str) -> int:
        return self._used.get(namespace, 0)

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiting.values())

    @contextlib.contextmanager
    def hold(self, namespace: str, who: Hashable) -> Iterator[None]:
        """A slot for `who` (a work-queue key) in `namespace`, or SourceBusy."""
        if who in self._holders:  # already holds one (a scan that verifies): no second slot
            self._holders[who] += 1
            try:
                yield
            finally:
                self._holders[who] -= 1
            return
        if self.used(namespace) >= self.per_namespace or self.in_use >= self.total:
            self._waiting.setdefault(namespace, OrderedDict())[who] = None
            mine = self.used(namespace)
            raise SourceBusy(
                f"waiting for a source slot ({mine} of {self.per_namespace} in use in this namespace, "
                f"{self.in_use} of {self.total} in the operator)"
            )
        self._drop_waiter(namespace, who)
        self._used[namespace] = self.used(namespace) + 1
        self._holders[who] = 1
        try:
            yield
        finally:
            del self._holders[who]
            self._used[namespace] -= 1
            if not self._used[namespace]:
                del self._used[namespace]
            self._wake_next()

    def _drop_waiter(self, namespace: str, who: Hashable) -> None:
        queue = self._waiting.get(namespace)
        if queue is not None:
            queue.pop(who, None)
            if not queue:
                del self._waiting[namespace]

    def _wake_next(self) -> None:
        """Wake as many waiters as there are free slots, one namespace after another (round robin)."""
        free = self.total - self.in_use
        for namespace in list(self._waiting):
            if free <= 0:
                return
            if self.used(namespace) >= self.per_namespace:
                continue
            queue = self._waiting.pop(namespace)
            who, _ = queue.popitem(last=False)
            if queue:
                self._waiting[namespace] = queue  # to the back: the next namespace goes first next time
            free -= 1
            if self.wake is not None:
                self.wake(who)
