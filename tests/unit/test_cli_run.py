"""`modelguard run` on a machine with no cluster configured: one line that says what to do, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelguard.cli.main import main as cli


def test_run_without_a_kubeconfig_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli(["run", "--standalone"]) == 2
    out, err = capsys.readouterr()
    assert out.strip().splitlines() == [
        f"modelguard run: no cluster to talk to (ConfigException): set KUBECONFIG or create {tmp_path / 'missing'}"
    ]
    assert "Traceback" not in out + err
