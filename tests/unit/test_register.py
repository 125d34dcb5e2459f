"""The asset register is a valid CycloneDX 1.6 ML-BOM with models, datasets, deployments and dependencies."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from modelguard.builders.register import ml_bom
from tests.harness.samples import ai_deployment, ai_model

DIGEST = "sha256:" + "a" * 64


def objects() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    model = ai_model("fraud")
    model["metadata"]["namespace"] = "risk"
    model["spec"]["card"].update(
        {
            "license": "apache-2.0",
            "limitations": ["EU only"],
            "prohibitedUses": ["account closure"],
            "trainingData": [
                {
                    "name": "tx-2025",
                    "uri": "s3://data/tx-2025",
                    "digest": "sha256:" + "b" * 64,
                    "retrievedAt": "2026-01-01T00:00:00Z",
                }
            ],
        }
    )
    model["status"] = {
        "verified": {"digest": DIGEST, "signer": "publisher"},
        "conditions": [{"type": "Verified", "status": "True", "reason": "SignatureValid"}],
    }
    unverified = ai_model("draft")
    unverified["metadata"]["namespace"] = "risk"
    deployment = ai_deployment("scorer", "fraud", authentication={"apiKeysSecretRef": {"name": "k"}})
    deployment["metadata"]["namespace"] = "risk"
    deployment["status"] = {"servedDigest": DIGEST}
    return [model, unverified], [deployment]


def test_register_is_valid_cyclonedx_1_6() -> None:
    models, deployments = objects()
    bom = ml_bom(models, deployments, timestamp=datetime(2026, 11, 25, tzinfo=UTC), serial=uuid.UUID(int=1))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None


def test_register_content_and_dependencies() -> None:
    models, deployments = objects()
    bom = ml_bom(models, deployments, timestamp=datetime(2026, 11, 25, tzinfo=UTC), serial=uuid.UUID(int=1))
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    fraud = by_ref["aimodel:risk/fraud"]
    assert fraud["type"] == "machine-learning-model" and fraud["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert fraud["modelCard"]["modelParameters"]["datasets"] == [{"ref": "dataset:risk/fraud/tx-2025"}]
    assert by_ref["dataset:risk/fraud/tx-2025"]["type"] == "data"
    assert "hashes" not in by_ref["aimodel:risk/draft"]  # nothing verified, nothing claimed
    (service,) = bom["services"]
    assert service["authenticated"] is True
    deps = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert deps["aideployment:risk/scorer"] == ["aimodel:risk/fraud"]
    assert deps["aimodel:risk/fraud"] == ["dataset:risk/fraud/tx-2025"]
