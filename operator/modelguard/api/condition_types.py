"""The condition types ModelGuard writes: part of the API (kubectl wait, Argo CD and Flux health checks and
the docs name them), so code names them only through this enum."""

from __future__ import annotations

from enum import StrEnum


class Cond(StrEnum):
    # every kind
    READY = "Ready"
    RECONCILING = "Reconciling"  # kstatus: work in flight
    STALLED = "Stalled"  # kstatus: cannot proceed without a change
    # AIModel
    VERIFIED = "Verified"
    DOCUMENTED = "Documented"
    INSPECTED = "Inspected"
    SCAN_PASSED = "ScanPassed"
    QUARANTINE_OVERRIDDEN = "QuarantineOverridden"
    DECOMMISSIONED = "Decommissioned"
    # AIDeployment
    MODEL_VERIFIED = "ModelVerified"
    QUARANTINED = "Quarantined"
    AVAILABLE = "Available"
    POLICY_ENFORCED = "PolicyEnforced"
    AUTHENTICATED = "Authenticated"
    POD_SECURITY = "PodSecurity"
    APPROVED = "Approved"
