"""What an AIDeployment may ask of the scheduler (pure; issue 27 item 3, ADR 0020).

A tenant who may write AIDeployments but not pods must not reach, through the operator, nodes, priorities or
runtimes an admin did not grant: the TrustPolicy's `spec.scheduling` lists what its namespaces may use, and
control-plane nodes are never reachable (their taints and labels are refused whatever is listed, and the
workload builder keeps every model server off nodes labelled as control plane).
"""

from __future__ import annotations

from modelguard.api.aideployment import CONTROL_PLANE_LABELS, SchedulingSpec, Toleration
from modelguard.api.trustpolicy import SchedulingGrants

CONTROL_PLANE = CONTROL_PLANE_LABELS


def _toleration_granted(toleration: Toleration, grants: SchedulingGrants) -> bool:
    for allowed in grants.tolerations:
        if allowed.key != toleration.key:
            continue
        if allowed.effect and allowed.effect != toleration.effect:
            continue
        if allowed.value is not None and (toleration.operator != "Equal" or toleration.value != allowed.value):
            continue
        return True
    return False


def refusals(scheduling: SchedulingSpec, grants: SchedulingGrants | None) -> list[str]:
    """Each part of spec.scheduling the policy does not grant (empty: all granted)."""
    grants = grants or SchedulingGrants()
    out = []
    for i, toleration in enumerate(scheduling.tolerations):
        where = f"spec.scheduling.tolerations[{i}]"
        if not toleration.key:
            out.append(f"{where}: a toleration without a key tolerates every taint, control plane included: refused")
        elif toleration.key in CONTROL_PLANE:
            out.append(f"{where}: control-plane nodes never run model servers")
        elif not _toleration_granted(toleration, grants):
            out.append(f"{where}: taint {toleration.key!r} is not granted by the TrustPolicy's spec.scheduling")
    keys = [("spec.scheduling.nodeSelector", k) for k in scheduling.node_selector]
    if scheduling.node_affinity is not None:
        affinity = scheduling.node_affinity
        keys += [("spec.scheduling.nodeAffinity", r.key) for r in (*affinity.required, *affinity.preferred)]
    for where, key in keys:
        if key in CONTROL_PLANE:
            out.append(f"{where}: control-plane nodes never run model servers")
        elif key not in grants.node_labels:
            out.append(f"{where}: node label {key!r} is not granted by the TrustPolicy's spec.scheduling")
    name = scheduling.priority_class_name
    if name and name not in grants.priority_classes:
        out.append(f"spec.scheduling.priorityClassName: {name!r} is not granted by the TrustPolicy's spec.scheduling")
    runtime = scheduling.runtime_class_name
    if runtime and runtime not in grants.runtime_classes:
        out.append(f"spec.scheduling.runtimeClassName: {runtime!r} is not granted by the TrustPolicy's spec.scheduling")
    return out
