"""Fair shares of source work: a namespace holds at most its share, nobody waits holding a worker, and a
freed slot wakes the next namespace in turn."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable

import pytest

from modelguard.adapters.source_slots import SourceBusy, SourceSlots
from modelguard.domain.errors import Deferred


def test_a_namespace_holds_at_most_its_share_and_others_still_get_slots() -> None:
    slots = SourceSlots(per_namespace=2, total=3)
    with contextlib.ExitStack() as held:
        held.enter_context(slots.hold("a", "a/1"))
        held.enter_context(slots.hold("a", "a/2"))
        with pytest.raises(SourceBusy) as busy:
            held.enter_context(slots.hold("a", "a/3"))
        assert isinstance(busy.value, Deferred) and busy.value.reason == "Queued"
        assert "2 of 2 in use in this namespace" in busy.value.message
        held.enter_context(slots.hold("b", "b/1"))  # another tenant is not held up
        with pytest.raises(SourceBusy):
            held.enter_context(slots.hold("c", "c/1"))  # the operator's total
        assert slots.in_use == 3
    assert slots.in_use == 0 and slots.used("a") == 0


def test_a_nested_hold_by_the_same_reconcile_takes_no_second_slot() -> None:
    slots = SourceSlots(per_namespace=1, total=1)
    with slots.hold("a", "a/1"), slots.hold("a", "a/1"):
        assert slots.in_use == 1
    assert slots.in_use == 0


def test_freed_slots_wake_waiters_namespace_by_namespace() -> None:
    woken: list[Hashable] = []
    slots = SourceSlots(per_namespace=1, total=1, wake=woken.append)
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
    slots = SourceSlots(per_namespace=1, total=1)
    with pytest.raises(RuntimeError), slots.hold("a", "a/1"):
        raise RuntimeError("fetch failed")
    with slots.hold("a", "a/2"):
        assert slots.in_use == 1
