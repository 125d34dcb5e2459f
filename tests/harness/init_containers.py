"""Run a pod's init container command on this machine (kwok does not run containers): the integration tests
check that the exact `modelguard verify` the operator wrote into a Deployment verifies (and inspects) with
the material its verification ConfigMap ships."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

VERIFY_DIR = "/etc/modelguard/verify"
MODEL_DIR = "/var/lib/modelguard/model"


def shipped_material(api: Any, namespace: str, pod_spec: Any, into: Path) -> dict[str, str]:
    """Write the verification ConfigMap the pod mounts at VERIFY_DIR into `into`; returns its text data."""
    (volume,) = [v for v in pod_spec.volumes if v.name == "verify"]
    shipped = api.core.read_namespaced_config_map(volume.config_map.name, namespace)
    into.mkdir(parents=True, exist_ok=True)
    for key, text in shipped.data.items():
        (into / key).write_text(text)
    (into / "signature").write_bytes(base64.b64decode(shipped.binary_data["signature"]))
    return dict(shipped.data)


def run_init_command(
    args: list[str],
    verify_dir: Path,
    model_dir: Path,
    file_root: Path,
    replace: Mapping[str, str] | None = None,
    mount: str = MODEL_DIR,
) -> subprocess.CompletedProcess[str]:
    """The init container's arguments, with its mounts (`mount`: where the model volume is) mapped to local
    directories and any argument in `replace` swapped, run as `python -m modelguard.cli.main` with the test's
    file root."""
    command = [a.replace(VERIFY_DIR, str(verify_dir)) for a in args]
    command = [str(model_dir) if a == mount else (replace or {}).get(a, a) for a in command]
    return subprocess.run(
        [sys.executable, "-m", "modelguard.cli.main", *command, "--file-root", str(file_root), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
