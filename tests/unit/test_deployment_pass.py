"""One AIDeployment pass against an in-memory API and watch cache that count what is read (issue 28 item 2):
the pass observes once (one TrustPolicy and one Namespace read) and hands the observation to every step; the
signature the pods verify with is the one the verified record names, taken from the copy the operator already
shipped and checked against the record's digest, so a pass where nothing changed fetches nothing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from modelguard.adapters.cache import Key, Store
from modelguard.builders.labels import COMPONENT
from modelguard.domain.drift import child_view
from modelguard.domain.statement import unpack_signature
from modelguard.reconcilers import aideployment
from modelguard.reconcilers.context import Context
from tests.harness.samples import DIGEST, ai_deployment, ai_model, trust_policy, verified_record

NAMESPACE = "team"
ENABLED = "modelguard.io/enabled"
BUNDLE = b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "the": "verified bundle"}'


class CountingStore(Store):
    """The watch cache, counting reads by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def get(self, key: Key) -> dict[str, Any] | None:
        self.reads[key.kind] += 1
        return super().get(key)


class FakeKube:
    """The API server: objects by (kind, namespace, name); a write lands in the watch cache at once."""

    def __init__(self, store: Store) -> None:
        self.store, self.version = store, 1
        self.objects: dict[Key, dict[str, Any]] = {}
        self.reads: Counter[str] = Counter()
        self.writes: list[str] = []

    def put(self, body: dict[str, Any], cached: bool) -> None:
        meta = body["metadata"]
        key = Key(body["kind"], meta.get("namespace") or "", meta["name"])
        self.version += 1
        stored = copy.deepcopy(body)
        stored["metadata"] = {"uid": f"uid-{meta['name']}", **meta, "resourceVersion": str(self.version)}
        if body["kind"] == "Service":
            stored["spec"] = {**stored["spec"], "clusterIP": "10.0.0.7"}
        self.objects[key] = stored
        if cached:
            builtin = body["kind"] in (
                "Deployment",
                "Service",
                "ServiceAccount",
                "ConfigMap",
                "Secret",
                "NetworkPolicy",
            )
            self.store.upsert(key, child_view(body["kind"], stored) if builtin else stored)

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.reads[res.kind] += 1
        self.reads[f"{res.kind}/{name}"] += 1
        found = self.objects.get(Key(res.kind, namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    async def apply(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(f"apply {obj['kind']}/{obj['metadata']['name']}")
        self.put(obj, cached=True)
        meta = obj["metadata"]
        return copy.deepcopy(self.objects[Key(obj["kind"], meta.get("namespace") or "", meta["name"])])

    async def request(self, method: str, path: str, *, body: Any, query: Any, content_type: str) -> dict[str, Any]:
        """A replacement (JSON patch) before an apply: the apply that follows lands the whole object here."""
        self.writes.append(f"{method} {path}")
        return {}

    async def delete(self, res: Any, namespace: str | None, name: str, uid: str | None = None) -> bool:
        self.writes.append(f"delete {res.kind}/{name}")
        key = Key(res.kind, namespace or "", name)
        self.store.remove(key)
        return self.objects.pop(key, None) is not None

    async def patch_status(self, res: Any, namespace: str | None, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(f"status {res.kind}/{name}")
        key = Key(res.kind, namespace or "", name)
        body = self.objects[key]
        body["status"] = {**(body.get("status") or {}), **status}
        self.store.upsert(key, body)
        return copy.deepcopy(body)


class Slots:
    @contextlib.contextmanager
    def hold(self, namespace: str, who: Key) -> Iterator[None]:
        yield


class Settings:
    plain_http_registries: tuple[str, ...] = ()


class FakeVerifier:
    """Counts fetches of a signature from its source; serves `bundle` (what is there now)."""

    def __init__(self) -> None:
        self.slots, self.settings = Slots(), Settings()
        self.fetched: list[str] = []
        self.bundle = BUNDLE

    async def signature(self, uri: str, credentials: Any, *, allowed: tuple[str, ...]) -> bytes:
        self.fetched.append(uri)
        return self.bundle


class Events:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def record(self, body: Any, type_: str, reason: str, note: str, action: str = "Reconcile") -> None:
        self.reasons.append(reason)


GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1.2.0"
KEY = {"id": "test-key", "secretRef": {"name": "signing-keys", "key": "test-key.pem"}}  # in the operator's namespace
KEYLESS = {"id": "release", "identityPattern": r"https://github\.com/acme/.*", "issuer": GITHUB}


def world(
    verified: dict[str, Any] | None = None, signature: dict[str, Any] | None = None, **policy: Any
) -> tuple[Context, FakeKube, CountingStore, FakeVerifier]:
    """A verified model, its TrustPolicy (a key from a Secret unless `policy` says otherwise), an enabled namespace
    and an AIDeployment of the model; `verified`: the model's status.verified (default: signed by the key, over
    BUNDLE fetched from the spec's bundleUri); `signature`: the model's spec.signature."""
    store = CountingStore()
    kube, verifier = FakeKube(store), FakeVerifier()
    trust = trust_policy("test-policy", **({"keys": [KEY]} | policy))
    trust["metadata"]["generation"] = 1
    kube.put(trust, cached=True)
    pem = base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n").decode()
    secret = {"kind": "Secret", "metadata": {"name": "signing-keys", "namespace": "modelguard-system"}}
    kube.put({**secret, "data": {"test-key.pem": pem}}, cached=False)
    kube.put(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": {ENABLED: "true"}}}, True
    )
    model = ai_model("m", **({"signature": signature} if signature else {}))
    model["metadata"].update(namespace=NAMESPACE, generation=1)
    record = (
        verified or verified_record(signature="file:///models/m.sig", signer="test-key", signature_bytes=BUNDLE).wire()
    )
    model["status"] = {
        "observedGeneration": 1,
        "verified": record,
        "conditions": [
            {"type": t, "status": "True", "reason": r, "observedGeneration": 1, "lastTransitionTime": record["at"]}
            for t, r in (("Verified", "SignatureValid"), ("Documented", "CardComplete"))
        ],
    }
    kube.put(model, cached=True)
    deployment = ai_deployment("svc", "m")
    deployment["metadata"].update(namespace=NAMESPACE, generation=1)
    kube.put(deployment, cached=True)
    ctx = Context(kube=kube, store=store, events=Events(), verifier=verifier, enabled_namespace_label=ENABLED)  # type: ignore[arg-type]
    return ctx, kube, store, verifier


SVC = Key("AIDeployment", NAMESPACE, "svc")


def one_pass(ctx: Context) -> None:
    asyncio.run(aideployment.reconcile(ctx, SVC))


def reads(kube: FakeKube, store: CountingStore, kind: str) -> int:
    return kube.reads[kind] + store.reads[kind]


def forget(kube: FakeKube, store: CountingStore, verifier: FakeVerifier) -> None:
    kube.reads.clear(), store.reads.clear(), verifier.fetched.clear(), kube.writes.clear()


def condition(kube: FakeKube, type_: str) -> tuple[str, str]:
    found = next(c for c in kube.objects[SVC]["status"]["conditions"] if c["type"] == type_)
    return found["status"], found["reason"]


def shipped(kube: FakeKube) -> list[bytes]:
    return [
        unpack_signature(base64.b64decode(cm["binaryData"]["signature"]))
        for key, cm in kube.objects.items()
        if key.kind == "ConfigMap" and cm["metadata"].get("labels", {}).get(COMPONENT) == "verification"
    ]


def init_args(kube: FakeKube) -> list[str]:
    pod = kube.objects[Key("Deployment", NAMESPACE, "svc")]["spec"]["template"]["spec"]
    return [arg for c in pod["initContainers"] for arg in c.get("args", [])]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="a bundle URI"),
        pytest.param({"configMapRef": {"name": "signatures", "key": "m.sig"}}, id="a ConfigMap of the model's"),
    ],
)
def test_a_pass_reads_its_trust_policy_and_namespace_once_and_fetches_no_signature_when_nothing_changed(
    signature: dict[str, Any] | None,
) -> None:
    verified = None
    if signature is not None:
        verified = verified_record(signer="test-key", signature_bytes=BUNDLE).wire()
        verified["signatureRef"] = {**verified["signatureRef"], "bundleUri": None, **signature}
        verified["signatureRef"].pop("bundleUri")
    ctx, kube, store, verifier = world(verified, signature)
    if signature is not None:
        cm = {"kind": "ConfigMap", "metadata": {"name": "signatures", "namespace": NAMESPACE}}
        kube.put({**cm, "binaryData": {"m.sig": base64.b64encode(BUNDLE).decode()}}, cached=False)
    one_pass(ctx)  # the rollout: the signature is read once from where it was verified (no copy exists yet)
    assert kube.objects[SVC]["status"]["servedDigest"] == DIGEST
    assert len(verifier.fetched) + kube.reads["ConfigMap/signatures"] == 1
    assert shipped(kube) == [BUNDLE]
    one_pass(ctx)  # the status sees the rolled-out Deployment
    forget(kube, store, verifier)

    one_pass(ctx)  # nothing changed
    assert kube.writes == []
    assert reads(kube, store, "TrustPolicy") == 1
    assert reads(kube, store, "Namespace") == 1
    assert reads(kube, store, "AIModel") == 1
    assert verifier.fetched == []
    assert kube.reads["ConfigMap/signatures"] == 0  # nor the model's signature ConfigMap
    assert kube.reads["Secret"] == 1  # the key's Secret: its PEM is what the pods trust, read once


def test_signature_bytes_that_are_not_the_ones_verified_are_never_shipped() -> None:
    ctx, kube, _, verifier = world()
    verifier.bundle = b'{"someone": "replaced the bundle after it was verified"}'
    one_pass(ctx)
    assert condition(kube, "PolicyEnforced") == ("False", "SignatureChanged")
    assert shipped(kube) == []
    assert Key("Deployment", NAMESPACE, "svc") not in kube.objects
    assert ctx.events.reasons == ["SignatureChanged"]  # type: ignore[attr-defined]


def test_a_shipped_copy_that_does_not_match_the_record_is_replaced_by_the_bytes_it_names() -> None:
    ctx, kube, store, verifier = world()
    one_pass(ctx), one_pass(ctx)
    resigned = b'{"the": "same model, signed again"}'
    model = kube.objects[Key("AIModel", NAMESPACE, "m")]
    model["status"]["verified"] = verified_record(signer="test-key", signature_bytes=resigned).wire()
    kube.put(model, cached=True)
    verifier.bundle = resigned
    forget(kube, store, verifier)
    one_pass(ctx)
    assert verifier.fetched == ["file:///models/m.sig"]
    assert resigned in shipped(kube)
    forget(kube, store, verifier)
    one_pass(ctx), one_pass(ctx)
    assert verifier.fetched == []


def test_pods_verify_a_keyless_signature_against_the_recorded_identity_and_issuer() -> None:
    by = {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB, "logIndex": "42"}
    verified = verified_record(signer=f"release:{WORKFLOW}", signature_bytes=BUNDLE, verified_by=by).wire()
    ctx, kube, _, _ = world(verified, keys=[], sigstoreIdentities=[KEYLESS])
    one_pass(ctx)
    args = init_args(kube)
    assert args[args.index("--identity") + 1] == WORKFLOW
    assert args[args.index("--identity-provider") + 1] == GITHUB
    assert "--key" not in args


def test_a_record_the_previous_release_wrote_still_rolls_out() -> None:
    legacy = verified_record(signer="test-key").wire()
    legacy["signature"] = legacy.pop("signatureRef")["bundleUri"]
    ctx, kube, _, verifier = world(legacy)
    one_pass(ctx)
    assert kube.objects[SVC]["status"]["servedDigest"] == DIGEST
    assert verifier.fetched == ["file:///models/m.sig"]  # as that release did (the model is verified again)
    assert shipped(kube) == [BUNDLE]
    args = init_args(kube)
    assert args[args.index("--key") + 1].startswith("test-key=")
