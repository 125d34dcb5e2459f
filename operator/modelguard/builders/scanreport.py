"""The ScanReport object of one scan (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelguard.api.base import API_VERSION
from modelguard.api.scanreport import ScanReportSpec
from modelguard.builders.labels import MANAGED_BY, PART_OF, object_name

TARGET_LABEL = "modelguard.io/scan-target"


def report_name(model: str, finished: datetime, nonce: str) -> str:
    return object_name(model, finished.strftime("scan-%Y%m%d-%H%M%S-") + nonce)


def scan_report(model: str, namespace: str, uid: str, spec: ScanReportSpec, nonce: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ScanReport",
        "metadata": {
            "name": report_name(model, spec.finished_at, nonce),
            "namespace": namespace,
            "labels": {TARGET_LABEL: model[:63], MANAGED_BY: "modelguard", PART_OF: "modelguard"},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "AIModel",
                    "name": model,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": spec.wire(),
    }


def to_prune(reports: list[dict[str, Any]], keep: int) -> list[str]:
    """Names of the oldest reports beyond `keep`, oldest first (creation time, then write order)."""

    def age(report: dict[str, Any]) -> tuple[str, int, str]:
        meta = report["metadata"]
        version = str(meta.get("resourceVersion") or "0")
        return (str(meta.get("creationTimestamp") or ""), int(version) if version.isdigit() else 0, meta["name"])

    ordered = sorted(reports, key=age)
    return [r["metadata"]["name"] for r in ordered[: max(0, len(ordered) - keep)]]
