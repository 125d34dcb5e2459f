"""Reverting what a tenant added to a managed child (issue 27, item 9), against an in-memory API server that
behaves as server-side apply does (fields another manager added are kept) and as a JSON patch does (what it
replaces whole is replaced whole)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest

from modelguard.adapters.cache import Key, Store
from modelguard.adapters.resources import BY_CHILD_KIND
from modelguard.domain.drift import cache_view, secret_view

OWNER = {
    "apiVersion": "modelguard.io/v1alpha1",
    "kind": "AIDeployment",
    "name": "svc",
    "uid": "uid-1",
    "controller": True,
}
META = {
    "name": "svc",
    "namespace": "team",
    "labels": {"app.kubernetes.io/managed-by": "modelguard"},
    "ownerReferences": [OWNER],
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": META,
    "spec": {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/instance": "svc"},
        "ports": [{"name": "http", "port": 80, "targetPort": "gateway", "protocol": "TCP"}],
    },
}
DENY_ALL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {**META, "name": "svc-deny-all"},
    "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "svc"}},
        "policyTypes": ["Ingress", "Egress"],
    },
}
ALLOW = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {**META, "name": "svc-allow"},
    "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "svc"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                "ports": [{"protocol": "TCP", "port": 8000}],
            }
        ],
        "egress": [],
    },
}
CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {**META, "name": "svc-gateway"},
    "data": {"nginx.conf": "x"},
}
ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": META, "automountServiceAccountToken": False}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": {**META, "name": "k"},
    "data": {"clients.map": "YQ=="},
}


def served(obj: dict[str, Any]) -> dict[str, Any]:
    """What the watch cache holds of a stored object (the API server's defaults do not matter here)."""
    view = cache_view(copy.deepcopy(obj), foreign=True)
    return secret_view(view) if obj["kind"] == "Secret" else view


class FakeApi:
    """The API server for one namespace: writes land (or a mutating webhook re-adds what was removed)."""

    def __init__(
        self, store: Store, objects: list[dict[str, Any]], webhook: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.store, self.webhook = store, webhook
        self.objects = {
            (o["kind"], o["metadata"]["name"]): {**o, "metadata": {**o["metadata"], "resourceVersion": "7"}}
            for o in objects
        }
        self.calls: list[tuple[str, str]] = []
        self.version = 7

    def _write(self, verb: str, obj: dict[str, Any], merge: bool) -> dict[str, Any]:
        key = (obj["kind"], obj["metadata"]["name"])
        self.calls.append((verb, f"{key[0]}/{key[1]}"))
        before = self.objects.get(key)
        body = copy.deepcopy(obj)
        if merge and before is not None:  # server-side apply keeps what other managers added
            for field in ("spec", "data"):
                kept = {k: v for k, v in (before.get(field) or {}).items() if k not in (body.get(field) or {})}
                if kept:
                    body[field] = {**(body.get(field) or {}), **kept}
            if obj["kind"] == "Service":
                ours = {(p["port"], p["protocol"]) for p in body["spec"]["ports"]}
                body["spec"]["ports"] += [p for p in before["spec"]["ports"] if (p["port"], p["protocol"]) not in ours]
            if obj["kind"] == "Deployment":  # containers: a list keyed by name
                pod, was = body["spec"]["template"]["spec"], before["spec"]["template"]["spec"]
                ours = {c["name"] for c in pod["containers"]}
                pod["containers"] += [c for c in was["containers"] if c["name"] not in ours]
        if self.webhook is not None:
            self.webhook(body)
        self.version += 1
        body["metadata"] = {**body["metadata"], "resourceVersion": str(self.version)}
        self.objects[key] = body
        return copy.deepcopy(body)

    async def apply(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return self._write("apply", obj, merge=True)

    async def request(self, method: str, path: str, *, body: Any, query: Any, content_type: str) -> dict[str, Any]:
        """A JSON patch (what a replacement is): applied op by op to the stored object, as the API server does."""
        assert (method, content_type) == ("PATCH", "application/json-patch+json") and (
            "fieldManager",
            "modelguard",
        ) in query
        plural, name = path.rsplit("/", 2)[-2:]
        kind = next(k for k, res in BY_CHILD_KIND.items() if res.plural == plural)
        stored = copy.deepcopy(self.objects[kind, name])
        for op in body:
            field = op["path"].strip("/").split("/")
            if field == ["metadata", "resourceVersion"]:
                assert op["value"] == stored["metadata"]["resourceVersion"], "409: changed since"
            elif op["op"] == "add":
                stored[field[0]] = op["value"]
            else:
                del stored[field[0]]
        return self._write("patch", stored, merge=False)

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        found = self.objects.get((res.kind, name))
        return None if found is None else copy.deepcopy(found)


def pass_over(api: FakeApi, store: Store, children: list[dict[str, Any]], previous: list[str]) -> Any:
    from modelguard.reconcilers.context import Context
    from modelguard.reconcilers.deployment_children import _apply

    ctx = Context(kube=api, store=store, events=None, verifier=None)  # type: ignore[arg-type]
    return ctx, asyncio.run(_apply(ctx, Key("AIDeployment", "team", "svc"), "uid-1", children, previous))


def tampered_world(webhook: Callable[[dict[str, Any]], None] | None = None) -> tuple[FakeApi, Store, list[str]]:
    store = Store()
    store.upsert(Key("AIDeployment", "team", "svc"), {"metadata": {"name": "svc", "namespace": "team", "uid": "uid-1"}})
    service = copy.deepcopy(SERVICE)
    service["spec"]["externalIPs"] = ["203.0.113.9"]
    service["spec"]["ports"].append({"name": "debug", "port": 81, "targetPort": 22, "protocol": "TCP"})
    deny = copy.deepcopy(DENY_ALL)
    deny["spec"]["ingress"] = [{}]
    api = FakeApi(store, [service, deny, CONFIG], webhook)
    for obj in api.objects.values():
        store.upsert(Key(obj["kind"], "team", obj["metadata"]["name"]), served(obj))
    return api, store, ["Service/svc", "NetworkPolicy/svc-deny-all", "ConfigMap/svc-gateway"]


def test_a_tenants_external_ip_port_and_allow_all_rule_are_removed_and_reported_once_gone() -> None:
    api, store, previous = tampered_world()
    _, applied = pass_over(api, store, [SERVICE, DENY_ALL, CONFIG], previous)
    assert ("patch", "Service/svc") in api.calls and ("patch", "NetworkPolicy/svc-deny-all") in api.calls
    assert not [c for c in api.calls if c[1] == "ConfigMap/svc-gateway"]  # untouched: nothing differed
    service = api.objects["Service", "svc"]["spec"]
    assert "externalIPs" not in service and [p["port"] for p in service["ports"]] == [80]
    assert "ingress" not in api.objects["NetworkPolicy", "svc-deny-all"]["spec"]
    assert applied.drift == ["Service/svc (spec.externalIPs, spec.ports)", "NetworkPolicy/svc-deny-all (spec.ingress)"]


def test_drift_that_comes_back_at_once_is_not_reported_as_reverted() -> None:
    """Evidence never lies: a mutating webhook (or a controller) puts the external IP back on every write."""
    from modelguard.domain.errors import VerificationError

    api, store, previous = tampered_world(
        webhook=lambda body: (
            body["spec"].setdefault("externalIPs", ["203.0.113.9"]) if body["kind"] == "Service" else None
        )
    )
    with pytest.raises(VerificationError) as persists:
        pass_over(api, store, [SERVICE, DENY_ALL, CONFIG], previous)
    assert persists.value.reason == "DriftPersists"
    assert "Service/svc" in persists.value.message and "spec.externalIPs" in persists.value.message


def test_the_operators_own_write_is_not_drift_while_the_cache_lags_behind_it() -> None:
    """Right after a revert the watch cache still shows the tampered object: the next pass reads the API
    instead of reverting (or reporting) the same drift again."""
    api, store, previous = tampered_world()
    ctx, first = pass_over(api, store, [SERVICE, DENY_ALL, CONFIG], previous)
    assert first.drift
    calls = len(api.calls)
    from modelguard.reconcilers.deployment_children import _apply

    again = asyncio.run(_apply(ctx, Key("AIDeployment", "team", "svc"), "uid-1", [SERVICE, DENY_ALL, CONFIG], previous))
    assert again.drift == [] and len(api.calls) == calls


def test_a_container_a_tenant_adds_to_a_managed_deployment_is_removed() -> None:
    """A sidecar with a restricted securityContext breaks no pod-security rule, and apply keeps it (containers
    are keyed by name): someone else's drift in a Deployment is removed by replacing its spec whole too."""
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    server = {"name": "model-server", "image": "server@sha256:" + "a" * 64, "securityContext": restricted}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": META,
        "spec": {"replicas": 1, "template": {"spec": {"containers": [server]}}},
    }
    tampered = copy.deepcopy(deployment)
    sidecar = {"name": "helper", "image": "evil.example/exfil:latest", "securityContext": restricted}
    tampered["spec"]["template"]["spec"]["containers"].append(sidecar)
    store = Store()
    store.upsert(Key("AIDeployment", "team", "svc"), {"metadata": {"name": "svc", "namespace": "team", "uid": "uid-1"}})
    api = FakeApi(store, [tampered])
    store.upsert(Key("Deployment", "team", "svc"), served(api.objects["Deployment", "svc"]))
    _, applied = pass_over(api, store, [deployment], ["Deployment/svc"])
    containers = api.objects["Deployment", "svc"]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["model-server"]
    assert applied.drift == ["Deployment/svc (spec.template.spec)"]
