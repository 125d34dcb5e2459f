"""DecommissionCertificate (cluster-scoped): the immutable, signed record of one end-of-life run."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from modelguard.api.base import KubeModel, with_cel


class CertifiedModel(KubeModel):
    namespace: str = Field(description="Namespace of the decommissioned AIModel.")
    name: str = Field(description="Name of the AIModel.")
    uid: str = Field(description="UID of the AIModel.")
    version: str = Field(description="Model version.")
    digest: str | None = Field(default=None, description="Last verified model digest.")
    source: str = Field(description="Where the model's bytes were.")


class Requester(KubeModel):
    username: str = Field(description="Who asked for the decommission (from admission).")
    groups: list[str] = Field(default_factory=list, description="The requester's groups.")


class CertifiedAction(KubeModel):
    """One thing done (or deliberately not done) by the decommission."""

    step: str = Field(description="The plan step.")
    kind: str = Field(description="What was acted on: AIDeployment, Secret, PersistentVolumeClaim, OCIManifest, ...")
    name: str = Field(description="Its name, reference or URI.")
    method: str = Field(description="How: Delete, ScaleToZero, RegistryDelete, CryptoShred, Verify404, ...")
    result: Literal["Done", "AlreadyGone", "Retained", "NotOwned"] = Field(
        description="The outcome (Failed never certifies). NotOwned: an object with the name of a child that "
        "ModelGuard did not create for this deployment, left alone."
    )
    detail: str = Field(default="", description="Evidence, e.g. the HTTP status confirming deletion.")


class CertificateSignature(KubeModel):
    key_id: str = Field(description="SHA-256 of the signing public key (PEM), as in model signing key hints.")
    algorithm: Literal["ECDSA-P256-SHA256"] = Field(description="Signature algorithm.")
    value: str = Field(description="Base64 DER signature over the canonical JSON of the spec without signature.")


class DecommissionCertificateSpec(KubeModel):
    model_config = with_cel(("self == oldSelf", "DecommissionCertificates are immutable"))

    model: CertifiedModel = Field(description="The decommissioned model.")
    trigger: Literal["Deletion", "Retire", "RetireAfter"] = Field(description="What started the decommission.")
    requester: Requester = Field(description="Who asked for it.")
    started_at: datetime = Field(description="When the decommission started.")
    completed_at: datetime = Field(description="When every step had finished.")
    operator_version: str = Field(description="ModelGuard version that ran it.")
    actions: list[CertifiedAction] = Field(
        default_factory=list, description="Everything done, in order.", max_length=1000
    )
    keys_destroyed: list[str] = Field(default_factory=list, description="Encryption keys destroyed (names only).")
    signature: CertificateSignature | None = Field(default=None, description="The operator's signature.")


class DecommissionCertificateStatus(KubeModel):
    """Certificates carry no status."""


class DecommissionCertificate(KubeModel):
    spec: DecommissionCertificateSpec = Field(description="The certified record.")
