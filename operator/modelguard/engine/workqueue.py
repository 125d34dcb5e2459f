"""A keyed work queue in the style of client-go's: level-based, deduplicated, one worker per key.

Watch events only *enqueue* keys; workers pull a key, reconcile the object's current state and
report when to look again. Properties:
- a key is never processed by two workers at once; an event during processing marks it dirty and
  it is processed once more afterwards (nothing is lost, nothing runs twice concurrently);
- bursts of events for one key collapse into one reconcile;
- failures back off exponentially per key (capped), successes reset the backoff;
- concurrency is bounded by the number of workers;
- a handler that must wait for capacity raises Deferred and returns its worker at once; whoever frees the
  capacity adds the key again (a fallback timer covers a lost wake-up);
- fair across shards (the runtime shards by tenant: a Namespace label a cluster admin sets, else the
  namespace): ready keys wait in one FIFO per shard and workers take from the shards in turn, so a team that
  creates one model while another bulk-loads thousands waits for at most one key of each other tenant, not
  for the whole backlog, however many namespaces the other tenant spreads its backlog over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from modelguard.domain.errors import Deferred, Retry

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)

Handler = Callable[[K], Awaitable[float | None]]


class WorkQueue(Generic[K]):
    """Deduplicating queue with delayed requeues and per-key exponential backoff."""

    def __init__(
        self,
        handler: Handler[K],
        *,
        workers: int = 8,
        base_backoff: float = 0.5,
        max_backoff: float = 300.0,
        name: str = "queue",
        on_wait: Callable[[float], None] | None = None,
        shard: Callable[[K], Hashable] = lambda key: None,
    ) -> None:
        self._handler = handler
        self._workers = workers
        self._base = base_backoff
        self._max = max_backoff
        self._name = name
        self._shard = shard
        self._shards: dict[Hashable, deque[K]] = {}  # ready keys, one FIFO per shard
        self._turns: deque[Hashable] = deque()  # shards with ready keys, in the order they are served
        self._available = asyncio.Semaphore(0)  # one release per ready key
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._on_wait = on_wait  # seconds from queued to taken, for metrics
        self._queued_at: dict[K, float] = {}

    def __len__(self) -> int:
        return len(self._queued)

    @property
    def idle(self) -> bool:
        return not self._queued and not self._processing

    def add(self, key: K) -> None:
        """Ask for the key to be reconciled soon (idempotent)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queued_at[key] = time.monotonic()
        shard = self._shard(key)
        waiting = self._shards.get(shard)
        if waiting is None:
            waiting = self._shards[shard] = deque()
            self._turns.append(shard)
        waiting.append(key)
        self._available.release()

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile the key after `delay` seconds unless something enqueues it earlier."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        due = loop.time() + delay
        if existing is not None and existing.when() <= due:
            return
        if existing is not None:
            existing.cancel()
        self._timers[key] = loop.call_at(due, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def forget(self, key: K) -> None:
        """Drop pending timers and backoff state of a deleted object."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._failures.pop(key, None)

    def backoff(self, key: K) -> float:
        failures = self._failures.get(key, 0)
        return float(min(self._max, self._base * (2 ** max(0, failures - 1))))

    async def _work(self) -> None:
        while True:
            await self._available.acquire()
            key = self._next()
            self._queued.discard(key)
            queued_at = self._queued_at.pop(key, None)
            if self._on_wait is not None and queued_at is not None:
                self._on_wait(time.monotonic() - queued_at)
            self._processing.add(key)
            started = time.monotonic()
            requeue: float | None = None
            try:
                requeue = await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Deferred as exc:  # waiting for capacity: woken when there is some, no backoff
                requeue = exc.fallback
                log.debug("%s: %s, woken when possible", key, exc.reason)
            except Retry as exc:
                self._failures[key] = self._failures.get(key, 0) + 1
                requeue = self.backoff(key)
                log.warning("%s: %s, retrying in %.1fs", key, exc.reason, requeue)
            except Exception:
                self._failures[key] = self._failures.get(key, 0) + 1
                requeue = self.backoff(key)
                log.exception("reconcile failed", extra={"key": str(key), "retry_in": requeue})
            else:
                self._failures.pop(key, None)
            finally:
                self._processing.discard(key)
                log.debug("reconciled %s in %.3fs", key, time.monotonic() - started)
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
            elif requeue is not None:
                self.add_after(key, requeue)

    def _next(self) -> K:
        """The oldest ready key of the shard whose turn it is; the shard goes to the back of the line."""
        shard = self._turns.popleft()
        waiting = self._shards[shard]
        key = waiting.popleft()
        if waiting:
            self._turns.append(shard)
        else:
            del self._shards[shard]
        return key

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work(), name=f"{self._name}-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def wait_idle(self, within: float = 10.0) -> bool:
        """For tests and benchmarks: wait until nothing is queued or running."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.idle:
                return True
            await asyncio.sleep(0.01)
        return self.idle
