"""`modelguard register export` on the real control plane: a valid CycloneDX 1.6 ML-BOM of what runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.harness.client import KubeTestClient, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()


def test_register_export_lists_verified_models_and_their_deployments(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
) -> None:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
    api.create("aideployments", namespace, ai_deployment("m-svc", "m"))
    verified = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    wait_for_condition(api, "aideployments", namespace, "m-svc", "ModelVerified", "True")
    out = tmp_path / "register.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelguard.cli.main",
            "register",
            "export",
            "--namespace",
            namespace,
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
    assert result.returncode == 0, result.stderr
    assert "1 model(s), 1 deployment(s)" in result.stderr
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    (component,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert component["hashes"][0]["content"] == verified["status"]["verified"]["digest"].removeprefix("sha256:")
    deps = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert deps[f"aideployment:{namespace}/m-svc"] == [f"aimodel:{namespace}/m"]
    api.delete("trustpolicies", None, name)
