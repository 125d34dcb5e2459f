"""The ValidatingWebhookConfiguration (pure): shipped by the chart, built the same way in tests."""

from __future__ import annotations

import base64
from typing import Any

from modelguard.api.base import GROUP, VERSION

HOOKS = {"aimodels": "validate-aimodels", "aideployments": "validate-aideployments"}
WARN_LABEL = "modelguard.io/admission"


def webhook_configuration(
    name: str,
    ca_pem: bytes,
    *,
    url: str | None = None,
    service: tuple[str, str, int] | None = None,
    operator_namespace: str = "modelguard-system",
    timeout_seconds: int = 5,
) -> dict[str, Any]:
    """Fail closed everywhere except the operator's own namespace and namespaces labelled
    `modelguard.io/admission=warn`, which get a second, fail-open copy of each webhook."""
    webhooks = []
    for plural, path in HOOKS.items():
        client: dict[str, Any] = {"caBundle": base64.b64encode(ca_pem).decode()}
        if url is not None:
            client["url"] = f"{url.rstrip('/')}/{path}"
        else:
            assert service is not None
            client["service"] = {"namespace": service[0], "name": service[1], "port": service[2], "path": f"/{path}"}
        for mode, failure, operator in (("enforce", "Fail", "NotIn"), ("warn", "Ignore", "In")):
            expressions = [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [operator_namespace]}]
            expressions.append({"key": WARN_LABEL, "operator": operator, "values": ["warn"]})
            webhooks.append(
                {
                    "name": f"{plural}-{mode}.{GROUP}",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": failure,
                    "timeoutSeconds": timeout_seconds,
                    "matchPolicy": "Equivalent",
                    "clientConfig": client,
                    "namespaceSelector": {"matchExpressions": expressions},
                    "rules": [
                        {
                            "apiGroups": [GROUP],
                            "apiVersions": [VERSION],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": [plural],
                            "scope": "Namespaced",
                        }
                    ],
                }
            )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "modelguard"}},
        "webhooks": webhooks,
    }
