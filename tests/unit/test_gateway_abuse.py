"""Gateway refusals (issue 19, item 1: abuse monitoring): what nginx sends, how it is parsed, attributed,
counted and summed up into audit records and OCSF findings (pure parts and the collector with fakes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from modelguard.adapters.audit_log import AuditUnavailable
from modelguard.adapters.gateway_events import QUEUE, Attribution, GatewayEvents, attribute
from modelguard.adapters.kube import KubeError
from modelguard.adapters.metrics import Metrics
from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.builders import network
from modelguard.builders.gateway import GatewayConfig, config_for, nginx_conf
from modelguard.builders.network import EventsRoute, EventsServiceUnusable, events_route
from modelguard.domain import gateway_abuse
from modelguard.domain.audit import Entry, seal
from modelguard.domain.gateway_abuse import (
    OTHER_CLIENT,
    ClientLabels,
    Refusal,
    SourceBudget,
    Tally,
    Target,
    parse,
)
from modelguard.domain.ocsf import to_ocsf
from tests.harness.samples import ai_deployment

A = Target("team-a", "svc")
B = Target("team-b", "svc")


def datagram(status: int = 401, client: str = "", remote: str = "10.244.0.9", hostname: bool = False) -> bytes:
    """What nginx sends: `<PRI>Mmm dd hh:mm:ss [host ]modelguard_gateway: <the access log line>`."""
    line = json.dumps({"time": "2026-12-07T12:00:00+00:00", "client": client, "remote": remote, "status": status})
    host = "gw-pod " if hostname else ""
    return f"<188>Dec  7 12:00:00 {host}modelguard_gateway: {line}".encode()


def test_refusals_are_parsed_with_or_without_a_hostname() -> None:
    assert parse(datagram(401)) == Refusal("unauthenticated", "-", "10.244.0.9")
    assert parse(datagram(429, "alice", hostname=True)) == Refusal("rate-limited", "alice", "10.244.0.9")


@pytest.mark.parametrize(
    "data",
    [
        datagram(200, "alice"),  # not a refusal
        datagram(403),
        datagram(429, "../../etc"),  # a client id no gateway could have written
        datagram(429, "a" * 64),
        datagram(401, remote="not-an-address"),
        b"<188>Dec  7 12:00:00 other_tag: " + datagram(401).split(b": ", 1)[1],
        datagram(401)[:-5],  # cut short
        b"<188>Dec  7 12:00:00 modelguard_gateway: [1, 2]",
        b"modelguard_gateway: {}",
        datagram(401) + b" " * 3000,  # oversized
        b"",
    ],
)
def test_anything_else_is_not_a_refusal(data: bytes) -> None:
    assert parse(data) is None


def test_the_gateway_sends_refusals_only_when_told_where() -> None:
    spec = AIDeploymentSpec.model_validate(ai_deployment("svc", "m")["spec"])
    assert "syslog" not in nginx_conf(config_for(spec, authenticated=True))
    conf = nginx_conf(config_for(spec, authenticated=True, events_to="10.0.0.17:5514"))
    assert "access_log syslog:server=10.0.0.17:5514,facility=local7,severity=warn,tag=modelguard_gateway" in conf
    assert "if=$modelguard_refused;" in conf
    assert "401 1;" in conf and "429 1;" in conf and "default 0;" in conf
    assert "access_log /dev/stdout audit;" in conf  # the pod's own log keeps every request


@pytest.mark.parametrize("where", ["collector.modelguard-system:5514", "10.0.0.17", "10.0.0.17:5514;include x"])
def test_the_gateway_refuses_a_collector_that_is_not_an_address(where: str) -> None:
    with pytest.raises(ValueError, match="IP:port"):
        nginx_conf(GatewayConfig(upstream_port=8080, authenticated=True, events_to=where))


def test_the_gateway_may_reach_the_operators_event_port_and_nothing_more() -> None:
    spec = AIDeploymentSpec.model_validate(ai_deployment("svc", "m")["spec"])
    route = EventsRoute("10.0.0.17:5514", "modelguard-system", {"app.kubernetes.io/name": "modelguard"}, 5514)
    egress = network.allow("svc", "team-a", spec, {}, None, route)["spec"]["egress"]
    assert egress[-1] == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "modelguard-system"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "modelguard"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 5514}],
    }
    without = network.allow("svc", "team-a", spec, {}, None)["spec"]["egress"]
    assert egress[:-1] == without
    assert network.allow("svc", "team-a", spec, {}, None, EventsRoute("127.0.0.1:5514"))["spec"]["egress"] == without


def test_the_route_comes_from_the_collectors_service() -> None:
    service = {
        "metadata": {"namespace": "modelguard-system", "name": "modelguard-gateway-events"},
        "spec": {
            "clusterIP": "10.0.0.17",
            "selector": {"app.kubernetes.io/name": "modelguard"},
            "ports": [{"name": "gateway-events", "port": 5514, "targetPort": 5515, "protocol": "UDP"}],
        },
    }
    route = events_route(service, "modelguard-system/modelguard-gateway-events")
    assert route == EventsRoute("10.0.0.17:5514", "modelguard-system", {"app.kubernetes.io/name": "modelguard"}, 5515)
    with pytest.raises(EventsServiceUnusable, match="does not exist"):
        events_route(None, "x/y")
    headless = {**service, "spec": {**service["spec"], "clusterIP": "None"}}
    with pytest.raises(EventsServiceUnusable, match="UDP port"):
        events_route(headless, "x/y")


def pod(namespace: str = "team-a", labels: dict[str, str] | None = None, owner: str = "ReplicaSet") -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": namespace,
            "labels": {"modelguard.io/aideployment": "svc"} if labels is None else labels,
            "ownerReferences": [{"kind": owner, "name": "svc-abc", "controller": True}],
        }
    }


def test_an_address_belongs_to_a_deployment_only_through_one_model_server_pod() -> None:
    assert attribute([pod()]) == A
    assert attribute([pod("team-b")]) == B  # the pod's namespace, whatever it claims
    assert attribute([]) is None
    assert attribute([pod(), pod("team-b")]) is None  # two pods with one address: nobody
    assert attribute([pod(labels={})]) is None
    assert attribute([pod(owner="Job")]) is None  # not made by a Deployment


def test_clients_in_metrics_are_bounded_per_deployment_namespace_and_in_total() -> None:
    labels = ClientLabels(per_target=2, per_namespace=3, total=5)
    assert [labels.label(A, c) for c in ("x", "y", "z", "x")] == ["x", "y", OTHER_CLIENT, "x"]
    assert labels.label(Target("team-a", "other"), "p") == "p"
    assert labels.label(Target("team-a", "third"), "q") == OTHER_CLIENT  # team-a used its namespace's share
    assert labels.label(B, "p") == "p"  # which another tenant's noise did not take
    assert labels.label(B, "q") == "q"
    assert labels.label(Target("team-c", "svc"), "r") == OTHER_CLIENT  # the operator's total is reached


def test_a_loud_tenant_cannot_keep_anothers_refusals_from_being_recorded() -> None:
    """Mallory's 60 deployments refuse thousands of requests every window (her own pods can send as many
    datagrams as they like); the victim's single refusal is still recorded within two windows."""
    tally = Tally()
    loud = [Target("mallory", f"d{i}") for i in range(60)]

    def noise() -> None:
        for target in loud:
            for _ in range(100):
                tally.add(target, Refusal("rate-limited", "bot", "10.0.0.66"))

    noise()
    tally.add(A, Refusal("unauthenticated", "-", "10.0.0.1"))
    first = [t for t, _ in tally.drain(50)]
    noise()
    second = [t for t, _ in tally.drain(50)]
    assert A in first + second
    assert all(t in first + second for t in loud)  # everyone in turn, nobody starved


def test_a_window_sums_up_per_deployment_and_keeps_a_few_sources() -> None:
    tally = Tally()
    for i in range(8):
        tally.add(A, Refusal("unauthenticated", "-", f"10.0.1.{i}"))
    for _ in range(30):
        tally.add(A, Refusal("rate-limited", "alice", "10.0.2.1"))
    tally.add(A, Refusal("rate-limited", "bob", "10.0.2.2"))
    tally.add(B, Refusal("rate-limited", "carol", "10.0.3.1"))
    (first, window), (second, _) = tally.drain(10)
    assert (first, second) == (A, B) and not tally.windows
    record = gateway_abuse.entry(first, window, 60)
    assert record.action == "GatewayAbuse" and record.type == "Decision"
    assert (record.object.kind, record.object.namespace, record.object.name) == ("AIDeployment", "team-a", "svc")
    assert record.details["unauthenticated"] == "8" and record.details["rateLimited"] == "31"
    assert record.details["clients"] == "alice rate-limited 30, - unauthenticated 8, bob rate-limited 1"
    assert record.details["sources"] == "10.0.1.0, 10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4"
    assert record.details["reason"] == "8 requests without a valid API key and 31 over the rate limit in 60s"


def test_records_per_window_are_bounded_and_the_rest_carry_over() -> None:
    tally = Tally()
    for n, target in enumerate(Target("ns", f"d{i}") for i in range(5)):
        for _ in range(n + 1):
            tally.add(target, Refusal("rate-limited", "c", "10.0.0.1"))
    drained = tally.drain(2)
    assert [t.deployment for t, _ in drained] == ["d4", "d3"]  # of those waiting as long, the most refused first
    assert sorted(t.deployment for t in tally.windows) == ["d0", "d1", "d2"]
    tally.restore(drained)  # could not be recorded: back, merged with what came since
    tally.add(Target("ns", "d4"), Refusal("rate-limited", "c", "10.0.0.1"))
    assert tally.windows[Target("ns", "d4")].total == 6


def test_made_up_clients_and_deployments_cannot_grow_the_table() -> None:
    tally = Tally(targets=2, clients_per_target=3)
    for i in range(10):
        tally.add(A, Refusal("rate-limited", f"c{i}", "10.0.0.1"))
    assert {c for c, _ in tally.windows[A].counts} == {"c0", "c1", "c2", OTHER_CLIENT}
    assert tally.windows[A].total == 10  # nothing lost from the counts
    tally.add(B, Refusal("rate-limited", "c", "10.0.0.1"))
    tally.add(Target("team-c", "svc"), Refusal("rate-limited", "c", "10.0.0.1"))
    assert len(tally.windows) == 2 and tally.overflow == 1


def test_a_record_lists_ten_clients_at_most() -> None:
    tally = Tally()
    for i in range(12):
        tally.add(A, Refusal("rate-limited", f"client{i:02d}", "10.0.0.1"))
    ((_, window),) = tally.drain(1)
    listed = gateway_abuse.entry(A, window, 60).details["clients"]
    assert listed.endswith(", and 2 more") and listed.count("rate-limited") == 10


def test_abuse_reaches_the_siem_as_a_finding() -> None:
    tally = Tally()
    tally.add(A, Refusal("unauthenticated", "-", "10.0.0.1"))
    ((_, window),) = tally.drain(1)
    (record,) = seal([gateway_abuse.entry(A, window, 60)], 1, "sha256:" + "0" * 64, datetime.now(UTC))
    event = to_ocsf(record)
    assert (event["class_uid"], event["severity_id"], event["status"]) == (2004, 3, "New")
    assert event["finding_info"]["types"] == ["AI deployment abuse"]
    assert event["finding_info"]["desc"].startswith("1 requests without a valid API key")
    assert event["resources"][0] == {"type": "AIDeployment", "name": "svc", "namespace": "team-a"}


class FakeAttribution:
    def __init__(self, known: dict[str, Target]) -> None:
        self.known, self.asked = known, 0

    async def target(self, address: str) -> Target | None:
        self.asked += 1
        return self.known.get(address)


class FakeAudit:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.entries = fail, list[Entry]()

    async def append(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        if self.fail:
            raise AuditUnavailable("test")
        self.entries += entries
        return []


def collector(audit: FakeAudit, known: dict[str, Target]) -> tuple[GatewayEvents, Metrics, FakeAttribution]:
    metrics, attribution = Metrics(), FakeAttribution(known)
    return GatewayEvents(attribution, metrics, audit, 0, "127.0.0.1", 60), metrics, attribution  # type: ignore[arg-type]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_the_collector_counts_attributed_refusals_and_drops_the_rest() -> None:
    audit = FakeAudit()
    events, metrics, attribution = collector(audit, {"10.244.0.9": A})

    async def run() -> None:
        assert await events.count("10.244.0.9", datagram(429, "alice")) == A
        assert await events.count("10.244.0.9", datagram(401)) == A
        assert await events.count("10.244.0.66", datagram(429, "alice")) is None  # not a gateway's address
        assert await events.count("10.244.0.9", b"junk") is None
        assert await events.record() == 1
        assert await events.record() == 0  # nothing new: no record

    asyncio.run(run())
    refusals = "modelguard_gateway_refusals_total"
    assert sample(metrics, refusals, namespace="team-a", deployment="svc", client="alice", reason="rate-limited") == 1
    assert sample(metrics, refusals, namespace="team-a", deployment="svc", client="-", reason="unauthenticated") == 1
    dropped = "modelguard_gateway_events_dropped_total"
    assert sample(metrics, dropped, reason="unattributed") == 1 and sample(metrics, dropped, reason="malformed") == 1
    assert attribution.asked == 3  # malformed datagrams cost no lookup
    (record,) = audit.entries
    assert record.details["rateLimited"] == "1" and record.details["unauthenticated"] == "1"


def test_refusals_wait_for_the_audit_log_instead_of_being_lost() -> None:
    audit = FakeAudit(fail=True)
    events, _, _ = collector(audit, {"10.244.0.9": A})

    async def run() -> None:
        await events.count("10.244.0.9", datagram(401))
        with pytest.raises(AuditUnavailable):
            await events.record()
        audit.fail = False
        await events.count("10.244.0.9", datagram(401))
        assert await events.record() == 1

    asyncio.run(run())
    (record,) = audit.entries
    assert record.details["unauthenticated"] == "2"


def test_one_address_flooding_the_collector_is_cut_off_before_any_work() -> None:
    budget = SourceBudget(rate=10, burst=20, sources=2)
    assert sum(budget.take("10.0.0.66", 100.0) for _ in range(1000)) == 20  # the burst, then nothing
    assert budget.take("10.0.0.1", 100.0)  # another address has its own bucket
    assert sum(budget.take("10.0.0.66", 101.0) for _ in range(1000)) == 10  # refilled at the rate
    budget.take("10.0.0.2", 101.0)
    budget.take("10.0.0.3", 101.0)  # at most two addresses remembered: the longest idle is forgotten
    assert len(budget._buckets) == 2


def test_a_full_queue_drops_and_counts_instead_of_growing() -> None:
    events, metrics, _ = collector(FakeAudit(), {})

    async def run() -> None:
        for i in range(QUEUE + 5):
            events._received(datagram(401), f"10.244.{i // 1000}.{i % 1000}")  # many addresses, each within budget

    asyncio.run(run())
    assert sample(metrics, "modelguard_gateway_events_dropped_total", reason="overload") == 5


class FailingKube:
    def __init__(self) -> None:
        self.calls = 0

    async def request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        raise KubeError(0, "Unreachable", "test")


def test_a_failing_api_server_is_not_flooded_with_lookups() -> None:
    kube = FailingKube()
    now = [100.0]
    attribution = Attribution(kube, clock=lambda: now[0])  # type: ignore[arg-type]

    async def run() -> None:
        with pytest.raises(KubeError):
            await attribution.target("10.244.0.9")
        for _ in range(3):
            assert await attribution.target("10.244.0.9") is None  # nobody's for a few seconds, not asked again
        assert kube.calls == 1
        now[0] += 6
        with pytest.raises(KubeError):
            await attribution.target("10.244.0.9")
        assert kube.calls == 2

    asyncio.run(run())
