"""Admission webhooks (Kopf wiring only): decisions live in domain/admission.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kopf

from modelguard.adapters.cache import Key
from modelguard.adapters.kube import KubeError, may
from modelguard.adapters.resources import CONFIGMAPS
from modelguard.api.base import GROUP
from modelguard.domain.admission import Review, end_of_life_stamp, review_deployment, review_model
from modelguard.engine.runtime import Runtime
from modelguard.reconcilers.decommission import REQUESTS, SET_BY

AIMODELS_HOOK = "validate-aimodels"
AIDEPLOYMENTS_HOOK = "validate-aideployments"
AIMODELS_MUTATE_HOOK = "mutate-aimodels"
AIMODELS_DELETE_HOOK = "record-aimodel-deletions"


def _answer(review: Review, warnings: list[str]) -> None:
    warnings.extend(review.warnings)
    if review.denials:
        raise kopf.AdmissionError("; ".join(review.denials), code=422)


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    @kopf.on.mutate(GROUP, "aimodels", id=AIMODELS_MUTATE_HOOK, registry=registry, operations=["CREATE", "UPDATE"])
    def stamp_end_of_life(body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, **kwargs: Any) -> None:
        """Record who set the end-of-life policy (the requester of a later retire), from admission only."""
        old = kwargs.get("old")
        value = end_of_life_stamp(dict(body), dict(old) if old is not None else None, requester_json(userinfo), SET_BY)
        if value is not None:
            patch.metadata.annotations[SET_BY] = value

    @kopf.on.validate(GROUP, "aimodels", id=AIMODELS_DELETE_HOOK, registry=registry, operations=["DELETE"])
    async def record_deletion(body: kopf.Body, userinfo: kopf.UserInfo, dryrun: bool, **_: Any) -> None:
        """Remember who deleted the model: its decommission deletes data only as far as they may."""
        if dryrun:
            return
        try:
            await record_requester(runtime, str(body.get("metadata", {}).get("uid", "")), userinfo)
        except Exception as exc:  # fail closed: no record, no deletion
            raise kopf.AdmissionError(
                f"could not record the requester of this deletion ({type(exc).__name__}); try again", code=503
            ) from None

    @kopf.on.validate(GROUP, "aimodels", id=AIMODELS_HOOK, registry=registry, operations=["CREATE", "UPDATE"])
    def validate_model(spec: kopf.Spec, namespace: str | None, warnings: list[str], **kwargs: Any) -> None:
        if _spec_unchanged(kwargs.get("old"), spec):
            return  # metadata only (finalizers, annotations): the spec was admitted before
        ns = namespace or ""
        namespace_body = runtime.store.get(Key("Namespace", "", ns))
        labels = (namespace_body or {}).get("metadata", {}).get("labels") if namespace_body else None
        policy = runtime.store.get(Key("TrustPolicy", "", str(spec.get("trustPolicy", ""))))
        _answer(review_model(dict(spec), ns, labels, policy), warnings)

    @kopf.on.validate(GROUP, "aideployments", id=AIDEPLOYMENTS_HOOK, registry=registry)
    async def validate_deployment(
        spec: kopf.Spec, namespace: str | None, warnings: list[str], userinfo: kopf.UserInfo, **kwargs: Any
    ) -> None:
        if _spec_unchanged(kwargs.get("old"), spec):
            return
        ns = namespace or ""
        model = runtime.store.get(Key("AIModel", ns, str((spec.get("modelRef") or {}).get("name", ""))))
        review = review_deployment(dict(spec), ns, model)
        account = spec.get("serviceAccountName")
        if account and not review.denials:
            # naming an existing account runs pods as it: only for someone who could run such pods anyway
            user, groups = str(userinfo.get("username", "")), [str(g) for g in userinfo.get("groups") or []]
            allowed, _why = await may(runtime.kube, user, groups, "create", "pods", ns, "")
            if not allowed:
                review.denials.append(
                    f"spec.serviceAccountName: {user} may not create pods in {ns!r}, so may not "
                    f"run a model server as ServiceAccount {account!r}"
                )
        _answer(review, warnings)


def _spec_unchanged(old: Any, spec: Mapping[str, Any]) -> bool:
    """An UPDATE that leaves the spec as it was (the operator's finalizer, an annotation)."""
    return old is not None and dict(old.get("spec") or {}) == dict(spec)


def requester_json(userinfo: Mapping[str, Any]) -> str:
    return json.dumps(
        {"username": str(userinfo.get("username", "")), "groups": [str(g) for g in userinfo.get("groups") or []]},
        separators=(",", ":"),
    )


async def record_requester(runtime: Runtime, uid: str, userinfo: Mapping[str, Any]) -> None:
    name, ns = REQUESTS, runtime.settings.namespace
    patch = {"data": {uid: requester_json(userinfo)}}
    try:
        await runtime.kube.merge_patch(CONFIGMAPS, ns, name, patch)
    except KubeError as exc:
        if not exc.not_found:
            raise
        await runtime.kube.create(
            CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, **patch}
        )


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
