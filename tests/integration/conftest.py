"""Fixtures for integration tests: a real control plane, the CRDs, the operator as a process.

A control plane that cannot be built or started fails the session: these tests never skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.client import KubeTestClient
from tests.harness.controlplane import REPO, ControlPlane
from tests.harness.operator import OperatorProcess

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
def operator(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log").start()
    _operators.append(proc)
    try:
        yield proc
    finally:
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
