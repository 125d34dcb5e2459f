"""The children ModelGuard created are its alone (issue 13, class 1): fields someone else adds to a managed
Deployment are removed, not just the ones ModelGuard set; the status never claims restricted pods the live
object does not have; an apply the API server refuses is a condition and an Event, not a silent retry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
KEY = KeyPair.generate()


def served(api: KubeTestClient, namespace: str, models_root: Path, name: str = "svc") -> None:
    api.create("trustpolicies", None, policy(f"p-{namespace}", namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, f"p-{namespace}"))
    api.create("aideployments", namespace, ai_deployment(name, "m"))


def pod_spec(cluster: ControlPlane, namespace: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "deployment", "svc", "-n", namespace, "-o", "json").stdout
    return json.loads(out)["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_fields_someone_else_adds_to_a_managed_deployment_are_removed(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    served(api, namespace, models_root)
    wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True")
    escalation = {
        "spec": {
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}],
                    "containers": [
                        {
                            "name": "model-server",
                            "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
                        }
                    ],
                }
            }
        }
    }
    # another field manager, as `kubectl patch` by anyone with write access to Deployments
    cluster.kubectl("patch", "deployment", "svc", "-n", namespace, "--type=strategic", "-p", json.dumps(escalation))

    def clean() -> bool:
        spec = pod_spec(cluster, namespace)
        server = next(c for c in spec["containers"] if c["name"] == "model-server")
        return (
            not spec.get("hostNetwork")
            and not any("hostPath" in v for v in spec.get("volumes", []))
            and not server["securityContext"].get("privileged")
            and server["securityContext"]["allowPrivilegeEscalation"] is False
        )

    eventually(clean, timeout=30, what="the added fields to be removed")
    body = wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "True", "DriftReverted")
    assert "hostNetwork" in condition(body, "PolicyEnforced")["message"]
    # the status claims restricted pods only from the live object (this namespace has no PSA label)
    eventually(
        lambda: (
            condition(api.get("aideployments", namespace, "svc"), "PodSecurity")["reason"] == "NamespaceNotRestricted"
        ),
        timeout=30,
        what="PodSecurity to be judged on the cleaned live Deployment",
    )
    events = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    assert any(e["reason"] == "DriftReverted" for e in events)


def test_a_child_stripped_of_its_modelguard_label_is_still_guarded(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """The tenant's evasion: take the managed-by label off the model server's Deployment so that the operator's
    label-selected watch loses sight of it, then escalate. The watch reports an object that leaves the selector
    as gone, so the operator puts the label back and removes what was added."""
    served(api, namespace, models_root)
    wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True")
    strip = {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}
    cluster.kubectl("patch", "deployment", "svc", "-n", namespace, "--type=merge", "-p", json.dumps(strip))
    escalation = {"spec": {"template": {"spec": {"volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]}}}}
    cluster.kubectl("patch", "deployment", "svc", "-n", namespace, "--type=strategic", "-p", json.dumps(escalation))

    def guarded() -> bool:
        live = json.loads(cluster.kubectl("get", "deployment", "svc", "-n", namespace, "-o", "json").stdout)
        volumes = live["spec"]["template"]["spec"].get("volumes", [])
        return bool(
            live["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "modelguard"
            and not any("hostPath" in v for v in volumes)
        )

    eventually(guarded, timeout=30, what="the label back and the hostPath volume removed")
    body = wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "True", "DriftReverted")
    assert "Deployment/svc" in condition(body, "PolicyEnforced")["message"]


def test_an_apply_the_api_server_refuses_is_a_condition_and_an_event(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-more-configmaps", "namespace": namespace},
        "spec": {"hard": {"count/configmaps": "1"}},  # kube-root-ca.crt takes the one
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(quota))
    eventually(
        lambda: (
            json.loads(
                cluster.kubectl("get", "resourcequota", "no-more-configmaps", "-n", namespace, "-o", "json").stdout
            )
            .get("status", {})
            .get("used")
        ),
        timeout=30,
        what="the quota to be counted",
    )
    served(api, namespace, models_root)
    body = wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "False", "ApplyRejected")
    message = condition(body, "PolicyEnforced")["message"]
    assert "exceeded quota" in message and "403" in message
    assert condition(body, "Ready")["status"] == "False"
    events = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    assert [e for e in events if e["reason"] == "ApplyRejected"]
    cluster.kubectl("delete", "resourcequota", "no-more-configmaps", "-n", namespace)
    api.patch("aideployments", namespace, "svc", {"spec": {"replicas": 2}})  # a change: the next attempt succeeds
    wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True", timeout=60)


def test_a_model_server_scheduled_on_gpu_nodes_rolls_out_without_drift(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Issue 14, item 4: scheduling fields reach the pods, are stable (no endless drift), and system-*
    priority classes are refused by the API server itself."""
    priority = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "inference"}}
    runtime = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}}
    for doc in ({**priority, "value": 1000}, {**runtime, "handler": "nvidia"}):
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(doc))
    name = f"p-{namespace}"
    grants = {  # what the admin lets this namespace's model servers ask of the scheduler (issue 27 item 3)
        "priorityClasses": ["inference"],
        "runtimeClasses": ["nvidia"],
        "nodeLabels": ["type"],
        "tolerations": [{"key": "kwok.x-k8s.io/node", "effect": "NoSchedule"}],
    }
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], scheduling=grants))
    try:
        pub = publish(models_root, namespace, "m", KEY)
        api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
        scheduling = {
            "nodeSelector": {"type": "kwok"},
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeAffinity": {"preferred": [{"key": "type", "operator": "In", "values": ["kwok"]}]},
            "runtimeClassName": "nvidia",
            "priorityClassName": "inference",
        }
        refused = cluster.kubectl(
            "create", "-n", namespace, "-f", "-", check=False,
            stdin=json.dumps(ai_deployment("bad", "m", scheduling={"priorityClassName": "system-node-critical"})),
        )  # fmt: skip
        assert refused.returncode != 0 and "system-* PriorityClasses" in refused.stderr
        api.create("aideployments", namespace, ai_deployment("gpu", "m", scheduling=scheduling))
        wait_for_condition(api, "aideployments", namespace, "gpu", "Ready", "True", timeout=60)
        pod = api.apps.read_namespaced_deployment("gpu", namespace).spec.template.spec
        assert pod.node_selector == {"type": "kwok"} and pod.priority_class_name == "inference"
        assert pod.runtime_class_name == "nvidia" and pod.tolerations[0].key == "kwok.x-k8s.io/node"
        time.sleep(3)  # a few more reconciles: the live object must match what was applied
        body = api.get("aideployments", namespace, "gpu")
        assert "lastDrift" not in body["status"], body["status"].get("lastDrift")
        assert condition(body, "PolicyEnforced")["reason"] == "Enforced"  # type: ignore[index]
    finally:
        api.delete("trustpolicies", None, name)


def test_fields_a_tenant_adds_to_a_managed_service_or_network_policy_are_removed(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Issue 27, item 9: an external IP and an extra port added to a managed Service survived while an Event
    said 'reverted' (server-side apply keeps fields another manager owns; the fix had covered Deployments
    only), and an allow-all rule on the deny-all NetworkPolicy went unnoticed. A tenant with `edit` in its
    namespace adds them; both objects are restored, DriftReverted is recorded, and nothing of another
    AIDeployment in the namespace changes."""
    served(api, namespace, models_root)
    api.create("aideployments", namespace, ai_deployment("bystander", "m"))
    for name in ("svc", "bystander"):
        wait_for_condition(api, "aideployments", namespace, name, "Ready", "True", timeout=60)
    cluster.kubectl(
        "create", "rolebinding", "tenant-edit", "--clusterrole=edit", "--user=mallory", "-n", namespace
    )  # fmt: skip

    def objects(deployment: str) -> dict[str, Any]:
        """The bystander's children as they are: what the tenant's changes must not touch."""
        out = {}
        for kind in ("service", "networkpolicy", "configmap", "serviceaccount"):
            listed = cluster.kubectl(
                "get", kind, "-n", namespace, "-l", f"app.kubernetes.io/instance={deployment}", "-o", "json"
            ).stdout
            for item in json.loads(listed)["items"]:
                meta = item["metadata"]
                out[f"{kind}/{meta['name']}"] = (meta["resourceVersion"], item.get("spec"), item.get("data"))
        return out

    before = objects("bystander")
    assert "service/bystander" in before and "networkpolicy/bystander-deny-all" in before

    def live(kind: str, name: str) -> dict[str, Any]:
        return json.loads(cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)  # type: ignore[no-any-return]

    ports = live("service", "svc")["spec"]["ports"]
    extra = {
        "spec": {"externalIPs": ["203.0.113.9"], "ports": [*ports, {"name": "debug", "port": 2222, "targetPort": 22}]}
    }
    allow_all = {"spec": {"ingress": [{}]}}
    for kind, name, patch in (("service", "svc", extra), ("networkpolicy", "svc-deny-all", allow_all)):
        done = cluster.kubectl(
            "patch",
            kind,
            name,
            "-n",
            namespace,
            "--as",
            "mallory",
            "--type=merge",
            "-p",
            json.dumps(patch),
            check=False,
        )
        assert done.returncode == 0, done.stderr  # the tenant may: edit covers Services and NetworkPolicies

    def restored() -> bool:
        service = live("service", "svc")["spec"]
        policy = live("networkpolicy", "svc-deny-all")["spec"]
        return bool(
            not service.get("externalIPs")
            and [p["port"] for p in service["ports"]] == [80]
            and not policy.get("ingress")
            and policy["policyTypes"] == ["Ingress", "Egress"]
        )

    eventually(restored, timeout=30, what="the external IP, the port and the allow-all rule to be removed")
    body = wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "True", "DriftReverted")
    assert "svc" in body["status"]["lastDrift"]["objects"]  # the last pass's revert, recorded and audited

    def reverted() -> str:
        events = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        mine = [e for e in events if e["reason"] == "DriftReverted"]
        assert all(e["involvedObject"]["name"] == "svc" for e in mine)  # nothing said of the bystander
        return " ".join(e["message"] for e in mine)

    said = eventually(
        lambda: (m := reverted()) and "Service/svc (spec.externalIPs, spec.ports)" in m and "svc-deny-all" in m and m,
        timeout=30,
        what="a DriftReverted Event for each object",
    )
    assert "bystander" not in said
    time.sleep(3)  # a few more passes: the operator's own writes are not reported, the revert holds
    assert restored()
    assert objects("bystander") == before  # nothing of the other AIDeployment changed
    bystander = api.get("aideployments", namespace, "bystander")
    assert "lastDrift" not in bystander["status"] and condition(bystander, "PolicyEnforced")["reason"] == "Enforced"  # type: ignore[index]
