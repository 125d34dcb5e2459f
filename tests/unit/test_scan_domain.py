"""Scan scheduling and checks (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelguard.api.aimodel import AIModelSpec
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import schedule
from modelguard.domain.advisories import Component, match, parse_advisories, parse_sbom
from modelguard.domain.scan import ScanFacts, result, run
from tests.harness.samples import ai_model

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "scans.md"


def test_next_due_follows_cron_with_stable_bounded_jitter() -> None:
    a = schedule.next_due("0 3 * * *", NOW, "uid-a")
    b = schedule.next_due("0 3 * * *", NOW, "uid-b")
    base = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    for due in (a, b):
        assert base <= due < base + timedelta(minutes=10)
    assert a == schedule.next_due("0 3 * * *", NOW, "uid-a")  # stable per object
    assert a != b  # spread
    minute = schedule.next_due("* * * * *", NOW, "uid-a")
    assert NOW < minute <= NOW + timedelta(seconds=66)
    assert not schedule.valid("every day") and schedule.valid("*/5 * * * *")


def test_jitter_spreads_many_objects() -> None:
    offsets = {schedule.jitter(f"uid-{i}", timedelta(days=1)).total_seconds() for i in range(200)}
    assert len(offsets) > 150 and max(offsets) < 600


SBOM = b"""{"bomFormat": "CycloneDX", "components": [
  {"name": "torch", "version": "2.0.1", "purl": "pkg:pypi/torch@2.0.1"},
  {"name": "safetensors", "purl": "pkg:pypi/safetensors@0.4.0"},
  {"name": "app", "components": [{"name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"}]}]}"""


@pytest.mark.parametrize(
    ("advisory", "hits"),
    [
        (
            {
                "id": "A1",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "torch"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}],
                    }
                ],
            },
            ["A1"],
        ),
        (
            {
                "id": "A2",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "torch"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.1"}]}],
                    }
                ],
            },
            [],
        ),  # fixed there
        ({"id": "A3", "affected": [{"package": {"purl": "pkg:npm/lodash"}, "versions": ["4.17.20"]}]}, ["A3"]),
        (
            {
                "id": "A4",
                "affected": [
                    {
                        "package": {"purl": "pkg:pypi/safetensors"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.3.0"}, {"last_affected": "0.4.0"}]}],
                    }
                ],
            },
            ["A4"],
        ),
        (
            {
                "id": "A5",
                "affected": [
                    {
                        "package": {"purl": "pkg:pypi/safetensors"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.5.0"}]}],
                    }
                ],
            },
            [],
        ),
    ],
)
def test_osv_matching(advisory: dict[str, object], hits: list[str]) -> None:
    import json

    found = match(parse_sbom(SBOM), parse_advisories([json.dumps(advisory)]))
    assert [m.advisory for m in found] == hits


def test_severity_and_result() -> None:
    import json

    critical = {
        "id": "C",
        "database_specific": {"severity": "CRITICAL"},
        "affected": [{"package": {"purl": "pkg:pypi/torch"}, "versions": ["2.0.1"]}],
    }
    unknown = {"id": "U", "affected": [{"package": {"purl": "pkg:pypi/torch"}, "versions": ["2.0.1"]}]}
    found = match(
        [Component("pkg:pypi/torch", "2.0.1", "torch")], parse_advisories([json.dumps({"vulns": [critical, unknown]})])
    )
    assert {m.advisory: m.severity for m in found} == {"C": "Critical", "U": "High"}


def test_scan_checks_report_documentation_and_pass_when_clean() -> None:
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    policy = TrustPolicySpec.model_validate(
        {"keys": [{"id": "k", "publicKey": "p"}], "requirements": {"cardFields": ["license"], "reviewMaxAgeDays": 30}}
    )
    facts = ScanFacts(
        spec=spec, now=NOW, verification_reason="SignatureValid", verification_message="ok", record=None, policy=policy
    )
    checks, findings = run(facts)
    assert "vulnerabilities" in checks
    assert sorted(f.message.split(":")[0] for f in findings) == [
        "model card lacks required fields",
        "re-evaluation overdue",
    ]
    assert result(findings) == "Passed"  # Medium findings do not fail a scan
    tampered = ScanFacts(
        spec=spec, now=NOW, verification_reason="DigestMismatch", verification_message="x", record=None, policy=None
    )
    assert result(run(tampered)[1]) == "Failed"


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("SourceNotFound", "Failed"), ("SourceUnreachable", "Passed"), ("SourceUnauthorized", "Passed")],
)
def test_a_source_that_is_gone_fails_the_scan_a_flaky_one_does_not(reason: str, outcome: str) -> None:
    """After a decommission deleted the artifact, later scans say so (issue 13, class 10)."""
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    facts = ScanFacts(
        spec=spec, now=NOW, verification_reason=reason, verification_message="x", record=None, policy=None
    )
    assert result(run(facts)[1]) == outcome


def test_every_finding_names_a_check_the_report_lists() -> None:
    """Issue 14: findings said `integrity`, `signature`, `drift`, `image-pinned` while the report's `checks`
    and docs/scans.md said `signature-and-integrity`, `serving-matches`, `images-pinned`: one set of names."""
    from modelguard.api.aideployment import AIDeploymentStatus
    from modelguard.domain.scan import ServingFacts

    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    policy = TrustPolicySpec.model_validate(
        {"keys": [{"id": "k", "publicKey": "p"}], "requirements": {"cardFields": ["license"], "reviewMaxAgeDays": 30}}
    )
    unpinned = {"spec": {"template": {"spec": {"containers": [{"name": "model-server", "image": "srv:latest"}]}}}}
    serving = [
        ServingFacts("gone", AIDeploymentStatus.model_validate({"servedDigest": "sha256:" + "a" * 64}), None),
        ServingFacts("loose", AIDeploymentStatus.model_validate({"servedDigest": "sha256:" + "a" * 64}), unpinned),
    ]
    documented = {
        row.split("|")[1].strip() for row in DOCS.read_text().splitlines() if row.startswith("| ") and "|" in row[2:]
    }
    for reason in ("DigestMismatch", "KeyRevoked", "SourceNotFound", "SourceUnreachable"):
        facts = ScanFacts(
            spec=spec, now=NOW, verification_reason=reason, verification_message="x", record=None, policy=policy,
            serving=serving,
        )  # fmt: skip
        checks, findings = run(facts)
        assert {f.check for f in findings} == {
            "signature-and-integrity", "serving-matches", "images-pinned", "documentation"
        }, reason  # fmt: skip
        assert {f.check for f in findings} <= set(checks) <= documented
