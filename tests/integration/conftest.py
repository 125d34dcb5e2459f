"""Fixtures for integration tests: a real control plane, the CRDs, the operator as a process.

A control plane that cannot be built or started fails the session: these tests never skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.client import KubeTestClient
from tests.harness.controlplane import REPO, ControlPlane, free_port
from tests.harness.operator import OperatorProcess, start_with_webhooks
from tests.harness.servers import HttpsFileServer, Registry

SOURCE_SLOTS = 3  # source work at once in the operator
SOURCE_SLOTS_PER_NAMESPACE = 2  # ... for one namespace
FETCH_DEADLINE = 6.0  # seconds for a signature or SBOM (all loopback here)
_planes: list[ControlPlane] = []
_operators: list[OperatorProcess] = []


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("cluster"))
    _planes.append(plane)
    try:
        plane.start()
        plane.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def api(cluster: ControlPlane) -> KubeTestClient:
    return KubeTestClient(cluster.kubeconfig)


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's allowed file:// root: tests publish signed models below it."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def https_files(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsFileServer]:
    server = HttpsFileServer(tmp_path_factory.mktemp("https-root"), cluster.ca, tmp_path_factory.mktemp("https"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def registry(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"), cluster.ca).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def operator(
    cluster: ControlPlane, models_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator with its admission webhook (fail-closed configuration) and file:// root."""
    metrics_port = free_port()
    proc = start_with_webhooks(
        cluster,
        tmp_path_factory.mktemp("operator"),
        f"modelguard-test-{metrics_port}",
        [
            "--file-root",
            str(models_root),
            "--ca-bundle",
            str(cluster.ca_file),
            "--metrics-port",
            str(metrics_port),
            "--metrics-host",
            "127.0.0.1",
            "--source-slots",
            str(SOURCE_SLOTS),
            "--source-slots-per-namespace",
            str(SOURCE_SLOTS_PER_NAMESPACE),
            "--fetch-deadline",
            str(FETCH_DEADLINE),
        ],
    )
    proc.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    _operators.append(proc)
    try:
        yield proc
    finally:
        for config in proc.webhook_configs:
            cluster.kubectl(
                "delete",
                str(config["kind"]).lower(),
                str(config["metadata"]["name"]),  # type: ignore[index]
                check=False,
            )
        proc.stop()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: ControlPlane) -> Iterator[str]:
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{digest}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed and ("cluster" in getattr(item, "fixturenames", ())):
        for plane in _planes:
            report.sections.append(("control plane logs", plane.logs()))
        for proc in _operators:
            report.sections.append(("operator log", proc.tail(120)))
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
