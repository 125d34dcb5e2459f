"""Read-only access to the cluster for the CLI commands ($KUBECONFIG or in-cluster credentials)."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelguard.adapters.kube import Kube

API = "/apis/modelguard.io/v1alpha1"


def get(path: str) -> dict[str, Any]:
    """GET an API path (raises on any API or connection error)."""
    return _kube().call("GET", path)


@functools.cache
def _kube() -> Kube:
    """Credentials as the official client reads them (exec plugins and cloud logins included: these
    commands run on workstations), requests through the operator's own adapter."""
    from kubernetes import config as kube_config
    from kubernetes.client import Configuration

    from modelguard.adapters.kube import Kube
    from modelguard.adapters.kube_connection import from_client_configuration

    configuration = Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        kube_config.load_incluster_config(client_configuration=configuration)
    else:
        kube_config.load_kube_config(client_configuration=configuration)
    return Kube(from_client_configuration(configuration))


def items(plural: str, namespace: str | None = None, api: str = API) -> list[dict[str, Any]]:
    """The objects of one kind, in one namespace or all (`api` for core kinds: /api/v1)."""
    path = f"{api}/namespaces/{namespace}/{plural}" if namespace else f"{api}/{plural}"
    return list(get(path).get("items") or [])


def configmap(namespace: str, name: str) -> dict[str, str]:
    return dict(get(f"/api/v1/namespaces/{namespace}/configmaps/{name}").get("data") or {})


def operator_public_key(operator_namespace: str) -> bytes:
    """The operator's public key (PEM) as it publishes it, to check its signatures."""
    from modelguard.adapters.signing_key import PUBLIC, PUBLIC_KEY

    return configmap(operator_namespace, PUBLIC)[PUBLIC_KEY].encode()
