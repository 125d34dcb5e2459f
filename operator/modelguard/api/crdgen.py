"""Generate structural CustomResourceDefinitions from the pydantic API models (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.api.approval import ModelApprovalSpec, ModelApprovalStatus
from modelguard.api.base import GROUP, VERSION
from modelguard.api.certificate import DecommissionCertificateSpec, DecommissionCertificateStatus
from modelguard.api.compliancereport import ComplianceReportSpec, ComplianceReportStatus
from modelguard.api.scanreport import ScanReportSpec, ScanReportStatus
from modelguard.api.trustpolicy import TrustPolicySpec, TrustPolicyStatus

_DROP = {"title", "additionalProperties", "$defs"}


@dataclass(frozen=True)
class KindInfo:
    """How one kind is exposed by the API server."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: str
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    extra_columns: tuple[dict[str, Any], ...] = ()
    ready_columns: bool = True


def _ready_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    ]


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="AIModel",
        plural="aimodels",
        singular="aimodel",
        short_names=("aim",),
        scope="Namespaced",
        spec=AIModelSpec,
        status=AIModelStatus,
        description="One version of an AI model: where its bytes are, how they are signed, its model card "
        "and its lifecycle (ETSI TS 104 223).",
        extra_columns=(
            {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
            {"name": "Digest", "type": "string", "jsonPath": ".status.verified.digest", "priority": 1},
            {"name": "Signer", "type": "string", "jsonPath": ".status.verified.signer", "priority": 1},
            {"name": "Scan", "type": "string", "jsonPath": ".status.lastScan.result"},
        ),
    ),
    KindInfo(
        kind="AIDeployment",
        plural="aideployments",
        singular="aideployment",
        short_names=("aid",),
        scope="Namespaced",
        spec=AIDeploymentSpec,
        status=AIDeploymentStatus,
        description="A serving workload for one verified AIModel, with its network and access policy.",
        extra_columns=(
            {"name": "Model", "type": "string", "jsonPath": ".spec.modelRef.name"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
            {"name": "Available", "type": "integer", "jsonPath": ".status.availableReplicas"},
            {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint"},
            {"name": "Digest", "type": "string", "jsonPath": ".status.servedDigest", "priority": 1},
        ),
    ),
    KindInfo(
        kind="ScanReport",
        plural="scanreports",
        singular="scanreport",
        short_names=("sr",),
        scope="Namespaced",
        spec=ScanReportSpec,
        status=ScanReportStatus,
        description="The findings of one maintenance scan of an AIModel and its deployments (immutable).",
        extra_columns=(
            {"name": "Target", "type": "string", "jsonPath": ".spec.target.name"},
            {"name": "Result", "type": "string", "jsonPath": ".spec.result"},
            {"name": "Trigger", "type": "string", "jsonPath": ".spec.trigger"},
        ),
        ready_columns=False,
    ),
    KindInfo(
        kind="DecommissionCertificate",
        plural="decommissioncertificates",
        singular="decommissioncertificate",
        short_names=("dcert",),
        scope="Cluster",
        spec=DecommissionCertificateSpec,
        status=DecommissionCertificateStatus,
        description="Immutable, signed record of one end-of-life run of an AIModel (ETSI TS 104 223 5.5.1).",
        extra_columns=(
            {"name": "Namespace", "type": "string", "jsonPath": ".spec.model.namespace"},
            {"name": "Model", "type": "string", "jsonPath": ".spec.model.name"},
            {"name": "Trigger", "type": "string", "jsonPath": ".spec.trigger"},
            {"name": "Requester", "type": "string", "jsonPath": ".spec.requester.username"},
        ),
        ready_columns=False,
    ),
    KindInfo(
        kind="ModelApproval",
        plural="modelapprovals",
        singular="modelapproval",
        short_names=("mapproval",),
        scope="Namespaced",
        spec=ModelApprovalSpec,
        status=ModelApprovalStatus,
        description="One person's approval to roll out one model digest in one AIDeployment; the approver is "
        "stamped from admission (ETSI TS 104 223 5.1.4).",
        extra_columns=(
            {"name": "Deployment", "type": "string", "jsonPath": ".spec.deployment"},
            {"name": "Approver", "type": "string", "jsonPath": ".metadata.annotations.modelguard\\.io/approved-by"},
            {"name": "Digest", "type": "string", "jsonPath": ".spec.digest", "priority": 1},
        ),
        ready_columns=False,
    ),
    KindInfo(
        kind="ComplianceReport",
        plural="compliancereports",
        singular="compliancereport",
        short_names=("mgreport",),
        scope="Cluster",
        spec=ComplianceReportSpec,
        status=ComplianceReportStatus,
        description="The ETSI TS 104 223 compliance report kept current by the operator, with its history "
        "(met / not met per principle and phase); `modelguard report` writes the full document.",
        extra_columns=(
            {"name": "Met", "type": "integer", "jsonPath": ".status.summary.met"},
            {"name": "Not met", "type": "integer", "jsonPath": ".status.summary.notMet"},
            {"name": "Generated", "type": "date", "jsonPath": ".status.generatedAt"},
        ),
    ),
    KindInfo(
        kind="TrustPolicy",
        plural="trustpolicies",
        singular="trustpolicy",
        short_names=("tp",),
        scope="Cluster",
        spec=TrustPolicySpec,
        status=TrustPolicyStatus,
        description="Which signers are trusted for which namespaces, and what documentation is required.",
        extra_columns=({"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},),
    ),
)


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs, turn Optional into nullable, and drop what structural schemas forbid."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        (inner,) = [option for option in any_of if option != {"type": "null"}]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        merged = {**_structural(inner, defs), **_structural(rest, defs), "nullable": True}
        if merged.get("default", "") is None:
            del merged["default"]
        return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "propertyNames":  # structural schemas cannot say it: a CEL rule bounds the map's keys
            limit = value.get("maxLength") if isinstance(value, dict) else None
            if isinstance(limit, int):
                rule = {"rule": f"self.all(k, size(k) <= {limit})", "message": f"keys are at most {limit} characters"}
                out.setdefault("x-kubernetes-validations", []).append(rule)
        elif key == "properties":
            out[key] = {name: _structural(prop, defs) for name, prop in value.items()}
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = _structural(value, defs)
        else:
            out[key] = _structural(value, defs)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(node["additionalProperties"], defs)
    return out


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    result: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return result


def crd(info: KindInfo) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    columns = [
        *(_ready_columns() if info.ready_columns else []),
        *info.extra_columns,
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "modelguard", "app.kubernetes.io/part-of": "modelguard"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": ["modelguard"],
            },
            "scope": info.scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": info.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": schema_of(info.spec),
                                "status": schema_of(info.status),
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Every CRD ModelGuard serves, in a stable order."""
    return [crd(info) for info in KINDS]
