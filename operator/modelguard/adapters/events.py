"""Kubernetes Events for the objects the operator manages (events.k8s.io/v1)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from modelguard.adapters.kube import Kube, KubeError, Resource

log = logging.getLogger(__name__)

EVENTS = Resource("events.k8s.io/v1", "Event", "events")
REPORTER = "modelguard-operator"


class EventRecorder:
    """Posts Events; failures are logged and never fail a reconcile."""

    def __init__(self, kube: Kube, instance: str = "modelguard") -> None:
        self._kube = kube
        self._instance = instance

    async def record(
        self,
        body: Mapping[str, Any],
        type_: Literal["Normal", "Warning"],
        reason: str,
        note: str,
        action: str = "Reconcile",
    ) -> None:
        meta = body.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC)
        digest = hashlib.sha256(f"{meta.get('uid')}{reason}{note}{now.isoformat()}".encode()).hexdigest()[:10]
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'object')}.{digest}", "namespace": namespace},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": f"modelguard.io/{REPORTER}",
            "reportingInstance": self._instance,
            "action": action,
            "reason": reason,
            "note": note[:1024],
            "type": type_,
            "regarding": {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
        }
        try:
            await self._kube.create(EVENTS, event)
        except KubeError as exc:
            log.warning("could not post event %s: %s", reason, exc.reason)
