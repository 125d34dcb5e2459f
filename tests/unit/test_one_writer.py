"""One writer per field (issue 28 item 4): the replicas and NetworkPolicies of an AIDeployment's children are
written by its reconcile alone, under the operator's one field manager. A quarantine and a decommission ask it
(the rollout decision says Quarantine or Stop); what it did before (serving, or stopped) is part of what it
builds, so lifting a quarantine is its own change and never drift; StopServing only waits until the live
Deployments show that nothing serves."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from modelguard.adapters.cache import Key, Store
from modelguard.api.aideployment import AIDeploymentSpec, AIDeploymentStatus
from modelguard.api.aimodel import AIModelSpec, AIModelStatus, DecommissionProgress
from modelguard.builders import network
from modelguard.domain import decommission, deployment_status
from modelguard.domain.conditions import Verdict, merge_conditions
from modelguard.domain.drift import Built, ours_changed
from modelguard.domain.rollout import Decision, ModelView, decide
from tests.harness.samples import ai_deployment, ai_model, verified_record
from tests.unit.test_child_reversion import OWNER, FakeApi, served

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64
KEY = Key("AIDeployment", "team", "svc")
UID = "uid-1"


# --- the pure decisions ---------------------------------------------------------------------------------


def status(*verdicts: Verdict) -> AIDeploymentStatus:
    return AIDeploymentStatus(conditions=merge_conditions([], verdicts, 1, NOW))


QUARANTINED = status(Verdict("Quarantined", "True", "ModelNotVerified"), Verdict("Ready", "False", "ModelNotVerified"))
STOPPED = status(Verdict("Quarantined", "False", "NotQuarantined"), Verdict("Ready", "False", "ModelDecommissioning"))
SERVING = status(Verdict("Quarantined", "False", "NotQuarantined"), Verdict("Ready", "True", "Serving"))
HELD_BUT_SERVING = status(  # a legal hold: the decommission has not begun, the workload serves
    Verdict("Quarantined", "False", "NotQuarantined"), Verdict("Ready", "True", "ModelDecommissioning")
)


@pytest.mark.parametrize(
    ("current", "stopped"),
    [(QUARANTINED, True), (STOPPED, True), (SERVING, False), (HELD_BUT_SERVING, False), (AIDeploymentStatus(), False)],
    ids=["quarantined", "stopped-for-decommission", "serving", "held-serving", "new"],
)
def test_what_the_last_pass_left_the_children_as(current: AIDeploymentStatus, stopped: bool) -> None:
    assert deployment_status.left_stopped(current) is stopped


@pytest.mark.parametrize(
    ("before", "now", "changed"),
    [
        (Built(1, DIGEST, stopped=True), Built(1, DIGEST, stopped=False), True),  # a quarantine lifted
        (Built(1, DIGEST, stopped=False), Built(1, DIGEST, stopped=True), True),  # quarantined, or stopped
        (Built(1, DIGEST, stopped=True), Built(1, DIGEST, stopped=True), False),  # still quarantined
        (Built(1, DIGEST, stopped=False), Built(1, DIGEST, stopped=False), False),  # steady state
        (Built(1, DIGEST, stopped=False), Built(2, DIGEST, stopped=False), True),  # the owner's spec changed
        (Built(1, "sha256:" + "b" * 64, stopped=False), Built(1, DIGEST, stopped=False), True),  # a new digest
        (Built(None, None, stopped=False), Built(1, DIGEST, stopped=False), True),  # the first rollout
    ],
    ids=["lift", "stop", "still-stopped", "steady", "spec", "digest", "first"],
)
def test_a_difference_is_ours_when_what_we_build_changed(before: Built, now: Built, changed: bool) -> None:
    """When what ModelGuard builds changed since the last pass (a lifted quarantine too), only differences in
    fields another field manager owns are drift; otherwise every difference is."""
    assert ours_changed(before, now) is changed


SPEC = AIModelSpec.model_validate(ai_model("m")["spec"])
PROGRESS = DecommissionProgress(trigger="Deletion", requester="alice", started_at=NOW, steps=decommission.plan())


def model(progress: DecommissionProgress | None, deployments: str = "Delete", hold: bool = False) -> ModelView:
    spec = SPEC.model_copy(
        update={"end_of_life": SPEC.end_of_life.model_copy(update={"deployments": deployments, "legal_hold": hold})}
    )
    verdicts = [Verdict("Verified", "True", "SignatureValid"), Verdict("Documented", "True", "CardComplete")]
    if progress is not None:
        verdicts.append(Verdict("Decommissioned", "False", "InProgress", "next step: StopServing"))
    elif hold:
        verdicts.append(Verdict("Decommissioned", "False", "LegalHold", "blocked by a legal hold"))
    record = verified_record(DIGEST, SPEC.source.uri, str(SPEC.signature.bundle_uri), "k", NOW.isoformat())
    conditions = merge_conditions([], verdicts, 1, NOW)
    return ModelView(spec, AIModelStatus(conditions=conditions, verified=record, decommission=progress), 1)


@pytest.mark.parametrize(
    ("view", "served", "quarantined", "action"),
    [
        (model(PROGRESS), DIGEST, False, "Stop"),  # the decommission asks: scale to zero, cut the network
        (model(PROGRESS), DIGEST, True, "Stop"),
        (model(PROGRESS), None, False, "Stop"),  # whatever was deployed (a model cache) stops, nothing rolls out
        (model(PROGRESS, deployments="Wait"), DIGEST, False, "Keep"),  # the owners delete theirs: serve until then
        (model(None, hold=True), DIGEST, False, "Keep"),  # a legal hold before the plan began: nothing stops
        (model(None), DIGEST, False, "Rollout"),
    ],
    ids=["stop", "stop-quarantined", "stop-nothing-served", "wait", "legal-hold", "not-decommissioned"],
)
def test_a_decommission_asks_the_deployment_to_stop(
    view: ModelView, served: str | None, quarantined: bool, action: str
) -> None:
    decision = decide(view, "m", served, quarantined=quarantined)
    assert decision.action == action
    if action == "Stop":
        assert decision.reason == "ModelDecommissioning"
        verdicts = {v.type: v for v in decision.verdicts()}
        assert verdicts["ModelVerified"].status == "False"
        # a quarantine is not lifted by a decommission (no "Released"), nor claimed where there was none
        assert verdicts["Quarantined"].status == ("True" if quarantined else "False")
        assert "decommission" in verdicts["Quarantined"].message


def test_a_stopped_deployment_shows_no_replicas_and_is_not_ready() -> None:
    spec = AIDeploymentSpec.model_validate(ai_deployment("svc", "m", replicas=3)["spec"])
    decision = Decision("Stop", DIGEST, "ModelDecommissioning", "AIModel 'm' is being decommissioned")
    assert deployment_status.replicas_shown(decision, spec, {"spec": {"replicas": 3}}) == 0
    available = deployment_status.availability({"spec": {"replicas": 0}, "status": {}}, 0)
    ready = deployment_status.ready(decision, available)
    assert (ready.status, ready.reason) == ("False", "ModelDecommissioning")
    enforced = deployment_status.policy_enforced(
        deployment_status.Enforcement("Stopped", [], DIGEST), AIDeploymentStatus(), 1
    )
    assert (enforced.status, enforced.reason) == ("True", "ModelDecommissioning")


def test_drift_reverted_while_stopped_is_reported_and_the_quarantine_stays_what_policy_enforced_says() -> None:
    done = deployment_status.Enforcement("Quarantined", [], DIGEST, ("NetworkPolicy/svc-deny-all (spec.ingress)",))
    verdict = deployment_status.policy_enforced(done, AIDeploymentStatus(), 1)
    assert (verdict.status, verdict.reason) == ("True", "DriftReverted")
    assert "NetworkPolicy/svc-deny-all" in verdict.message and "quarantined" in verdict.message
    again = deployment_status.Enforcement("Quarantined", [], DIGEST)
    assert deployment_status.policy_enforced(again, status(verdict), 1).reason == "Quarantined"  # lastDrift keeps it


def deployment(replicas: int, live: int | None = None, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": "svc", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, **({"replicas": live} if live is not None else {})},
    }


@pytest.mark.parametrize(
    ("live", "pods", "left"),
    [
        (deployment(0), 0, None),  # no replicas wanted, none left, no pod
        (deployment(0, live=0), 0, None),
        (deployment(2, live=2), 2, "2 replicas wanted"),  # not asked yet, or asked and not acted on
        (deployment(0, live=2), 2, "2 replicas running"),  # scaled down, pods not gone yet
        (deployment(0, live=0), 1, "1 pod left"),  # a terminating pod still serves its open connections
        (deployment(0, live=0, generation=3, observed=2), 0, "not yet seen by its controller"),
    ],
    ids=["stopped", "stopped-counted", "wanted", "running", "terminating-pod", "unobserved"],
)
def test_stop_serving_is_done_only_when_the_live_deployment_shows_nothing_serving(
    live: dict[str, Any], pods: int, left: str | None
) -> None:
    found = decommission.still_serving(live, pods)
    assert found == left if left is None else (found is not None and left in found)


# --- the reconcile: a quarantine is enforced like any child, by the one writer --------------------------


class Api(FakeApi):
    """The in-memory API server, with merge patches (the scale-down) and who wrote."""

    def __init__(self, store: Store, objects: list[dict[str, Any]]) -> None:
        super().__init__(store, objects)
        self.managers: set[str] = set()

    async def apply(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self.managers.add("modelguard")
        return await super().apply(res, obj)

    async def request(self, method: str, path: str, *, body: Any, query: Any, content_type: str) -> dict[str, Any]:
        self.managers.add(dict(query)["fieldManager"])
        return await super().request(method, path, body=body, query=query, content_type=content_type)

    async def merge_patch(
        self, res: Any, namespace: str | None, name: str, patch: dict[str, Any], field_manager: str | None = None
    ) -> dict[str, Any]:
        self.managers.add(field_manager or "modelguard")
        stored = copy.deepcopy(self.objects[res.kind, name])
        uid = (patch.get("metadata") or {}).get("uid")
        assert uid in (None, stored["metadata"].get("uid")), "409: another object"
        stored["spec"] = {**stored["spec"], **patch.get("spec", {})}
        return self._write("merge", stored, merge=False)


RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def world(
    replicas: int, cache_replicas: int, quarantined: bool = False, deny_all_ingress: bool = False
) -> tuple[Api, Store, dict[str, Any]]:
    """The children as a serving (or a quarantined) pass left them, with what someone else did since."""
    owner = {**OWNER, "blockOwnerDeletion": True}
    deny = network.default_deny("svc", "team", owner)
    if deny_all_ingress:
        deny = {**deny, "spec": {**deny["spec"], "ingress": [{}]}}
    spec = AIDeploymentSpec.model_validate(ai_deployment("svc", "m")["spec"])
    allow = network.allow("svc", "team", spec, owner, "monitoring")
    cache_policy = network.cache("svc", "team", spec, owner)
    if quarantined:
        allow = network.quarantine("svc", "team", owner)
        cache_policy = network.cache_quarantine("svc", "team", owner)
    meta = {"namespace": "team", "labels": {"app.kubernetes.io/managed-by": "modelguard"}, "ownerReferences": [owner]}
    container = {"name": "c", "image": "i", "securityContext": RESTRICTED}
    workloads = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "name": name, "uid": f"d-{name}"},
            "spec": {"replicas": n, "template": {"spec": {"containers": [container]}}},
        }
        for name, n in (("svc", replicas), ("svc-model-cache", cache_replicas))
    ]
    body = {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIDeployment",
        "metadata": {"name": "svc", "namespace": "team", "uid": UID, "generation": 1},
        "spec": ai_deployment("svc", "m")["spec"],
    }
    store = Store()
    store.upsert(KEY, body)
    api = Api(store, [deny, allow, cache_policy, *workloads])
    for obj in api.objects.values():
        store.upsert(Key(obj["kind"], "team", obj["metadata"]["name"]), served(obj))
    return api, store, body


def enforce(api: Api, store: Store, body: dict[str, Any], current: AIDeploymentStatus, decision: Decision) -> Any:
    from modelguard.domain.policy_reading import read_policy
    from modelguard.reconcilers.approvals import ApprovalFacts
    from modelguard.reconcilers.context import Context
    from modelguard.reconcilers.deployment_children import enforce
    from modelguard.reconcilers.deployment_observation import Observation

    ctx = Context(kube=api, store=store, events=None, verifier=None)  # type: ignore[arg-type]
    spec = AIDeploymentSpec.model_validate(body["spec"])
    deployed = store.get(Key("Deployment", "team", "svc"))
    labels = {"modelguard.io/enabled": "true"}
    policy = read_policy("p", None)
    obs = Observation(body, spec, current, None, None, policy, labels, ApprovalFacts(0, None, ()), deployed, DIGEST)
    return asyncio.run(enforce(ctx, KEY, obs, decision))


QUARANTINE = Decision("Quarantine", DIGEST, "ModelNotVerified", "quarantined: scaled to zero, network cut")
CHILDREN = [
    "NetworkPolicy/svc-deny-all",
    "NetworkPolicy/svc-allow",
    "NetworkPolicy/svc-model-cache",
    "Deployment/svc-model-cache",
    "Deployment/svc",
]


def last_pass(shown: AIDeploymentStatus) -> AIDeploymentStatus:
    """What the last pass (of this generation) wrote."""
    return shown.model_copy(update={"observed_generation": 1, "children": CHILDREN})


def test_a_quarantine_scales_to_zero_and_denies_all_traffic_under_the_one_field_manager() -> None:
    api, store, body = world(replicas=2, cache_replicas=1)
    done = enforce(api, store, body, last_pass(SERVING), QUARANTINE)
    assert done.outcome == "Quarantined" and done.drift == ()  # our own change: no drift
    assert api.objects["Deployment", "svc"]["spec"]["replicas"] == 0
    assert api.objects["Deployment", "svc-model-cache"]["spec"]["replicas"] == 0
    assert api.objects["NetworkPolicy", "svc-allow"]["spec"]["ingress"] == []
    assert api.objects["NetworkPolicy", "svc-model-cache"]["spec"]["egress"] == []
    assert api.managers == {"modelguard"}  # no second field manager: one writer


def test_while_quarantined_the_deny_all_policy_and_the_replicas_are_enforced_on_every_pass() -> None:
    """Someone adds an allow-all rule to the deny-all policy and scales the model servers up while the
    deployment is quarantined: the next pass removes both and says so."""
    api, store, body = world(replicas=3, cache_replicas=0, quarantined=True, deny_all_ingress=True)
    done = enforce(api, store, body, last_pass(QUARANTINED), QUARANTINE)
    assert "ingress" not in api.objects["NetworkPolicy", "svc-deny-all"]["spec"]
    assert api.objects["Deployment", "svc"]["spec"]["replicas"] == 0
    assert done.outcome == "Quarantined"
    assert sorted(done.drift) == ["Deployment/svc (spec.replicas)", "NetworkPolicy/svc-deny-all (spec.ingress)"]
    assert api.managers == {"modelguard"}


def test_lifting_a_quarantine_is_our_own_change_not_drift() -> None:
    """Issue 28 item 4: a passing scan or an un-revoke lifts the quarantine; the replicas and the allow policies
    come back. The last pass left the children stopped, so what ModelGuard builds changed: DriftReverted was
    recorded for every deployment (Events, audit trail) because only the owner's spec and the digest counted."""
    from modelguard.reconcilers.context import Context
    from modelguard.reconcilers.deployment_children import _apply

    api, store, body = world(replicas=0, cache_replicas=0, quarantined=True)
    owner = {**OWNER, "blockOwnerDeletion": True}
    spec = AIDeploymentSpec.model_validate(body["spec"])
    serving = [
        network.default_deny("svc", "team", owner),
        network.allow("svc", "team", spec, owner, "monitoring"),
        network.cache("svc", "team", spec, owner),
    ]
    for name, replicas in (("svc-model-cache", 1), ("svc", 2)):
        live = api.objects["Deployment", name]
        serving.append({**live, "metadata": {k: v for k, v in live["metadata"].items() if k != "resourceVersion"},
                        "spec": {**live["spec"], "replicas": replicas}})  # fmt: skip
    before = Built(1, DIGEST, stopped=deployment_status.left_stopped(last_pass(QUARANTINED)))
    lifted = ours_changed(before, Built(1, DIGEST, stopped=False))
    ctx = Context(kube=api, store=store, events=None, verifier=None)  # type: ignore[arg-type]
    applied = asyncio.run(_apply(ctx, KEY, UID, serving, CHILDREN, lifted))
    assert applied.drift == []
    assert api.objects["Deployment", "svc"]["spec"]["replicas"] == 2
    assert api.objects["NetworkPolicy", "svc-allow"]["spec"]["ingress"]


# --- StopServing: asks, then waits; it writes nothing ------------------------------------------------------


class ClusterReads:
    """What StopServing may do: read AIDeployments, Deployments and pods (no write method exists here)."""

    def __init__(self, deployments: dict[str, dict[str, Any]], pods: dict[str, int]) -> None:
        self.deployments, self.pods = deployments, pods

    async def list(self, res: Any, namespace: str | None = None, label_selector: str | None = None) -> Any:
        assert res.kind == "AIDeployment"
        return [{"metadata": {"name": "svc", "uid": UID}, "spec": {"modelRef": {"name": "m"}}}]

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.deployments.get(name)

    async def request(self, method: str, path: str, *, query: Any, accept: str) -> dict[str, Any]:
        assert (method, path.rsplit("/", 1)[-1]) == ("GET", "pods") and "PartialObjectMetadataList" in accept
        selector = dict(query)["labelSelector"]
        return {"items": [{}] * self.pods.get(selector, 0)}


def live_deployment(name: str, replicas: int, running: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"d-{name}", "generation": 2, "ownerReferences": [OWNER]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {"observedGeneration": 2, "replicas": running},
    }


def stop_serving(kube: ClusterReads) -> Any:
    from modelguard.api.certificate import Requester
    from modelguard.reconcilers.context import Context
    from modelguard.reconcilers.decommission import Run
    from modelguard.reconcilers.decommission import stop_serving as step

    ctx = Context(kube=kube, store=Store(), events=None, verifier=None)  # type: ignore[arg-type]
    run = Run(Key("AIModel", "team", "m"), {}, SPEC, PROGRESS, Requester(username="alice"))
    asyncio.run(step(ctx, run))
    return run


def test_stop_serving_waits_while_anything_serves_and_writes_nothing() -> None:
    from modelguard.domain.errors import Deferred

    scaling = ClusterReads(
        {"svc": live_deployment("svc", 0, 0), "svc-model-cache": live_deployment("svc-model-cache", 0, 0)},
        {"app=svc": 1},  # a model server pod still terminating
    )
    with pytest.raises(Deferred) as waiting:
        stop_serving(scaling)
    assert waiting.value.reason == "WaitingForScaleDown" and "svc (1 pod left)" in waiting.value.message
    stopped = ClusterReads(
        {"svc": live_deployment("svc", 0, 0), "svc-model-cache": live_deployment("svc-model-cache", 0, 0)}, {}
    )
    run = stop_serving(stopped)
    assert [(a["name"], a["method"], a["result"]) for a in run.actions] == [
        ("team/svc", "ScaleToZero", "Done"),
        ("team/svc-model-cache", "ScaleToZero", "Done"),
    ]


def test_a_step_that_waits_is_in_progress_not_failed() -> None:
    steps = PROGRESS.steps
    going, ready = decommission.waiting_verdicts(
        steps, "WaitingForScaleDown", "still serving: svc (2 replicas running)"
    )
    assert (going.type, going.status, going.reason) == ("Decommissioned", "False", "InProgress")
    assert going.message.startswith("StopServing: WaitingForScaleDown: ") and (ready.status, ready.reason) == (
        "False",
        "Decommissioning",
    )
