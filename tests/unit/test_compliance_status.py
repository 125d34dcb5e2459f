"""A ComplianceReport's status and schedule (pure): when it is due, what it says, and a bounded history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelguard.api.compliancereport import ComplianceReportSpec, ComplianceReportStatus
from modelguard.domain.compliance import AuditState, Facts, assess
from modelguard.domain.compliance_document import report_json
from modelguard.domain.compliance_status import report_status, seconds_until_due
from tests.unit.test_compliance import BAD_MODEL, DEPLOYMENT, GOOD_MODEL, POLICY

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "changed", "now", "due"),
    [
        (None, 0.0, 1000.0, 0.0),  # never generated (or a new spec): at once
        (1000.0, 500.0, 1100.0, 3500.0),  # nothing changed since: the interval (3600 s) after the last time
        (1000.0, 1050.0, 1100.0, 200.0),  # changed since: the gap (300 s) after the last time, not sooner
        (1000.0, 1050.0, 1400.0, 0.0),  # the gap has passed
        (1000.0, 1050.0, 9000.0, 0.0),  # long overdue
    ],
)
def test_when_a_report_is_due(last: float | None, changed: float, now: float, due: float) -> None:
    assert seconds_until_due(last, changed, now, 3600.0, 300.0) == due


def document(*models: dict[str, object]) -> dict[str, object]:
    facts = Facts(list(models), [DEPLOYMENT], [POLICY], audit=AuditState(1, None))  # type: ignore[arg-type]
    return report_json(assess(facts), facts, namespace=None, generated_at=NOW)


def test_the_status_summarises_by_phase_and_principle_and_names_what_is_not_met() -> None:
    good, bad = document(GOOD_MODEL), document(GOOD_MODEL, BAD_MODEL)
    first = report_status(good, ComplianceReportStatus(), 90, 3, NOW, [])
    assert first["observedGeneration"] == 3 and first["generatedAt"] == "2026-12-07T12:00:00Z"
    assert first["summary"]["met"] == good["summary"]["met"]  # type: ignore[index]
    assert sum(sum(v for k, v in p.items() if k != "phase") for p in first["byPhase"]) == 72
    assert first["byPhase"][0]["phase"] == "Secure Design" and len(first["byPrinciple"]) == 13
    second = report_status(bad, ComplianceReportStatus.model_validate(first), 90, 3, NOW, [])
    assert "5.2.1-2" in second["notMet"] and "5.2.1-2" not in first["notMet"]  # the unverified model
    assert [h["notMet"] for h in second["history"]] == [first["summary"]["notMet"], second["summary"]["notMet"]]
    assert "5.2.1" in second["history"][-1]["principlesNotMet"]
    ComplianceReportStatus.model_validate(second)  # what is written validates against the API


def test_the_history_keeps_the_newest_entries_within_the_limit() -> None:
    status = ComplianceReportStatus()
    for _ in range(5):
        status = ComplianceReportStatus.model_validate(report_status(document(GOOD_MODEL), status, 3, 1, NOW, []))
    assert len(status.history) == 3


def test_the_spec_bounds_how_often_the_cluster_is_read() -> None:
    assert ComplianceReportSpec().interval_minutes == 60 and ComplianceReportSpec().minimum_gap_seconds == 300
    for bad in ({"intervalMinutes": 1}, {"minimumGapSeconds": 1}, {"framework": "gdpr"}, {"namespace": "Bad_NS"}):
        with pytest.raises(ValueError, match="validation error"):
            ComplianceReportSpec.model_validate(bad)
    assert ComplianceReportSpec.model_validate({"framework": "eu-ai-act=Art. 15"}).framework == "eu-ai-act=Art. 15"
