from __future__ import annotations

import asyncio

import pytest

from modelguard.engine.workqueue import WorkQueue


@pytest.fixture
def loop_run():  # type: ignore[no-untyped-def]
    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run(coro)

    return run


def test_burst_for_one_key_collapses_and_keys_never_run_concurrently(loop_run) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    running: set[str] = set()
    overlaps = 0

    async def handler(key: str) -> float | None:
        nonlocal overlaps
        if key in running:
            overlaps += 1
        running.add(key)
        calls.append(key)
        await asyncio.sleep(0.02)
        running.discard(key)
        return None

    async def main() -> None:
        queue: WorkQueue[str] = WorkQueue(handler, workers=4)
        queue.start()
        for _ in range(50):
            queue.add("a")
        queue.add("b")
        await asyncio.sleep(0.005)
        for _ in range(10):  # arrives while "a" is processing: exactly one more run
            queue.add("a")
        assert await queue.wait_idle(5)
        await queue.stop()

    loop_run(main())
    assert overlaps == 0
    assert calls.count("a") == 2
    assert calls.count("b") == 1


def test_failures_back_off_exponentially_and_success_resets(loop_run) -> None:  # type: ignore[no-untyped-def]
    attempts = 0

    async def handler(key: str) -> float | None:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise RuntimeError("boom")
        return None

    async def main() -> WorkQueue[str]:
        queue: WorkQueue[str] = WorkQueue(handler, workers=1, base_backoff=0.01, max_backoff=0.04)
        queue.start()
        queue.add("k")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if attempts >= 4 and queue.idle:
                break
        await queue.stop()
        return queue

    queue = loop_run(main())
    assert attempts == 4
    assert queue.backoff("k") == 0.01  # reset after success


def test_backoff_is_capped() -> None:
    queue: WorkQueue[str] = WorkQueue(lambda k: asyncio.sleep(0), base_backoff=1, max_backoff=8)  # type: ignore[arg-type,return-value]
    queue._failures["k"] = 10
    assert queue.backoff("k") == 8


def test_add_after_fires_once_and_earlier_add_wins(loop_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def handler(key: str) -> float | None:
            seen.append(loop.time() - start)
            return None

        queue: WorkQueue[str] = WorkQueue(handler, workers=1)
        queue.start()
        queue.add_after("k", 0.3)
        queue.add_after("k", 0.5)  # later: ignored, the earlier timer stands
        await asyncio.sleep(0.5)
        queue.add_after("k", 0.2)
        queue.add("k")  # immediate add cancels the pending timer
        await asyncio.sleep(0.4)
        await queue.stop()

    loop_run(main())
    assert len(seen) == 2
    assert 0.25 <= seen[0] < 0.45


def test_api_request_metrics_name_resources_without_object_names() -> None:
    from modelguard.adapters.metrics import resource_of

    assert resource_of("/apis/modelguard.io/v1alpha1/namespaces/ns/aimodels/m/status") == "aimodels/status"
    assert resource_of("/apis/apps/v1/namespaces/ns/deployments/d") == "deployments"
    assert resource_of("/api/v1/namespaces/ns/configmaps") == "configmaps"
    assert resource_of("/api/v1/namespaces/ns") == "namespaces"
    assert resource_of("/apis/modelguard.io/v1alpha1/trustpolicies/p?x=1") == "trustpolicies"


def test_a_deferred_key_frees_its_worker_without_backoff_and_runs_when_woken(loop_run) -> None:  # type: ignore[no-untyped-def]
    from modelguard.domain.errors import Deferred

    ran: list[str] = []
    capacity = asyncio.Event()

    async def handler(key: str) -> float | None:
        ran.append(key)
        if key == "waits" and not capacity.is_set():
            raise Deferred("Queued", "no slot", fallback=60)
        return None

    async def main() -> WorkQueue[str]:
        queue: WorkQueue[str] = WorkQueue(handler, workers=1)
        queue.start()
        queue.add("waits")
        queue.add("other")  # the one worker is free again at once
        assert await queue.wait_idle(2)
        assert ran == ["waits", "other"]
        capacity.set()
        queue.add("waits")  # the wake-up
        assert await queue.wait_idle(2)
        await queue.stop()
        return queue

    queue = loop_run(main())
    assert ran == ["waits", "other", "waits"]
    assert queue.backoff("waits") == queue.backoff("never-failed")  # a wait is not a failure


def test_a_team_behind_another_teams_bulk_load_waits_for_one_key_per_team_not_the_backlog(loop_run) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 item 4: the queue was one FIFO, so a model created during another namespace's bulk load of
    thousands waited for all of them (146 s in the 1,000 + 1,000 benchmark)."""
    order: list[str] = []

    async def handler(key: str) -> float | None:
        order.append(key)
        await asyncio.sleep(0)
        return None

    async def main() -> None:
        queue: WorkQueue[str] = WorkQueue(handler, workers=1, shard=lambda key: key.split("/")[0])
        for i in range(200):
            queue.add(f"bulk/m-{i}")
        queue.add("other/probe")
        queue.add("third/x")
        queue.start()
        assert await queue.wait_idle(5)
        await queue.stop()

    loop_run(main())
    assert order.index("other/probe") <= 2 and order.index("third/x") <= 3
    bulk = [k for k in order if k.startswith("bulk/")]
    assert bulk == [f"bulk/m-{i}" for i in range(200)]  # FIFO within a shard, nothing lost or repeated
    assert len(order) == 202


def test_without_shards_the_queue_is_fifo(loop_run) -> None:  # type: ignore[no-untyped-def]
    order: list[int] = []

    async def handler(key: int) -> float | None:
        order.append(key)
        return None

    async def main() -> None:
        queue: WorkQueue[int] = WorkQueue(handler, workers=1)
        for i in range(20):
            queue.add(i)
        queue.start()
        assert await queue.wait_idle(5)
        await queue.stop()

    loop_run(main())
    assert order == list(range(20))


def test_a_tenant_with_many_namespaces_gets_one_turn_not_one_per_namespace(loop_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 27, item 12: the queue took turns by namespace, so a tenant with ten namespaces had ten turns for
    another tenant's one. Turns go by tenant (the namespace label an admin sets; the namespace by default)."""
    from modelguard.adapters.cache import Key
    from modelguard.adapters.kube import Kube
    from modelguard.adapters.kube_connection import Connection
    from modelguard.engine import runtime as engine

    order: list[str] = []

    async def reconcile(ctx: object, key: Key) -> float | None:
        order.append(key.namespace)
        await asyncio.sleep(0)
        return None

    monkeypatch.setitem(engine.RECONCILERS, "AIModel", reconcile)

    async def main() -> None:
        runtime = engine.Runtime(kube=Kube(Connection(server="https://127.0.0.1:1")), settings=engine.Settings())
        runtime.settings.workers = 1
        labels = {"modelguard.io/tenant": "bulk"}
        for i in range(10):
            runtime.store.upsert(Key("Namespace", "", f"bulk-{i}"), {"metadata": {"labels": labels}})
        for n in range(20):
            for i in range(10):
                runtime.queue.add(Key("AIModel", f"bulk-{i}", f"m-{n}"))
        runtime.queue.add(Key("AIModel", "other", "probe"))
        runtime.queue.start()
        assert await runtime.queue.wait_idle(30)
        await runtime.queue.stop()
        runtime.context.verifier.shutdown()

    loop_run(main())
    assert order.index("other") <= 1, order[:12]  # one key of the bulk tenant at most, not one per namespace
    assert len(order) == 201
