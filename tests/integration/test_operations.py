"""Operations (issue 14, item 7): the metrics that answer "is it healthy and how fast", read from the running
operator's /metrics after it verified a model and refused a change."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.harness.client import KubeTestClient, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish

KEY = KeyPair.generate()


def samples(operator: OperatorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert operator.metrics_url is not None
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_metrics_say_how_healthy_and_how_fast(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    before = samples(operator)
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    try:
        pub = publish(models_root, namespace, "m", KEY)
        api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
        wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
        elsewhere = model("x", "https://elsewhere.example/m", "https://elsewhere.example/m.sig", name)
        refused = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(elsewhere), check=False)
        assert refused.returncode != 0  # a source outside the policy: the webhook refuses it
        after = samples(operator)
    finally:
        api.delete("trustpolicies", None, name)

    def grew(metric: str, **labels: str) -> bool:
        return value(after, metric, **labels) > value(before, metric, **labels)

    assert value(after, "modelguard_build_info", version="0.1.0") == 1
    assert value(after, "process_resident_memory_bytes") > 0  # the process metrics of a default registry
    assert grew("modelguard_verification_duration_seconds_count", outcome="SignatureValid")
    assert grew("modelguard_verified_bytes_total")
    assert grew("modelguard_reconcile_duration_seconds_count", kind="AIModel")
    assert grew("modelguard_workqueue_wait_seconds_count")
    assert ("modelguard_workqueue_depth", ()) in after
    assert grew("modelguard_webhook_duration_seconds_count", hook="validate-aimodels")
    assert grew("modelguard_webhook_rejections_total", hook="validate-aimodels")
    assert value(after, "modelguard_audit_sink_backlog") == 0  # no sink configured here: nothing waits
    # the create of m was admitted only after its record was committed: the commit and its record are counted
    assert grew("modelguard_audit_commit_duration_seconds_count")
    assert grew("modelguard_audit_records_committed_total")
    commits = value(after, "modelguard_audit_commit_duration_seconds_count") - value(
        before, "modelguard_audit_commit_duration_seconds_count"
    )
    records = value(after, "modelguard_audit_records_committed_total") - value(
        before, "modelguard_audit_records_committed_total"
    )
    assert records >= commits  # a commit holds one record or more (group commit), never none
    assert ("modelguard_source_slots_in_use", ()) in after
