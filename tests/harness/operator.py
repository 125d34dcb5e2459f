"""Run the operator the way production does: as its own process (so tests can kill it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.harness.controlplane import free_port

if TYPE_CHECKING:
    from tests.harness.controlplane import ControlPlane

OPERATOR_NAMESPACE = "modelguard-system"
OPERATOR_IMAGE = "ghcr.io/modelguard/operator@sha256:" + "0" * 64
GATEWAY_IMAGE = "registry.example/modelguard/gateway@sha256:" + "e" * 64


def wait_for_port(port: int, proc: OperatorProcess, timeout: float = 30.0) -> None:
    """Wait until something listens on 127.0.0.1:port (the operator's webhook server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"operator exited:\n{proc.tail()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"operator webhook not listening on {port}:\n{proc.tail()}")


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    metrics_url: str | None = None
    webhook_port: int | None = None
    webhook_configs: list[dict[str, object]] = field(default_factory=list)
    standalone: bool = True

    def start(self) -> OperatorProcess:
        env = {**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelguard.cli.main",
                "run",
                *(["--standalone"] if self.standalone else []),
                *self.extra_args,
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        handle.close()
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, as in a node crash."""
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, extra: list[str] | None = None) -> OperatorProcess:
        """Start again (after a kill) with the same arguments plus `extra`; waits for the webhook."""
        self.stop()
        args, self.extra_args = self.extra_args, [*self.extra_args, *(extra or [])]
        self.start()
        self.extra_args = args
        if self.webhook_port is not None:
            wait_for_port(self.webhook_port, self)
        return self

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_with_webhooks(plane: ControlPlane, workdir: Path, name: str, extra_args: list[str]) -> OperatorProcess:
    """The operator as a process serving its admission webhooks on loopback (a certificate from the local
    CA), with the validating and mutating configurations applied under `name`."""
    from modelguard.builders.webhooks import mutating_webhook_configuration, webhook_configuration

    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = plane.ca.write(workdir, "webhook", plane.ca.issue("webhook", hosts=("127.0.0.1",)))
    port = free_port()
    plane.kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    proc = OperatorProcess(
        plane.kubeconfig,
        workdir / "operator.log",
        extra_args=[
            "--namespace",
            OPERATOR_NAMESPACE,
            "--image",
            OPERATOR_IMAGE,
            "--gateway-image",
            GATEWAY_IMAGE,  # pinned, as installs pin it (scans flag an unpinned gateway)
            "--webhook-port",
            str(port),
            "--webhook-host",
            "127.0.0.1",
            "--webhook-cert",
            str(cert),
            "--webhook-key",
            str(key),
            *extra_args,
        ],
    ).start()
    url = f"https://127.0.0.1:{port}"
    proc.webhook_port = port
    proc.webhook_configs = [
        webhook_configuration(name, plane.ca.pem, url=url, operator_namespace=OPERATOR_NAMESPACE),
        mutating_webhook_configuration(name, plane.ca.pem, url=url, operator_namespace=OPERATOR_NAMESPACE),
    ]
    wait_for_port(port, proc)
    for config in proc.webhook_configs:
        plane.kubectl("apply", "-f", "-", stdin=json.dumps(config))
    return proc
