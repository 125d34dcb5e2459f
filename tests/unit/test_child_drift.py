"""Children are ModelGuard's alone, every kind (issue 27, item 9): a managed Service, NetworkPolicy, ConfigMap,
ServiceAccount or Secret is compared whole with what ModelGuard builds, so what someone else *adds* (an
external IP, a port, an allow-all rule, a data key) is found as well as what they change, and is removed (the
object is replaced: server-side apply keeps fields another manager owns); drift is reported as reverted only
when the object read back equals what ModelGuard builds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from modelguard.domain.drift import additions, child_view, mismatches
from tests.unit.test_child_reversion import ACCOUNT, ALLOW, CONFIG, DENY_ALL, SECRET, SERVICE


def served(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server stores it: defaults and assigned fields filled in, as the cache holds it."""
    live = copy.deepcopy(obj)
    live["metadata"] = {**live["metadata"], "uid": "child-uid", "resourceVersion": "7"}
    if obj["kind"] == "Service":
        spec = live["spec"]
        defaults = {
            "clusterIP": "10.0.0.7",
            "clusterIPs": ["10.0.0.7"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
        }
        if spec["type"] in ("LoadBalancer", "NodePort"):
            defaults.update(externalTrafficPolicy="Cluster")
            if spec["type"] == "LoadBalancer":
                defaults.update(allocateLoadBalancerNodePorts=True)
            for i, port in enumerate(spec["ports"]):
                port["nodePort"] = 30080 + i
        live["spec"] = {**defaults, **spec}
        live["status"] = {"loadBalancer": {}}
    return child_view(obj["kind"], live)


@pytest.mark.parametrize(
    "desired",
    [
        SERVICE,
        {**SERVICE, "spec": {**SERVICE["spec"], "type": "LoadBalancer"}},
        DENY_ALL,
        ALLOW,
        CONFIG,
        ACCOUNT,
        SECRET,
    ],
    ids=["service", "load-balancer", "deny-all", "allow", "configmap", "serviceaccount", "secret"],
)
def test_what_the_api_server_fills_in_is_not_drift(desired: dict[str, Any]) -> None:
    assert mismatches(desired, served(desired)) == []


def spec(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda obj: change(obj["spec"])


TAMPERED: list[tuple[dict[str, Any], Callable[[dict[str, Any]], None], list[str]]] = [
    (SERVICE, spec(lambda s: s.update(externalIPs=["203.0.113.9"])), ["spec.externalIPs"]),
    (
        SERVICE,
        spec(lambda s: s["ports"].append({"name": "debug", "port": 81, "targetPort": 22, "protocol": "TCP"})),
        ["spec.ports"],
    ),
    (
        SERVICE,
        spec(lambda s: s.update(type="ExternalName", externalName="evil.example")),
        ["spec.type", "spec.externalName"],
    ),
    (SERVICE, spec(lambda s: s.update(type="NodePort")), ["spec.type"]),
    (SERVICE, spec(lambda s: s.update(loadBalancerSourceRanges=["0.0.0.0/0"])), ["spec.loadBalancerSourceRanges"]),
    (SERVICE, spec(lambda s: s["selector"].update(extra="pod")), ["spec.selector.extra"]),
    (SERVICE, spec(lambda s: s.update(sessionAffinity="ClientIP")), ["spec.sessionAffinity"]),
    (SERVICE, spec(lambda s: s["ports"][0].update(appProtocol="h2c")), ["spec.ports[0].appProtocol"]),
    (SERVICE, spec(lambda s: s.update(publishNotReadyAddresses=True)), ["spec.publishNotReadyAddresses"]),
    (DENY_ALL, spec(lambda s: s.update(ingress=[{}])), ["spec.ingress"]),
    (DENY_ALL, spec(lambda s: s.update(policyTypes=["Egress"])), ["spec.policyTypes"]),
    (DENY_ALL, spec(lambda s: s.update(podSelector={})), ["spec.podSelector.matchLabels"]),
    (ALLOW, spec(lambda s: s["ingress"].append({})), ["spec.ingress"]),
    (
        ALLOW,
        spec(lambda s: s["ingress"][0]["from"].append({"ipBlock": {"cidr": "0.0.0.0/0"}})),
        ["spec.ingress[0].from"],
    ),
    (ALLOW, spec(lambda s: s["ingress"][0].pop("ports")), ["spec.ingress[0].ports"]),
    (ALLOW, spec(lambda s: s.update(egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])), ["spec.egress"]),
    (CONFIG, lambda o: o["data"].update(extra="y"), ["data.extra"]),
    (CONFIG, lambda o: o.update(binaryData={"blob": "AA=="}), ["binaryData"]),
    (ACCOUNT, lambda o: o.update(automountServiceAccountToken=True), ["automountServiceAccountToken"]),
    (ACCOUNT, lambda o: o.update(imagePullSecrets=[{"name": "theirs"}]), ["imagePullSecrets"]),
    (ACCOUNT, lambda o: o.update(secrets=[{"name": "token"}]), ["secrets"]),
    (SECRET, lambda o: o["data"].update(extra="Yg=="), ["dataHash"]),
]


@pytest.mark.parametrize(("desired", "tamper", "paths"), TAMPERED, ids=[f"{d['kind']}-{p[-1]}" for d, _, p in TAMPERED])
def test_every_field_someone_adds_or_changes_is_found(
    desired: dict[str, Any], tamper: Callable[[dict[str, Any]], None], paths: list[str]
) -> None:
    live = copy.deepcopy(desired)
    tamper(live)
    assert mismatches(desired, served(live)) == paths


def test_additions_are_what_server_side_apply_would_keep() -> None:
    """A changed value apply sets back (it forces ownership); an added field or list item it keeps."""
    changed = copy.deepcopy(SERVICE)
    changed["spec"]["ports"][0]["targetPort"] = 22
    assert additions(SERVICE, served(changed)) == []
    added = copy.deepcopy(SERVICE)
    added["spec"]["externalIPs"] = ["203.0.113.9"]
    assert additions(SERVICE, served(added)) == ["spec.externalIPs"]
    assert additions(DENY_ALL, served({**DENY_ALL, "spec": {**DENY_ALL["spec"], "ingress": [{}]}})) == ["spec.ingress"]


def test_every_child_modelguard_builds_is_equal_to_itself_as_served() -> None:
    """The builders' own objects (every kind but the Deployment) pass the whole comparison once the API server
    filled in its defaults: the operator's own writes are never drift."""
    from dataclasses import replace

    from modelguard.builders import model_cache, network, workload
    from tests.unit.test_builders import FACTS

    owner = workload.owner(FACTS)
    spec = FACTS.spec
    exposed = spec.model_copy(update={"access": spec.access.model_copy(update={"exposure": "External"})})
    external = replace(FACTS, spec=exposed)
    built = [
        workload.service_account(FACTS),
        workload.verify_config(FACTS, b"signature", b"key"),
        workload.gateway_config(FACTS, "conf"),
        workload.gateway_keys(FACTS, "map"),
        workload.service(FACTS),
        workload.service(external),
        model_cache.service(FACTS),
        network.default_deny(FACTS.name, FACTS.namespace, owner),
        network.allow(FACTS.name, FACTS.namespace, spec, owner, "monitoring"),
        network.cache(FACTS.name, FACTS.namespace, spec, owner),
        network.quarantine(FACTS.name, FACTS.namespace, owner),
    ]
    for obj in built:
        assert mismatches(obj, served(obj)) == [], obj["kind"]


def test_a_replacement_sets_what_the_object_does_whole_and_keeps_its_metadata() -> None:
    """The JSON patch that removes what someone added: the live resourceVersion as precondition, the compared
    fields whole, fields ModelGuard never sets removed; annotations and finalizers are not touched."""
    from modelguard.domain.drift import replacement

    live = served({**SERVICE, "spec": {**SERVICE["spec"], "externalIPs": ["203.0.113.9"]}})
    assert replacement(SERVICE, live) == [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "add", "path": "/spec", "value": SERVICE["spec"]},
    ]
    tampered = served({**ACCOUNT, "imagePullSecrets": [{"name": "theirs"}], "secrets": [{"name": "token"}]})
    assert replacement(ACCOUNT, tampered)[1:] == [
        {"op": "add", "path": "/automountServiceAccountToken", "value": False},
        {"op": "remove", "path": "/secrets"},
        {"op": "remove", "path": "/imagePullSecrets"},
    ]
    assert replacement(SECRET, served({**SECRET, "data": {"x": "eQ=="}}))[1:] == [
        {"op": "add", "path": "/type", "value": "Opaque"},
        {"op": "add", "path": "/data", "value": SECRET["data"]},
    ]
    deployment = {"kind": "Deployment", "metadata": {"name": "svc"}, "spec": {"replicas": 1}}
    assert replacement(deployment, {**deployment, "metadata": {"resourceVersion": "3"}})[1:] == [
        {"op": "add", "path": "/spec", "value": {"replicas": 1}}
    ]
