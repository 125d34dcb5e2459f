"""Ordered chains of small checks (STYLE.md): the first violation decides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

F = TypeVar("F")
V = TypeVar("V")


def first_violation(checks: Sequence[Callable[[F], V | None]], facts: F) -> V | None:
    """Run checks in order; return the first violation, or None when every check passes."""
    for check in checks:
        violation = check(facts)
        if violation is not None:
            return violation
    return None
