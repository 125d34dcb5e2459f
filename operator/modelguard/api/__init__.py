"""The ModelGuard API (group modelguard.io, version v1alpha1) as pydantic models.

These models are the single source of truth: the CRDs in crds/ are generated from them and the
admission webhook validates with them.
"""

from typing import Any

_WHERE = {
    "GROUP": "base",
    "VERSION": "base",
    "Condition": "base",
    "ConditionStatus": "base",
    "AIDeployment": "aideployment",
    "AIDeploymentSpec": "aideployment",
    "AIDeploymentStatus": "aideployment",
    "AIModel": "aimodel",
    "AIModelSpec": "aimodel",
    "AIModelStatus": "aimodel",
    "TrustPolicy": "trustpolicy",
    "TrustPolicySpec": "trustpolicy",
    "TrustPolicyStatus": "trustpolicy",
}


def __getattr__(name: str) -> Any:
    """The models load on first use (importing one module of the API must not build every model)."""
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"modelguard.api.{_WHERE[name]}"), name)


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
