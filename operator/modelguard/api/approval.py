"""ModelApproval: one person's approval to roll out one model digest in one AIDeployment (TS 104 223 5.1.4).

Who approved is never a field anyone fills in: the admission webhook stamps the requester's identity from
the API server into the `modelguard.io/approver` annotation and signs it with the operator's key; an
approval without a valid stamp does not count. Who may approve is decided by RBAC (`create` on
modelapprovals in the namespace).
"""

from __future__ import annotations

from pydantic import Field

from modelguard.api.base import DNS_SUBDOMAIN, KubeModel, with_cel

DIGEST = r"^sha256:[a-f0-9]{64}$"


class ModelApprovalSpec(KubeModel):
    """What is approved (immutable)."""

    model_config = with_cel(("self == oldSelf", "approvals are immutable: delete it and approve again"))

    deployment: str = Field(
        description="Name of the AIDeployment, in this namespace, that may roll the digest out.",
        pattern=DNS_SUBDOMAIN,
        max_length=253,
    )
    digest: str = Field(
        description="The verified model digest approved (status.verified.digest of the AIModel); an approval "
        "counts only while this is the digest to roll out.",
        max_length=71,
        pattern=DIGEST,
    )
    comment: str = Field(default="", description="Why, or what was checked.", max_length=1024)


class ModelApprovalStatus(KubeModel):
    """Not used: approvals carry no status."""


__all__ = ["ModelApprovalSpec", "ModelApprovalStatus"]
