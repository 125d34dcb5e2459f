"""The ScanReport object of one scan (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelguard.api.base import API_VERSION
from modelguard.api.scanreport import ScanReportSpec
from modelguard.builders.labels import MANAGED_BY, PART_OF, object_name

TARGET_LABEL = "modelguard.io/scan-target"


def report_name(model: str, finished: datetime) -> str:
    return object_name(model, finished.strftime("scan-%Y%m%d-%H%M%S"))


def scan_report(model: str, namespace: str, uid: str, spec: ScanReportSpec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ScanReport",
        "metadata": {
            "name": report_name(model, spec.finished_at),
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
    """Names of the oldest reports beyond `keep` (names sort by time within one model)."""
    names = sorted(r["metadata"]["name"] for r in reports)
    return names[: max(0, len(names) - keep)]
