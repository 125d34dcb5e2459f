"""Which registry artifacts a decommission may delete (issue 13 class 10; issue 27 item 7): never one another
AIModel, in any namespace, still names by its digest, whatever the registry host or repository is called."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from modelguard.adapters.cache import Key, Store
from modelguard.api.aimodel import AIModelSpec, DecommissionProgress
from modelguard.api.certificate import Requester
from modelguard.domain import artifact_retention as retention
from modelguard.domain.decommission import plan
from modelguard.reconcilers import decommission
from modelguard.reconcilers.context import Context
from tests.harness.samples import ai_model, verified_record

SHARED = "sha256:" + "5" * 64  # the manifest both tenants' models name
BUNDLE = "sha256:" + "6" * 64
NOW = datetime(2026, 12, 8, tzinfo=UTC)


def model(namespace: str, name: str, uid: str, source: str, bundle: str, verified: bool = True) -> dict[str, Any]:
    body = ai_model(name, source={"uri": source}, signature={"bundleUri": bundle}, endOfLife={"deleteArtifacts": True})
    body["metadata"] = {"name": name, "namespace": namespace, "uid": uid}
    if verified:
        body["status"] = {"verified": verified_record("sha256:" + "9" * 64, source, bundle).wire()}
    return body


class FakeKube:
    """The AIModels of the cluster, listed; any write would be recorded (none is expected)."""

    def __init__(self, models: list[dict[str, Any]]) -> None:
        self.models = models
        self.writes: list[tuple[str, ...]] = []

    async def list(self, res: Any, namespace: str | None) -> list[dict[str, Any]]:
        return copy.deepcopy([m for m in self.models if namespace is None or m["metadata"]["namespace"] == namespace])

    def __getattr__(self, name: str) -> Any:
        async def write(*args: Any, **kwargs: Any) -> None:
            self.writes.append((name, *map(str, args)))

        return write


def decommission_artifacts(
    monkeypatch: pytest.MonkeyPatch, attacker: dict[str, Any], others: list[dict[str, Any]]
) -> tuple[list[dict[str, str]], list[str], FakeKube]:
    """Run the DeleteArtifacts step of `attacker`'s decommission; returns its actions and the registry deletes."""
    deleted: list[str] = []

    async def artifact_call(ctx: Any, run: Any, uri: str, call: Any) -> bool:
        deleted.append(uri)
        return True

    monkeypatch.setattr(decommission, "_artifact_call", artifact_call)
    kube = FakeKube([attacker, *others])
    ctx = Context(kube=kube, store=Store(), events=None, verifier=None)  # type: ignore[arg-type]
    meta = attacker["metadata"]
    progress = DecommissionProgress(trigger="Deletion", requester="mallory", started_at=NOW, steps=plan(), actions=[])
    run = decommission.Run(
        Key("AIModel", meta["namespace"], meta["name"]),
        attacker,
        AIModelSpec.model_validate(attacker["spec"]),
        progress,
        Requester(username="mallory"),
    )
    asyncio.run(decommission.delete_artifacts(ctx, run))
    return run.actions, deleted, kube


# the victim's registry as the attacker spells it: another name of the same host, port or case, or another
# registry (a mirror, a second name) serving the same manifest under another repository
SPELLINGS = [
    "oci://localhost:5000/models/shared",
    "oci://LOCALHOST:5000/models/shared",
    "oci://localhost.:5000/models/shared",
    "oci://127.1:5000/models/shared",
    "oci://127.0.0.1:05000/models/shared",
    "oci://127.0.0.1:5000/models/mirror/shared",
    "oci://mirror.example/models/shared",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("victim_names_it_in", ["spec", "status.verified"])
def test_an_artifact_another_tenant_uses_is_kept_whatever_its_registry_is_called(
    monkeypatch: pytest.MonkeyPatch, spelling: str, victim_names_it_in: str
) -> None:
    """Issue 27, item 7: a tenant whose model named the victim's registry under another host spelling, with
    deleteArtifacts, deleted the victim's artifact. Nothing is deleted while another AIModel names the digest."""
    victim = model("team-victim", "fraud", "uid-victim", f"oci://127.0.0.1:5000/models/shared@{SHARED}", "file:///b")
    if victim_names_it_in == "status.verified":  # the spec moved on; the verified (served) artifact is still in use
        victim["spec"]["source"]["uri"] = "file:///models/fraud-next"
    before = copy.deepcopy(victim)
    attacker = model("team-evil", "copy", "uid-evil", f"{spelling}@{SHARED}", f"{spelling}-sig@{BUNDLE}")
    actions, deleted, kube = decommission_artifacts(monkeypatch, attacker, [victim])
    assert f"{spelling}@{SHARED}" not in deleted  # the victim's manifest is untouched
    assert deleted == [f"{spelling}-sig@{BUNDLE}"]  # the attacker's own bundle, which nobody else names, goes
    kept = next(a for a in actions if a["name"] == f"{spelling}@{SHARED}")
    assert (kept["result"], kept["detail"]) == ("Retained", "still referenced by 1 other AIModel(s)")
    assert all("victim" not in value for action in actions for value in action.values())  # nobody named
    assert kube.models[1] == before and kube.writes == []  # nothing of the victim's changed


def test_an_artifact_nobody_else_names_goes_and_one_never_verified_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "oci://127.0.0.1:5000/models/other@sha256:" + "7" * 64
    unrelated = model("team-other", "m", "uid-other", other, "file:///b")
    source, bundle = f"oci://localhost:5000/models/shared@{SHARED}", f"oci://localhost:5000/s@{BUNDLE}"
    mine = model("team-a", "m", "uid-a", source, bundle)
    _, deleted, _ = decommission_artifacts(monkeypatch, mine, [unrelated])
    assert deleted == [source, bundle]
    never = model("team-a", "n", "uid-n", f"oci://localhost:5000/models/shared@{SHARED}", "file:///b", verified=False)
    actions, deleted, _ = decommission_artifacts(monkeypatch, never, [unrelated])
    assert deleted == [] and "never verified" in actions[0]["detail"]


MINE = f"oci://registry.example:5000/team/m@{SHARED}"
VERIFIED = retention.verified_at(verified_record(source=MINE, signature="oci://r/m-sig@sha256:" + "e" * 64))


@pytest.mark.parametrize(
    "other",
    [
        f"oci://REGISTRY.example:5000/team/m@{SHARED}",  # another host case (issue 13, class 10)
        f"oci://registry.example:5000/team/other@{SHARED}",  # another repository: the same manifest
        f"oci://10.0.0.7/mirror@{SHARED.upper()}",  # another registry, the digest in capitals
        f"https://models.example/m?pin={SHARED}",  # any source that names the digest
    ],
)
def test_any_other_model_naming_the_digest_keeps_the_artifact(other: str) -> None:
    users = retention.digests_in_use([model("b", "x", "uid-x", other, "file:///b", verified=False)], "uid-mine")
    assert retention.keep_reason(MINE, VERIFIED, users) == "still referenced by 1 other AIModel(s)"


def test_an_artifact_only_this_model_names_may_go_and_one_it_never_verified_may_not() -> None:
    mine = model("a", "m", "uid-mine", MINE, "file:///b")
    unrelated = model("b", "x", "uid-x", "oci://registry.example:5000/team/m@sha256:" + "7" * 64, "file:///b")
    users = retention.digests_in_use([mine, unrelated], "uid-mine")  # this model does not count itself
    assert retention.keep_reason(MINE, VERIFIED, users) is None
    assert retention.keep_reason(MINE, retention.verified_at(None), users) == retention.NEVER_VERIFIED
    assert "never verified" in retention.NEVER_VERIFIED
    assert retention.keep_reason("oci://r/m@latest", {"oci://r/m@latest"}, users) is not None


def test_digests_are_found_wherever_a_model_writes_them() -> None:
    body = {"spec": {"a": [{"b": f"x{SHARED.upper()}y"}], "n": 3}, "status": {"verified": {"digest": BUNDLE}}}
    assert retention.digests_in_use([{**body, "metadata": {"uid": "u"}}], "other") == [frozenset({SHARED, BUNDLE})]
    assert retention.digests_named({"k": "sha256:" + "a" * 63, "sha256:" + "b" * 64: 1}) == frozenset()


def test_an_install_that_cannot_see_every_model_keeps_every_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: a namespace-scoped install may not list AIModels cluster-wide; it cannot tell that no other
    namespace serves the digest, so it deletes nothing (it used to fall back to the namespaces it watches)."""
    from modelguard.adapters.kube import KubeError

    class NamespaceScoped(FakeKube):
        async def list(self, res: Any, namespace: str | None) -> list[dict[str, Any]]:
            if namespace is None:
                raise KubeError(403, "Forbidden", "aimodels is forbidden at the cluster scope")
            return await super().list(res, namespace)

    source, bundle = f"oci://localhost:5000/models/shared@{SHARED}", f"oci://localhost:5000/s@{BUNDLE}"
    mine = model("team-a", "m", "uid-a", source, bundle)
    deleted: list[str] = []

    async def artifact_call(ctx: Any, run: Any, uri: str, call: Any) -> bool:
        deleted.append(uri)
        return True

    monkeypatch.setattr(decommission, "_artifact_call", artifact_call)
    ctx = Context(kube=NamespaceScoped([mine]), store=Store(), events=None, verifier=None)  # type: ignore[arg-type]
    progress = DecommissionProgress(trigger="Deletion", requester="a", started_at=NOW, steps=plan(), actions=[])
    run = decommission.Run(
        Key("AIModel", "team-a", "m"), mine, AIModelSpec.model_validate(mine["spec"]), progress, Requester(username="a")
    )
    asyncio.run(decommission.delete_artifacts(ctx, run))
    assert deleted == []
    assert [a["result"] for a in run.actions] == ["Retained", "Retained"]
    assert "cannot tell that no other model serves" in run.actions[0]["detail"]
