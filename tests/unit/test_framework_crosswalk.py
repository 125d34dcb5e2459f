"""Cross-references to other frameworks (pure): every provision has them, they are well-formed, and the
report can be filtered and summarised by framework."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from modelguard.builders.compliance_report import report_html
from modelguard.domain.compliance import AuditState, Facts, assess
from modelguard.domain.compliance_document import report_json
from modelguard.domain.etsi_provisions import PRINCIPLES, PROVISIONS
from modelguard.domain.framework_crosswalk import BY_CLAUSE, BY_PROVISION, FRAMEWORK_KEYS, references

NOW = datetime(2026, 12, 7, tzinfo=UTC)

# what a reference of each framework looks like: an article, an RMF subcategory, an Annex A control
SHAPES = {
    "eu-ai-act": re.compile(r"Art\. \d{1,3}"),
    "nist-ai-rmf": re.compile(r"(GOVERN|MAP|MEASURE|MANAGE) \d\.\d{1,2}"),
    "iso-42001": re.compile(r"A\.(2|3|4|5|6|7|8|9|10)\.\d(\.\d{1,2})?"),
    "iso-27001": re.compile(r"(5\.([1-9]|[1-2]\d|3[0-7])|6\.[1-8]|7\.([1-9]|1[0-4])|8\.([1-9]|[1-2]\d|3[0-4]))"),
}


def test_every_provision_supports_every_framework_with_well_formed_references() -> None:
    for provision in PROVISIONS:
        refs = references(provision)
        assert list(refs) == list(FRAMEWORK_KEYS), provision.id
        for key, values in refs.items():
            assert values and len(values) == len(set(values)), (provision.id, key)
            bad = [v for v in values if not SHAPES[key].fullmatch(v)]
            assert not bad, (provision.id, key, bad)


def test_overrides_name_real_provisions_and_principles_and_add_to_the_shared_references() -> None:
    ids = {p.id for p in PROVISIONS}
    assert set(BY_PROVISION) <= ids
    assert set(BY_CLAUSE) == {p.clause for p in PRINCIPLES}
    provision = next(p for p in PROVISIONS if p.id == "5.2.4-2")  # training-data provenance
    refs = references(provision)
    assert "A.7.5" in refs["iso-42001"] and "A.6.2.3" in refs["iso-42001"]  # its own, then its principle's
    assert "Art. 10" in refs["eu-ai-act"] and "Art. 11" in refs["eu-ai-act"]


def test_the_report_carries_references_and_a_summary_per_framework() -> None:
    facts = Facts(audit=AuditState(3, None))
    document = report_json(assess(facts), facts, namespace=None, generated_at=NOW)
    assert "no authoritative crosswalk" in document["crossReferences"]["reading"]
    assert set(document["crossReferences"]["frameworks"]) == set(FRAMEWORK_KEYS)
    audit = next(p for p in document["provisions"] if p["id"] == "5.1.2-3")
    assert "Art. 12" in audit["frameworks"]["eu-ai-act"] and "8.15" in audit["frameworks"]["iso-27001"]
    art12 = document["crossReferences"]["frameworks"]["eu-ai-act"]["references"]["Art. 12"]
    supporting = [p for p in document["provisions"] if "Art. 12" in p["frameworks"].get("eu-ai-act", [])]
    assert sum(art12.values()) == len(supporting) > 1
    assert art12["met"] == sum(1 for p in supporting if p["status"] == "met") >= 1  # the audit trail is met
    articles = list(document["crossReferences"]["frameworks"]["eu-ai-act"]["references"])
    assert articles.index("Art. 9") < articles.index("Art. 10") < articles.index("Art. 53")  # natural order
    functions = [k.split()[0] for k in document["crossReferences"]["frameworks"]["nist-ai-rmf"]["references"]]
    assert functions == sorted(functions, key=["GOVERN", "MAP", "MEASURE", "MANAGE"].index)


def test_filtering_by_framework_keeps_only_the_provisions_that_support_it() -> None:
    facts = Facts(audit=AuditState(3, None))
    assessments = assess(facts)
    whole = report_json(assessments, facts, namespace=None, generated_at=NOW)
    art10 = [p for p in PROVISIONS if "Art. 10" in references(p).get("eu-ai-act", ())]
    only = report_json(assessments, facts, namespace=None, generated_at=NOW, framework="eu-ai-act")
    assert only["scope"]["framework"] == "eu-ai-act" and list(only["crossReferences"]["frameworks"]) == ["eu-ai-act"]
    assert len(only["provisions"]) == sum(only["summary"].values()) == len(whole["provisions"])  # all support it
    assert sum(only["crossReferences"]["frameworks"]["eu-ai-act"]["references"]["Art. 10"].values()) == len(art10)
    assert all(p["frameworks"].get("eu-ai-act") for p in only["provisions"])
    page = report_html(only)
    assert "framework eu-ai-act" in page and "<h3>EU AI Act (Regulation (EU) 2024/1689)</h3>" in page
    assert "ISO/IEC 27001:2022 Annex A</h3>" not in page
    full_page = report_html(whole)
    assert full_page.count("<h3>") == 4 and "EU AI Act: Art. 4" in full_page  # a table per framework


def test_filtering_by_one_reference_and_refusing_unknown_ones() -> None:
    facts = Facts(audit=AuditState(3, None))
    assessments = assess(facts)
    logging = report_json(assessments, facts, namespace=None, generated_at=NOW, framework="iso-27001=8.15")
    ids = [p["id"] for p in logging["provisions"]]
    assert "5.1.2-3" in ids and "5.2.4-3" in ids and "5.1.1-1" not in ids
    assert all("8.15" in p["frameworks"]["iso-27001"] for p in logging["provisions"])
    assert logging["scope"]["framework"] == "iso-27001=8.15"
    for bad, why in (("gdpr", "unknown framework"), ("eu-ai-act=Art. 99", "no provision supports")):
        try:
            report_json(assessments, facts, namespace=None, generated_at=NOW, framework=bad)
        except ValueError as exc:
            assert why in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")


def test_the_cli_refuses_an_unknown_framework_before_reading_the_cluster(capsys: object) -> None:
    import argparse

    from modelguard.cli import report

    args = argparse.Namespace(framework="iso-9001", namespace=None, operator_namespace="x", output_dir=None)
    assert report.main(args) == 2  # no cluster is configured here: it would be exit 1 had it tried to read
    assert "unknown framework 'iso-9001'" in capsys.readouterr().err  # type: ignore[attr-defined]
