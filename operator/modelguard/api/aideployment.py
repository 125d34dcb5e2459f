"""AIDeployment: a serving workload for one verified AIModel, with its access policy and gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from modelguard.api.assurance import IncidentResponse
from modelguard.api.base import (
    DNS_SUBDOMAIN,
    Condition,
    ConfigMapKeyReference,
    KubeModel,
    LabelKey,
    LabelSelector,
    LabelValue,
    LocalObjectReference,
    Quantity,
    Text,
    conditions_field,
    with_cel,
)

PINNED_IMAGE = r"^[^\s@]+@sha256:[a-f0-9]{64}$"


# node labels of control-plane nodes: no model server ever runs there (domain/scheduling.py, builders/workload.py)
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


class ResourceRequirements(KubeModel):
    """Compute resources of the model server container (quantities as in Kubernetes)."""

    requests: dict[LabelKey, Quantity] = Field(
        default_factory=dict, description="Minimum resources, e.g. cpu: 500m.", max_length=16
    )
    limits: dict[LabelKey, Quantity] = Field(
        default_factory=dict, description="Maximum resources, e.g. nvidia.com/gpu: 1.", max_length=16
    )


# the pod's own mounts (verification material, credentials, scratch) and what the runtime provides
RESERVED_PATHS = ("/etc/modelguard", "/tmp", "/dev", "/proc", "/sys", "/var/run/secrets")  # noqa: S108


class RuntimeSpec(KubeModel):
    """The model server."""

    model_config = with_cel(
        ("self.port != 8000 && self.port != 8001", "ports 8000 and 8001 are the gateway's (API and status)"),
    )

    image: str = Field(
        description="Model server image, pinned by digest (repo@sha256:<64 hex>).",
        max_length=1024,
        pattern=PINNED_IMAGE,
    )
    args: list[Text] = Field(default_factory=list, description="Arguments of the model server.", max_length=64)
    port: int = Field(default=8080, description="Port the model server listens on (localhost only).", ge=1024, le=65535)
    model_mount_path: str = Field(
        default="/models",
        description=(
            "Where the verified model is mounted: an absolute path, not /, and neither inside nor above the "
            f"paths the pod's own mounts and the system use ({', '.join(RESERVED_PATHS)})."
        ),
        pattern=r"^/[^\s]*[^/\s]$",
        max_length=1024,
    )

    @field_validator("model_mount_path")
    @classmethod
    def _not_reserved(cls, path: str) -> str:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts[1:]):
            raise ValueError("must be a normalized absolute path (no //, . or .. segments)")
        for reserved in RESERVED_PATHS:
            if path == reserved or path.startswith(reserved + "/") or reserved.startswith(path + "/"):
                raise ValueError(f"{path} collides with {reserved}, which the pod needs for itself")
        return path

    resources: ResourceRequirements = Field(
        default_factory=ResourceRequirements, description="Resources of the model server."
    )


class Toleration(KubeModel):
    """Lets the model server's pods run on tainted nodes (GPU pools), as a pod toleration."""

    model_config = with_cel(
        ("self.operator == 'Exists' || (has(self.key) && self.key != '')", "an empty key needs operator Exists"),
        ("self.operator != 'Exists' || !has(self.value) || self.value == ''", "operator Exists takes no value"),
        (
            "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            "tolerationSeconds only with effect NoExecute",
        ),
    )

    key: str = Field(default="", description="Taint key; empty with Exists matches every taint.", max_length=317)
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Exists or Equal.")
    value: str = Field(default="", description="Taint value (Equal).", max_length=63)
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        default="", description="Taint effect; empty matches all."
    )
    toleration_seconds: int | None = Field(
        default=None, description="NoExecute only: how long the pod stays once tainted.", ge=0, le=86400 * 7
    )

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:  # the same rules as the CEL above, for the operator's own reading
        if not self.key and self.operator != "Exists":
            raise ValueError("an empty key needs operator Exists")
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds only with effect NoExecute")
        return self


class NodeSelectorRequirement(KubeModel):
    """A node label requirement (as core/v1 NodeSelectorRequirement)."""

    key: str = Field(description="Node label key.", max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="How key and values relate."
    )
    values: list[LabelValue] = Field(default_factory=list, description="Values (In, NotIn, Gt, Lt).", max_length=64)


class NodeAffinity(KubeModel):
    """Node affinity of the model server's pods (the subset scheduling GPU models needs)."""

    required: list[NodeSelectorRequirement] = Field(
        default_factory=list, description="Every requirement must hold (one node selector term).", max_length=16
    )
    preferred: list[NodeSelectorRequirement] = Field(
        default_factory=list, description="Nodes meeting all of these are preferred (weight 100).", max_length=16
    )


class SchedulingSpec(KubeModel):
    """Where the model server's pods run. Nothing here loosens the pods' restricted security settings;
    quotas per PriorityClass and taints remain the platform team's to set."""

    model_config = with_cel(
        (
            "!has(self.priorityClassName) || !self.priorityClassName.startsWith('system-')",
            "system-* PriorityClasses are for the cluster's own components",
        ),
    )

    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels the pods require (e.g. a GPU pool).", max_length=16
    )
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints the pods tolerate.", max_length=16)
    node_affinity: NodeAffinity | None = Field(default=None, description="Required and preferred node labels.")
    runtime_class_name: str | None = Field(
        default=None, description="RuntimeClass of the pods (e.g. nvidia).", pattern=DNS_SUBDOMAIN, max_length=253
    )
    priority_class_name: str | None = Field(
        default=None,
        description="PriorityClass of the pods; system-* classes are refused (the API server keeps them for "
        "kube-system).",
        pattern=DNS_SUBDOMAIN,
        max_length=253,
    )

    @field_validator("priority_class_name")
    @classmethod
    def _not_system(cls, name: str | None) -> str | None:
        if name is not None and name.startswith("system-"):
            raise ValueError("system-* PriorityClasses are for the cluster's own components")
        return name


class ClientSelector(KubeModel):
    """Pods allowed to call the gateway: a namespace selector and/or a pod selector."""

    model_config = with_cel(
        (
            "has(self.namespaceSelector) || has(self.podSelector)",
            "set namespaceSelector, podSelector or both",
        ),
    )

    namespace_selector: LabelSelector | None = Field(default=None, description="Namespaces of allowed clients.")
    pod_selector: LabelSelector | None = Field(default=None, description="Pods of allowed clients.")


class EgressRule(KubeModel):
    """One allowed egress destination."""

    cidr: str = Field(
        description="Destination network in CIDR notation.",
        max_length=64,
        pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$",
    )
    ports: list[int] = Field(default_factory=list, description="TCP ports; empty means all.", max_length=32)


class AccessSpec(KubeModel):
    """Who may call the model, and where its model may be fetched from. The model server itself reaches
    nothing but its model cache (docs/adr/0012-model-cache.md)."""

    allowed_clients: list[ClientSelector] = Field(
        default_factory=list,
        description="Clients allowed to reach the gateway port; empty means none.",
        max_length=32,
    )
    egress: list[EgressRule] = Field(
        default_factory=list,
        description="Where the model cache may connect to fetch the model (the source, its registry and token "
        "endpoints); empty means nowhere. The model server pods never get this egress: they fetch from the cache.",
        max_length=32,
    )
    allow_dns: bool = Field(
        default=False, description="Allow the model cache DNS lookups to the cluster DNS (a source named by host)."
    )
    exposure: Literal["Internal", "External"] = Field(
        default="Internal", description="External needs authentication and a rate limit."
    )


class AuthenticationSpec(KubeModel):
    """How clients authenticate to the gateway."""

    api_keys_secret_ref: LocalObjectReference = Field(
        description="Secret whose keys are client ids and whose values are their API keys."
    )


class RateLimitSpec(KubeModel):
    """Per-client rate limit enforced by the gateway (TS 104 223 5.2.2-2)."""

    model_config = with_cel(("self.burst >= 0", "burst must not be negative"))

    requests_per_second: int = Field(description="Sustained requests per second per client.", ge=1, le=100000)
    burst: int = Field(default=0, description="Extra requests allowed in a burst.", ge=0, le=100000)


class GatewaySpec(KubeModel):
    """The authenticating, rate-limiting gateway in front of the model server."""

    max_body_size: str = Field(
        default="1m",
        description="Largest request body (nginx size: 512k, 1m); 413 beyond.",
        max_length=7,
        pattern=r"^[1-9][0-9]{0,5}[km]?$",
    )
    timeout_seconds: int = Field(default=60, description="Upstream read timeout.", ge=1, le=3600)


class ApprovalSpec(KubeModel):
    """Human approval before rollout (TS 104 223 5.1.4-3)."""

    required: int = Field(
        default=0,
        description="Distinct approvers (ModelApproval) needed for each model digest; the model's TrustPolicy "
        "can require more.",
        ge=0,
        le=10,
    )


class AIDeploymentSpec(KubeModel):
    """Desired state of an AIDeployment."""

    model_config = with_cel(
        (
            "self.modelRef.name == oldSelf.modelRef.name",
            "modelRef is immutable: create a new AIDeployment to serve another model",
        ),
        (
            "!has(self.access) || !has(self.access.exposure) || self.access.exposure != 'External'"
            " || (has(self.authentication) && has(self.rateLimit))",
            "External exposure requires authentication and rateLimit",
        ),
    )

    model_ref: LocalObjectReference = Field(description="The AIModel to serve, in the same namespace.")
    replicas: int = Field(default=1, description="Number of serving pods.", ge=0, le=100)
    runtime: RuntimeSpec = Field(description="The model server.")
    access: AccessSpec = Field(default_factory=AccessSpec, description="Network access policy.")
    authentication: AuthenticationSpec | None = Field(default=None, description="Client authentication.")
    rate_limit: RateLimitSpec | None = Field(
        default=None, description="Per-client rate limit; without it 10 requests/s with a burst of 20 apply."
    )
    gateway: GatewaySpec = Field(default_factory=GatewaySpec, description="Gateway settings.")
    system_prompt: ConfigMapKeyReference | None = Field(
        default=None, description="ConfigMap key holding the system prompt; changes are audited by hash."
    )
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec, description="Required human approvals.")
    scheduling: SchedulingSpec = Field(
        default_factory=SchedulingSpec, description="Where the model server's pods run (GPU nodes)."
    )
    service_account_name: str | None = Field(
        default=None,
        description="Use this ServiceAccount instead of a generated one.",
        pattern=DNS_SUBDOMAIN,
        max_length=253,
    )
    incident_response: IncidentResponse | None = Field(
        default=None,
        description="Who answers incidents for this deployment and the plans they follow (the TrustPolicy can "
        "require it: spec.requirements.incidentResponse).",
    )


class DriftRecord(KubeModel):
    at: datetime = Field(description="When the drift was reverted.")
    objects: str = Field(description="What had changed.", max_length=2048)


class Approver(KubeModel):
    username: str = Field(description="Who approved (from admission).")
    approval: str = Field(description="Name of their ModelApproval.")


class ApprovalStatus(KubeModel):
    """Approvals counted for the digest to roll out."""

    digest: str = Field(description="The model digest the approvals are for.")
    required: int = Field(description="Distinct approvers needed.", ge=0)
    approvers: list[Approver] = Field(default_factory=list, description="Valid approvals for this digest.")
    withdrawn: list[str] = Field(
        default_factory=list,
        description="ModelApprovals that counted for this digest and were deleted, while too few remain.",
    )


class AIDeploymentStatus(KubeModel):
    """Observed state of an AIDeployment."""

    observed_generation: int | None = Field(default=None, description="Last generation reconciled.", ge=0)
    conditions: list[Condition] = conditions_field()
    served_digest: str | None = Field(default=None, description="The verified model digest being served.")
    children: list[str] = Field(default_factory=list, description="Objects owned by this deployment (Kind/name).")
    last_drift: DriftRecord | None = Field(
        default=None, description="The last change made outside ModelGuard to a managed object, reverted."
    )
    approval: ApprovalStatus | None = Field(default=None, description="Human approvals of the digest to roll out.")
    replicas: int | None = Field(
        default=None, description="Serving pods wanted now (0 while quarantined, whatever spec.replicas says).", ge=0
    )
    available_replicas: int | None = Field(default=None, description="Serving pods available now.", ge=0)
    endpoint: str | None = Field(
        default=None, description="Where clients call the model: the gateway behind the Service (cluster DNS)."
    )


class AIDeployment(KubeModel):
    """A serving workload for one verified AIModel."""

    spec: AIDeploymentSpec = Field(description="Desired state.")
    status: AIDeploymentStatus | None = Field(default=None, description="Observed state, written by the operator.")


__all__ = ["AIDeployment", "AIDeploymentSpec", "AIDeploymentStatus"]
