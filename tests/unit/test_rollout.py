"""The serving policy when a model's verification changes (domain/rollout.py, model_checks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelguard.api.aimodel import AIModelSpec, AIModelStatus, VerifiedRecord
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.model_checks import keeps_last_verified
from modelguard.domain.rollout import ModelView, decide
from tests.harness.samples import ai_model, verified_record

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DIGEST, OLD = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SPEC = AIModelSpec.model_validate(ai_model("m")["spec"])


def record(digest: str = DIGEST, source: str = SPEC.source.uri, signer: str = "k") -> VerifiedRecord:
    return verified_record(digest, source, str(SPEC.signature.bundle_uri), signer, NOW.isoformat())


def view(
    status: str | None,
    reason: str = "SignatureValid",
    rec: VerifiedRecord | None = None,
    gen: int = 1,
    cond_gen: int = 1,
    documented: str = "True",
    on_failure: str = "Quarantine",
) -> ModelView:
    verdicts = [Verdict("Documented", documented, "CardComplete" if documented == "True" else "MissingDocumentation")]
    if status is not None:
        verdicts.append(Verdict("Verified", status, reason))  # type: ignore[arg-type]
    conditions = merge_conditions([], verdicts, cond_gen, NOW)
    spec = SPEC.model_copy(update={"maintenance": SPEC.maintenance.model_copy(update={"on_failure": on_failure})})
    return ModelView(spec, AIModelStatus(conditions=conditions, verified=rec), gen)


CASES: list[tuple[str, Any, str | None, str, str]] = [
    ("verified current generation rolls out", view("True", rec=record()), None, "Rollout", "ModelVerified"),
    ("missing model holds a new deployment", None, None, "Hold", "ModelNotFound"),
    ("missing model quarantines a running one", None, DIGEST, "Quarantine", "ModelNotFound"),
    ("not yet verified holds", view(None), None, "Hold", "WaitingForModel"),
    ("stale verification holds", view("True", rec=record(), gen=2, cond_gen=1), None, "Hold", "WaitingForModel"),
    (
        "stale verification keeps serving",
        view("True", rec=record(), gen=2, cond_gen=1),
        DIGEST,
        "Keep",
        "WaitingForModel",
    ),
    (
        "transient failure keeps serving",
        view("False", "SourceUnreachable", rec=record()),
        DIGEST,
        "Keep",
        "WaitingForModel",
    ),
    (
        "new version failing keeps the last verified",
        view("False", "DigestMismatch", rec=record()),
        DIGEST,
        "Keep",
        "ServingLastVerified",
    ),
    ("distrusted model quarantines", view("False", "KeyRevoked"), DIGEST, "Quarantine", "ModelNotVerified"),
    (
        "distrusted model with Report keeps serving",
        view("False", "KeyRevoked", on_failure="Report"),
        DIGEST,
        "Keep",
        "ModelNotVerified",
    ),
    ("failed model never starts a workload", view("False", "DigestMismatch"), None, "Hold", "ModelNotVerified"),
    (
        "missing documentation holds",
        view("True", rec=record(), documented="False"),
        None,
        "Hold",
        "MissingDocumentation",
    ),
]


@pytest.mark.parametrize(("model", "served", "action", "reason"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_decide(model: ModelView | None, served: str | None, action: str, reason: str) -> None:
    decision = decide(model, "m", served)
    assert (decision.action, decision.reason) == (action, reason)
    if action == "Rollout":
        assert decision.digest == DIGEST
    if action == "Quarantine":
        verdicts = {v.type: v for v in decision.verdicts()}
        assert verdicts["Quarantined"].status == "True"


POLICY = TrustPolicySpec.model_validate({"keys": [{"id": "k", "publicKey": "pem"}]})


@pytest.mark.parametrize(
    ("reason", "failed", "policy", "keeps"),
    [
        (
            "DigestMismatch",
            SPEC.model_copy(update={"source": SPEC.source.model_copy(update={"uri": "file:///v2"})}),
            POLICY,
            True,
        ),
        ("DigestMismatch", SPEC, POLICY, False),  # the very same source and signature: tampering
        ("SourceUnreachable", SPEC, POLICY, True),
        ("PolicyNotApplicable", SPEC, POLICY, False),
        ("DigestMismatch", SPEC, POLICY.model_copy(update={"revoked_keys": ["k"]}), False),
        (
            "DigestMismatch",
            SPEC,
            TrustPolicySpec.model_validate(
                {"keys": [{"id": "k", "publicKey": "pem", "notAfter": (NOW - timedelta(days=1)).isoformat()}]}
            ),
            False,
        ),
        ("DigestMismatch", SPEC, None, False),
    ],
)
def test_keeps_last_verified(reason: str, failed: AIModelSpec, policy: TrustPolicySpec | None, keeps: bool) -> None:
    assert keeps_last_verified(reason, failed, record(), policy, NOW) is keeps


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(view("True", rec=record(), gen=2, cond_gen=1), id="waiting for a new generation"),
        pytest.param(view("False", "SourceUnreachable", rec=record()), id="transient failure"),
        pytest.param(view("False", "DigestMismatch", rec=record()), id="new version failing"),
    ],
)
def test_only_an_open_gate_lifts_a_quarantine(model: ModelView) -> None:
    assert decide(model, "m", DIGEST).action == "Keep"
    stays = decide(model, "m", DIGEST, quarantined=True)
    assert stays.action == "Quarantine" and "stays quarantined" in stays.message
    assert decide(view("True", rec=record()), "m", DIGEST, quarantined=True).action == "Rollout"


def test_a_withdrawn_approval_quarantines_or_keeps_as_the_policy_says() -> None:
    model = view("True", rec=record(), on_failure="Report")  # the model's onFailure does not decide this
    args = (model, "m", DIGEST, "Internal", 1, ())
    quarantine = decide(*args, withdrawn=("by-bob",), quarantine_withdrawn=True)
    assert (quarantine.action, quarantine.reason) == ("Quarantine", "ApprovalWithdrawn")
    assert "by-bob" in quarantine.message
    keep = decide(*args, withdrawn=("by-bob",), quarantine_withdrawn=False)
    assert (keep.action, keep.digest, keep.reason) == ("Keep", DIGEST, "ApprovalWithdrawn")
    waiting = decide(*args)  # never approved (the policy was raised): waits, keeps serving
    assert (waiting.action, waiting.reason) == ("Keep", "AwaitingApproval")
    again = decide(model, "m", DIGEST, "Internal", 1, ("carol",), quarantined=True)
    assert again.action == "Rollout"  # approved again: the quarantine lifts
