"""`make demo`: ModelGuard against a local control plane, on the example manifests.

Starts etcd, kube-apiserver, controller-manager, scheduler and kwok on loopback (binaries built
from Go modules, cached under ~/.cache/modelguard), installs the CRDs, runs the operator as a
process, applies manifests/examples/ and shows what the operator made of them. Everything it
starts is stopped at the end; files are kept in .demo/ for inspection.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.controlplane import REPO, ControlPlane
from tests.harness.operator import OperatorProcess

DEMO = REPO / ".demo"


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m", flush=True)


def conditions(plane: ControlPlane, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
    out = plane.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    return list((json.loads(out).get("status") or {}).get("conditions") or [])


def wait_settled(plane: ControlPlane, kind: str, namespace: str, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = json.loads(plane.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
        status = body.get("status") or {}
        if status.get("observedGeneration") == body["metadata"]["generation"] and status.get("conditions"):
            return
        time.sleep(0.3)
    raise SystemExit(f"{kind}/{name} was not reconciled within {timeout}s; see {DEMO / 'operator.log'}")


def show_conditions(plane: ControlPlane, kind: str, namespace: str, name: str) -> None:
    print(f"{kind}/{name}:")
    for c in conditions(plane, kind, namespace, name):
        print(f"  {c['type']:<14} {c['status']:<8} {c['reason']:<22} {c.get('message', '')}")


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    step("Starting a local control plane (etcd 3.6, Kubernetes 1.34, kwok)")
    plane = ControlPlane(DEMO / "cluster")
    operator: OperatorProcess | None = None
    try:
        plane.start()
        print(f"up in {plane.start_seconds:.1f}s at {plane.url}; kubeconfig: {plane.kubeconfig}")

        step("Installing the CRDs generated from the API models")
        print(plane.kubectl("apply", "--server-side", "-f", str(REPO / "crds")).stdout.strip())
        plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

        step("Running the operator (log: .demo/operator.log)")
        operator = OperatorProcess(plane.kubeconfig, DEMO / "operator.log").start()

        step("Applying manifests/examples/")
        print(plane.kubectl("apply", "-f", str(REPO / "manifests" / "examples")).stdout.strip())
        wait_settled(plane, "aimodel", "risk", "fraud-scorer-v3")
        wait_settled(plane, "aideployment", "risk", "fraud-scorer")

        step("What the operator reports")
        print(plane.kubectl("get", "trustpolicies,aimodels,aideployments", "-A").stdout)
        show_conditions(plane, "aimodel", "risk", "fraud-scorer-v3")
        show_conditions(plane, "aideployment", "risk", "fraud-scorer")
        print("\nDemo finished: the control plane and operator are stopped; files stay in .demo/.")
        return 0
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()


if __name__ == "__main__":
    sys.exit(main())
