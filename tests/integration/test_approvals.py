"""Human approval before rollout on the real control plane: RBAC decides who may approve, admission says
who did (a forged name is overwritten), approvals bind to the model digest and reset when it changes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.harness.argocd import health
from tests.harness.audit import find, records
from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()


def approve(cluster: ControlPlane, user: str, namespace: str, name: str, digest: str, **annotations: str) -> Any:
    obj = {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "ModelApproval",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"deployment": "svc", "digest": digest, "comment": "reviewed the eval report"},
    }
    return cluster.kubectl("create", "-n", namespace, "--as", user, "-f", "-", stdin=json.dumps(obj), check=False)


def test_rollout_waits_for_approvals_of_the_digest(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    grant(cluster, namespace, "alice", ["aimodels", "aideployments"])  # deploys, may not approve
    for approver in ("bob", "carol"):
        grant(cluster, namespace, approver, ["modelapprovals"])
    name = f"p-{namespace}"
    api.create(
        "trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], requirements={"approvals": 2})
    )
    v1 = publish(models_root, namespace, "m-v1", KEY)
    api.create("aimodels", namespace, model("m", v1.source, v1.bundle, name))
    api.create("aideployments", namespace, ai_deployment("svc", "m"))
    digest = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")["status"]["verified"]["digest"]
    waiting = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert "0 of 2" in condition(waiting, "Approved")["message"]  # type: ignore[index]
    assert condition(waiting, "Ready")["reason"] == "AwaitingApproval"  # type: ignore[index]
    assert not waiting["status"].get("servedDigest")
    status, message = health("health-aideployment.lua", waiting)
    assert status == "Suspended" and "0 of 2 approvals" in message  # Argo CD: waiting for people

    refused = approve(cluster, "alice", namespace, "by-alice", digest)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()  # RBAC decides who approves
    forged = approve(cluster, "bob", namespace, "by-bob", digest, **{"modelguard.io/approved-by": "carol"})
    assert forged.returncode == 0, forged.stderr
    notes = api.get("modelapprovals", namespace, "by-bob")["metadata"]["annotations"]
    assert notes["modelguard.io/approved-by"] == "bob"  # from admission, not from the field bob filled in
    bob_again = approve(cluster, "bob", namespace, "by-bob-2", digest)
    assert bob_again.returncode == 0
    one = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert "1 of 2" in condition(one, "Approved")["message"]  # type: ignore[index]  # one person, one vote

    edited = cluster.kubectl(
        "annotate", "modelapproval", "by-bob", "-n", namespace, "--as", "bob", "--overwrite",
        "modelguard.io/approved-by=carol", check=False,
    )  # fmt: skip
    assert edited.returncode == 0, edited.stderr  # bob may edit his approval, but not who approved it
    assert (
        api.get("modelapprovals", namespace, "by-bob")["metadata"]["annotations"]["modelguard.io/approved-by"] == "bob"
    )
    assert approve(cluster, "carol", namespace, "by-carol", digest).returncode == 0
    approved = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
    assert approved["status"]["approval"]["digest"] == digest
    assert [a["username"] for a in approved["status"]["approval"]["approvers"]] == ["bob", "carol"]
    eventually(lambda: api.get("aideployments", namespace, "svc")["status"].get("servedDigest") == digest)

    v2 = publish(models_root, namespace, "m-v2-bigger", KEY)
    api.patch(
        "aimodels",
        namespace,
        "m",
        {"spec": {"source": {"uri": v2.source}, "signature": {"bundleUri": v2.bundle}}},  # a rebuilt 1.0.0
    )

    def new_digest() -> str | None:
        verified = api.get("aimodels", namespace, "m")["status"].get("verified") or {}
        return verified.get("digest") if verified.get("digest") != digest else None

    digest2 = eventually(new_digest, what="v2 to be verified")
    reset = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert digest2 in condition(reset, "Approved")["message"]  # type: ignore[index]
    assert reset["status"]["servedDigest"] == digest  # the approved digest keeps serving
    assert condition(reset, "Ready")["status"] == "True"  # type: ignore[index]

    log = records(tmp_path_factory.getbasetemp())
    (created,) = find(log, kind="ModelApproval", namespace=namespace, name="by-carol", action="CREATE")
    assert created["actor"]["username"] == "carol" and created["details"]["digest"] == digest
    decided = find(log, kind="AIDeployment", namespace=namespace, name="svc", action="Approved")
    assert decided and decided[0]["details"]["approvers"] == "bob,carol" and decided[0]["newHash"] == digest
    api.delete("trustpolicies", None, name)


def test_approvals_bind_to_the_deployment_and_what_was_approved(
    cluster: ControlPlane, api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Issue 13, class 7: an approval covers this very AIDeployment (its uid) and its image, replicas and
    exposure as approved; with separation of duties the last editor's own approval does not count."""
    grant(cluster, namespace, "alice", ["aideployments", "modelapprovals"])  # edits and may approve
    grant(cluster, namespace, "bob", ["modelapprovals"])
    name = f"p-{namespace}"
    requirements = {"approvals": 1, "separateApprovers": True}
    api.create(
        "trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], requirements=requirements)
    )
    v1 = publish(models_root, namespace, "m-v1", KEY)
    api.create("aimodels", namespace, model("m", v1.source, v1.bundle, name))
    digest = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")["status"]["verified"]["digest"]

    def as_alice(*args: str, obj: dict[str, Any] | None = None) -> Any:
        stdin = json.dumps(obj) if obj is not None else None
        return cluster.kubectl(*args, "-n", namespace, "--as", "alice", stdin=stdin, check=False)

    assert as_alice("apply", "-f", "-", obj=ai_deployment("svc", "m")).returncode == 0
    assert approve(cluster, "alice", namespace, "by-alice", digest).returncode == 0  # her own change
    waiting = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert "0 of 1" in condition(waiting, "Approved")["message"]  # type: ignore[index]
    assert approve(cluster, "bob", namespace, "by-bob", digest).returncode == 0
    try:
        wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
        wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True", timeout=60)
    except AssertionError:
        body = api.get("aideployments", namespace, "svc")
        stamp = api.get("modelapprovals", namespace, "by-bob")["metadata"].get("annotations")
        raise AssertionError(f"{condition(body, 'Approved')} {body['metadata'].get('annotations')} {stamp}") from None

    eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 1)
    # more replicas than were approved: bob's approval no longer covers the deployment, and the change waits
    patch = json.dumps({"spec": {"replicas": 5}})
    assert as_alice("patch", "aideployment", "svc", "--type=merge", "-p", patch).returncode == 0
    held = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert condition(held, "Ready")["status"] == "True"  # type: ignore[index]  # still serving what was approved
    assert api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 1
    assert approve(cluster, "bob", namespace, "by-bob-5", digest).returncode == 0
    wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
    eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 5)

    # issue 27 item 6: what runs and who reaches it, not only image, replicas and exposure
    wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True", timeout=60)  # 5 replicas up
    for change in (
        {"runtime": {"args": ["--trust-remote-code"]}},
        {"access": {"egress": [{"cidr": "0.0.0.0/0"}], "allowedClients": [{"namespaceSelector": {}}]}},
    ):
        def live() -> tuple[Any, Any]:
            pod = api.apps.read_namespaced_deployment("svc", namespace).spec.template.spec
            policy = api.api.sanitize_for_serialization(
                k8s.NetworkingV1Api(api.api).read_namespaced_network_policy("svc-allow", namespace)
            )
            return [(c.name, c.args) for c in pod.containers], policy["spec"]

        approved = live()
        assert (
            as_alice("patch", "aideployment", "svc", "--type=merge", "-p", json.dumps({"spec": change})).returncode == 0
        )
        held = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
        assert condition(held, "Ready")["status"] == "True"  # type: ignore[index]  # serving what was approved
        time.sleep(2)  # a few more passes: none may apply the change
        assert live() == approved  # the model server's args and who may reach it, as approved
        assert approve(cluster, "bob", namespace, f"by-bob-{len(change)}-{next(iter(change))}", digest).returncode == 0
        wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
        wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True", timeout=60)

    # deleted and re-created under the same name (a new uid): every approval starts again
    assert as_alice("delete", "aideployment", "svc").returncode == 0
    eventually(lambda: cluster.kubectl("get", "aideployment", "svc", "-n", namespace, check=False).returncode != 0)
    assert as_alice("apply", "-f", "-", obj=ai_deployment("svc", "m", replicas=5)).returncode == 0
    again = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "AwaitingApproval")
    assert "0 of 1" in condition(again, "Approved")["message"]  # type: ignore[index]
    api.delete("trustpolicies", None, name)


@pytest.mark.parametrize("on_withdrawn", ["Quarantine", "Keep"])
def test_a_withdrawn_approval_takes_effect_as_the_policy_says(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
    on_withdrawn: str,
) -> None:
    """Issue 13, class 12: deleting a ModelApproval below the required count quarantines the served digest
    (onApprovalWithdrawn: Quarantine, the default) or serves on with Approved=False; the report shows the
    gap while it serves, and a new approval lifts the quarantine."""
    from tests.harness.audit import cli

    grant(cluster, namespace, "bob", ["modelapprovals"])
    grant(cluster, namespace, "carol", ["modelapprovals"])
    name = f"p-{namespace}"
    requirements = {"approvals": 1, "onApprovalWithdrawn": on_withdrawn}
    api.create(
        "trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], requirements=requirements)
    )
    try:
        pub = publish(models_root, namespace, "m", KEY)
        api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
        api.create("aideployments", namespace, ai_deployment("svc", "m"))
        digest = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")["status"]["verified"]["digest"]
        assert approve(cluster, "bob", namespace, "by-bob", digest).returncode == 0
        wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
        eventually(lambda: api.get("aideployments", namespace, "svc")["status"].get("servedDigest") == digest)

        api.delete("modelapprovals", namespace, "by-bob")  # bob withdraws
        withdrawn = wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "False", "ApprovalWithdrawn")
        assert "by-bob" in condition(withdrawn, "Approved")["message"]  # type: ignore[index]
        assert withdrawn["status"]["approval"]["withdrawn"] == ["by-bob"]
        deployment = api.apps.read_namespaced_deployment("svc", namespace)
        if on_withdrawn == "Quarantine":
            wait_for_condition(api, "aideployments", namespace, "svc", "Quarantined", "True", "ApprovalWithdrawn")
            eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 0)
            assert api.get("aideployments", namespace, "svc")["status"]["replicas"] == 0  # not spec.replicas
        else:
            assert condition(api.get("aideployments", namespace, "svc"), "Quarantined")["status"] == "False"  # type: ignore[index]
            assert deployment.spec.replicas == 1

        result = cli(cluster, "report", "--namespace", namespace, "--output-dir", str(tmp_path / "out"))
        assert result.returncode == 0, result.stderr
        found = {p["id"]: p for p in json.loads((tmp_path / "out" / "report.json").read_text())["provisions"]}
        oversight = found["5.1.4-3"]
        if on_withdrawn == "Keep":  # serving a digest nobody approves any more is a gap, named
            assert oversight["status"] == "not met" and oversight["evidence"] == [f"AIDeployment/{namespace}/svc"]
        else:  # quarantined: the gate holds
            assert oversight["status"] == "met"

        assert approve(cluster, "carol", namespace, "by-carol", digest).returncode == 0  # approved again
        wait_for_condition(api, "aideployments", namespace, "svc", "Approved", "True", "Approved")
        wait_for_condition(api, "aideployments", namespace, "svc", "Quarantined", "False")
        eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 1)
        assert api.get("aideployments", namespace, "svc")["status"]["approval"]["withdrawn"] == []
    finally:
        api.delete("trustpolicies", None, name)
