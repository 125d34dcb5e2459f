"""The compliance mapping (pure): every provision once, statuses from evidence, an honest HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from modelguard.builders.compliance_report import report_html
from modelguard.domain.compliance import AuditState, Facts, assess
from modelguard.domain.compliance_assurance import ORGANISATIONAL
from modelguard.domain.compliance_document import report_json
from modelguard.domain.etsi_provisions import PROVISIONS

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def obj(kind: str, name: str, spec: dict[str, Any], status: dict[str, Any], ns: str | None = "team") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, "spec": spec, "status": status}


def cond(kind: str, status: str, reason: str = "R") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason}


GOOD_MODEL = obj(
    "AIModel",
    "m",
    {"trustPolicy": "p", "card": {"prohibitedUses": ["x"], "limitations": ["y"], "dataUsage": "z"}},
    {"conditions": [cond("Verified", "True"), cond("Documented", "True")], "verified": {"digest": DIGEST}},
)
BAD_MODEL = obj("AIModel", "bad<m>", {"trustPolicy": "p"}, {"conditions": [cond("Verified", "False", "Tampered")]})
POLICY = obj("TrustPolicy", "p", {"mode": "Enforce"}, {}, ns=None)
DEPLOYMENT = obj(
    "AIDeployment",
    "svc",
    {"modelRef": {"name": "m"}},
    {"conditions": [cond("PolicyEnforced", "True"), cond("Authenticated", "True")], "servedDigest": DIGEST},
)
AUDIT_OK = AuditState(41, None)


def by_id(facts: Facts) -> dict[str, Any]:
    return {a.provision.id: a for a in assess(facts)}


def test_every_provision_is_assessed_once_in_order() -> None:
    result = assess(Facts())
    assert [a.provision.id for a in result] == [p.id for p in PROVISIONS] and len(result) == 72
    assert {a.status for a in result} <= {"met", "not met", "not applicable", "organisational"}
    assert all(a.status == "organisational" for a in result if a.provision.role == "ORG")
    unchecked = [a for a in result if not a.checked and a.status != "organisational"]
    assert not unchecked  # issue 19: every provision is checked, or organisational with a reason
    reclassified = [a for a in result if a.status == "organisational" and a.provision.role != "ORG"]
    assert {a.provision.id for a in reclassified} == set(ORGANISATIONAL)
    assert all(len(a.note) > 60 and a.note != "an organisational measure" for a in reclassified)  # why, said
    met = [a.provision.id for a in result if a.status == "met"]
    assert met == ["5.2.1-1"]  # nothing in the cluster: only the (empty) register is complete


def test_statuses_follow_the_evidence() -> None:
    good = by_id(Facts([GOOD_MODEL], [DEPLOYMENT], [POLICY], audit=AUDIT_OK))
    assert good["5.2.1-2"].status == "met" and good["5.2.1-2"].evidence == ("AIModel/team/m",)
    assert good["5.1.2-3"].status == "met" and "record 41" in good["5.1.2-3"].note
    assert good["5.1.4-5"].status == "met" and good["5.3.1-1"].status == "met"
    assert good["5.2.2-2"].status == "not applicable"  # nothing exposed externally
    assert good["5.2.3-1"].status == "met"
    bad = by_id(Facts([GOOD_MODEL, BAD_MODEL], [DEPLOYMENT], [POLICY], audit=AuditState(3, "altered")))
    assert bad["5.2.1-2"].status == "not met" and bad["5.2.1-2"].evidence == ("AIModel/team/bad<m>",)
    assert bad["5.4.2-1"].status == "not met" and "altered" in bad["5.4.2-1"].note
    warn = by_id(Facts([GOOD_MODEL], [], [obj("TrustPolicy", "p", {"mode": "Warn"}, {}, ns=None)], audit=AUDIT_OK))
    assert warn["5.2.3-1"].status == "not met"  # verified, but under a policy that does not block


def test_external_exposure_needs_auth_and_rate_limit_and_a_published_card() -> None:
    external = obj(
        "AIDeployment",
        "pub",
        {"modelRef": {"name": "m"}, "access": {"exposure": "External"}, "authentication": {"x": 1}},
        {},
    )
    found = by_id(Facts([GOOD_MODEL], [external], [POLICY], audit=AUDIT_OK))
    assert found["5.2.2-2"].status == "not met" and found["5.2.2-2"].evidence == ("AIDeployment/team/pub",)


def test_html_escapes_links_every_evidence_and_states_the_source() -> None:
    facts = Facts([GOOD_MODEL, BAD_MODEL], [DEPLOYMENT], [POLICY], audit=AUDIT_OK)
    document = report_json(assess(facts), facts, namespace="team", generated_at=NOW)
    page = report_html(document)
    assert "based on public summaries" in page and "bad<m>" not in page and "bad&lt;m&gt;" in page
    anchors = set(re.findall(r'id="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert links and links <= anchors
    assert (
        document["summary"]["met"]
        + document["summary"]["not met"]
        + document["summary"]["not applicable"]
        + document["summary"]["organisational"]
        == 72
    )


def test_scan_reports_and_audit_records_are_linked_evidence() -> None:
    scanned = {**GOOD_MODEL, "status": {**GOOD_MODEL["status"], "lastScan": {"result": "Passed", "report": "r1"}}}
    report = obj("ScanReport", "r1", {"result": "Passed", "findings": [{"severity": "Low", "check": "docs"}]}, {})
    record = {
        "seq": 7,
        "type": "Change",
        "action": "UPDATE",
        "object": {"kind": "AIDeployment", "namespace": "team", "name": "svc"},
        "actor": {"username": "alice"},
        "details": {"systemPrompt": "sha256:" + "c" * 64},
    }
    prompted = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "systemPrompt": {"name": "p", "key": "k"}}}
    facts = Facts([scanned], [prompted], [POLICY], audit=AUDIT_OK, scan_reports=[report], audit_records=[record])
    found = by_id(facts)
    assert "ScanReport/team/r1" in found["5.4.1-1"].evidence and "ScanReport/team/r1" in found["5.4.2-2"].evidence
    assert "AuditRecord/7" in found["5.1.2-3"].evidence and "AuditRecord/7" in found["5.2.4-3"].evidence
    document = report_json(assess(facts), facts, namespace="team", generated_at=NOW)
    assert document["evidence"]["AuditRecord/7"]["facts"][0].startswith(
        "Change UPDATE of AIDeployment team/svc by alice"
    )
    assert document["evidence"]["ScanReport/team/r1"]["facts"][1] == "[Low] docs: None"
    page = report_html(document)
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'id="([^"]+)"', page))


def test_an_empty_scope_is_not_applicable_never_met() -> None:
    empty = by_id(Facts(audit=AUDIT_OK))
    assert empty["5.2.1-2"].status == "not applicable" and empty["5.2.3-1"].status == "not applicable"
    assert empty["5.4.1-1"].status == "not applicable"


def test_the_history_carries_earlier_summaries_of_the_same_scope_only_and_is_bounded() -> None:
    from datetime import timedelta

    from modelguard.domain.compliance_document import HISTORY_KEPT, with_history

    facts = Facts([GOOD_MODEL], [DEPLOYMENT], [POLICY], audit=AUDIT_OK)
    first = with_history(report_json(assess(facts), facts, namespace="team", generated_at=NOW), None)
    assert [h["summary"] for h in first["history"]] == [first["summary"]]
    later = report_json(assess(Facts(audit=AUDIT_OK)), Facts(audit=AUDIT_OK), namespace="team", generated_at=NOW)
    second = with_history(later, first)
    assert [h["summary"]["met"] for h in second["history"]] == [first["summary"]["met"], later["summary"]["met"]]
    other_scope = report_json(assess(facts), facts, namespace="other", generated_at=NOW)
    assert len(with_history(other_scope, second)["history"]) == 1  # another namespace: a new history
    legacy = {k: v for k, v in first.items() if k != "history"}  # a report written before histories existed
    assert len(with_history(later, legacy)["history"]) == 2
    document = None
    for day in range(HISTORY_KEPT + 5):
        written = report_json(assess(facts), facts, namespace="team", generated_at=NOW + timedelta(days=day))
        document = with_history(written, document)
    assert document is not None and len(document["history"]) == HISTORY_KEPT
    assert document["history"][-1]["generatedAt"] == document["generatedAt"]
    assert [p["clause"] for p in document["byPrinciple"]][:2] == ["5.1.1", "5.1.2"]
    assert sum(sum(p["counts"].values()) for p in document["byPrinciple"]) == 72
