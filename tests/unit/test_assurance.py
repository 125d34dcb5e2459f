"""Declared assurance evidence (issue 19, item 1): the API refuses what an auditor could not check, a
TrustPolicy can require it (Documented holds rollouts), evaluations count only for the digest they tested,
and the deployment gate holds a rollout without an incident-response plan when the policy requires one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.condition_reasons import Reason
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import model_verdicts as mv
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.deployment_gate import GateFacts, ModelView, evaluate, incident_response_declared
from modelguard.domain.model_checks import missing_assurance
from modelguard.domain.policy_reading import read_policy
from tests.harness.samples import DIGEST, ai_deployment, ai_model, trust_policy, verified_record

NOW = datetime(2026, 12, 7, tzinfo=UTC)
OTHER = "sha256:" + "e" * 64


def doc(reviewed: str = "2026-11-01", **extra: Any) -> dict[str, Any]:
    return {
        "uri": "https://docs.example/tm.pdf",
        "digest": "sha256:" + "a" * 64,
        "reviewedAt": reviewed,
        "reviewer": "sec-arch",
        **extra,
    }


def evaluation(kind: str = "RedTeam", digest: str = DIGEST, result: str = "Passed", **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "modelDigest": digest,
        "uri": "https://docs.example/eval.pdf",
        "digest": "sha256:" + "b" * 64,
        "completedAt": "2026-11-20T10:00:00Z",
        "assessor": "red-team",
        "result": result,
        **extra,
    }


def model_spec(**assurance: Any) -> AIModelSpec:
    return AIModelSpec.model_validate(ai_model("m", assurance=assurance)["spec"])


def policy(*required: str, max_age: int | None = None) -> TrustPolicySpec:
    requirements: dict[str, Any] = {"assurance": list(required)}
    if max_age is not None:
        requirements["assuranceMaxAgeDays"] = max_age
    return TrustPolicySpec.model_validate(trust_policy("p", requirements=requirements)["spec"])


@pytest.mark.parametrize(
    ("assurance", "field"),
    [
        ({"threatModel": doc(digest="md5:abc")}, "digest"),
        ({"threatModel": doc(uri="http://docs.example/tm.pdf")}, "uri"),  # not in the clear
        ({"threatModel": doc(reviewed="2026-02-30")}, "reviewedAt"),  # no such day
        ({"threatModel": {k: v for k, v in doc().items() if k != "reviewer"}}, "reviewer"),
        ({"evaluations": [evaluation(digest="sha256:short")]}, "modelDigest"),
        ({"evaluations": [evaluation(kind="Vibes")]}, "kind"),
        ({"evaluations": [evaluation(covers=["Everything"])]}, "covers"),
        ({"vulnerabilityDisclosure": "mailto:security@example.com"}, "vulnerabilityDisclosure"),
        ({"threatModel": doc(uri="https://user:secret@docs.example/tm.pdf")}, "no credentials"),
        ({"evaluations": [evaluation(uri="https://token@docs.example/e.pdf")]}, "no credentials"),
    ],
)
def test_the_api_refuses_evidence_an_auditor_could_not_check(assurance: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        model_spec(**assurance)
    assert field in str(raised.value)


def test_what_the_policy_requires_is_missing_until_declared_for_the_verified_digest() -> None:
    everything = policy("threatModel", "riskAssessment", "evaluation", "redTeam", "vulnerabilityDisclosure")
    bare = missing_assurance(model_spec(), everything, DIGEST, NOW)
    assert len(bare) == 5 and "assurance.threatModel" in bare
    declared = model_spec(
        threatModel=doc(),
        riskAssessment=doc(),
        evaluations=[evaluation("Evaluation"), evaluation("RedTeam")],
        vulnerabilityDisclosure="https://example.com/security",
    )
    assert missing_assurance(declared, everything, DIGEST, NOW) == []
    # the same evaluations say nothing about another digest (a new version needs its own)
    assert missing_assurance(declared, everything, OTHER, NOW) == [
        f"an evaluation of {OTHER} that did not fail",
        f"a RedTeam result for {OTHER} that did not fail",
    ]
    failed = model_spec(evaluations=[evaluation("RedTeam", result="Failed")])
    assert missing_assurance(failed, policy("redTeam"), DIGEST, NOW) == [
        f"a RedTeam result for {DIGEST} that did not fail"
    ]
    assert missing_assurance(model_spec(), policy(), DIGEST, NOW) == []  # nothing required


def test_an_old_review_stops_counting_when_the_policy_sets_an_age() -> None:
    spec = model_spec(threatModel=doc(reviewed="2025-01-01"), riskAssessment=doc(reviewed="2026-12-01"))
    assert missing_assurance(spec, policy("threatModel", "riskAssessment"), DIGEST, NOW) == []
    stale = missing_assurance(spec, policy("threatModel", "riskAssessment", max_age=365), DIGEST, NOW)
    assert stale == ["assurance.threatModel (reviewed 2025-01-01, older than 365 days)"]


def test_missing_evidence_makes_the_model_undocumented_which_holds_rollouts() -> None:
    reading = read_policy("p", trust_policy("p", requirements={"assurance": ["threatModel", "redTeam"]}))
    verdict = mv.documentation(model_spec(), reading, DIGEST, NOW)
    assert (verdict.status, verdict.reason) == ("False", Reason.MISSING_DOCUMENTATION)
    assert "assurance evidence: assurance.threatModel; a RedTeam result" in verdict.message
    ok = mv.documentation(model_spec(threatModel=doc(), evaluations=[evaluation()]), reading, DIGEST, NOW)
    assert ok.status == "True" and "assurance evidence" in ok.message
    status = AIModelStatus(
        conditions=merge_conditions(
            [],
            [Verdict("Verified", "True", "SignatureValid"), mv.documentation(model_spec(), reading, DIGEST, NOW)],
            1,
            NOW,
        ),
        verified=verified_record(),
    )
    held = evaluate(GateFacts("m", ModelView(model_spec(), status, 1)))
    assert held is not None and held.reason == Reason.MISSING_DOCUMENTATION and not held.distrusted


def test_the_gate_holds_a_deployment_without_incident_response_when_the_policy_requires_it() -> None:
    status = AIModelStatus(
        conditions=merge_conditions([], [Verdict("Verified", "True", "SignatureValid")], 1, NOW),
        verified=verified_record(),
    )
    required = ModelView(model_spec(), status, 1, requires_incident_response=True)
    held = incident_response_declared(GateFacts("m", required))
    assert held is not None and held.reason == Reason.INCIDENT_RESPONSE_MISSING and not held.stop_serving
    assert evaluate(GateFacts("m", required)) == held
    assert incident_response_declared(GateFacts("m", required, incident_response=True)) is None
    assert incident_response_declared(GateFacts("m", ModelView(model_spec(), status, 1))) is None  # not required
    warned = ModelView(model_spec(), status, 1, warn_only=True, requires_incident_response=True)
    assert incident_response_declared(GateFacts("m", warned)) is None  # Warn mode never blocks


def test_an_incident_response_needs_a_contact_and_a_pinned_runbook() -> None:
    spec = AIDeploymentSpec.model_validate(
        ai_deployment("svc", "m", incidentResponse={"contact": "oncall@example.com", "runbook": doc()})["spec"]
    )
    assert spec.incident_response is not None and spec.incident_response.runbook.reviewer == "sec-arch"
    with pytest.raises(ValidationError):
        AIDeploymentSpec.model_validate(ai_deployment("svc", "m", incidentResponse={"contact": "oncall"})["spec"])
