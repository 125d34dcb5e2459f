"""NetworkPolicies around a serving workload (pure): deny everything, then allow exactly what is declared."""

from __future__ import annotations

from typing import Any

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.builders.labels import labels, object_name, selector

GATEWAY_PORT = 8000
STATUS_PORT = 8001


def _selector(sel: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sel.match_labels)
    if sel.match_expressions:
        out["matchExpressions"] = [
            {"key": r.key, "operator": r.operator, "values": list(r.values)} for r in sel.match_expressions
        ]
    return out


def _meta(name: str, namespace: str, deployment: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels(deployment, "network-policy"),
        "ownerReferences": [owner],
    }


def default_deny(deployment: str, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    """No ingress, no egress for the workload's pods unless another policy allows it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(object_name(deployment, "deny-all"), namespace, deployment, owner),
        "spec": {"podSelector": {"matchLabels": selector(deployment)}, "policyTypes": ["Ingress", "Egress"]},
    }


def allow(
    deployment: str, namespace: str, spec: AIDeploymentSpec, owner: dict[str, Any], monitoring_namespace: str | None
) -> dict[str, Any]:
    """Declared clients to the gateway port only; monitoring to the status port; declared egress."""
    ingress: list[dict[str, Any]] = []
    peers = []
    for client in spec.access.allowed_clients:
        peer: dict[str, Any] = {}
        if client.namespace_selector is not None:
            peer["namespaceSelector"] = _selector(client.namespace_selector)
        if client.pod_selector is not None:
            peer["podSelector"] = _selector(client.pod_selector)
        peers.append(peer)
    if peers:
        ingress.append({"from": peers, "ports": [{"protocol": "TCP", "port": GATEWAY_PORT}]})
    if monitoring_namespace:
        ingress.append(
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": monitoring_namespace}}}],
                "ports": [{"protocol": "TCP", "port": STATUS_PORT}],
            }
        )
    egress: list[dict[str, Any]] = []
    for rule in spec.access.egress:
        entry: dict[str, Any] = {"to": [{"ipBlock": {"cidr": rule.cidr}}]}
        if rule.ports:
            entry["ports"] = [{"protocol": "TCP", "port": p} for p in rule.ports]
        egress.append(entry)
    if spec.access.allow_dns:
        egress.append(
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        )
    return _allow_policy(deployment, namespace, owner, ingress, egress)


def _allow_policy(
    deployment: str, namespace: str, owner: dict[str, Any], ingress: list[dict[str, Any]], egress: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(object_name(deployment, "allow"), namespace, deployment, owner),
        "spec": {
            "podSelector": {"matchLabels": selector(deployment)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def quarantine(deployment: str, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    """The allow policy of a quarantined workload: allows nothing."""
    return _allow_policy(deployment, namespace, owner, [], [])
