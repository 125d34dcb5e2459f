"""NetworkPolicies around a serving workload (pure): deny everything, then allow exactly what is declared."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.builders.labels import cache_selector, labels, object_name, selector

GATEWAY_PORT = 8000
STATUS_PORT = 8001
CACHE_PORT = 8090  # the model cache's file server (builders/model_cache.py)


@dataclass(frozen=True)
class EventsRoute:
    """Where the gateways send the refusals they count (ADR 0018): `address` (IP:port, nginx resolves no
    names at run time) and, in a cluster, the operator's pods as a NetworkPolicy peer (namespace, labels,
    and the port on the pod: a Service's target port)."""

    address: str
    namespace: str | None = None
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_port: int | str = 0

    def egress(self) -> list[dict[str, Any]]:
        """The gateway's way to the operator: UDP to its pods' event port, nothing else."""
        if self.namespace is None or not self.pod_labels:
            return []
        peer = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
            "podSelector": {"matchLabels": dict(self.pod_labels)},
        }
        return [{"to": [peer], "ports": [{"protocol": "UDP", "port": self.pod_port}]}]


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


class EventsServiceUnusable(ValueError):
    """The Service gateways should send refusals to does not exist or has no UDP port with a cluster IP."""


def events_route(service: Mapping[str, Any] | None, name: str) -> EventsRoute:
    """Where gateways send refusals, from the collector's Service: its cluster IP and UDP port, and its pods
    (namespace and selector) with their target port, for the gateway's egress NetworkPolicy."""
    if service is None:
        raise EventsServiceUnusable(f"the gateway events Service {name} does not exist")
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP")
    ports = [p for p in spec.get("ports") or [] if p.get("protocol") == "UDP"]
    if not ip or ip == "None" or not ports or not spec.get("selector"):
        raise EventsServiceUnusable(f"the gateway events Service {name} needs a cluster IP, a selector and a UDP port")
    port = ports[0]
    host = f"[{ip}]" if ":" in ip else ip
    return EventsRoute(
        address=f"{host}:{port['port']}",
        namespace=str((service.get("metadata") or {}).get("namespace")),
        pod_labels=dict(spec["selector"]),
        pod_port=port.get("targetPort") or port["port"],
    )


def default_deny(deployment: str, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    """No ingress, no egress for the workload's pods unless another policy allows it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(object_name(deployment, "deny-all"), namespace, deployment, owner),
        "spec": {"podSelector": {"matchLabels": selector(deployment)}, "policyTypes": ["Ingress", "Egress"]},
    }


def allow(
    deployment: str,
    namespace: str,
    spec: AIDeploymentSpec,
    owner: dict[str, Any],
    monitoring_namespace: str | None,
    events: EventsRoute | None = None,
) -> dict[str, Any]:
    """Declared clients to the gateway port only; monitoring to the status port; egress to the deployment's
    model cache (the init container fetches from it) and, when the operator collects refusals, UDP to the
    operator's event port (the gateway's syslog): the model server can reach nothing else."""
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
    to_cache = {"to": [{"podSelector": {"matchLabels": cache_selector(deployment)}}], "ports": [_tcp(CACHE_PORT)]}
    return _allow_policy(deployment, namespace, owner, ingress, [to_cache, *(events.egress() if events else [])])


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def _declared_egress(spec: AIDeploymentSpec) -> list[dict[str, Any]]:
    egress: list[dict[str, Any]] = []
    for rule in spec.access.egress:
        entry: dict[str, Any] = {"to": [{"ipBlock": {"cidr": rule.cidr}}]}
        if rule.ports:
            entry["ports"] = [_tcp(p) for p in rule.ports]
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
    return egress


def cache(deployment: str, namespace: str, spec: AIDeploymentSpec, owner: dict[str, Any]) -> dict[str, Any]:
    """The model cache: ingress from this deployment's model server pods to the cache port only; egress as
    declared in spec.access.egress (the model source) and DNS when allowed. Empty when quarantined."""
    return _cache_policy(
        deployment,
        namespace,
        owner,
        [{"from": [{"podSelector": {"matchLabels": selector(deployment)}}], "ports": [_tcp(CACHE_PORT)]}],
        _declared_egress(spec),
    )


def cache_quarantine(deployment: str, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    return _cache_policy(deployment, namespace, owner, [], [])


def _cache_policy(
    deployment: str, namespace: str, owner: dict[str, Any], ingress: list[dict[str, Any]], egress: list[dict[str, Any]]
) -> dict[str, Any]:
    name = object_name(deployment, "model-cache")
    return _policy(name, cache_selector(deployment), namespace, deployment, owner, ingress, egress)


def _allow_policy(
    deployment: str, namespace: str, owner: dict[str, Any], ingress: list[dict[str, Any]], egress: list[dict[str, Any]]
) -> dict[str, Any]:
    name = object_name(deployment, "allow")
    return _policy(name, selector(deployment), namespace, deployment, owner, ingress, egress)


def _policy(
    name: str,
    pods: dict[str, str],
    namespace: str,
    deployment: str,
    owner: dict[str, Any],
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace, deployment, owner),
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def quarantine(deployment: str, namespace: str, owner: dict[str, Any]) -> dict[str, Any]:
    """The allow policy of a quarantined workload: allows nothing."""
    return _allow_policy(deployment, namespace, owner, [], [])
