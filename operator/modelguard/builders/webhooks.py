"""Admission webhook configurations (pure): shipped by the chart, built the same way in tests and the demo."""

from __future__ import annotations

import base64
from typing import Any

from modelguard.api.base import GROUP, VERSION

HOOKS = {"aimodels": "validate-aimodels", "aideployments": "validate-aideployments"}
DELETE_HOOK = "record-aimodel-deletions"
DEPLOYMENT_DELETE_HOOK = "audit-aideployment-deletions"
POLICY_HOOK = "audit-trustpolicies"
APPROVALS_HOOK = "audit-modelapprovals"
APPROVALS_MUTATE_HOOK = "stamp-modelapprovals"
GRANT_MUTATE_HOOK = "grant-aideployments"
MUTATE_HOOK = "mutate-aimodels"
WARN_LABEL = "modelguard.io/admission"
SET_BY = "modelguard.io/end-of-life-set-by"  # domain/decommission.SET_BY

AUTHORITY = "modelguard.io/authority"  # domain/authority.AUTHORITY
REAUTHORISE = "modelguard.io/reauthorise"  # domain/authority.REAUTHORISE

# The AIModel's stamps (who set the end-of-life policy, domain/admission.end_of_life_stamp; the authority stamp,
# domain/authority.py) can only change when the spec changes or someone writes one of the annotations: every
# other AIModel write (finalizers, the operator's own metadata) skips the mutating round trip (issue 18). A create
# needs it only when it makes a reference or sets an end-of-life policy. The validating webhook sees every write.
_ANNOTATIONS_CHANGED = " || ".join(
    f"object.metadata.?annotations[?'{a}'].orValue('') != oldObject.metadata.?annotations[?'{a}'].orValue('')"
    for a in (SET_BY, AUTHORITY, REAUTHORISE)
)
_ANNOTATIONS_WRITTEN = " || ".join(f"object.metadata.?annotations[?'{a}'].hasValue()" for a in (SET_BY, AUTHORITY))
MODEL_STAMP_NEEDED = (
    "request.operation == 'CREATE' "
    "? (has(object.spec.endOfLife) || has(object.spec.source.credentialsSecretRef) "
    f"|| has(object.spec.signature.configMapRef) || {_ANNOTATIONS_WRITTEN}) "
    f": (object.spec != oldObject.spec || {_ANNOTATIONS_CHANGED})"
)


def _client(path: str, ca_pem: bytes, url: str | None, service: tuple[str, str, int] | None) -> dict[str, Any]:
    client: dict[str, Any] = {"caBundle": base64.b64encode(ca_pem).decode()}
    if url is not None:
        client["url"] = f"{url.rstrip('/')}/{path}"
    else:
        assert service is not None
        client["service"] = {"namespace": service[0], "name": service[1], "port": service[2], "path": f"/{path}"}
    return client


def _selector(operator_namespace: str, warn_operator: str | None = None) -> dict[str, Any]:
    expressions = [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [operator_namespace]}]
    if warn_operator is not None:
        expressions.append({"key": WARN_LABEL, "operator": warn_operator, "values": ["warn"]})
    return {"matchExpressions": expressions}


def _hook(
    name: str,
    client: dict[str, Any],
    failure: str,
    timeout: int,
    selector: dict[str, Any],
    plural: str,
    operations: list[str],
    scope: str = "Namespaced",
) -> dict[str, Any]:
    return {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "NoneOnDryRun",
        "failurePolicy": failure,
        "timeoutSeconds": timeout,
        "matchPolicy": "Equivalent",
        "clientConfig": client,
        "namespaceSelector": selector,
        "rules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "operations": operations,
                "resources": [plural],
                "scope": scope,
            }
        ],
    }


def webhook_configuration(
    name: str,
    ca_pem: bytes,
    *,
    url: str | None = None,
    service: tuple[str, str, int] | None = None,
    operator_namespace: str = "modelguard-system",
    timeout_seconds: int = 5,
) -> dict[str, Any]:
    """Validation: fail closed everywhere except the operator's own namespace and namespaces labelled
    `modelguard.io/admission=warn` (a fail-open copy). AIModel deletions are recorded (who asked), and
    AIDeployment deletions and TrustPolicy changes audited, fail closed."""
    webhooks = []
    for plural, path in HOOKS.items():
        client = _client(path, ca_pem, url, service)
        for mode, failure, operator in (("enforce", "Fail", "NotIn"), ("warn", "Ignore", "In")):
            webhooks.append(
                _hook(
                    f"{plural}-{mode}.{GROUP}",
                    client,
                    failure,
                    timeout_seconds,
                    _selector(operator_namespace, operator),
                    plural,
                    ["CREATE", "UPDATE"],
                )
            )
    webhooks.append(
        _hook(
            f"aimodels-deletions.{GROUP}",
            _client(DELETE_HOOK, ca_pem, url, service),
            "Fail",
            timeout_seconds,
            _selector(operator_namespace),
            "aimodels",
            ["DELETE"],
        )
    )
    webhooks.append(
        _hook(
            f"aideployments-deletions.{GROUP}",
            _client(DEPLOYMENT_DELETE_HOOK, ca_pem, url, service),
            "Fail",
            timeout_seconds,
            _selector(operator_namespace),
            "aideployments",
            ["DELETE"],
        )
    )
    policies = _hook(
        f"trustpolicies.{GROUP}",
        _client(POLICY_HOOK, ca_pem, url, service),
        "Fail",
        timeout_seconds,
        {},
        "trustpolicies",
        ["CREATE", "UPDATE", "DELETE"],
        scope="Cluster",
    )
    del policies["namespaceSelector"]  # cluster-scoped: namespaces do not apply
    webhooks.append(policies)
    webhooks.append(
        _hook(
            f"modelapprovals.{GROUP}",
            _client(APPROVALS_HOOK, ca_pem, url, service),
            "Fail",
            timeout_seconds,
            _selector(operator_namespace),
            "modelapprovals",
            ["CREATE", "DELETE"],
        )
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "modelguard"}},
        "webhooks": webhooks,
    }


def mutating_webhook_configuration(
    name: str,
    ca_pem: bytes,
    *,
    url: str | None = None,
    service: tuple[str, str, int] | None = None,
    operator_namespace: str = "modelguard-system",
    timeout_seconds: int = 5,
) -> dict[str, Any]:
    """Stamps who set an AIModel's end-of-life policy (the requester of a later retirement), who created a
    ModelApproval (the approver), and the authority stamps of AIModels and AIDeployments (ADR 0020). The
    AIDeployment hook may fail open: without a valid stamp the reconciler acts on no reference."""
    hooks = []
    for hook_name, path, plural, failure in (
        (f"aimodels-requester.{GROUP}", MUTATE_HOOK, "aimodels", "Fail"),
        (f"modelapprovals-approver.{GROUP}", APPROVALS_MUTATE_HOOK, "modelapprovals", "Fail"),
        (f"aideployments-grant.{GROUP}", GRANT_MUTATE_HOOK, "aideployments", "Ignore"),
    ):
        hook = _hook(
            hook_name,
            _client(path, ca_pem, url, service),
            failure,
            timeout_seconds,
            _selector(operator_namespace),
            plural,
            ["CREATE", "UPDATE"],
        )
        hook["reinvocationPolicy"] = "Never"
        if plural == "aimodels":
            hook["matchConditions"] = [{"name": "stamps-needed", "expression": MODEL_STAMP_NEEDED}]
        hooks.append(hook)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "modelguard"}},
        "webhooks": hooks,
    }
