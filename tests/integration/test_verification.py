"""Verify before rollout, on the real control plane, with real files, a real HTTPS server, a real OCI
registry and real keys (issue 3). Every bad input ends in a precise reason, no Verified status and
no Deployment."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelguard.adapters.model_file_server import server
from tests.harness.client import KubeTestClient, condition, eventually, gone, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.init_containers import run_init_command, shipped_material
from tests.harness.models import KeyPair, flip_byte, truncate
from tests.harness.operator import OperatorProcess
from tests.harness.publish import KEY_ID, model, policy, publish, push_to_registry
from tests.harness.samples import ai_deployment
from tests.harness.servers import HttpsFileServer, Registry

pytestmark = pytest.mark.timeout(240)

KEY = KeyPair.generate()
OTHER = KeyPair.generate()


def _wait_verified(
    api: KubeTestClient, ns: str, name: str, status: str, reason: str | None = None, timeout: float = 45
) -> dict[str, Any]:
    return wait_for_condition(api, "aimodels", ns, name, "Verified", status, reason, timeout, current_generation=True)


def _wait_deployment(
    api: KubeTestClient, ns: str, name: str, cond_type: str, status: str, reason: str | None = None, timeout: float = 45
) -> dict[str, Any]:
    return wait_for_condition(api, "aideployments", ns, name, cond_type, status, reason, timeout)


def _deployments(api: KubeTestClient, ns: str) -> list[Any]:
    return list(api.apps.list_namespaced_deployment(ns).items)


@pytest.fixture
def trust(
    api: KubeTestClient, namespace: str, models_root: Path, https_files: HttpsFileServer, registry: Registry
) -> str:
    name = f"p-{namespace}"
    api.create(
        "trustpolicies",
        None,
        policy(name, namespace, KEY, [f"file://{models_root}/", f"{https_files.url}/", f"oci://{registry.host}/"]),
    )
    yield name
    api.delete("trustpolicies", None, name)


def test_signed_model_verifies_and_rolls_out_pinned_to_its_digest(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str
) -> None:
    pub = publish(models_root, namespace, "fraud", KEY)
    api.create("aimodels", namespace, model("fraud", pub.source, pub.bundle, trust))
    body = _wait_verified(api, namespace, "fraud", "True", "SignatureValid")
    verified = body["status"]["verified"]
    assert verified["signer"] == KEY_ID
    assert verified["files"] == 4 and verified["bytes"] == 300_000 + 200_000 + 512 + 4096
    assert verified["digest"].startswith("sha256:") and verified["source"] == pub.source
    assert condition(body, "Ready")["status"] == "True"

    def events() -> list[str]:
        items = api.core.list_namespaced_event(namespace, field_selector="involvedObject.name=fraud").items
        return [f"{e.type}/{e.reason}" for e in items]

    eventually(lambda: "Normal/SignatureValid" in events(), what="the Verified event")  # Events come after status
    assert [e for e in events() if e.startswith("Warning/")] == []  # a verified model warns about nothing

    api.create("aideployments", namespace, ai_deployment("scorer", "fraud", replicas=2))
    dep = _wait_deployment(api, namespace, "scorer", "ModelVerified", "True")
    assert dep["status"]["servedDigest"] == verified["digest"]
    assert dep["status"]["endpoint"] == f"http://scorer.{namespace}.svc"  # what clients call, and a column
    assert dep["status"]["replicas"] == 2
    assert set(dep["status"]["children"]) >= {"Deployment/scorer", "Service/scorer"}
    (material,) = [c for c in dep["status"]["children"] if c.startswith("ConfigMap/scorer-verify-")]
    assert api.core.read_namespaced_config_map(material.split("/")[1], namespace).immutable is True
    deployment = api.apps.read_namespaced_deployment("scorer", namespace)
    assert deployment.metadata.annotations["modelguard.io/model-digest"] == verified["digest"]
    init = deployment.spec.template.spec.init_containers[0]
    assert init.args[init.args.index("--expect-digest") + 1] == verified["digest"]
    assert init.image.startswith("ghcr.io/modelguard/operator@sha256:")
    pod = deployment.spec.template.spec
    assert pod.automount_service_account_token is False
    assert pod.security_context.run_as_non_root is True
    server = pod.containers[0].security_context
    assert server.read_only_root_filesystem and not server.allow_privilege_escalation
    assert server.capabilities.drop == ["ALL"]
    assert deployment.metadata.owner_references[0].kind == "AIDeployment"
    # kwok schedules the pods and marks them Ready: the AIDeployment becomes Available and Ready
    _wait_deployment(api, namespace, "scorer", "Ready", "True", "Serving", timeout=60)


def test_a_record_the_previous_release_stored_is_upgraded_and_its_deployment_keeps_serving(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str
) -> None:
    """Issue 28: the record became typed (verifiedBy, signatureRef with the digest of the signature bytes). A
    status the previous release stored (a location string, no signatureRef) is accepted by the CRD, understood
    by the operator (which verifies the model once more to learn the digest of the signature bytes), and the
    deployment keeps serving from the very same verification ConfigMap."""
    pub = publish(models_root, namespace, "legacy", KEY)
    api.create("aimodels", namespace, model("legacy", pub.source, pub.bundle, trust))
    verified = _wait_verified(api, namespace, "legacy", "True", "SignatureValid")["status"]["verified"]
    signature_digest = "sha256:" + hashlib.sha256(pub.signature.read_bytes()).hexdigest()
    assert verified["signatureRef"] == {"format": "model-signing", "bundleUri": pub.bundle, "digest": signature_digest}
    assert verified["verifiedBy"] == {"method": "key", "trusted": KEY_ID} and "signature" not in verified
    api.create("aideployments", namespace, ai_deployment("svc", "legacy"))
    before = _wait_deployment(api, namespace, "svc", "ModelVerified", "True")["status"]["children"]

    legacy = {"signatureRef": None, "signature": pub.bundle, "at": "2026-01-01T00:00:00Z"}  # as that release wrote it
    api.custom.patch_namespaced_custom_object_status(
        "modelguard.io", "v1alpha1", namespace, "aimodels", "legacy", {"status": {"verified": legacy}}
    )

    def upgraded() -> dict[str, Any] | None:
        record = api.get("aimodels", namespace, "legacy")["status"]["verified"]
        return record if record.get("signatureRef") and record["at"] != legacy["at"] else None

    record = eventually(upgraded, timeout=45, what="the record verified again")
    assert record["signatureRef"]["digest"] == signature_digest and record["digest"] == verified["digest"]
    dep = _wait_deployment(api, namespace, "svc", "ModelVerified", "True")
    assert dep["status"]["servedDigest"] == verified["digest"]
    assert dep["status"]["children"] == before  # the same verification ConfigMap: nothing rolled
    assert condition(dep, "Quarantined")["status"] == "False"


def _strip_hint_and_resign_with(other: KeyPair) -> Callable[[bytes], bytes]:
    def mangle(bundle: bytes) -> bytes:
        from modelguard.domain import crypto

        doc = json.loads(bundle)
        payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
        key = crypto.load_private_key(other.private_pem)
        doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(crypto.sign_dsse(key, payload)).decode()
        return json.dumps(doc).encode()

    return mangle


def _traversal_bundle(name: str) -> Callable[[bytes], bytes]:
    def mangle(_: bytes) -> bytes:
        from modelguard.domain.statement import DEFAULT_IGNORES, Resource, Serialization
        from tests.harness.models import sign_resources

        return sign_resources(
            "m", Serialization("files", None, False, DEFAULT_IGNORES), {name: Resource(name, "0" * 64)}, KEY
        )

    return mangle


BAD_INPUTS = [
    pytest.param(
        {"tamper": lambda m: flip_byte(m / "weights/model-00001.safetensors", 4242)},
        "DigestMismatch",
        id="flipped-byte",
    ),
    pytest.param({"tamper": lambda m: (m / "config.json").unlink()}, "MissingFile", id="missing-file"),
    pytest.param(
        {"tamper": lambda m: (m / "weights/extra.bin").write_bytes(b"x")}, "UnsignedFile", id="extra-unsigned-file"
    ),
    pytest.param({"tamper": lambda m: truncate(m / "tokenizer.json", 10)}, "DigestMismatch", id="truncated-file"),
    pytest.param({"mangle": _strip_hint_and_resign_with(OTHER)}, "SignatureInvalid", id="wrong-key"),
    pytest.param({"mangle": lambda b: b[: len(b) // 3]}, "MalformedSignature", id="truncated-bundle"),
    pytest.param({"mangle": lambda b: b"<html>not a bundle</html>"}, "MalformedSignature", id="malformed-bundle"),
    pytest.param({"mangle": _traversal_bundle("../../etc/passwd")}, "UnsafePath", id="path-traversal"),
    pytest.param({"mangle": _traversal_bundle("/etc/passwd")}, "UnsafePath", id="absolute-path"),
    pytest.param(
        {"tamper": lambda m: os.symlink("/etc/passwd", m / "weights/escape.bin")},
        "SymlinkNotAllowed",
        id="symlink-escape",
    ),
]


@pytest.mark.parametrize(("variant", "reason"), BAD_INPUTS)
def test_bad_input_is_refused_with_reason_and_never_deployed(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    trust: str,
    variant: dict[str, Any],
    reason: str,
) -> None:
    pub = publish(models_root, namespace, "bad", KEY, **variant)
    # the deployment first: once the model is rejected, admission refuses new deployments of it
    api.create("aideployments", namespace, ai_deployment("bad-serving", "bad"))
    api.create("aimodels", namespace, model("bad", pub.source, pub.bundle, trust))
    body = _wait_verified(api, namespace, "bad", "False")
    assert condition(body, "Verified")["reason"] == reason
    assert "verified" not in body["status"]
    assert "nextScan" not in body["status"]  # nothing trusted or served: nothing to scan on a schedule
    # kstatus: terminal for this generation, so Flux and `kubectl wait --for=condition=Stalled` end now
    assert (condition(body, "Stalled")["status"], condition(body, "Stalled")["reason"]) == ("True", reason)
    assert condition(body, "Reconciling")["status"] == "False"
    dep = _wait_deployment(api, namespace, "bad-serving", "Ready", "False", "ModelNotVerified")
    assert reason in condition(dep, "Ready")["message"]
    assert _deployments(api, namespace) == []
    assert (condition(dep, "Stalled")["status"], condition(dep, "Stalled")["reason"]) == ("True", "ModelNotVerified")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"revokedKeys": [KEY_ID]}, "KeyRevoked", id="revoked"),
        pytest.param(
            {"keys": [{"id": KEY_ID, "publicKey": KEY.public_pem.decode(), "notAfter": "2026-01-01T00:00:00Z"}]},
            "KeyExpired",
            id="expired",
        ),
    ],
)
def test_revoked_or_expired_key_is_refused(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    trust: str,
    change: dict[str, Any],
    reason: str,
) -> None:
    api.patch("trustpolicies", None, trust, {"spec": change})
    pub = publish(models_root, namespace, "old", KEY)
    api.create("aideployments", namespace, ai_deployment("old-serving", "old"))
    api.create("aimodels", namespace, model("old", pub.source, pub.bundle, trust))
    body = _wait_verified(api, namespace, "old", "False", reason)
    assert "verified" not in body["status"]
    _wait_deployment(api, namespace, "old-serving", "Ready", "False", "ModelNotVerified")
    assert _deployments(api, namespace) == []


def test_revoking_the_signer_quarantines_a_running_deployment(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str
) -> None:
    pub = publish(models_root, namespace, "live", KEY)
    api.create("aimodels", namespace, model("live", pub.source, pub.bundle, trust))
    api.create("aideployments", namespace, ai_deployment("live-serving", "live", replicas=2))
    _wait_deployment(api, namespace, "live-serving", "ModelVerified", "True")
    api.patch("trustpolicies", None, trust, {"spec": {"revokedKeys": [KEY_ID]}})
    body = _wait_verified(api, namespace, "live", "False", "KeyRevoked")
    assert "verified" not in body["status"]
    dep = _wait_deployment(api, namespace, "live-serving", "Quarantined", "True", "ModelNotVerified")
    assert condition(dep, "Ready")["status"] == "False"
    assert api.apps.read_namespaced_deployment("live-serving", namespace).spec.replicas == 0


def test_failing_new_version_keeps_serving_the_last_verified_digest(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str
) -> None:
    v1 = publish(models_root, namespace, "v1", KEY)
    api.create("aimodels", namespace, model("scorer-model", v1.source, v1.bundle, trust))
    api.create("aideployments", namespace, ai_deployment("svc", "scorer-model"))
    first = _wait_deployment(api, namespace, "svc", "ModelVerified", "True")["status"]["servedDigest"]
    v2 = publish(models_root, namespace, "v2", KEY, tamper=lambda m: flip_byte(m / "config.json", 1))
    api.patch(
        "aimodels",
        namespace,
        "scorer-model",
        {"spec": {"source": {"uri": v2.source}, "signature": {"bundleUri": v2.bundle}}},
    )
    body = _wait_verified(api, namespace, "scorer-model", "False", "DigestMismatch")
    assert body["status"]["verified"]["digest"] == first  # the last verified digest stays trusted
    dep = _wait_deployment(api, namespace, "svc", "ModelVerified", "False", "ServingLastVerified")
    assert condition(dep, "Quarantined")["status"] == "False"
    deployment = api.apps.read_namespaced_deployment("svc", namespace)
    assert deployment.metadata.annotations["modelguard.io/model-digest"] == first
    assert deployment.spec.replicas == 1
    # new pods of v1 get v1's signature (issue 15: they got v2's, beside v1's --expect-digest, and failed)
    shipped = _verification(api, namespace, "svc")
    assert gzip.decompress(base64.b64decode(shipped.binary_data["signature"])) == v1.signature.read_bytes()

    # a good new version rolls out with its own verification material; the old ConfigMap goes
    v3 = publish(models_root, namespace, "version-3", KEY)  # other bytes (the name seeds the content)
    api.patch(
        "aimodels",
        namespace,
        "scorer-model",
        {"spec": {"source": {"uri": v3.source}, "signature": {"bundleUri": v3.bundle}}},
    )
    eventually(lambda: api.get("aideployments", namespace, "svc")["status"].get("servedDigest") not in (None, first))
    eventually(lambda: _verification(api, namespace, "svc").metadata.name != shipped.metadata.name)
    assert (
        gzip.decompress(base64.b64decode(_verification(api, namespace, "svc").binary_data["signature"]))
        == v3.signature.read_bytes()
    )
    eventually(
        lambda: gone(lambda: api.core.read_namespaced_config_map(shipped.metadata.name, namespace)),
        what="the old verification ConfigMap gone",
    )


def _verification(api: KubeTestClient, namespace: str, name: str) -> Any:
    """The verification ConfigMap the AIDeployment's pods mount."""
    pod = api.apps.read_namespaced_deployment(name, namespace).spec.template.spec
    (volume,) = [v for v in pod.volumes if v.name == "verify"]
    return api.core.read_namespaced_config_map(volume.config_map.name, namespace)


def test_https_directory_source(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    trust: str,
    https_files: HttpsFileServer,
    models_root: Path,
) -> None:
    pub = publish(models_root, namespace, "web", KEY)
    shutil.copytree(pub.model, https_files.root / namespace / "web")
    shutil.copy(pub.signature, https_files.root / namespace / "web.sig")
    base = f"{https_files.url}/{namespace}"
    api.create("aimodels", namespace, model("web", f"{base}/web", f"{base}/web.sig", trust))
    body = _wait_verified(api, namespace, "web", "True", "SignatureValid")
    assert body["status"]["verified"]["bytes"] == 504_608


def test_unreachable_source_is_retried_and_recovers(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    trust: str,
    https_files: HttpsFileServer,
    models_root: Path,
) -> None:
    base = f"{https_files.url}/{namespace}"
    api.create("aimodels", namespace, model("late", f"{base}/late", f"{base}/late.sig", trust))
    body = _wait_verified(api, namespace, "late", "False", "SourceNotFound")
    assert "retrying with backoff" in condition(body, "Verified")["message"]
    assert condition(body, "Reconciling")["status"] == "True"  # kstatus: in progress, not failed
    assert condition(body, "Stalled")["status"] == "False"
    assert "attempt" not in body["status"]  # transient: not recorded as a verdict
    pub = publish(models_root, namespace, "late", KEY)
    shutil.copytree(pub.model, https_files.root / namespace / "late")
    shutil.copy(pub.signature, https_files.root / namespace / "late.sig")
    _wait_verified(api, namespace, "late", "True", "SignatureValid", timeout=60)


def test_closed_port_reports_unreachable(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, https_files: HttpsFileServer
) -> None:
    from tests.harness.controlplane import free_port

    closed = f"p2-{namespace}"
    api.create("trustpolicies", None, policy(closed, namespace, KEY, ["https://127.0.0.1:"]))
    url = f"https://127.0.0.1:{free_port()}/m"
    api.create("aimodels", namespace, model("gone", url, url + ".sig", closed))
    body = _wait_verified(api, namespace, "gone", "False", "SourceUnreachable")
    assert "ConnectionRefusedError" in condition(body, "Verified")["message"]


def test_oci_source_needs_credentials_from_own_namespace(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    trust: str,
    registry: Registry,
    models_root: Path,
    tmp_path: Path,
) -> None:
    pub = publish(models_root, namespace, "oci-model", KEY)
    source, bundle = push_to_registry(registry, pub, f"models/{namespace}")
    api.create("aimodels", namespace, model("oci-model", source, bundle, trust))
    body = _wait_verified(api, namespace, "oci-model", "False", "SourceUnauthorized")
    assert registry.password not in json.dumps(body)

    api.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "registry-creds"},
            "stringData": {"username": registry.username, "password": registry.password},
        },
    )
    api.patch(
        "aimodels", namespace, "oci-model", {"spec": {"source": {"credentialsSecretRef": {"name": "registry-creds"}}}}
    )
    body = _wait_verified(api, namespace, "oci-model", "True", "SignatureValid")
    assert body["status"]["verified"]["files"] == 4
    assert registry.password not in json.dumps(body)
    events = api.core.list_namespaced_event(namespace).items
    assert all(registry.password not in (e.message or "") for e in events)


def test_registry_serving_a_different_manifest_is_refused(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    trust: str,
    https_files: HttpsFileServer,
    models_root: Path,
) -> None:
    pinned = "sha256:" + "1" * 64
    manifest_dir = https_files.root / "v2" / namespace / "evil" / "manifests"
    manifest_dir.mkdir(parents=True)
    (manifest_dir / pinned).write_text(json.dumps({"schemaVersion": 2, "layers": []}))
    pub = publish(models_root, namespace, "evil", KEY)
    api.patch(
        "trustpolicies",
        None,
        trust,
        {"spec": {"allowedSources": [f"oci://127.0.0.1:{https_files.port}/", f"file://{models_root}/"]}},
    )
    source = f"oci://127.0.0.1:{https_files.port}/{namespace}/evil@{pinned}"
    # created right after the policy change: admission must not deny on a watch cache that has not seen it yet
    # (failed once in make test; a denial is now decided on the API's copy of the policy)
    api.create("aimodels", namespace, model("evil", source, pub.bundle, trust))
    body = _wait_verified(api, namespace, "evil", "False", "ManifestDigestMismatch")
    assert pinned in condition(body, "Verified")["message"]


def test_admission_rejects_what_the_schema_cannot(
    cluster: ControlPlane, api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, models_root: Path
) -> None:
    def apply(obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)

    outside = apply(model("outside", "https://models.example.com/m", "https://models.example.com/m.sig", trust))
    assert outside.returncode != 0 and "is not under an allowed source" in outside.stderr
    creds = apply(model("creds", f"file://{models_root}/x", "https://user:hunter2@example.com/m.sig", trust))
    assert creds.returncode != 0 and "must not carry credentials" in creds.stderr

    pub = publish(models_root, namespace, "rejected", KEY, tamper=lambda m: flip_byte(m / "config.json", 2))
    assert apply(model("rejected", pub.source, pub.bundle, trust)).returncode == 0
    _wait_verified(api, namespace, "rejected", "False", "DigestMismatch")
    refused = apply(ai_deployment("uses-rejected", "rejected"))
    assert refused.returncode != 0
    assert "AIModel 'rejected' was rejected (DigestMismatch)" in refused.stderr
    hooks = json.loads(cluster.kubectl("get", "validatingwebhookconfigurations", "-o", "json").stdout)["items"]
    ours = [w for h in hooks if h["metadata"]["name"].startswith("modelguard-test") for w in h["webhooks"]]
    assert ours and all(w["timeoutSeconds"] <= 5 for w in ours)
    enforce = [w for w in ours if w["name"].startswith("aimodels-enforce")]
    assert enforce[0]["failurePolicy"] == "Fail"
    assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["modelguard-system"]} in enforce[0][
        "namespaceSelector"
    ]["matchExpressions"]


def test_init_container_command_verifies_intact_and_refuses_tampered(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str, tmp_path: Path
) -> None:
    """Containers do not run under kwok: run the pods' exact commands here instead. The model cache's init
    container fetches from the source and verifies; `serve-model` serves what it fetched (on loopback here);
    the model server's init container fetches from it and verifies again (ADR 0012)."""

    pub = publish(models_root, namespace, "pod-model", KEY)
    api.create("aimodels", namespace, model("pod-model", pub.source, pub.bundle, trust))
    api.create("aideployments", namespace, ai_deployment("pod", "pod-model"))
    _wait_deployment(api, namespace, "pod", "ModelVerified", "True")
    server_pod = api.apps.read_namespaced_deployment("pod", namespace).spec.template.spec
    cache_pod = api.apps.read_namespaced_deployment("pod-model-cache", namespace).spec.template.spec
    verify_dir = tmp_path / "verify"
    shipped_material(api, namespace, server_pod, verify_dir)  # signer.pem, digest, ca.crt (--ca-bundle)
    cached, served = tmp_path / "cache", tmp_path / "models"
    fetch_args = list(cache_pod.init_containers[0].args)
    assert "--via" not in fetch_args  # the cache fetches from the source
    ok = run_init_command(fetch_args, verify_dir, cached, models_root)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("verified sha256:")
    assert f" signer={KEY_ID} " in ok.stdout  # the TrustPolicy's name for the key, not the file's
    httpd = server(cached, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        load_args = list(server_pod.init_containers[0].args)
        via = {load_args[load_args.index("--via") + 1]: f"http://127.0.0.1:{httpd.server_address[1]}"}

        def load() -> subprocess.CompletedProcess[str]:
            return run_init_command(load_args, verify_dir, served, models_root, via, mount="/models")

        ok = load()
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith("verified sha256:")
        assert (served / "weights/model-00002.safetensors").read_bytes() == (
            pub.model / "weights/model-00002.safetensors"
        ).read_bytes()
        flip_byte(cached / "weights/model-00002.safetensors", 77)  # the cache serves other bytes
        bad = load()
        assert bad.returncode == 1
        assert bad.stdout.startswith("not verified: DigestMismatch")
    finally:
        httpd.shutdown()
        httpd.server_close()
    flip_byte(pub.model / "weights/model-00002.safetensors", 77)  # the source serves other bytes
    bad = run_init_command(fetch_args, verify_dir, cached, models_root)
    assert bad.returncode == 1
    assert bad.stdout.startswith("not verified: DigestMismatch")


def test_policy_keys_from_a_secret_in_the_operator_namespace(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    from tests.harness.operator import OPERATOR_NAMESPACE

    secret = f"keys-{namespace}"[:63]
    api.core.create_namespaced_secret(
        OPERATOR_NAMESPACE, {"metadata": {"name": secret}, "stringData": {"publisher.pem": KEY.public_pem.decode()}}
    )
    name = f"ps-{namespace}"
    body = policy(name, namespace, KEY, [f"file://{models_root}/"])
    body["spec"]["keys"] = [
        {"id": KEY_ID, "secretRef": {"name": secret, "key": "publisher.pem"}},
        {"id": "broken", "publicKey": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
    ]
    api.create("trustpolicies", None, body)
    try:
        tp = eventually(
            lambda: (b := api.get("trustpolicies", None, name)) and condition(b, "Ready") and b,
            what="TrustPolicy status",
        )
        ready = condition(tp, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "InvalidKey")
        assert "broken" in ready["message"] and "BEGIN" not in ready["message"]
        pub = publish(models_root, namespace, "from-secret", KEY)
        api.create("aimodels", namespace, model("from-secret", pub.source, pub.bundle, name))
        verified = _wait_verified(api, namespace, "from-secret", "True", "SignatureValid")
        assert verified["status"]["verified"]["signer"] == KEY_ID
    finally:
        api.delete("trustpolicies", None, name)
        api.core.delete_namespaced_secret(secret, OPERATOR_NAMESPACE)


def test_missing_documentation_holds_the_rollout(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, trust: str
) -> None:
    api.patch("trustpolicies", None, trust, {"spec": {"requirements": {"cardFields": ["license", "limitations"]}}})
    pub = publish(models_root, namespace, "undocumented", KEY)
    eventually(lambda: api.get("trustpolicies", None, trust)["metadata"]["generation"] == 2, what="policy update")
    api.create("aideployments", namespace, ai_deployment("undocumented-serving", "undocumented"))
    api.create("aimodels", namespace, model("undocumented", pub.source, pub.bundle, trust))
    body = _wait_verified(api, namespace, "undocumented", "True")
    documented = condition(body, "Documented")
    assert documented["reason"] == "MissingDocumentation" and "license, limitations" in documented["message"]
    assert condition(body, "Ready")["status"] == "False"
    _wait_deployment(api, namespace, "undocumented-serving", "Ready", "False", "MissingDocumentation")
    assert _deployments(api, namespace) == []


def test_operator_namespace_is_excluded_from_admission(
    cluster: ControlPlane, operator: OperatorProcess, trust: str
) -> None:
    from tests.harness.operator import OPERATOR_NAMESPACE

    obj = model("outside-excluded", "https://models.example.com/m", "https://models.example.com/m.sig", trust)
    result = cluster.kubectl("apply", "-n", OPERATOR_NAMESPACE, "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode == 0, result.stderr  # the webhook is not consulted there (no self-lockout)
    cluster.kubectl("delete", "aimodel", "outside-excluded", "-n", OPERATOR_NAMESPACE)


def test_policy_that_starts_to_apply_verifies_the_model(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """A verdict from the cheap policy checks is not cached as a verification: when the namespace gains the
    label the policy selects, the model is verified (found by the peering test: caches fill in any order), and
    the operator's own finalizer update is not refused by its admission policy on an unchanged spec."""
    name = f"pl-{namespace}"
    body = policy(name, namespace, KEY, [f"file://{models_root}/"])
    body["spec"]["namespaceSelector"] = {"matchLabels": {"modelguard.io/trust": name[:63]}}
    body["spec"]["mode"] = "Warn"  # admission warns instead of refusing; verification still refuses
    api.create("trustpolicies", None, body)
    pub = publish(models_root, namespace, "late-label", KEY)
    api.create("aimodels", namespace, model("late-label", pub.source, pub.bundle, name))
    _wait_verified(api, namespace, "late-label", "False", "PolicyNotApplicable")
    api.core.patch_namespace(namespace, {"metadata": {"labels": {"modelguard.io/trust": name[:63]}}})
    _wait_verified(api, namespace, "late-label", "True", "SignatureValid")
    api.delete("trustpolicies", None, name)
