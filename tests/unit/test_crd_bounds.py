"""Every string, list and map a tenant (or a policy author) writes is bounded in the CRD schema, so the API
server refuses oversized input naming the field and CEL rules have a bounded cost."""

from __future__ import annotations

from typing import Any

import pytest

from modelguard.api.crdgen import all_crds

WRITTEN_BY_PEOPLE = ("AIModel", "AIDeployment", "ModelApproval", "TrustPolicy")


def unbounded(schema: dict[str, Any], path: str) -> list[str]:
    out: list[str] = []
    kind = schema.get("type")
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        out.append(f"{path}: free-form")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema and schema.get("format") != "date-time":
        out.append(f"{path}: string without maxLength")
    if kind == "array":
        if "maxItems" not in schema:
            out.append(f"{path}: list without maxItems")
        out += unbounded(schema.get("items") or {}, f"{path}[]")
    if kind == "object":
        for key, value in (schema.get("properties") or {}).items():
            out += unbounded(value, f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                out.append(f"{path}: map without maxProperties")
            out += unbounded(extra, f"{path}{{}}")
    return out


@pytest.mark.parametrize("kind", WRITTEN_BY_PEOPLE)
def test_every_field_people_write_is_bounded(kind: str) -> None:
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == kind)
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert unbounded(spec, "spec") == []
