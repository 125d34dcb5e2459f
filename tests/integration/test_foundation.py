"""The foundation on a real API server: CRDs install, the server enforces the schema and CEL rules,
and the operator reports status, also across an API server restart."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.harness.client import KubeTestClient, condition, eventually
from tests.harness.controlplane import ControlPlane
from tests.harness.operator import OperatorProcess
from tests.harness.samples import ai_deployment, ai_model, trust_policy

pytestmark = pytest.mark.timeout(240)


def test_crds_are_established_and_documented(cluster: ControlPlane) -> None:
    names = cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    for plural in ("aimodels", "aideployments", "trustpolicies"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{plural}.modelguard.io" in names
    # the OpenAPI document is published a moment after the CRD is Established
    explained = eventually(
        lambda: cluster.kubectl("explain", "aimodel.spec.source.uri", check=False).stdout, what="kubectl explain"
    )
    assert "oci://registry/repo@sha256" in explained


def _with(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return out


BAD_CREATES = [
    pytest.param(
        _with(ai_model("bad-scheme"), "spec.source.uri", "ftp://example/model"), "spec.source.uri", id="source-scheme"
    ),
    pytest.param(
        _with(ai_model("bad-oci"), "spec.source.uri", "oci://registry.local/models/m:latest"),
        "oci:// references must be registry/repository@sha256:<64 hex>: pinned by manifest digest",
        id="oci-not-pinned",
    ),
    pytest.param(
        _with(ai_model("bad-oci-tag"), "spec.source.uri", "oci://registry.local/models/m:v1@sha256:" + "a" * 64),
        "spec.source: Invalid value",
        id="oci-tag-and-digest",
    ),
    pytest.param(
        _with(ai_model("bad-oci-sig"), "spec.signature", {"bundleUri": "oci://registry.local/models/m-sig:latest"}),
        "bundleUri: oci:// references must be",
        id="oci-bundle-not-pinned",
    ),
    pytest.param(
        _with(ai_deployment("bad-mount", "m"), "spec.runtime.modelMountPath", "/"),
        "spec.runtime.modelMountPath",
        id="mount-path-root",
    ),
    pytest.param(
        _with(
            ai_model("bad-sig"),
            "spec.signature",
            {"bundleUri": "file:///s.sig", "configMapRef": {"name": "sig", "key": "bundle"}},
        ),
        "set exactly one of bundleUri or configMapRef",
        id="signature-two-sources",
    ),
    pytest.param(
        _with(ai_model("bad-field"), "spec.sourceUrl", "file:///x"),
        'unknown field "spec.sourceUrl"',
        id="unknown-field",
    ),
    pytest.param(_with(ai_model("bad-version"), "spec.version", "../1"), "spec.version", id="version-pattern"),
    pytest.param(
        _with(ai_deployment("bad-image", "m"), "spec.runtime.image", "nginx:latest"),
        "spec.runtime.image",
        id="image-not-pinned",
    ),
    pytest.param(_with(ai_deployment("bad-replicas", "m"), "spec.replicas", 101), "spec.replicas", id="replicas-max"),
    pytest.param(
        _with(ai_deployment("bad-exposure", "m"), "spec.access", {"exposure": "External"}),
        "External exposure requires authentication and rateLimit",
        id="external-without-auth",
    ),
    pytest.param(
        _with(
            trust_policy("bad-key"),
            "spec.keys",
            [{"id": "k", "publicKey": "pem", "secretRef": {"name": "s", "key": "k"}}],
        ),
        "set exactly one of publicKey or secretRef",
        id="key-two-sources",
    ),
    pytest.param(
        _with(
            trust_policy("bad-window"),
            "spec.keys",
            [{"id": "k", "publicKey": "pem", "notBefore": "2027-01-01T00:00:00Z", "notAfter": "2026-01-01T00:00:00Z"}],
        ),
        "notBefore must be earlier than notAfter",
        id="key-window",
    ),
    pytest.param(
        _with(ai_model("bad-review"), "spec.card.lastReviewed", "30.11.2026"), "lastReviewed", id="review-date"
    ),
]


def test_a_plain_review_date_is_accepted(cluster: ControlPlane, namespace: str) -> None:
    """Issue 14, item 8: `lastReviewed: 2026-11-30` was refused (the schema wanted a date-time)."""
    obj = _with(ai_model("reviewed"), "spec.card.lastReviewed", "2026-11-30")
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode == 0, result.stderr
    explained = " ".join(cluster.kubectl("explain", "aimodel.spec.card.lastReviewed").stdout.split())
    assert "a date (2026-11-30) or a date-time" in explained


@pytest.mark.parametrize(("obj", "message"), BAD_CREATES)
def test_api_server_rejects_malformed_objects(
    cluster: ControlPlane, namespace: str, obj: dict[str, Any], message: str
) -> None:
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode != 0, f"accepted: {obj}"
    assert message in result.stderr
    kind = obj["kind"].lower()
    gone = cluster.kubectl("get", kind, obj["metadata"]["name"], "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


@pytest.mark.parametrize(
    ("obj", "path", "value", "message"),
    [
        pytest.param(ai_model("imm-version"), "spec.version", "2.0.0", "version is immutable", id="version"),
        pytest.param(
            ai_deployment("imm-model", "m"), "spec.modelRef.name", "other", "modelRef is immutable", id="model-ref"
        ),
    ],
)
def test_api_server_enforces_immutability(
    cluster: ControlPlane, namespace: str, obj: dict[str, Any], path: str, value: Any, message: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj))
    result = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(_with(obj, path, value)), check=False
    )
    assert result.returncode != 0
    assert message in result.stderr


def _ready(
    api: KubeTestClient, plural: str, namespace: str | None, name: str, reason: str, generation: int | None = None
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = api.get(plural, namespace, name)
        ready = condition(body, "Ready")
        status = body.get("status") or {}
        want_gen = generation if generation is not None else body["metadata"]["generation"]
        if ready and ready["reason"] == reason and status.get("observedGeneration") == want_gen:
            return body
        return None

    return eventually(probe, timeout=30, what=f"{plural}/{name} Ready reason {reason}")


def test_operator_sets_conditions_and_follows_spec_changes(
    api: KubeTestClient, operator: OperatorProcess, namespace: str
) -> None:
    policy = f"policy-{namespace}"
    api.create("aimodels", namespace, ai_model("fraud", policy=policy))
    body = _ready(api, "aimodels", namespace, "fraud", "TrustPolicyNotFound", generation=1)
    assert condition(body, "Ready")["status"] == "False"
    assert condition(body, "Verified")["observedGeneration"] == 1

    # the policy appears: the model is re-evaluated at once (its file:// source is outside the operator's roots)
    api.create("trustpolicies", None, trust_policy(policy))
    body = _ready(api, "aimodels", namespace, "fraud", "SourceNotAllowed", generation=1)
    assert condition(body, "Verified")["status"] == "False"
    assert "outside the operator's allowed file roots" in condition(body, "Verified")["message"]

    api.patch("aimodels", namespace, "fraud", {"spec": {"card": {"owner": "risk-ml@example.com"}}})
    body = _ready(api, "aimodels", namespace, "fraud", "SourceNotAllowed", generation=2)
    assert condition(body, "Ready")["observedGeneration"] == 2
    assert body["status"]["attempt"]["generation"] == 2
    api.delete("trustpolicies", None, policy)


def test_deployment_waits_for_its_model(api: KubeTestClient, operator: OperatorProcess, namespace: str) -> None:
    api.create("aideployments", namespace, ai_deployment("scorer", "fraud"))
    body = _ready(api, "aideployments", namespace, "scorer", "ModelNotFound")
    assert condition(body, "ModelVerified")["status"] == "False"

    api.create("aimodels", namespace, ai_model("fraud", policy="absent-policy"))
    body = _ready(api, "aideployments", namespace, "scorer", "ModelNotVerified")
    assert "TrustPolicyNotFound" in condition(body, "Ready")["message"]


def test_operator_survives_api_server_restart(
    cluster: ControlPlane, api: KubeTestClient, operator: OperatorProcess, namespace: str
) -> None:
    api.create("aimodels", namespace, ai_model("before", policy="absent"))
    _ready(api, "aimodels", namespace, "before", "TrustPolicyNotFound")

    cluster.stop_apiserver()
    cluster.start_apiserver()
    assert operator.alive()

    api.create("aimodels", namespace, ai_model("after", policy="absent"))
    body = _ready(api, "aimodels", namespace, "after", "TrustPolicyNotFound")
    assert body["status"]["observedGeneration"] == 1
