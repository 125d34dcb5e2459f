"""The asset register as a CycloneDX 1.6 ML-BOM (pure): models, their datasets, the deployments serving
them and how they depend on each other (TS 104 223 5.2.1-1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from modelguard import __version__
from modelguard.api.condition_types import Cond


def _ref(kind: str, namespace: str, name: str) -> str:
    return f"{kind}:{namespace}/{name}"


def _conditions(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in (body.get("status") or {}).get("conditions") or []}


def _model(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    ns, name = meta.get("namespace", ""), meta["name"]
    card = spec.get("card") or {}
    verified = status.get("verified") or {}
    conditions = _conditions(body)
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": _ref("aimodel", ns, name),
        "name": name,
        "version": str(spec.get("version", "")),
        "group": ns,
        "supplier": {"name": str(card.get("owner", "unknown"))},
        "externalReferences": [{"type": "distribution", "url": str((spec.get("source") or {}).get("uri", ""))}],
        "properties": [
            {"name": "modelguard:trustPolicy", "value": str(spec.get("trustPolicy", ""))},
            {
                "name": "modelguard:verified",
                "value": str((conditions.get(Cond.VERIFIED) or {}).get("status", "Unknown")),
            },
            {
                "name": "modelguard:verifiedReason",
                "value": str((conditions.get(Cond.VERIFIED) or {}).get("reason", "")),
            },
        ],
    }
    if card.get("license"):
        component["licenses"] = [{"license": {"name": str(card["license"])}}]
    if verified.get("digest", "").startswith("sha256:"):
        component["hashes"] = [{"alg": "SHA-256", "content": verified["digest"].removeprefix("sha256:")}]
        component["properties"].append({"name": "modelguard:signer", "value": str(verified.get("signer", ""))})
    considerations: dict[str, Any] = {}
    if card.get("intendedUse"):
        considerations["useCases"] = [str(card["intendedUse"])]
    if card.get("limitations"):
        considerations["technicalLimitations"] = [str(x) for x in card["limitations"]]
    if card.get("prohibitedUses"):
        considerations["ethicalConsiderations"] = [{"name": f"prohibited use: {x}"} for x in card["prohibitedUses"]]
    datasets, dataset_refs = [], []
    for data in card.get("trainingData") or []:
        ref = _ref("dataset", ns, f"{name}/{data.get('name', '')}")
        dataset: dict[str, Any] = {
            "type": "data",
            "bom-ref": ref,
            "name": str(data.get("name", "")),
            "externalReferences": [{"type": "distribution", "url": str(data.get("uri", ""))}],
            "data": [{"type": "dataset", "name": str(data.get("name", ""))}],
        }
        if str(data.get("digest", "")).startswith("sha256:"):
            dataset["hashes"] = [{"alg": "SHA-256", "content": data["digest"].removeprefix("sha256:")}]
        if data.get("retrievedAt"):
            dataset["properties"] = [{"name": "modelguard:retrievedAt", "value": str(data["retrievedAt"])}]
        datasets.append(dataset)
        dataset_refs.append(ref)
    if considerations or dataset_refs:
        component["modelCard"] = {
            **({"considerations": considerations} if considerations else {}),
            **({"modelParameters": {"datasets": [{"ref": r} for r in dataset_refs]}} if dataset_refs else {}),
        }
    return component, datasets, dataset_refs


def _service(body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    ns, name = meta.get("namespace", ""), meta["name"]
    access = spec.get("access") or {}
    service = {
        "bom-ref": _ref("aideployment", ns, name),
        "name": name,
        "group": ns,
        "authenticated": spec.get("authentication") is not None,
        "x-trust-boundary": access.get("exposure") == "External",
        "endpoints": [f"http://{name}.{ns}.svc/"],
        "properties": [
            {"name": "modelguard:servedDigest", "value": str(status.get("servedDigest") or "")},
            {
                "name": "modelguard:ready",
                "value": str((_conditions(body).get(Cond.READY) or {}).get("status", "Unknown")),
            },
            {"name": "modelguard:runtimeImage", "value": str((spec.get("runtime") or {}).get("image", ""))},
        ],
    }
    model_ref = _ref("aimodel", ns, str((spec.get("modelRef") or {}).get("name", "")))
    return service, model_ref


def ml_bom(
    models: Iterable[Mapping[str, Any]],
    deployments: Iterable[Mapping[str, Any]],
    *,
    timestamp: datetime,
    serial: uuid.UUID,
) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    known: set[str] = set()
    for body in sorted(models, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"])):
        component, datasets, refs = _model(body)
        components.append(component)
        components.extend(datasets)
        known.update([component["bom-ref"], *refs])
        dependencies.append({"ref": component["bom-ref"], "dependsOn": refs})
        dependencies.extend({"ref": r, "dependsOn": []} for r in refs)
    for body in sorted(deployments, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"])):
        service, model_ref = _service(body)
        services.append(service)
        dependencies.append({"ref": service["bom-ref"], "dependsOn": [model_ref] if model_ref in known else []})
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
            "tools": {"components": [{"type": "application", "name": "modelguard", "version": __version__}]},
            "properties": [{"name": "modelguard:register", "value": "ETSI TS 104 223 5.2.1-1 asset inventory"}],
        },
        "components": components,
        "services": services,
        "dependencies": dependencies,
    }
