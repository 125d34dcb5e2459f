"""One typed observation of an AIModel, gathered once per reconcile and shared by its sub-reconcilers
(verify, scan): the object, its status, the one reading of its TrustPolicy, its namespace's labels, the
clock and whether a maintenance scan is due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelguard.adapters.cache import Key
from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.domain.conditions import generation_of
from modelguard.domain.model_verdicts import ScheduleFacts
from modelguard.domain.policy_reading import PolicyReading, read_policy
from modelguard.reconcilers import scan
from modelguard.reconcilers.context import Context, lookup


@dataclass(frozen=True)
class ModelObservation:
    body: dict[str, Any]
    spec: AIModelSpec
    status: AIModelStatus
    reading: PolicyReading  # the TrustPolicy as everyone reads it (domain/policy_reading)
    policy_generation: int  # 0 when the policy does not exist
    namespace_labels: Mapping[str, str] | None  # None: the Namespace is not known (yet)
    now: datetime
    scan_trigger: scan.Trigger | None  # "Manual" or "Schedule" when a maintenance scan is due

    @property
    def generation(self) -> int:
        return generation_of(self.body)

    @property
    def annotations(self) -> Mapping[str, str]:
        return (self.body.get("metadata") or {}).get("annotations") or {}

    def schedule_facts(self, scanned: bool) -> ScheduleFacts:
        return ScheduleFacts(
            expression=self.spec.maintenance.schedule,
            uid=str((self.body.get("metadata") or {}).get("uid") or self.body["metadata"]["name"]),
            next_scan=self.status.next_scan,
            scanned=scanned,
            spec_changed=self.status.observed_generation != self.generation,
        )


async def observe(
    ctx: Context, key: Key, body: dict[str, Any], spec: AIModelSpec, status: AIModelStatus
) -> ModelObservation:
    # read through the cache: right after a start or a takeover it may not hold them yet
    policy_body = await lookup(ctx, Key("TrustPolicy", "", spec.trust_policy))
    namespace = await lookup(ctx, Key("Namespace", "", key.namespace))
    labels = ((namespace.get("metadata") or {}).get("labels") or {}) if namespace is not None else None
    now = ctx.clock()
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return ModelObservation(
        body=body,
        spec=spec,
        status=status,
        reading=read_policy(spec.trust_policy, policy_body),
        policy_generation=generation_of(policy_body) if policy_body else 0,
        namespace_labels=labels,
        now=now,
        scan_trigger=scan.due(annotations, status.last_scan, status.next_scan, now),
    )
