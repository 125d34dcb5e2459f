"""`modelguard report` on the real control plane: every provision mapped, evidence from live objects and
the signed audit checkpoint, HTML and JSON, and the statement that the mapping rests on public summaries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.harness.audit import cli
from tests.harness.client import KubeTestClient, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()


def test_report_maps_live_evidence_to_every_provision(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
) -> None:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    good = publish(models_root, namespace, "good", KEY)
    api.create("aimodels", namespace, model("good", good.source, good.bundle, name))
    api.create("aimodels", namespace, model("tampered", good.source, good.bundle + ".missing", name))
    api.create("aideployments", namespace, ai_deployment("svc", "good"))
    wait_for_condition(api, "aimodels", namespace, "good", "Verified", "True")
    wait_for_condition(api, "aimodels", namespace, "tampered", "Verified", "False")
    wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "True")
    api.patch("aimodels", namespace, "good", {"metadata": {"annotations": {"modelguard.io/scan-now": "report"}}})
    scanned = eventually(
        lambda: ((api.get("aimodels", namespace, "good").get("status") or {}).get("lastScan") or {}).get("report"),
        timeout=60,
        what="a scan of the good model",
    )

    result = cli(cluster, "report", "--namespace", namespace, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "based on public summaries" in result.stderr
    document = json.loads((tmp_path / "out" / "report.json").read_text())
    found = {p["id"]: p for p in document["provisions"]}
    assert len(found) == 72 and document["scope"]["namespace"] == namespace
    assert "based on public summaries" in document["disclaimer"]

    assert found["5.2.1-2"]["status"] == "not met"  # one model does not verify
    assert found["5.2.1-2"]["evidence"] == [f"AIModel/{namespace}/tampered"]
    # re-checked on the live workload: the model server Deployment and its NetworkPolicies are evidence too
    assert found["5.1.2-6"]["status"] == "met", found["5.1.2-6"]["note"]
    assert found["5.1.2-6"]["evidence"][:2] == [f"AIDeployment/{namespace}/svc", f"Deployment/{namespace}/svc"]
    assert any(e.startswith(f"NetworkPolicy/{namespace}/") for e in found["5.1.2-6"]["evidence"])
    assert "re-checked on the live workload" in found["5.1.2-6"]["note"]
    digest = api.get("aideployments", namespace, "svc")["status"]["servedDigest"]
    assert (
        f"pod template pinned to model digest {digest}" in document["evidence"][f"Deployment/{namespace}/svc"]["facts"]
    )
    assert "restricted pod: yes" in document["evidence"][f"Deployment/{namespace}/svc"]["facts"]
    assert found["5.1.2-3"]["status"] == "met" and found["5.1.2-3"]["evidence"][0] == "AuditCheckpoint"
    assert found["5.1.4-5"]["status"] == "not met"  # the card publishes no prohibited uses
    assert found["5.2.2-2"]["status"] == "not applicable"
    assert found["5.1.1-1"]["status"] == "organisational"
    assert found["5.5.1-2"]["status"] == "not applicable"
    assert sum(document["summary"].values()) == 72
    evidence = document["evidence"]
    assert any(line.startswith("verified digest sha256:") for line in evidence[f"AIModel/{namespace}/good"]["facts"])
    assert "signed checkpoint at record" in evidence["AuditCheckpoint"]["facts"][0]
    assert (
        evidence[f"AIDeployment/{namespace}/svc"]["command"] == f"kubectl get aideployment svc -n {namespace} -o yaml"
    )

    assert f"ScanReport/{namespace}/{scanned}" in found["5.4.2-2"]["evidence"]
    assert evidence[f"ScanReport/{namespace}/{scanned}"]["kind"] == "ScanReport"
    created = [
        k for k, v in evidence.items() if v["kind"] == "AuditRecord" and f"AIModel {namespace}/good by" in v["facts"][0]
    ]
    assert created and set(created) <= set(found["5.1.2-3"]["evidence"])

    page = (tmp_path / "out" / "report.html").read_text()
    assert "based on public summaries" in page
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'id="([^"]+)"', page))
    api.delete("trustpolicies", None, name)
