"""`modelguard run` on a machine with no cluster configured, or with a kubeconfig it cannot use: one line that
says what to do, no traceback. Run as a process: `run` keeps the official client out of its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(tmp_path: Path, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "modelguard.cli.main", "run", "--standalone"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_run_without_a_kubeconfig_says_so_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = run(tmp_path, missing)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        f"modelguard run: no cluster to talk to: no kubeconfig at {missing}; set KUBECONFIG or create {missing}"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_run_with_an_exec_plugin_kubeconfig_says_how_to_run_it(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: cloud\n"
        "contexts: [{name: cloud, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {exec: {command: cloud-login, apiVersion: client.authentication.k8s.io/v1}}}]\n"
    )
    result = run(tmp_path, config)
    assert result.returncode == 2
    [line] = result.stdout.strip().splitlines()
    assert "exec plugin" in line and "Helm chart" in line, line
    assert "Traceback" not in result.stdout + result.stderr


def test_source_slots_are_per_tenant_and_the_old_flag_still_works() -> None:
    import argparse

    from modelguard.cli import run as cli_run

    parser = argparse.ArgumentParser()
    cli_run.add_parser(parser.add_subparsers())
    args = parser.parse_args(["run"])
    assert (args.source_slots_per_tenant, args.tenant_label) == (2, "modelguard.io/tenant")
    args = parser.parse_args(["run", "--source-slots-per-namespace", "3", "--tenant-label", "example.com/team"])
    assert (args.source_slots_per_tenant, args.tenant_label) == (3, "example.com/team")
