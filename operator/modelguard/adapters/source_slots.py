"""Fair shares of source work (fetching and hashing what a tenant's URLs serve): at most `per_tenant`
at a time for one tenant and `total` for the operator.

A tenant is what `tenant_of` makes of a namespace (domain/tenancy.py: the label a cluster admin sets on the
Namespace, else the namespace alone), so a tenant with many namespaces holds no more than one with one.

Nothing waits for a slot: a reconcile that finds none raises SourceBusy (Deferred: the work queue's
worker is free at once, without backoff) and is remembered; when a slot frees, the longest-waiting reconcile of the next
tenant in turn that may run is woken. One tenant with many slow sources therefore holds at most
`per_tenant` slots and workers, and cannot make another tenant's reconciles, scans or the API calls
(which run on another thread pool) wait for it.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import Deferred
from modelguard.domain.tenancy import Tenant, tenant_of


class SourceBusy(Deferred):
    """No slot for source work now; the reconcile is woken when one frees."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.QUEUED, message)


def _own_namespace(namespace: str) -> Tenant:
    return tenant_of(namespace, None, None)


class SourceSlots:
    def __init__(
        self,
        per_tenant: int = 2,
        total: int = 4,
        wake: Callable[[Hashable], None] | None = None,
        tenant_of: Callable[[str], Tenant] = _own_namespace,
    ) -> None:
        if per_tenant < 1 or total < 1:
            raise ValueError("source slots must be at least 1")
        self.per_tenant, self.total = per_tenant, total
        self.wake = wake
        self.tenant_of = tenant_of
        self._used: dict[Tenant, int] = {}
        # who holds a slot: the tenant it was taken for (released to that one, whatever the label says by
        # then), and how deeply (nested holds are free)
        self._holders: dict[Hashable, tuple[Tenant, int]] = {}
        self._waiting: OrderedDict[Tenant, OrderedDict[Hashable, None]] = OrderedDict()
        self._waits_as: dict[Hashable, Tenant] = {}  # each waiter's tenant: it waits once, in one line

    @property
    def in_use(self) -> int:
        return sum(self._used.values())

    def used(self, tenant: Tenant) -> int:
        return self._used.get(tenant, 0)

    def waiting(self) -> int:
        return len(self._waits_as)

    @contextlib.contextmanager
    def hold(self, namespace: str, who: Hashable) -> Iterator[None]:
        """A slot for `who` (a work-queue key) in `namespace`, counted for its tenant, or SourceBusy."""
        if who in self._holders:  # already holds one (a scan that verifies): no second slot
            tenant, depth = self._holders[who]
            self._holders[who] = (tenant, depth + 1)
            try:
                yield
            finally:
                tenant, depth = self._holders[who]
                self._holders[who] = (tenant, depth - 1)
            return
        tenant = self.tenant_of(namespace)
        if self.used(tenant) >= self.per_tenant or self.in_use >= self.total:
            if self._waits_as.get(who, tenant) != tenant:  # relabelled meanwhile: waits in its tenant's line
                self._drop_waiter(who)
            self._waiting.setdefault(tenant, OrderedDict())[who] = None  # a second refusal keeps its place
            self._waits_as[who] = tenant
            mine = self.used(tenant)
            raise SourceBusy(
                f"waiting for a source slot ({mine} of {self.per_tenant} in use for this tenant, "
                f"{self.in_use} of {self.total} in the operator)"
            )
        self._drop_waiter(who)
        self._used[tenant] = self.used(tenant) + 1
        self._holders[who] = (tenant, 1)
        try:
            yield
        finally:
            del self._holders[who]
            self._used[tenant] -= 1
            if not self._used[tenant]:
                del self._used[tenant]
            self._wake_next()

    def _drop_waiter(self, who: Hashable) -> None:
        tenant = self._waits_as.pop(who, None)
        queue = self._waiting.get(tenant) if tenant is not None else None
        if tenant is not None and queue is not None:
            queue.pop(who, None)
            if not queue:
                del self._waiting[tenant]

    def _wake_next(self) -> None:
        """Wake as many waiters as there are free slots, one tenant after another (round robin)."""
        free = self.total - self.in_use
        for tenant in list(self._waiting):
            if free <= 0:
                return
            if self.used(tenant) >= self.per_tenant:
                continue
            queue = self._waiting.pop(tenant)
            who, _ = queue.popitem(last=False)
            del self._waits_as[who]
            if queue:
                self._waiting[tenant] = queue  # to the back: the next tenant goes first next time
            free -= 1
            if self.wake is not None:
                self.wake(who)
