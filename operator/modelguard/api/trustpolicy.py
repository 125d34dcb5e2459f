"""TrustPolicy (cluster-scoped): which signers are trusted for which namespaces, and what is required."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from modelguard.api.base import (
    Condition,
    ConfigMapKeyReference,
    Identifier,
    KubeModel,
    LabelKey,
    LabelSelector,
    LabelValue,
    SecretKeyReference,
    conditions_field,
    with_cel,
)
from modelguard.api.model_formats import SAFE_FORMATS, ModelFormat


class TrustedKey(KubeModel):
    """A public key allowed to sign models, with its validity window."""

    model_config = with_cel(
        ("has(self.publicKey) != has(self.secretRef)", "set exactly one of publicKey or secretRef"),
        (
            "!has(self.notBefore) || !has(self.notAfter) || self.notBefore < self.notAfter",
            "notBefore must be earlier than notAfter",
        ),
    )

    id: str = Field(
        description="Key id, recorded as the signer of what it verified.",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    )
    public_key: str | None = Field(
        default=None, description="PEM-encoded public key (ECDSA P-256/P-384).", max_length=16384
    )
    secret_ref: SecretKeyReference | None = Field(
        default=None, description="Secret key in the operator's namespace holding the PEM public key."
    )
    not_before: datetime | None = Field(default=None, description="Signatures are trusted from this time.")
    not_after: datetime | None = Field(default=None, description="Signatures are not trusted after this time.")


class TrustedCertificateAuthority(KubeModel):
    """CA certificates whose signing certificates may sign models (model_signing's certificate method), with
    the same validity window and revocation (spec.revokedKeys) as a key."""

    model_config = with_cel(
        ("has(self.certificates) != has(self.secretRef)", "set exactly one of certificates or secretRef"),
        (
            "!has(self.notBefore) || !has(self.notAfter) || self.notBefore < self.notAfter",
            "notBefore must be earlier than notAfter",
        ),
    )

    id: str = Field(
        description="CA id; what it verified is recorded as signed by <id>:<signing certificate subject>.",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    )
    certificates: str | None = Field(
        default=None,
        description="PEM CA certificates (roots; intermediates may come from the signature bundle).",
        max_length=65536,
    )
    secret_ref: SecretKeyReference | None = Field(
        default=None, description="Secret key in the operator's namespace holding the PEM CA certificates."
    )
    not_before: datetime | None = Field(default=None, description="Signatures are trusted from this time.")
    not_after: datetime | None = Field(default=None, description="Signatures are not trusted after this time.")


class TrustedSigstoreIdentity(KubeModel):
    """A Sigstore keyless signer: the identity its Fulcio certificate names (exact, or a pattern) and the OIDC
    issuer that vouched for it, with the same validity window and revocation (spec.revokedKeys) as a key. What
    it verified is recorded as signed by <id>:<certificate identity>, with the transparency-log index."""

    model_config = with_cel(
        ("has(self.identity) != has(self.identityPattern)", "set exactly one of identity or identityPattern"),
        (
            "!has(self.notBefore) || !has(self.notAfter) || self.notBefore < self.notAfter",
            "notBefore must be earlier than notAfter",
        ),
    )

    id: str = Field(
        description="Identity id; what it verified is recorded as signed by <id>:<certificate identity>.",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    )
    identity: str | None = Field(
        default=None,
        description="The exact identity (subject alternative name) of the signing certificate: an e-mail "
        "address, or a workload URI such as https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main.",
        min_length=1,
        max_length=1024,
    )
    identity_pattern: str | None = Field(
        default=None,
        description="A regular expression (Python syntax) the whole identity must match, e.g. "
        r"^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*$ ; anchor it and "
        "escape dots: a pattern that matches more than you meant trusts more than you meant.",
        min_length=1,
        max_length=512,
    )
    issuer: str = Field(
        description="The OIDC issuer the certificate must name, exactly, e.g. "
        "https://token.actions.githubusercontent.com or https://accounts.google.com.",
        min_length=1,
        max_length=1024,
        pattern=r"^https://",
    )
    not_before: datetime | None = Field(default=None, description="Signatures are trusted from this time.")
    not_after: datetime | None = Field(default=None, description="Signatures are not trusted after this time.")

    @model_validator(mode="after")
    def _pattern_compiles(self) -> TrustedSigstoreIdentity:
        if (self.identity is None) == (self.identity_pattern is None):
            raise ValueError("set exactly one of identity or identityPattern")
        if self.identity_pattern is not None:
            try:
                re.compile(self.identity_pattern)
            except re.error as exc:
                raise ValueError(f"identityPattern is not a regular expression: {exc}") from None
        return self


class Requirements(KubeModel):
    """Documentation required before a model may be deployed."""

    card_fields: list[
        Literal[
            "intendedUse",
            "limitations",
            "prohibitedUses",
            "trainingData",
            "license",
            "dataUsage",
            "lastReviewed",
        ]
    ] = Field(default_factory=list, description="Model card fields that must be filled in.", max_length=16)
    review_max_age_days: int | None = Field(
        default=None, description="Card review older than this is overdue.", ge=1, le=3650
    )
    approvals: int = Field(
        default=0,
        description="Distinct people who must approve (ModelApproval) each new model digest before an "
        "AIDeployment in the selected namespaces rolls it out. An approval covers that AIDeployment (its uid: "
        "re-creating it needs new approvals) and its model, runtime image, replicas and exposure as they were.",
        ge=0,
        le=10,
    )
    separate_approvers: bool = Field(
        default=False,
        description="Separation of duties: approvals by whoever last changed the AIDeployment's spec (as the "
        "admission webhook recorded it) do not count; when nobody was recorded, no approval counts.",
    )
    assurance: list[Literal["threatModel", "riskAssessment", "evaluation", "redTeam", "vulnerabilityDisclosure"]] = (
        Field(
            default_factory=list,
            description="Assurance evidence each AIModel must declare before it rolls out (spec.assurance): "
            "threatModel, riskAssessment, vulnerabilityDisclosure; evaluation / redTeam: an evaluation / a RedTeam "
            "result that did not fail, of the verified digest itself. Missing evidence makes the model "
            "Documented=False (MissingDocumentation), which holds new rollouts.",
            max_length=8,
        )
    )
    assurance_max_age_days: int | None = Field(
        default=None,
        description="A threat model or risk assessment reviewed longer ago than this no longer counts.",
        ge=1,
        le=3650,
    )
    incident_response: bool = Field(
        default=False,
        description="AIDeployments of the selected namespaces must name an incident-response contact and runbook "
        "(spec.incidentResponse) before they roll out.",
    )
    on_approval_withdrawn: Literal["Quarantine", "Keep"] = Field(
        default="Quarantine",
        description="When a ModelApproval that counted for the digest being served is deleted and fewer than "
        "`approvals` remain: Quarantine stops serving it (scaled to zero, network cut) until enough people "
        "approve again; Keep serves on, with Approved=False (ApprovalWithdrawn) and the gap in the report.",
    )


class InspectionPolicy(KubeModel):
    """Inspect model files before anything loads them: their formats (told by content, not name), their
    structure, and what their pickles would import. Set it to require inspection; nothing rolls out until it
    passes, and every pod inspects the bytes it will load again."""

    allowed_formats: list[ModelFormat] = Field(
        default_factory=lambda: list(SAFE_FORMATS),
        description="Formats a model may contain. Default: safetensors, gguf, onnx, json, text (loading them runs "
        "no code). pytorch, pickle and numpy (object arrays) hold pickles; keras may hold Lambda layers; hdf5 and "
        "unknown content cannot be inspected and are refused.",
        max_length=16,
    )
    pickles: Literal["Refuse", "AllowListed"] = Field(
        default="Refuse",
        description="Refuse: a file holding a pickle is refused whatever its format. AllowListed: a pickle may "
        "import only plain-tensor globals (as torch.load(weights_only=True) allows) and allowedGlobals.",
    )
    allowed_globals: list[Annotated[str, StringConstraints(max_length=256, pattern=r"^[A-Za-z_][\w.]*(\.\*)?$")]] = (
        Field(
            default_factory=list,
            description="Imports pickles may make besides plain tensors', as module.name or module.* (AllowListed).",
            max_length=256,
        )
    )


class AllowedToleration(KubeModel):
    """A taint the model servers may tolerate: an AIDeployment's toleration must name this key (and effect and
    value, when set here)."""

    key: LabelKey = Field(description="Taint key (never a control-plane taint).", min_length=1)
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        default="", description="Taint effect; empty allows any."
    )
    value: LabelValue | None = Field(default=None, description="Taint value; unset allows any (and Exists).")


class SchedulingGrants(KubeModel):
    """What the model servers of the namespaces this policy selects may ask of the scheduler. An AIDeployment's
    spec.scheduling may use only what is listed (nothing by default): a tenant who may not create pods must not
    reach nodes, priorities or runtimes an admin did not grant. Control-plane nodes never: their taints and labels
    are refused whatever is listed, and every model server pod keeps off nodes labelled as control plane."""

    priority_classes: list[Identifier] = Field(
        default_factory=list, description="PriorityClasses the model servers may use.", max_length=32
    )
    runtime_classes: list[Identifier] = Field(
        default_factory=list, description="RuntimeClasses the model servers may use.", max_length=32
    )
    node_labels: list[LabelKey] = Field(
        default_factory=list, description="Node label keys nodeSelector and nodeAffinity may name.", max_length=32
    )
    tolerations: list[AllowedToleration] = Field(
        default_factory=list, description="Taints the model servers may tolerate.", max_length=32
    )


class TrustPolicySpec(KubeModel):
    """Desired state of a TrustPolicy."""

    model_config = with_cel(
        (
            "(has(self.keys) ? size(self.keys) : 0)"
            " + (has(self.certificateAuthorities) ? size(self.certificateAuthorities) : 0)"
            " + (has(self.sigstoreIdentities) ? size(self.sigstoreIdentities) : 0) > 0",
            "trust at least one key, certificate authority or Sigstore identity",
        ),
    )

    keys: list[TrustedKey] = Field(
        default_factory=list,
        description="Trusted signing keys.",
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    certificate_authorities: list[TrustedCertificateAuthority] = Field(
        default_factory=list,
        description="Trusted certificate authorities for models signed with a certificate.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    sigstore_identities: list[TrustedSigstoreIdentity] = Field(
        default_factory=list,
        description="Trusted Sigstore keyless signers (identity and OIDC issuer), verified offline against "
        "sigstoreTrustConfig or the Sigstore public-good trust root.",
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    sigstore_trust_config: ConfigMapKeyReference | None = Field(
        default=None,
        description="A Sigstore client trust configuration (JSON) in a ConfigMap of the operator's namespace, for "
        "a private Sigstore (its Fulcio CA, Rekor log key, timestamp authority); unset: the public-good trust root "
        "that ships with the operator (nothing is fetched).",
    )
    revoked_keys: list[Identifier] = Field(
        default_factory=list,
        description="Ids of keys, certificate authorities and Sigstore identities that are no longer trusted.",
        max_length=256,
    )
    namespace_selector: LabelSelector = Field(
        default_factory=LabelSelector, description="Namespaces this policy applies to (empty: all)."
    )
    allowed_sources: list[Annotated[str, StringConstraints(max_length=2048)]] = Field(
        default_factory=list,
        description="URI prefixes models may come from; empty allows none.",
        max_length=64,
    )
    requirements: Requirements = Field(default_factory=Requirements, description="Documentation requirements.")
    inspection: InspectionPolicy | None = Field(
        default=None,
        description="Require inspection of model files for unsafe serialization before rollout (unset: none).",
    )
    mode: Literal["Enforce", "Warn"] = Field(
        default="Enforce", description="Enforce blocks what fails; Warn records it and lets it pass."
    )
    scheduling: SchedulingGrants = Field(
        default_factory=SchedulingGrants,
        description="Priority and runtime classes, node labels and taints the model servers may use (none unset).",
    )

    @model_validator(mode="after")
    def _trusts_something(self) -> TrustPolicySpec:
        if not self.keys and not self.certificate_authorities and not self.sigstore_identities:
            raise ValueError("trust at least one key, certificate authority or Sigstore identity")
        ids = [k.id for k in self.keys] + [c.id for c in self.certificate_authorities]
        ids += [i.id for i in self.sigstore_identities]
        if len(ids) != len(set(ids)):
            raise ValueError("key, certificate authority and Sigstore identity ids must be unique together")
        return self


class TrustPolicyStatus(KubeModel):
    """Observed state of a TrustPolicy."""

    observed_generation: int | None = Field(default=None, description="Last generation reconciled.", ge=0)
    conditions: list[Condition] = conditions_field()


class TrustPolicy(KubeModel):
    """Cluster-wide trust decisions for model signatures."""

    spec: TrustPolicySpec = Field(description="Desired state.")
    status: TrustPolicyStatus | None = Field(default=None, description="Observed state, written by the operator.")


__all__ = [
    "TrustPolicy",
    "TrustPolicySpec",
    "TrustPolicyStatus",
    "TrustedCertificateAuthority",
    "TrustedKey",
    "TrustedSigstoreIdentity",
]
