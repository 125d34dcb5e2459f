"""End-to-end checks against any cluster with ModelGuard installed (KUBECONFIG)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

NAMESPACE_PREFIX = "modelguard-e2e-"


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=False, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    if not os.environ.get("KUBECONFIG"):
        raise AssertionError("set KUBECONFIG to a cluster with ModelGuard installed")
    name = NAMESPACE_PREFIX + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(obj: dict[str, Any], namespace: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
    return kubectl(*args, stdin=json.dumps(obj), check=False)


def test_crds_are_served() -> None:
    names = kubectl("get", "crd", "-o", "name").stdout
    kinds = ("aimodels", "aideployments", "trustpolicies", "scanreports", "decommissioncertificates", "modelapprovals")
    for plural in kinds:
        assert f"{plural}.modelguard.io" in names


def test_operator_is_ready() -> None:
    out = kubectl("get", "deployment", "-A", "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout
    (deployment,) = json.loads(out)["items"]
    assert (deployment["status"].get("readyReplicas") or 0) >= 1


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
    assert apply(policy).returncode == 0
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
    time.sleep(2)  # the operator's cache sees the new policy
    refused = apply(model, namespace)
    assert refused.returncode != 0 and "is not under an allowed source" in refused.stderr
    model["spec"]["source"]["uri"] = "https://models.invalid/m"
    model["spec"]["signature"]["bundleUri"] = "https://models.invalid/m.sig"
    assert apply(model, namespace).returncode == 0
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
    out = kubectl("get", "deployment", "-A", "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout
    operator_ns = json.loads(out)["items"][0]["metadata"]["namespace"]
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
