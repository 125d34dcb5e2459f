"""Execute an AIModel's decommission plan (domain/decommission.py), one idempotent step at a time.

After every step the progress goes to the AIModel's status, so a crash resumes rather than repeats.
A step that cannot finish says which and why, and is retried with backoff; it never counts as done.
The finalizer is released only once the signed DecommissionCertificate exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from modelguard import __version__
from modelguard.adapters.cache import Key
from modelguard.adapters.gateway_events import METADATA_LIST
from modelguard.adapters.kube import KubeError, may
from modelguard.adapters.resources import (
    AIDEPLOYMENTS,
    AIMODELS,
    BY_CHILD_KIND,
    CERTIFICATES,
    CONFIGMAPS,
    DATA_KINDS,
    DEPLOYMENTS,
    PODS,
)
from modelguard.adapters.sources import PROVIDERS, provider_for
from modelguard.api.aimodel import AIModelSpec, AIModelStatus, DecommissionProgress, DecommissionStep
from modelguard.api.base import API_VERSION
from modelguard.api.certificate import CertifiedAction, CertifiedModel, DecommissionCertificateSpec, Requester
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.builders import workload
from modelguard.builders.labels import object_name
from modelguard.domain import artifact_retention as retention
from modelguard.domain import decommission as plan_
from modelguard.domain.conditions import find
from modelguard.domain.decommission import REQUESTS, SET_BY, parse_requester
from modelguard.domain.errors import Deferred, Retry, VerificationError
from modelguard.domain.ownership import controlled_by
from modelguard.reconcilers import finalizer, model_access, model_status, ownership, references
from modelguard.reconcilers.context import Context, status_view

log = logging.getLogger(__name__)
STOP_SERVING_POLL = 2.0  # seconds between looks at Deployments scaling to zero


@dataclass
class Run:
    key: Key
    body: dict[str, Any]
    spec: AIModelSpec
    progress: DecommissionProgress
    requester: Requester
    actions: list[dict[str, str]] = field(default_factory=list)

    def act(self, step: str, kind: str, name: str, method: str, result: str, detail: str = "") -> None:
        self.actions.append(
            {"step": step, "kind": kind, "name": name, "method": method, "result": result, "detail": detail}
        )


async def requester(ctx: Context, body: dict[str, Any], trigger: str) -> Requester:
    """Who asked: recorded by the admission webhook (deletion) or stamped when endOfLife was set."""
    meta = body.get("metadata") or {}
    if trigger == "Deletion":
        cm = await ctx.kube.get(CONFIGMAPS, ctx.operator_namespace, REQUESTS)
        raw = ((cm or {}).get("data") or {}).get(meta.get("uid", ""))
    else:
        raw = (meta.get("annotations") or {}).get(SET_BY)
    return parse_requester(raw)


async def forget_requester(ctx: Context, uid: str) -> None:
    """Drop the recorded requester of a finished decommission (the certificate keeps it): the ConfigMap
    holds only deletions in progress."""
    if not uid:
        return
    try:
        await ctx.kube.merge_patch(CONFIGMAPS, ctx.operator_namespace, REQUESTS, {"data": {uid: None}})
    except KubeError as exc:
        if not exc.not_found:
            raise


async def _deployments(ctx: Context, run: Run) -> list[dict[str, Any]]:
    """The AIDeployments serving the model, read from the API (authoritative, unlike a cache that may still
    be filling after a restart)."""
    items = await ctx.kube.list(AIDEPLOYMENTS, run.key.namespace)
    return [d for d in items if ((d.get("spec") or {}).get("modelRef") or {}).get("name") == run.key.name]


async def _pods(ctx: Context, namespace: str, deployment: dict[str, Any]) -> int:
    """How many pods a Deployment's selector matches, terminating ones too (listed as metadata only)."""
    labels = (((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if not selector:
        return 0
    found = await ctx.kube.request(
        "GET", PODS.path(namespace), query=[("labelSelector", selector)], accept=METADATA_LIST
    )
    return len(found.get("items") or [])


async def stop_serving(ctx: Context, run: Run) -> None:
    """Done once nothing serves the model any more. It writes nothing itself: the model's status has asked
    since the plan began (domain/decommission.stops_serving), and each AIDeployment's reconcile, the one writer
    of its children's replicas, scales them to zero; this step waits until the live Deployments show no
    replicas and no pods, so the certificate's `ScaleToZero Done` is true of the cluster."""
    deployments = await _deployments(ctx, run)
    if run.spec.end_of_life.deployments == "Wait" and deployments:
        names = ", ".join(d["metadata"]["name"] for d in deployments)
        raise Retry(Reason.WAITING_FOR_DEPLOYMENTS, f"waiting for the owners to delete AIDeployments: {names}")
    ns = run.key.namespace
    serving = []
    for dep, part in ((d, p) for d in deployments for p in ("deployment", "cache")):
        name = workload.names(dep["metadata"]["name"])[part]  # the model servers, then their model cache
        live = await ctx.kube.get(DEPLOYMENTS, ns, name)
        if live is None:
            continue
        if not controlled_by(live, dep["metadata"]["uid"]):  # someone else's Deployment with that name
            run.act("StopServing", "Deployment", f"{ns}/{name}", "ScaleToZero", "NotOwned")
            continue
        left = plan_.still_serving(live, await _pods(ctx, ns, live))
        if left is not None:
            serving.append(f"{name} ({left})")
            continue
        run.act("StopServing", "Deployment", f"{ns}/{name}", "ScaleToZero", "Done", "0 replicas, no pods")
    if serving:
        raise Deferred(
            Reason.WAITING_FOR_SCALE_DOWN,
            f"their AIDeployments scale them to zero, still serving: {', '.join(serving[:5])}",
            fallback=STOP_SERVING_POLL,
        )


async def delete_workloads(ctx: Context, run: Run) -> None:
    """The AIDeployment first (so that nothing re-applies its objects), then every object it owned."""
    ns = run.key.namespace
    for dep in await _deployments(ctx, run):
        dep_name = dep["metadata"]["name"]
        children = (dep.get("status") or {}).get("children") or []
        gone = not await ctx.kube.delete(AIDEPLOYMENTS, ns, dep_name)
        run.act("DeleteWorkloads", "AIDeployment", f"{ns}/{dep_name}", "Delete", "AlreadyGone" if gone else "Done")
        for child in children:  # status.children says what to look at; ownership decides what goes
            kind, _, name = child.partition("/")
            if kind in BY_CHILD_KIND:
                outcome = await ownership.delete_child(ctx, kind, ns, name, dep["metadata"]["uid"])
                run.act("DeleteWorkloads", kind, f"{ns}/{name}", "Delete", outcome)


END_OF_LIFE_LABEL = "modelguard.io/end-of-life"


async def _delete_as_requester(ctx: Context, run: Run, step: str, kind: str, name: str, method: str) -> None:
    user, groups = run.requester.username, run.requester.groups
    if user == "unknown":
        raise VerificationError(
            Reason.REQUESTER_UNKNOWN,
            "who asked for the decommission was not recorded (admission "
            "webhook unavailable?): refusing to delete data on nobody's authority",
        )
    allowed, _ = await may(ctx.kube, user, groups, "delete", DATA_KINDS[kind].plural, run.key.namespace, name)
    if not allowed:
        raise VerificationError(
            Reason.DATA_DELETION_FORBIDDEN,
            f"{user} may not delete {kind} {name!r} in {run.key.namespace!r}; nothing was deleted on their behalf",
        )
    if ctx.enabled_namespace_label is not None:  # restricted writes: only what its owner marked (docs/rbac.md)
        current = await ctx.kube.get(DATA_KINDS[kind], run.key.namespace, name)
        if current is None:
            run.act(step, kind, f"{run.key.namespace}/{name}", method, "AlreadyGone")
            return
        if ((current.get("metadata") or {}).get("labels") or {}).get(END_OF_LIFE_LABEL) != "delete":
            raise VerificationError(
                Reason.NOT_MARKED_FOR_DELETION,
                f"{kind} {name!r} is not marked {END_OF_LIFE_LABEL}=delete: ModelGuard deletes tenant data and keys "
                "only when their owner marked them (label it, and the decommission goes on)",
            )
    existed = await ctx.kube.delete(DATA_KINDS[kind], run.key.namespace, name)
    run.act(step, kind, f"{run.key.namespace}/{name}", method, "Done" if existed else "AlreadyGone")


async def delete_data(ctx: Context, run: Run) -> None:
    for ref in run.spec.end_of_life.data_refs:  # LocalObjectReferences: the model's namespace only
        await _delete_as_requester(ctx, run, "DeleteData", ref.kind, ref.name, "Delete")


async def _artifact_call(ctx: Context, run: Run, uri: str, call: Literal["delete", "exists"]) -> bool:
    """One request for this model's artifact at its source (its provider's): in the tenant's share of source
    slots (or SourceBusy), on the source pool, under the fetch deadline."""
    creds_ref = run.spec.source.credentials_secret_ref
    await references.require(ctx, "AIModel", run.body, "credentials")
    creds = await model_access.credentials(ctx, run.key.namespace, run.spec) if creds_ref else None  # its source's
    with ctx.verifier.slots.hold(run.key.namespace, run.key):
        if call == "delete":
            return await ctx.verifier.delete_artifact(uri, creds)
        return await ctx.verifier.artifact_exists(uri, creds)


UNSEEN = "the operator may not list every AIModel in the cluster (a namespace-scoped install), so it cannot tell "
UNSEEN += "that no other model serves this artifact: it is kept"


async def _other_references(ctx: Context, run: Run) -> list[frozenset[str]] | None:
    """The digests each other AIModel (any namespace) names in its spec or was verified at: an artifact someone
    still uses is never deleted, whatever they call its registry. The API is read, not the cache: after a
    restart it may still be filling. None when not every AIModel can be seen (fail closed: keep)."""
    try:
        models = await ctx.kube.list(AIMODELS, None)
    except KubeError as exc:
        if exc.status != 403:
            raise
        return None  # a namespace-scoped install sees only its own namespaces: another may serve the digest
    return retention.digests_in_use(models, run.body["metadata"]["uid"])


async def delete_artifacts(ctx: Context, run: Run) -> None:
    uris = [run.spec.source.uri]
    if run.spec.signature.bundle_uri:
        uris.append(run.spec.signature.bundle_uri)
    verified = retention.verified_at(model_status.as_status(run.body.get("status") or {}, run.spec).verified)
    others = await _other_references(ctx, run) if run.spec.end_of_life.delete_artifacts else []
    for uri in uris:
        keep = retention.keep_reason(uri, verified, others) if others is not None else UNSEEN
        deletable = provider_for(uri).deletable
        if not run.spec.end_of_life.delete_artifacts:
            run.act("DeleteArtifacts", "Artifact", uri, "None", "Retained", "endOfLife.deleteArtifacts is false")
        elif deletable is None:
            scheme = uri.partition("://")[0]
            detail = f"{scheme}:// sources are not deleted by ModelGuard; remove them at their origin"
            run.act("DeleteArtifacts", "Artifact", uri, "None", "Retained", detail)
        elif keep is not None:
            run.act("DeleteArtifacts", deletable.kind, uri, "None", "Retained", keep)
        else:
            existed = await _artifact_call(ctx, run, uri, "delete")
            run.act("DeleteArtifacts", deletable.kind, uri, deletable.method, "Done" if existed else "AlreadyGone")


async def destroy_keys(ctx: Context, run: Run) -> None:
    for ref in run.spec.end_of_life.encryption_keys:
        await _delete_as_requester(ctx, run, "DestroyKeys", "Secret", ref.name, "CryptoShred")


async def confirm_deleted(ctx: Context, run: Run) -> None:
    """Every deletion really happened: the API answers 404 and the registry no longer has the manifest."""
    still: list[str] = []
    artifacts = {p.deletable.method: p.deletable for p in PROVIDERS.values() if p.deletable is not None}
    for action in run.progress.actions:
        if action["result"] != "Done" or action["method"] not in ("Delete", "CryptoShred", *artifacts):
            continue
        if action["method"] in artifacts:  # deleted at its source: ask the source
            if await _artifact_call(ctx, run, action["name"], "exists"):
                still.append(action["name"])
            else:
                confirmed = artifacts[action["method"]].confirmed
                run.act("ConfirmDeleted", action["kind"], action["name"], "Verify404", "Done", confirmed)
            continue
        namespace, _, name = action["name"].partition("/")
        resource = {**BY_CHILD_KIND, **DATA_KINDS, "AIDeployment": AIDEPLOYMENTS}[action["kind"]]
        if await ctx.kube.get(resource, namespace, name) is not None:
            still.append(f"{action['kind']}/{name}")
            await ctx.kube.delete(resource, namespace, name)  # re-created meanwhile (a reconcile in flight)
        else:
            run.act("ConfirmDeleted", action["kind"], action["name"], "Verify404", "Done", "GET answered 404")
    if still:
        raise Retry(Reason.NOT_YET_DELETED, f"still present: {', '.join(still[:5])}")


async def issue_certificate(ctx: Context, run: Run) -> None:
    meta = run.body["metadata"]
    name = object_name(f"{run.key.namespace}.{run.key.name}", meta["uid"][:8])
    existing = await ctx.kube.get(CERTIFICATES, None, name)
    if existing is None:
        verified = (run.body.get("status") or {}).get("verified") or {}
        actions = [CertifiedAction.model_validate(a) for a in run.progress.actions if a["step"] != "ConfirmDeleted"]
        certified = DecommissionCertificateSpec(
            model=CertifiedModel(
                namespace=run.key.namespace,
                name=run.key.name,
                uid=meta["uid"],
                version=run.spec.version,
                digest=verified.get("digest"),
                source=run.spec.source.uri,
            ),
            trigger=run.progress.trigger,
            requester=run.requester,
            started_at=run.progress.started_at,
            completed_at=ctx.clock(),
            operator_version=__version__,
            actions=actions,
            keys_destroyed=[a.name for a in actions if a.method == "CryptoShred"],
        )
        spec = certified.wire()  # signed as it is sent: the API server stores exactly this
        assert ctx.operator_key is not None
        spec["signature"] = plan_.sign(await ctx.operator_key.get(), spec)
        body = {
            "apiVersion": API_VERSION,
            "kind": "DecommissionCertificate",
            "metadata": {"name": name, "labels": {"modelguard.io/model-uid": meta["uid"]}},
            "spec": spec,
        }
        try:
            await ctx.kube.create(CERTIFICATES, body)
        except KubeError as exc:
            if not exc.conflict:  # created by a run that crashed before recording it: one certificate only
                raise
    run.progress = run.progress.model_copy(update={"certificate": name})


STEP_FUNCTIONS: dict[str, Callable[[Context, Run], Awaitable[None]]] = {
    "StopServing": stop_serving,
    "DeleteWorkloads": delete_workloads,
    "DeleteData": delete_data,
    "DeleteArtifacts": delete_artifacts,
    "DestroyKeys": destroy_keys,
    "ConfirmDeleted": confirm_deleted,
    "IssueCertificate": issue_certificate,
}


async def start(
    ctx: Context, body: dict[str, Any], status: AIModelStatus, trigger: plan_.Trigger
) -> DecommissionProgress:
    if status.decommission is not None:
        return status.decommission
    who = await requester(ctx, body, trigger)
    return DecommissionProgress(
        trigger=trigger, requester=who.username, started_at=ctx.clock(), steps=plan_.plan(), actions=[]
    )


async def step(
    ctx: Context, key: Key, body: dict[str, Any], spec: AIModelSpec, progress: DecommissionProgress
) -> DecommissionProgress:
    """Run the next pending step; returns the new progress (the caller records it)."""
    name = plan_.next_step(progress.steps)
    if name is None:
        return progress
    who = await requester(ctx, body, progress.trigger)
    run = Run(key, body, spec, progress, who)
    try:
        await STEP_FUNCTIONS[name](ctx, run)
    except (Retry, VerificationError) as exc:
        waiting = isinstance(exc, Deferred)  # for what will happen (pods terminating): not failed
        state: Literal["Pending", "Failed"] = "Pending" if waiting else "Failed"
        failed = [
            s if s.name != name else DecommissionStep(name=name, state=state, message=f"{exc.reason}: {exc.message}")
            for s in progress.steps
        ]
        raise _StepFailed(progress.model_copy(update={"steps": failed}), exc) from None
    steps = [s if s.name != name else DecommissionStep(name=name, state="Done", message="") for s in progress.steps]
    done = run.progress.model_copy(update={"steps": steps, "actions": [*progress.actions, *run.actions]})
    if plan_.next_step(steps) is None:
        done = done.model_copy(update={"completed_at": ctx.clock()})
    log.info("%s: decommission step %s done", key, name)
    return done


class _StepFailed(Exception):
    def __init__(self, progress: DecommissionProgress, cause: Retry | VerificationError) -> None:
        super().__init__(str(cause))
        self.progress = progress
        self.cause = cause


StepFailed = _StepFailed


async def run_end_of_life(
    ctx: Context,
    key: Key,
    body: dict[str, Any],
    spec: AIModelSpec,
    status: AIModelStatus,
    trigger: plan_.Trigger,
) -> float | None:
    """Decommission: legal hold blocks everything; otherwise run the plan step by step, one status write per
    step (the progress survives a restart), then release the finalizer of a deleted model."""
    meta = body.get("metadata") or {}
    held = await references.legal_hold(ctx, body)  # the spec's, or a stamped hold nobody who may has cleared
    if held is not None and not (status.decommission and status.decommission.completed_at):
        await model_status.write(ctx, key, body, status, plan_.hold_verdicts(trigger, held), {})
        return None
    progress = await start(ctx, body, status, trigger)
    current_body, current_status = body, status
    if status.decommission is None:  # the plan in the status first: it asks the AIDeployments to stop serving
        verdicts = plan_.progress_verdicts(progress.steps, None)
        await model_status.write(ctx, key, body, status, verdicts, {"decommission": progress.wire()})
        current_body = ctx.store.get(key) or current_body
        current_status = model_status.as_status(status_view(ctx, key, current_body), spec)
    while plan_.next_step(progress.steps) is not None:
        try:
            progress = await step(ctx, key, current_body, spec, progress)
        except StepFailed as failed:
            if isinstance(failed.cause, Deferred):  # waiting for what will happen: in progress, no Event
                verdicts = plan_.waiting_verdicts(failed.progress.steps, failed.cause.reason, failed.cause.message)
                fields = {"decommission": failed.progress.wire()}
                await model_status.write(ctx, key, current_body, current_status, verdicts, fields)
                raise failed.cause from None
            verdicts = plan_.failed_verdicts(failed.progress.steps, failed.cause.reason, failed.cause.message)
            shown = find(current_status.conditions, Cond.DECOMMISSIONED)
            if shown is None or shown.reason != verdicts[0].reason:  # False before and after: say it once, here
                blocked = verdicts[0]
                await ctx.events.record(current_body, "Warning", blocked.reason, blocked.message, action="Decommission")
            fields = {"decommission": failed.progress.wire()}
            await model_status.write(ctx, key, current_body, current_status, verdicts, fields)
            raise Retry(failed.cause.reason, failed.cause.message) from None
        verdicts = plan_.progress_verdicts(progress.steps, progress.certificate)
        await model_status.write(ctx, key, current_body, current_status, verdicts, {"decommission": progress.wire()})
        current_body = ctx.store.get(key) or current_body
        current_status = model_status.as_status(status_view(ctx, key, current_body), spec)
        if plan_.next_step(progress.steps) is not None and ctx.decommission_step_delay:
            await asyncio.sleep(ctx.decommission_step_delay)
    if trigger == "Deletion" or meta.get("deletionTimestamp"):
        await forget_requester(ctx, str(meta.get("uid", "")))  # it is in the certificate now
        await finalizer.release(ctx, key, (ctx.store.get(key) or body).get("metadata") or meta)
    return None
