"""A live pod spec is restricted only if it has every property (domain/pod_security.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from modelguard.builders.workload import deployment
from modelguard.domain.pod_security import template_violations, violations
from tests.unit.test_builders import FACTS

BUILT = deployment(FACTS)


def test_what_modelguard_builds_is_restricted() -> None:
    assert template_violations(BUILT) == []


def _pod(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    pod = copy.deepcopy(BUILT["spec"]["template"]["spec"])
    change(pod)
    return pod


def _server(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == "model-server")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: p.update(hostNetwork=True), "hostNetwork"),
        (lambda p: p.update(hostPID=True), "hostPID"),
        (lambda p: p["volumes"].append({"name": "root", "hostPath": {"path": "/"}}), "volumes[root].hostPath"),
        (
            lambda p: _server(p)["securityContext"].update(privileged=True),
            "containers[model-server].securityContext.privileged",
        ),
        (
            lambda p: _server(p)["securityContext"].update(allowPrivilegeEscalation=True),
            "containers[model-server].securityContext.allowPrivilegeEscalation",
        ),
        (
            lambda p: _server(p)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "containers[model-server].securityContext.capabilities.add",
        ),
        (
            lambda p: _server(p)["securityContext"].update(runAsUser=0),
            "containers[model-server].securityContext.runAsUser",
        ),
        (
            lambda p: _server(p)["securityContext"].update(runAsNonRoot=False),
            "containers[model-server].securityContext.runAsNonRoot",
        ),
        (
            lambda p: _server(p)["securityContext"].update(readOnlyRootFilesystem=False),
            "containers[model-server].securityContext.readOnlyRootFilesystem",
        ),
        (
            lambda p: _server(p)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
            "containers[model-server].securityContext.seccompProfile",
        ),
        (
            lambda p: _server(p)["ports"].append({"containerPort": 22, "hostPort": 22}),
            "containers[model-server].ports.hostPort",
        ),
        (
            lambda p: p["initContainers"].append({"name": "sneaky", "image": "x"}),
            "initContainers[sneaky].securityContext.privileged",
        ),
    ],
)
def test_each_unsafe_field_someone_adds_is_found(change: Callable[[dict[str, Any]], None], path: str) -> None:
    found = violations(_pod(change))
    if path.endswith("privileged") and "sneaky" in path:  # a bare container lacks every setting
        assert "initContainers[sneaky].securityContext.allowPrivilegeEscalation" in found
    else:
        assert path in found


def test_net_bind_service_is_the_one_capability_allowed() -> None:
    pod = _pod(lambda p: _server(p)["securityContext"]["capabilities"].update(add=["NET_BIND_SERVICE"]))
    assert violations(pod) == []
