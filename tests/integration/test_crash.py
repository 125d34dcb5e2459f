"""TARGETS R1 for verification and rollout: SIGKILL the operator at random points while models verify and
deployments roll out; after each restart everything converges, nothing is duplicated, and the audit chain
across all the kills is complete. (Decommissioning is killed at every step boundary in
test_decommission.py: together 21 kills per CI run.) Creating objects right after each restart also
checks that admission on a replica whose cache is still empty decides from the API, not from the gap."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.harness.audit import cli, find, operator_logs, records
from tests.harness.client import KubeTestClient, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()
KILLS = int(os.environ.get("MODELGUARD_CRASH_KILLS", "15"))  # the soak run: MODELGUARD_CRASH_KILLS=100
pytestmark = pytest.mark.timeout(300 + 20 * KILLS)


def test_sigkill_during_verification_and_rollout_converges_without_loss(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seed = int(os.environ.get("MODELGUARD_CRASH_SEED", time.time()))
    rng = random.Random(seed)
    print(f"crash seed {seed} (MODELGUARD_CRASH_SEED reproduces the kill points)")
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    try:
        for i in range(KILLS):
            pub = publish(models_root, namespace, f"m{i}", KEY, shard_size=64 * 1024 if i % 2 else None)
            api.create("aimodels", namespace, model(f"m{i}", pub.source, pub.bundle, name))
            api.create("aideployments", namespace, ai_deployment(f"d{i}", f"m{i}"))
            time.sleep(rng.uniform(0.0, 0.8))  # somewhere in verify, status, audit commit or apply
            operator.kill()
            operator.restart()

        for i in range(KILLS):
            verified = wait_for_condition(api, "aimodels", namespace, f"m{i}", "Verified", "True", timeout=90)
            digest = verified["status"]["verified"]["digest"]
            wait_for_condition(api, "aideployments", namespace, f"d{i}", "ModelVerified", "True", timeout=90)
            workload = api.apps.read_namespaced_deployment(f"d{i}", namespace)
            assert workload.metadata.annotations["modelguard.io/model-digest"] == digest
        deployments = api.apps.list_namespaced_deployment(namespace).items
        expected = [name for i in range(KILLS) for name in (f"d{i}", f"d{i}-model-cache")]
        assert sorted(d.metadata.name for d in deployments) == sorted(expected)  # no extras

        base = tmp_path_factory.getbasetemp()

        def complete() -> bool:
            log = records(base)
            return all(
                find(log, namespace=namespace, name=f"m{i}", action="CREATE")
                and find(log, namespace=namespace, name=f"m{i}", action="Verified")
                and find(log, namespace=namespace, name=f"d{i}", action="RolledOut")
                for i in range(KILLS)
            )

        eventually(complete, timeout=30, what="every change and decision in the audit trail")

        def verified_chain() -> str | None:
            result = cli(cluster, "audit", "verify", *map(str, operator_logs(base)))
            return result.stdout if result.returncode == 0 else None

        eventually(verified_chain, timeout=30, what="the chain across all kills to verify")
    finally:
        api.delete("trustpolicies", None, name)
