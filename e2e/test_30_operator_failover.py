"""The operator as a pair of pods: the acting one dies and the other acts; with none, admission fails closed.
Runs last: it disturbs the operator."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from e2e.conftest import (
    ENABLED,
    Source,
    ai_model,
    apply,
    conditions,
    eventually,
    get,
    kubectl,
    new_namespace,
    operator_namespace,
    trust_policy,
    wait_condition,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def team(source: Source) -> Iterator[str]:
    ns = new_namespace("e2e-failover", {ENABLED: "true"})
    apply(trust_policy(ns, ns, source))
    yield ns
    kubectl("delete", "trustpolicy", ns, check=False)
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def wait_for_operator() -> None:
    """Both operator pods Ready (fails after 180 s)."""
    kubectl(
        "rollout",
        "status",
        "deployment",
        "-n",
        operator_namespace(),
        "-l",
        "app.kubernetes.io/name=modelguard",
        "--timeout=180s",
        timeout=200,
    )


def operator_pods(terminating: bool = False) -> list[dict[str, object]]:
    """The operator's pods; with `terminating`, also those shutting down (still running, and still reached
    through the webhook Service: kube-proxy routes to terminating endpoints when no ready one is left)."""
    out = kubectl("get", "pods", "-n", operator_namespace(), "-l", "app.kubernetes.io/name=modelguard", "-o", "json")
    return [p for p in json.loads(out.stdout)["items"] if terminating or not p["metadata"].get("deletionTimestamp")]


def acting_pod() -> str:
    """The peer with the highest priority in the Kopf peering object acts; its id names the pod."""
    peering = json.loads(kubectl("get", "clusterkopfpeering", "modelguard", "-o", "json").stdout)
    peers = peering.get("status") or {}
    best = max(peers.items(), key=lambda kv: kv[1].get("priority", 0))
    names = [str(p["metadata"]["name"]) for p in operator_pods()]  # type: ignore[index]
    (pod,) = [n for n in names if n in best[0]]
    return pod


def test_killing_the_acting_pod_lets_the_other_act(team: str, source: Source) -> None:
    acting = acting_pod()
    kubectl("delete", "pod", acting, "-n", operator_namespace(), "--grace-period=0", "--force")
    # until the webhook Service drops the dead pod's endpoint, some admission calls fail and are refused
    # (fail closed, as for any webhook); a client retries, bounded
    eventually(
        lambda: apply(ai_model("after-failover", source, "m2", team), team, check=False).returncode == 0,
        60,
        2,
        "the AIModel to be admitted by the remaining operator pod",
    )
    model = wait_condition("aimodel", "after-failover", team, "Verified", "True", timeout=240)
    assert model["status"]["verified"]["files"] == len(source.files["m2"])
    wait_for_operator()  # the replacement pod, before the next test reads the pods' logs


def test_audit_trail_verifies_on_the_operator_pods_logs(tmp_path_factory: pytest.TempPathFactory) -> None:
    wait_for_operator()
    logs = tmp_path_factory.mktemp("audit")
    files = []
    for pod in operator_pods():
        name = str(pod["metadata"]["name"])  # type: ignore[index]
        path = logs / f"{name}.log"
        path.write_text(kubectl("logs", "-n", operator_namespace(), name).stdout)
        files.append(str(path))
    result = subprocess.run(
        # the killed pod's log is gone and a pod replays only the newest records when it starts: a partial
        # check (what is there must link, without gaps, up to the signed checkpoint)
        ["modelguard", "audit", "verify", *files, "--partial", "--operator-namespace", operator_namespace()],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.splitlines()[-1].startswith("valid"), result.stdout + result.stderr


def test_with_no_operator_running_changes_are_refused(team: str, source: Source) -> None:
    ns = operator_namespace()
    deployment = kubectl(
        "get", "deployment", "-n", ns, "-l", "app.kubernetes.io/name=modelguard", "-o", "name"
    ).stdout.strip()
    kubectl("scale", deployment, "-n", ns, "--replicas=0")
    try:
        eventually(lambda: not operator_pods(terminating=True), 120, 1, "the operator pods to be gone")
        refused = apply(ai_model("while-down", source, "m2", team), team, check=False)
        assert refused.returncode != 0 and "modelguard" in refused.stderr, refused.stderr
        assert get("aimodel", "while-down", team) is None
    finally:
        kubectl("scale", deployment, "-n", ns, "--replicas=2")
    wait_for_operator()  # back, and the model it verified before is still Verified
    assert conditions(get("aimodel", "after-failover", team)).get("Verified", {}).get("status") == "True"
