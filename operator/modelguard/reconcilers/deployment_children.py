"""An AIDeployment's children: build what the verified record and the spec call for, apply what is missing or
different (drift is what someone else changed: it is reverted and reported), or stop them (a quarantine, or a
decommission's request): scaled to zero, all traffic denied.

Children (ServiceAccount, ConfigMaps, the gateway key Secret, NetworkPolicies, the model cache and model
server Deployments, Services) are compared with the watch cache and server-side applied only when missing
or different. `enforce` is the one entry: it returns what it did (domain/deployment_status.Enforcement),
from which the reconcile decides the PolicyEnforced verdict. It is the one writer of the children's replicas and
NetworkPolicies, under the operator's one field manager: a quarantine and a decommission ask it through the
rollout decision, and what it built before (serving, or stopped) is part of whose change a difference is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from modelguard.adapters.cache import Key
from modelguard.adapters.kube import KubeError
from modelguard.adapters.resources import SECRETS
from modelguard.adapters.secrets import policy_keys, sigstore_trust_config
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import VerifiedRecord
from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.builders import gateway, model_cache, network, workload
from modelguard.builders.labels import COMPONENT
from modelguard.domain import scheduling
from modelguard.domain.credentials import Credentials
from modelguard.domain.deployment_status import Enforcement, EnforcementOutcome, left_stopped
from modelguard.domain.drift import (
    DELETED,
    FOREIGN_FIELDS,
    Built,
    additions,
    by_others,
    mismatches,
    ours_changed,
    summarize,
)
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import as_verified
from modelguard.domain.ownership import clash_message, controlled_by
from modelguard.domain.pod_security import template_violations
from modelguard.domain.rollout import STOPPING, Decision
from modelguard.domain.statement import unpack_signature
from modelguard.domain.trust import TrustedIdentity, anchor_for
from modelguard.domain.verified_record import signature_digest
from modelguard.reconcilers import approvals, child_writes, model_access, ownership, references
from modelguard.reconcilers.context import Context, drift_to_report
from modelguard.reconcilers.deployment_observation import Observation

# refusals that need a person to act: an Event says so once
NEEDS_A_CHANGE = (
    Reason.NAME_CONFLICT,
    Reason.SERVICE_ACCOUNT_NOT_ADMITTED,
    Reason.NAMESPACE_NOT_ENABLED,
    Reason.REFERENCE_NOT_AUTHORISED,
    Reason.SCHEDULING_NOT_ALLOWED,
    Reason.DRIFT_PERSISTS,  # a webhook or controller puts back what a tenant added: someone must stop it
    Reason.SIGNATURE_CHANGED,  # the signature at its location is not the one verified: verify it again
)


@dataclass
class Applied:
    children: list[str]
    drift: list[str]


async def _api_keys(ctx: Context, namespace: str, spec: AIDeploymentSpec) -> str | None:
    """The gateway's key map, or None without authentication. Values never leave this function in messages."""
    if spec.authentication is None:
        return None
    name = spec.authentication.api_keys_secret_ref.name
    secret = await ctx.kube.get(SECRETS, namespace, name)
    if secret is None:
        raise Retry(Reason.API_KEYS_NOT_FOUND, f"Secret {name!r} with the API keys does not exist in {namespace!r}")
    keys = {
        client: base64.b64decode(value).decode(errors="replace").strip()
        for client, value in (secret.get("data") or {}).items()
    }
    if not keys:
        raise VerificationError(Reason.INVALID_API_KEYS, f"Secret {name!r} holds no API keys")
    try:
        return gateway.keys_map(keys)
    except gateway.InvalidKeys as exc:
        raise VerificationError(Reason.INVALID_API_KEYS, f"Secret {name!r}: {exc}") from None


def not_enabled(ctx: Context, namespace: str, labels: Mapping[str, str] | None) -> str | None:
    """Why ModelGuard may not write in this namespace (restricted writes, docs/rbac.md), or None; `labels`: the
    namespace's, as the pass observed them."""
    label = ctx.enabled_namespace_label
    if label is None or namespace == ctx.operator_namespace:
        return None
    if (labels or {}).get(label) == "true":
        return None
    return f"namespace {namespace!r} is not enabled for ModelGuard: a cluster admin labels it {label}=true"


@dataclass(frozen=True)
class PodTrust:
    """What the init containers verify with: the signature the operator verified (from where it was verified,
    whatever the spec says now) and exactly what vouched for it."""

    signature: bytes
    method: Literal["key", "certificate", "sigstore"]
    anchor_id: str  # the key, CA or identity id in the TrustPolicy
    material: bytes | None  # the key's PEM or the CA certificates; for Sigstore a private trust config, or None
    sigstore_identity: tuple[str, str] | None = None  # (certificate identity, OIDC issuer)
    inspection: tuple[str, ...] = ()  # the init containers' inspection options (the policy's spec.inspection)


def _policy(obs: Observation) -> TrustPolicySpec:
    """The model's TrustPolicy as the pass read it, or Retry while it cannot be read."""
    if obs.policy.spec is None:
        raise Retry(obs.policy.reason, obs.policy.message)
    return obs.policy.spec


def shipped_signature(shipped: Sequence[Mapping[str, Any]], digest: str) -> bytes | None:
    """The signature bytes of a verification ConfigMap already shipped whose bytes hash to `digest`, or None."""
    for cm in shipped:
        packed = (cm.get("binaryData") or {}).get("signature")
        if packed is None:
            continue
        try:
            signature = unpack_signature(base64.b64decode(packed))
        except (binascii.Error, VerificationError):
            continue
        if signature_digest(signature) == digest:
            return signature
    return None


async def _verified_signature(
    ctx: Context, key: Key, obs: Observation, record: VerifiedRecord, policy: TrustPolicySpec, creds: Credentials | None
) -> bytes:
    """The signature bytes the record names: the copy this AIDeployment already ships when its bytes match the
    record's digest; otherwise fetched once from where it was verified, and shipped only when they match."""
    model = obs.model.spec if obs.model is not None else None
    assert model is not None, "a rollout has a model"
    ref = record.signature_ref
    if ref.digest is not None:
        kept = shipped_signature(obs.shipped, ref.digest)
        if kept is not None:
            return kept
    verified_spec = as_verified(model, record)
    signature = await model_access.signature(ctx, key, verified_spec, tuple(policy.allowed_sources), creds)
    if ref.digest is None:  # a record from before the digest was kept (verified again soon): as that release did
        return signature
    if signature_digest(signature) != ref.digest:
        where = ref.bundle_uri or (f"ConfigMap {ref.config_map_ref.name!r}" if ref.config_map_ref else "?")
        raise VerificationError(
            Reason.SIGNATURE_CHANGED,
            f"the signature at {where} is not the one verified ({signature_digest(signature)}, verified "
            f"{ref.digest}): nothing is shipped until the model is verified again (a new generation, or annotate "
            "the AIModel modelguard.io/scan-now)",
        )
    return signature


async def _pod_trust(
    ctx: Context,
    key: Key,
    obs: Observation,
    record: VerifiedRecord,
    creds: Credentials | None,
    policy: TrustPolicySpec,
) -> PodTrust:
    """Exactly what vouched for the verified signature (verifiedBy), as the policy holds it now."""
    by = record.verified_by
    anchor = anchor_for(by.method, by.trusted, await policy_keys(ctx.kube, ctx.operator_namespace, policy))
    identity = (by.subject, by.issuer) if by.subject is not None and by.issuer is not None else None
    if anchor is None or (isinstance(anchor, TrustedIdentity) and not (identity and anchor.names(*identity))):
        raise Retry(Reason.SIGNER_NOT_FOUND, f"the {by.method} {by.trusted!r} that signed is no longer trusted")
    signature = await _verified_signature(ctx, key, obs, record, policy, creds)
    rules = policy.inspection
    inspection = (
        workload.inspection_args(rules.allowed_formats, rules.allowed_globals, rules.pickles == "Refuse")
        if rules is not None
        else ()
    )
    if isinstance(anchor, TrustedIdentity):  # the identity the operator matched, not the pattern
        config = await sigstore_trust_config(ctx.kube, ctx.operator_namespace, policy)
        return PodTrust(signature, "sigstore", anchor.id, config, identity, inspection)
    return PodTrust(signature, by.method, anchor.id, anchor.pem, None, inspection)


async def _desired(
    ctx: Context, key: Key, obs: Observation, spec: AIDeploymentSpec, decision: Decision
) -> list[dict[str, Any]]:
    """What the verified record and `spec` (the AIDeployment's, or the one last approved while a change awaits
    approval) call for."""
    body, model = obs.body, obs.model
    assert model is not None
    assert model.spec is not None
    problem = not_enabled(ctx, key.namespace, obs.namespace_labels)
    if problem is not None:
        raise VerificationError(Reason.NAMESPACE_NOT_ENABLED, problem)
    record = model.status.verified
    if record is None or record.digest != decision.digest:
        raise Retry(Reason.WAITING_FOR_MODEL, "the model's verification record is not available yet")
    # admission may have been down, bypassed or only warning: act on a reference only under a valid stamp
    await references.require(ctx, "AIDeployment", body, "serviceAccount", Reason.SERVICE_ACCOUNT_NOT_ADMITTED)
    await references.require(ctx, "AIDeployment", body, "apiKeys")
    # the model cache pod mounts the model's credentials Secret
    await references.require(
        ctx, "AIModel", obs.model_body or {}, "credentials", prefix=f"AIModel {spec.model_ref.name!r}: "
    )
    policy = _policy(obs)
    refused = scheduling.refusals(spec.scheduling, policy.scheduling)  # the live policy, every pass
    if refused:
        raise VerificationError(Reason.SCHEDULING_NOT_ALLOWED, "; ".join(refused))
    keys_map = await _api_keys(ctx, key.namespace, spec)
    # the credentials the model cache pod mounts, read by the rule its fetch applies (a refused Secret never
    # reaches a pod); the pod is told the Secret's type, which its volume does not show
    creds = await model_access.credentials(ctx, key.namespace, as_verified(model.spec, record))
    trust = await _pod_trust(ctx, key, obs, record, creds, policy)
    events_to = ctx.gateway_events.address if ctx.gateway_events else ""
    conf = gateway.nginx_conf(gateway.config_for(spec, authenticated=keys_map is not None, events_to=events_to))
    creds_ref = model.spec.source.credentials_secret_ref
    facts = workload.WorkloadFacts(
        name=key.name,
        namespace=key.namespace,
        uid=body["metadata"]["uid"],
        spec=spec,
        digest=record.digest,
        source=record.source,
        signature_format=record.signature_ref.format,
        signer=trust.anchor_id,  # the key, CA or identity the init container trusts, under the policy's name
        method=trust.method,
        sigstore_identity=trust.sigstore_identity,
        sigstore_trust_config=trust.method == "sigstore" and trust.material is not None,
        inspection=trust.inspection,
        operator_image=ctx.operator_image,
        credentials_secret=creds_ref.name if creds_ref and creds else None,
        credentials_type=creds.secret_type if creds else None,
        gateway_image=ctx.gateway_image,
        ca_bundle=ctx.ca_bundle_pem,
        gateway_hash=gateway.config_hash(conf, keys_map or ""),
        model_card=gateway.model_card(spec.model_ref.name, model.spec.version, record.digest, model.spec.card.wire()),
    )
    owner = workload.owner(facts)
    verification = workload.verify_config(facts, trust.signature, trust.material)
    cache_service = model_cache.service(facts)
    cache_ip = await _cache_address(ctx, key, facts.uid, cache_service)
    facts = replace(facts, verification=verification["metadata"]["name"], cache_url=model_cache.url(cache_ip))
    objects = [
        network.default_deny(key.name, key.namespace, owner),
        network.allow(key.name, key.namespace, spec, owner, ctx.monitoring_namespace, ctx.gateway_events),
        network.cache(key.name, key.namespace, spec, owner),
        verification,
        cache_service,
        model_cache.deployment(facts),
        workload.gateway_config(facts, conf),
        workload.deployment(facts),
        workload.service(facts),
    ]
    if keys_map is not None:
        objects.insert(3, workload.gateway_keys(facts, keys_map))
    if not spec.service_account_name:
        objects.insert(0, workload.service_account(facts))
    return objects


def _still_owner(ctx: Context, key: Key, uid: str) -> None:
    """Stop writing children once the AIDeployment is deleted or being deleted (the watch cache learns it within
    milliseconds): a pass that began before a decommission deleted it must not re-create what it deleted."""
    body = ctx.store.get(key)
    meta = (body or {}).get("metadata") or {}
    if body is None or meta.get("uid") != uid or meta.get("deletionTimestamp"):
        raise Retry(Reason.OWNER_GONE, f"{key.name} was deleted while its children were being applied")


async def _cache_address(ctx: Context, key: Key, uid: str, service: dict[str, Any]) -> str:
    """The model cache Service's cluster IP, which the model server pods fetch from: its Service is applied
    first when it does not exist yet (after the same name check as every child)."""
    name = service["metadata"]["name"]
    live = ctx.store.get(Key("Service", key.namespace, name))
    if live is None or not controlled_by(live, uid):
        clashes = await ownership.foreign(ctx, key.namespace, uid, [service])
        if clashes:
            raise VerificationError(Reason.NAME_CONFLICT, clash_message(clashes))
        _still_owner(ctx, key, uid)
        live = await child_writes.write(ctx, service)
    ip = str((live.get("spec") or {}).get("clusterIP") or "")
    if ip in ("", "None"):
        raise Retry(Reason.WAITING_FOR_MODEL_CACHE, f"the model cache Service {name} has no cluster IP yet")
    return ip


async def _apply(
    ctx: Context, key: Key, uid: str, objects: list[dict[str, Any]], previous: list[str], ours_changed: bool = False
) -> Applied:
    """Apply what is missing or different (`_converge`), then prune the verification ConfigMaps no longer named.
    Nothing is applied while any child's name is taken by an object this AIDeployment did not create."""
    clashes = await ownership.foreign(ctx, key.namespace, uid, objects)
    if clashes:
        raise VerificationError(Reason.NAME_CONFLICT, clash_message(clashes))
    drift, persisting = await _converge(ctx, key, uid, objects, previous, ours_changed)
    children = [f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects]
    await _prune_verification(ctx, key, uid, previous, children)
    _persisting(ctx, key, drift, persisting)
    return Applied(children, drift)


def _theirs(ref: str, changed: list[str], live: dict[str, Any] | None, previous: list[str], ours: bool) -> list[str]:
    """The differences someone else made: a child we had applied that is gone; when what we build changed
    (`ours`), the fields another field manager owns; otherwise every difference (even a removed field nobody owns
    now) of a child we had applied."""
    if live is None or not ours:
        return changed if ref in previous else []  # deleted by someone, or not yet created by us
    return by_others(changed, live.get(FOREIGN_FIELDS) or [])


async def _converge(
    ctx: Context, key: Key, uid: str, objects: list[dict[str, Any]], previous: list[str], ours_changed: bool
) -> tuple[list[str], list[str]]:
    """Apply what is missing or different; returns the drift reverted and the drift that persists. Drift is what
    someone else did (`_theirs`): a child we had applied that is gone, a difference in a field another field
    manager wrote, fields someone added (to any kind: an external IP, an allow-all rule, hostNetwork); a difference
    only our own writes explain (what we build changed: the owner's spec, the served digest, a quarantine imposed
    or lifted) is applied without a word. Added fields are removed by replacing the object (apply keeps what
    others own), and drift counts as reverted only when the object read back is what we build; otherwise it
    persists (`DriftPersists`)."""
    drift, persisting = [], []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        ref = f"{kind}/{name}"
        _still_owner(ctx, key, uid)
        live = await child_writes.current(ctx, Key(kind, key.namespace, name))
        changed = [DELETED] if live is None else mismatches(obj, live)
        # fields someone else added: apply would leave them where another manager owns them, replace removes them
        added = [] if live is None else additions(obj, live)
        unsafe = template_violations(live) if live is not None and kind == "Deployment" else []
        if not changed and not unsafe:
            continue
        theirs = _theirs(ref, changed, live, previous, ours_changed)
        # someone else's drift, or fields added by anyone: what the object does is replaced whole (a sidecar or an
        # external IP another manager owns would survive apply); our own changes are applied
        await child_writes.write(ctx, obj, live if added or unsafe or theirs else None)
        if not theirs and not unsafe:
            continue
        back = await child_writes.read_back(ctx, Key(kind, key.namespace, name))  # the evidence
        left = [DELETED] if back is None else mismatches(obj, back)
        left += template_violations(back) if back is not None and kind == "Deployment" else []
        if left:
            persisting.append(summarize(kind, name, left))
        else:
            drift.append(summarize(kind, name, theirs + unsafe))
    return drift, persisting


def _persisting(ctx: Context, key: Key, drift: list[str], persisting: list[str]) -> None:
    if persisting:
        drift_to_report(ctx, key, drift)  # what did go is reported once the rest goes too
        raise VerificationError(
            Reason.DRIFT_PERSISTS,
            "changes made outside ModelGuard are back right after being reverted (a mutating webhook or another "
            "controller?): " + "; ".join(persisting),
        )


async def _prune_verification(ctx: Context, key: Key, uid: str, previous: list[str], children: list[str]) -> None:
    """Verification ConfigMaps are immutable and named by content: once the Deployment names a new one, the
    ones it named before go (only ours: delete_child checks the owner and uses a uid precondition)."""
    for ref in previous:
        kind, _, name = ref.partition("/")
        if kind != "ConfigMap" or ref in children:
            continue
        live = ctx.store.get(Key("ConfigMap", key.namespace, name)) or {}
        if (live.get("metadata") or {}).get("labels", {}).get(COMPONENT) == "verification":
            await ownership.delete_child(ctx, "ConfigMap", key.namespace, name, uid)


async def _stop(ctx: Context, key: Key, obs: Observation, ours_changed: bool) -> list[str]:
    """Scale the model servers and their cache to zero and deny all traffic, on every pass while quarantined or
    stopped for a decommission, like any child: what someone else changes meanwhile (an allow-all rule on the
    deny-all policy, replicas scaled back up) is reverted and reported. Without the (possibly gone) verification
    record: the NetworkPolicies are whole (the deny-all one, and the allow and model cache ones emptied), the
    Deployments get their replicas only. Only children this AIDeployment has (or had) are written; a name someone
    else took is left alone. Returns the drift reverted."""
    uid, previous = obs.uid, obs.current.children
    owner = {
        "apiVersion": obs.body["apiVersion"],
        "kind": "AIDeployment",
        "name": key.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    policies = []
    for policy in (
        network.default_deny(key.name, key.namespace, owner),
        network.quarantine(key.name, key.namespace, owner),
        network.cache_quarantine(key.name, key.namespace, owner),
    ):
        live = await ownership.live(ctx, "NetworkPolicy", key.namespace, policy["metadata"]["name"])
        ref = f"NetworkPolicy/{policy['metadata']['name']}"
        if (live is None and ref in previous) or (live is not None and controlled_by(live, uid)):
            policies.append(policy)
    drift, persisting = await _converge(ctx, key, uid, policies, previous, ours_changed)
    for part in ("deployment", "cache"):
        name = workload.names(key.name)[part]
        live = await child_writes.current(ctx, Key("Deployment", key.namespace, name))
        if live is None or not controlled_by(live, uid) or int((live.get("spec") or {}).get("replicas", 1)) == 0:
            continue
        _still_owner(ctx, key, uid)
        theirs = _theirs(f"Deployment/{name}", ["spec.replicas"], live, previous, ours_changed)
        await child_writes.scale_to_zero(ctx, Key("Deployment", key.namespace, name), live)
        if not theirs:
            continue
        back = await child_writes.read_back(ctx, Key("Deployment", key.namespace, name))  # the evidence
        if back is not None and int((back.get("spec") or {}).get("replicas", 1)) != 0:
            persisting.append(summarize("Deployment", name, theirs))
        else:
            drift.append(summarize("Deployment", name, theirs))
    _persisting(ctx, key, drift, persisting)
    return drift


def _has(current: AIDeploymentStatus, type_: str, reason: str) -> bool:
    return any(c.type == type_ and c.reason == reason for c in current.conditions)


async def enforce(ctx: Context, key: Key, obs: Observation, decision: Decision) -> Enforcement:
    """Stop (a quarantine, or a decommission's request), or apply the children a rollout (or the trusted digest
    kept serving) calls for, or leave them: what was done, for the PolicyEnforced verdict. The one writer of the
    children's replicas and NetworkPolicies. A refusal that needs a change gets one Event."""
    body, current, model, served = obs.body, obs.current, obs.model, obs.served
    untouched = Enforcement("Untouched", current.children, served)
    before = Built(current.observed_generation, served, left_stopped(current))
    if decision.action in STOPPING:
        quarantine = decision.action == "Quarantine"
        blocked = not_enabled(ctx, key.namespace, obs.namespace_labels)
        if blocked is not None:
            outcome: EnforcementOutcome = "QuarantineBlocked" if quarantine else "StopBlocked"
            return replace(untouched, outcome=outcome, reason=Reason.NAMESPACE_NOT_ENABLED, message=blocked)
        now = Built(obs.generation, served, stopped=True)
        try:
            drift = await _stop(ctx, key, obs, ours_changed(before, now))
        except VerificationError as exc:  # DriftPersists
            return await _refused(ctx, body, current, untouched, exc.reason, exc.message)
        except KubeError as exc:
            return await _kube_refused(ctx, body, current, untouched, exc)
        reported = tuple(drift_to_report(ctx, key, drift))
        return replace(untouched, outcome="Quarantined" if quarantine else "Stopped", drift=reported)
    keeps_trusted = (
        decision.action == "Keep" and model is not None and model.status.verified is not None
    ) and model.status.verified.digest == served
    if model is None or not (decision.action == "Rollout" or keeps_trusted):
        return untouched
    try:
        spec = obs.spec
        if decision.action == "Keep" and decision.reason == Reason.AWAITING_APPROVAL:  # a change not approved yet
            approved = await approvals.approved_spec(ctx, key, body, decision.digest, obs.approval.required)
            if approved is None:  # no approved spec to show for: leave the workload as it is
                return untouched
            spec = approved  # what runs and who reaches it stay as approved until the change is
        objects = await _desired(ctx, key, obs, spec, decision)
        now = Built(obs.generation, decision.digest, stopped=False)
        result = await _apply(ctx, key, obs.uid, objects, current.children, ours_changed(before, now))
    except VerificationError as exc:
        return await _refused(ctx, body, current, untouched, exc.reason, exc.message)
    except KubeError as exc:
        return await _kube_refused(ctx, body, current, untouched, exc)
    return Enforcement("Applied", result.children, decision.digest, tuple(drift_to_report(ctx, key, result.drift)))


async def _refused(
    ctx: Context, body: dict[str, Any], current: AIDeploymentStatus, untouched: Enforcement, reason: str, message: str
) -> Enforcement:
    if reason in NEEDS_A_CHANGE and not _has(current, Cond.POLICY_ENFORCED, reason):
        await ctx.events.record(body, "Warning", reason, message, action="Apply")
    return replace(untouched, outcome="Refused", reason=reason, message=message)


async def _kube_refused(
    ctx: Context, body: dict[str, Any], current: AIDeploymentStatus, untouched: Enforcement, exc: KubeError
) -> Enforcement:
    if exc.conflict:
        raise Retry(Reason.CONFLICT, "a managed object changed while applying") from None
    if exc.status not in (400, 403, 422):
        raise exc
    # refused for good (admission policy, quota, validation): say so instead of retrying silently
    message = f"the API server refused a managed object ({exc.status} {exc.reason}): {exc.message[:400]}"
    if not _has(current, Cond.POLICY_ENFORCED, Reason.APPLY_REJECTED):
        await ctx.events.record(body, "Warning", Reason.APPLY_REJECTED, message, action="Apply")
    return replace(untouched, outcome="Refused", reason=Reason.APPLY_REJECTED, message=message)
