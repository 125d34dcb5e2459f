"""Secure decommissioning at end of life (issue 6): the real control plane, the real registry, real keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from tests.harness.client import KubeTestClient, condition, eventually, gone, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OPERATOR_NAMESPACE, OperatorProcess
from tests.harness.publish import model, policy, publish, push_to_registry
from tests.harness.samples import ai_deployment
from tests.harness.servers import Registry

pytestmark = pytest.mark.timeout(300)
KEY = KeyPair.generate()


@pytest.fixture
def trust(api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, registry: Registry) -> str:
    name = f"p-{namespace}"
    api.create(
        "trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/", f"oci://{registry.host}/"])
    )
    yield name
    api.delete("trustpolicies", None, name)


def certificates(api: KubeTestClient, uid: str) -> list[dict[str, Any]]:
    items = api.custom.list_cluster_custom_object(
        "modelguard.io", "v1alpha1", "decommissioncertificates", label_selector=f"modelguard.io/model-uid={uid}"
    )["items"]
    return list(items)


def data_objects(api: KubeTestClient, ns: str) -> None:
    api.core.create_namespaced_secret(ns, {"metadata": {"name": "fraud-dek"}, "stringData": {"key": "k" * 32}})
    api.core.create_namespaced_config_map(ns, {"metadata": {"name": "feature-stats"}, "data": {"mean": "0.3"}})
    api.core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "train-cache"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )


END_OF_LIFE = {
    "dataRefs": [
        {"kind": "PersistentVolumeClaim", "name": "train-cache"},
        {"kind": "ConfigMap", "name": "feature-stats"},
    ],
    "encryptionKeys": [{"name": "fraud-dek"}],
    "deleteArtifacts": True,
}


def oci_model(
    api: KubeTestClient, registry: Registry, models_root: Path, ns: str, trust: str, name: str = "m", **spec: Any
) -> tuple[str, str]:
    pub = publish(models_root, ns, name, KEY)
    source, bundle = push_to_registry(registry, pub, f"models/{ns}/{name}")
    if gone(lambda: api.core.read_namespaced_secret("registry-creds", ns)):
        api.core.create_namespaced_secret(
            ns,
            {
                "metadata": {"name": "registry-creds"},
                "stringData": {"username": registry.username, "password": registry.password},
            },
        )
    body = model(name, source, bundle, trust, **spec)
    body["spec"]["source"]["credentialsSecretRef"] = {"name": "registry-creds"}
    api.create("aimodels", ns, body)
    return source.removeprefix(f"oci://{registry.host}/"), bundle.removeprefix(f"oci://{registry.host}/")


def test_full_decommission_leaves_nothing_and_one_valid_certificate(
    cluster: ControlPlane,
    api: KubeTestClient,
    namespace: str,
    trust: str,
    registry: Registry,
    models_root: Path,
    tmp_path: Path,
) -> None:
    data_objects(api, namespace)
    model_ref, sig_ref = oci_model(api, registry, models_root, namespace, trust, endOfLife=END_OF_LIFE)
    api.create("aideployments", namespace, ai_deployment("m-svc", "m", replicas=2))
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Ready", "True", timeout=60)
    uid = api.get("aimodels", namespace, "m")["metadata"]["uid"]
    assert "modelguard.io/decommission" in api.get("aimodels", namespace, "m")["metadata"]["finalizers"]

    api.delete("aimodels", namespace, "m")
    eventually(lambda: gone(lambda: api.get("aimodels", namespace, "m")), timeout=90, what="AIModel gone")

    for read in (
        lambda: api.get("aideployments", namespace, "m-svc"),
        lambda: api.apps.read_namespaced_deployment("m-svc", namespace),
        lambda: api.core.read_namespaced_service("m-svc", namespace),
        lambda: api.core.read_namespaced_config_map("m-svc-gateway", namespace),
        lambda: api.core.read_namespaced_secret("fraud-dek", namespace),
        lambda: api.core.read_namespaced_config_map("feature-stats", namespace),
    ):
        assert gone(read)
    eventually(
        lambda: gone(lambda: api.core.read_namespaced_persistent_volume_claim("train-cache", namespace)),
        what="PVC gone",
    )
    repo, digest = model_ref.split("@")
    assert not registry.manifest_exists(repo, digest)
    repo, digest = sig_ref.split("@")
    assert not registry.manifest_exists(repo, digest)

    (cert,) = certificates(api, uid)
    spec = cert["spec"]
    assert spec["trigger"] == "Deletion" and spec["requester"]["username"] == "admin"
    requests = api.core.read_namespaced_config_map("modelguard-decommission-requests", OPERATOR_NAMESPACE)
    assert uid not in (requests.data or {})  # the requester lives on in the certificate only
    assert "system:masters" in spec["requester"]["groups"]
    assert spec["model"]["uid"] == uid and spec["model"]["digest"].startswith("sha256:")
    done = {(a["kind"], a["method"]) for a in spec["actions"]}
    assert {
        ("OCIManifest", "RegistryDelete"),
        ("Secret", "CryptoShred"),
        ("PersistentVolumeClaim", "Delete"),
        ("ConfigMap", "Delete"),
        ("AIDeployment", "Delete"),
    } <= done
    assert spec["keysDestroyed"] == [f"{namespace}/fraud-dek"]
    assert "k" * 32 not in json.dumps(cert) and registry.password not in json.dumps(cert)

    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    cli = [sys.executable, "-m", "modelguard.cli.main", "certificate", "verify"]
    ok = subprocess.run(
        [*cli, "--name", cert["metadata"]["name"]], env=env, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"valid: {namespace}/m (Deletion, requested by admin")
    tampered = dict(cert)
    tampered["spec"] = {**spec, "actions": [a for a in spec["actions"] if a["kind"] != "PersistentVolumeClaim"]}
    path = tmp_path / "tampered.yaml"
    path.write_text(yaml.safe_dump(tampered))
    bad = subprocess.run([*cli, str(path)], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "altered" in bad.stdout
    with pytest.raises(ApiException) as err:
        api.custom.patch_cluster_custom_object(
            "modelguard.io",
            "v1alpha1",
            "decommissioncertificates",
            cert["metadata"]["name"],
            {"spec": {"trigger": "Retire"}},
        )
    assert "immutable" in str(err.value.body)


def test_legal_hold_blocks_every_deletion(api: KubeTestClient, namespace: str, trust: str, models_root: Path) -> None:
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "fraud-dek"}, "stringData": {"k": "v"}})
    pub = publish(models_root, namespace, "held", KEY)
    api.create(
        "aimodels",
        namespace,
        model(
            "held",
            pub.source,
            pub.bundle,
            trust,
            endOfLife={"legalHold": True, "encryptionKeys": [{"name": "fraud-dek"}]},
        ),
    )
    wait_for_condition(api, "aimodels", namespace, "held", "Verified", "True")
    uid = api.get("aimodels", namespace, "held")["metadata"]["uid"]
    api.delete("aimodels", namespace, "held")
    body = wait_for_condition(api, "aimodels", namespace, "held", "Decommissioned", "False", "LegalHold")
    assert body["metadata"]["deletionTimestamp"]
    assert not gone(lambda: api.core.read_namespaced_secret("fraud-dek", namespace))
    assert certificates(api, uid) == []
    api.patch("aimodels", namespace, "held", {"spec": {"endOfLife": {"legalHold": False}}})
    eventually(lambda: gone(lambda: api.get("aimodels", namespace, "held")), timeout=60, what="released")
    assert gone(lambda: api.core.read_namespaced_secret("fraud-dek", namespace))
    assert len(certificates(api, uid)) == 1


def test_data_the_requester_may_not_delete_is_refused(
    cluster: ControlPlane, api: KubeTestClient, namespace: str, trust: str, models_root: Path
) -> None:
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "customer-pii"}, "stringData": {"k": "v"}})
    grant(cluster, namespace, "alice", ["aimodels"])
    pub = publish(models_root, namespace, "m", KEY)
    api.create(
        "aimodels",
        namespace,
        model("m", pub.source, pub.bundle, trust, endOfLife={"dataRefs": [{"kind": "Secret", "name": "customer-pii"}]}),
    )
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    deleted = cluster.kubectl("delete", "aimodel", "m", "-n", namespace, "--as", "alice", "--wait=false")
    assert "deleted" in deleted.stdout
    body = wait_for_condition(api, "aimodels", namespace, "m", "Decommissioned", "False", "DeleteDataFailed")
    message = condition(body, "Decommissioned")["message"]
    assert "DataDeletionForbidden" in message and "alice may not delete Secret 'customer-pii'" in message
    assert not gone(lambda: api.core.read_namespaced_secret("customer-pii", namespace))
    events = eventually(
        lambda: api.core.list_namespaced_event(namespace, field_selector="reason=DeleteDataFailed").items,
        what="a Warning Event for the failed step",  # issue 14, item 8: the step failed silently
    )
    assert events[0].type == "Warning" and "DataDeletionForbidden" in events[0].message

    api.patch("aimodels", namespace, "m", {"spec": {"endOfLife": {"dataRefs": []}}})  # the owner drops the claim
    eventually(lambda: gone(lambda: api.get("aimodels", namespace, "m")), timeout=60, what="released")
    assert not gone(lambda: api.core.read_namespaced_secret("customer-pii", namespace))


def test_data_references_cannot_leave_the_namespace(
    cluster: ControlPlane, operator: OperatorProcess, namespace: str, trust: str
) -> None:
    obj = model(
        "m",
        "file:///x",
        "file:///x.sig",
        trust,
        endOfLife={"dataRefs": [{"kind": "Secret", "name": "db-password", "namespace": "kube-system"}]},
    )
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.endOfLife.dataRefs[0].namespace"' in result.stderr


def test_retire_decommissions_and_keeps_the_record(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path
) -> None:
    pub = publish(models_root, namespace, "old", KEY)
    api.create("aimodels", namespace, model("old", pub.source, pub.bundle, trust))
    api.create("aideployments", namespace, ai_deployment("old-svc", "old"))
    wait_for_condition(api, "aideployments", namespace, "old-svc", "Ready", "True", timeout=60)
    api.patch("aimodels", namespace, "old", {"spec": {"endOfLife": {"retire": True}}})
    body = wait_for_condition(
        api, "aimodels", namespace, "old", "Decommissioned", "True", "CertificateIssued", timeout=60
    )
    assert condition(body, "Ready")["reason"] == "Decommissioned"
    assert gone(lambda: api.get("aideployments", namespace, "old-svc"))
    (cert,) = certificates(api, body["metadata"]["uid"])
    assert cert["spec"]["trigger"] == "Retire" and cert["spec"]["requester"]["username"] == "admin"
    assert body["status"]["decommission"]["certificate"] == cert["metadata"]["name"]
    api.delete("aimodels", namespace, "old")  # deleting a retired model is immediate: nothing left to do
    eventually(lambda: gone(lambda: api.get("aimodels", namespace, "old")), what="deleted")
    assert len(certificates(api, body["metadata"]["uid"])) == 1


def test_forged_requester_annotation_is_undone(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path
) -> None:
    """The stamp names whoever set the end-of-life policy; the mutating webhook is called only for writes that
    can change it (a CEL match condition, issue 18), and a forged value never survives any of them."""
    set_by = "modelguard.io/end-of-life-set-by"
    forged = json.dumps({"username": "ceo", "groups": []})
    pub = publish(models_root, namespace, "m", KEY)

    def stamp(name: str) -> str | None:
        annotations = api.get("aimodels", namespace, name)["metadata"].get("annotations") or {}
        return annotations.get(set_by)

    api.create("aimodels", namespace, model("plain", pub.source, pub.bundle, trust))
    assert stamp("plain") is None  # no end-of-life policy: nothing to stamp (the webhook was not called)
    api.patch("aimodels", namespace, "plain", {"metadata": {"annotations": {set_by: forged}}})
    assert stamp("plain") == ""  # a forged requester is dropped: nobody set a policy
    api.patch("aimodels", namespace, "plain", {"metadata": {"labels": {"team": "a"}}})
    assert stamp("plain") == ""

    with_policy = model("eol", pub.source, pub.bundle, trust, endOfLife={"legalHold": True})
    api.create("aimodels", namespace, with_policy)
    assert json.loads(stamp("eol") or "{}")["username"] == "admin"
    api.patch("aimodels", namespace, "eol", {"metadata": {"annotations": {set_by: forged}}})
    assert json.loads(stamp("eol") or "{}")["username"] == "admin"  # restored

    forged_at_create = model("forged", pub.source, pub.bundle, trust)
    forged_at_create["metadata"]["annotations"] = {set_by: forged}
    api.create("aimodels", namespace, forged_at_create)
    assert json.loads(stamp("forged") or "{}")["username"] == "admin"  # the creator, never the claimed one


def test_stop_serving_is_done_only_when_no_pod_serves_and_nothing_scales_back_up(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, models_root: Path
) -> None:
    """Issue 28 item 4: StopServing scaled the Deployments to zero itself and recorded `ScaleToZero Done` at
    once; an AIDeployment pass then put the replicas back (and called it drift) and new pods started, while the
    certificate said they were scaled to zero. Now the decommission asks (the model's status says it is being
    decommissioned), the AIDeployment reconcile alone writes replicas, and StopServing is done only when the live
    Deployments have no replicas and no pods; they stay so until they are deleted."""
    operator.restart(["--decommission-step-delay", "3"])
    try:
        pub = publish(models_root, namespace, "race", KEY)
        api.create("aimodels", namespace, model("race", pub.source, pub.bundle, trust))
        api.create("aideployments", namespace, ai_deployment("race-svc", "race", replicas=2))
        wait_for_condition(api, "aideployments", namespace, "race-svc", "Ready", "True", timeout=60)
        uid = api.get("aimodels", namespace, "race")["metadata"]["uid"]
        deployments = ("race-svc", "race-svc-model-cache")
        selectors = {
            d: ",".join(
                f"{k}={v}"
                for k, v in api.apps.read_namespaced_deployment(d, namespace).spec.selector.match_labels.items()
            )
            for d in deployments
        }

        def serving() -> list[str]:
            """What still serves: Deployments with replicas wanted, and pods of them (terminating ones too)."""
            out = []
            for name in deployments:
                try:
                    replicas = api.apps.read_namespaced_deployment(name, namespace).spec.replicas
                except ApiException as exc:
                    assert exc.status == 404
                    replicas = 0
                pods = api.core.list_namespaced_pod(namespace, label_selector=selectors[name]).items
                out += [f"{name}: {replicas} replicas"] if replicas else []
                out += [f"{name}: pod {p.metadata.name}" for p in pods]
            return out

        def stop_serving_done() -> bool:
            body = api.get("aimodels", namespace, "race")
            steps = ((body.get("status") or {}).get("decommission") or {}).get("steps") or []
            return bool(steps) and steps[0]["state"] == "Done"

        api.delete("aimodels", namespace, "race")
        eventually(stop_serving_done, timeout=60, interval=0.05, what="StopServing done")
        assert serving() == []  # done means done in the cluster, when it is recorded
        for _ in range(10):  # the next step waits 3 s: no pass scales anything back up meanwhile
            assert serving() == []
            time.sleep(0.3)
        eventually(lambda: gone(lambda: api.get("aimodels", namespace, "race")), timeout=90, what="race gone")
        (cert,) = certificates(api, uid)
        scaled = [(a["name"], a["result"]) for a in cert["spec"]["actions"] if a["method"] == "ScaleToZero"]
        assert scaled == [(f"{namespace}/{d}", "Done") for d in deployments]
        drift = api.core.list_namespaced_event(namespace, field_selector="reason=DriftReverted").items
        assert [e.message for e in drift if e.involved_object.name == "race-svc"] == []
    finally:
        operator.restart()


STEPS = ("StopServing", "DeleteWorkloads", "DeleteData", "DeleteArtifacts", "DestroyKeys", "ConfirmDeleted")


def test_crash_at_every_step_boundary_resumes_without_duplicates(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, models_root: Path
) -> None:
    operator.restart(["--decommission-step-delay", "0.6"])
    try:
        kills = 0
        for boundary in range(1, len(STEPS) + 1):
            name = f"crash-{boundary}"
            api.core.create_namespaced_secret(
                namespace, {"metadata": {"name": f"{name}-dek"}, "stringData": {"k": "v"}}
            )
            pub = publish(models_root, namespace, name, KEY)
            api.create(
                "aimodels",
                namespace,
                model(name, pub.source, pub.bundle, trust, endOfLife={"encryptionKeys": [{"name": f"{name}-dek"}]}),
            )
            api.create("aideployments", namespace, ai_deployment(f"{name}-svc", name))
            wait_for_condition(api, "aideployments", namespace, f"{name}-svc", "ModelVerified", "True", timeout=60)
            uid = api.get("aimodels", namespace, name)["metadata"]["uid"]
            api.delete("aimodels", namespace, name)

            def reached(n: str = name, k: int = boundary) -> bool:
                steps = ((api.get("aimodels", namespace, n).get("status") or {}).get("decommission") or {}).get(
                    "steps"
                ) or []
                return sum(1 for s in steps if s["state"] == "Done") >= k

            eventually(reached, timeout=60, interval=0.05, what=f"{boundary} step(s) done")
            operator.kill()
            kills += 1
            operator.restart(["--decommission-step-delay", "0.6"])
            eventually(
                lambda n=name: gone(lambda: api.get("aimodels", namespace, n)),
                timeout=90,
                what=f"{name} decommissioned after the crash",
            )
            assert len(certificates(api, uid)) == 1
            assert gone(lambda n=name: api.core.read_namespaced_secret(f"{n}-dek", namespace))
            assert gone(lambda n=name: api.get("aideployments", namespace, f"{n}-svc"))
        assert kills == len(STEPS)
    finally:
        operator.restart()


def test_an_artifact_another_model_uses_or_this_model_never_verified_is_not_deleted(
    cluster: ControlPlane, api: KubeTestClient, namespace: str, trust: str, registry: Registry, models_root: Path
) -> None:
    """Issue 13, class 10: the victim serves a manifest; an attacker in another namespace references the very
    same manifest with deleteArtifacts and deletes their model; another model never verified its artifact."""
    victim_ref, _ = oci_model(api, registry, models_root, namespace, trust)
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    victim = api.get("aimodels", namespace, "m")["spec"]
    attacker_ns = f"{namespace[:50]}-evil"
    cluster.kubectl("create", "namespace", attacker_ns)
    api.create("trustpolicies", None, policy(f"p-{attacker_ns}", attacker_ns, KEY, [f"oci://{registry.host}/"]))
    api.core.create_namespaced_secret(
        attacker_ns,
        {
            "metadata": {"name": "registry-creds"},
            "stringData": {"username": registry.username, "password": registry.password},
        },
    )
    same = model(
        "copy",
        victim["source"]["uri"],
        victim["signature"]["bundleUri"],
        f"p-{attacker_ns}",
        endOfLife={"deleteArtifacts": True},
    )
    same["spec"]["source"]["credentialsSecretRef"] = {"name": "registry-creds"}
    api.create("aimodels", attacker_ns, same)
    wait_for_condition(api, "aimodels", attacker_ns, "copy", "Verified", "True")
    # a model whose signature does not verify (another key), over an artifact nobody else references
    other = KeyPair.generate()
    pub = publish(models_root, attacker_ns, "unverified", other)
    source, bundle = push_to_registry(registry, pub, f"models/{attacker_ns}/unverified")
    unverified = model("unverified", source, bundle, f"p-{attacker_ns}", endOfLife={"deleteArtifacts": True})
    unverified["spec"]["source"]["credentialsSecretRef"] = {"name": "registry-creds"}
    api.create("aimodels", attacker_ns, unverified)
    wait_for_condition(api, "aimodels", attacker_ns, "unverified", "Verified", "False")

    for name in ("copy", "unverified"):
        api.delete("aimodels", attacker_ns, name)
        eventually(lambda n=name: gone(lambda: api.get("aimodels", attacker_ns, n)), timeout=90, what=f"{name} gone")
    repo, digest = victim_ref.split("@")
    assert registry.manifest_exists(repo, digest)  # the victim's model is untouched
    repo, digest = source.removeprefix(f"oci://{registry.host}/").split("@")
    assert registry.manifest_exists(repo, digest)
    assert condition(api.get("aimodels", namespace, "m"), "Verified")["status"] == "True"
    retained = {}
    for cert in api.custom.list_cluster_custom_object("modelguard.io", "v1alpha1", "decommissioncertificates")["items"]:
        if cert["spec"]["model"]["namespace"] == attacker_ns:
            for action in cert["spec"]["actions"]:
                if action["step"] == "DeleteArtifacts":
                    retained[(cert["spec"]["model"]["name"], action["name"])] = (action["result"], action["detail"])
    assert retained[("copy", victim["source"]["uri"])] == ("Retained", "still referenced by 1 other AIModel(s)")
    assert retained[("unverified", source)][0] == "Retained" and "never verified" in retained[("unverified", source)][1]
    assert all(namespace not in detail for _, detail in retained.values())  # the other tenant is not named
    api.delete("trustpolicies", None, f"p-{attacker_ns}")
    cluster.kubectl("delete", "namespace", attacker_ns, "--wait=false", check=False)


def test_an_artifact_another_tenant_serves_is_kept_whatever_the_attacker_calls_its_registry(
    cluster: ControlPlane, api: KubeTestClient, namespace: str, trust: str, registry: Registry, models_root: Path
) -> None:
    """Issue 27, item 7: the victim serves a manifest from `127.0.0.1:PORT`; an attacker in another namespace names
    the very same manifests as `localhost:PORT`, verifies them, sets deleteArtifacts and deletes their model. Nothing
    is deleted while any AIModel serves the digest, whatever its registry is called; nothing of the victim changes."""
    victim_ref, victim_bundle = oci_model(api, registry, models_root, namespace, trust)
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    before = api.get("aimodels", namespace, "m")
    assert before is not None
    alias = f"localhost:{registry.port}"  # the same registry (its certificate names both), another host spelling
    assert registry.host != alias
    attacker_ns = f"{namespace[:50]}-evil"
    cluster.kubectl("create", "namespace", attacker_ns)
    api.create("trustpolicies", None, policy(f"p-{attacker_ns}", attacker_ns, KEY, [f"oci://{alias}/"]))
    api.core.create_namespaced_secret(
        attacker_ns,
        {
            "metadata": {"name": "registry-creds"},
            "stringData": {"username": registry.username, "password": registry.password},
        },
    )
    source, bundle = f"oci://{alias}/{victim_ref}", f"oci://{alias}/{victim_bundle}"
    copy = model("copy", source, bundle, f"p-{attacker_ns}", endOfLife={"deleteArtifacts": True})
    copy["spec"]["source"]["credentialsSecretRef"] = {"name": "registry-creds"}
    api.create("aimodels", attacker_ns, copy)
    wait_for_condition(api, "aimodels", attacker_ns, "copy", "Verified", "True")  # this model did verify them

    api.delete("aimodels", attacker_ns, "copy")
    eventually(lambda: gone(lambda: api.get("aimodels", attacker_ns, "copy")), timeout=90, what="copy gone")
    for ref in (victim_ref, victim_bundle):
        repo, digest = ref.split("@")
        assert registry.manifest_exists(repo, digest), ref  # the victim's model and signature are untouched
    after = api.get("aimodels", namespace, "m")
    assert (
        after is not None
        and after["spec"] == before["spec"]
        and after["status"]["verified"] == before["status"]["verified"]
    )
    assert condition(after, "Verified")["status"] == "True"
    certs = api.custom.list_cluster_custom_object("modelguard.io", "v1alpha1", "decommissioncertificates")["items"]
    (cert,) = [c for c in certs if c["spec"]["model"]["namespace"] == attacker_ns]
    retained = {
        a["name"]: (a["result"], a["detail"]) for a in cert["spec"]["actions"] if a["step"] == "DeleteArtifacts"
    }
    # at least the victim (other tests' models on this shared control plane may serve the same bytes too)
    assert set(retained) == {source, bundle}
    assert all(r == "Retained" and d.startswith("still referenced by ") for r, d in retained.values()), retained
    assert all(namespace not in detail for _, detail in retained.values())  # the other tenant is not named
    api.delete("trustpolicies", None, f"p-{attacker_ns}")
    cluster.kubectl("delete", "namespace", attacker_ns, "--wait=false", check=False)
