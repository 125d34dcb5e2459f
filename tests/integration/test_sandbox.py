"""`make sandbox` as a newcomer uses it: it prints the KUBECONFIG line, a signed example model verifies when
they apply their own YAML with kubectl, and Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.harness.controlplane import REPO, ControlPlane

pytestmark = pytest.mark.timeout(240)


def test_the_sandbox_runs_until_interrupted_and_verifies_what_a_user_applies(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    env = {**os.environ, "MODELGUARD_SANDBOX": str(tmp_path / "sandbox")}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "hack" / "sandbox.py")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not any("Ctrl-C stops" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "the sandbox exited early:\n" + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        kubeconfig = next(line.split("=", 1)[1].strip() for line in lines if "export KUBECONFIG=" in line)
        model = next(line.split("file://", 1)[1].split()[0] for line in lines if "a model signed with it" in line)
        public = next(line.split()[-2] for line in lines if "a publisher key pair" in line)
        assert Path(public).read_text().startswith("-----BEGIN PUBLIC KEY-----"), text

        def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(cluster.bin / "kubectl"), f"--kubeconfig={kubeconfig}", *args],
                input=stdin, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip

        root = str(Path(model).parent)
        policy = {
            "apiVersion": "modelguard.io/v1alpha1",
            "kind": "TrustPolicy",
            "metadata": {"name": "mine"},
            "spec": {
                "keys": [{"id": "me", "publicKey": Path(public).read_text()}],
                "allowedSources": [f"file://{root}/"],
            },
        }
        spec = {
            "version": "1.0.0",
            "source": {"uri": f"file://{model}"},
            "signature": {"bundleUri": f"file://{model}.sig"},
            "trustPolicy": "mine",
            "card": {"owner": "me@example.com", "intendedUse": "trying ModelGuard"},
        }
        mine = {
            "apiVersion": "modelguard.io/v1alpha1",
            "kind": "AIModel",
            "metadata": {"name": "example", "namespace": "default"},
            "spec": spec,
        }
        docs = [policy, mine]
        applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
        assert applied.returncode == 0, applied.stderr
        verified = kubectl("wait", "aimodel/example", "--for=condition=Verified", "--timeout=60s")
        assert verified.returncode == 0, verified.stderr
        body = json.loads(kubectl("get", "aimodel", "example", "-o", "json").stdout)
        assert body["status"]["verified"]["signer"] == "me"

        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "[sandbox] stopped" in out
        assert kubectl("get", "namespaces").returncode != 0  # the control plane is gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
