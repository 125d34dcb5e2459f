"""The CRDs in crds/ are exactly what the API models generate, and they are structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelguard.api.crdgen import all_crds
from modelguard.cli.crds import render

CRDS = Path(__file__).resolve().parents[2] / "crds"


def test_crds_directory_matches_generated() -> None:
    rendered = render()
    on_disk = {p.name: p.read_text() for p in CRDS.glob("*.yaml")}
    assert on_disk == rendered, "crds/ is stale: run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, value in node.items():
            out.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_walk(value, f"{path}[{i}]"))
    return out


@pytest.mark.parametrize("crd", all_crds(), ids=lambda c: c["metadata"]["name"])
def test_schema_is_structural(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "allOf" not in node, path
        assert "title" not in node, path
        assert node.get("additionalProperties") is not False, path
        if path.endswith(".properties") or path.endswith("x-kubernetes-validations"):
            continue
        if any(k in node for k in ("description", "pattern", "enum")) and not path.endswith("properties"):
            assert "type" in node or "x-kubernetes-preserve-unknown-fields" in node, path


@pytest.mark.parametrize("crd", all_crds(), ids=lambda c: c["metadata"]["name"])
def test_every_spec_field_is_documented(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    missing = [
        path for path, node in _walk(schema) if path.split(".")[-2:-1] == ["properties"] and "description" not in node
    ]
    assert missing == []


def test_conditions_are_a_map_keyed_by_type() -> None:
    for crd in all_crds():
        status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        if crd["spec"]["names"]["kind"] in ("ScanReport", "DecommissionCertificate", "ModelApproval"):
            assert "conditions" not in status.get("properties", {})
            continue
        conditions = status["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map"
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]
        assert "type" in conditions["items"]["required"]


def test_optional_fields_become_nullable_not_anyof() -> None:
    aimodel = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "AIModel")
    source = aimodel["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["source"]
    creds = source["properties"]["credentialsSecretRef"]
    assert creds["nullable"] is True and creds["type"] == "object"
    assert "default" not in creds


def test_printer_columns_show_ready_reason_and_digest() -> None:
    aimodel = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "AIModel")
    columns = {c["name"]: c["jsonPath"] for c in aimodel["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Reason"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert columns["Digest"] == ".status.verified.digest"
    assert yaml.safe_load(render()["aimodels.modelguard.io.yaml"])["spec"]["names"]["shortNames"] == ["aim"]
