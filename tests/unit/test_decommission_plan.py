"""The decommission loop's decisions, pure (issue 15: the loop lives with its steps; its verdicts are table
tested here, the steps against a real API server in tests/integration/test_decommission.py)."""

from __future__ import annotations

import pytest

from modelguard.api.aimodel import DecommissionStep
from modelguard.domain.decommission import STEPS, failed_verdicts, hold_verdicts, next_step, plan, progress_verdicts


def steps(done: int, failed: bool = False) -> list[DecommissionStep]:
    out = []
    for i, name in enumerate(STEPS):
        state = "Done" if i < done else ("Failed" if failed and i == done else "Pending")
        out.append(DecommissionStep(name=name, state=state))
    return out


@pytest.mark.parametrize(
    ("done", "decommissioned", "ready_reason", "says"),
    [
        (0, ("False", "InProgress"), "Decommissioning", "next step: StopServing"),
        (3, ("False", "InProgress"), "Decommissioning", "next step: DeleteArtifacts"),
        (len(STEPS) - 1, ("False", "InProgress"), "Decommissioning", "next step: IssueCertificate"),
        (len(STEPS), ("True", "CertificateIssued"), "Decommissioned", "DecommissionCertificate risk.m-1"),
    ],
)
def test_after_each_step_the_status_says_what_is_next_or_that_it_is_done(
    done: int, decommissioned: tuple[str, str], ready_reason: str, says: str
) -> None:
    verdict, ready = progress_verdicts(steps(done), "risk.m-1")
    assert (verdict.type, verdict.status, verdict.reason) == ("Decommissioned", *decommissioned)
    assert says in verdict.message
    assert (ready.type, ready.status, ready.reason) == ("Ready", "False", ready_reason)  # never Ready again


def test_a_failed_step_blocks_there_with_its_cause_and_a_hold_blocks_everything() -> None:
    blocked, ready = failed_verdicts(steps(2, failed=True), "NotMarkedForDeletion", "Secret 'dek' is not marked")
    assert (blocked.status, blocked.reason) == ("False", "DeleteDataFailed")
    assert blocked.message == "NotMarkedForDeletion: Secret 'dek' is not marked"
    assert ready.reason == "Decommissioning" and ready.message == blocked.message
    hold, held = hold_verdicts("Retire")
    assert (hold.reason, held.reason) == ("LegalHold", "LegalHold") and "nothing is deleted" in hold.message
    assert next_step(plan()) == STEPS[0] and next_step(steps(len(STEPS))) is None
