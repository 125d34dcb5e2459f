from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.deployment_gate import GATE, GateFacts, evaluate, model_exists, model_verified

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SPEC = AIDeploymentSpec.model_validate({"modelRef": {"name": "m"}, "runtime": {"image": "r@sha256:" + "c" * 64}})


def facts(
    model: dict[str, Any] | None, verified: Verdict | None = None, cond_gen: int = 1, model_gen: int = 1
) -> GateFacts:
    conditions = merge_conditions([], [verified], cond_gen, NOW) if verified else []
    return GateFacts(namespace="ns", spec=SPEC, model=model, model_generation=model_gen, model_conditions=conditions)


def test_missing_model() -> None:
    violation = model_exists(facts(None))
    assert violation is not None and violation.reason == "ModelNotFound"
    assert "'m'" in violation.message and "'ns'" in violation.message


@pytest.mark.parametrize(
    ("verdict", "cond_gen", "reason"),
    [
        (None, 1, "WaitingForModel"),
        (Verdict("Verified", "True", "SignatureValid"), 0, "WaitingForModel"),  # stale generation
        (Verdict("Verified", "Unknown", "AwaitingVerification"), 1, "ModelNotVerified"),
        (Verdict("Verified", "False", "DigestMismatch", "file a.bin"), 1, "ModelNotVerified"),
    ],
)
def test_model_not_verified_for_current_generation(verdict: Verdict | None, cond_gen: int, reason: str) -> None:
    violation = model_verified(facts({}, verdict, cond_gen=cond_gen))
    assert violation is not None and violation.reason == reason


def test_verified_model_opens_gate() -> None:
    assert evaluate(facts({}, Verdict("Verified", "True", "SignatureValid"))) is None


def test_order_missing_model_reported_before_verification() -> None:
    assert GATE.index(model_exists) < GATE.index(model_verified)
    violation = evaluate(facts(None))
    assert violation is not None and violation.reason == "ModelNotFound"


@pytest.mark.parametrize(
    ("uri", "prefixes", "allowed"),
    [
        ("oci://registry.internal/models/m@sha256:1", ["oci://registry.internal"], True),
        ("oci://registry.internal:5000/m@sha256:1", ["oci://registry.internal"], True),
        ("oci://registry.internal.evil.example/m", ["oci://registry.internal"], False),
        ("https://127.0.0.1:8443/m", ["https://127.0.0.1:"], True),
        ("file:///models/a", ["file:///models/"], True),
        ("file:///modelsX/a", ["file:///models"], False),
        ("https://x/m", [], False),
    ],
)
def test_source_prefixes_match_at_boundaries(uri: str, prefixes: list[str], allowed: bool) -> None:
    from modelguard.domain.trust import source_allowed

    assert source_allowed(uri, prefixes) is allowed
