"""The kinds the adapters address, from the one table in api/kinds.py (re-exported here for I/O code)."""

from __future__ import annotations

from modelguard.api.kinds import (
    AIDEPLOYMENTS,
    AIMODELS,
    BY_CHILD_KIND,
    BY_KIND,
    CERTIFICATES,
    COMPLIANCE_REPORTS,
    CONFIGMAPS,
    CRDS,
    DATA_KINDS,
    DEPLOYMENTS,
    EVENTS,
    MODELAPPROVALS,
    NAMESPACES,
    NETWORKPOLICIES,
    PVCS,
    SCANREPORTS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    TRUSTPOLICIES,
)

__all__ = [
    "AIDEPLOYMENTS",
    "AIMODELS",
    "BY_CHILD_KIND",
    "BY_KIND",
    "CERTIFICATES",
    "COMPLIANCE_REPORTS",
    "CONFIGMAPS",
    "CRDS",
    "DATA_KINDS",
    "DEPLOYMENTS",
    "EVENTS",
    "MODELAPPROVALS",
    "NAMESPACES",
    "NETWORKPOLICIES",
    "PVCS",
    "SCANREPORTS",
    "SECRETS",
    "SERVICEACCOUNTS",
    "SERVICES",
    "TRUSTPOLICIES",
]
