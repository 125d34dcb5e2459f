"""The AIDeployment's status verdicts, pure and table-tested (issue 15 item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.domain import deployment_status as ds
from modelguard.domain.rollout import Decision
from tests.harness.samples import ai_deployment

SPEC = AIDeploymentSpec.model_validate({**ai_deployment("s", "m")["spec"], "replicas": 3})
DIGEST = "sha256:" + "a" * 64


def live(replicas: int, available: int, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, "availableReplicas": available},
    }


@pytest.mark.parametrize(
    ("deployed", "replicas", "status", "reason"),
    [
        (None, 3, "False", "NotDeployed"),
        (live(0, 0), 0, "False", "ScaledToZero"),
        (live(3, 3), 3, "True", "MinimumReplicasAvailable"),
        (live(3, 2), 3, "False", "ReplicasUnavailable"),
        (live(3, 3, generation=3, observed=2), 3, "False", "ReplicasUnavailable"),  # an old rollout's pods
    ],
)
def test_availability(deployed: dict[str, Any] | None, replicas: int, status: str, reason: str) -> None:
    verdict = ds.availability(deployed, replicas)
    assert (verdict.status, verdict.reason) == (status, reason)


@pytest.mark.parametrize(
    ("action", "reason", "deployed", "shown"),
    [
        ("Rollout", "ModelVerified", None, 3),
        ("Quarantine", "ModelNotVerified", live(3, 3), 0),
        ("Keep", "AwaitingApproval", live(2, 2), 2),  # the approved count keeps serving
        ("Keep", "AwaitingApproval", None, 3),
        ("Keep", "ServingLastVerified", live(2, 2), 3),
    ],
)
def test_replicas_shown(action: str, reason: str, deployed: dict[str, Any] | None, shown: int) -> None:
    assert ds.replicas_shown(Decision(action, DIGEST, reason, "m"), SPEC, deployed) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "reason", "available", "ready"),
    [
        ("Rollout", "ModelVerified", ("True", "MinimumReplicasAvailable"), ("True", "Serving")),
        ("Rollout", "ModelVerified", ("False", "ReplicasUnavailable"), ("False", "ReplicasUnavailable")),
        ("Keep", "ServingLastVerified", ("True", "MinimumReplicasAvailable"), ("True", "ServingLastVerified")),
        ("Quarantine", "ModelNotVerified", ("False", "ScaledToZero"), ("False", "ModelNotVerified")),
        ("Hold", "WaitingForModel", ("False", "NotDeployed"), ("False", "WaitingForModel")),
    ],
)
def test_ready(action: str, reason: str, available: tuple[str, str], ready: tuple[str, str]) -> None:
    from modelguard.domain.conditions import Verdict

    verdict = ds.ready(Decision(action, DIGEST, reason, "m"), Verdict("Available", *available, "x"))  # type: ignore[arg-type]
    assert (verdict.status, verdict.reason) == ready


def test_pod_security_reads_the_live_workload_first() -> None:
    restricted = {ds.PSA_LABEL: ds.RESTRICTED}
    assert ds.pod_security("team", restricted, None).reason == "Restricted"
    assert ds.pod_security("team", {}, None).reason == "NamespaceNotRestricted"
    weakened = {"spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}}}
    assert ds.pod_security("team", restricted, weakened).reason == "LiveWorkloadNotRestricted"


def test_the_last_reverted_drift_is_kept_until_the_spec_changes() -> None:
    status = AIDeploymentStatus.model_validate(
        {
            "conditions": [
                {"type": "PolicyEnforced", "status": "True", "reason": "DriftReverted", "message": "Deployment/s",
                 "observedGeneration": 4, "lastTransitionTime": "2026-12-03T10:00:00Z"}
            ]
        }
    )  # fmt: skip
    kept = ds.last_drift(status, 4)
    assert kept is not None and kept.message == "Deployment/s"
    assert ds.last_drift(status, 5) is None
    assert ds.authentication(SPEC).reason == "AuthenticationDisabled"


def _with_enforced(reason: str, generation: int) -> AIDeploymentStatus:
    return AIDeploymentStatus.model_validate(
        {
            "conditions": [
                {
                    "type": "PolicyEnforced",
                    "status": "True",
                    "reason": reason,
                    "message": "earlier",
                    "observedGeneration": generation,
                    "lastTransitionTime": "2026-12-03T12:00:00Z",
                }
            ]
        }
    )


APPLIED = ds.Enforcement("Applied", ["Deployment/s"], DIGEST)


@pytest.mark.parametrize(
    ("done", "current", "status", "reason", "says"),
    [
        (APPLIED, AIDeploymentStatus(), "True", "Enforced", "policy applied"),
        (
            ds.Enforcement("Applied", [], DIGEST, ("Deployment/s: hostNetwork",)),
            AIDeploymentStatus(),
            "True",
            "DriftReverted",
            "hostNetwork",
        ),
        (APPLIED, _with_enforced("DriftReverted", 2), "True", "DriftReverted", "earlier"),  # kept for the spec
        (APPLIED, _with_enforced("DriftReverted", 1), "True", "Enforced", "policy applied"),  # a new spec clears it
        (
            ds.Enforcement("Refused", [], None, (), "NameConflict", "taken"),
            AIDeploymentStatus(),
            "False",
            "NameConflict",
            "taken",
        ),
        (ds.Enforcement("Quarantined", [], DIGEST), AIDeploymentStatus(), "True", "Quarantined", "scaled to zero"),
        (
            ds.Enforcement("QuarantineBlocked", [], DIGEST, (), "NamespaceNotEnabled", "not labelled"),
            AIDeploymentStatus(),
            "False",
            "NamespaceNotEnabled",
            "cannot quarantine: not labelled",
        ),
        (ds.Enforcement("Untouched", [], None), AIDeploymentStatus(), "Unknown", "NotDeployed", "nothing deployed"),
        (ds.Enforcement("Untouched", [], DIGEST), _with_enforced("Enforced", 1), "True", "Enforced", "earlier"),
    ],
)
def test_policy_enforced_says_what_this_pass_did(
    done: ds.Enforcement, current: AIDeploymentStatus, status: str, reason: str, says: str
) -> None:
    verdict = ds.policy_enforced(done, current, 2)
    assert (verdict.status, verdict.reason) == (status, reason) and says in verdict.message


def test_a_refused_first_rollout_holds_and_a_serving_one_keeps_its_decision() -> None:
    rollout = Decision("Rollout", DIGEST, "ModelVerified", "serving")
    refused_first = ds.Enforcement("Refused", [], None, (), "ApplyRejected", "quota")
    assert ds.held(rollout, refused_first) == Decision("Hold", None, "ApplyRejected", "quota")
    refused_serving = ds.Enforcement("Refused", [], DIGEST, (), "ApplyRejected", "quota")
    assert ds.held(rollout, refused_serving) is rollout
    assert ds.held(rollout, APPLIED) is rollout
