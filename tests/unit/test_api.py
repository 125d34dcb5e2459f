"""The pydantic models accept what users write and reject what they must not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelguard.api import AIDeploymentSpec, AIModelSpec, TrustPolicySpec
from tests.harness.samples import ai_deployment, ai_model, trust_policy


def test_samples_parse() -> None:
    model = AIModelSpec.model_validate(ai_model("m")["spec"])
    assert model.maintenance.schedule == "0 3 * * *" and model.maintenance.on_failure == "Quarantine"
    assert AIDeploymentSpec.model_validate(ai_deployment("d", "m")["spec"]).replicas == 1
    assert TrustPolicySpec.model_validate(trust_policy("p")["spec"]).mode == "Enforce"


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"source": {"uri": "ftp://x"}}, "source.uri"),
        ({"extra": 1}, "extra"),
        ({"version": ""}, "version"),
        ({"card": {}}, "card.owner"),
    ],
)
def test_model_spec_rejections(patch: dict[str, Any], where: str) -> None:
    spec = {**ai_model("m")["spec"], **patch}
    with pytest.raises(ValidationError) as err:
        AIModelSpec.model_validate(spec)
    assert where in str(err.value)


def test_wire_roundtrip_is_camel_case_without_nulls() -> None:
    spec = AIModelSpec.model_validate(ai_model("m")["spec"])
    wire = spec.wire()
    assert "trustPolicy" in wire and "trust_policy" not in wire
    assert "credentialsSecretRef" not in wire["source"]
    assert AIModelSpec.model_validate(wire) == spec


@given(st.text(max_size=40))
def test_image_must_be_pinned(tag: str) -> None:
    spec = {"modelRef": {"name": "m"}, "runtime": {"image": f"registry/app:{tag}"}}
    with pytest.raises(ValidationError):
        AIDeploymentSpec.model_validate(spec)
