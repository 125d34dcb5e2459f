"""Drift is what someone else changed (issue 15): differences are attributed by field manager."""

from __future__ import annotations

from modelguard.domain.drift import (
    FOREIGN_FIELDS,
    by_others,
    cache_view,
    comparable,
    differences,
    foreign_fields,
    secret_view,
)

DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "svc", "labels": {"app.kubernetes.io/name": "modelguard-model-server"}},
    "spec": {
        "replicas": 1,
        "template": {"spec": {"securityContext": {"runAsUser": 65532}, "containers": [{"name": "s", "image": "i"}]}},
    },
}


def managed(*entries: tuple[str, str | None, dict[str, object]]) -> list[dict[str, object]]:
    return [
        {"manager": m, "operation": "Update", **({"subresource": sub} if sub else {}), "fieldsV1": f}
        for m, sub, f in entries
    ]


def live(replicas: int, run_as: int, managers: list[dict[str, object]]) -> dict[str, object]:
    body = {
        **DESIRED,
        "metadata": {**DESIRED["metadata"], "managedFields": managers},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {"securityContext": {"runAsUser": run_as}, "containers": [{"name": "s", "image": "i"}]}
            },
        },
        "status": {"replicas": replicas},
    }
    return cache_view(body, foreign=True)


OURS = (
    "modelguard",
    None,
    {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:securityContext": {"f:runAsUser": {}}}}}},
)
CONTROLLER = (
    "kube-controller-manager",
    None,
    {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}},
)
STATUS = ("kube-controller-manager", "status", {"f:status": {"f:replicas": {}}})


def test_the_owners_own_change_is_not_drift() -> None:
    """replicas 2 -> 1 in the AIDeployment: the live Deployment differs, but only we ever wrote replicas."""
    cached = live(2, 65532, managed(OURS, CONTROLLER, STATUS))
    changed = differences(comparable(DESIRED), cached)
    assert changed == ["spec.replicas"]
    assert by_others(changed, cached.get(FOREIGN_FIELDS) or []) == []
    assert cached[FOREIGN_FIELDS] == ["metadata.annotations.deployment.kubernetes.io/revision"]  # status: not kept
    assert "managedFields" not in cached["metadata"]  # the rest is not kept (memory)
    unmanaged = {**DESIRED, "metadata": {"managedFields": managed(CONTROLLER)}}  # an AIModel, a TrustPolicy
    assert FOREIGN_FIELDS not in cache_view(unmanaged)


def test_a_change_by_another_manager_is_drift_down_to_list_items() -> None:
    someone = (
        "kubectl-edit",
        None,
        {"f:spec": {"f:template": {"f:spec": {"f:securityContext": {"f:runAsUser": {}}, "f:containers": {
            'k:{"name":"s"}': {".": {}, "f:image": {}}}}}}},
    )  # fmt: skip
    cached = live(1, 0, managed(OURS, someone, CONTROLLER))
    changed = differences(comparable(DESIRED), cached)
    assert by_others(changed, cached[FOREIGN_FIELDS]) == ["spec.template.spec.securityContext.runAsUser"]
    assert "spec.template.spec.containers.image" in foreign_fields(managed(someone))  # list items unindexed
    assert by_others(["spec.template.spec.containers[0].image"], foreign_fields(managed(someone))) == [
        "spec.template.spec.containers[0].image"
    ]
    # a manager that replaced a whole subtree owns what lies below it
    assert by_others(["spec.template.spec.securityContext.runAsUser"], ["spec.template.spec.securityContext"])
    assert by_others(["spec.template"], ["spec.template.spec.securityContext.runAsUser"])


def test_our_quarantine_manager_is_ours_and_secrets_keep_only_a_hash() -> None:
    quarantine = ("modelguard-quarantine", None, {"f:spec": {"f:replicas": {}}})
    assert foreign_fields(managed(quarantine, OURS)) == []
    secret = cache_view(
        {
            "metadata": {
                "name": "k",
                "managedFields": managed(("kubectl-edit", None, {"f:data": {"f:clients.map": {}}})),
            },
            "data": {"clients.map": "c2VjcmV0"},
        },
        foreign=True,
    )
    view = secret_view(secret)
    assert "data" not in view and view[FOREIGN_FIELDS] == ["data.clients.map"]
    assert by_others(["dataHash"], view[FOREIGN_FIELDS]) == ["dataHash"]  # edited keys are drift
    assert by_others(["dataHash"], []) == []  # new keys from the owner's Secret are not
