"""Bounded work (issue 13, class 2): a tenant whose sources answer one byte every half second must not stall
the operator. Every fetch ends at its deadline, one namespace holds at most its share of source slots, and
another tenant's verification, the admission webhooks and the API client never wait for it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelguard.adapters.http import Deadline, HttpClient, read_limited
from modelguard.adapters.verification_service import ssl_context
from modelguard.domain.errors import Retry
from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment
from tests.harness.servers import SlowServer
from tests.integration.conftest import FETCH_DEADLINE, SOURCE_SLOTS_PER_NAMESPACE

pytestmark = pytest.mark.timeout(300)

KEY = KeyPair.generate()
HOSTILE_MODELS = 8  # more than the threads Python's default executor has on a small node (cores + 4)


@pytest.fixture
def slow(cluster: ControlPlane, tmp_path: Path) -> Iterator[SlowServer]:
    server = SlowServer(stage="body", ca=cluster.ca, workdir=tmp_path, interval=0.5, limit=120).start()
    yield server
    server.stop()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_source_that_drips_is_cut_at_the_deadline(
    stage: str, tls: bool, cluster: ControlPlane, tmp_path: Path
) -> None:
    """No per-read timeout fires against one byte every 0.3 s; the overall deadline does, in the status line
    as in the body, over TLS as in plain text, and the connection is closed."""
    ca = cluster.ca if tls else None
    server = SlowServer(stage=stage, ca=ca, workdir=tmp_path, interval=0.3, limit=60).start()
    try:
        deadline = Deadline(2.0, "the drip")
        client = HttpClient(ssl_context(cluster.ca_file), timeout=30, deadline=deadline)

        def fetch() -> bytes:
            with client.open(f"{server.url}/m.sig") as response:
                return read_limited(response, 10_000_000, "signature")

        started = time.monotonic()
        with pytest.raises(Retry) as cut:
            deadline.run(fetch)
        took = time.monotonic() - started
        assert cut.value.reason == "SourceTimedOut"
        assert "within 2 s" in cut.value.message
        assert took < 12, f"the fetch ran {took:.1f} s against a 2 s deadline (the server drips for 60 s)"
        eventually(lambda: server.active == 0, timeout=10, what="the server to see the connection closed")
        assert server.opened == 1
    finally:
        server.stop()


def test_a_tenants_slow_sources_hold_only_its_share(
    api: KubeTestClient,
    cluster: ControlPlane,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    slow: SlowServer,
) -> None:
    other = f"{namespace[:50]}-other"
    cluster.kubectl("create", "namespace", other)
    hostile, honest = f"p-{namespace}", f"p-{other}"
    try:
        api.create("trustpolicies", None, policy(hostile, namespace, KEY, [f"{slow.url}/", f"file://{models_root}/"]))
        api.create("trustpolicies", None, policy(honest, other, KEY, [f"file://{models_root}/"]))
        for i in range(HOSTILE_MODELS):  # real models, signatures behind the slow server
            pub = publish(models_root, namespace, f"m{i}", KEY)
            api.create("aimodels", namespace, model(f"m{i}", pub.source, f"{slow.url}/m{i}.sig", hostile))
        eventually(lambda: slow.established() >= SOURCE_SLOTS_PER_NAMESPACE, timeout=30, what="the slow fetches")

        def queued() -> bool:
            bodies = api.custom.list_namespaced_custom_object("modelguard.io", "v1alpha1", namespace, "aimodels")
            shown = [condition(b, "Verified") or {} for b in bodies["items"]]
            return any(c.get("reason") == "Queued" and c.get("status") == "Unknown" for c in shown)

        eventually(queued, timeout=30, what="a model waiting for its namespace's share")

        # meanwhile the other tenant's model verifies and its deployment is admitted, and a key is revoked
        pub = publish(models_root, other, "b", KEY)
        api.create("aimodels", other, model("b", pub.source, pub.bundle, honest))
        wait_for_condition(api, "aimodels", other, "b", "Verified", "True", "SignatureValid", timeout=30)
        assert slow.established() >= 1, "the other tenant's model verified only after the slow fetches ended"
        deployment = json.dumps(ai_deployment("svc", "b"))
        admitted = cluster.kubectl("apply", "-n", other, "-f", "-", stdin=deployment, check=False)
        assert admitted.returncode == 0, admitted.stderr
        revoked = cluster.kubectl(
            "patch", "trustpolicy", hostile, "--type", "merge", "-p", '{"spec": {"revokedKeys": ["not-ours"]}}',
            check=False,
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        assert slow.established() >= 1, "admission waited for the slow fetches"

        # every hostile model ends at the deadline with a reason, and the tenant never held more than its share
        for i in range(HOSTILE_MODELS):
            body = wait_for_condition(
                api, "aimodels", namespace, f"m{i}", "Verified", "False", "SourceTimedOut", timeout=8 * FETCH_DEADLINE
            )
            assert f"within {FETCH_DEADLINE:g} s" in condition(body, "Verified")["message"]
        # its share, over time: every connection lasts a full deadline, so with N slots the k-th connection
        # cannot start before (k // N) deadlines have passed (unbounded, all 8 started at once)
        first = slow.accepted[0]
        for k, at in enumerate(slow.accepted):
            rounds = int((at - first + 0.5) // FETCH_DEADLINE)
            assert k < SOURCE_SLOTS_PER_NAMESPACE * (rounds + 1), (k, round(at - first, 2), slow.accepted)
        honest_model = api.get("aimodels", other, "b")
        assert condition(honest_model, "Verified")["status"] == "True"
    finally:
        api.delete("trustpolicies", None, hostile)
        api.delete("trustpolicies", None, honest)
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
