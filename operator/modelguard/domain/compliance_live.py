"""Re-check the live workload before the report calls a serving control met (pure; issue 19, item 6).

An AIDeployment's PolicyEnforced condition says what the operator applied and last saw. The report claims a
control only when the live objects still have it: the model server Deployment's pod template is restricted
(domain/pod_security), mounts no API token and is pinned to the digest the status says it serves, and a
NetworkPolicy selecting its pods denies ingress and egress by default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from modelguard.api.condition_types import Cond
from modelguard.domain import pod_security
from modelguard.domain.compliance_facts import Body, Check, Facts, LiveWorkload, Result, condition, ref


def _selects(policy: Body, pod_labels: Mapping[str, Any]) -> bool:
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    if selector.get("matchExpressions"):
        return False  # ModelGuard's policies select by labels only: anything else was not made by it
    return all(pod_labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def problems(live: LiveWorkload | None, served: str | None) -> list[str]:
    """What the live workload lacks of what the status claims (empty: it has all of it)."""
    if live is None or live.deployment is None:
        return ["no model server Deployment is running"]
    template = ((live.deployment.get("spec") or {}).get("template")) or {}
    pod = template.get("spec") or {}
    found = [f"pod {path}" for path in pod_security.violations(pod)]
    if pod.get("automountServiceAccountToken") is not False:
        found.append("pod mounts an API token (automountServiceAccountToken)")
    if served is not None and live.digest != served:
        found.append(f"pod template pinned to {live.digest}, not the served {served}")
    labels = (template.get("metadata") or {}).get("labels") or {}
    default_deny = [
        p
        for p in live.network_policies
        if _selects(p, labels) and {"Ingress", "Egress"} <= set((p.get("spec") or {}).get("policyTypes") or [])
    ]
    if not default_deny:
        found.append("no NetworkPolicy selecting its pods restricts both ingress and egress")
    return found


def live_refs(live: LiveWorkload | None) -> tuple[str, ...]:
    if live is None or live.deployment is None:
        return ()
    return (ref(live.deployment), *(ref(p) for p in live.network_policies))


def check(ok: Callable[[Facts, Body], bool], what: str) -> Check:
    """Each AIDeployment passes `ok` and its live workload has what its status claims; the live objects are
    evidence beside it."""

    def run(facts: Facts) -> Result:
        if not facts.deployments:
            return "not applicable", "no deployments", ()
        failing, evidence = [], []
        for d in facts.deployments:
            live = facts.live.get(ref(d))
            why = problems(live, (d.get("status") or {}).get("servedDigest"))
            if not ok(facts, d):
                why = ["status does not show it", *why]
            if why:
                failing.append(f"{ref(d)} ({'; '.join(why[:3])})")
            evidence += [ref(d), *live_refs(live)]
        if failing:
            n, total = len(failing), len(facts.deployments)
            bad = tuple(f.split(" (", 1)[0] for f in failing)
            return "not met", f"{n} of {total} fail: {what}: {', '.join(failing[:5])}", bad
        return "met", f"all {len(facts.deployments)}, re-checked on the live workload: {what}", tuple(evidence)

    return run


def enforced(_: Facts, d: Body) -> bool:
    return condition(d, Cond.POLICY_ENFORCED)[0] == "True"
