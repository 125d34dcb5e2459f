"""A hostile tenant who may write only modelguard.io objects in their namespace cannot make ModelGuard adopt,
patch, scale or delete objects it did not create (issue 13, class 1: ownership)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import IMAGE, ai_deployment

pytestmark = pytest.mark.timeout(240)
KEY = KeyPair.generate()
ATTACKER = "mallory"


def as_attacker(cluster: ControlPlane, namespace: str, *args: str, stdin: str | None = None) -> Any:
    return cluster.kubectl(*args, "-n", namespace, "--as", ATTACKER, stdin=stdin, check=False)


def someone_elses(cluster: ControlPlane, namespace: str) -> None:
    """Objects a platform team made in the namespace, named as ModelGuard would name the children of `db`."""
    labels = {"app": "db", "app.kubernetes.io/managed-by": "modelguard"}  # even a borrowed label changes nothing
    items = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "db", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": IMAGE}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "db-gateway", "namespace": namespace},
            "data": {"owner": "platform"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-gateway-keys", "namespace": namespace},
            "stringData": {"password": "platform-secret"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "victim", "namespace": namespace},
            "stringData": {"password": "platform-secret"},
        },
    ]
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def revised() -> bool:  # the controller manager's own first write (its revision annotation) is behind us
        out = cluster.kubectl("get", "deployment", "db", "-n", namespace, "-o", "json").stdout
        return "deployment.kubernetes.io/revision" in (json.loads(out)["metadata"].get("annotations") or {})

    eventually(revised, timeout=30, what="the controller manager has seen Deployment db")


def snapshot(cluster: ControlPlane, namespace: str) -> dict[str, tuple[Any, ...]]:
    """What anyone but the controllers could change of the objects: spec (a Deployment's generation; other
    kinds have none, so their resourceVersion), owners, labels, annotations and which field managers wrote them.
    A Deployment's resourceVersion also moves when the controller manager updates its status as its pods
    come up, which says nothing about who else wrote to it."""
    out = cluster.kubectl("get", "deployments,services,configmaps,secrets", "-n", namespace, "-o", "json").stdout
    return {
        f"{o['kind']}/{o['metadata']['name']}": (
            o["metadata"].get("generation") if o["kind"] == "Deployment" else o["metadata"]["resourceVersion"],
            o["metadata"].get("ownerReferences"),
            (o.get("spec") or {}).get("replicas"),
            o["metadata"].get("labels"),
            o["metadata"].get("annotations"),
            sorted(
                {
                    (m["manager"], m["operation"])
                    for m in o["metadata"].get("managedFields") or []
                    if m.get("subresource") != "status"
                }
            ),
        )
        for o in json.loads(out)["items"]
        if o["metadata"]["name"] in ("db", "db-gateway", "db-gateway-keys", "victim")
    }


def test_a_name_clash_is_reported_and_nothing_of_anyone_else_changes(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    grant(cluster, namespace, ATTACKER, ["aimodels", "aideployments", "aideployments/status"])
    someone_elses(cluster, namespace)
    before = snapshot(cluster, namespace)
    assert len(before) == 5
    api.create("trustpolicies", None, policy(f"p-{namespace}", namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    assert (
        as_attacker(
            cluster,
            namespace,
            "apply",
            "-f",
            "-",
            stdin=json.dumps(model("m", pub.source, pub.bundle, f"p-{namespace}")),
        ).returncode
        == 0
    )
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    created = as_attacker(cluster, namespace, "apply", "-f", "-", stdin=json.dumps(ai_deployment("db", "m")))
    assert created.returncode == 0, created.stderr

    body = wait_for_condition(api, "aideployments", namespace, "db", "PolicyEnforced", "False", "NameConflict")
    message = condition(body, "PolicyEnforced")["message"]
    for ref in ("Deployment/db", "Service/db", "ConfigMap/db-gateway"):
        assert ref in message
    assert "Secret/db-gateway-keys" not in message  # no authentication declared: not a child it needs
    assert condition(body, "Ready")["status"] == "False"
    events = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    assert any(e["reason"] == "NameConflict" for e in json.loads(events)["items"])
    # nothing was applied: not even the children whose names were free
    assert cluster.kubectl("get", "networkpolicies", "-n", namespace, "-o", "name").stdout.strip() == ""
    assert snapshot(cluster, namespace) == before

    # the attacker forges the children list (status is theirs to write here), then has the model decommissioned
    forged = {"status": {"children": ["Secret/victim", "Deployment/db", "Service/db", "ConfigMap/db-gateway"]}}
    patched = as_attacker(
        cluster,
        namespace,
        "patch",
        "aideployment",
        "db",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(forged),
    )
    assert patched.returncode == 0, patched.stderr
    assert as_attacker(cluster, namespace, "delete", "aimodel", "m", "--wait=false").returncode == 0
    eventually(lambda: cluster.kubectl("get", "aimodel", "m", "-n", namespace, check=False).returncode != 0, 90)
    assert snapshot(cluster, namespace) == before  # not scaled, not deleted, not adopted
    certs = json.loads(cluster.kubectl("get", "decommissioncertificates", "-o", "json").stdout)["items"]
    (cert,) = [c for c in certs if c["spec"]["model"]["namespace"] == namespace]
    results = {(a["kind"], a["name"]): a["result"] for a in cert["spec"]["actions"]}
    assert results[("Deployment", f"{namespace}/db")] == "NotOwned"
    assert results.get(("Secret", f"{namespace}/victim")) in (None, "NotOwned")  # listed only if still forged
    api.delete("trustpolicies", None, f"p-{namespace}")
