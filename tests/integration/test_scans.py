"""Scheduled maintenance scans with reports, metrics and quarantine (issue 5), on the real control plane."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch

from tests.harness.audit import find, records
from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.models import KeyPair, flip_byte
from tests.harness.operator import OPERATOR_NAMESPACE, OperatorProcess
from tests.harness.publish import KEY_ID, model, policy, publish
from tests.harness.samples import ai_deployment
from tests.integration.conftest import SOURCE_SLOTS_PER_NAMESPACE

pytestmark = pytest.mark.timeout(300)
KEY = KeyPair.generate()


@pytest.fixture
def trust(api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path) -> str:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    yield name
    api.delete("trustpolicies", None, name)


def scan_now(api: KubeTestClient, ns: str, name: str, token: str) -> dict[str, Any]:
    api.patch("aimodels", ns, name, {"metadata": {"annotations": {"modelguard.io/scan-now": token}}})
    return eventually(
        lambda: (
            (b := api.get("aimodels", ns, name))
            and ((b.get("status") or {}).get("lastScan") or {}).get("token") == token
            and b
        ),
        timeout=60,
        what=f"scan {token} of {name}",
    )


def report(api: KubeTestClient, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.get("scanreports", ns, body["status"]["lastScan"]["report"])


def serve(api: KubeTestClient, ns: str, trust: str, models_root: Path, name: str = "m", **spec: Any) -> Any:
    pub = publish(models_root, ns, name, KEY)
    api.create("aimodels", ns, model(name, pub.source, pub.bundle, trust, **spec))
    api.create("aideployments", ns, ai_deployment(f"{name}-svc", name, replicas=2))
    wait_for_condition(api, "aideployments", ns, f"{name}-svc", "Ready", "True", timeout=60)
    return pub


def test_tampering_after_rollout_is_found_and_quarantined_until_a_scan_passes(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pub = serve(api, namespace, trust, models_root)
    first = scan_now(api, namespace, "m", "clean")
    assert first["status"]["lastScan"]["result"] == "Passed", report(api, namespace, first)["spec"]["findings"]
    assert condition(first, "ScanPassed")["status"] == "True"

    flip_byte(pub.model / "weights/model-00001.safetensors", 999)
    body = scan_now(api, namespace, "m", "after-tamper")
    assert body["status"]["lastScan"]["result"] == "Failed" and body["status"]["lastScan"]["critical"] == 1
    assert condition(body, "ScanPassed")["reason"] == "CriticalFindings"
    assert condition(body, "Verified")["reason"] == "DigestMismatch"
    spec = report(api, namespace, body)["spec"]
    (finding,) = [f for f in spec["findings"] if f["severity"] == "Critical"]
    assert finding["check"] == "signature-and-integrity" and "5.2.4-1.2" in finding["provisions"]
    assert spec["trigger"] == "Manual" and spec["target"] == {"kind": "AIModel", "name": "m"}
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "True")
    assert api.apps.read_namespaced_deployment("m-svc", namespace).spec.replicas == 0

    # an edit of the model's spec (a new generation, not yet verified) must not lift the quarantine
    api.patch("aimodels", namespace, "m", {"spec": {"card": {"intendedUse": "scoring, reviewed"}}})
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", current_generation=True)
    assert condition(api.get("aideployments", namespace, "m-svc"), "Quarantined")["status"] == "True"
    assert not find(records(tmp_path_factory.getbasetemp()), namespace=namespace, name="m-svc", action="Released")
    assert api.apps.read_namespaced_deployment("m-svc", namespace).spec.replicas == 0

    flip_byte(pub.model / "weights/model-00001.safetensors", 999)  # restored: only a passing scan lifts it
    body = scan_now(api, namespace, "m", "restored")
    assert body["status"]["lastScan"]["result"] == "Passed"
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "False")
    eventually(
        lambda: api.apps.read_namespaced_deployment("m-svc", namespace).spec.replicas == 2, what="replicas restored"
    )
    assert find(records(tmp_path_factory.getbasetemp()), namespace=namespace, name="m-svc", action="Released")
    lifted_without_drift(api, tmp_path_factory.getbasetemp(), namespace)


def lifted_without_drift(api: KubeTestClient, base: Path, namespace: str, name: str = "m-svc") -> None:
    """Issue 28 item 4: lifting a quarantine is the operator's own change (replicas back, the allow policies
    back): nothing says someone else changed the children, not the status, an Event or the audit trail."""
    body = wait_for_condition(api, "aideployments", namespace, name, "Ready", "True", timeout=60)
    assert not body["status"].get("lastDrift"), body["status"]["lastDrift"]
    assert condition(body, "PolicyEnforced")["reason"] == "Enforced", condition(body, "PolicyEnforced")
    events = api.core.list_namespaced_event(namespace, field_selector="reason=DriftReverted").items
    assert [e.message for e in events if e.involved_object.name == name] == []
    assert find(records(base), namespace=namespace, name=name, action="DriftReverted") == []


def test_lifting_a_quarantine_after_an_un_revoke_reports_no_drift(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    serve(api, namespace, trust, models_root)
    api.patch("trustpolicies", None, trust, {"spec": {"revokedKeys": [KEY_ID]}})
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "True")
    eventually(lambda: api.apps.read_namespaced_deployment("m-svc", namespace).spec.replicas == 0, what="scaled to 0")
    # one writer of replicas and policies: the AIDeployment reconcile, under the operator's one field manager
    for deployment in ("m-svc", "m-svc-model-cache"):
        fields = api.apps.read_namespaced_deployment(deployment, namespace).metadata.managed_fields
        assert {f.manager for f in fields if f.manager.startswith("modelguard")} == {"modelguard"}, deployment

    api.patch("trustpolicies", None, trust, {"spec": {"revokedKeys": []}})
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "False", timeout=60)
    eventually(
        lambda: api.apps.read_namespaced_deployment("m-svc", namespace).spec.replicas == 2, what="replicas restored"
    )
    assert find(records(tmp_path_factory.getbasetemp()), namespace=namespace, name="m-svc", action="Released")
    lifted_without_drift(api, tmp_path_factory.getbasetemp(), namespace)


def test_revoked_key_is_a_critical_scan_finding(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path
) -> None:
    serve(api, namespace, trust, models_root)
    api.patch("trustpolicies", None, trust, {"spec": {"revokedKeys": [KEY_ID]}})
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "True")
    body = scan_now(api, namespace, "m", "revoked")
    findings = report(api, namespace, body)["spec"]["findings"]
    assert any(
        (f["check"], f["severity"], f["evidence"]["reason"]) == ("signature-and-integrity", "Critical", "KeyRevoked")
        for f in findings
    )


def test_edited_managed_object_is_reported(api: KubeTestClient, namespace: str, trust: str, models_root: Path) -> None:
    serve(api, namespace, trust, models_root)
    scan_now(api, namespace, "m", "before")
    k8s.NetworkingV1Api(api.api).patch_namespaced_network_policy("m-svc-allow", namespace, {"spec": {"ingress": [{}]}})
    wait_for_condition(api, "aideployments", namespace, "m-svc", "PolicyEnforced", "True", "DriftReverted")
    body = scan_now(api, namespace, "m", "after-edit")
    drift = [f for f in report(api, namespace, body)["spec"]["findings"] if f["check"] == "serving-matches"]
    assert drift and "NetworkPolicy/m-svc-allow" in drift[0]["message"]
    assert drift[0]["evidence"]["deployment"] == "m-svc"


def test_vulnerable_sbom_component_yields_advisory_finding(
    api: KubeTestClient, namespace: str, trust: str, models_root: Path
) -> None:
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {"type": "library", "name": "torch", "version": "2.0.1", "purl": "pkg:pypi/torch@2.0.1"},
            {"type": "library", "name": "numpy", "version": "2.1.0", "purl": "pkg:pypi/numpy@2.1.0"},
        ],
    }
    raw = json.dumps(sbom).encode()
    path = models_root / namespace / "sbom.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    advisory_id = f"GHSA-test-{namespace[-8:]}"
    advisories = {
        "id": advisory_id,
        "summary": "Remote code execution in torch.load",
        "database_specific": {"severity": "CRITICAL"},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "torch"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}],
            },
        ],
    }
    numpy_safe = {
        "id": "GHSA-numpy-old",
        "affected": [
            {
                "package": {"purl": "pkg:pypi/numpy"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.22.0"}]}],
            }
        ],
    }
    cm = {
        "metadata": {"name": "modelguard-advisories"},
        "data": {f"{advisory_id}.json": json.dumps(advisories), "numpy.json": json.dumps(numpy_safe)},
    }
    try:
        api.core.create_namespaced_config_map(OPERATOR_NAMESPACE, cm)
    except k8s.ApiException as exc:
        assert exc.status == 409
        api.core.replace_namespaced_config_map("modelguard-advisories", OPERATOR_NAMESPACE, cm)
    sbom_ref = {"uri": f"file://{path}", "digest": "sha256:" + hashlib.sha256(raw).hexdigest()}
    serve(api, namespace, trust, models_root, sbom=sbom_ref)
    body = scan_now(api, namespace, "m", "sbom")
    vulns = [f for f in report(api, namespace, body)["spec"]["findings"] if f["check"] == "vulnerabilities"]
    assert len(vulns) == 1
    assert vulns[0]["evidence"] == {"purl": "pkg:pypi/torch@2.0.1", "advisory": advisory_id, "fixed": "2.6.0"}
    assert vulns[0]["severity"] == "Critical" and advisory_id in vulns[0]["message"]
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "True")
    api.patch(
        "aimodels",
        namespace,
        "m",
        {
            "metadata": {
                "annotations": {
                    "modelguard.io/quarantine-override": "accepted until the patched model ships, ticket SEC-42"
                }
            }
        },
    )
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "False")
    eventually(  # Events are posted after the status write that shows the condition
        lambda: any(
            "SEC-42" in (e.message or "")
            for e in api.core.list_namespaced_event(namespace, field_selector="reason=OverrideAnnotation").items
        ),
        timeout=15,
        what="the OverrideAnnotation Event",
    )


def test_reports_are_owned_and_pruned(api: KubeTestClient, namespace: str, trust: str, models_root: Path) -> None:
    pub = publish(models_root, namespace, "m", KEY)
    api.create(
        "aimodels",
        namespace,
        model("m", pub.source, pub.bundle, trust, maintenance={"schedule": "*/5 * * * *", "reportsToKeep": 2}),
    )
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    next_scan = datetime.fromisoformat(body["status"]["nextScan"].replace("Z", "+00:00"))
    assert 0 < (next_scan - datetime.now(UTC)).total_seconds() <= 5 * 60 + 30
    for i in range(3):
        scan_now(api, namespace, "m", f"s{i}")
        time.sleep(1.1)  # report names have one-second resolution
    reports = api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "scanreports")["items"]
    assert len(reports) == 2
    assert all(r["metadata"]["ownerReferences"][0]["name"] == "m" for r in reports)


def _metrics(operator: OperatorProcess) -> str:
    assert operator.metrics_url is not None
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
        return response.read().decode()


def test_200_models_scan_within_the_concurrency_limit_with_one_status_write_each(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, models_root: Path
) -> None:
    pub = publish(models_root, namespace, "shared", KEY)
    names = [f"m-{i:03d}" for i in range(200)]
    for name in names:
        api.create("aimodels", namespace, model(name, pub.source, pub.bundle, trust))
    eventually(
        lambda: (
            all(
                condition(b, "Verified") and condition(b, "Verified")["status"] == "True"
                for b in api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "aimodels")[
                    "items"
                ]
            )
            and len(
                api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "aimodels")["items"]
            )
            == 200
        ),
        timeout=120,
        interval=1,
        what="200 models verified",
    )

    writes: Counter[str] = Counter()
    stop = threading.Event()
    start_rv = api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "aimodels")["metadata"][
        "resourceVersion"
    ]

    def count() -> None:
        w = watch.Watch()
        for event in w.stream(
            api.custom.list_namespaced_custom_object,
            "modelguard.io",
            "v1alpha1",
            namespace,
            "aimodels",
            resource_version=start_rv,
            timeout_seconds=150,
        ):
            if event["type"] == "MODIFIED":
                writes[event["object"]["metadata"]["name"]] += 1
            if stop.is_set():
                w.stop()

    watcher = threading.Thread(target=count, daemon=True)
    watcher.start()
    time.sleep(1)
    token = "bulk"
    for name in names:
        api.patch("aimodels", namespace, name, {"metadata": {"annotations": {"modelguard.io/scan-now": token}}})
    eventually(
        lambda: (
            sum(
                1
                for b in api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "aimodels")[
                    "items"
                ]
                if ((b.get("status") or {}).get("lastScan") or {}).get("token") == token
            )
            == 200
        ),
        timeout=180,
        interval=1,
        what="200 scans done",
    )
    time.sleep(2)
    stop.set()
    # each object saw our annotation patch plus at most one status write by the operator for the scan
    assert max(writes.values()) <= 2, writes.most_common(5)
    assert len(writes) == 200
    metrics = _metrics(operator)
    peak = float(
        next(line.split()[-1] for line in metrics.splitlines() if line.startswith("modelguard_scans_running_peak "))
    )
    assert 1 <= peak <= SOURCE_SLOTS_PER_NAMESPACE  # all 200 in one namespace: its share, not more
    reports = api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "scanreports")
    assert len(reports["items"]) == 200


def test_metrics_endpoint_reports_scans(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, trust: str, models_root: Path
) -> None:
    pub = serve(api, namespace, trust, models_root)
    flip_byte(pub.model / "config.json", 3)
    scan_now(api, namespace, "m", "metrics")
    wait_for_condition(api, "aideployments", namespace, "m-svc", "Quarantined", "True")
    text = _metrics(operator)
    assert f'modelguard_scan_findings{{model="m",namespace="{namespace}",severity="critical"}} 1.0' in text
    assert f'modelguard_scan_last_timestamp_seconds{{model="m",namespace="{namespace}"}}' in text
    assert 'modelguard_scans_total{result="Failed"}' in text
    assert "modelguard_scan_duration_seconds_bucket" in text
    assert f'modelguard_quarantines_total{{namespace="{namespace}"}} 1.0' in text
    assert 'modelguard_api_requests_total{resource="aimodels/status",verb="PATCH"}' in text
    assert 'modelguard_api_requests_total{resource="deployments",verb="PATCH"}' in text  # server-side apply
