"""The Argo CD health checks against manifests/argocd/health_test.yaml, the way argo-cd tests its
resource_customizations: each case an input object and the expected status and message, run by gopher-lua."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.harness.argocd import ARGO, health

CASES: list[dict[str, Any]] = yaml.safe_load((ARGO / "health_test.yaml").read_text())["tests"]


@pytest.mark.parametrize("case", CASES, ids=[c["inputPath"].removeprefix("testdata/") for c in CASES])
def test_health_case(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((ARGO / case["inputPath"]).read_text())
    assert health(case["script"], obj) == (case["healthStatus"]["status"], case["healthStatus"]["message"])


def test_every_testdata_file_has_a_case() -> None:
    used = {c["inputPath"] for c in CASES}
    assert {f"testdata/{p.name}" for p in (ARGO / "testdata").glob("*.yaml")} == used
