"""Every spec value that would break a child is refused at admission with the field named (issue 13, class 11)."""

from __future__ import annotations

import pytest

from modelguard.domain.admission import review_deployment, review_model
from tests.harness.samples import DIGEST, IMAGE, ai_deployment, ai_model, trust_policy

PINNED = f"oci://registry.example:5000/team/model@{DIGEST}"


@pytest.mark.parametrize(
    ("source", "bundle", "field"),
    [
        ("oci://registry.example/team/model:v1", PINNED, "source.uri"),  # a tag
        (f"oci://registry.example/team/model:v1@{DIGEST}", PINNED, "source.uri"),  # tag and digest: ambiguous
        (PINNED, "oci://registry.example/team/model-sig:latest", "signature.bundleUri"),
        (PINNED, f"oci://registry.example/team/Model-Sig@{DIGEST}", "signature.bundleUri"),  # not a repository name
    ],
)
def test_oci_references_must_be_pinned_everywhere(source: str, bundle: str, field: str) -> None:
    spec = ai_model("m", source={"uri": source}, signature={"bundleUri": bundle})["spec"]
    review = review_model(spec, "ns", {}, trust_policy("p", allowedSources=["oci://registry.example"]))
    assert review.denials and review.denials[0].startswith(f"spec.{field}: ")
    assert "pinned by manifest digest" in review.denials[0]


def test_pinned_references_with_a_registry_port_pass() -> None:
    spec = ai_model("m", source={"uri": PINNED}, signature={"bundleUri": PINNED})["spec"]
    assert review_model(spec, "ns", {}, None).denials == []


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "should match pattern"),
        ("/tmp", "collides with /tmp"),
        ("/etc/modelguard/verify", "collides with /etc/modelguard"),
        ("/etc", "collides with /etc/modelguard"),
        ("/var/run/secrets/kubernetes.io", "collides with /var/run/secrets"),
        ("/models/../etc/modelguard", "normalized"),
        ("/proc", "collides with /proc"),
    ],
)
def test_a_model_mount_path_that_collides_is_refused(path: str, why: str) -> None:
    spec = ai_deployment("d", "m", runtime={"image": IMAGE, "modelMountPath": path})["spec"]
    review = review_deployment(spec, "ns", None)
    assert review.denials and review.denials[0].startswith("spec.runtime.modelMountPath: ") and why in review.denials[0]
