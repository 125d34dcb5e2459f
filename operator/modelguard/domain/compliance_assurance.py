"""Checks of the provisions that rest on declared assurance evidence, on the live serving controls, or on
nothing ModelGuard can see (pure; issue 19, item 1).

Declared evidence is an AIModel's spec.assurance (threat model, risk assessment, evaluations bound to the
model digest, vulnerability disclosure) and an AIDeployment's spec.incidentResponse: each a document pinned
by digest with a reviewer and a date, which the report shows so that an auditor can fetch and compare it.
A provision whose subject lies outside any cluster is organisational, with the reason said in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelguard.api.condition_types import Cond
from modelguard.domain import compliance_live as live
from modelguard.domain.compliance_facts import (
    Body,
    Check,
    Facts,
    Result,
    all_pass,
    card,
    condition,
    enforcing_policy,
    model_of,
    verified,
)

PRIVACY_ATTACKS = ("ModelInversion", "MembershipInference", "TrainingDataExtraction", "ModelExtraction")
INFLUENCE_ATTACKS = ("PromptInjection", "Jailbreak", "UnintendedInfluence")
SECURITY_TESTS = ("RedTeam", "SecurityTest")


def assurance(model: Body) -> Mapping[str, Any]:
    return (model.get("spec") or {}).get("assurance") or {}


def document(body: Mapping[str, Any], name: str) -> bool:
    """A declared document with everything an auditor needs to check it: where, digest, reviewer, date."""
    found = body.get(name) or {}
    return all(found.get(k) for k in ("uri", "digest", "reviewedAt", "reviewer"))


def evaluations(model: Body, kinds: Sequence[str] = (), covers: Sequence[str] = ()) -> list[Mapping[str, Any]]:
    """Evaluations of the model's verified digest that did not fail (of these kinds, covering any of these)."""
    digest = ((model.get("status") or {}).get("verified") or {}).get("digest")
    return [
        e
        for e in assurance(model).get("evaluations") or []
        if digest
        and e.get("modelDigest") == digest
        and e.get("result") != "Failed"
        and (not kinds or e.get("kind") in kinds)
        and (not covers or set(covers) & set(e.get("covers") or []))
    ]


def served_models(facts: Facts) -> list[Body]:
    """The models some AIDeployment in scope serves (each once)."""
    found: dict[str, Body] = {}
    for d in facts.deployments:
        m = model_of(facts, d)
        if m is not None:
            meta = m.get("metadata") or {}
            found[f"{meta.get('namespace')}/{meta.get('name')}"] = m
    return list(found.values())


def _served(ok: Callable[[Body], bool], what: str) -> Check:
    return lambda facts: all_pass(served_models(facts), ok, what, "no model is served")


def _models(ok: Callable[[Body], bool], what: str) -> Check:
    return lambda facts: all_pass(facts.models, ok, what)


def _deployments(ok: Callable[[Body], bool], what: str) -> Check:
    return lambda facts: all_pass(facts.deployments, ok, what, "no deployments")


def _incident(d: Body) -> Mapping[str, Any]:
    return (d.get("spec") or {}).get("incidentResponse") or {}


def _known_good(facts: Facts, d: Body) -> bool:
    """Serving the model's verified digest (the live pod template's pin is compared by live.check)."""
    m = model_of(facts, d)
    served = (d.get("status") or {}).get("servedDigest")
    return m is not None and verified(m) and served == m["status"]["verified"]["digest"]


def _poorly_documented(facts: Facts) -> list[Body]:
    """Models used although their card is incomplete or their policy only warns (TS 104 223 5.2.3-2)."""
    enforcing = enforcing_policy(facts)
    return [m for m in facts.models if condition(m, Cond.DOCUMENTED)[0] != "True" or not enforcing(m)]


def _justified(ok: Callable[[Body], bool], what: str) -> Check:
    def check(facts: Facts) -> Result:
        return all_pass(
            _poorly_documented(facts),
            ok,
            what,
            "every model is documented as its policy requires and verified under a policy in Enforce mode",
        )

    return check


def _tested_and_approved(facts: Facts) -> Callable[[Body], bool]:
    def ok(d: Body) -> bool:
        m = model_of(facts, d)
        approval = bool(((d.get("spec") or {}).get("approval") or {}).get("required"))
        return m is not None and bool(evaluations(m)) and (approval or bool((d.get("status") or {}).get("approval")))

    return ok


def _with_facts(make: Callable[[Facts], Callable[[Body], bool]], what: str) -> Check:
    return lambda facts: all_pass(facts.deployments, make(facts), what, "no deployments")


def _documented_controls(facts: Facts, d: Body) -> bool:
    m = model_of(facts, d)
    return live.enforced(facts, d) and m is not None and condition(m, Cond.DOCUMENTED)[0] == "True"


def _scanned_on_schedule(m: Body) -> bool:
    status = m.get("status") or {}
    return bool(status.get("lastScan")) and bool(status.get("nextScan"))


ASSURANCE_CHECKS: dict[str, Check] = {
    "5.1.2-1": _models(
        lambda m: document(assurance(m), "riskAssessment"),
        "risk assessment (business need, AI security risks, mitigations) declared in spec.assurance.riskAssessment, "
        "pinned by digest with reviewer and date",
    ),
    "5.1.2-4": lambda facts: all_pass(
        facts.models,
        lambda m: enforcing_policy(facts)(m) and document(assurance(m), "riskAssessment"),
        "due diligence: a declared risk assessment, and the component verified under a TrustPolicy in Enforce mode",
    ),
    "5.1.2-5": _models(
        lambda m: (
            document(assurance(m), "riskAssessment")
            and bool(card(m).get("intendedUse"))
            and bool(card(m).get("trainingData"))
        ),
        "intended use and training data recorded on the card, their fit assessed in the declared risk assessment",
    ),
    "5.1.3-1": _models(
        lambda m: document(assurance(m), "threatModel"),
        "threat model declared (spec.assurance.threatModel, pinned by digest, reviewer and date; the TrustPolicy's "
        "assuranceMaxAgeDays makes an old review hold rollouts)",
    ),
    "5.1.3-1.1": _models(
        lambda m: document(assurance(m), "threatModel"),
        "each model version (an immutable AIModel) declares its own threat model; configuration changes of "
        "deployments are in the audit trail",
    ),
    "5.1.3-1.2": _models(
        lambda m: document(assurance(m), "riskAssessment"),
        "capabilities the use case does not need are covered by the declared risk assessment",
    ),
    "5.1.3-2": _served(
        lambda m: document(assurance(m), "threatModel") and bool(card(m).get("limitations")),
        "threats left to operators are in the declared threat model; limitations are published to end users at "
        "/model-card",
    ),
    "5.1.3-4": _models(
        _scanned_on_schedule,
        "re-checked on a schedule (status.lastScan, status.nextScan): signature, digests, serving state, advisories",
    ),
    "5.1.4-4": live.check(
        _documented_controls,
        "the controls the TrustPolicy specifies are in place: model documented as required, workload restricted",
    ),
    "5.2.1-3": _deployments(
        lambda d: document(_incident(d), "recoveryPlan"),
        "recovery plan covering attacks on AI systems declared (spec.incidentResponse.recoveryPlan)",
    ),
    "5.2.1-3.1": live.check(
        _known_good,
        "serving a verified, digest-pinned version that can be restored (a failing new version never replaces it, "
        "ADR 0004)",
    ),
    "5.2.1-4": live.check(
        live.enforced,
        "model weights and data reachable only by the deployment's own pods: default-deny NetworkPolicies, "
        "token-less ServiceAccount, restricted pods",
    ),
    "5.2.1-4.1": _models(
        lambda m: condition(m, Cond.INSPECTED)[0] == "True",
        "model files inspected before loading (formats, pickle imports: TrustPolicy spec.inspection)",
    ),
    "5.2.1-4.2": live.check(
        live.enforced, "confidential weights served only inside the deployment's NetworkPolicy boundary"
    ),
    "5.2.2-4": _served(
        lambda m: bool(assurance(m).get("vulnerabilityDisclosure")),
        "vulnerability disclosure policy published (spec.assurance.vulnerabilityDisclosure)",
    ),
    "5.2.2-5": _deployments(
        lambda d: bool(_incident(d).get("contact")) and document(_incident(d), "runbook"),
        "incident-response contact and runbook declared (spec.incidentResponse, runbook pinned by digest)",
    ),
    "5.2.3-2.1": _justified(
        lambda m: document(assurance(m), "riskAssessment"),
        "a risk assessment is declared for each model used without full documentation or enforcement",
    ),
    "5.2.3-2.2": _justified(
        lambda m: bool(card(m).get("limitations")),
        "limitations are published to end users for each model used without full documentation or enforcement",
    ),
    "5.2.3-3": _served(
        lambda m: bool(evaluations(m)),
        "an evaluation of the served model's verified digest that did not fail (spec.assurance.evaluations)",
    ),
    "5.2.4-1": _models(
        lambda m: condition(m, Cond.DOCUMENTED)[0] == "True" and bool((m.get("status") or {}).get("nextScan")),
        "design documented as the policy requires; maintenance plan: the scheduled scans (status.nextScan)",
    ),
    "5.2.5-1": _served(
        lambda m: bool(evaluations(m, SECURITY_TESTS)),
        "a RedTeam or SecurityTest result of the served model's verified digest that did not fail",
    ),
    "5.2.5-2": _with_facts(
        _tested_and_approved,
        "tested before deployment (an evaluation of the digest) and rolled out only after human approval",
    ),
    "5.2.5-3": _models(
        lambda m: bool(evaluations(m)),
        "evaluation reports of the verified digest shared as digest-pinned documents",
    ),
    "5.2.5-4": _served(
        lambda m: bool(evaluations(m, covers=PRIVACY_ATTACKS)),
        "an evaluation of the served digest covering model inversion, membership inference, training-data or "
        "model extraction",
    ),
    "5.2.5-4.1": _served(
        lambda m: bool(evaluations(m, covers=INFLUENCE_ATTACKS)),
        "an evaluation of the served digest covering prompt injection, jailbreaks or unintended influence",
    ),
    "5.3.1-2": _served(
        lambda m: bool(card(m).get("intendedUse")) and bool(card(m).get("limitations")),
        "guidance for end users (intended use, limitations) published at /model-card",
    ),
    "5.4.1-1.1": _models(
        lambda m: ((m.get("spec") or {}).get("maintenance") or {}).get("onFailure", "Quarantine") == "Quarantine",
        "contingency when a model cannot be updated: a failing scan quarantines its deployments (onFailure)",
    ),
    "5.4.1-2": _models(
        lambda m: bool(evaluations(m)),
        "every model version (digest) has its own evaluation: an update is a new AIModel, tested again",
    ),
    "5.4.1-3": _deployments(
        lambda d: bool(((d.get("spec") or {}).get("approval") or {}).get("required")),
        "each new model version waits for approval while the previous one keeps serving",
    ),
}

# provisions whose subject is outside every cluster ModelGuard governs: organisational, and why
ORGANISATIONAL: dict[str, str] = {
    "5.2.2-3": "development and tuning environments are where models are built, not the serving clusters "
    "ModelGuard governs; their separation is evidenced by the organisation's infrastructure records",
    "5.2.3-4": "telling end users before an update is a communication duty; ModelGuard supplies the facts for it: "
    "approvals hold each new digest (5.1.4-1) and RolledOut audit records date each update",
    "5.3.1-2.2": "telling end users about security updates is a communication duty; Quarantined, Released and "
    "RolledOut audit records date each security-relevant change it can cite",
    "5.4.2-3": "internal states (activations, logits) are visible only inside the model server; ModelGuard sees "
    "the workload from outside",
    "5.4.2-4": "output quality and behaviour over time are measured by the model server and the platform's "
    "monitoring; ModelGuard monitors integrity and configuration (5.4.2-2)",
}
