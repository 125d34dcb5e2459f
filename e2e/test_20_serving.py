"""A model served by real pods: verified at the source and again in the pod, behind the gateway, inside its
NetworkPolicies, quarantined and decommissioned. Tests run in file order and share one deployment."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import (
    ENABLED,
    Source,
    ai_deployment,
    ai_model,
    apply,
    can_connect,
    client_pod,
    conditions,
    eventually,
    get,
    http_from,
    kubectl,
    new_namespace,
    operator_namespace,
    trust_policy,
    wait_condition,
)

pytestmark = pytest.mark.timeout(600)
API_KEY = "e2e-client-key-0123456789abcdef"


@pytest.fixture(scope="module")
def served(source: Source) -> Iterator[dict[str, str]]:
    """Namespace `team`, its policy, model m1 and AIDeployment `svc` serving it to namespace `clients`."""
    ns = new_namespace("e2e-team", {ENABLED: "true"})  # the chart's restrictWrites: opted in
    clients = new_namespace("e2e-clients", {"modelguard-e2e/client": "true"})
    others = new_namespace("e2e-others")
    apply(trust_policy(ns, ns, source))
    apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-keys", "namespace": ns},
            "stringData": {"e2e-client": API_KEY},
        }
    )
    apply(ai_model("m1", source, "m1", ns), ns)
    wait_condition("aimodel", "m1", ns, "Verified", "True")
    deployment = ai_deployment(
        "svc",
        "m1",
        source,
        authentication={"apiKeysSecretRef": {"name": "api-keys"}},
        rateLimit={"requestsPerSecond": 1, "burst": 3},
        replicas=2,
    )
    deployment["spec"]["access"]["allowedClients"] = [
        {"namespaceSelector": {"matchLabels": {"modelguard-e2e/client": "true"}}}
    ]
    apply(deployment, ns)
    yield {"ns": ns, "clients": clients, "others": others}
    kubectl("delete", "trustpolicy", ns, check=False)
    for name in (ns, clients, others):
        kubectl("delete", "namespace", name, "--wait=false", check=False)


CACHE = "app.kubernetes.io/component=model-cache"


def pods(namespace: str, selector: str = "app.kubernetes.io/component=model-server") -> list[dict[str, Any]]:
    out = kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def serving(namespace: str) -> list[dict[str, Any]]:
    return sorted((p for p in pods(namespace) if ready(p)), key=lambda p: p["metadata"]["name"])


def service_url(namespace: str, path: str = "/v1/models") -> str:
    ip = kubectl(
        "get",
        "service",
        "-n",
        namespace,
        "-l",
        "app.kubernetes.io/component=model-server",
        "-o",
        "jsonpath={.items[0].spec.clusterIP}",
    ).stdout
    return f"http://{ip}{path}"


def test_model_verifies_and_pods_run_after_the_init_container_verified_the_bytes(
    served: dict[str, str], source: Source
) -> None:
    ns = served["ns"]
    model = get("aimodel", "m1", ns)
    assert model is not None
    verified = model["status"]["verified"]
    wait_condition("aideployment", "svc", ns, "Ready", "True", timeout=300)
    pod, _ = eventually(lambda: serving(ns) if len(serving(ns)) == 2 else None, 180, what="two Ready model-server pods")
    log = kubectl("logs", "-n", ns, pod["metadata"]["name"], "-c", "verify-model").stdout
    assert f"verified {verified['digest']}" in log, log
    assert f"files={len(source.files['m1'])}" in log
    statuses = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert statuses["verify-model"]["state"]["terminated"]["exitCode"] == 0
    # the bytes came from the model cache, which fetched them from the source and verified them first
    (cache,) = pods(ns, CACHE)
    assert ready(cache)
    fetched = kubectl("logs", "-n", ns, cache["metadata"]["name"], "-c", "fetch-model").stdout
    assert f"verified {verified['digest']}" in fetched, fetched


def test_model_server_behind_the_gateway_serves_the_verified_bytes(served: dict[str, str], source: Source) -> None:
    client = client_pod(served["clients"])
    answer = http_from(
        served["clients"], client, service_url(served["ns"]), headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert answer["status"] == 200, answer
    (entry,) = json.loads(answer["body"])["data"]
    assert entry["files"] == source.files["m1"]  # every byte the server loaded is a signed byte


def test_gateway_authenticates_limits_and_serves_the_model_card(served: dict[str, str]) -> None:
    ns, clients = served["ns"], served["clients"]
    url = service_url(ns)
    assert http_from(clients, "client", url)["status"] == 401
    assert (
        http_from(clients, "client", url, headers={"Authorization": "Bearer wrong-key-0123456789abcdef"})["status"]
        == 401
    )
    auth = {"X-API-Key": API_KEY}
    big = http_from(clients, "client", service_url(ns, "/v1/completions"), "POST", auth, size=2 * 1024 * 1024)
    assert big["status"] == 413
    # 1 request/s and a burst of 3 per client at each of the two gateways: 20 back to back must see 429s
    statuses = [a["status"] for a in http_from(clients, "client", url, headers=auth, count=20)]
    assert statuses[0] == 200 and statuses.count(429) >= 10, statuses
    card = http_from(clients, "client", service_url(ns, "/model-card"))
    assert card["status"] == 200 and json.loads(card["body"])["model"] == "m1"


def test_network_policy_admits_declared_clients_only(served: dict[str, str]) -> None:
    ns = served["ns"]
    ip = serving(ns)[0]["status"]["podIP"]
    assert can_connect(served["clients"], "client", ip, 8000)  # the gateway port, from a declared namespace
    assert not can_connect(served["clients"], "client", ip, 8080)  # the model server itself: never
    outsider = client_pod(served["others"], "outsider")
    assert not can_connect(served["others"], outsider, ip, 8000)
    url = service_url(ns)
    assert http_from(served["others"], outsider, url, headers={"X-API-Key": API_KEY})["status"] == 0


METRICS_SCRIPT = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/metrics').read().decode())"
FORGE_SCRIPT = """
import json, socket, sys
line = json.dumps({"client": "e2e-client", "remote": "10.244.0.250", "status": 429})
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(("<188>Dec  7 12:00:00 modelguard_gateway: " + line).encode(), (sys.argv[1], int(sys.argv[2])))
print("sent")
"""


def operator_metric(name: str, **labels: str) -> float:
    """A counter summed over the operator's replicas (datagrams reach either through the Service)."""
    out = kubectl("get", "pods", "-n", operator_namespace(), "-l", "app.kubernetes.io/name=modelguard", "-o", "json")
    total = 0.0
    for pod in json.loads(out.stdout)["items"]:
        if pod["status"].get("phase") != "Running":
            continue
        text = kubectl(
            "exec", "-n", operator_namespace(), pod["metadata"]["name"], "--", "python3", "-c", METRICS_SCRIPT
        ).stdout
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def abuse_records(namespace: str) -> list[dict[str, Any]]:
    data = json.loads(kubectl("get", "configmap", "modelguard-audit", "-n", operator_namespace(), "-o", "json").stdout)
    ring = [json.loads(v) for k, v in data["data"].items() if k.startswith("record-")]
    return [r for r in ring if r["action"] == "GatewayAbuse" and r["object"]["namespace"] == namespace]


def test_refusals_at_the_gateway_are_counted_per_client_and_audited(served: dict[str, str]) -> None:
    """Issue 19 (abuse monitoring): the 401s and 429s of the gateway test above went from nginx in the pods,
    through the collector's Service, to the operator: counted per client in metrics and summed up in
    GatewayAbuse audit records of `svc`. Another tenant's pod that sends forged refusals to the collector
    changes nobody's figures: it is no gateway pod."""
    ns, others = served["ns"], served["others"]
    limited = {"namespace": ns, "deployment": "svc", "reason": "rate-limited"}
    eventually(
        lambda: operator_metric("modelguard_gateway_refusals_total", client="e2e-client", **limited) >= 10 or None,
        60,
        2,
        "the rate-limited requests counted for e2e-client",
    )
    unauthenticated = {"namespace": ns, "deployment": "svc", "reason": "unauthenticated", "client": "-"}
    assert operator_metric("modelguard_gateway_refusals_total", **unauthenticated) >= 2

    def recorded() -> tuple[int, int] | None:
        records = abuse_records(ns)
        sums = (
            sum(int(r["details"]["unauthenticated"]) for r in records),
            sum(int(r["details"]["rateLimited"]) for r in records),
        )
        return sums if sums[0] >= 2 and sums[1] >= 10 else None

    eventually(recorded, 90, 3, "GatewayAbuse audit records for svc (window: the chart's e2e value)")
    assert all(r["object"] == {"kind": "AIDeployment", "namespace": ns, "name": "svc"} for r in abuse_records(ns))
    assert "e2e-client rate-limited" in " ".join(r["details"]["clients"] for r in abuse_records(ns))

    # an ordinary pod never reaches the collector (the operator's NetworkPolicy); an impostor labelled as a
    # model server of `svc` does, and its datagrams are dropped: no AIDeployment made it
    outsider = client_pod(others, "outsider")
    impostor = client_pod(
        others,
        "impostor",
        {
            "app.kubernetes.io/component": "model-server",
            "app.kubernetes.io/managed-by": "modelguard",
            "modelguard.io/aideployment": "svc",
        },
    )
    collector = kubectl(
        "get", "service", "modelguard-gateway-events", "-n", operator_namespace(), "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    counted_before = operator_metric("modelguard_gateway_refusals_total", **limited)
    dropped_before = operator_metric("modelguard_gateway_events_dropped_total", reason="unattributed")
    kubectl("exec", "-n", others, outsider, "--", "python3", "-c", FORGE_SCRIPT, collector, "5514", "50")
    kubectl("exec", "-n", others, impostor, "--", "python3", "-c", FORGE_SCRIPT, collector, "5514", "50")

    def dropped() -> float:
        return operator_metric("modelguard_gateway_events_dropped_total", reason="unattributed") - dropped_before

    eventually(lambda: dropped() >= 50 or None, 60, 2, "the impostor's forged refusals dropped as unattributed")
    time.sleep(3)
    assert dropped() == 50  # the outsider's, sent first, never arrived
    assert operator_metric("modelguard_gateway_refusals_total", **limited) == counted_before
    assert not abuse_records(others)


def test_model_server_egress_is_denied(served: dict[str, str], source: Source) -> None:
    """The model server reaches neither the API server nor the model source nor anyone else: only its model
    cache, which alone has the declared egress to the source and admits only the model servers."""
    ns = served["ns"]
    pod = serving(ns)[0]["metadata"]["name"]
    api = kubectl("get", "service", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert not can_connect(ns, pod, api, 443, container="model-server")
    outsider_ip = kubectl("get", "pod", "outsider", "-n", served["others"], "-o", "jsonpath={.status.podIP}").stdout
    assert not can_connect(ns, pod, outsider_ip, 80, container="model-server")
    assert not can_connect(ns, pod, source.pod_ip, 443, container="model-server")  # the source: never
    (cache,) = pods(ns, CACHE)
    cache_pod, cache_ip = cache["metadata"]["name"], cache["status"]["podIP"]
    assert can_connect(ns, pod, cache_ip, 8090, container="model-server")
    assert can_connect(ns, cache_pod, source.pod_ip, 443, container="serve-model")  # declared: the cache's
    assert not can_connect(ns, cache_pod, api, 443, container="serve-model")
    assert not can_connect(served["others"], "outsider", cache_ip, 8090)  # the cache admits the model servers only
    assert not can_connect(served["clients"], "client", cache_ip, 8090)


def test_model_server_pod_runs_restricted(served: dict[str, str]) -> None:
    ns = served["ns"]
    pod = serving(ns)[0]["metadata"]["name"]
    probe = (
        "import os, json\n"
        "token = os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount/token')\n"
        "try:\n    open('/written-by-e2e', 'w').write('x'); wrote = True\nexcept OSError:\n    wrote = False\n"
        "print(json.dumps({'uid': os.getuid(), 'token': token, 'wrote': wrote}))"
    )
    out = kubectl("exec", "-n", ns, pod, "-c", "model-server", "--", "python3", "-c", probe).stdout
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts == {"uid": 65532, "token": False, "wrote": False}


def test_bytes_changed_at_the_source_stop_new_pods(served: dict[str, str], source: Source) -> None:
    """After verification the source serves other bytes: the next pod that fetches from the source (a new
    model cache pod) refuses them, and a new model server pod, which can only fetch from the cache, never
    becomes Ready. Pods that verified intact bytes keep serving (docs/adr/0004, 0012)."""
    ns = served["ns"]
    old, replaced = (p["metadata"]["name"] for p in serving(ns))
    (first_cache,) = pods(ns, CACHE)
    source.write("m1/weights.bin", b"tampered weights " * 64)
    kubectl("delete", "pod", first_cache["metadata"]["name"], "-n", ns, "--wait=false")  # a new cache pod

    def failed_init(selector: str, container: str, known: tuple[str, ...]) -> dict[str, Any] | None:
        for p in pods(ns, selector):
            for s in p["status"].get("initContainerStatuses", []):
                term = (s.get("lastState") or {}).get("terminated") or (s.get("state") or {}).get("terminated")
                if s["name"] == container and p["metadata"]["name"] not in known and term and term["exitCode"] != 0:
                    return p
        return None

    bad = eventually(
        lambda: failed_init(CACHE, "fetch-model", (first_cache["metadata"]["name"],)),
        180,
        2,
        "the new model cache pod's init container to fail",
    )
    log = kubectl("logs", "-n", ns, bad["metadata"]["name"], "-c", "fetch-model", check=False).stdout
    log += kubectl("logs", "-n", ns, bad["metadata"]["name"], "-c", "fetch-model", "--previous", check=False).stdout
    assert "not verified" in log and "DigestMismatch" in log, log

    kubectl("delete", "pod", replaced, "-n", ns, "--wait=false")  # its ReplicaSet starts a new model server pod
    new = eventually(
        lambda: next((p for p in pods(ns) if p["metadata"]["name"] not in (old, replaced)), None),
        60,
        what="a new model server pod",
    )["metadata"]["name"]

    def waiting_for_the_cache() -> str | None:
        out = kubectl("logs", "-n", ns, new, "-c", "verify-model", check=False).stdout
        return out if "waiting for http://" in out else None

    eventually(waiting_for_the_cache, 120, 2, "the new model server pod to wait for its cache")
    assert not ready(next(p for p in pods(ns) if p["metadata"]["name"] == new))
    assert not ready(next(p for p in pods(ns, CACHE) if p["metadata"]["name"] == bad["metadata"]["name"]))
    # the pod that verified intact bytes keeps serving (docs/adr/0004: serving pods are not disturbed
    # by a change at the source until a scan finds it)
    assert ready(next(p for p in pods(ns) if p["metadata"]["name"] == old))


def test_scan_finds_the_change_and_quarantine_terminates_the_pods(served: dict[str, str]) -> None:
    ns = served["ns"]
    kubectl("annotate", "aimodel", "m1", "-n", ns, "modelguard.io/scan-now=e2e-1", "--overwrite")
    wait_condition("aideployment", "svc", ns, "Quarantined", "True", timeout=180)
    eventually(lambda: not pods(ns) and not pods(ns, CACHE), 120, 2, "the quarantined deployment's pods to terminate")
    deny = get("networkpolicy", "svc-allow", ns) or {}
    allow = [
        p
        for p in json.loads(kubectl("get", "networkpolicy", "-n", ns, "-o", "json").stdout)["items"]
        if p["metadata"]["name"].endswith(("allow", "model-cache"))
    ]
    assert len(allow) == 2 and all(not p["spec"].get("ingress") and not p["spec"].get("egress") for p in allow), deny


def test_decommission_removes_pods_children_and_data_and_issues_a_certificate(served: dict[str, str]) -> None:
    ns = served["ns"]
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{ns}-data", "labels": {"modelguard-e2e": ns}},
        "spec": {
            "capacity": {"storage": "1Mi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "e2e-local",
            "hostPath": {"path": f"/tmp/modelguard-e2e-pv-{ns}", "type": "DirectoryOrCreate"},
        },
    }
    apply(pv)
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "train-cache", "namespace": ns, "labels": {"modelguard.io/end-of-life": "delete"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "e2e-local",
            "volumeName": f"{ns}-data",
            "resources": {"requests": {"storage": "1Mi"}},
        },
    }
    apply(pvc)
    eventually(
        lambda: (get("pvc", "train-cache", ns) or {}).get("status", {}).get("phase") == "Bound", 60, what="PVC bound"
    )
    kubectl(
        "patch",
        "aimodel",
        "m1",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"endOfLife": {"dataRefs": [{"kind": "PersistentVolumeClaim", "name": "train-cache"}]}}}),
    )
    kubectl("delete", "aimodel", "m1", "-n", ns, "--wait=false")
    eventually(lambda: get("aimodel", "m1", ns) is None, 240, 2, "the decommission to finish")
    assert get("pvc", "train-cache", ns) is None
    assert not pods(ns)
    children = "deployments,services,networkpolicies,configmaps,secrets,serviceaccounts"
    left = kubectl("get", children, "-n", ns, "-l", "app.kubernetes.io/instance=svc", "-o", "name").stdout.split()
    assert left == []
    certs = json.loads(kubectl("get", "decommissioncertificates", "-o", "json").stdout)["items"]
    mine = [c for c in certs if c["spec"].get("model", {}).get("namespace") == ns]
    assert len(mine) == 1, [c["metadata"]["name"] for c in certs]
    verify = subprocess.run(
        [
            "modelguard",
            "certificate",
            "verify",
            "--name",
            mine[0]["metadata"]["name"],
            "--operator-namespace",
            operator_namespace(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    kubectl("delete", "pv", f"{ns}-data", check=False)
    assert conditions(get("aideployment", "svc", ns)).get("Ready", {}).get("status") != "True"
