from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelguard.domain.conditions import Verdict, find, is_true_for, merge_conditions

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_gets_now_and_generation() -> None:
    (cond,) = merge_conditions([], [Verdict("Ready", "False", "AwaitingVerification")], 3, T0)
    assert (cond.type, cond.status, cond.reason, cond.observed_generation) == (
        "Ready",
        "False",
        "AwaitingVerification",
        3,
    )
    assert cond.last_transition_time == T0


def test_transition_time_moves_only_when_status_flips() -> None:
    first = merge_conditions([], [Verdict("Ready", "False", "A")], 1, T0)
    same_status = merge_conditions(first, [Verdict("Ready", "False", "B", "other reason")], 2, T1)
    assert same_status[0].last_transition_time == T0
    assert same_status[0].reason == "B" and same_status[0].observed_generation == 2
    flipped = merge_conditions(same_status, [Verdict("Ready", "True", "Verified")], 2, T1)
    assert flipped[0].last_transition_time == T1


def test_other_conditions_are_kept_and_order_is_stable() -> None:
    base = merge_conditions([], [Verdict("Verified", "True", "SignatureValid"), Verdict("Ready", "True", "Ok")], 1, T0)
    updated = merge_conditions(base, [Verdict("Ready", "False", "Quarantined")], 1, T1)
    assert [c.type for c in updated] == ["Ready", "Verified"]
    assert find(updated, "Verified") == find(base, "Verified")


def test_is_true_for_requires_current_generation() -> None:
    conds = merge_conditions([], [Verdict("Verified", "True", "SignatureValid")], 4, T0)
    assert is_true_for(conds, "Verified", 4)
    assert not is_true_for(conds, "Verified", 5)
    assert not is_true_for(conds, "Missing", 4)
