"""A ComplianceReport's status from a report document, and when it is next due (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from modelguard.api.compliancereport import ComplianceReportStatus

COUNTS = {"met": "met", "not met": "notMet", "not applicable": "notApplicable", "organisational": "organisational"}


def seconds_until_due(last: float | None, changed: float, now: float, interval_s: float, gap_s: float) -> float:
    """Seconds until the report should be generated again: at once when it never was (or its spec changed:
    `last` None); otherwise `interval_s` after the last time, or `gap_s` after it when the evidence changed
    since (never sooner)."""
    if last is None:
        return 0.0
    due = last + interval_s
    if changed > last:
        due = min(due, last + gap_s)
    return max(0.0, due - now)


def _counts(summary: Mapping[str, int]) -> dict[str, int]:
    return {wire: int(summary.get(status, 0)) for status, wire in COUNTS.items()}


def report_status(
    document: Mapping[str, Any],
    previous: ComplianceReportStatus,
    history_limit: int,
    generation: int,
    now: datetime,
    conditions: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The status to write: the summary, per phase and per principle, the provisions not met, and the history
    (the previous entries and this one, oldest first, at most `history_limit`)."""
    principles = document.get("byPrinciple") or []
    phases: dict[str, dict[str, int]] = {}
    for p in principles:
        total = phases.setdefault(p["phase"], dict.fromkeys(COUNTS.values(), 0))
        for wire, n in _counts(p["counts"]).items():
            total[wire] += n
    at = now.isoformat().replace("+00:00", "Z")
    entry = {
        "at": at,
        **_counts(document["summary"]),
        "principlesNotMet": [p["clause"] for p in principles if p["counts"].get("not met")],
    }
    history = [h.wire() for h in previous.history] + [entry]
    return {
        "observedGeneration": generation,
        "conditions": list(conditions),
        "generatedAt": at,
        "summary": _counts(document["summary"]),
        "byPhase": [{"phase": phase, **counts} for phase, counts in phases.items()],
        "byPrinciple": [
            {"clause": p["clause"], "name": p["title"], "phase": p["phase"], **_counts(p["counts"])} for p in principles
        ],
        "notMet": [p["id"] for p in document.get("provisions") or [] if p["status"] == "not met"],
        "history": history[-history_limit:],
    }
