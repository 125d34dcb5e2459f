"""End-to-end checks against any cluster with ModelGuard installed (KUBECONFIG)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from e2e.conftest import apply, kubectl, new_namespace, operator_namespace


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    name = new_namespace("modelguard-e2e")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_crds_are_served() -> None:
    names = kubectl("get", "crd", "-o", "name").stdout
    kinds = ("aimodels", "aideployments", "trustpolicies", "scanreports", "decommissioncertificates", "modelapprovals")
    for plural in kinds:
        assert f"{plural}.modelguard.io" in names


def test_operator_pods_are_ready_under_the_chart_service_account() -> None:
    out = kubectl("get", "deployment", "-A", "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout
    (deployment,) = json.loads(out)["items"]
    assert deployment["status"].get("readyReplicas") == 2
    ns = deployment["metadata"]["namespace"]
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    pods = json.loads(kubectl("get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout)
    running = [p for p in pods["items"] if p["status"].get("phase") == "Running"]
    assert len(running) == 2 and {p["spec"]["serviceAccountName"] for p in running} == {account}
    for pod in running:
        assert all(c["ready"] for c in pod["status"]["containerStatuses"])
        assert pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True
    # the chart's least privilege, as the API server sees it
    sa = f"system:serviceaccount:{ns}:{account}"
    assert kubectl("auth", "can-i", "create", "pods", "--as", sa, "-n", "default", check=False).stdout.strip() == "no"
    assert kubectl("auth", "can-i", "list", "nodes", "--as", sa, check=False).stdout.strip() == "no"
    assert (
        kubectl("auth", "can-i", "watch", "aimodels.modelguard.io", "--as", sa, "-A", check=False).stdout.strip()
        == "yes"
    )


def test_webhooks_are_reached_through_their_service() -> None:
    ns = operator_namespace()
    hooks = json.loads(kubectl("get", "validatingwebhookconfigurations", "-o", "json").stdout)["items"]
    ours = [h for h in hooks if any(w["name"].endswith("modelguard.io") for w in h["webhooks"])]
    assert ours
    for hook in ours:
        for webhook in hook["webhooks"]:
            service = webhook["clientConfig"]["service"]
            warn_only = webhook["name"].endswith("-warn.modelguard.io")  # namespaces labelled admission=warn
            assert service["namespace"] == ns and webhook["timeoutSeconds"] <= 5
            assert webhook["failurePolicy"] == ("Ignore" if warn_only else "Fail")
            endpoints = kubectl("get", "endpoints", service["name"], "-n", ns, "-o", "json").stdout
            assert len(json.loads(endpoints)["subsets"][0]["addresses"]) == 2


def test_admission_refuses_unpinned_and_unlisted_sources(namespace: str) -> None:
    policy = {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": namespace},
        "spec": {
            "keys": [{"id": "k", "publicKey": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "allowedSources": ["https://models.invalid/"],
        },
    }
    assert apply(policy, check=False).returncode == 0
    model = {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIModel",
        "metadata": {"name": "m"},
        "spec": {
            "version": "1",
            "source": {"uri": "https://elsewhere.invalid/m"},
            "signature": {"bundleUri": "https://elsewhere.invalid/m.sig"},
            "trustPolicy": namespace,
            "card": {"owner": "e2e"},
        },
    }
    time.sleep(2)  # the operator's cache sees the new policy (admission reads through when it does not)
    refused = apply(model, namespace, check=False)
    assert refused.returncode != 0 and "is not under an allowed source" in refused.stderr
    model["spec"]["source"]["uri"] = "https://models.invalid/m"
    model["spec"]["signature"]["bundleUri"] = "https://models.invalid/m.sig"
    assert apply(model, namespace, check=False).returncode == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = json.loads(kubectl("get", "aimodel", "m", "-n", namespace, "-o", "json").stdout)
        reasons = {c["type"]: c["reason"] for c in (body.get("status") or {}).get("conditions", [])}
        if reasons.get("Verified") == "SourceUnreachable":
            break
        time.sleep(1)
    assert reasons.get("Verified") == "SourceUnreachable"
    kubectl("delete", "trustpolicy", namespace, check=False)


def test_changes_are_in_the_signed_audit_trail(namespace: str) -> None:
    """The model created above is in the audit ring, and the ring verifies against the signed checkpoint."""
    operator_ns = operator_namespace()
    data = json.loads(kubectl("get", "configmap", "modelguard-audit", "-n", operator_ns, "-o", "json").stdout)["data"]
    ring = [json.loads(v) for k, v in data.items() if k.startswith("record-")]
    assert any(r["object"] == {"kind": "AIModel", "namespace": namespace, "name": "m"} for r in ring)
    result = subprocess.run(
        ["modelguard", "audit", "verify", "--ring", "--operator-namespace", operator_ns],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.splitlines()[-1].startswith("valid"), result.stdout
