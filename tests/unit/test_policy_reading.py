"""One TrustPolicy reading, one failure rule (issue 15): before, five sites read a policy with four outcomes
on an unreadable one (Warn mode assumed off, an unhandled ValidationError, "does not exist", ten approvals,
a denial). Now a missing or unreadable policy trusts nothing everywhere, and says which of the two it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelguard.api.aimodel import AIModelSpec
from modelguard.domain.admission import review_model
from modelguard.domain.model_checks import ModelFacts, first_problem, keeps_last_verified
from modelguard.domain.policy_reading import INVALID, NOT_FOUND, read_policy
from modelguard.reconcilers.approvals import UNMEETABLE, _policy_requires
from tests.harness.samples import ai_model, verified_record

NOW = datetime(2026, 12, 3, tzinfo=UTC)
VALID = {"spec": {"keys": [{"id": "k", "publicKey": "pem"}], "mode": "Warn", "allowedSources": ["file:///m/"]}}
UNREADABLE = {"spec": {"keys": "not a list", "mode": "Warn"}}  # e.g. stored by an older CRD version


@pytest.mark.parametrize(("body", "reason"), [(None, NOT_FOUND), (UNREADABLE, INVALID)])
def test_a_missing_or_unreadable_policy_trusts_nothing_anywhere(body: dict[str, object] | None, reason: str) -> None:
    reading = read_policy("prod", body)
    assert not reading.usable and reading.reason == reason and "'prod'" in reading.message
    assert reading.warn_only is False  # Warn mode of an unreadable policy does not apply: enforce
    assert "not a list" not in reading.message  # locations and messages, not the stored values
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    problem = first_problem(ModelFacts("team", {}, spec, None, reading.problem()))
    assert problem is not None and problem.reason == reason  # what verification says
    assert not keeps_last_verified(reason, spec, verified_record(), None, NOW)  # its deployments stop serving
    assert _policy_requires(reading)[0] == UNMEETABLE  # no approval can be enough
    review = review_model(ai_model("m")["spec"], "team", {}, body)
    if reason == NOT_FOUND:  # GitOps order: the model may come first; it waits
        assert review.denials == [] and any("does not exist" in w for w in review.warnings)
    else:
        assert any("cannot be read" in d for d in review.denials)


def test_a_readable_policy_is_read_the_same_way_everywhere() -> None:
    reading = read_policy("prod", VALID)
    assert reading.usable and reading.reason == "Valid" and reading.warn_only
    assert _policy_requires(reading) == (0, False, True)
