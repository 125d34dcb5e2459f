"""Admission webhooks (Kopf wiring only): decisions live in domain/admission.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import kopf

from modelguard.adapters.audit_log import AuditUnavailable
from modelguard.adapters.cache import Key
from modelguard.adapters.kube import KubeError
from modelguard.adapters.metrics import Metrics
from modelguard.adapters.resources import BY_KIND
from modelguard.admission.authority import refusals as authority_refusals
from modelguard.admission.authority import stamp_for as authority_stamp
from modelguard.admission.change_audit import audit_change, prompt_details, prompt_hash
from modelguard.admission.requesters import record_deletion_requester, requester_of
from modelguard.admission.stamps import last_change_for, restore_stamp, stamp_for
from modelguard.api.base import GROUP
from modelguard.builders.webhooks import GRANT_MUTATE_HOOK
from modelguard.domain.admission import Review, end_of_life_stamp, review_deployment, review_model
from modelguard.domain.approvals import LAST_CHANGED_BY
from modelguard.domain.audit import ObjectRef
from modelguard.domain.authority import AUTHORITY
from modelguard.domain.decommission import SET_BY
from modelguard.domain.ocsf import denial_event
from modelguard.engine.runtime import Runtime
from modelguard.reconcilers.context import lookup

AIMODELS_HOOK = "validate-aimodels"
AIDEPLOYMENTS_HOOK = "validate-aideployments"
AIMODELS_MUTATE_HOOK = "mutate-aimodels"
AIMODELS_DELETE_HOOK = "record-aimodel-deletions"
AIDEPLOYMENTS_DELETE_HOOK = "audit-aideployment-deletions"
TRUSTPOLICIES_HOOK = "audit-trustpolicies"
APPROVALS_MUTATE_HOOK = "stamp-modelapprovals"
APPROVALS_HOOK = "audit-modelapprovals"


def _answer(review: Review, warnings: list[str]) -> None:
    warnings.extend(review.warnings)
    if review.denials:
        raise kopf.AdmissionError("; ".join(review.denials), code=422)


async def _audit(
    rt: Runtime,
    kind: str,
    body: kopf.Body,
    userinfo: kopf.UserInfo,
    review: Mapping[str, Any],
    details: Mapping[str, str] | None = None,
) -> None:
    """Record an admitted change (actor from admission); no record, no change (fail closed). `review` holds
    Kopf's admission kwargs (operation, old, dryrun)."""
    if review.get("dryrun"):
        return
    meta = body.get("metadata") or {}
    ref = ObjectRef(kind, str(meta.get("namespace") or ""), str(meta.get("name", "")))
    operation = str(review.get("operation") or "UPDATE")
    old = review.get("old")
    if operation == "DELETE" and old is None:
        old = body
    new = None if operation == "DELETE" else dict(body)
    try:
        await audit_change(rt.context, ref, operation, dict(old) if old is not None else None, new, userinfo, details)
    except AuditUnavailable:
        raise kopf.AdmissionError(
            "the audit trail is unavailable, so this change cannot be recorded; try again", code=503
        ) from None


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    @kopf.on.mutate(GROUP, "aimodels", id=AIMODELS_MUTATE_HOOK, registry=registry, operations=["CREATE", "UPDATE"])
    async def stamp_model(body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, **kwargs: Any) -> None:
        """Record who set the end-of-life policy (the requester of a later retire), from admission only, and sign
        the references the requester may make (the authority stamp, ADR 0020)."""
        old = kwargs.get("old")
        before = dict(old) if old is not None else None
        requester = requester_of(userinfo).model_dump_json()
        value = end_of_life_stamp(dict(body), before, requester, SET_BY)
        if value is not None:
            patch.metadata.annotations[SET_BY] = value
        patch.metadata.annotations[AUTHORITY] = await authority_stamp(
            runtime.context, "AIModel", dict(body), before, userinfo
        )

    @kopf.on.validate(GROUP, "aimodels", id=AIMODELS_DELETE_HOOK, registry=registry, operations=["DELETE"])
    async def record_deletion(body: kopf.Body, userinfo: kopf.UserInfo, dryrun: bool, **kwargs: Any) -> None:
        """Remember who deleted the model: its decommission deletes data only as far as they may."""
        if dryrun:
            return
        try:
            uid = str(body.get("metadata", {}).get("uid", ""))
            await record_deletion_requester(runtime.context, uid, requester_of(userinfo))
        except Exception as exc:  # fail closed: no record, no deletion
            raise kopf.AdmissionError(
                f"could not record the requester of this deletion ({type(exc).__name__}); try again", code=503
            ) from None
        await _audit(runtime, "AIModel", body, userinfo, {**kwargs, "dryrun": dryrun})

    @kopf.on.validate(GROUP, "aideployments", id=AIDEPLOYMENTS_DELETE_HOOK, registry=registry, operations=["DELETE"])
    async def audit_deployment_deletion(body: kopf.Body, userinfo: kopf.UserInfo, **kwargs: Any) -> None:
        await _audit(runtime, "AIDeployment", body, userinfo, kwargs)

    @kopf.on.mutate(
        GROUP, "modelapprovals", id=APPROVALS_MUTATE_HOOK, registry=registry, operations=["CREATE", "UPDATE"]
    )
    async def stamp_approver(
        body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, namespace: str | None, **kwargs: Any
    ) -> None:
        """The approver is whoever the API server says created the approval, signed; never a user's field."""
        if kwargs.get("operation") == "CREATE":
            user, groups = str(userinfo.get("username", "")), [str(g) for g in userinfo.get("groups") or []]
            stamp = await stamp_for(runtime.context, namespace or "", dict(body.get("spec") or {}), user, groups)
        else:
            old = kwargs.get("old")
            stamp = restore_stamp(dict(old) if old is not None else None)
        for name, value in stamp.items():
            patch.metadata.annotations[name] = value

    @kopf.on.mutate(GROUP, "aideployments", id=GRANT_MUTATE_HOOK, registry=registry, operations=["CREATE", "UPDATE"])
    async def stamp_deployment(
        body: kopf.Body, userinfo: kopf.UserInfo, patch: kopf.Patch, namespace: str | None, **kwargs: Any
    ) -> None:
        """Signed by admission alone, never carried over or forged: the authority stamp (each reference only for
        someone who may do what it makes the operator do, ADR 0020) and who last changed the spec (separation of
        duties)."""
        old, ns = kwargs.get("old"), namespace or ""
        ctx = runtime.context
        before = dict(old) if old is not None else None
        patch.metadata.annotations[AUTHORITY] = await authority_stamp(ctx, "AIDeployment", dict(body), before, userinfo)
        patch.metadata.annotations[LAST_CHANGED_BY] = await last_change_for(ctx, dict(body), old, userinfo, ns)

    @kopf.on.validate(GROUP, "modelapprovals", id=APPROVALS_HOOK, registry=registry, operations=["CREATE", "DELETE"])
    async def audit_approval(body: kopf.Body, userinfo: kopf.UserInfo, namespace: str | None, **kwargs: Any) -> None:
        spec = body.get("spec") or {}
        target = Key("AIDeployment", namespace or "", str(spec.get("deployment", "")))
        if kwargs.get("operation") == "CREATE" and await _lookup(runtime, target) is None:
            raise kopf.AdmissionError(
                f"spec.deployment: AIDeployment {target.name!r} does not exist in {target.namespace!r}", code=422
            )
        await _audit(
            runtime,
            "ModelApproval",
            body,
            userinfo,
            kwargs,
            {"deployment": str(spec.get("deployment", "")), "digest": str(spec.get("digest", ""))},
        )

    @kopf.on.validate(GROUP, "trustpolicies", id=TRUSTPOLICIES_HOOK, registry=registry)
    async def audit_policy(body: kopf.Body, userinfo: kopf.UserInfo, **kwargs: Any) -> None:
        """Policies are validated by their schema; every change of one is audited."""
        await _audit(runtime, "TrustPolicy", body, userinfo, kwargs)

    @kopf.on.validate(GROUP, "aimodels", id=AIMODELS_HOOK, registry=registry, operations=["CREATE", "UPDATE"])
    async def validate_model(
        body: kopf.Body,
        spec: kopf.Spec,
        namespace: str | None,
        warnings: list[str],
        userinfo: kopf.UserInfo,
        **kwargs: Any,
    ) -> None:
        if not _spec_unchanged(kwargs.get("old"), spec):  # else metadata only: the spec was admitted before
            ns = namespace or ""
            namespace_body = await _lookup(runtime, Key("Namespace", "", ns))
            labels = (namespace_body or {}).get("metadata", {}).get("labels") if namespace_body else None
            policy_key = Key("TrustPolicy", "", str(spec.get("trustPolicy", "")))
            review = review_model(dict(spec), ns, labels, await _lookup(runtime, policy_key))
            if review.denials:  # the cache may lag a policy change made a moment ago: deny on the API's copy only
                review = review_model(dict(spec), ns, labels, await _fresh(runtime, policy_key))
            if not review.denials:
                review.denials.extend(await authority_refusals(runtime.context, "AIModel", dict(body), userinfo))
            _answer(review, warnings)
        await _audit(runtime, "AIModel", body, userinfo, kwargs)

    @kopf.on.validate(GROUP, "aideployments", id=AIDEPLOYMENTS_HOOK, registry=registry)
    async def validate_deployment(
        body: kopf.Body,
        spec: kopf.Spec,
        namespace: str | None,
        warnings: list[str],
        userinfo: kopf.UserInfo,
        **kwargs: Any,
    ) -> None:
        if _spec_unchanged(kwargs.get("old"), spec):
            await _audit(runtime, "AIDeployment", body, userinfo, kwargs)
            return
        ns = namespace or ""
        model = await _lookup(runtime, Key("AIModel", ns, str((spec.get("modelRef") or {}).get("name", ""))))
        policy_name = str(((model or {}).get("spec") or {}).get("trustPolicy") or "")
        policy = await _lookup(runtime, Key("TrustPolicy", "", policy_name)) if policy_name else None
        review = review_deployment(dict(spec), ns, model, policy)
        if review.denials and policy_name:  # the cache may lag a policy change made a moment ago
            review = review_deployment(
                dict(spec), ns, model, await _fresh(runtime, Key("TrustPolicy", "", policy_name))
            )
        if not review.denials:  # every reference only for someone who may do what it makes the operator do
            review.denials.extend(await authority_refusals(runtime.context, "AIDeployment", dict(body), userinfo))
        if review.denials:
            _answer(review, warnings)  # refused before the operator reads anything the references name
        prompt, problem = await prompt_hash(runtime.context, ns, spec)
        if problem and not review.denials:
            review.denials.append(problem)
        _answer(review, warnings)
        old = kwargs.get("old")
        details = await prompt_details(runtime.context, ns, dict(old) if old is not None else None, prompt)
        await _audit(runtime, "AIDeployment", body, userinfo, kwargs, details)


async def _lookup(runtime: Runtime, key: Key) -> dict[str, Any] | None:
    try:
        return await lookup(runtime.context, key)
    except KubeError as exc:  # fail closed, with the reason
        raise kopf.AdmissionError(f"cannot read {key.kind} {key.name!r} ({exc.reason}); try again", code=503) from None


async def _fresh(runtime: Runtime, key: Key) -> dict[str, Any] | None:
    """The object as the API has it now (not the watch cache); fail closed when it cannot be read."""
    try:
        return await runtime.kube.get(BY_KIND[key.kind], key.namespace or None, key.name)
    except KubeError as exc:
        raise kopf.AdmissionError(f"cannot read {key.kind} {key.name!r} ({exc.reason}); try again", code=503) from None


def _spec_unchanged(old: Any, spec: Mapping[str, Any]) -> bool:
    """An UPDATE that leaves the spec as it was (the operator's finalizer, an annotation)."""
    return old is not None and dict(old.get("spec") or {}) == dict(spec)


MAX_REVIEW_BYTES = 8 * 1024 * 1024


def accept_large_reviews() -> None:
    """An admission review carries the old and the new object (each up to the API server's 1.5 MiB; annotations
    alone may be 256 KiB). Kopf's webhook server is an aiohttp Application, whose request limit is 1 MiB, and
    Kopf offers no setting: a big but valid change would be answered 413 and, failing closed, refused. So the
    default of aiohttp Applications in this process is raised (the only other one is Kopf's health probe)."""
    defaults = aiohttp.web.Application.__init__.__kwdefaults__
    if defaults is not None and int(defaults.get("client_max_size", 0)) < MAX_REVIEW_BYTES:
        defaults["client_max_size"] = MAX_REVIEW_BYTES


class MeasuredWebhookServer(kopf.WebhookServer):
    """Kopf's webhook server, timing every admission review and counting refusals per hook (metrics)."""

    metrics: Metrics | None = None
    refusals: Callable[[dict[str, Any]], None] | None = None  # refused requests, as OCSF events, to the SIEM

    def __call__(self, fn: Any) -> Any:
        metrics, refusals = self.metrics, self.refusals

        async def measured(request: Any, *, webhook: str | None = None, **kwargs: Any) -> Any:
            started = time.monotonic()
            response = await fn(request, webhook=webhook, **kwargs)
            hook = webhook or "unknown"
            answer = (response or {}).get("response") or {}
            if metrics is not None:
                metrics.webhook_duration.labels(hook).observe(time.monotonic() - started)
                if not answer.get("allowed", True):
                    metrics.webhook_rejections.labels(hook).inc()
            if refusals is not None and not answer.get("allowed", True) and isinstance(request, Mapping):
                message = str((answer.get("status") or {}).get("message", ""))
                refusals(denial_event(request, message, hook, datetime.now(UTC)))
            return response

        return super().__call__(measured)


def webhook_server(runtime: Runtime) -> kopf.WebhookServer | None:
    s = runtime.settings
    if s.webhook_port is None:
        return None
    accept_large_reviews()
    server = MeasuredWebhookServer(
        addr=s.webhook_host,
        port=s.webhook_port,
        certfile=str(s.webhook_cert) if s.webhook_cert else None,
        pkeyfile=str(s.webhook_key) if s.webhook_key else None,
    )
    server.metrics = runtime.context.metrics
    if runtime.context.audit is not None:
        server.refusals = runtime.context.audit.security_event
    return server
