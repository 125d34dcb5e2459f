"""Fair shares of source work: a tenant holds at most its share, nobody waits holding a worker, and a
freed slot wakes the next tenant in turn."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable

import pytest

from modelguard.adapters.source_slots import SourceBusy, SourceSlots
from modelguard.domain.errors import Deferred
from modelguard.domain.tenancy import tenant_of


def test_a_namespace_holds_at_most_its_share_and_others_still_get_slots() -> None:
    slots = SourceSlots(per_tenant=2, total=3)
    with contextlib.ExitStack() as held:
        held.enter_context(slots.hold("a", "a/1"))
        held.enter_context(slots.hold("a", "a/2"))
        with pytest.raises(SourceBusy) as busy:
            held.enter_context(slots.hold("a", "a/3"))
        assert isinstance(busy.value, Deferred) and busy.value.reason == "Queued"
        assert "2 of 2 in use for this tenant" in busy.value.message
        held.enter_context(slots.hold("b", "b/1"))  # another tenant is not held up
        with pytest.raises(SourceBusy):
            held.enter_context(slots.hold("c", "c/1"))  # the operator's total
        assert slots.in_use == 3
    assert slots.in_use == 0 and slots.used("a") == 0


def test_a_nested_hold_by_the_same_reconcile_takes_no_second_slot() -> None:
    slots = SourceSlots(per_tenant=1, total=1)
    with slots.hold("a", "a/1"), slots.hold("a", "a/1"):
        assert slots.in_use == 1
    assert slots.in_use == 0


def test_freed_slots_wake_waiters_namespace_by_namespace() -> None:
    woken: list[Hashable] = []
    slots = SourceSlots(per_tenant=1, total=1, wake=woken.append)
    with slots.hold("a", "a/1"):
        for who, namespace in [("a/2", "a"), ("a/3", "a"), ("b/1", "b"), ("a/2", "a")]:  # a/2 twice: once
            with pytest.raises(SourceBusy), slots.hold(namespace, who):
                pass
        assert slots.waiting() == 3
    assert woken == ["a/2"]  # one slot freed: one waiter woken, the longest waiting
    with slots.hold("a", "a/2"):
        pass
    assert woken == ["a/2", "b/1"]  # then the next namespace, not a's next
    with slots.hold("b", "b/1"):
        pass
    assert woken == ["a/2", "b/1", "a/3"]
    assert slots.waiting() == 0


def test_a_slot_is_released_when_the_work_fails() -> None:
    slots = SourceSlots(per_tenant=1, total=1)
    with pytest.raises(RuntimeError), slots.hold("a", "a/1"):
        raise RuntimeError("fetch failed")
    with slots.hold("a", "a/2"):
        assert slots.in_use == 1


TENANT = "modelguard.io/tenant"


def namespace_body(name: str, tenant: str | None = None) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": {TENANT: tenant} if tenant else {}}}


def test_a_tenant_with_two_namespaces_holds_at_most_its_share_and_another_tenant_gets_a_slot() -> None:
    """Issue 27, item 12: budgets were per namespace, so one tenant with two namespaces held all four slots and
    another tenant's model waited for them (41-56 s). The tenant is the label an admin sets on the Namespace."""
    from modelguard.adapters.cache import Key
    from modelguard.adapters.kube import Kube
    from modelguard.adapters.kube_connection import Connection
    from modelguard.engine.runtime import Runtime, Settings

    runtime = Runtime(kube=Kube(Connection(server="https://127.0.0.1:1")), settings=Settings())
    for name, tenant in [("t1-dev", "t1"), ("t1-prod", "t1"), ("t2", None)]:
        runtime.observe(Key("Namespace", "", name), namespace_body(name, tenant))
    slots = runtime.context.verifier.slots
    try:
        with contextlib.ExitStack() as held:
            held.enter_context(slots.hold("t1-dev", Key("AIModel", "t1-dev", "1")))
            held.enter_context(slots.hold("t1-prod", Key("AIModel", "t1-prod", "1")))
            for ns in ["t1-dev", "t1-prod"]:
                with pytest.raises(SourceBusy) as busy:
                    held.enter_context(slots.hold(ns, Key("AIModel", ns, "2")))
                assert "2 of 2 in use for this tenant" in busy.value.message
            held.enter_context(slots.hold("t2", Key("AIModel", "t2", "1")))  # the other tenant gets a slot at once
            assert slots.in_use == 3
    finally:
        runtime.context.verifier.shutdown()


def test_an_unlabelled_namespace_is_a_tenant_of_its_own_whatever_its_name() -> None:
    """A namespace named like another tenant's label value shares nothing with it."""
    labels = {"a-dev": {TENANT: "a"}, "a-prod": {TENANT: "a"}}
    slots = SourceSlots(per_tenant=1, total=4, tenant_of=lambda ns: tenant_of(ns, labels.get(ns), TENANT))
    with slots.hold("a-dev", "a-dev/1"):
        with pytest.raises(SourceBusy), slots.hold("a-prod", "a-prod/1"):
            pass
        with slots.hold("a", "a/1"):  # the namespace "a" is not tenant "a"
            assert slots.in_use == 2


def test_a_slot_is_returned_to_the_tenant_that_took_it_even_if_the_label_moved() -> None:
    labels = {TENANT: "one"}
    slots = SourceSlots(per_tenant=1, total=2, tenant_of=lambda ns: tenant_of(ns, labels, TENANT))
    with slots.hold("x", "x/1"):
        labels[TENANT] = "two"  # an admin relabels the namespace meanwhile
    assert slots.in_use == 0 and slots.waiting() == 0
    with slots.hold("x", "x/2"):
        assert slots.in_use == 1
