"""A small synchronous client for tests (explicit kubeconfig; never the process environment)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "modelguard.io", "v1alpha1"
T = TypeVar("T")


class KubeTestClient:
    def __init__(self, kubeconfig: Path) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def create(self, plural: str, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if namespace is None:
            return self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body)  # type: ignore[no-any-return]
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)  # type: ignore[no-any-return]

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        if namespace is None:
            return self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)  # type: ignore[no-any-return]
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)  # type: ignore[no-any-return]

    def patch(self, plural: str, namespace: str | None, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        if namespace is None:
            return self.custom.patch_cluster_custom_object(GROUP, VERSION, plural, name, patch)  # type: ignore[no-any-return]
        return self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, patch)  # type: ignore[no-any-return]

    def delete(self, plural: str, namespace: str | None, name: str) -> None:
        try:
            if namespace is None:
                self.custom.delete_cluster_custom_object(GROUP, VERSION, plural, name)
            else:
                self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def condition(body: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def eventually(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
) -> T:
    """Poll until probe returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except ApiException as exc:
            last = f"ApiException {exc.status}"
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


def wait_for_condition(
    api: KubeTestClient,
    plural: str,
    namespace: str | None,
    name: str,
    type_: str,
    status: str,
    reason: str | None = None,
    timeout: float = 45,
    current_generation: bool = False,
) -> dict[str, Any]:
    """Wait until the object's condition has this status (and reason); returns the object."""

    def probe() -> dict[str, Any] | None:
        body = api.get(plural, namespace, name)
        cond = condition(body, type_)
        if not cond or cond["status"] != status or (reason is not None and cond["reason"] != reason):
            return None
        if current_generation and cond.get("observedGeneration") != body["metadata"]["generation"]:
            return None
        return body

    return eventually(probe, timeout=timeout, what=f"{plural}/{name} {type_}={status} {reason or ''}")


def gone(read: Callable[[], Any]) -> bool:
    """True when reading the object answers 404."""
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False
