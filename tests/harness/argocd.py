"""Argo CD health checks (Lua) evaluated by a real Lua 5.4 on objects from the control plane."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from tests.harness.controlplane import REPO

ARGO = REPO / "manifests" / "argocd"
LUA = shutil.which("lua5.4") or "/usr/bin/lua5.4"


def to_lua(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"[{to_lua(str(k))}]={to_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ",".join(to_lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, int | float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def health(script: str, obj: dict[str, Any]) -> tuple[str, str]:
    program = (
        f"obj = {to_lua(obj)}\nlocal hs = (function()\n{(ARGO / script).read_text()}\nend)()\n"
        'io.write(hs.status, "\\n", hs.message or "")'
    )
    result = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, check=False, timeout=10)
    assert result.returncode == 0, result.stderr
    status, _, message = result.stdout.partition("\n")
    return status, message
