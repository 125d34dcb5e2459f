"""Status writes against a watch cache that lags behind them: written and audited once, not per reconcile."""

from __future__ import annotations

import asyncio
from typing import Any

from modelguard.adapters.cache import Key, Store
from modelguard.adapters.resources import AIDEPLOYMENTS
from modelguard.domain.audit import Entry
from modelguard.reconcilers.context import Context, write_status

DIGEST = "sha256:" + "a" * 64
KEY = Key("AIDeployment", "team", "svc")


class FakeKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, res: Any, namespace: str | None, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(dict(status))
        return {}


class Recorder:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def append(self, entries: list[Entry]) -> list[dict[str, Any]]:
        self.entries.extend(entries)
        return []


def context() -> tuple[Context, FakeKube, Recorder]:
    kube, audit = FakeKube(), Recorder()
    ctx = Context(kube=kube, store=Store(), events=None, verifier=None, audit=audit)  # type: ignore[arg-type]
    return ctx, kube, audit


def test_a_second_reconcile_on_a_stale_cache_neither_writes_nor_records_again() -> None:
    ctx, kube, audit = context()
    stale = {"metadata": {"name": "svc"}, "status": {"servedDigest": None}}

    async def main() -> None:
        assert await write_status(ctx, AIDEPLOYMENTS, KEY, stale, {"servedDigest": DIGEST})
        assert not await write_status(ctx, AIDEPLOYMENTS, KEY, stale, {"servedDigest": DIGEST})

    asyncio.run(main())
    assert len(kube.patches) == 1
    assert [e.action for e in audit.entries] == ["RolledOut"]


def test_once_the_cache_moves_on_it_is_the_truth_again() -> None:
    ctx, kube, audit = context()
    stale = {"metadata": {"name": "svc"}, "status": {"servedDigest": None}}
    other = {"metadata": {"name": "svc"}, "status": {"servedDigest": None, "children": ["x"]}}  # someone else

    async def main() -> None:
        assert await write_status(ctx, AIDEPLOYMENTS, KEY, stale, {"servedDigest": DIGEST})
        assert await write_status(ctx, AIDEPLOYMENTS, KEY, other, {"servedDigest": DIGEST})

    asyncio.run(main())
    assert len(kube.patches) == 2
    assert [e.action for e in audit.entries] == ["RolledOut", "RolledOut"]


def test_drift_reverted_by_a_pass_whose_status_write_failed_is_reported_by_the_next() -> None:
    """Issue 15: a pass reverted drift and its status write failed; the next pass found nothing left to
    revert, so the drift went unreported. It is carried until a status write holds it."""
    from modelguard.reconcilers.context import drift_reported, drift_to_report

    ctx, _, _ = context()
    assert drift_to_report(ctx, KEY, ["Deployment/svc: spec.replicas"]) == ["Deployment/svc: spec.replicas"]
    # ... the status write raised: nothing marked it reported
    assert drift_to_report(ctx, KEY, []) == ["Deployment/svc: spec.replicas"]
    assert drift_to_report(ctx, KEY, ["NetworkPolicy/svc-allow: deleted", "Deployment/svc: spec.replicas"]) == [
        "Deployment/svc: spec.replicas",
        "NetworkPolicy/svc-allow: deleted",
    ]
    drift_reported(ctx, KEY)
    assert drift_to_report(ctx, KEY, []) == []
    assert drift_to_report(ctx, Key("AIDeployment", "other", "svc"), []) == []


def test_a_pass_stops_writing_children_once_its_aideployment_is_deleted() -> None:
    """Found in make test (1 in 5): a pass that began before a decommission deleted the AIDeployment went on
    applying its children and re-created one after the decommission had confirmed it gone."""
    import pytest

    from modelguard.domain.errors import Retry
    from modelguard.reconcilers.deployment_children import _apply

    class DeletedMidway(FakeKube):
        def __init__(self, store: Store) -> None:
            super().__init__()
            self.store, self.applied = store, []

        async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
            return None

        async def apply(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
            self.applied.append(obj["metadata"]["name"])
            self.store.remove(KEY)  # the watch event of the decommission's DELETE arrives
            return obj

    store = Store()
    store.upsert(KEY, {"metadata": {"name": "svc", "namespace": "team", "uid": "uid-1"}})
    kube = DeletedMidway(store)
    ctx = Context(kube=kube, store=store, events=None, verifier=None)  # type: ignore[arg-type]
    children = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "team"}}
        for n in ("svc-a", "svc-b", "svc-c")
    ]
    with pytest.raises(Retry) as stopped:
        asyncio.run(_apply(ctx, KEY, "uid-1", children, []))
    assert stopped.value.reason == "OwnerGone"
    assert kube.applied == ["svc-a"]  # nothing after the owner was gone
