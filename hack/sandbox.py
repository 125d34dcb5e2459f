"""`make sandbox`: a local control plane and the operator (with its admission webhooks) that keep running,
so you can `kubectl apply` your own TrustPolicy, AIModel and AIDeployment YAML as users of a cluster do.

Prints the `export KUBECONFIG=...` line, a key pair and a signed example model to start from, and where
the operator's log is; stops everything on Ctrl-C (or SIGTERM). State lives in .sandbox/ of the checkout.
Models on disk are served as file:// sources from .sandbox/models (the operator runs with --file-root).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.controlplane import REPO, ControlPlane
from tests.harness.models import KeyPair, sign, write_model
from tests.harness.operator import OperatorProcess, start_with_webhooks

SANDBOX = Path(os.environ.get("MODELGUARD_SANDBOX") or REPO / ".sandbox")


def main() -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    shutil.rmtree(SANDBOX, ignore_errors=True)
    models = SANDBOX / "models"
    models.mkdir(parents=True)
    print("[sandbox] starting a local control plane (etcd, Kubernetes 1.34, a kwok node) ...", flush=True)
    plane = ControlPlane(SANDBOX / "cluster")
    operator: OperatorProcess | None = None
    try:
        plane.start()
        plane.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        print("[sandbox] starting the operator with its admission webhooks ...", flush=True)
        operator = start_with_webhooks(plane, SANDBOX, "modelguard", ["--file-root", str(models)])
        key = KeyPair.generate()
        private, public = key.write(SANDBOX / "keys", "publisher")
        model = write_model(models / "example")
        (models / "example.sig").write_bytes(sign(model, key))
        print(
            f"""
[sandbox] ready. In another shell:

  export KUBECONFIG={plane.kubeconfig}
  kubectl get aimodels,aideployments -A

  a publisher key pair:  {public}  {private}
  a model signed with it: file://{model}  (signature file://{models / "example.sig"})
  sources must be under:  file://{models}/  (put yours there; sign with `modelguard sign --key {private}`)
  the operator's log:     {operator.log}

Ctrl-C stops the operator and the control plane.""",
            flush=True,
        )
        while not stop.wait(1.0):
            if not operator.alive():
                print(f"[sandbox] the operator exited; see {operator.log}", flush=True)
                return 1
        print("\n[sandbox] stopping ...", flush=True)
        return 0
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()
        print("[sandbox] stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
