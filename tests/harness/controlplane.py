"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok with one fake node. Binaries come from hack/testbin/build.sh (built from Go
modules and cached outside the repo). Used by the pytest session fixture and by `make demo`.

Only processes started here are ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.certs import LocalCA, rsa_key_pem

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "testbin" / "build.sh"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started (never a reason to skip tests)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def testbin() -> Path:
    """Build or reuse the binaries; progress goes to stderr."""
    result = subprocess.run(["bash", str(BUILD)], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"building the control plane failed (exit {result.returncode}); see output above")
    return Path(result.stdout.strip().splitlines()[-1])


def wait_ready(proc: Process, ready: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    """Until `ready()` holds; a process that exits or never gets ready fails with the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise ControlPlaneError(f"{proc.name} exited early:\n{proc.tail()}")
        if ready():
            return
        time.sleep(interval)
    raise ControlPlaneError(f"{proc.name} not ready after {timeout}s:\n{proc.tail()}")


@dataclass
class Process:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        handle.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ControlPlane:
    workdir: Path
    bin: Path = field(default_factory=testbin)
    processes: dict[str, Process] = field(default_factory=dict)
    node_name: str = "kwok-node-0"
    # a real node (tests/harness/node.py) instead of kwok: pods reach the API server at this address
    # (the node's bridge), which it advertises as the `kubernetes` Service's endpoint on port 6443
    pod_gateway: str | None = None
    # client rate limit of the controller manager and the scheduler (their defaults, 20/30 and 50/100 QPS,
    # make a bulk load wait on the controllers creating ReplicaSets and Pods: the scale benchmark raises it)
    controller_qps: int | None = None
    # the API server's /debug/pprof (benchmarks record where its time goes; off otherwise, as in production)
    profiling: bool = False

    def __post_init__(self) -> None:
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = self.workdir / "pki"
        self.pki.mkdir(exist_ok=True)
        self.ca = LocalCA.create("modelguard-local-cluster-ca")
        self.ca_file = self.pki / "ca.crt"
        self.ca_file.write_bytes(self.ca.pem)
        self.serving = self.ca.write(
            self.pki,
            "apiserver",
            self.ca.issue("kube-apiserver", hosts=self._serving_hosts()),
        )
        self.admin = self.ca.write(
            self.pki, "admin", self.ca.issue("admin", organization="system:masters", client=True)
        )
        self.sa_key = self.pki / "sa.key"
        self.sa_key.write_bytes(rsa_key_pem())
        self.sa_key.chmod(0o600)
        self.etcd_port, self.etcd_peer_port, self.api_port = free_port(), free_port(), free_port()
        if self.pod_gateway:
            self.api_port = 6443  # the port NetworkPolicies (the chart's among them) allow for the API server
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go servers do: TIME_WAIT is fine
                try:
                    sock.bind(("0.0.0.0", self.api_port))
                except OSError as exc:
                    raise ControlPlaneError(f"port {self.api_port} is in use: the e2e API server needs it") from exc
        self.url = f"https://127.0.0.1:{self.api_port}"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(self.kubeconfig_text("admin", cert=self.admin))

    # -- configuration -------------------------------------------------------------------------

    def _serving_hosts(self) -> tuple[str, ...]:
        hosts = ("127.0.0.1", "localhost", "kubernetes.default.svc")
        if self.pod_gateway:
            hosts += (
                self.pod_gateway,
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc.cluster.local",
            )
        return hosts

    def kubeconfig_text(self, user: str, *, cert: tuple[Path, Path] | None = None, token: str | None = None) -> str:
        creds: dict[str, str] = (
            {"token": token}
            if token
            else {"client-certificate": str(cert[0]), "client-key": str(cert[1])}
            if cert
            else {}
        )
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "local",
                "clusters": [
                    {"name": "local", "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)}}
                ],
                "users": [{"name": user, "user": creds}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            },
            indent=2,
        )

    def _apiserver_args(self) -> list[str]:
        args = self._apiserver_base_args()
        if not self.pod_gateway:
            return [
                *args,
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",  # loopback endpoints are invalid
                "--authorization-mode=RBAC",
            ]
        return [
            *args,
            "--bind-address=0.0.0.0",
            f"--advertise-address={self.pod_gateway}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-client-certificate={self.admin[0]}",
            f"--kubelet-client-key={self.admin[1]}",
            f"--kubelet-certificate-authority={self.ca_file}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
        ]

    def _apiserver_base_args(self) -> list[str]:
        return [
            str(self.bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={self.serving[0]}",
            f"--tls-private-key-file={self.serving[1]}",
            f"--client-ca-file={self.ca_file}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self.sa_key}",
            f"--service-account-signing-key-file={self.sa_key}",
            "--service-cluster-ip-range=10.0.0.0/16",  # room for thousands of Services (bench/bench_scale.py)
            "--allow-privileged=true",
            f"--profiling={'true' if self.profiling else 'false'}",
            "--enable-priority-and-fairness=false",
            "--v=0",
        ]

    def _specs(self) -> dict[str, list[str]]:
        kc = f"--kubeconfig={self.kubeconfig}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        return {
            "etcd": [
                str(self.bin / "etcd"),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
                "--quota-backend-bytes=4294967296",
            ],
            "kube-apiserver": self._apiserver_args(),
            "kube-controller-manager": [
                str(self.bin / "kube-controller-manager"),
                kc,
                "--leader-elect=false",
                "--secure-port=0",
                f"--root-ca-file={self.ca_file}",
                f"--service-account-private-key-file={self.sa_key}",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--v=0",
                *self._qps(),
            ],
            "kube-scheduler": [
                str(self.bin / "kube-scheduler"),
                kc,
                "--leader-elect=false",
                "--secure-port=0",
                "--v=0",
                *self._qps(),
            ],
            "kwok": [
                str(self.bin / "kwok"),
                kc,
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
            ],
        }

    def _qps(self) -> list[str]:
        if self.controller_qps is None:
            return []
        return [f"--kube-api-qps={self.controller_qps}", f"--kube-api-burst={2 * self.controller_qps}"]

    # -- lifecycle -----------------------------------------------------------------------------

    def _launch(self, name: str) -> Process:
        proc = Process(name, self._specs()[name], self.workdir / f"{name}.log")
        proc.start()
        self.processes[name] = proc
        return proc

    def start(self, timeout: float = 90.0) -> ControlPlane:
        started = time.monotonic()
        self._launch("etcd")
        self._wait("etcd", lambda: self._http_ok(f"http://127.0.0.1:{self.etcd_port}/health"), timeout)
        self.start_apiserver(timeout)
        for name in ("kube-controller-manager", "kube-scheduler"):
            self._launch(name)
        if self.pod_gateway:  # the real node registers itself (tests/harness/node.py)
            self.start_seconds = time.monotonic() - started
            return self
        self._launch("kwok")
        self.kubectl("apply", "-f", "-", stdin=json.dumps(self.fake_node()))
        self.kubectl("wait", "--for=condition=Ready", f"node/{self.node_name}", "--timeout=60s")
        # the node lifecycle controller lifts the not-ready taint once the node reports Ready
        self.kubectl("wait", "--for=jsonpath={.spec.taints}=", f"node/{self.node_name}", "--timeout=60s", check=False)
        self.start_seconds = time.monotonic() - started
        return self

    def start_apiserver(self, timeout: float = 90.0) -> None:
        self._launch("kube-apiserver")
        self._wait("kube-apiserver", self._api_ready, timeout)

    def stop_apiserver(self) -> None:
        self.processes["kube-apiserver"].stop()

    def stop(self) -> None:
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self.processes.get(name)
            if proc is not None:
                proc.stop()

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        wait_ready(self.processes[name], ready, timeout)

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.admin[0]), str(self.admin[1]))
        return ctx

    @staticmethod
    def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _api_ready(self) -> bool:
        if not self._http_ok(f"{self.url}/readyz", self._ssl()):
            return False
        return all(
            self._http_ok(f"{self.url}/api/v1/namespaces/{ns}", self._ssl()) for ns in ("default", "kube-system")
        )

    def fake_node(self) -> dict[str, object]:
        resources = {"cpu": "32", "memory": "256Gi", "pods": "250", "nvidia.com/gpu": "8"}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "status": {"allocatable": resources, "capacity": resources},
        }

    # -- helpers -------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def logs(self, lines: int = 40) -> str:
        return "\n\n".join(f"--- {name} ({proc.log}) ---\n{proc.tail(lines)}" for name, proc in self.processes.items())


@contextlib.contextmanager
def running(workdir: Path, controller_qps: int | None = None, profiling: bool = False):  # type: ignore[no-untyped-def]
    plane = ControlPlane(workdir, controller_qps=controller_qps, profiling=profiling)
    try:
        yield plane.start()
    finally:
        plane.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":  # `python -m tests.harness.controlplane DIR`: start, print, wait for Ctrl-C
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".demo/cluster")
    with running(target) as plane:
        print(f"control plane up in {plane.start_seconds:.1f}s; export KUBECONFIG={plane.kubeconfig}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


def grant(plane: ControlPlane, namespace: str, user: str, resources: list[str]) -> None:
    """Give `user` every verb on these modelguard.io resources in one namespace, and nothing else."""
    role = f"{user}-modelguard"
    items = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role, "namespace": namespace},
            "rules": [{"apiGroups": ["modelguard.io"], "resources": resources, "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    ]
    plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
