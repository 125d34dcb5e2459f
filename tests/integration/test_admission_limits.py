"""Formats and sizes users meet (issue 13, class 9): an object at the schema's limits is admitted, even when
the admission review carries it twice (old and new object) and so exceeds 1 MiB; beyond the limits the API
server refuses it naming the field, before any webhook is called."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.client import KubeTestClient, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish

pytestmark = pytest.mark.timeout(180)

KEY = KeyPair.generate()


def test_an_object_at_the_limits_is_admitted_and_one_beyond_is_refused_by_field(
    api: KubeTestClient,
    cluster: ControlPlane,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
) -> None:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    try:
        pub = publish(models_root, namespace, "big", KEY)
        body = model("big", pub.source, pub.bundle, name)
        line = "€" * 1024  # three bytes each in UTF-8: 3 KiB per line, at the schema's 1024 characters
        body["spec"]["card"]["limitations"] = [line] * 64
        body["spec"]["card"]["prohibitedUses"] = [line] * 64
        body["metadata"]["annotations"] = {f"example.com/note-{i}": "n" * 60_000 for i in range(4)}  # 240 KB
        size = len(json.dumps(body, ensure_ascii=False).encode())
        assert size > 600_000  # old and new object in one review: more than aiohttp's default 1 MiB
        created = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
        assert created.returncode == 0, created.stderr[-500:]
        patch = tmp_path / "patch.json"
        patch.write_text(json.dumps({"spec": {"card": {"limitations": [line] * 63 + ["changed"]}}}))
        changed = cluster.kubectl(
            "patch", "aimodel", "big", "-n", namespace, "--type", "merge", "--patch-file", str(patch), check=False
        )  # fmt: skip
        assert changed.returncode == 0, changed.stderr[-500:]
        assert "413" not in changed.stderr
        wait_for_condition(api, "aimodels", namespace, "big", "Verified", "True", "SignatureValid")

        too_long = cluster.kubectl(
            "patch", "aimodel", "big", "-n", namespace, "--type", "merge",
            "-p", json.dumps({"spec": {"card": {"limitations": ["x" * 1025]}}}), check=False,
        )  # fmt: skip
        assert too_long.returncode != 0
        assert "spec.card.limitations[0]" in too_long.stderr and "1024" in too_long.stderr
        too_many = cluster.kubectl(
            "patch", "aimodel", "big", "-n", namespace, "--type", "merge",
            "-p", json.dumps({"spec": {"card": {"prohibitedUses": ["x"] * 65}}}), check=False,
        )  # fmt: skip
        assert too_many.returncode != 0 and "spec.card.prohibitedUses" in too_many.stderr
    finally:
        api.delete("trustpolicies", None, name)
