"""Reading the audit trail in tests: the records in every operator log of the session, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelguard.domain.audit import parse_log
from tests.harness.controlplane import ControlPlane


def operator_logs(base: Path) -> list[Path]:
    """Every operator process of the session writes below the pytest base directory (all replicas' logs
    together make the whole chain)."""
    return sorted(p for p in base.rglob("*.log") if not p.parent.name.startswith("cluster"))


def records(base: Path) -> list[dict[str, Any]]:
    lines: list[str] = []
    for path in operator_logs(base):
        lines.extend(path.read_text(errors="replace").splitlines())
    return parse_log(lines)


def find(all_records: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """Records whose fields equal `match` (object fields as kind/namespace/name, actor as username)."""
    found = []
    for record in all_records:
        obj, actor = record["object"], record["actor"]
        flat = {**record, **obj, "username": actor["username"]}
        if all(flat.get(k) == v for k, v in match.items()):
            found.append(record)
    unique = {r["seq"]: r for r in found}
    return [unique[s] for s in sorted(unique)]


def cli(cluster: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelguard.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
