"""Read-only access to the cluster for the CLI commands ($KUBECONFIG or in-cluster credentials)."""

from __future__ import annotations

from typing import Any

API = "/apis/modelguard.io/v1alpha1"


def get(path: str) -> dict[str, Any]:
    """GET an API path (raises on any API or connection error)."""
    from modelguard.cli.run import api_client

    data: dict[str, Any] = api_client().call_api(
        path, "GET", response_type="object", auth_settings=["BearerToken"], _return_http_data_only=True
    )
    return data


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
