"""ComplianceReport (cluster-scoped): the compliance report kept current by the operator, with its history.

The operator regenerates it every `intervalMinutes` and, at most every `minimumGapSeconds`, after AIModels,
AIDeployments or TrustPolicies change; `modelguard report` writes the full document (every provision, the
evidence index, HTML) from the same evidence, on a workstation.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from modelguard.api.base import DNS_LABEL, Condition, KubeModel, conditions_field


class ComplianceReportSpec(KubeModel):
    """What the report covers and how often it is regenerated."""

    namespace: str | None = Field(
        default=None, description="Only this namespace (default: all).", max_length=63, pattern=DNS_LABEL
    )
    framework: str | None = Field(
        default=None,
        description="Only the provisions that support this framework or one of its references, as for "
        "`modelguard report --framework` (eu-ai-act, nist-ai-rmf, iso-42001, iso-27001; KEY=REFERENCE).",
        max_length=80,
        pattern=r"^(eu-ai-act|nist-ai-rmf|iso-42001|iso-27001)(=[A-Za-z0-9. ]{1,40})?$",
    )
    interval_minutes: int = Field(default=60, description="Regenerate at least this often.", ge=5, le=10080)
    minimum_gap_seconds: int = Field(
        default=300,
        description="After AIModels, AIDeployments or TrustPolicies change, regenerate no sooner than this many "
        "seconds after the last time (a busy cluster is not re-read on every change).",
        ge=10,
        le=86400,
    )
    history_limit: int = Field(
        default=90, description="Summaries kept in status.history (oldest dropped).", ge=1, le=500
    )


class StatusCounts(KubeModel):
    """How many provisions are in each status."""

    met: int = Field(default=0, ge=0, description="Met.")
    not_met: int = Field(default=0, ge=0, description="Not met (checked, evidence missing or failing).")
    not_applicable: int = Field(default=0, ge=0, description="Nothing in scope to check.")
    organisational: int = Field(default=0, ge=0, description="Organisational measures.")


class PhaseSummary(StatusCounts):
    phase: str = Field(description="Lifecycle phase (Secure Design ... Secure End of Life).", max_length=64)


class PrincipleSummary(StatusCounts):
    clause: str = Field(description="The principle's clause (5.1.1 ...).", max_length=16)
    name: str = Field(description="The principle's name (its title in the standard).", max_length=128)
    phase: str = Field(description="Its lifecycle phase.", max_length=64)


class HistoryEntry(StatusCounts):
    """One earlier regeneration."""

    at: datetime = Field(description="When it was generated.")
    principles_not_met: list[str] = Field(
        default_factory=list, description="Clauses of the principles with a provision not met.", max_length=16
    )


class ComplianceReportStatus(KubeModel):
    observed_generation: int | None = Field(default=None, description="Last generation reconciled.", ge=0)
    conditions: list[Condition] = conditions_field()
    generated_at: datetime | None = Field(default=None, description="When the report was last generated.")
    summary: StatusCounts | None = Field(default=None, description="Provisions per status.")
    by_phase: list[PhaseSummary] = Field(default_factory=list, description="Per lifecycle phase.", max_length=8)
    by_principle: list[PrincipleSummary] = Field(default_factory=list, description="Per principle.", max_length=16)
    not_met: list[str] = Field(default_factory=list, description="Ids of the provisions not met.", max_length=80)
    history: list[HistoryEntry] = Field(
        default_factory=list, description="Earlier summaries, oldest first (spec.historyLimit).", max_length=500
    )


class ComplianceReport(KubeModel):
    spec: ComplianceReportSpec = Field(default_factory=ComplianceReportSpec, description="What it covers.")
    status: ComplianceReportStatus | None = Field(default=None, description="The report, written by the operator.")
