"""Whose a namespace is (pure): the tenant that source slots and the work queue's turns are counted by
(ADR 0011, "Per tenant").

A cluster admin names a namespace's tenant with a label on the Namespace (`--tenant-label`, default
`modelguard.io/tenant`), which tenants cannot set. An unlabelled namespace is a tenant of its own, kept
apart from every labelled one: a namespace named like another tenant's label value shares nothing with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

DEFAULT_TENANT_LABEL = "modelguard.io/tenant"

Tenant = tuple[Literal["tenant", "namespace"], str]  # ("tenant", label value) or ("namespace", its name)


def tenant_of(namespace: str, labels: Mapping[str, Any] | None, label: str | None) -> Tenant:
    """The tenant `namespace` belongs to, from its Namespace's labels (None: not known yet)."""
    value = (labels or {}).get(label) if label else None
    if isinstance(value, str) and value:
        return ("tenant", value)
    return ("namespace", namespace)
