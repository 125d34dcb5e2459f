"""The ModelGuard API (group modelguard.io, version v1alpha1) as pydantic models.

These models are the single source of truth: the CRDs in crds/ are generated from them and the
admission webhook validates with them.
"""

from modelguard.api.aideployment import AIDeployment, AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import AIModel, AIModelSpec, AIModelStatus
from modelguard.api.base import GROUP, VERSION, Condition, ConditionStatus
from modelguard.api.trustpolicy import TrustPolicy, TrustPolicySpec, TrustPolicyStatus

__all__ = [
    "GROUP",
    "VERSION",
    "AIDeployment",
    "AIDeploymentSpec",
    "AIDeploymentStatus",
    "AIModel",
    "AIModelSpec",
    "AIModelStatus",
    "Condition",
    "ConditionStatus",
    "TrustPolicy",
    "TrustPolicySpec",
    "TrustPolicyStatus",
]
