"""Argo CD health checks (Lua) evaluated as Argo CD evaluates them: gopher-lua, the interpreter Argo CD
embeds, through hack/testbin/argocd-health (built from the Go module, cached)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.harness.controlplane import REPO, ControlPlaneError

ARGO = REPO / "manifests" / "argocd"
BUILD = REPO / "hack" / "testbin" / "build-argocd-health.sh"


@functools.cache
def runner() -> Path:
    result = subprocess.run(["bash", str(BUILD)], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"building argocd-health failed (exit {result.returncode}); see output above")
    return Path(result.stdout.strip().splitlines()[-1])


def health(script: str, obj: dict[str, Any]) -> tuple[str, str]:
    result = subprocess.run(
        [str(runner()), str(ARGO / script)], input=json.dumps(obj), capture_output=True, text=True, check=False,
        timeout=10,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    return answer["status"], answer.get("message", "")
