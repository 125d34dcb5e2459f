"""AIModel: one version of a model, where its bytes are, how they are signed, its card and lifecycle."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from modelguard.api.assurance import ModelAssurance, reviewed_at
from modelguard.api.base import (
    DNS_SUBDOMAIN,
    Condition,
    ConfigMapKeyReference,
    KubeModel,
    LocalObjectReference,
    Text,
    conditions_field,
    required_of_new_objects,
    with_cel,
)

SHA256_DIGEST = r"^sha256:[a-f0-9]{64}$"
# registry[:port]/repository@sha256:<64 hex>: pinned by manifest digest, no tag beside the digest
OCI_PINNED = r"^oci://[A-Za-z0-9.-]+(:[0-9]+)?/[a-z0-9]+([._/-][a-z0-9]+)*@sha256:[a-f0-9]{64}$"
OCI_MESSAGE = "oci:// references must be registry/repository@sha256:<64 hex>: pinned by manifest digest, no tag"


def _pinned_if_oci(uri: str | None) -> str | None:
    if uri is not None and uri.startswith("oci://") and re.fullmatch(OCI_PINNED, uri) is None:
        raise ValueError(OCI_MESSAGE)
    return uri


class ModelSource(KubeModel):
    """Where the model's bytes are."""

    model_config = with_cel((f"!self.uri.startsWith('oci://') || self.uri.matches('{OCI_PINNED}')", OCI_MESSAGE))

    uri: str = Field(
        description=(
            "Location of the model: file:///path (demos, tests), https://host/path (one file or a "
            "directory whose files the signed manifest lists) or oci://registry/repo@sha256:<digest>."
        ),
        max_length=2048,
        pattern=r"^(file|https|oci)://[^\s]+$",
    )
    credentials_secret_ref: LocalObjectReference | None = Field(
        default=None,
        description="Secret in the AIModel's own namespace holding registry or server credentials.",
    )

    _pinned = field_validator("uri")(_pinned_if_oci)


class SignatureSpec(KubeModel):
    """How the model is signed and where the signature is."""

    model_config = with_cel(
        ("has(self.bundleUri) != has(self.configMapRef)", "set exactly one of bundleUri or configMapRef"),
        (
            f"!has(self.bundleUri) || !self.bundleUri.startsWith('oci://') || self.bundleUri.matches('{OCI_PINNED}')",
            "bundleUri: " + OCI_MESSAGE,
        ),
    )

    format: Literal["model-signing", "detached"] = Field(
        default="model-signing",
        description=(
            "model-signing: an OpenSSF model signing bundle (DSSE envelope over an in-toto statement "
            "listing per-file digests). detached: a plain signature over the single artifact's digest."
        ),
    )
    bundle_uri: str | None = Field(
        default=None,
        description="Where the signature is: file://, https:// or oci:// (same rules as the source).",
        max_length=2048,
        pattern=r"^(file|https|oci)://[^\s]+$",
    )
    config_map_ref: ConfigMapKeyReference | None = Field(
        default=None, description="A ConfigMap key in the AIModel's namespace holding the signature."
    )

    _pinned = field_validator("bundle_uri")(_pinned_if_oci)


class DatasetReference(KubeModel):
    """Provenance of one data set used to train or tune the model (TS 104 223 5.2.4-2)."""

    name: str = Field(description="Name of the data set.", max_length=253)
    uri: str = Field(description="Where the data set was obtained from.", max_length=2048)
    digest: str | None = Field(
        default=None, description="Content digest (sha256:<hex>) of the data set.", max_length=71, pattern=SHA256_DIGEST
    )
    retrieved_at: datetime | None = Field(default=None, description="When the data set was retrieved.")


class ModelCard(KubeModel):
    """Documentation of the model (TS 104 223 5.2.4, 5.3.1)."""

    owner: str = Field(description="Accountable owner (team or contact address).", min_length=1, max_length=253)
    intended_use: str | None = Field(default=None, description="What the model is for.", max_length=4096)
    limitations: list[Text] = Field(
        default_factory=list, description="Known limitations and failure modes.", max_length=64
    )
    prohibited_uses: list[Text] = Field(default_factory=list, description="Uses that are not allowed.", max_length=64)
    training_data: list[DatasetReference] = Field(
        default_factory=list, description="Provenance of the training and tuning data.", max_length=128
    )
    license: str | None = Field(default=None, description="SPDX licence id or licence name.", max_length=253)
    data_usage: str | None = Field(
        default=None, description="How end users' data is used, accessed and stored.", max_length=4096
    )
    last_reviewed: str | None = Field(
        default=None,
        description="When the card and risks were last reviewed: a date (2026-11-30) or a date-time "
        "(2026-11-30T09:00:00Z, RFC 3339).",
        max_length=40,
        pattern=r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$",
    )

    @field_validator("last_reviewed")
    @classmethod
    def _a_real_date(cls, value: str | None) -> str | None:
        if value is not None:
            reviewed_at(value)  # raises ValueError for 2026-02-30 and the like
        return value

    def reviewed(self) -> datetime | None:
        """lastReviewed as a UTC datetime (a plain date is that day's midnight, UTC)."""
        return reviewed_at(self.last_reviewed) if self.last_reviewed is not None else None


class MaintenanceSpec(KubeModel):
    """Scheduled maintenance scans (TS 104 223 5.4)."""

    schedule: str = Field(
        default="0 3 * * *",
        description="Cron schedule (UTC) of maintenance scans; starts are spread by a per-object jitter. "
        "Annotate modelguard.io/scan-now=<token> to scan at once.",
        max_length=128,
        pattern=r"^(\S+\s+){4}\S+$",
    )
    on_failure: Literal["Quarantine", "Report"] = Field(
        default="Quarantine", description="What a critical finding does to deployments of this model."
    )
    reports_to_keep: int = Field(default=5, description="ScanReports kept per model (oldest deleted).", ge=1, le=100)


class DataReference(KubeModel):
    """An object holding the model's data, deleted at end of life (same namespace only)."""

    kind: Literal["PersistentVolumeClaim", "Secret", "ConfigMap"] = Field(description="Kind of the object.")
    name: str = Field(
        description="Name of the object in the AIModel's namespace.", max_length=253, pattern=DNS_SUBDOMAIN
    )


class EndOfLifeSpec(KubeModel):
    """End-of-life policy (TS 104 223 5.5)."""

    retire_after: datetime | None = Field(default=None, description="Decommission automatically after this time.")
    retire: bool = Field(default=False, description="Set to true to decommission now.")
    legal_hold: bool = Field(default=False, description="While true, nothing is deleted; status says so.")
    delete_artifacts: bool = Field(
        default=True,
        description="Delete the model's artifacts: the OCI manifests of the model and its signature at the "
        "registry. file:// and https:// artifacts are retained (recorded so in the certificate): remove them at "
        "their origin.",
    )
    data_refs: list[DataReference] = Field(
        default_factory=list, description="Data to delete at end of life (same namespace only).", max_length=64
    )
    encryption_keys: list[LocalObjectReference] = Field(
        default_factory=list,
        description="Secrets holding encryption keys of the model's data, destroyed last (crypto-shredding).",
        max_length=32,
    )
    deployments: Literal["Delete", "Wait"] = Field(
        default="Delete", description="Delete the AIDeployments serving the model first, or wait for their owners."
    )


class SbomReference(KubeModel):
    """A CycloneDX (JSON) software bill of materials for the model, pinned by digest."""

    uri: str = Field(
        description="file:// (below the operator's file roots) or https:// location of the SBOM.",
        max_length=2048,
        pattern=r"^(file|https)://[^\s]+$",
    )
    digest: str = Field(description="sha256:<hex> of the SBOM file.", max_length=71, pattern=SHA256_DIGEST)


class AIModelSpec(KubeModel):
    """Desired state of an AIModel."""

    model_config = with_cel(
        (
            "self.version == oldSelf.version",
            "version is immutable: create a new AIModel for a new model version",
        ),
    )

    version: str = Field(
        description="Version of the model (immutable).",
        min_length=1,
        max_length=64,
        pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$",
    )
    source: ModelSource = Field(description="Where the model's bytes are.")
    signature: SignatureSpec = Field(description="How the model is signed and where the signature is.")
    trust_policy: str = Field(
        description="Name of the cluster-scoped TrustPolicy that decides who may sign.",
        max_length=253,
        pattern=DNS_SUBDOMAIN,
    )
    card: ModelCard = Field(description="Model documentation.")
    sbom: SbomReference | None = Field(default=None, description="SBOM checked against the cluster's advisories.")
    maintenance: MaintenanceSpec = Field(default_factory=MaintenanceSpec, description="Maintenance scans.")
    end_of_life: EndOfLifeSpec = Field(default_factory=EndOfLifeSpec, description="End-of-life policy.")
    assurance: ModelAssurance | None = Field(
        default=None,
        description="Threat model, risk assessment, evaluations bound to the model digest and the "
        "vulnerability disclosure policy, each pinned by digest (the TrustPolicy can require them: "
        "spec.requirements.assurance).",
    )


class VerifiedBy(KubeModel):
    """What vouched for the signature."""

    method: Literal["key", "certificate", "sigstore"] = Field(
        description="key: a trusted public key; certificate: a signing certificate chaining to a trusted CA; "
        "sigstore: keyless, a Fulcio certificate and a transparency-log entry for a trusted identity."
    )
    trusted: str = Field(description="The id of the TrustPolicy key, CA or Sigstore identity.", max_length=128)
    subject: str | None = Field(
        default=None,
        description="The signing certificate's subject (certificate) or identity (sigstore).",
        max_length=1024,
    )
    issuer: str | None = Field(
        default=None,
        description="The signing certificate's issuer (certificate) or OIDC issuer (sigstore).",
        max_length=1024,
    )
    log_index: str | None = Field(
        default=None, description="The transparency-log index of the signature (sigstore).", max_length=20
    )


class SignatureReference(KubeModel):
    """The signature that was verified: where it came from, its format and the digest of its bytes. Pods are
    shipped exactly these bytes, whatever the spec says now."""

    model_config = with_cel(
        ("has(self.bundleUri) != has(self.configMapRef)", "set exactly one of bundleUri or configMapRef")
    )

    format: Literal["model-signing", "detached"] = Field(description="The signature's format (spec.signature.format).")
    bundle_uri: str | None = Field(default=None, description="The bundle URI it was fetched from.", max_length=2048)
    config_map_ref: ConfigMapKeyReference | None = Field(
        default=None, description="The ConfigMap key in the AIModel's namespace it was read from."
    )
    digest: str | None = Field(
        default=None,
        description="sha256:<hex> of the signature bytes that verified; the bytes shipped to pods must match it. "
        "Absent only in records written before it was recorded: such a model is verified again.",
        max_length=71,
        pattern=SHA256_DIGEST,
    )

    @classmethod
    def of(cls, signature: SignatureSpec, digest: str) -> SignatureReference:
        """The reference to the signature `signature` locates, whose bytes hash to `digest`."""
        return cls(
            format=signature.format,
            bundle_uri=signature.bundle_uri,
            config_map_ref=signature.config_map_ref,
            digest=digest,
        )

    def locates(self, signature: SignatureSpec) -> bool:
        """Whether `signature` names the same place (format aside)."""
        return (self.bundle_uri, self.config_map_ref) == (signature.bundle_uri, signature.config_map_ref)

    def as_spec(self) -> SignatureSpec:
        """As a spec's signature: where a pod or a fetch finds these bytes."""
        return SignatureSpec(format=self.format, bundle_uri=self.bundle_uri, config_map_ref=self.config_map_ref)


class VerifiedRecord(KubeModel):
    """What was verified, with the inputs the result depends on: the hand-off to deployments, which read it
    rather than re-derive it from the current spec."""

    # this release writes verifiedBy and signatureRef always; a record an older release stored may lack them and
    # is upgraded where it is read (domain/verified_record.py)
    model_config = required_of_new_objects("verifiedBy", "signatureRef")

    digest: str = Field(
        description="ModelGuard's pin of the verified model (sha256:...): it covers every file's name and digest."
    )
    source: str = Field(description="The source URI the bytes were verified at.")
    signature_ref: SignatureReference = Field(
        description="The signature that verified: its location, format and the digest of its bytes."
    )
    verified_by: VerifiedBy = Field(
        description="What vouched for the signature (method, trusted id, subject or identity, issuer, log index)."
    )
    signer: str = Field(
        description="Who signed it, for people (printer column, Events): the key id, <CA id>:<signing certificate "
        "subject> or <identity id>:<certificate identity>. Nothing reads it back: verifiedBy says it typed."
    )
    signature: str | None = Field(
        default=None,
        description="Where the signature came from, as releases before signatureRef wrote it (bundle URI or "
        "configmap/NAME/KEY); read only to upgrade such a record.",
    )
    files: int = Field(description="Number of files verified.", ge=0)
    bytes: int = Field(description="Total bytes hashed.", ge=0)
    duration_seconds: float = Field(description="How long verification took.", ge=0)
    policy_generation: int = Field(description="TrustPolicy generation the result was computed under.", ge=0)
    generation: int = Field(description="AIModel generation the result was computed for.", ge=0)
    at: datetime = Field(description="When verification finished.")
    inspection: InspectionRecord | None = Field(
        default=None, description="What inspection of these files found, when the TrustPolicy requires it."
    )


class InspectionRecord(KubeModel):
    """What inspection of the verified files found (TrustPolicy spec.inspection)."""

    engine: str = Field(description="The inspection engine and version; a new one inspects again.", max_length=64)
    formats: list[str] = Field(default_factory=list, description="Formats the model contains.", max_length=32)
    files: int = Field(description="Files inspected.", ge=0)
    bytes_read: int = Field(description="Bytes read to inspect them.", ge=0)
    findings: list[Annotated[str, StringConstraints(max_length=700)]] = Field(
        default_factory=list, description="One line per refused file (empty: every file may be loaded).", max_length=20
    )
    at: datetime = Field(description="When inspection finished.")


class VerificationAttempt(KubeModel):
    """The inputs of the last completed verification; a change to any of them verifies again."""

    generation: int = Field(description="AIModel generation verified.", ge=0)
    policy_generation: int = Field(description="TrustPolicy generation applied.", ge=0)
    at: datetime = Field(description="When the attempt finished.")
    reason: str = Field(description="Outcome: SignatureValid or the reason verification failed.")


class ScanSummary(KubeModel):
    """The last maintenance scan."""

    at: datetime = Field(description="When it finished.")
    result: Literal["Passed", "Failed"] = Field(description="Its result.")
    report: str = Field(description="Name of its ScanReport.")
    critical: int = Field(default=0, ge=0, description="Critical findings.")
    high: int = Field(default=0, ge=0, description="High findings.")
    medium: int = Field(default=0, ge=0, description="Medium findings.")
    low: int = Field(default=0, ge=0, description="Low findings.")
    token: str | None = Field(default=None, description="The scan-now annotation value it answered, if any.")


class DecommissionStep(KubeModel):
    name: str = Field(description="Step name.")
    state: Literal["Pending", "Done", "Failed"] = Field(description="Progress of the step.")
    message: str = Field(default="", description="What happened or why it cannot finish.")


class DecommissionProgress(KubeModel):
    """Progress of an end-of-life run, recorded so that a restart resumes rather than repeats."""

    trigger: Literal["Deletion", "Retire", "RetireAfter"] = Field(description="What started it.")
    requester: str = Field(description="Who asked for it (username).")
    started_at: datetime = Field(description="When it started.")
    steps: list[DecommissionStep] = Field(default_factory=list, description="The plan and its progress.")
    actions: list[dict[str, str]] = Field(default_factory=list, description="What was done, for the certificate.")
    certificate: str | None = Field(default=None, description="Name of the DecommissionCertificate once issued.")
    completed_at: datetime | None = Field(default=None, description="When it finished.")


class AIModelStatus(KubeModel):
    """Observed state of an AIModel."""

    observed_generation: int | None = Field(default=None, description="Last generation reconciled.", ge=0)
    conditions: list[Condition] = conditions_field()
    verified: VerifiedRecord | None = Field(
        default=None,
        description="The last successful verification that is still trusted (kept while a newer generation fails "
        "for its own reasons; removed when the key is revoked or the verified bytes no longer match).",
    )
    attempt: VerificationAttempt | None = Field(default=None, description="The last completed verification attempt.")
    last_scan: ScanSummary | None = Field(default=None, description="The last maintenance scan.")
    next_scan: datetime | None = Field(default=None, description="When the next scheduled scan is due.")
    decommission: DecommissionProgress | None = Field(default=None, description="End-of-life progress.")


class AIModel(KubeModel):
    """One model version under ModelGuard's control."""

    spec: AIModelSpec = Field(description="Desired state.")
    status: AIModelStatus | None = Field(default=None, description="Observed state, written by the operator.")


__all__ = [
    "SHA256_DIGEST",
    "AIModel",
    "AIModelSpec",
    "AIModelStatus",
    "LocalObjectReference",
    "SignatureReference",
    "VerifiedBy",
    "VerifiedRecord",
]
