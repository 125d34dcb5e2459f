"""Argo CD health checks (Lua) run by gopher-lua, as Argo CD runs them, on real status objects from the
control plane (manifests/argocd/health_test.yaml holds the recorded cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness.argocd import ARGO, health
from tests.harness.client import KubeTestClient, wait_for_condition
from tests.harness.controlplane import ControlPlane, free_port
from tests.harness.models import KeyPair, flip_byte
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
KEY = KeyPair.generate()


def test_argocd_cm_snippet_embeds_the_scripts() -> None:
    patch = (ARGO / "argocd-cm-patch.yaml").read_text()
    for script in ("health-aimodel.lua", "health-aideployment.lua"):
        body = (ARGO / script).read_text()
        assert all(("    " + line) in patch for line in body.splitlines() if line.strip())


def test_health_of_real_objects(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    name = f"p-{namespace}"
    url = f"https://127.0.0.1:{free_port()}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/", f"{url}/"]))
    good = publish(models_root, namespace, "good", KEY)
    bad = publish(models_root, namespace, "bad", KEY, tamper=lambda m: flip_byte(m / "config.json", 1))
    api.create("aimodels", namespace, model("good", good.source, good.bundle, name))
    api.create("aideployments", namespace, ai_deployment("waits", "missing"))
    api.create("aimodels", namespace, model("bad", bad.source, bad.bundle, name))
    api.create("aimodels", namespace, model("unreachable", f"{url}/m", f"{url}/m.sig", name))
    api.create("aideployments", namespace, ai_deployment("serves", "good"))

    fresh = api.get("aimodels", namespace, "good")
    fresh.pop("status", None)
    assert health("health-aimodel.lua", fresh)[0] == "Progressing"

    good_body = wait_for_condition(api, "aimodels", namespace, "good", "Verified", "True")
    assert health("health-aimodel.lua", good_body)[0] == "Healthy"
    bad_body = wait_for_condition(api, "aimodels", namespace, "bad", "Verified", "False", "DigestMismatch")
    status, message = health("health-aimodel.lua", bad_body)
    assert status == "Degraded" and message.startswith("DigestMismatch")
    unreachable = wait_for_condition(
        api, "aimodels", namespace, "unreachable", "Verified", "False", "SourceUnreachable"
    )
    assert health("health-aimodel.lua", unreachable)[0] == "Progressing"

    serving = wait_for_condition(api, "aideployments", namespace, "serves", "Ready", "True", timeout=60)
    assert health("health-aideployment.lua", serving)[0] == "Healthy"
    waiting = wait_for_condition(api, "aideployments", namespace, "waits", "Ready", "False", "ModelNotFound")
    assert health("health-aideployment.lua", waiting)[0] == "Progressing"

    flip_byte(good.model / "config.json", 5)
    api.patch("aimodels", namespace, "good", {"metadata": {"annotations": {"modelguard.io/scan-now": "argo"}}})
    quarantined = wait_for_condition(api, "aideployments", namespace, "serves", "Quarantined", "True", timeout=60)
    status, message = health("health-aideployment.lua", quarantined)
    assert status == "Degraded" and message.startswith("Quarantined")
    scanned = wait_for_condition(api, "aimodels", namespace, "good", "ScanPassed", "False", "CriticalFindings")
    assert health("health-aimodel.lua", scanned)[0] == "Degraded"
    api.delete("trustpolicies", None, name)
    # the recorded cases (manifests/argocd/testdata) say what real objects say: every condition a case holds
    # is a condition the operator wrote on the real object of that kind of case (type, status and reason)
    for case, real in (
        ("aimodel-verified.yaml", good_body),
        ("aimodel-rejected.yaml", bad_body),
        ("aimodel-tampered-scan.yaml", scanned),
        ("aideployment-ready.yaml", serving),
        ("aideployment-quarantined.yaml", quarantined),
    ):
        recorded = yaml.safe_load((ARGO / "testdata" / case).read_text())
        said = {(c["type"], c["status"], c.get("reason")) for c in real["status"]["conditions"]}
        for c in recorded["status"]["conditions"]:
            assert (c["type"], c["status"], c.get("reason")) in said, (case, c, sorted(said))
