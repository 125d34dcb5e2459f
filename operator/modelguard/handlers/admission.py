"""Admission webhooks (Kopf wiring only): decisions live in domain/admission.py."""

from __future__ import annotations

from typing import Any

import kopf

from modelguard.adapters.cache import Key
from modelguard.api.base import GROUP
from modelguard.domain.admission import Review, review_deployment, review_model
from modelguard.engine.runtime import Runtime

AIMODELS_HOOK = "validate-aimodels"
AIDEPLOYMENTS_HOOK = "validate-aideployments"


def _answer(review: Review, warnings: list[str]) -> None:
    warnings.extend(review.warnings)
    if review.denials:
        raise kopf.AdmissionError("; ".join(review.denials), code=422)


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    @kopf.on.validate(GROUP, "aimodels", id=AIMODELS_HOOK, registry=registry)
    def validate_model(spec: kopf.Spec, namespace: str | None, warnings: list[str], **_: Any) -> None:
        ns = namespace or ""
        namespace_body = runtime.store.get(Key("Namespace", "", ns))
        labels = (namespace_body or {}).get("metadata", {}).get("labels") if namespace_body else None
        policy = runtime.store.get(Key("TrustPolicy", "", str(spec.get("trustPolicy", ""))))
        _answer(review_model(dict(spec), ns, labels, policy), warnings)

    @kopf.on.validate(GROUP, "aideployments", id=AIDEPLOYMENTS_HOOK, registry=registry)
    def validate_deployment(spec: kopf.Spec, namespace: str | None, warnings: list[str], **_: Any) -> None:
        ns = namespace or ""
        model = runtime.store.get(Key("AIModel", ns, str((spec.get("modelRef") or {}).get("name", ""))))
        _answer(review_deployment(dict(spec), ns, model), warnings)


def webhook_server(runtime: Runtime) -> kopf.WebhookServer | None:
    s = runtime.settings
    if s.webhook_port is None:
        return None
    return kopf.WebhookServer(
        addr=s.webhook_host,
        port=s.webhook_port,
        certfile=str(s.webhook_cert) if s.webhook_cert else None,
        pkeyfile=str(s.webhook_key) if s.webhook_key else None,
    )
