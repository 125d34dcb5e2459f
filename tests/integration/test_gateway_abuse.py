"""Gateway refusals reach the operator (issue 19, abuse monitoring), on the real control plane: the operator
tells every gateway where to send them, attributes a datagram by the pod whose address sent it (the API
server's pod record, read as metadata), and a tenant's own pods cannot report on another namespace's
deployment. The genuine path (nginx in a pod, UDP through the Service to the operator pod, audit record)
runs in the e2e suite on a real node; here the test process cannot send from a pod's address."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from modelguard.adapters import kube_connection
from modelguard.adapters.gateway_events import Attribution, GatewayEvents
from modelguard.adapters.kube import Kube
from modelguard.adapters.metrics import Metrics
from modelguard.domain.gateway_abuse import Target
from tests.harness.client import KubeTestClient, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
KEY = KeyPair.generate()
SERVING = {"modelguard.io/aideployment": "svc", "app.kubernetes.io/component": "model-server"}


def refusal(status: int, client: str = "") -> bytes:
    line = json.dumps({"client": client, "remote": "10.9.9.9", "status": status})
    return f"<188>Dec  7 12:00:00 modelguard_gateway: {line}".encode()


@pytest.fixture
def served(api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path) -> str:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
    api.create("aideployments", namespace, ai_deployment("svc", "m"))
    wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "True", timeout=60)
    yield "svc"
    api.delete("trustpolicies", None, name)


@pytest.fixture
def intruder(cluster: ControlPlane, namespace: str) -> Any:
    """Another tenant's namespace."""
    name = f"{namespace[:50]}-evil"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def running_ip(cluster: ControlPlane, namespace: str) -> str:
    def ip() -> str | None:
        out = cluster.kubectl(
            "get", "pods", "-n", namespace, "-l", ",".join(f"{k}={v}" for k, v in SERVING.items()), "-o", "json"
        ).stdout
        pods = [p for p in json.loads(out)["items"] if p["status"].get("phase") == "Running"]
        return pods[0]["status"].get("podIP") if pods else None

    return str(eventually(ip, 60, what=f"a running model-server pod with an address in {namespace}"))


def metric(operator: OperatorProcess, name: str, **labels: str) -> float:
    assert operator.metrics_url is not None
    text = urllib.request.urlopen(operator.metrics_url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def abuse_records(api: KubeTestClient, namespace: str) -> list[dict[str, Any]]:
    data = api.core.read_namespaced_config_map("modelguard-audit", "modelguard-system").data or {}
    ring = [json.loads(v) for k, v in data.items() if k.startswith("record-")]
    return [r for r in ring if r["action"] == "GatewayAbuse" and r["object"]["namespace"] == namespace]


def test_the_operator_points_gateways_at_its_collector_and_drops_what_no_gateway_sent(
    cluster: ControlPlane, api: KubeTestClient, operator: OperatorProcess, namespace: str, served: str
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    operator.restart(
        [
            *("--gateway-events-port", str(port), "--gateway-events-host", "127.0.0.1"),
            *("--gateway-events-address", f"127.0.0.1:{port}", "--gateway-events-window", "1"),
        ]
    )
    try:

        def conf() -> str | None:
            text = api.core.read_namespaced_config_map(f"{served}-gateway", namespace).data["nginx.conf"]
            return text if f"syslog:server=127.0.0.1:{port}," in text else None

        eventually(conf, 60, what="the gateway configured to send its refusals to the collector")
        before = metric(operator, "modelguard_gateway_events_dropped_total", reason="unattributed")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:  # from loopback: no pod has it
            for _ in range(5):
                sender.sendto(refusal(429, "e2e"), ("127.0.0.1", port))
        eventually(
            lambda: metric(operator, "modelguard_gateway_events_dropped_total", reason="unattributed") >= before + 5,
            30,
            what="the forged refusals dropped as unattributed",
        )
        assert metric(operator, "modelguard_gateway_refusals_total", namespace=namespace) == 0
        assert not abuse_records(api, namespace)
    finally:
        operator.restart()


def test_refusals_count_only_for_the_deployment_whose_pod_sent_them(
    cluster: ControlPlane, api: KubeTestClient, namespace: str, served: str, intruder: str
) -> None:
    """The intruder runs pods labelled as `svc`'s model server in its own namespace: their refusals are not
    counted for anyone (there is no AIDeployment `svc` there), and `svc`'s own pod is still attributed."""
    genuine = running_ip(cluster, namespace)
    _fake_serving_deployment(cluster, intruder)
    forged = running_ip(cluster, intruder)
    kube = Kube(kube_connection.from_kubeconfig(cluster.kubeconfig))
    metrics = Metrics()
    events = GatewayEvents(Attribution(kube), metrics, None, 0)

    async def count() -> tuple[Target | None, Target | None, Target | None]:
        return (
            await events.count(genuine, refusal(401)),
            await events.count(forged, refusal(429, "alice")),
            await events.count("10.255.255.254", refusal(401)),  # nobody's
        )

    assert asyncio.run(count()) == (Target(namespace, "svc"), None, None)
    assert set(events.tally.windows) == {Target(namespace, "svc")}
    counted = metrics.registry.get_sample_value(
        "modelguard_gateway_refusals_total",
        {"namespace": namespace, "deployment": "svc", "client": "-", "reason": "unauthenticated"},
    )
    assert counted == 1
    assert metrics.registry.get_sample_value("modelguard_gateway_events_dropped_total", {"reason": "unattributed"}) == 2


def _fake_serving_deployment(cluster: ControlPlane, namespace: str) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "svc-lookalike", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": SERVING},
            "template": {
                "metadata": {"labels": SERVING},
                "spec": {"containers": [{"name": "gateway", "image": "registry.invalid/fake:1"}]},
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(body))
