"""Nothing on a tenant's word (issue 27, ADR 0020), on the real control plane: bob may only write modelguard.io
objects in his namespace. Every reference he writes that would make the operator read, send, schedule or keep
something with its own rights is refused unless bob may do it himself, and an object written past admission
(webhook down, a namespace that only warns, a stamp copied from elsewhere) gets nothing done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelguard.domain.authority import AUTHORITY
from tests.harness.client import KubeTestClient, condition, eventually, gone, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import IMAGE, ai_deployment

pytestmark = pytest.mark.timeout(300)
KEY = KeyPair.generate()
OTHER_IMAGE = IMAGE.rsplit("@", 1)[0] + "@sha256:" + "e" * 64


def as_user(cluster: ControlPlane, user: str, namespace: str, *args: str, obj: dict[str, Any] | None = None) -> Any:
    stdin = json.dumps(obj) if obj is not None else None
    return cluster.kubectl(*args, "-n", namespace, "--as", user, stdin=stdin, check=False)


def setup(api: KubeTestClient, namespace: str, models_root: Path, **policy_spec: Any) -> str:
    """A policy for the namespace and a verified model `m` (the admin's); returns the policy's name."""
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], **policy_spec))
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    return name


def test_a_tenant_cannot_borrow_a_secret_it_may_not_read(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Item 1: the admin's Secrets and ConfigMaps of bob's namespace (a ServiceAccount token among them) are not
    bob's to use through the operator: not as model credentials, not as gateway keys, not as a system prompt."""
    name = setup(api, namespace, models_root)
    grant(cluster, namespace, "bob", ["aimodels", "aideployments"])
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "admin-keys"}, "stringData": {"c": "k" * 24}})
    api.core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "admin-prompt"}, "immutable": True, "data": {"p": "secret plans"}}
    )
    pub = publish(models_root, namespace, "bobs", KEY)
    creds = model("bobs", pub.source, pub.bundle, name)
    creds["spec"]["source"]["credentialsSecretRef"] = {"name": "admin-keys"}
    refused = as_user(cluster, "bob", namespace, "apply", "-f", "-", obj=creds)
    assert refused.returncode != 0
    assert "bob may not get secrets 'admin-keys'" in refused.stderr, refused.stderr
    for field, value, says in (
        ("authentication", {"apiKeysSecretRef": {"name": "admin-keys"}}, "bob may not get secrets 'admin-keys'"),
        ("systemPrompt", {"name": "admin-prompt", "key": "p"}, "bob may not get configmaps 'admin-prompt'"),
    ):
        written = as_user(cluster, "bob", namespace, "apply", "-f", "-", obj=ai_deployment("d", "m", **{field: value}))
        assert written.returncode != 0 and says in written.stderr, written.stderr
        assert "secret plans" not in written.stderr
    assert cluster.kubectl("get", "aimodel", "bobs", "-n", namespace, check=False).returncode != 0

    # the admin may read it, so may name it; the reference carries the admin's authority from then on
    allowed = cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(ai_deployment("d", "m", authentication={"apiKeysSecretRef": {"name": "admin-keys"}})),
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr
    stamp = json.loads(api.get("aideployments", namespace, "d")["metadata"]["annotations"][AUTHORITY])
    assert set(stamp["entries"]) == {"apiKeys"} and stamp["entries"]["apiKeys"]["by"] == "admin"
    wait_for_condition(api, "aideployments", namespace, "d", "Ready", "True", timeout=60)
    # bob may still change what the admin authorised nothing for (replicas); the reference stays authorised
    patch = json.dumps({"spec": {"replicas": 2}})
    assert as_user(cluster, "bob", namespace, "patch", "aideployment", "d", "--type=merge", "-p", patch).returncode == 0
    # but not point it at another Secret of the admin's
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "more-keys"}, "stringData": {"c": "m" * 24}})
    patch = json.dumps({"spec": {"authentication": {"apiKeysSecretRef": {"name": "more-keys"}}}})
    moved = as_user(cluster, "bob", namespace, "patch", "aideployment", "d", "--type=merge", "-p", patch)
    assert moved.returncode != 0 and "bob may not get secrets 'more-keys'" in moved.stderr

    # past admission: a namespace that only warns, the operator (and so its webhooks) down
    cluster.kubectl("label", "namespace", namespace, "modelguard.io/admission=warn")
    operator.kill()
    try:
        sneaky = ai_deployment("sneaky", "m", authentication={"apiKeysSecretRef": {"name": "admin-keys"}})
        sneaky["metadata"]["annotations"] = {AUTHORITY: json.dumps(stamp)}  # copied from `d`
        written = as_user(cluster, "bob", namespace, "apply", "-f", "-", obj=sneaky)
        assert written.returncode == 0, written.stderr  # the webhooks are down and this namespace only warns
    finally:
        operator.restart()
    body = wait_for_condition(
        api, "aideployments", namespace, "sneaky", "PolicyEnforced", "False", "ReferenceNotAuthorised", timeout=60
    )
    assert "spec.authentication.apiKeysSecretRef is not honoured" in condition(body, "PolicyEnforced")["message"]
    assert gone(lambda: api.core.read_namespaced_secret("sneaky-gateway-keys", namespace))
    assert gone(lambda: api.apps.read_namespaced_deployment("sneaky", namespace))
    # nothing of the admin's changed: `d` still serves with its keys
    assert condition(api.get("aideployments", namespace, "d"), "Ready")["status"] == "True"
    api.delete("trustpolicies", None, name)


def test_a_grant_replayed_onto_another_image_runs_nothing(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Item 5: the admin runs `granted` as a privileged ServiceAccount. Past admission bob changes its image, and
    re-creates a deleted deployment's name with its stamp and another image: neither runs as the account."""
    name = setup(api, namespace, models_root)
    grant(cluster, namespace, "bob", ["aideployments"])
    cluster.kubectl("create", "serviceaccount", "ci-deployer", "-n", namespace)
    for dep in ("granted", "old"):
        obj = ai_deployment(dep, "m", serviceAccountName="ci-deployer")
        assert cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj)).returncode == 0
    wait_for_condition(api, "aideployments", namespace, "granted", "Ready", "True", timeout=60)
    old_stamp = api.get("aideployments", namespace, "old")["metadata"]["annotations"][AUTHORITY]
    api.delete("aideployments", namespace, "old")
    eventually(lambda: cluster.kubectl("get", "aideployment", "old", "-n", namespace, check=False).returncode != 0)

    cluster.kubectl("label", "namespace", namespace, "modelguard.io/admission=warn")
    operator.kill()
    try:
        patch = json.dumps({"spec": {"runtime": {"image": OTHER_IMAGE}}})
        changed = as_user(cluster, "bob", namespace, "patch", "aideployment", "granted", "--type=merge", "-p", patch)
        assert changed.returncode == 0, changed.stderr
        replay = ai_deployment("old", "m", serviceAccountName="ci-deployer", runtime={"image": OTHER_IMAGE})
        replay["metadata"]["annotations"] = {AUTHORITY: old_stamp}
        assert as_user(cluster, "bob", namespace, "apply", "-f", "-", obj=replay).returncode == 0
    finally:
        operator.restart()
    for dep in ("granted", "old"):
        wait_for_condition(
            api, "aideployments", namespace, dep, "PolicyEnforced", "False", "ServiceAccountNotAdmitted", timeout=60
        )
    new_uid = api.get("aideployments", namespace, "old")["metadata"]["uid"]

    def runs_for_the_replay() -> bool:  # the deleted deployment's pods may take the garbage collector a moment
        try:
            owners = api.apps.read_namespaced_deployment("old", namespace).metadata.owner_references or []
        except Exception:
            return False
        return any(o.uid == new_uid for o in owners)

    assert not runs_for_the_replay()
    eventually(lambda: gone(lambda: api.apps.read_namespaced_deployment("old", namespace)), timeout=60)
    running = api.apps.read_namespaced_deployment("granted", namespace).spec.template.spec
    assert all(c.image != OTHER_IMAGE for c in running.containers)  # the admin's pods as they were
    api.delete("trustpolicies", None, name)


def test_only_who_may_clear_a_legal_hold_can(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Item 4: the admin holds bob's model; bob deletes it and tries to clear the hold: refused, nothing deleted.
    Carol, whom the admin let clear holds (update aimodels/legalhold), can."""
    name = setup(api, namespace, models_root)
    grant(cluster, namespace, "bob", ["aimodels"])
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "legal", "namespace": namespace},
        "rules": [
            {
                "apiGroups": ["modelguard.io"],
                "resources": ["aimodels", "aimodels/legalhold"],
                "verbs": ["get", "update", "patch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "legal", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "legal"},
        "subjects": [{"kind": "User", "name": "carol", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    for obj in (role, binding):
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(obj))
    hold = json.dumps({"spec": {"endOfLife": {"legalHold": True}}})
    cluster.kubectl("patch", "aimodel", "m", "-n", namespace, "--type=merge", "-p", hold)
    stamp = json.loads(api.get("aimodels", namespace, "m")["metadata"]["annotations"][AUTHORITY])
    assert stamp["entries"]["legalHold"]["by"] == "admin"

    assert as_user(cluster, "bob", namespace, "delete", "aimodel", "m", "--wait=false").returncode == 0
    wait_for_condition(api, "aimodels", namespace, "m", "Decommissioned", "False", "LegalHold", timeout=60)
    clear = json.dumps({"spec": {"endOfLife": {"legalHold": False}}})
    refused = as_user(cluster, "bob", namespace, "patch", "aimodel", "m", "--type=merge", "-p", clear)
    assert refused.returncode != 0
    assert "bob may not clear a legal hold set by admin" in refused.stderr, refused.stderr
    held = api.get("aimodels", namespace, "m")
    assert held["spec"]["endOfLife"]["legalHold"] is True and condition(held, "Decommissioned")["reason"] == "LegalHold"
    assert list(models_root.joinpath(namespace).glob("m*"))  # nothing deleted

    cleared = as_user(cluster, "carol", namespace, "patch", "aimodel", "m", "--type=merge", "-p", clear)
    assert cleared.returncode == 0, cleared.stderr
    eventually(lambda: cluster.kubectl("get", "aimodel", "m", "-n", namespace, check=False).returncode != 0, timeout=90)
    api.delete("trustpolicies", None, name)


def test_scheduling_only_as_an_admin_granted_and_never_the_control_plane(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Item 3: bob cannot put his model server on a control-plane node, nor use a priority or runtime class the
    admin did not grant; what the policy grants he may use, and a grant withdrawn later stops the rollout."""
    grants = {"priorityClasses": ["inference"], "nodeLabels": ["type"], "tolerations": [{"key": "kwok.x-k8s.io/node"}]}
    name = setup(api, namespace, models_root, scheduling=grants)
    grant(cluster, namespace, "bob", ["aideployments"])
    for scheduling, says in (
        ({"tolerations": [{"operator": "Exists"}]}, "tolerates every taint"),
        (
            {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}},
            "control-plane nodes never run model servers",
        ),
        ({"priorityClassName": "billion"}, "'billion' is not granted"),
        ({"runtimeClassName": "anything"}, "'anything' is not granted"),
    ):
        refused = as_user(
            cluster, "bob", namespace, "apply", "-f", "-", obj=ai_deployment("d", "m", scheduling=scheduling)
        )
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
    granted = {
        "nodeSelector": {"type": "kwok"},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
    }
    allowed = as_user(cluster, "bob", namespace, "apply", "-f", "-", obj=ai_deployment("d", "m", scheduling=granted))
    assert allowed.returncode == 0, allowed.stderr
    wait_for_condition(api, "aideployments", namespace, "d", "Ready", "True", timeout=60)
    pod = api.apps.read_namespaced_deployment("d", namespace).spec.template.spec
    required = pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    keys = {(e.key, e.operator) for e in required.node_selector_terms[0].match_expressions}
    assert ("node-role.kubernetes.io/control-plane", "DoesNotExist") in keys

    withdrawn = json.dumps({"spec": {"scheduling": {"nodeLabels": []}}})
    cluster.kubectl("patch", "trustpolicy", name, "--type=merge", "-p", withdrawn)
    cluster.kubectl("annotate", "aideployment", "d", "-n", namespace, "modelguard.io/reconcile=1")
    body = wait_for_condition(
        api, "aideployments", namespace, "d", "PolicyEnforced", "False", "SchedulingNotAllowed", timeout=60
    )
    assert "node label 'type' is not granted" in condition(body, "PolicyEnforced")["message"]
    api.delete("trustpolicies", None, name)
