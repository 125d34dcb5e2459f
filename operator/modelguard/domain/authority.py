"""The authority rule (pure; ADR 0020): the operator never uses its power for a tenant beyond what that tenant
may do itself.

Every field of a tenant-writable spec is classified in `FIELDS`: it is inert (text the operator only records or
shows), governed by an admin-written policy that the reconciler re-reads on every pass (allowed sources, the
namespace selector, scheduling grants), or a *reference* that makes the operator read, send, schedule, delete or
keep something with its own rights on the requester's behalf. A reference is honoured only under an
**authority stamp**: the mutating admission webhook asks the API server (SubjectAccessReview) whether the
requester may do what the reference makes the operator do, and for each reference that holds it writes an entry
with the digest of exactly the spec values it authorised; the whole stamp is signed with the operator's key and
bound to the object: its uid (on updates) or, on a create, where the API server has not yet assigned the uid,
to the object's namespace, name and creation time (the stamp's issue time must lie within `CREATE_WINDOW` of
`metadata.creationTimestamp`, which the API server sets and nobody can change). The reconciler re-checks the
stamp against the live spec before it acts: a reference without a valid entry (webhook down, warn mode, copied
from another object, spec changed since) is not honoured.

A legal hold is the one reference that *keeps* something: a hold recorded in the stamp holds until someone who
may `update aimodels/legalhold` clears it, whatever the spec says meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.domain import safe_json, signed_json

AUTHORITY = "modelguard.io/authority"
REAUTHORISE = "modelguard.io/reauthorise"  # a person's request to authorise the references again (any new value)
CREATE_WINDOW = timedelta(seconds=60)
HOLD = "legalHold"  # the entry that records a legal hold

Action = Literal["read", "send", "schedule", "delete", "keep"]


@dataclass(frozen=True)
class Access:
    """What the requester must be allowed (a SubjectAccessReview) for the operator to honour a reference."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name_path: str | None = None  # the spec path whose value is the object's name (None: any object)


@dataclass(frozen=True)
class Reference:
    """A tenant-writable reference the operator acts on with its own rights, and how it is authorised."""

    kind: str  # AIModel or AIDeployment
    entry: str  # its entry in the authority stamp
    present: str  # the spec path whose presence makes it a reference
    covers: tuple[str, ...]  # the spec paths whose values the entry binds (changing any needs a new authorisation)
    actions: tuple[Action, ...]
    access: Access
    why: str  # what the operator does with it, for messages and docs


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "AIModel",
        "credentials",
        "source.credentialsSecretRef",
        ("source.credentialsSecretRef", "source.uri"),
        ("read", "send"),
        Access("get", "secrets", name_path="source.credentialsSecretRef.name"),
        "reads the Secret and sends its credentials to the source's origin (and the model cache pod mounts it)",
    ),
    Reference(
        "AIModel",
        "signatureConfigMap",
        "signature.configMapRef",
        ("signature.configMapRef",),
        ("read",),
        Access("get", "configmaps", name_path="signature.configMapRef.name"),
        "reads the ConfigMap's signature and ships it to the model's pods",
    ),
    Reference(
        "AIDeployment",
        "serviceAccount",
        "serviceAccountName",
        ("serviceAccountName", "runtime", "scheduling", "modelRef"),
        ("schedule",),
        Access("create", "pods"),
        "runs the model server's pods (that image, on those nodes) as the named ServiceAccount",
    ),
    Reference(
        "AIDeployment",
        "apiKeys",
        "authentication.apiKeysSecretRef",
        ("authentication.apiKeysSecretRef",),
        ("read",),
        Access("get", "secrets", name_path="authentication.apiKeysSecretRef.name"),
        "reads the Secret's API keys into the gateway's configuration",
    ),
    Reference(
        "AIDeployment",
        "systemPrompt",
        "systemPrompt",
        ("systemPrompt",),
        ("read",),
        Access("get", "configmaps", name_path="systemPrompt.name"),
        "reads the ConfigMap's system prompt, hashes it into the audit trail and serves it in the gateway",
    ),
)
# clearing a legal hold: only someone who may set and clear holds (an admin grants it in RBAC)
CLEAR_HOLD = Access("update", "aimodels", group="modelguard.io", subresource="legalhold")

Authorisation = Literal["stamp", "policy", "deletion", "approval", "inert"]

# Every leaf of every tenant-writable spec, by path prefix: how the operator may act on it. A test walks the API
# models and fails on a field no prefix covers, and docs/security.md lists every non-inert prefix.
FIELDS: dict[str, dict[str, tuple[Authorisation, str]]] = {
    "AIModel": {
        "source.credentialsSecretRef": ("stamp", "SubjectAccessReview: get the Secret (entry `credentials`)"),
        "source.uri": ("policy", "TrustPolicy allowedSources, re-checked before every fetch; redirects too"),
        "signature.configMapRef": ("stamp", "SubjectAccessReview: get the ConfigMap (entry `signatureConfigMap`)"),
        "signature.bundleUri": ("policy", "TrustPolicy allowedSources; never sent the source's credentials"),
        "signature.format": ("inert", ""),
        "sbom.uri": ("policy", "TrustPolicy allowedSources; fetched without credentials"),
        "sbom": ("inert", ""),
        "trustPolicy": ("policy", "the TrustPolicy's namespaceSelector must select the namespace"),
        "endOfLife.legalHold": ("stamp", "anyone may set a hold; clearing needs update aimodels/legalhold"),
        "endOfLife.dataRefs": ("deletion", "at decommission, SubjectAccessReview of the deletion's requester"),
        "endOfLife.deleteArtifacts": (
            "deletion",
            "only an artifact this model verified and no AIModel in the cluster still serves (by digest)",
        ),
        "endOfLife.encryptionKeys": ("deletion", "at decommission, SubjectAccessReview of the deletion's requester"),
        "endOfLife.retireAfter": (
            "deletion",
            "the end-of-life policy's setter, stamped at admission, is the requester",
        ),
        "endOfLife.retire": ("deletion", "the setter of the end-of-life policy (stamped) is the requester"),
        "endOfLife.deployments": ("deletion", "only AIDeployments of the same namespace serving this model"),
        "version": ("inert", ""),
        "card": ("inert", ""),
        "maintenance": ("inert", ""),
        "assurance": ("inert", ""),
    },
    "AIDeployment": {
        "serviceAccountName": ("stamp", "SubjectAccessReview: create pods (entry `serviceAccount`)"),
        "authentication.apiKeysSecretRef": ("stamp", "SubjectAccessReview: get the Secret (entry `apiKeys`)"),
        "systemPrompt": ("stamp", "SubjectAccessReview: get the ConfigMap (entry `systemPrompt`)"),
        "scheduling": ("policy", "TrustPolicy spec.scheduling grants; control-plane nodes never"),
        "modelRef": ("policy", "an AIModel of the same namespace, verified under its TrustPolicy"),
        "runtime": ("approval", "the restricted, token-less model server; approvals cover every field"),
        "access": ("approval", "NetworkPolicies of the deployment's own pods; approvals cover every field"),
        "replicas": ("approval", "approvals cover it"),
        "rateLimit": ("approval", "approvals cover it"),
        "gateway": ("approval", "approvals cover it"),
        "approval": ("inert", ""),
        "incidentResponse": ("inert", ""),
    },
    "ModelApproval": {
        "deployment": ("approval", "the approver is stamped at admission; an AIDeployment of the same namespace"),
        "digest": ("approval", "the approval counts only for this digest"),
        "comment": ("inert", ""),
    },
}


def classify(kind: str, path: str) -> tuple[Authorisation, str] | None:
    """How the field at `path` (camelCase, dotted) is governed: the longest matching prefix, or None."""
    table = FIELDS.get(kind, {})
    best = max((p for p in table if path == p or path.startswith(p + ".")), key=len, default=None)
    return table[best] if best is not None else None


def value_at(spec: Mapping[str, Any], path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def references_of(kind: str, spec: Mapping[str, Any]) -> list[Reference]:
    """The references this spec makes (present and not empty)."""
    return [r for r in REFERENCES if r.kind == kind and value_at(spec, r.present) not in (None, "", {}, [])]


def asks_for_authority(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Does this update ask for references to be authorised for its requester: a change of the spec, or a new
    value of the re-authorise annotation? (Not a finalizer or label write, such as the operator's own.)"""
    if dict(new.get("spec") or {}) != dict(old.get("spec") or {}):
        return True

    def asked(body: Mapping[str, Any]) -> Any:
        return ((body.get("metadata") or {}).get("annotations") or {}).get(REAUTHORISE)

    return asked(new) is not None and asked(new) != asked(old)


def covered(reference: Reference, spec: Mapping[str, Any]) -> str:
    """The digest of exactly the spec values an entry authorises."""
    values = {path: value_at(spec, path) for path in reference.covers}
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def access_name(reference: Reference, spec: Mapping[str, Any]) -> str:
    path = reference.access.name_path
    return "" if path is None else str(value_at(spec, path) or "")


def refusal(reference: Reference, spec: Mapping[str, Any], username: str, namespace: str) -> str:
    """Why admission did not authorise a reference (the requester and the object, never a value read)."""
    a = reference.access
    what = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    name = access_name(reference, spec)
    target = f"{what} {name!r}" if name else what
    return (
        f"spec.{reference.present}: {username or 'the requester'} may not {a.verb} {target} in {namespace!r}, "
        f"so ModelGuard will not do it for them (it {reference.why})"
    )


@dataclass(frozen=True)
class Entry:
    covers: str
    by: str

    def wire(self) -> dict[str, str]:
        return {"covers": self.covers, "by": self.by}


@dataclass(frozen=True)
class Stamp:
    """A verified authority stamp: the entries admission signed for this very object."""

    entries: Mapping[str, Entry]

    def holds(self, reference: Reference, spec: Mapping[str, Any]) -> bool:
        entry = self.entries.get(reference.entry)
        return entry is not None and entry.covers == covered(reference, spec)

    @property
    def hold(self) -> Entry | None:
        return self.entries.get(HOLD)


def _document(
    kind: str, meta: Mapping[str, Any], uid: str, issued_at: str, entries: Mapping[str, Entry]
) -> dict[str, Any]:
    return {
        "kind": "Authority",
        "object": kind,
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "uid": uid,
        "issuedAt": issued_at,
        "entries": {name: entries[name].wire() for name in sorted(entries)},
    }


def sign(
    private: ec.EllipticCurvePrivateKey, kind: str, meta: Mapping[str, Any], entries: Mapping[str, Entry], now: datetime
) -> str:
    """The annotation admission writes: bound to the uid when the object has one (updates), else (creates) to
    its name and the time of issue, which the reconciler compares with the creation time."""
    uid = str(meta.get("uid") or "")
    issued = "" if uid else now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = _document(kind, meta, uid, issued, entries)
    return json.dumps({**document, "signature": signed_json.sign(private, document)}, separators=(",", ":"))


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def read(kind: str, body: Mapping[str, Any], public_pem: bytes) -> tuple[Stamp | None, str]:
    """The object's verified stamp, or (None, why not). Bound to this object: its kind, namespace and name, and
    its uid, or for a stamp issued at creation its creation time (within CREATE_WINDOW)."""
    meta = body.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(AUTHORITY)
    if not raw:
        return None, "no authority stamp: admission did not review the references (webhook down or bypassed)"
    try:
        document = safe_json.loads(str(raw))
    except ValueError:
        return None, "the authority stamp is not JSON"
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        return None, "the authority stamp is not a document"
    for field, expected in (
        ("kind", "Authority"),
        ("object", kind),
        ("namespace", str(meta.get("namespace") or "")),
        ("name", str(meta.get("name") or "")),
    ):
        if document.get(field) != expected:
            return None, f"the authority stamp was issued for another {field}"
    uid = str(document.get("uid") or "")
    if uid:
        if uid != str(meta.get("uid") or ""):
            return None, "the authority stamp was issued for another object (uid): copied, not admitted"
    else:
        issued, created = _time(document.get("issuedAt")), _time(meta.get("creationTimestamp"))
        if issued is None or created is None or abs(created - issued) > CREATE_WINDOW:
            return None, "the authority stamp was not issued when this object was created: copied, not admitted"
    problem = signed_json.verify(public_pem, document, "authority stamp")
    if problem is not None:
        return None, problem
    entries: dict[str, Entry] = {}
    for name, value in document["entries"].items():
        if not isinstance(value, dict):
            return None, "the authority stamp is not a document"
        entries[str(name)] = Entry(str(value.get("covers", "")), str(value.get("by", "")))
    return Stamp(entries), ""


def unauthorised(kind: str, body: Mapping[str, Any], public_pem: bytes | None) -> list[tuple[Reference, str]]:
    """The references of the live spec that no valid stamp entry covers, each with why (empty: all honoured)."""
    spec = body.get("spec") or {}
    needed = references_of(kind, spec)
    if not needed:
        return []
    if public_pem is None:
        return [(r, "no operator key to check the authority stamp with") for r in needed]
    stamp, why = read(kind, body, public_pem)
    out = []
    for reference in needed:
        if stamp is None:
            out.append((reference, why))
        elif not stamp.holds(reference, spec):
            out.append((reference, f"spec.{reference.present} was not authorised as it is now (changed since)"))
    return out


def not_honoured(kind: str, body: Mapping[str, Any], public_pem: bytes | None, entry: str) -> str | None:
    """Why the reference `entry` of the live spec may not be acted on, or None (absent or authorised)."""
    for reference, why in unauthorised(kind, body, public_pem):
        if reference.entry == entry:
            return f"spec.{reference.present} is not honoured: {why}"
    return None


def legal_hold(body: Mapping[str, Any], public_pem: bytes | None) -> str | None:
    """Who holds the model (the spec's hold, or a hold the stamp recorded and nobody authorised has cleared), or
    None when no hold is in effect."""
    spec = body.get("spec") or {}
    if value_at(spec, "endOfLife.legalHold") is True:
        return "spec.endOfLife.legalHold"
    if public_pem is None:
        return None
    stamp, _why = read("AIModel", body, public_pem)
    if stamp is not None and stamp.hold is not None:
        return f"a legal hold set by {stamp.hold.by or 'an admin'} (cleared in the spec by someone who may not)"
    return None


def hold_entry(held_before: Entry | None, holds_now: bool, username: str, may_clear: bool) -> Entry | None:
    """The hold entry after a change: a new hold records its setter; a hold stays until someone who may clears it."""
    if holds_now:
        return held_before or Entry("held", username)
    if held_before is not None and not may_clear:
        return held_before
    return None
