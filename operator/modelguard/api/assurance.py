"""Assurance evidence a team declares beside a model or a deployment (TS 104 223 5.1.2, 5.1.3, 5.2.2, 5.2.3, 5.2.5).

ModelGuard cannot read a threat model or judge a red-team exercise; it can hold the team to a declared,
verifiable reference: where the document is, the SHA-256 of its bytes (an auditor fetches it and compares),
when it was reviewed and by whom. An evaluation is also bound to the model digest it was run against, so a
new model version needs evaluations of its own. A TrustPolicy can require these before anything rolls out
(spec.requirements.assurance).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from modelguard.api.base import SHA256, KubeModel, carries_credentials, with_cel

SHA256_DIGEST = r"^sha256:[a-f0-9]{64}$"
DATE_OR_TIME = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$"
DATE_HELP = "a date (2026-11-30) or an RFC 3339 date-time (2026-11-30T09:00:00Z)"
DOCUMENT_URI = r"^(https|oci)://[^\s]+$"
# a link an auditor follows is shown in the report: a user name or password in it would be published there
NO_CREDENTIALS = (
    "!self.uri.matches('^https://[^/?#]*@')",
    "uri: no credentials in the link (it is shown in the report)",
)


def reviewed_at(value: str) -> datetime:
    """A date or an RFC 3339 date-time as an aware UTC datetime (a date: midnight UTC)."""
    moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _no_credentials(uri: str) -> str:
    if carries_credentials(uri):
        raise ValueError("no credentials in the link (it is shown in the report)")
    return uri


def _a_real_date(value: str | None) -> str | None:
    if value is not None:
        reviewed_at(value)  # raises ValueError for 2026-02-30 and the like
    return value


class EvidenceDocument(KubeModel):
    """A document pinned by digest, with who reviewed it and when."""

    model_config = with_cel(NO_CREDENTIALS)

    uri: str = Field(
        description="Where an auditor fetches the document: https:// or oci://registry/repo@sha256:<digest>.",
        max_length=2048,
        pattern=DOCUMENT_URI,
    )
    digest: str = Field(
        description="sha256:<hex> of the document's bytes: what the auditor compares after fetching it.",
        max_length=71,
        pattern=SHA256_DIGEST,
    )
    reviewed_at: str = Field(
        description=f"When it was last reviewed: {DATE_HELP}.", max_length=40, pattern=DATE_OR_TIME
    )
    reviewer: str = Field(description="Who reviewed it (a person or a role).", min_length=1, max_length=253)

    _date = field_validator("reviewed_at")(_a_real_date)
    _uri = field_validator("uri")(_no_credentials)

    def reviewed(self) -> datetime:
        return reviewed_at(self.reviewed_at)


EvaluationKind = Literal["Evaluation", "RedTeam", "SecurityTest"]
Concern = Literal[
    "AdversarialInputs",
    "PromptInjection",
    "Jailbreak",
    "DataPoisoning",
    "ModelInversion",
    "MembershipInference",
    "TrainingDataExtraction",
    "ModelExtraction",
    "UnintendedInfluence",
    "Bias",
    "Performance",
]


class EvaluationResult(KubeModel):
    """The result of an evaluation, red-team exercise or security test of one model digest."""

    model_config = with_cel(NO_CREDENTIALS)

    kind: EvaluationKind = Field(
        description="Evaluation (quality and behaviour), RedTeam (adversarial exercise) or SecurityTest."
    )
    model_digest: SHA256 = Field(
        description="The model digest it was run against: the AIModel's status.verified.digest (what "
        "`modelguard verify` prints). It counts only for that digest: a new version needs its own."
    )
    uri: str = Field(
        description="Where the report is (https:// or pinned oci://).", max_length=2048, pattern=DOCUMENT_URI
    )
    digest: str = Field(description="sha256:<hex> of the report's bytes.", max_length=71, pattern=SHA256_DIGEST)
    completed_at: str = Field(description=f"When it finished: {DATE_HELP}.", max_length=40, pattern=DATE_OR_TIME)
    assessor: str = Field(description="Who ran it (team, firm or person).", min_length=1, max_length=253)
    result: Literal["Passed", "PassedWithFindings", "Failed"] = Field(
        description="Its outcome; a Failed result never satisfies a policy requirement."
    )
    covers: list[Concern] = Field(
        default_factory=list,
        description="What it tested, e.g. PromptInjection, ModelInversion, TrainingDataExtraction (5.2.5-4).",
        max_length=16,
    )

    _date = field_validator("completed_at")(_a_real_date)
    _uri = field_validator("uri")(_no_credentials)


class ModelAssurance(KubeModel):
    """Assurance evidence for this model version."""

    threat_model: EvidenceDocument | None = Field(
        default=None,
        description="The threat model covering AI-specific attacks (data poisoning, model inversion, "
        "membership inference, prompt injection...) for this model's use (5.1.3-1).",
    )
    risk_assessment: EvidenceDocument | None = Field(
        default=None,
        description="The risk assessment and due diligence: business need, AI security risks, mitigations, "
        "capabilities the use case does not need, fit with the training data's sensitivity (5.1.2-1, 5.1.2-4).",
    )
    evaluations: list[EvaluationResult] = Field(
        default_factory=list,
        description="Evaluations, red-team exercises and security tests, each bound to a model digest.",
        max_length=16,
    )
    vulnerability_disclosure: str | None = Field(
        default=None,
        description="The published vulnerability disclosure policy (https:// URL, 5.2.2-4).",
        max_length=2048,
        pattern=r"^https://[^\s]+$",
    )

    def current_evaluations(self, digest: str | None, kinds: tuple[str, ...] = ()) -> list[EvaluationResult]:
        """Evaluations of this digest that did not fail (of the given kinds, when any)."""
        return [
            e
            for e in self.evaluations
            if digest is not None
            and e.model_digest == digest
            and e.result != "Failed"
            and (not kinds or e.kind in kinds)
        ]


class IncidentResponse(KubeModel):
    """Who answers when this deployment is attacked or fails, and the plans they follow (5.2.2-5, 5.2.1-3)."""

    contact: str = Field(
        description="Who is called: an address, an on-call rotation or a URL.", min_length=1, max_length=253
    )
    runbook: EvidenceDocument = Field(description="The incident-management plan for this deployment.")
    recovery_plan: EvidenceDocument | None = Field(
        default=None,
        description="The recovery plan, including attacks aimed at AI systems (disaster recovery, 5.2.1-3).",
    )


__all__ = ["EvaluationResult", "EvidenceDocument", "IncidentResponse", "ModelAssurance", "reviewed_at"]
