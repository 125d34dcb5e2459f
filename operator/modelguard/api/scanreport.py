"""ScanReport: the findings of one maintenance scan of an AIModel and its deployments (immutable record)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from modelguard.api.base import DNS_SUBDOMAIN, KubeModel, with_cel

Severity = Literal["Critical", "High", "Medium", "Low", "Info"]
SEVERITIES: tuple[Severity, ...] = ("Critical", "High", "Medium", "Low", "Info")


class ScanTarget(KubeModel):
    kind: Literal["AIModel"] = Field(default="AIModel", description="Kind of the scanned object.")
    name: str = Field(description="Name of the scanned object (same namespace).", max_length=253, pattern=DNS_SUBDOMAIN)


class Finding(KubeModel):
    """One problem found by one check."""

    check: str = Field(
        description="The check that found it: signature-and-integrity, serving-matches, images-pinned, "
        "documentation or vulnerabilities (docs/scans.md); evidence.reason tells a revoked key from changed bytes.",
        max_length=64,
    )
    severity: Severity = Field(description="Critical, High, Medium, Low or Info.")
    message: str = Field(description="What was found (never secrets).", max_length=2048)
    evidence: dict[str, str] = Field(default_factory=dict, description="Facts supporting the finding.")
    provisions: list[str] = Field(
        default_factory=list, description="ETSI TS 104 223 provision ids concerned.", max_length=16
    )


class ScanReportSpec(KubeModel):
    """The record of one scan; immutable once written."""

    model_config = with_cel(("self == oldSelf", "ScanReports are immutable"))

    target: ScanTarget = Field(description="What was scanned.")
    trigger: Literal["Schedule", "Manual"] = Field(description="Why the scan ran.")
    started_at: datetime = Field(description="When the scan started.")
    finished_at: datetime = Field(description="When the scan finished.")
    result: Literal["Passed", "Failed"] = Field(description="Failed when a Critical or High finding exists.")
    model_digest: str | None = Field(default=None, description="The verified model digest at scan time.")
    checks: list[str] = Field(default_factory=list, description="The checks that ran.", max_length=32)
    findings: list[Finding] = Field(default_factory=list, description="What was found.", max_length=500)


class ScanReportStatus(KubeModel):
    """ScanReports carry no status; kept for schema symmetry."""


class ScanReport(KubeModel):
    spec: ScanReportSpec = Field(description="The report.")
